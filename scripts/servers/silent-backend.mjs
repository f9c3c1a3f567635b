// An upstream that accepts connections and reads requests but never answers: what a proxy sees
// when its backend is stuck. It closes its side only when the peer does.
//
// Run alone: node scripts/servers/silent-backend.mjs [port]
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { closeServer, listenOn, trackSockets, LOOPBACK } from './net-helpers.mjs';

/**
 * @returns {Promise<{ port: number, bytesRead: () => number, close: () => Promise<void> }>}
 */
export async function startSilentBackend({ port = 0, host = LOOPBACK } = {}) {
  let bytesRead = 0;
  const server = net.createServer({ allowHalfOpen: false }, (socket) => {
    socket.on('data', (chunk) => (bytesRead += chunk.length));
    socket.on('error', () => {});
  });
  const sockets = trackSockets(server);
  const boundPort = await listenOn(server, port, host);
  return { port: boundPort, bytesRead: () => bytesRead, close: () => closeServer(server, sockets) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const backend = await startSilentBackend({ port: Number(process.argv[2] ?? 0) });
  console.log(`silent backend on ${LOOPBACK}:${backend.port}`);
  process.once('SIGINT', () => backend.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => backend.close().then(() => process.exit(0)));
}
