// Clients that end connections with RST (SO_LINGER 0) where nothing is cut off, beside one that
// does cut a response: HAProxy 2.6 health checks of two node backends (a TCP check every 400 ms,
// which resets in place of the handshake's final ACK, and `option httpchk`, which resets once it
// has read the status line, or closes with a FIN when the whole answer came first), then node
// clients that connect and reset at once (a port check), and one that reads a whole HTTP/1.0
// answer and the server's FIN and resets instead of closing. Needs haproxy on the PATH.
import http from 'node:http';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { withCapture } from '../lib/capture.mjs';
import { startProcess } from '../lib/proc.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, withinDeadline } from '../lib/servers.mjs';

const CHECK_INTERVAL_MS = 400;
const CHECKS_RUN_MS = 1_300;

export const description =
  'HAProxy TCP checks (SYN, SYN-ACK, RST/ACK) and HTTP checks (GET /health, then RST after the status line, or a FIN after the whole answer) of node backends; node port checks (handshake, RST); a node client that resets after a whole HTTP/1.0 answer and the server\'s FIN: resets that cut nothing off are info, the checks that cut a response are warnings';

export default async function clientResets({ dir }) {
  const file = captureFile(dir, 'client-resets');
  const [frontPort, tcpPort, httpPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort()];
  const servers = [tcpPort, httpPort].map(() => http.createServer((req, res) => res.end('healthy\n')));
  await listenOn(servers[0], tcpPort);
  await listenOn(servers[1], httpPort);
  const config = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'defaults',
      '  mode tcp',
      '  timeout connect 1s',
      '  timeout client 2s',
      '  timeout server 2s',
      'frontend unused',
      `  bind 127.0.0.1:${frontPort}`,
      '  default_backend tcpcheck',
      'backend tcpcheck',
      `  server s1 127.0.0.1:${tcpPort} check inter ${CHECK_INTERVAL_MS}ms`,
      'backend httpcheck',
      '  mode http',
      '  option httpchk GET /health',
      `  server s2 127.0.0.1:${httpPort} check inter ${CHECK_INTERVAL_MS}ms`,
      '',
    ].join('\n'),
  );
  try {
    await withCapture({ filter: `tcp port ${tcpPort} or tcp port ${httpPort}`, file }, () =>
      withinDeadline(CHECKS_RUN_MS + 3_000, 'client resets', async () => {
        const haproxy = await startProcess('haproxy', ['-db', '-f', config], { maxLifetimeMs: CHECKS_RUN_MS + 2_000 });
        await new Promise((resolve) => setTimeout(resolve, CHECKS_RUN_MS));
        await haproxy.stop();
        for (let i = 0; i < 2; i++) await connectAndReset(tcpPort);
        await readAllThenReset(httpPort);
      }),
    );
  } finally {
    for (const server of servers) await closeServer(server);
  }
  return { file, expect: { description } };
}

/** A port check: connect, then reset at once. */
function connectAndReset(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.resetAndDestroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** GET over HTTP/1.0, read the whole answer and the server's FIN, then reset instead of closing. */
function readAllThenReset(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => socket.write('GET /status HTTP/1.0\r\n\r\n'));
    socket.on('data', () => {});
    socket.once('end', () => {
      socket.resetAndDestroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
