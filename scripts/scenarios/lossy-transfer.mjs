// A 1 MB HTTP/1.0 download between two namespaces while the client namespace drops 5% of the
// arriving data segments at random (iptables statistic in INPUT). The capture is taken on the
// server's veth, as a sender-side capture would be: every segment appears once as sent, the lost
// ones again as retransmissions after duplicate ACKs with SACK blocks (or an RTO); the download
// still completes. A drop in the sender's own OUTPUT chain would not do: TCP sees that local
// drop as a failed transmit and quietly sends again, so no loss shows on the wire.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { oneRequestServer } from '../lib/py-server.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const BODY_BYTES = 1 << 20;
const DROP_PROBABILITY = '0.05';
// Headers are enough for every verdict; 128 bytes keeps ~1000 segments well under 200 KB.
const SNAPLEN = 128;
const CLIENT_TIMEOUT_S = 15;

const DOWNLOAD_SERVER = oneRequestServer({
  connTimeoutS: 15,
  answer: `
conn.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Type: application/octet-stream\\r\\nContent-Length: %d\\r\\n\\r\\n' % size)
conn.sendall(b'x' * size)
conn.close()
`,
});

// Prints how many body bytes arrived.
const DOWNLOAD_CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
s.sendall(b'GET /blob HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' % sys.argv[1].encode())
data = bytearray()
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
print(len(data) - (data.index(b'\\r\\n\\r\\n') + 4))
`;

export const description =
  '1 MB HTTP/1.0 download with 5% of data segments dropped at random: retransmissions, duplicate ACKs and SACKs, yet complete and closed with FIN: lossy path, slow but successful';

export default async function lossyTransfer({ dir, port = SERVER_PORT, snaplen = SNAPLEN }) {
  const file = captureFile(dir, 'lossy-transfer');
  const received = await withNamespacePair({}, async ({ client, server }) => {
    await execInNamespace(client.ns, 'iptables', [
      '-A', 'INPUT', '-p', 'tcp', '--sport', String(port),
      '-m', 'length', '--length', '1000:65535',
      '-m', 'statistic', '--mode', 'random', '--probability', DROP_PROBABILITY,
      '-j', 'DROP',
    ]);
    const serverProcess = await startInNamespace(
      server.ns,
      'python3',
      ['-c', DOWNLOAD_SERVER, server.addr, String(port), String(BODY_BYTES)],
      { readyPattern: /ready/, maxLifetimeMs: 30_000 },
    );
    try {
      return await withCapture({ iface: server.ifname, netns: server.ns, filter: `tcp port ${port}`, file, snaplen }, async () => {
        const { stdout } = await execInNamespace(
          client.ns,
          'python3',
          ['-c', DOWNLOAD_CLIENT, server.addr, String(port), String(CLIENT_TIMEOUT_S)],
          { timeoutMs: (CLIENT_TIMEOUT_S + 5) * 1000 },
        );
        return Number(stdout.trim());
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (received !== BODY_BYTES) throw new Error(`lossy-transfer: received ${received} of ${BODY_BYTES} body bytes`);
  return { file, expect: { description } };
}
