// Nagle's algorithm meeting delayed ACKs. A python client, TCP_NODELAY off as python leaves it,
// sends six POSTs on one connection, each in two writes: the head, then a 10-byte body. The
// server reads a whole request before it answers, so it has nothing to send when the head arrives
// and delays its ACK (40 ms on Linux); the client's kernel holds the small body until that ACK
// comes. Once the connection has left its quick-ACK start, each request waits about 40 ms.
import { withCapture } from '../lib/capture.mjs';
import { pickFreePort } from '../lib/ports.mjs';
import { runCommand, startProcess } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';

const REQUESTS = 6;

const WHOLE_REQUEST_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(1)
print('ready', flush=True)
conn, _ = s.accept()
conn.settimeout(5)
buf = b''
while True:
    head_end = buf.find(b'\\r\\n\\r\\n')
    if head_end < 0 or len(buf) < head_end + 4 + 10:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        continue
    buf = buf[head_end + 4 + 10:]
    conn.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')
conn.close()
`;

const TWO_WRITE_CLIENT = `
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
for i in range(int(sys.argv[2])):
    s.sendall(b'POST /item HTTP/1.1\\r\\nHost: server\\r\\nContent-Length: 10\\r\\n\\r\\n')
    s.sendall(b'0123456789')
    got = b''
    while not got.endswith(b'ok'):
        got += s.recv(4096)
s.close()
`;

export const description =
  'a python client with Nagle on sends six POSTs on one connection, each as two writes (head, then a 10-byte body), to a server that answers only whole requests: the server delays its ACK of each head (40 ms) and the client holds each body until it comes: Nagle meeting delayed ACKs';

export default async function nagleDelay({ dir, port }) {
  const file = captureFile(dir, 'nagle-delay');
  const serverPort = port ?? (await pickFreePort());
  const server = await startProcess('python3', ['-c', WHOLE_REQUEST_SERVER, String(serverPort)], { readyPattern: /ready/, maxLifetimeMs: 20_000 });
  try {
    await withCapture({ filter: `tcp port ${serverPort}`, file }, () => runCommand('python3', ['-c', TWO_WRITE_CLIENT, String(serverPort), String(REQUESTS)], { timeoutMs: 10_000 }));
  } finally {
    await server.stop({ signal: 'SIGKILL' });
  }
  return { file, expect: { description } };
}
