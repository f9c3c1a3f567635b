// A node HTTP server with a 'checkContinue' listener that handles the request without calling
// res.writeContinue(), so no "100 Continue" is sent; curl posts 5,000 bytes with
// "Expect: 100-continue", waits its default 1 s for the 100, then sends the body anyway and gets 201.
import http from 'node:http';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn } from '../lib/servers.mjs';

const BODY_BYTES = 5_000;

export const description =
  'POST with "Expect: 100-continue" and a 5,000-byte body; the server never sends 100 Continue, curl sends the body after its 1 s expect timeout, 201 follows at once';

export default async function expectUnanswered({ dir, port }) {
  const file = captureFile(dir, 'expect-unanswered');
  const serverPort = port ?? (await pickFreePort());
  const server = http.createServer();
  const handle = (req, res) => {
    let received = 0;
    req.on('data', (chunk) => (received += chunk.length));
    req.on('end', () => res.writeHead(201, { 'Content-Type': 'text/plain' }).end(`stored ${received}\n`));
  };
  // Handling the request here without res.writeContinue() is the mistake: node then sends no 100.
  server.on('checkContinue', handle);
  server.on('request', handle);
  await listenOn(server, serverPort);
  let out;
  try {
    out = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      runCommand('curl', ['-sS', '--max-time', '5', '-H', 'Expect: 100-continue', '-H', 'Content-Type: application/octet-stream', '--data-binary', 'x'.repeat(BODY_BYTES), `http://127.0.0.1:${serverPort}/upload`], { timeoutMs: 8_000 }),
    );
  } finally {
    await closeServer(server);
  }
  if (!out.stdout.includes(`stored ${BODY_BYTES}`)) throw new Error(`expect-unanswered: unexpected curl output ${JSON.stringify(out)}`);
  return { file, expect: { description } };
}
