// The WebSocket client reached something that is not an HTTP server: the port answers the
// upgrade request with an SSH identification banner and closes.
import path from 'node:path';
import { WebSocket } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runWebSocketClient } from '../servers/clients.mjs';
import { startRawResponder } from '../servers/raw-responder.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-non-http';
const DEADLINE_MS = 5_000;
const BANNER = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n';

export default function wsNonHttp(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const responder = await startRawResponder({ respond: () => BANNER, endAfterResponse: true, port: port ?? (await pickFreePort()) });
  const file = path.join(dir, `${NAME}.pcap`);
  try {
    const outcome = await withCapture({ filter: `tcp port ${responder.port}`, file }, () =>
      withDeadline(runWebSocketClient(new WebSocket(`ws://${LOOPBACK}:${responder.port}/`)), DEADLINE_MS, NAME),
    );
    if (outcome.opened || outcome.error === null) {
      throw new Error(`${NAME}: unexpected client outcome ${JSON.stringify(outcome)}`);
    }
    return {
      file,
      expect: {
        description:
          `upgrade request answered with the SSH banner ${JSON.stringify(BANNER.trim())} instead of an HTTP status line, ` +
          'server FIN right after it; the ws client fails to parse the response and closes',
        firstResponseBytes: BANNER,
        clientSaw: outcome,
      },
    };
  } finally {
    await responder.close();
  }
}
