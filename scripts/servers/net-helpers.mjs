// Small pieces shared by the loopback servers and scenarios: listen/close with socket tracking,
// deadlines, port readiness and the RFC 6455 accept value.
import net from 'node:net';
import { createHash } from 'node:crypto';

export const LOOPBACK = '127.0.0.1';

// RFC 6455 section 1.3: Sec-WebSocket-Accept = base64(SHA-1(key + this GUID)).
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function webSocketAccept(key) {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/**
 * Remembers every socket a server accepts, so `closeServer` can end them: `server.close()` alone
 * waits for open connections and a scenario must never hang on one.
 */
export function trackSockets(server) {
  const sockets = new Set();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Listens on `port` (0 = any) on loopback; resolves with the bound port. */
export function listenOn(server, port = 0, host = LOOPBACK) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/** Stops accepting, destroys whatever is still open, resolves when the server has closed. */
export function closeServer(server, sockets) {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    for (const socket of sockets ?? []) socket.destroy();
  });
}

/** Rejects with a labelled error if `promise` has not settled after `ms`. */
export function withDeadline(promise, ms, label) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Polls until something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export async function waitForPort(port, { host = LOOPBACK, timeoutMs = 5_000, intervalMs = 50 } = {}) {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const connected = await new Promise((resolve) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > giveUpAt) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Reads from `socket` until the end of an HTTP head (CRLF CRLF); resolves with head text and the bytes after it. */
export function readHttpHead(socket, { maxBytes = 16 * 1024 } = {}) {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        cleanup();
        resolve({ head: buffered.subarray(0, end).toString('latin1'), rest: buffered.subarray(end + 4) });
      } else if (buffered.length > maxBytes) {
        cleanup();
        reject(new Error(`HTTP head longer than ${maxBytes} bytes`));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`connection ended before the end of the HTTP head (${buffered.length} bytes read)`));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
  });
}

/** Splits an HTTP head into its start line and lower-cased header map. */
export function parseHttpHead(head) {
  const [startLine, ...lines] = head.split('\r\n');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { startLine, headers };
}
