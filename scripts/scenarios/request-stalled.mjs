// nginx with client_header_timeout and client_body_timeout of 1 s, and clients that stop part way
// through their requests: one in its request line, one in its headers, one 20,000 bytes into a
// 100,000-byte body, and one in the headers of a second request pipelined behind one nginx
// answers (GET /ok, 200). nginx waits 1 s for the rest, logs 408 and closes each without an answer.
// A fifth client connects and sends nothing; nginx closes that one after 1 s too (nothing to say).
// A sixth stops 100 bytes into a 1,000-byte body and closes by itself 500 ms later, before nginx's
// timeout: the client gave up on its own request.
import path from 'node:path';
import { withCapture } from '../lib/capture.mjs';
import { sendPartAndWait } from '../lib/servers.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { startNginx } from '../servers/nginx.mjs';
import { startSilentBackend } from '../servers/silent-backend.mjs';
import { withDeadline } from '../servers/net-helpers.mjs';

const NAME = 'request-stalled';
const DEADLINE_MS = 6_000;

const CLIENTS = [
  { part: 'GET /partial HTT' },
  { part: 'GET /slow HTTP/1.1\r\nHost: localhost\r\nUser-Ag' },
  { part: `POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n${'u'.repeat(20_000)}` },
  { part: 'GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\nGET /next HTTP/1.1\r\nHost: loc' },
  { part: '' },
  { part: `POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n${'f'.repeat(100)}`, giveUpAfterMs: 500 },
];
const TIMEOUTS = CLIENTS.filter((c) => c.part !== '' && c.giveUpAfterMs === undefined).length;

export const description =
  'nginx (client_header_timeout 1s, client_body_timeout 1s) and six clients: a request line cut off ("GET /partial HTT"), headers cut off, a POST that sends 20,000 of 100,000 announced body bytes, headers cut off in a request pipelined behind an answered GET /ok, and a connection that sends nothing; each waits, nginx closes it after 1 s without an answer (408 in its log for the four): requests the client never finished. The sixth sends 100 of 1,000 body bytes and closes by itself 500 ms later: a request the client gave up on';

export default async function requestStalled({ dir, port }) {
  const file = path.join(dir, `${NAME}.pcap`);
  const backend = await startSilentBackend({ port: await pickFreePort() });
  let nginx;
  try {
    const nginxPort = port ?? (await pickFreePort());
    nginx = await startNginx({ port: nginxPort, backendPort: backend.port, serverDirectives: ['client_header_timeout 1s', 'client_body_timeout 1s'], locations: ['location = /ok { return 200 "ok\\n"; }'] });
    await withCapture({ filter: `tcp port ${nginxPort}`, file }, () => withDeadline(Promise.all(CLIENTS.map(({ part, giveUpAfterMs }) => sendPartAndWait(nginxPort, part, undefined, { giveUpAfterMs }))), DEADLINE_MS, NAME));
    const { accessLog } = await nginx.stop();
    nginx = undefined;
    const timeouts = accessLog.split('\n').filter((line) => line.includes('" 408 ')).length;
    if (timeouts !== TIMEOUTS) throw new Error(`${NAME}: nginx logged ${timeouts} request timeouts (408), not ${TIMEOUTS}\n${accessLog}`);
  } finally {
    await nginx?.stop();
    await backend.close();
  }
  return { file, expect: { description } };
}
