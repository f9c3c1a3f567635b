// A plain HTTP server with no WebSocket support at the requested path: the upgrade request is
// answered with an ordinary 404 and the `ws` client gives up.
import path from 'node:path';
import http from 'node:http';
import { WebSocket } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runWebSocketClient } from '../servers/clients.mjs';
import { closeServer, listenOn, trackSockets, LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-upgrade-404';
const DEADLINE_MS = 5_000;

export default function wsUpgrade404(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const serverPort = port ?? (await pickFreePort());
  const file = path.join(dir, `${NAME}.pcap`);
  // No 'upgrade' listener: Node hands the upgrade request to the ordinary request handler.
  const server = http.createServer((req, res) => {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end(`no route for ${req.url}\n`);
  });
  const sockets = trackSockets(server);
  await listenOn(server, serverPort);
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withDeadline(runWebSocketClient(new WebSocket(`ws://${LOOPBACK}:${serverPort}/socket`)), DEADLINE_MS, NAME),
    );
    if (outcome.opened || !/404/.test(outcome.error ?? '')) {
      throw new Error(`${NAME}: unexpected client outcome ${JSON.stringify(outcome)}`);
    }
    return {
      file,
      expect: {
        description:
          'GET /socket with Upgrade: websocket answered "HTTP/1.1 404 Not Found" (keep-alive, small text body); ' +
          'the ws client aborts and closes the TCP connection first (client FIN)',
        httpStatus: 404,
        clientSaw: outcome,
      },
    };
  } finally {
    await closeServer(server, sockets);
  }
}
