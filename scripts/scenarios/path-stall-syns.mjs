// A whole-path stall seen through handshakes alone. Client, router and server namespaces in a
// line; for about 1.1 s the router's link to the client passes nothing (tc tbf at 8 bit/s, its
// bucket emptied first, with a 1 MB queue) and then lets the queue go at once (the same tbf changed
// to 10 Gbit/s, which keeps the queue). Meanwhile the client opens three connections 100 ms apart:
// each SYN reaches the python server, which answers at once, and the three SYN-ACKs wait in the
// queue and reach the client in the same instant, after three different waits. Each connection
// then sends a request and gets its answer within a fraction of a millisecond. Captured on the
// client's veth, the client's view.
import { withCapture } from '../lib/capture.mjs';
import { holdLink, releaseLink } from '../lib/link-stall.mjs';
import { startInNamespace, withRoutedPath } from '../lib/netns.mjs';
import { OK_HTTP_SERVER } from '../lib/py-server.mjs';
import { sleep } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
/**
 * The client's SYNs, counted from when it is ready (the stall is in place by then), and when the
 * stall ends. The first SYN is answered before its retry is due 1 s after it.
 */
const SYNS_AT_S = [0.25, 0.35, 0.45];
const STALL_UNTIL_MS = 1_000;

// Three connections at the times given, each in its own thread; once connected, each sends one
// request and prints its answer's status line.
const CLIENT = `
import socket, sys, threading, time
host, port = sys.argv[1], int(sys.argv[2])
syns_at = [float(at) for at in sys.argv[3].split(',')]
print('ready', flush=True)
start = time.monotonic()
answers = {}
def connect(at, path):
    time.sleep(max(0, at - (time.monotonic() - start)))
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(('GET %s HTTP/1.1\\r\\nHost: server\\r\\nConnection: close\\r\\n\\r\\n' % path).encode())
    got = b''
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    answers[path] = got.split(b'\\r\\n', 1)[0].decode()
threads = [threading.Thread(target=connect, args=(at, '/%d' % i)) for i, at in enumerate(syns_at)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for path in sorted(answers):
    print(answers[path], flush=True)
`;

export const description =
  "path-stall-syns: for 1.1 s the router's link to the client holds every packet, then lets them go at once; the client opens three connections 100 ms apart during it, so their SYN-ACKs reach it in the same instant after waits of about 830, 730 and 630 ms, and each request is then answered within a millisecond: slow-handshake warnings that put the wait most likely on the stalled path or server host, not on a listener answering each SYN as it comes";

export default async function pathStallSyns({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'path-stall-syns');
  const answers = await withRoutedPath({}, async ({ client, server, router }) => {
    const link = router.towardClient.ifname;
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', OK_HTTP_SERVER, server.addr, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${port}`, file }, async () => {
        await holdLink(router.ns, link, client.addr, 3);
        const clientProcess = await startInNamespace(client.ns, 'python3', ['-c', CLIENT, server.addr, String(port), SYNS_AT_S.join(',')], {
          readyPattern: /ready/,
          maxLifetimeMs: 15_000,
        });
        await sleep(STALL_UNTIL_MS);
        await releaseLink(router.ns, link, client.addr, { nudge: true });
        await clientProcess.exited;
        return clientProcess.stdout.trim().split('\n').slice(1);
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (answers.length !== 3 || !answers.every((line) => line.startsWith('HTTP/1.1 200'))) throw new Error(`path-stall-syns: the client got ${JSON.stringify(answers)}, expected three 200s`);
  return { file, expect: { description } };
}
