// The client namespace has only 8 ephemeral ports (ip_local_port_range 40000-40007) and makes 40
// short connections in a row to a server that closes first. Linux prefers even ports for connect()
// (odd ones are left for bind()), so only 4 ports cycle and each 4-tuple comes back about ten
// times while the server still holds it in TIME_WAIT (60 s). Linux accepts such a SYN when its
// timestamp is newer than the TIME_WAIT's, so every connection here succeeds.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, setNamespaceSysctl, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const CONNECTIONS = 40;
const LOCAL_PORT_RANGE = '40000 40007';

// Answers each connection with one line and closes first, so TIME_WAIT stays on the server.
const CLOSING_FIRST_SERVER = `
import socket, sys
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
s.settimeout(10)
print('ready', flush=True)
for _ in range(count):
    conn, _ = s.accept()
    conn.settimeout(5)
    conn.recv(1024)
    conn.sendall(b'pong\\n')
    conn.close()
`;

// Prints the source port of every connection it made, one per line.
const SEQUENTIAL_CLIENT = `
import socket, sys
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(count):
    s = socket.create_connection((addr, port), timeout=3)
    print(s.getsockname()[1], flush=True)
    s.sendall(b'ping\\n')
    while s.recv(1024):
        pass
    s.close()
`;

export const description =
  '40 short connections from a client limited to ports 40000-40007 (connect uses the 4 even ones): each 4-tuple is reused about 10 times within a second while the server still holds it in TIME_WAIT; all complete normally: 4-tuple reuse during TIME_WAIT, not a failure';

export default async function portReuse({ dir, port = SERVER_PORT, connections = CONNECTIONS }) {
  const file = captureFile(dir, 'port-reuse');
  const sourcePorts = await withNamespacePair({}, async ({ client, server }) => {
    await setNamespaceSysctl(client.ns, 'net.ipv4.ip_local_port_range', LOCAL_PORT_RANGE);
    const serverProcess = await startInNamespace(
      server.ns,
      'python3',
      ['-c', CLOSING_FIRST_SERVER, server.addr, String(port), String(connections)],
      { readyPattern: /ready/, maxLifetimeMs: 30_000 },
    );
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(
          client.ns,
          'python3',
          ['-c', SEQUENTIAL_CLIENT, server.addr, String(port), String(connections)],
          { timeoutMs: 15_000 },
        );
        return stdout.trim().split('\n').map(Number);
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  const distinct = new Set(sourcePorts);
  if (sourcePorts.length !== connections) throw new Error(`port-reuse: ${sourcePorts.length} of ${connections} connections made`);
  if (distinct.size > 8) throw new Error(`port-reuse: ${distinct.size} distinct source ports, expected at most 8`);
  if (distinct.size === connections) throw new Error('port-reuse: no source port was reused');
  return { file, expect: { description } };
}
