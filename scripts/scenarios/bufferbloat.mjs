// Bufferbloat. Client, router and server namespaces in a line; the router's link to the client is
// shaped to 1 Mbit/s by a token bucket with a 1 MB queue (tc tbf limit 1000000), far more than
// the link sends in a round trip. A python server answers a GET with 60,000 bytes; the client
// reads them all. The server's congestion window outgrows the link and fills the queue: the round
// trip of its data climbs from well under a millisecond to about 300 ms while its ACKs keep
// coming. Captured on the server's veth, the sender's view.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withRoutedPath } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const ANSWER_BYTES = 60_000;
const CLIENT_WAIT_S = 15;

const ANSWERING_SERVER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
conn, _ = s.accept()
conn.recv(1024)
body = b'b' * int(sys.argv[3])
conn.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body) + body)
conn.recv(1024)  # the client's FIN
conn.close()
time.sleep(30)  # stopped long before this
`;

const READING_CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
s.sendall(b'GET /big HTTP/1.1\\r\\nHost: server\\r\\n\\r\\n')
got = b''
while b'\\r\\n\\r\\n' not in got or len(got.split(b'\\r\\n\\r\\n', 1)[1]) < int(sys.argv[4]):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
s.close()
print(len(got.split(b'\\r\\n\\r\\n', 1)[1]), flush=True)
`;

export const description =
  'bufferbloat: the router\'s link to the client shaped to 1 Mbit/s with a 1 MB queue; a 60,000-byte download, captured at the server: the round trip of the server\'s data climbs from under a millisecond to about 300 ms while the client\'s ACKs keep coming and the bytes in flight grow: bufferbloat warning';

export default async function bufferbloat({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'bufferbloat');
  const received = await withRoutedPath({}, async ({ client, server, router }) => {
    await execInNamespace(router.ns, 'tc', ['qdisc', 'replace', 'dev', router.towardClient.ifname, 'root', 'tbf', 'rate', '1mbit', 'burst', '10k', 'limit', '1000000']);
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', ANSWERING_SERVER, server.addr, String(port), String(ANSWER_BYTES)], {
      readyPattern: /ready/,
      maxLifetimeMs: 40_000,
    });
    try {
      return await withCapture({ iface: server.ifname, netns: server.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(client.ns, 'python3', ['-c', READING_CLIENT, server.addr, String(port), String(CLIENT_WAIT_S), String(ANSWER_BYTES)], {
          timeoutMs: (CLIENT_WAIT_S + 5) * 1000,
        });
        return Number(stdout.trim());
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (received !== ANSWER_BYTES) throw new Error(`bufferbloat: the client received ${received} body bytes, expected ${ANSWER_BYTES}`);
  return { file, expect: { description } };
}
