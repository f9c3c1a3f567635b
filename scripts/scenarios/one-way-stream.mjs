// A syslog-style sender: the client writes a log line every 1.2 s, four times, then waits 2 s
// and closes. The server reads and never writes, like a syslog or metrics collector. Silence from
// the server is the protocol here, not a hang: no `no-response` verdict is due.
import net from 'node:net';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { closeServer, listenOn, silentServer, withinDeadline } from '../lib/servers.mjs';

const LINES = 4;
const LINE_INTERVAL_MS = 1_200;
const LINGER_BEFORE_CLOSE_MS = 2_000;

export const description =
  'client sends a log line every 1.2 s (4 lines), then closes 2 s after the last; the server only reads: a one-way stream, clean close, no no-response';

export default async function oneWayStream({ dir, port }) {
  const file = captureFile(dir, 'one-way-stream');
  const serverPort = port ?? (await pickFreePort());
  const { server, received } = silentServer();
  await listenOn(server, serverPort);
  let answered;
  try {
    answered = await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(LINES * LINE_INTERVAL_MS + LINGER_BEFORE_CLOSE_MS + 3_000, 'one-way stream', () => sendLines(serverPort)),
    );
  } finally {
    await closeServer(server);
  }
  if (received() === 0) throw new Error('one-way-stream: the server read nothing');
  if (answered !== 0) throw new Error(`one-way-stream: the client received ${answered} bytes`);
  return { file, expect: { description } };
}

function sendLines(port) {
  return new Promise((resolve, reject) => {
    let received = 0;
    let sent = 0;
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      const tick = () => {
        socket.write(`<14>1 ${new Date().toISOString()} app-host app 4242 - - line ${sent + 1}\n`);
        if (++sent < LINES) setTimeout(tick, LINE_INTERVAL_MS);
        else setTimeout(() => socket.end(), LINGER_BEFORE_CLOSE_MS);
      };
      tick();
    });
    socket.on('data', (chunk) => (received += chunk.length));
    socket.once('error', reject);
    socket.once('close', () => resolve(received));
  });
}
