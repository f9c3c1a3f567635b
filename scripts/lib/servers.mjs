// Small promise wrappers around node servers and sockets used by the loopback scenarios.
import { once } from 'node:events';
import net from 'node:net';

/**
 * A TCP server that reads what clients send and never writes back: its kernel ACKs the bytes, the
 * window stays open, and it closes its side when the client closes (net's default). A hung
 * server, or the collector end of a one-way stream. `received()` counts the bytes read.
 */
export function silentServer() {
  let received = 0;
  const server = net.createServer((socket) => {
    socket.on('data', (chunk) => (received += chunk.length));
    socket.on('error', () => {});
  });
  return { server, received: () => received };
}

/** Listens on host:port and resolves once bound. */
export async function listenOn(server, port, host = '127.0.0.1') {
  server.listen({ port, host, exclusive: true });
  await once(server, 'listening');
  return server;
}

/** Closes a server, destroying any connections it still holds. */
export async function closeServer(server) {
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Resolves with `value` once `emitter` emits `event`, or rejects after `timeoutMs`
 * (scenarios must stop by themselves).
 */
export function waitForEvent(emitter, event, timeoutMs, what = event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`${what}: not seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const onEvent = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, onEvent);
  });
}

export function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Runs `work()` but rejects if it takes longer than `ms`. */
export async function withinDeadline(ms, what, work) {
  const guard = deadline(ms, what);
  try {
    return await Promise.race([work(), guard.promise]);
  } finally {
    guard.cancel();
  }
}

/**
 * Connects, sends `part` (nothing when empty) and waits for the server to close, or closes itself
 * `giveUpAfterMs` after sending when that is given; resolves with what came back. For clients that
 * stop part way through a request.
 */
export function sendPartAndWait(port, part, host = '127.0.0.1', { giveUpAfterMs } = {}) {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect({ host, port }, () => {
      if (part) socket.write(part);
      if (giveUpAfterMs !== undefined) setTimeout(() => socket.end(), giveUpAfterMs);
    });
    socket.on('data', (chunk) => (received += chunk));
    socket.once('end', () => {
      socket.end();
      resolve(received);
    });
    socket.once('error', reject);
  });
}
