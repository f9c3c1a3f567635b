// The good case: one HTTP/1.1 GET with `Connection: close` on loopback, 200 with a small body,
// then FIN from both sides.
import http from 'node:http';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, withinDeadline } from '../lib/servers.mjs';

export const description =
  'handshake, GET / with Connection: close, 200 OK with a 13-byte body, FIN both ways: a clean close, nothing wrong';

export default async function httpClean({ dir, port }) {
  const file = captureFile(dir, 'http-clean');
  const serverPort = port ?? (await pickFreePort());
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('hello, world\n');
  });
  await listenOn(server, serverPort);
  try {
    const body = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(3_000, 'http-clean GET', () => get(serverPort)),
    );
    if (body !== 'hello, world\n') throw new Error(`http-clean: unexpected body ${JSON.stringify(body)}`);
  } finally {
    await closeServer(server);
  }
  return { file, expect: { description } };
}

function get(port) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/', agent: false, headers: { Connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        // Wait for the socket to close too, so both FINs are on the wire before capture stops.
        res.on('end', () => req.socket.once('close', () => resolve(body)));
      },
    );
    req.once('error', reject);
    req.end();
  });
}
