// A WebSocket upgrade through nginx to a backend that reads the request and never answers; the
// client gives up after 1.5 s and closes. nginx logs the request as 499 (client closed request) and
// closes its upstream connection at once: both legs end with an unanswered upgrade.
import net from 'node:net';
import path from 'node:path';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { startNginx } from '../servers/nginx.mjs';
import { startSilentBackend } from '../servers/silent-backend.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'nginx-499';
// Past the second no-response allows a server before a client that closes counts as impatient: a
// Node timer may fire a few ms before its time as the packets' clock counts it, so 1 s exactly
// would fall on either side of that line.
const CLIENT_TIMEOUT_MS = 1_500;
const DEADLINE_MS = 6_000;

export default function nginx499(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const file = path.join(dir, `${NAME}.pcap`);
  const backend = await startSilentBackend({ port: await pickFreePort() });
  let nginx;
  try {
    const nginxPort = port ?? (await pickFreePort());
    nginx = await startNginx({
      port: nginxPort,
      backendPort: backend.port,
      proxyDirectives: ['proxy_http_version 1.1', 'proxy_set_header Upgrade $http_upgrade', 'proxy_set_header Connection "upgrade"', 'proxy_read_timeout 30s'],
    });
    const clientSaw = await withCapture({ filter: `tcp port ${nginxPort} or tcp port ${backend.port}`, file }, () =>
      withDeadline(upgradeAndGiveUp(nginxPort), DEADLINE_MS, NAME),
    );
    const logs = await nginx.stop();
    nginx = undefined;
    const logged = logs.accessLog.split('\n').find((line) => line.includes('GET /ws '));
    if (clientSaw.bytes !== 0 || backend.bytesRead() === 0 || !logged || !/" 499 /.test(logged)) {
      throw new Error(`${NAME}: unexpected outcome ${JSON.stringify({ clientSaw, logged })}`);
    }
    return {
      file,
      expect: {
        description:
          `client -> nginx :${nginxPort} -> backend :${backend.port}; the WebSocket upgrade GET /ws is forwarded, the backend never ` +
          `answers, the client closes after ${CLIENT_TIMEOUT_MS / 1000} s; nginx logs 499 and closes the upstream`,
        nginxPort,
        backendPort: backend.port,
        clientTimeoutMs: CLIENT_TIMEOUT_MS,
        accessLogLine: logged.replace(/^\S+ \S+ \S+ \[[^\]]*\] /, ''),
      },
    };
  } finally {
    if (nginx) await nginx.stop();
    await backend.close();
  }
}

/** Sends a WebSocket upgrade, waits CLIENT_TIMEOUT_MS for any answer, then closes (FIN). */
function upgradeAndGiveUp(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port }, () => {
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: ${LOOPBACK}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      setTimeout(() => socket.end(), CLIENT_TIMEOUT_MS);
    });
    let bytes = 0;
    socket.on('data', (chunk) => (bytes += chunk.length));
    socket.on('error', reject);
    socket.on('close', () => resolve({ bytes }));
  });
}
