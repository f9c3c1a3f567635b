// Clients the scenarios drive: a `ws` client whose whole life is summarised as one outcome, and a
// raw-socket upgrade client for requests no library will send (HTTP/1.0 upgrades).
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { LOOPBACK, parseHttpHead, readHttpHead, webSocketAccept } from './net-helpers.mjs';

/**
 * Resolves once `ws` has emitted 'close' (which `ws` always does, after 'error' too), with what
 * the client saw: { opened, error, code, reason, messages }. `onOpen(ws)` runs the conversation.
 */
export function runWebSocketClient(ws, { onOpen = () => {}, onMessage = () => {} } = {}) {
  return new Promise((resolve) => {
    const outcome = { opened: false, error: null, code: null, reason: '', messages: [] };
    ws.on('open', () => {
      outcome.opened = true;
      onOpen(ws);
    });
    ws.on('message', (data, isBinary) => {
      outcome.messages.push(isBinary ? { binary: [...data] } : { text: data.toString() });
      onMessage(ws, data, isBinary);
    });
    ws.on('error', (err) => {
      outcome.error ??= err.message;
    });
    ws.on('close', (code, reason) => {
      outcome.code = code;
      outcome.reason = reason.toString();
      resolve(outcome);
    });
  });
}

/**
 * Sends a WebSocket upgrade request over a plain socket with the given HTTP version, reads the
 * response head, and waits (up to `waitForCloseMs`) for the server to end the connection.
 * Resolves with { statusLine, headers, acceptOk, serverEndedAfterMs | null }.
 */
export function rawUpgrade({ port, host = LOOPBACK, path = '/ws', httpVersion = '1.0', waitForCloseMs = 1_000 }) {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, allowHalfOpen: true });
    socket.on('error', reject);
    socket.once('connect', async () => {
      socket.write(
        `GET ${path} HTTP/${httpVersion}\r\n` +
          `Host: ${host}:${port}\r\n` +
          'Upgrade: websocket\r\n' +
          'Connection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${key}\r\n` +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
      let head;
      try {
        ({ head } = await readHttpHead(socket));
      } catch (err) {
        socket.destroy();
        return reject(err);
      }
      const headAt = process.hrtime.bigint();
      const { startLine, headers } = parseHttpHead(head);
      const result = {
        statusLine: startLine,
        headers,
        acceptOk: headers['sec-websocket-accept'] === webSocketAccept(key),
        serverEndedAfterMs: null,
      };
      const timer = setTimeout(() => {
        socket.end();
        resolve(result);
      }, waitForCloseMs);
      socket.once('end', () => {
        clearTimeout(timer);
        result.serverEndedAfterMs = Number(process.hrtime.bigint() - headAt) / 1e6;
        socket.end(); // half-open: answer the server's FIN with ours
        resolve(result);
      });
      socket.resume();
    });
  });
}
