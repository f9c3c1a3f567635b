// A whole-path stall. Client, router and server namespaces in a line. The client keeps one HTTP
// connection to a python server; for about 1.3 s the router's link to the client passes nothing
// (tc tbf at 8 bit/s, its bucket emptied first, with a 1 MB queue) and then lets the queue go at
// once (the same tbf changed to 10 Gbit/s, which keeps the queue). Meanwhile the client sends a
// request on its connection and opens a second one: the answer to the request and the SYN-ACK wait
// in the queue and reach the client together. Captured on the client's veth, the client's view.
import { withCapture } from '../lib/capture.mjs';
import { holdLink, releaseLink } from '../lib/link-stall.mjs';
import { execInNamespace, startInNamespace, withRoutedPath } from '../lib/netns.mjs';
import { OK_HTTP_SERVER } from '../lib/py-server.mjs';
import { sleep } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
/** When the stall starts and ends, counted from the client's start (the client acts at 1.0 and 1.1 s). */
const STALL_FROM_MS = 500;
const STALL_UNTIL_MS = 1_800;

// One keep-alive connection, a request on it at 1.0 s (in the stall) and a second connection at
// 1.1 s; each prints its answer's status line once it comes.
const CLIENT = `
import socket, sys, time
start = time.monotonic()
host, port = sys.argv[1], int(sys.argv[2])
def get(s, path):
    s.sendall(('GET %s HTTP/1.1\\r\\nHost: server\\r\\n\\r\\n' % path).encode())
def answer(s):
    got = b''
    while b'\\r\\n\\r\\n' not in got:
        chunk = s.recv(4096)
        if not chunk:
            return 'closed'
        got += chunk
    head, body = got.split(b'\\r\\n\\r\\n', 1)
    length = int(next(l for l in head.split(b'\\r\\n') if l.lower().startswith(b'content-length:')).split(b':')[1])
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            return 'closed'
        body += chunk
    return head.split(b'\\r\\n', 1)[0].decode()
a = socket.create_connection((host, port), timeout=10)
get(a, '/a')
print(answer(a), flush=True)
time.sleep(max(0, 1.0 - (time.monotonic() - start)))
get(a, '/b')
time.sleep(0.1)
b = socket.create_connection((host, port), timeout=10)
get(b, '/c')
print(answer(b), flush=True)
print(answer(a), flush=True)
b.close()
a.close()
`;

export const description =
  "path-stall: for 1.3 s the router's link to the client holds every packet, then lets them go at once; a request on an open connection and a second connection's SYN are sent during it, so the SYN-ACK reaches the client together with the answer held as long: slow-handshake warning that puts the wait on the stalled path or server host, not the server's SYN queue";

export default async function pathStall({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'path-stall');
  const answers = await withRoutedPath({}, async ({ client, server, router }) => {
    const link = router.towardClient.ifname;
    // The client's retransmission timer outlasts the stall, as on a path with a longer round trip:
    // its request is sent once, so the answer's ACK shows how long it was held.
    await execInNamespace(client.ns, 'ip', ['route', 'change', 'default', 'via', router.towardClient.addr, 'rto_min', '1500ms']);
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', OK_HTTP_SERVER, server.addr, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${port}`, file }, async () => {
        const clientRun = execInNamespace(client.ns, 'python3', ['-c', CLIENT, server.addr, String(port)], { timeoutMs: 15_000 });
        await sleep(STALL_FROM_MS);
        await holdLink(router.ns, link, client.addr, 2);
        await sleep(STALL_UNTIL_MS - STALL_FROM_MS);
        await releaseLink(router.ns, link, client.addr);
        const { stdout } = await clientRun;
        return stdout.trim().split('\n');
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (answers.length !== 3 || !answers.every((line) => line.startsWith('HTTP/1.1 200'))) throw new Error(`path-stall: the client got ${JSON.stringify(answers)}, expected three 200s`);
  return { file, expect: { description } };
}
