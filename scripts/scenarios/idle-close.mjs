// HTTP keep-alive: one request, then the connection sits idle until the server's keep-alive
// timeout closes it from the server side. Node 20 sends `Keep-Alive: timeout=2` for
// keepAliveTimeout = 2000 but arms the socket timer 1 s later (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER
// in lib/_http_server.js), so the FIN comes about 3 s after the response.
import http from 'node:http';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, withinDeadline } from '../lib/servers.mjs';

const KEEP_ALIVE_TIMEOUT_MS = 2_000;

export const description =
  'GET with keep-alive answered 200 (Keep-Alive: timeout=2), then about 3 s without a packet, then server FIN and client FIN: the server closed an idle keep-alive connection (idle timeout), not an error';

export default async function idleClose({ dir, port }) {
  const file = captureFile(dir, 'idle-close');
  const serverPort = port ?? (await pickFreePort());
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('still here\n');
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await listenOn(server, serverPort);
  // keepAliveMsecs: the agent also turns on TCP keepalive; a long delay keeps probes out of the idle gap.
  const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000, maxSockets: 1 });
  let idleMs;
  try {
    idleMs = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(KEEP_ALIVE_TIMEOUT_MS + 4_000, 'idle-close exchange', () => getAndIdle(serverPort, agent)),
    );
  } finally {
    agent.destroy();
    await closeServer(server);
  }
  if (idleMs < KEEP_ALIVE_TIMEOUT_MS - 50) throw new Error(`idle-close: connection closed after only ${idleMs} ms idle`);
  return { file, expect: { description } };
}

/** Resolves with how long the connection stayed idle after the response before it closed. */
function getAndIdle(port, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const idleSince = Date.now();
        // The agent keeps the socket; when the server closes it, the agent's socket closes too.
        req.socket.once('close', () => resolve(Date.now() - idleSince));
      });
    });
    req.once('error', reject);
    req.end();
  });
}
