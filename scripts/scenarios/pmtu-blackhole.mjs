// A path MTU black hole. Client, router and server namespaces in a line; the router's link to the
// client carries at most 1,400-byte packets, and the router drops the ICMP "fragmentation needed"
// it would send back (a firewall filtering ICMP). The client's own link is 1,500 bytes, so it
// advertises an MSS of 1,460. The server answers a request with a 43-byte head (it gets through,
// and is acknowledged) and then 100,000 bytes in full-size segments, none of which arrive. The
// client waits 4 s for them and closes; the capture, on the server's veth, shows the server
// resending its first full-size segment with growing timeouts while the client's packets keep
// arriving.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withRoutedPath } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const NARROW_MTU = 1400;
const CLIENT_WAIT_S = 4;

const ANSWERING_SERVER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
conn, _ = s.accept()
conn.recv(1024)
conn.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 100000\\r\\n\\r\\n')
time.sleep(0.05)  # the head goes out alone and is acknowledged before the body
conn.sendall(b'b' * 100000)
time.sleep(30)  # stopped long before this
`;

const WAITING_CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
s.sendall(b'GET /big HTTP/1.1\\r\\nHost: server\\r\\n\\r\\n')
got = 0
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += len(chunk)
except socket.timeout:
    pass
s.close()
print(got, flush=True)
`;

export const description =
  'a path MTU black hole: a router\'s link to the client carries at most 1,400-byte packets and the router\'s ICMP "fragmentation needed" is dropped; the server\'s 43-byte head is acknowledged, its full-size segments never arrive, and it resends the first of them with growing timeouts while the client, alive, closes after 4 s: retransmissions of full-size segments to a reachable peer, a path MTU black hole';

export default async function pmtuBlackhole({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'pmtu-blackhole');
  const received = await withRoutedPath({ towardClientMtu: NARROW_MTU }, async ({ client, server, router }) => {
    await execInNamespace(router.ns, 'iptables', ['-A', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP']);
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', ANSWERING_SERVER, server.addr, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      return await withCapture({ iface: server.ifname, netns: server.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(client.ns, 'python3', ['-c', WAITING_CLIENT, server.addr, String(port), String(CLIENT_WAIT_S)], {
          timeoutMs: (CLIENT_WAIT_S + 5) * 1000,
        });
        return Number(stdout.trim());
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  // The head's 43 bytes arrive; no byte of the body does.
  if (received !== 43) throw new Error(`pmtu-blackhole: the client received ${received} bytes, expected only the 43-byte head`);
  return { file, expect: { description } };
}
