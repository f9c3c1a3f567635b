// A python server on loopback whose listener defers accept until data arrives (TCP_DEFER_ACCEPT,
// as nginx's `listen ... deferred`), and a client that connects and says nothing for 9 s, as a
// browser's speculative connection does. The kernel takes the client's final ACK but skips its
// SYN-ACK retries while the defer period runs (5 s, rounded up to the retry schedule: 1+2+4 s),
// then re-sends the SYN-ACK once; the client ACKs it again, later sends a line and gets it back.
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand, startProcess } from '../lib/proc.mjs';
import { oneRequestServer } from '../lib/py-server.mjs';
import { captureFile } from '../lib/scenario.mjs';

const DEFER_S = 5;
const CLIENT_SILENT_S = 9;

// Echoes the request back; its listener defers accept for DEFER_S seconds.
const DEFERRING_SERVER = oneRequestServer({
  connTimeoutS: 15,
  acceptTimeoutS: 20,
  listenerSetup: `s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, ${DEFER_S})`,
  answer: 'conn.sendall(request)\nconn.close()',
});

const SILENT_CLIENT = `
import socket, sys, time
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3)
time.sleep(float(sys.argv[2]))
c.sendall(b'hello\\r\\n\\r\\n')
c.settimeout(5)
print(c.recv(64).decode().strip(), flush=True)
c.close()
`;

export const description =
  'the client ACKs the SYN-ACK and sends nothing for 9 s; the listener defers accept (TCP_DEFER_ACCEPT 5 s), so the server re-sends its SYN-ACK once, 7 s after the first: a deferred accept, no lost ACK';

export default async function deferredAccept({ dir, port }) {
  const file = captureFile(dir, 'deferred-accept');
  const serverPort = port ?? (await pickFreePort());
  const server = await startProcess('python3', ['-c', DEFERRING_SERVER, '127.0.0.1', String(serverPort), '0'], { readyPattern: /ready/, maxLifetimeMs: 30_000 });
  try {
    const echoed = await withCapture({ filter: `tcp port ${serverPort}`, file }, async () => {
      const { stdout } = await runCommand('python3', ['-c', SILENT_CLIENT, String(serverPort), String(CLIENT_SILENT_S)], { timeoutMs: (CLIENT_SILENT_S + 10) * 1000 });
      return stdout.trim();
    });
    if (echoed !== 'hello') throw new Error(`deferred-accept: expected the echo, got ${JSON.stringify(echoed)}`);
  } finally {
    await server.stop({ signal: 'SIGKILL' });
  }
  return { file, expect: { description } };
}
