// nginx with proxy_read_timeout 1s in front of a backend that reads the request but never
// answers: after ~1 s nginx gives up on the upstream, closes it, and sends the client a 504.
import path from 'node:path';
import http from 'node:http';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { startNginx } from '../servers/nginx.mjs';
import { startSilentBackend } from '../servers/silent-backend.mjs';
import { LOOPBACK, withDeadline } from '../servers/net-helpers.mjs';
import { withCompleteCapture } from '../servers/capture-check.mjs';

const NAME = 'nginx-504';
const DEADLINE_MS = 6_000;

export default function nginx504(options = {}) {
  return withCompleteCapture(NAME, () => runOnce(options));
}

async function runOnce({ dir, port }) {
  const file = path.join(dir, `${NAME}.pcap`);
  const backend = await startSilentBackend({ port: await pickFreePort() });
  let nginx;
  try {
    const nginxPort = port ?? (await pickFreePort());
    nginx = await startNginx({
      port: nginxPort,
      backendPort: backend.port,
      proxyDirectives: ['proxy_read_timeout 1s', 'proxy_connect_timeout 1s'],
    });
    const clientSaw = await withCapture({ filter: `tcp port ${nginxPort} or tcp port ${backend.port}`, file }, () =>
      withDeadline(getOnce(`http://${LOOPBACK}:${nginxPort}/report`), DEADLINE_MS, NAME),
    );
    const logs = await nginx.stop();
    nginx = undefined;
    if (clientSaw.status !== 504 || clientSaw.elapsedMs < 900 || backend.bytesRead() === 0) {
      throw new Error(`${NAME}: unexpected outcome ${JSON.stringify(clientSaw)}`);
    }
    return {
      file,
      expect: {
        description:
          `client -> nginx :${nginxPort} -> backend :${backend.port}; nginx forwards GET /report, the backend ACKs ` +
          'but never answers; ~1 s later nginx closes the upstream (FIN) and answers the client 504 Gateway Time-out',
        nginxPort,
        backendPort: backend.port,
        httpStatus: 504,
        clientSaw,
        nginxErrorLog: logs.errorLog
          .split('\n')
          .filter((line) => /timed out/.test(line))
          .map((line) => line.replace(/^\S+ \S+ /, '')),
      },
    };
  } finally {
    if (nginx) await nginx.stop();
    await backend.close();
  }
}

// agent: false sends "Connection: close", so the client connection ends with the response.
function getOnce(url) {
  const startedAt = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          elapsedMs: Math.round(Number(process.hrtime.bigint() - startedAt) / 1e6),
          server: res.headers.server,
          bodyTitle: /<title>([^<]*)<\/title>/.exec(body)?.[1] ?? null,
        }),
      );
    });
    req.on('error', reject);
  });
}
