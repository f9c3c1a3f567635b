// A TCP server that reads one HTTP request head and answers with whatever bytes `respond` returns,
// without any HTTP library in the way: non-HTTP banners, broken handshakes.
import net from 'node:net';
import { closeServer, listenOn, parseHttpHead, readHttpHead, trackSockets, LOOPBACK } from './net-helpers.mjs';

/**
 * respond({ startLine, headers }) -> string | Buffer, written as one write.
 * endAfterResponse: true sends FIN right after the answer; false waits for the peer to close.
 * @returns {Promise<{ port: number, requests: object[], close: () => Promise<void> }>}
 */
export async function startRawResponder({ respond, endAfterResponse, port = 0, host = LOOPBACK }) {
  const requests = [];
  const server = net.createServer({ allowHalfOpen: false }, async (socket) => {
    socket.on('error', () => {});
    try {
      const { head } = await readHttpHead(socket);
      const request = parseHttpHead(head);
      requests.push(request);
      const answer = respond(request);
      if (endAfterResponse) socket.end(answer);
      else socket.write(answer);
      socket.resume(); // keep reading so the peer's FIN is seen and answered
    } catch {
      socket.destroy();
    }
  });
  const sockets = trackSockets(server);
  const boundPort = await listenOn(server, port, host);
  return { port: boundPort, requests, close: () => closeServer(server, sockets) };
}
