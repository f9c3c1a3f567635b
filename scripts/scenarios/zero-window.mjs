// A server that accepts but never reads, with a tiny receive buffer (SO_RCVBUF needs python:
// node cannot set it). The client writes until the server advertises a zero window, keeps the
// connection stalled for 2 s (zero-window probes), then closes; the server then exits with the
// data still unread, so its kernel answers with RST.
import net from 'node:net';
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { startProcess, sleep } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';
import { withinDeadline } from '../lib/servers.mjs';

const RECEIVE_BUFFER_BYTES = 4096;
const STALL_MS = 2_000;
const CLIENT_WRITE_BYTES = 1 << 20;

const NEVER_READING_SERVER = `
import socket, sys, time
port, rcvbuf = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # set before listen: accepted sockets inherit it
s.bind(('127.0.0.1', port))
s.listen(1)
print('ready', flush=True)
conn, _ = s.accept()
print('accepted', flush=True)
time.sleep(30)  # never reads; stopped by SIGTERM long before this
`;

export const description =
  'server with a 4 KB receive buffer never reads: its window shrinks to 0, the client sends zero-window probes for 2 s and closes, the server exits and sends RST: receiver stalled (zero window), application not reading';

export default async function zeroWindow({ dir, port }) {
  const file = captureFile(dir, 'zero-window');
  const serverPort = port ?? (await pickFreePort());
  const server = await startProcess('python3', ['-c', NEVER_READING_SERVER, String(serverPort), String(RECEIVE_BUFFER_BYTES)], {
    readyPattern: /ready/,
    maxLifetimeMs: 20_000,
  });
  try {
    await withCapture({ filter: `tcp port ${serverPort}`, file }, () =>
      withinDeadline(STALL_MS + 5_000, 'zero-window exchange', async () => {
        const socket = await connect(serverPort);
        socket.on('error', () => {});
        socket.write(Buffer.alloc(CLIENT_WRITE_BYTES, 0x7a));
        await server.waitForStdout(/accepted/);
        await sleep(STALL_MS);
        socket.destroy();
        // Closing the never-read socket makes the server's kernel send RST.
        await server.stop({ signal: 'SIGTERM' });
        await sleep(100);
      }),
    );
  } finally {
    await server.stop({ signal: 'SIGKILL' });
  }
  return { file, expect: { description } };
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}
