// The handshake never completes on the server: the client's SYN is answered, but everything the
// client sends after its SYN is lost on the way (an iptables drop of non-SYN segments in the
// client namespace's OUTPUT, so nothing reaches the wire). The capture, on the server's veth, shows
// SYN, SYN-ACK and the server's SYN-ACK retransmissions at ~1 s and ~3 s, with no final ACK ever.
// The client itself believes it is connected and waits for the server to speak first.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const CLIENT_WAIT_S = 3.5;

const LISTENING_SERVER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print('ready', flush=True)
time.sleep(30)  # nothing to accept: the handshake never completes; stopped long before this
`;

// Connects, waits for a greeting that cannot come, prints "connected" (what the client believes).
const WAITING_CLIENT = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
print('connected', flush=True)
s.settimeout(float(sys.argv[3]))
try:
    s.recv(1)
except socket.timeout:
    pass
s.close()
`;

export const description =
  'SYN answered by SYN-ACK, then the SYN-ACK retransmitted at ~1 s and ~3 s and no final ACK ever arrives: half-open handshake (client ACK lost), the server never sees the connection';

export default async function halfOpen({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'half-open');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    await execInNamespace(client.ns, 'iptables', [
      '-A', 'OUTPUT', '-p', 'tcp', '--dport', String(port), '--tcp-flags', 'SYN', 'NONE', '-j', 'DROP',
    ]);
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', LISTENING_SERVER, server.addr, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 20_000,
    });
    try {
      return await withCapture({ iface: server.ifname, netns: server.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(
          client.ns,
          'python3',
          ['-c', WAITING_CLIENT, server.addr, String(port), String(CLIENT_WAIT_S)],
          { timeoutMs: CLIENT_WAIT_S * 1000 + 5_000 },
        );
        return stdout.trim();
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (outcome !== 'connected') throw new Error(`half-open: the client did not get a SYN-ACK (${outcome})`);
  return { file, expect: { description } };
}
