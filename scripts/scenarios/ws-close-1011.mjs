// The server ends a WebSocket session with close code 1011 (internal error) and a reason, after
// the client's first message; the client echoes the close and both sides FIN (the client first,
// as `ws` ends the socket as soon as both close frames have crossed).
import path from 'node:path';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runWebSocketClient } from '../servers/clients.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-close-1011';
const DEADLINE_MS = 5_000;
const CLOSE_CODE = 1011;
const CLOSE_REASON = 'database unavailable';

export default function wsClose1011(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const serverPort = port ?? (await pickFreePort());
  const file = path.join(dir, `${NAME}.pcap`);
  const wss = new WebSocketServer({ host: LOOPBACK, port: serverPort });
  await once(wss, 'listening');
  wss.on('connection', (ws) => {
    ws.once('message', () => ws.close(CLOSE_CODE, CLOSE_REASON));
  });
  try {
    const outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withDeadline(
        runWebSocketClient(new WebSocket(`ws://${LOOPBACK}:${serverPort}/jobs`), {
          onOpen: (ws) => ws.send('{"subscribe":"jobs"}'),
        }),
        DEADLINE_MS,
        NAME,
      ),
    );
    if (!outcome.opened || outcome.code !== CLOSE_CODE || outcome.reason !== CLOSE_REASON) {
      throw new Error(`${NAME}: unexpected client outcome ${JSON.stringify(outcome)}`);
    }
    return {
      file,
      expect: {
        description:
          `ws session upgraded (101), client sends one text message, server sends close ${CLOSE_CODE} ` +
          `"${CLOSE_REASON}", client echoes close ${CLOSE_CODE} and sends FIN at once, server FIN follows`,
        wsCloseCode: CLOSE_CODE,
        wsCloseReason: CLOSE_REASON,
        clientSaw: outcome,
      },
    };
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
}
