// A path MTU black hole that MTU probing gets round. Client, router and server namespaces in a
// line; the router's link to the client carries at most 1,400-byte packets and the router drops
// the ICMP "fragmentation needed" it would send back. The server has TCP MTU probing on
// (net.ipv4.tcp_mtu_probing=1) and answers a request with 20,000 bytes in one write: its first ten
// full-size segments never arrive; after four retransmission timeouts it resends the first one cut
// to 1,024 bytes, which gets through, and the answer follows in smaller segments, about 6 s late.
// The capture is on the server's veth: the sender's view (pmtu-probed-client is the client's).
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, setNamespaceSysctl, startInNamespace, withRoutedPath } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const NARROW_MTU = 1400;
const ANSWER_BYTES = 20_000;
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
s.sendall(b'GET /x HTTP/1.1\\r\\nHost: server\\r\\n\\r\\n')
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
  'a path MTU black hole that MTU probing got round, seen at the server: the router\'s link to the client carries at most 1,400-byte packets and its ICMP "fragmentation needed" is dropped; the server\'s 1,448-byte resends go unacknowledged until its MTU probing cuts the resend to 1,024 bytes about 6 s later: retransmission, cause path-mtu';

/** Runs the exchange and captures it on the veth of `at` ('server' or 'client'). */
export async function probedPastBlackHole({ dir, port = SERVER_PORT, at, name }) {
  const file = captureFile(dir, name);
  const received = await withRoutedPath({ towardClientMtu: NARROW_MTU }, async ({ client, server, router }) => {
    await execInNamespace(router.ns, 'iptables', ['-A', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP']);
    await setNamespaceSysctl(server.ns, 'net.ipv4.tcp_mtu_probing', '1');
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', ANSWERING_SERVER, server.addr, String(port), String(ANSWER_BYTES)], {
      readyPattern: /ready/,
      maxLifetimeMs: 40_000,
    });
    const end = at === 'server' ? server : client;
    try {
      return await withCapture({ iface: end.ifname, netns: end.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(client.ns, 'python3', ['-c', READING_CLIENT, server.addr, String(port), String(CLIENT_WAIT_S), String(ANSWER_BYTES)], {
          timeoutMs: (CLIENT_WAIT_S + 5) * 1000,
        });
        return Number(stdout.trim());
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (received !== ANSWER_BYTES) throw new Error(`${name}: the client received ${received} body bytes, expected ${ANSWER_BYTES}`);
  return { file, expect: { description } };
}

export default function pmtuProbed({ dir, port }) {
  return probedPastBlackHole({ dir, port, at: 'server', name: 'pmtu-probed' });
}
