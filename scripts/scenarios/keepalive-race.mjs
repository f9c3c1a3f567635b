// The keep-alive race as a server sees it: a Node 20 server closes an idle keep-alive connection
// (keepAliveTimeout 1 s; Node arms the socket timer 1 s later, so the FIN leaves 2 s after the
// response), and the client sends its next request on the connection 0.3 s later, as a pool does
// that took the connection before reading the FIN waiting on it. The request reaches a socket the
// server has closed, and the server's TCP answers with RST: ECONNRESET, "socket hang up", at the
// client. (Where the two cross on a longer path, the capture may hold the request first; its FIN
// then acknowledges none of it: test/rules/request-after-close.test.ts builds that case.)
import http from 'node:http';
import net from 'node:net';
import { readCapture, withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, withinDeadline } from '../lib/servers.mjs';

const KEEP_ALIVE_TIMEOUT_MS = 1_000;
/** When Node's socket timer closes the idle connection, after the response. */
const SERVER_CLOSES_AFTER_MS = KEEP_ALIVE_TIMEOUT_MS + 1_000;
const CLIENT_REUSES_AFTER_MS = SERVER_CLOSES_AFTER_MS + 300;

export const description =
  'HTTP keep-alive: GET /a answered 200; 2 s later the server (Node 20, keepAliveTimeout 1 s) closes the idle connection (FIN); 0.3 s after that the client sends GET /b on it and the server resets it (client: ECONNRESET): a request sent on a connection the server had closed, the keep-alive race';

export default async function keepaliveRace({ dir, port }) {
  const file = captureFile(dir, 'keepalive-race');
  const serverPort = port ?? (await pickFreePort());
  const server = http.createServer((req, res) => res.end('ok\n'));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await listenOn(server, serverPort);
  try {
    await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(CLIENT_REUSES_AFTER_MS + 3_000, 'keep-alive race', () => requestTwice(serverPort)),
    );
  } finally {
    await closeServer(server);
  }
  // After the FIN the client reads no more, so Node reports no error: the capture shows the reset.
  const lines = await readCapture(file);
  const fromServer = (line) => line.includes(`.${serverPort} >`);
  const fin = lines.findIndex((line) => fromServer(line) && line.includes('Flags [F'));
  const request = lines.findIndex((line, i) => i > fin && !fromServer(line) && !line.includes('length 0'));
  const reset = lines.findIndex((line, i) => i > request && fromServer(line) && line.includes('Flags [R'));
  if (fin < 0 || request < 0 || reset < 0) throw new Error(`keepalive-race: no server FIN, then request, then RST\n${lines.join('\n')}`);
  return { file, expect: { description } };
}

/** GET /a, then GET /b on the same connection once the server has closed it; resolves once the reset had time to come. */
function requestTwice(port) {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the server's FIN does not end the socket here, so the second request goes out.
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => socket.write(`GET /a HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    socket.once('data', () =>
      setTimeout(() => {
        socket.write(`GET /b HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 100);
      }, CLIENT_REUSES_AFTER_MS),
    );
    socket.once('error', reject);
    socket.resume();
  });
}
