// A healthy WebSocket session between a `ws` server and a `ws` client on loopback: upgrade,
// text and binary messages both ways, a ping answered by a pong, client close 1000, FIN both ways.
import path from 'node:path';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runWebSocketClient } from '../servers/clients.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-healthy';
const DEADLINE_MS = 5_000;

export default function wsHealthy(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const serverPort = port ?? (await pickFreePort());
  const file = path.join(dir, `${NAME}.pcap`);
  const wss = new WebSocketServer({ host: LOOPBACK, port: serverPort });
  await once(wss, 'listening');
  const serverSawClose = new Promise((resolve) => {
    wss.on('connection', (ws) => {
      ws.send('welcome');
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('close', (code) => resolve(code));
    });
  });
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withDeadline(
        (async () => {
          let pongs = 0;
          let messages = 0;
          const ws = new WebSocket(`ws://${LOOPBACK}:${serverPort}/chat`);
          const closeOnceAllIn = () => {
            // "welcome" and the two echoes, plus the pong: only then close.
            if (messages === 3 && pongs === 1) ws.close(1000, 'done');
          };
          ws.on('pong', () => {
            pongs++;
            closeOnceAllIn();
          });
          const result = await runWebSocketClient(ws, {
            onOpen: (client) => {
              client.send('hello from client');
              client.send(Buffer.from([0x00, 0x01, 0x02, 0xfe, 0xff]));
              client.ping('heartbeat');
            },
            onMessage: () => {
              messages++;
              closeOnceAllIn();
            },
          });
          return { ...result, pongs, serverCloseCode: await serverSawClose };
        })(),
        DEADLINE_MS,
        NAME,
      ),
    );
    if (outcome.code !== 1000 || outcome.messages.length !== 3 || outcome.pongs !== 1) {
      throw new Error(`${NAME}: unexpected client outcome ${JSON.stringify(outcome)}`);
    }
    return {
      file,
      expect: {
        description:
          'ws client and server on 127.0.0.1: 101 upgrade, server text "welcome", client text + binary echoed, ' +
          'ping/pong, client close 1000 "done" answered with close 1000, then FIN both ways (server FIN first)',
        wsCloseCode: 1000,
        clientSaw: outcome,
      },
    };
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
}
