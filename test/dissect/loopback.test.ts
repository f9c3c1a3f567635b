// Real traffic: a ws server and client (and a plain HTTP GET to the same server) on 127.0.0.1,
// captured with tcpdump on lo, then each flow's payload replayed into an AppSession by a minimal
// extractor private to this test (Ethernet/IPv4/TCP, in-order by sequence number; loopback does
// not lose segments). The pipeline's own reassembly is tested elsewhere.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { withCapture } from '../../scripts/lib/capture.mjs';
import { AppSession } from '../../src/dissect/session.js';
import type { Dir } from '../../src/flow/sink.js';

const canCapture = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-dissect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Segment {
  dir: Dir;
  no: number;
  ts: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

/** Flows of a classic pcap (LINKTYPE_ETHERNET, IPv4 only), keyed by client port. */
function readFlows(file: string): Map<number, Segment[]> {
  const b = readFileSync(file);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  expect(dv.getUint32(20, le), 'link type').toBe(1);
  const flows = new Map<number, Segment[]>();
  const clientOf = new Map<number, number>(); // port pair -> client port (sender of the SYN)
  let off = 24;
  let no = 0;
  while (off + 16 <= b.length) {
    const ts = dv.getUint32(off, le) * 1e6 + (nanos ? Math.floor(dv.getUint32(off + 4, le) / 1000) : dv.getUint32(off + 4, le));
    const caplen = dv.getUint32(off + 8, le);
    const p = off + 16;
    off = p + caplen;
    no++;
    if (dv.getUint16(p + 12) !== 0x0800) continue;
    const ip = p + 14;
    if (b[ip + 9] !== 6) continue;
    const ipEnd = ip + dv.getUint16(ip + 2);
    const tcp = ip + (b[ip] & 0x0f) * 4;
    const sport = dv.getUint16(tcp);
    const dport = dv.getUint16(tcp + 2);
    const flags = b[tcp + 13];
    const key = Math.min(sport, dport) * 65536 + Math.max(sport, dport);
    if ((flags & 0x12) === 0x02) clientOf.set(key, sport);
    const client = clientOf.get(key);
    if (client === undefined) continue;
    const segs = flows.get(client) ?? [];
    flows.set(client, segs);
    segs.push({ dir: sport === client ? 0 : 1, no, ts, seq: dv.getUint32(tcp + 4), flags, payload: b.subarray(tcp + (b[tcp + 12] >> 4) * 4, ipEnd) });
  }
  return flows;
}

/** Feeds a flow to a session: payload in sequence order, duplicates dropped, FIN/RST as closes. */
function replay(segs: Segment[]): AppSession {
  const session = new AppSession();
  const isn: (number | undefined)[] = [undefined, undefined];
  const next = [0, 0];
  for (const sg of segs) {
    if (sg.flags & 0x02) isn[sg.dir] = (sg.seq + 1) >>> 0;
    const base = isn[sg.dir];
    if (base === undefined) continue;
    const rel = (sg.seq - base) >>> 0;
    if (sg.payload.length > 0) {
      const skip = next[sg.dir] - rel; // retransmitted bytes already delivered
      if (skip < sg.payload.length && skip >= 0) {
        session.onData(sg.dir, sg.payload, skip, sg.payload.length, next[sg.dir], sg.no, sg.ts);
        next[sg.dir] += sg.payload.length - skip;
      }
    }
    if (sg.flags & 0x01) session.onClose(sg.dir, 'fin', sg.no, sg.ts);
    if (sg.flags & 0x04) session.onClose(sg.dir, 'rst', sg.no, sg.ts);
  }
  session.onEnd(segs[segs.length - 1].ts);
  return session;
}

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
