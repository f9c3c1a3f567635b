// A `ws` server with a heartbeat pings its client once and gives the pong 1 s; the client (a plain
// socket that did the upgrade by hand) reads the ping and never answers, so the server terminates
// the connection: FIN without a close frame, 1 s after the ping. The client's TCP ACKs the ping.
import path from 'node:path';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { rawUpgrade } from '../servers/clients.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-ping-unanswered';
const PONG_TIMEOUT_MS = 1_000;
const DEADLINE_MS = 5_000;

export default function wsPingUnanswered(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const serverPort = port ?? (await pickFreePort());
  const file = path.join(dir, `${NAME}.pcap`);
  const wss = new WebSocketServer({ host: LOOPBACK, port: serverPort });
  await once(wss, 'listening');
  let terminated = false;
  wss.on('connection', (ws) => {
    let alive = false;
    ws.on('pong', () => (alive = true));
    ws.ping('are-you-there');
    setTimeout(() => {
      if (alive) return;
      terminated = true;
      ws.terminate();
    }, PONG_TIMEOUT_MS);
  });
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withDeadline(rawUpgrade({ port: serverPort, path: '/feed', httpVersion: '1.1', waitForCloseMs: PONG_TIMEOUT_MS + 2_000 }), DEADLINE_MS, NAME),
    );
    if (!outcome.statusLine.includes(' 101 ') || !terminated || outcome.serverEndedAfterMs === null) {
      throw new Error(`${NAME}: unexpected outcome ${JSON.stringify({ ...outcome, terminated })}`);
    }
    return {
      file,
      expect: {
        description: `ws upgraded (101), server pings, client ACKs the ping and never sends a pong, server terminates (FIN, no close frame) ${PONG_TIMEOUT_MS} ms after the ping, client FIN follows`,
        serverEndedAfterMs: Math.round(outcome.serverEndedAfterMs),
      },
    };
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
}
