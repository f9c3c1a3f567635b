// A keep-alive HTTP connection caught mid-exchange, both ports high: curl fetches two files over
// one connection from python's http.server (HTTP/1.1) on a port above the ephemeral range. The
// capture is cut to start at the first response's status line, as a capture begun after the first
// request: the status line proves the server, so the roles are turned and both exchanges read.
import { withCapture } from '../lib/capture.mjs';
import { dropPacketsBefore, nthDataPacketFrom, startFileServer } from '../lib/midstream.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';

/** Above Linux's ephemeral range, so neither port tells the server from the client. */
const HIGH_PORTS = { min: 61_000, max: 64_000 };

export const description =
  'curl fetches /a and /b over one keep-alive connection from python http.server (HTTP/1.1); the capture starts at the first response, both ports high: the status line proves the server, so the flow is turned and the second exchange is read';

export default async function midstreamKeepalive({ dir, port }) {
  const file = captureFile(dir, 'midstream-keepalive');
  const serverPort = port ?? (await pickFreePort(HIGH_PORTS));
  const server = await startFileServer(dir, serverPort, { a: 600, b: 900 }, 'HTTP/1.1');
  try {
    await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      runCommand('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', `http://127.0.0.1:${serverPort}/a`, `http://127.0.0.1:${serverPort}/b`], { timeoutMs: 10_000 }),
    );
  } finally {
    await server.stop({ signal: 'SIGKILL' });
  }
  await dropPacketsBefore(file, await nthDataPacketFrom(file, serverPort, 1));
  return { file, expect: { description } };
}
