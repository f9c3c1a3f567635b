// The server reads the HTTP request and never answers. The client gives up after 3 s and closes;
// only then does the server close its side.
import net from 'node:net';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, silentServer, withinDeadline } from '../lib/servers.mjs';

const CLIENT_PATIENCE_MS = 3_000;

export const description =
  'GET sent and ACKed, no response byte for 3 s, then the client closes (FIN) and the server follows: server never answered, client timeout';

export default async function noResponse({ dir, port }) {
  const file = captureFile(dir, 'no-response');
  const serverPort = port ?? (await pickFreePort());
  // Read and ignore: the request is consumed (ACKed, window stays open) but never answered.
  const { server, received } = silentServer();
  await listenOn(server, serverPort);
  let responseBytes;
  try {
    responseBytes = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(CLIENT_PATIENCE_MS + 2_000, 'no-response exchange', () => requestAndGiveUp(serverPort)),
    );
  } finally {
    await closeServer(server);
  }
  if (received() === 0) throw new Error('no-response: the server never saw the request');
  if (responseBytes !== 0) throw new Error(`no-response: the client received ${responseBytes} bytes`);
  return { file, expect: { description } };
}

function requestAndGiveUp(port) {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(`GET /slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      socket.setTimeout(CLIENT_PATIENCE_MS, () => socket.end());
    });
    socket.on('data', (chunk) => (received += chunk.length));
    socket.once('error', reject);
    socket.once('close', () => resolve(received));
  });
}
