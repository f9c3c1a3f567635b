// A download caught mid-body, both ports high: python's http.server on a port above the ephemeral
// range sends a 1 MB file to curl, which reads 2 KB/s (--limit-rate) and gives up after 2 s (-m 2).
// The client's receive buffer fills (zero window, the server probes), then curl closes with unread
// data and its kernel resets. The capture is then cut to start at the server's second data segment,
// as a capture begun mid-transfer: nothing in it proves which side is the client.
import { withCapture } from '../lib/capture.mjs';
import { dropPacketsBefore, nthDataPacketFrom, startFileServer } from '../lib/midstream.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';

/** Above Linux's ephemeral range, so neither port tells the server from the client. */
const HIGH_PORTS = { min: 61_000, max: 64_000 };
const FILE_BYTES = 1_000_000;

export const description =
  'curl reads a 1 MB download at 2 KB/s from python http.server and gives up after 2 s; the capture starts at the server\'s second data segment, both ports high: the client\'s zero window and its RST, with roles nothing proves: no verdict blames "the server"';

export default async function midstreamDownload({ dir, port }) {
  const file = captureFile(dir, 'midstream-download');
  const serverPort = port ?? (await pickFreePort(HIGH_PORTS));
  const server = await startFileServer(dir, serverPort, { 'file.bin': FILE_BYTES });
  try {
    await withCapture({ filter: `tcp port ${serverPort}`, file, snaplen: 128 }, () =>
      runCommand('curl', ['-s', '--limit-rate', '2K', '-m', '2', '-o', '/dev/null', `http://127.0.0.1:${serverPort}/file.bin`], { check: false, timeoutMs: 10_000 }),
    );
  } finally {
    await server.stop({ signal: 'SIGKILL' });
  }
  await dropPacketsBefore(file, await nthDataPacketFrom(file, serverPort, 2));
  return { file, expect: { description } };
}
