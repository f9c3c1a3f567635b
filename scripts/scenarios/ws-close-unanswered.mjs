// A `ws` server ends a session with close 1000 "bye" and gives the client 1 s to answer; the client
// (a plain socket that did the upgrade by hand) reads the close frame and never sends its own, so
// the server terminates the connection 1 s after its close frame. The client's TCP ACKs the close.
import path from 'node:path';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { rawUpgrade } from '../servers/clients.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-close-unanswered';
const CLOSE_TIMEOUT_MS = 1_000;
const DEADLINE_MS = 5_000;

export default function wsCloseUnanswered(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const serverPort = port ?? (await pickFreePort());
  const file = path.join(dir, `${NAME}.pcap`);
  const wss = new WebSocketServer({ host: LOOPBACK, port: serverPort });
  await once(wss, 'listening');
  let terminated = false;
  wss.on('connection', (ws) => {
    ws.close(1000, 'bye');
    setTimeout(() => {
      if (ws.readyState === ws.CLOSED) return;
      terminated = true;
      ws.terminate();
    }, CLOSE_TIMEOUT_MS);
  });
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withDeadline(rawUpgrade({ port: serverPort, path: '/feed', httpVersion: '1.1', waitForCloseMs: CLOSE_TIMEOUT_MS + 2_000 }), DEADLINE_MS, NAME),
    );
    if (!outcome.statusLine.includes(' 101 ') || !terminated || outcome.serverEndedAfterMs === null) {
      throw new Error(`${NAME}: unexpected outcome ${JSON.stringify({ ...outcome, terminated })}`);
    }
    return {
      file,
      expect: {
        description: `ws upgraded (101), server sends close 1000 "bye", client ACKs it and never answers with a close frame, server terminates (FIN) ${CLOSE_TIMEOUT_MS} ms after its close, client FIN follows`,
        serverEndedAfterMs: Math.round(outcome.serverEndedAfterMs),
      },
    };
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
}
