// A node HTTP server whose 'checkContinue' listener decides for 1.5 s (an authorisation check)
// before it calls res.writeContinue(); curl posts 5,000 bytes with "Expect: 100-continue", waits its
// default 1 s for the 100, sends the body anyway, and the 100 comes half a second later, then 201.
import http from 'node:http';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn } from '../lib/servers.mjs';

const BODY_BYTES = 5_000;
const DECISION_MS = 1_500;

export const description =
  'POST with "Expect: 100-continue" and a 5,000-byte body; the server sends 100 Continue 1.5 s after the head, curl has sent the body after its 1 s expect timeout, 201 follows';

export default async function expectLate({ dir, port }) {
  const file = captureFile(dir, 'expect-late');
  const serverPort = port ?? (await pickFreePort());
  const server = http.createServer();
  const handle = (req, res) => {
    let received = 0;
    req.on('data', (chunk) => (received += chunk.length));
    req.on('end', () => res.writeHead(201, { 'Content-Type': 'text/plain' }).end(`stored ${received}\n`));
  };
  server.on('checkContinue', (req, res) => {
    setTimeout(() => {
      res.writeContinue();
      handle(req, res);
    }, DECISION_MS);
  });
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
  if (!out.stdout.includes(`stored ${BODY_BYTES}`)) throw new Error(`expect-late: unexpected curl output ${JSON.stringify(out)}`);
  return { file, expect: { description } };
}
