// The client -> nginx -> Swoole-like backend WebSocket setup shared by the nginx-ws-* scenarios:
// only the proxy directives differ, and the capture holds both legs.
import path from 'node:path';
import { WebSocket } from 'ws';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runWebSocketClient } from './clients.mjs';
import { startNginx } from './nginx.mjs';
import { startSwooleLikeBackend } from './swoole-like.mjs';
import { LOOPBACK, withDeadline } from './net-helpers.mjs';

const DEADLINE_MS = 5_000;
export const CLIENT_MESSAGE = 'hello through nginx';

/**
 * Starts the backend and nginx, captures `tcp port NGINX or tcp port BACKEND` on lo while a `ws`
 * client opens ws://127.0.0.1:NGINX/ws and closes with 1000 once a message arrives. With
 * `sendOnOpen` it sends one text message as soon as the upgrade completes (the backend echoes it);
 * without, it waits for the server to speak first, or for the connection to end.
 * Resolves with { file, nginxPort, backendPort, clientSaw, backendSaw, nginxErrorLog, nginxAccessLog }.
 */
export async function runNginxWebSocket({ name, dir, port, proxyDirectives, sendOnOpen }) {
  const file = path.join(dir, `${name}.pcap`);
  const backend = await startSwooleLikeBackend({ port: await pickFreePort() });
  let nginx;
  let logs = { errorLog: '', accessLog: '' };
  try {
    const nginxPort = port ?? (await pickFreePort());
    nginx = await startNginx({ port: nginxPort, backendPort: backend.port, proxyDirectives });
    const clientSaw = await withCapture({ filter: `tcp port ${nginxPort} or tcp port ${backend.port}`, file }, () =>
      withDeadline(
        runWebSocketClient(new WebSocket(`ws://${LOOPBACK}:${nginxPort}/ws`), {
          onOpen: (ws) => sendOnOpen && ws.send(CLIENT_MESSAGE),
          onMessage: (ws) => ws.close(1000, 'done'),
        }),
        DEADLINE_MS,
        name,
      ),
    );
    logs = await nginx.stop();
    nginx = undefined;
    return {
      file,
      nginxPort,
      backendPort: backend.port,
      clientSaw,
      backendSaw: backend.events.map(({ httpVersion, action }) => ({ httpVersion, action })),
      nginxErrorLog: pickLogLines(logs.errorLog),
      nginxAccessLog: logs.accessLog.trim(),
    };
  } finally {
    if (nginx) await nginx.stop();
    await backend.close();
  }
}

// Startup notices and the readiness probe ("while waiting for request") are noise; keep what
// nginx said about the proxied connection.
function pickLogLines(errorLog) {
  return errorLog
    .split('\n')
    .filter((line) => line && !/\[notice\]/.test(line) && !/while waiting for request/.test(line))
    .map((line) => line.replace(/^\S+ \S+ /, ''));
}
