// A host that is up, with one port filtered: the server namespace drops TCP to port 8080
// (iptables -j DROP) and serves HTTP on 8081. The client's connect to 8080 waits 3.5 s (SYNs at
// about 0, 1 and 3 s, classic backoff); 1.5 s into it, another thread fetches a page from 8081.
// The capture holds the unanswered SYNs and, between them, a whole exchange with the same host.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, pythonInNamespace, startInNamespace, useClassicSynBackoff, withNamespacePair } from '../lib/netns.mjs';
import { OK_HTTP_SERVER } from '../lib/py-server.mjs';
import { captureFile } from '../lib/scenario.mjs';

const DROPPED_PORT = 8080;
const SERVED_PORT = 8081;
const CONNECT_TIMEOUT_S = 3.5;
const FETCH_AFTER_S = 1.5;

// Prints how the connect to the dropped port ended, then the served page's status line.
const CLIENT = `
import socket, sys, threading, time
host, dropped, served, timeout, fetch_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
status = []
def fetch():
    time.sleep(fetch_after)
    c = socket.create_connection((host, served), timeout=3)
    c.sendall(b'GET / HTTP/1.1\\r\\nHost: server\\r\\nConnection: close\\r\\n\\r\\n')
    got = b''
    while True:
        chunk = c.recv(4096)
        if not chunk:
            break
        got += chunk
    c.close()
    status.append(got.split(b'\\r\\n', 1)[0].decode())
t = threading.Thread(target=fetch)
t.start()
outcome = 'connected'
try:
    socket.create_connection((host, dropped), timeout=timeout).close()
except socket.timeout:
    outcome = 'timeout'
t.join()
print(outcome, flush=True)
print(status[0] if status else 'no answer', flush=True)
`;

export const description =
  "SYNs to a port the server host drops (iptables DROP) while the same client fetches a page from another port of that host: syn-timeout that says the server's address sent other packets meanwhile, so the port is filtered, not the host down";

export default async function portFiltered({ dir }) {
  const file = captureFile(dir, 'port-filtered');
  const lines = await withNamespacePair({}, async ({ client, server }) => {
    await useClassicSynBackoff(client.ns);
    await execInNamespace(server.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(DROPPED_PORT), '-j', 'DROP']);
    const web = await startInNamespace(server.ns, 'python3', ['-c', OK_HTTP_SERVER, server.addr, String(SERVED_PORT)], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${DROPPED_PORT} or tcp port ${SERVED_PORT}`, file }, async () => {
        const printed = await pythonInNamespace(client.ns, CLIENT, [server.addr, DROPPED_PORT, SERVED_PORT, CONNECT_TIMEOUT_S, FETCH_AFTER_S], CONNECT_TIMEOUT_S * 1000 + 8_000);
        return printed.split('\n');
      });
    } finally {
      await web.stop({ signal: 'SIGKILL' });
    }
  });
  if (lines[0] !== 'timeout' || !lines[1]?.startsWith('HTTP/1.1 200')) throw new Error(`port-filtered: the client printed ${JSON.stringify(lines)}, expected a timeout and a 200`);
  return { file, expect: { description } };
}
