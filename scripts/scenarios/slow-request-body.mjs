// A client sends its POST body slowly: the head and 1,000 of 2,000 body bytes at once, 500 more
// 0.7 s later, the last 500 at 1.5 s; the node http server answers as soon as the body ends. The
// server's answer comes 1.5 s after the request began, none of it the server's doing.
import http from 'node:http';
import net from 'node:net';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, withinDeadline } from '../lib/servers.mjs';

const PIECES = [
  { afterMs: 0, bytes: 1_000 },
  { afterMs: 700, bytes: 500 },
  { afterMs: 1_500, bytes: 500 },
];
const BODY_BYTES = PIECES.reduce((n, p) => n + p.bytes, 0);

export const description =
  'POST whose 2,000-byte body the client sends in three pieces over 1.5 s; the server answers 200 within milliseconds of the last byte, then the client closes';

export default async function slowRequestBody({ dir, port }) {
  const file = captureFile(dir, 'slow-request-body');
  const serverPort = port ?? (await pickFreePort());
  const server = http.createServer((req, res) => {
    let received = 0;
    req.on('data', (chunk) => (received += chunk.length));
    req.on('end', () => res.end(`got ${received}\n`));
  });
  await listenOn(server, serverPort);
  let answer;
  try {
    answer = await withCapture({ filter: `tcp port ${serverPort}`, file }, () => withinDeadline(5_000, 'slow-request-body exchange', () => postSlowly(serverPort)));
  } finally {
    await closeServer(server);
  }
  if (!answer.includes(`got ${BODY_BYTES}`)) throw new Error(`slow-request-body: unexpected answer ${JSON.stringify(answer)}`);
  return { file, expect: { description } };
}

function postSlowly(port) {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`;
      for (const [i, piece] of PIECES.entries()) {
        setTimeout(() => socket.write((i === 0 ? head : '') + 'b'.repeat(piece.bytes)), piece.afterMs);
      }
    });
    socket.on('data', (chunk) => {
      answer += chunk;
      if (answer.includes('\r\n\r\n')) setTimeout(() => socket.end(), 20);
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(answer));
  });
}
