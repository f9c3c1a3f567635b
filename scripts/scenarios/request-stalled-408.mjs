// HAProxy 2.6 in HTTP mode with `timeout http-request 1s` and two clients that stop part way
// through their requests: one in its request line, one in its headers. HAProxy waits 1 s, answers
// each with 408 Request Time-out and closes. Needs haproxy on the PATH.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { withCapture } from '../lib/capture.mjs';
import { startProcess } from '../lib/proc.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { waitForPort } from '../servers/net-helpers.mjs';
import { sendPartAndWait, withinDeadline } from '../lib/servers.mjs';

const PARTS = ['GET /partial HTT', 'GET /slow HTTP/1.1\r\nHost: localhost\r\nUser-Ag'];

export const description =
  'HAProxy (timeout http-request 1s) and two clients, one stopping in its request line, one in its headers: after 1 s HAProxy answers each with 408 Request Time-out and closes: requests the client never finished, the server saying so';

export default async function requestStalled408({ dir }) {
  const file = captureFile(dir, 'request-stalled-408');
  const [frontPort, backendPort] = [await pickFreePort(), await pickFreePort()];
  const config = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    ['defaults', '  mode http', '  timeout connect 1s', '  timeout client 5s', '  timeout server 5s', '  timeout http-request 1s', 'frontend fe', `  bind 127.0.0.1:${frontPort}`, '  default_backend be', 'backend be', `  server s1 127.0.0.1:${backendPort}`, ''].join('\n'),
  );
  const haproxy = await startProcess('haproxy', ['-db', '-f', config], { maxLifetimeMs: 10_000 });
  try {
    await waitForPort(frontPort, { timeoutMs: 3_000 });
    const answers = await withCapture({ filter: `tcp port ${frontPort}`, file }, () => withinDeadline(4_000, 'request-stalled-408', () => Promise.all(PARTS.map((part) => sendPartAndWait(frontPort, part)))));
    if (!answers.every((answer) => answer.startsWith('HTTP/1.1 408'))) throw new Error(`request-stalled-408: HAProxy answered ${JSON.stringify(answers)}`);
  } finally {
    await haproxy.stop();
  }
  return { file, expect: { description } };
}
