// A node HTTP server that curl posts 5,000 bytes to with "Expect: 100-continue" (curl waits its
// default 1 s for the 100, then sends the body anyway); the server answers 201 with the bytes it
// stored. The expect-continue scenarios differ only in what the server's 'checkContinue' listener
// does before it handles the request.
import http from 'node:http';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn } from '../lib/servers.mjs';

export const BODY_BYTES = 5_000;

/**
 * `onCheckContinue(req, res, handle)` is the server's 'checkContinue' listener; it calls
 * `handle(req, res)` to read the body and answer 201. `description` names what the capture shows.
 */
export function expectContinueScenario({ name, onCheckContinue, description }) {
  return async function run({ dir, port }) {
    const file = captureFile(dir, name);
    const serverPort = port ?? (await pickFreePort());
    const server = http.createServer();
    const handle = (req, res) => {
      let received = 0;
      req.on('data', (chunk) => (received += chunk.length));
      req.on('end', () => res.writeHead(201, { 'Content-Type': 'text/plain' }).end(`stored ${received}\n`));
    };
    server.on('checkContinue', (req, res) => onCheckContinue(req, res, handle));
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
    if (!out.stdout.includes(`stored ${BODY_BYTES}`)) throw new Error(`${name}: unexpected curl output ${JSON.stringify(out)}`);
    return { file, expect: { description } };
  };
}
