// A raw client sends the WebSocket upgrade as HTTP/1.0 to a Swoole-like backend, which answers
// 101 and closes at once: the FIN follows the 101 within a millisecond or so.
import path from 'node:path';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { rawUpgrade } from '../servers/clients.mjs';
import { startSwooleLikeBackend } from '../servers/swoole-like.mjs';
import { withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'ws-http10-fin';
const DEADLINE_MS = 5_000;

export default function wsHttp10Fin(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const backend = await startSwooleLikeBackend({ port: port ?? (await pickFreePort()) });
  const file = path.join(dir, `${NAME}.pcap`);
  try {
    const seen = await withCapture({ filter: `tcp port ${backend.port}`, file }, () =>
      withDeadline(rawUpgrade({ port: backend.port, path: '/ws', httpVersion: '1.0' }), DEADLINE_MS, NAME),
    );
    if (!/^HTTP\/1\.1 101 /.test(seen.statusLine) || !seen.acceptOk || seen.serverEndedAfterMs === null) {
      throw new Error(`${NAME}: unexpected client outcome ${JSON.stringify(seen)}`);
    }
    return {
      file,
      expect: {
        description:
          '"GET /ws HTTP/1.0" upgrade request, backend answers "HTTP/1.1 101 Switching Protocols" with a correct ' +
          'Sec-WebSocket-Accept and sends FIN right after it (no WebSocket frames at all); client FIN follows',
        requestHttpVersion: '1.0',
        serverFinAfter101Ms: Number(seen.serverEndedAfterMs.toFixed(3)),
        clientSaw: seen,
      },
    };
  } finally {
    await backend.close();
  }
}
