// A WebSocket backend that treats an upgrade the way Swoole's HTTP server does: the 101 answer
// obeys the request's HTTP version, so an HTTP/1.0 request (no keep-alive) gets its 101 and then
// an immediate close, FIN right behind the handshake. An HTTP/1.1 upgrade gets a normal
// WebSocket session that echoes every message.
//
// Run alone: node scripts/servers/swoole-like.mjs [port]   (127.0.0.1 only; Ctrl-C to stop)
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { WebSocketServer } from 'ws';
import { closeServer, listenOn, trackSockets, webSocketAccept, LOOPBACK } from './net-helpers.mjs';

/**
 * Starts the backend on 127.0.0.1:`port` (0 = any free port).
 * `events` records what happened to each upgrade, for scenarios to check afterwards:
 * { httpVersion, action: 'closed-after-101' | 'websocket' | 'rejected' , at } entries.
 * @returns {Promise<{ port: number, events: object[], close: () => Promise<void> }>}
 */
export async function startSwooleLikeBackend({ port = 0, host = LOOPBACK } = {}) {
  const events = [];
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', Server: 'swoole-http-server' });
    res.end('swoole-like backend\n');
  });
  const sockets = trackSockets(server);
  const wss = new WebSocketServer({ noServer: true });

  server.on('upgrade', (req, socket, head) => {
    const key = req.headers['sec-websocket-key'];
    const wantsWebSocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket' && key;
    if (!wantsWebSocket) {
      events.push({ httpVersion: req.httpVersion, action: 'rejected', at: Date.now() });
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (req.httpVersion === '1.0') {
      // Swoole answers 101 but, since HTTP/1.0 means "no keep-alive", closes the connection
      // as soon as the response is written.
      events.push({ httpVersion: req.httpVersion, action: 'closed-after-101', at: Date.now() });
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\n' +
          'Upgrade: websocket\r\n' +
          'Connection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${webSocketAccept(key)}\r\n` +
          'Sec-WebSocket-Version: 13\r\n' +
          'Server: swoole-http-server\r\n\r\n',
      );
      socket.end();
      return;
    }
    events.push({ httpVersion: req.httpVersion, action: 'websocket', at: Date.now() });
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });

  const boundPort = await listenOn(server, port, host);
  return {
    port: boundPort,
    events,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await closeServer(server, sockets);
      wss.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const backend = await startSwooleLikeBackend({ port: Number(process.argv[2] ?? 0) });
  console.log(`swoole-like backend on ${LOOPBACK}:${backend.port}`);
  process.once('SIGINT', () => backend.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => backend.close().then(() => process.exit(0)));
}
