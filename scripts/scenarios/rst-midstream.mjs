// Data flows both ways, then the server resets the connection in the middle of its response
// (socket.resetAndDestroy(): RST instead of FIN), as a crashing or aborting backend does.
import net from 'node:net';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, withinDeadline } from '../lib/servers.mjs';
import { sleep } from '../lib/proc.mjs';

const ANNOUNCED_BODY_BYTES = 100_000;
const SENT_BODY_BYTES = 4_096;

export const description =
  `GET answered with 200 announcing ${ANNOUNCED_BODY_BYTES} body bytes; after ${SENT_BODY_BYTES} bytes the server sends RST: connection reset by the server mid-response`;

export default async function rstMidstream({ dir, port }) {
  const file = captureFile(dir, 'rst-midstream');
  const serverPort = port ?? (await pickFreePort());
  const server = net.createServer((socket) => {
    socket.once('data', async () => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${ANNOUNCED_BODY_BYTES}\r\n\r\n`);
      socket.write(Buffer.alloc(SENT_BODY_BYTES, 0x61));
      // Let the partial body reach the client (and be ACKed) before the reset.
      await sleep(50);
      socket.resetAndDestroy();
    });
    socket.on('error', () => {});
  });
  await listenOn(server, serverPort);
  let outcome;
  try {
    outcome = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(3_000, 'rst-midstream exchange', () => requestUntilReset(serverPort)),
    );
  } finally {
    await closeServer(server);
  }
  if (outcome.code !== 'ECONNRESET') throw new Error(`rst-midstream: expected ECONNRESET, got ${outcome.code}`);
  if (outcome.received < SENT_BODY_BYTES) throw new Error(`rst-midstream: only ${outcome.received} bytes arrived before the reset`);
  return { file, expect: { description } };
}

function requestUntilReset(port) {
  return new Promise((resolve) => {
    let received = 0;
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(`GET /download HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    });
    socket.on('data', (chunk) => (received += chunk.length));
    socket.once('error', (err) => resolve({ code: err.code, received }));
    socket.once('close', () => resolve({ code: 'CLOSED', received }));
  });
}
