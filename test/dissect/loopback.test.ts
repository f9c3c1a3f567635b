// Real traffic: a ws server and clients (and a plain HTTP GET to the same server) on 127.0.0.1,
// captured with tcpdump on lo, then each flow's payload replayed into an AppSession by the
// minimal extractor in ./extract.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { readFlows, replay } from './extract.js';

// The project's tcpdump wrapper (plain JS: started and stopped by PID, with a hard deadline).
const CAPTURE_HELPER: string = '../../scripts/lib/capture.mjs';
const { withCapture } = (await import(CAPTURE_HELPER)) as {
  withCapture<T>(opts: { iface: string; filter: string; file: string; maxDurationMs: number }, scenario: () => Promise<T>): Promise<T>;
};

const canCapture = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-dissect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!canCapture)('AppSession on real ws traffic captured on loopback', () => {
  it('reads the handshake, every frame, the close handshake and a rejected plain GET', async () => {
    // Plain requests get what a WebSocket-only endpoint says (ws's own server answers 426 too).
    const server = http.createServer((_req, res) => res.writeHead(426, { Connection: 'close', 'Content-Type': 'text/plain' }).end('Upgrade Required'));
    const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
    wss.on('connection', (sock) => sock.on('message', (data, isBinary) => sock.send(data, { binary: isBinary })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const file = join(dir, 'ws.pcap');
    const clientPorts: number[] = [];
    try {
      await withCapture({ iface: 'lo', filter: `tcp port ${port}`, file, maxDurationMs: 20_000 }, async () => {
        await new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, ['chat'], { perMessageDeflate: false });
          let echoes = 0;
          ws.on('open', () => {
            clientPorts.push((ws as unknown as { _socket: { localPort: number } })._socket.localPort);
            ws.send('héllo wörld');
            ws.send(Buffer.alloc(300, 1));
            ws.send(Buffer.alloc(70_000, 2));
            ws.ping('pp');
          });
          ws.on('message', () => {
            if (++echoes === 3) ws.close(1000, 'done');
          });
          ws.on('close', () => resolve());
          ws.on('error', reject);
          setTimeout(() => reject(new Error('ws exchange timed out')), 5000).unref();
        });
        await new Promise<void>((resolve, reject) => {
          // permessage-deflate negotiated: ws compresses messages of 1024 bytes and more.
          const ws = new WebSocket(`ws://127.0.0.1:${port}/deflate`);
          ws.on('open', () => {
            clientPorts.push((ws as unknown as { _socket: { localPort: number } })._socket.localPort);
            ws.send('é'.repeat(2000));
          });
          ws.on('message', () => ws.close(1001, 'bye'));
          ws.on('close', () => resolve());
          ws.on('error', reject);
          setTimeout(() => reject(new Error('deflate exchange timed out')), 5000).unref();
        });
        await new Promise<void>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port, path: '/plain', agent: false }, (res) => {
            clientPorts.push(req.socket!.localPort!);
            res.resume();
            res.on('end', () => resolve());
          });
          req.on('error', reject);
          req.setTimeout(5000, () => req.destroy(new Error('plain GET timed out')));
        });
      });
    } finally {
      wss.close();
      server.close();
    }
    const flows = readFlows(file);
    const ws = replay(flows.get(clientPorts[0])!).facts;
    expect(ws.protocol).toBe('websocket');
    expect(ws.errors).toEqual([]);
    expect(ws.websocket).toMatchObject({ status: 101, acceptValid: true, subprotocol: 'chat', requestVersion: '13', errors: [] });
    expect(ws.websocket!.frames.client).toMatchObject({ text: 1, binary: 2, ping: 1, close: 1, payloadBytes: 13 + 300 + 70_000 + 2 + 6 });
    expect(ws.websocket!.frames.server).toMatchObject({ text: 1, binary: 2, pong: 1, close: 1 });
    expect(ws.websocket!.close).toMatchObject({ initiator: 'client', code: 1000, reason: 'done', answered: true, answerCode: 1000 });
    expect(ws.websocket!.tcpClose).toBe('after-close-frame');
    expect(ws.events.map((e) => e.text)).toEqual(expect.arrayContaining(['HTTP GET /chat HTTP/1.1', '101 Switching Protocols', 'WS text 13 B', 'WS binary 70000 B', 'WS ping 2 B', 'WS close 1000 (normal) "done"']));

    const deflate = replay(flows.get(clientPorts[1])!).facts;
    expect(deflate.websocket).toMatchObject({ deflate: true, acceptValid: true, errors: [] });
    expect(deflate.websocket!.extensions).toMatch(/^permessage-deflate/);
    expect(deflate.websocket!.frames.client).toMatchObject({ text: 1, compressed: 1, close: 1 });
    expect(deflate.websocket!.frames.server).toMatchObject({ text: 1, compressed: 1, close: 1 });
    expect(deflate.events.filter((e) => e.text.startsWith('WS text')).every((e) => e.text.endsWith(' compressed'))).toBe(true);

    const plain = replay(flows.get(clientPorts[2])!).facts;
    expect(plain.protocol).toBe('http');
    expect(plain.http).toHaveLength(1);
    expect(plain.http[0].request).toMatchObject({ method: 'GET', target: '/plain', complete: true });
    expect(plain.http[0].response).toMatchObject({ status: 426, reason: 'Upgrade Required', complete: true, keepAlive: false });
    expect(plain.http[0]).toMatchObject({ closeAfter: 'response', closedBy: 'server' });
    expect(plain.errors).toEqual([]);
  });
});
