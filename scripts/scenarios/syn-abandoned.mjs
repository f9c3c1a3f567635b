// A client with a short connect timeout, as one racing two addresses (Happy Eyeballs) or a pool
// with a sub-second connect timeout: its first connect goes to a port the server namespace drops
// (iptables -j DROP) and is given up after 0.4 s, before the kernel's first SYN retry at 1 s; it
// then connects to the port the server serves, sends a line, reads the echo and keeps the
// connection 5 s. The capture holds one SYN to the dropped port, never sent again, while the
// capture goes on.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, pythonInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { oneRequestServer } from '../lib/py-server.mjs';
import { captureFile } from '../lib/scenario.mjs';

const DROPPED_PORT = 8080;
const SERVED_PORT = 8081;
const CONNECT_TIMEOUT_S = 0.4;
const HOLD_S = 5;

// Echoes the line back, then holds the connection until the client closes it.
const ECHO_SERVER = oneRequestServer({ connTimeoutS: 15, answer: 'conn.sendall(request)\nconn.recv(1)\nconn.close()' });

const IMPATIENT_CLIENT = `
import socket, sys, time
host, dropped, served, timeout, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
outcome = 'connected'
try:
    socket.create_connection((host, dropped), timeout=timeout).close()
except socket.timeout:
    outcome = 'timeout'
c = socket.create_connection((host, served), timeout=3)
c.sendall(b'hello\\r\\n\\r\\n')
c.recv(64)
time.sleep(hold)
c.close()
print(outcome, flush=True)
`;

export const description =
  'one SYN to a port the server drops, given up by the client after 0.4 s (before its first retry), then a served connection held 5 s: the attempt was abandoned, not timed out';

export default async function synAbandoned({ dir }) {
  const file = captureFile(dir, 'syn-abandoned');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    await execInNamespace(server.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(DROPPED_PORT), '-j', 'DROP']);
    const echo = await startInNamespace(server.ns, 'python3', ['-c', ECHO_SERVER, server.addr, String(SERVED_PORT), '0'], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${DROPPED_PORT} or tcp port ${SERVED_PORT}`, file }, () =>
        pythonInNamespace(client.ns, IMPATIENT_CLIENT, [server.addr, DROPPED_PORT, SERVED_PORT, CONNECT_TIMEOUT_S, HOLD_S], (CONNECT_TIMEOUT_S + HOLD_S) * 1000 + 5_000),
      );
    } finally {
      await echo.stop({ signal: 'SIGKILL' });
    }
  });
  if (outcome !== 'timeout') throw new Error(`syn-abandoned: expected the first connect to time out, got ${outcome}`);
  return { file, expect: { description } };
}
