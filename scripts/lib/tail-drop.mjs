// A response whose last segment the client's namespace drops on arrival, a given number of times,
// captured on the server's veth (the sender's view). The response is ten segments in one flight
// (the initial window) and its last one alone has a length of its own, so an iptables length match
// picks it out; one `statistic --mode nth` rule per drop, each dropping the first packet that gets
// to it, drops the original and then the first resends. The client ACKs each segment at once, so
// with the tail alone unacknowledged Linux arms its tail-loss probe for 2 SRTT + 200 ms (it allows
// for a delayed ACK); dropping the segment before the tail as well leaves two in flight, and the
// probe comes after 2 SRTT + 2 ms.
import { withCapture } from './capture.mjs';
import { execInNamespace, startInNamespace, withNamespacePair } from './netns.mjs';
import { oneRequestServer } from './py-server.mjs';

/** Full segments before the tail, and the tail's payload: 1,448 bytes a segment with timestamps. */
const FULL_SEGMENTS = 9;
const FULL_SEGMENT_BYTES = 1448;
const TAIL_BYTES = 300;
/** The tail's IP length: payload, IPv4 header, TCP header with the timestamp option. */
const TAIL_IP_LENGTH = TAIL_BYTES + 20 + 32;
const RESPONSE_BYTES = FULL_SEGMENTS * FULL_SEGMENT_BYTES + TAIL_BYTES;
const FULL_IP_LENGTH = FULL_SEGMENT_BYTES + 20 + 32;
const CLIENT_TIMEOUT_S = 10;

const SERVER = oneRequestServer({
  connTimeoutS: 10,
  answer: `
conn.sendall(b'x' * size)
conn.recv(1)
conn.close()
`,
});

// Prints how many bytes arrived.
const CLIENT = `
import socket, sys
size = int(sys.argv[4])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
s.sendall(b'GET /tail HTTP/1.0\\r\\n\\r\\n')
data = bytearray()
while len(data) < size:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
print(len(data))
`;

/**
 * Runs the exchange with the response's last segment dropped `drops` times, and the one before it
 * once if `beforeTail`, and writes `file`.
 * Returns the server's counts of tail-loss probes, retransmission timeouts and SACK recoveries.
 * @param {{ file: string, port: number, drops: number, beforeTail?: boolean }} options
 * @returns {Promise<{ lossProbes: number, timeouts: number, sackRecoveries: number }>}
 */
export async function tailDropped({ file, port, drops, beforeTail = false }) {
  const { bytes: received, ...counters } = await withNamespacePair({}, async ({ client, server }) => {
    for (let i = 0; i < drops; i++) {
      await execInNamespace(client.ns, 'iptables', [
        '-A', 'INPUT', '-p', 'tcp', '--sport', String(port),
        '-m', 'length', '--length', String(TAIL_IP_LENGTH),
        '-m', 'statistic', '--mode', 'nth', '--every', '1000000', '--packet', '0',
        '-j', 'DROP',
      ]);
    }
    if (beforeTail) {
      await execInNamespace(client.ns, 'iptables', [
        '-A', 'INPUT', '-p', 'tcp', '--sport', String(port),
        '-m', 'length', '--length', String(FULL_IP_LENGTH),
        '-m', 'statistic', '--mode', 'nth', '--every', '1000000', '--packet', String(FULL_SEGMENTS - 1),
        '-j', 'DROP',
      ]);
    }
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', SERVER, server.addr, String(port), String(RESPONSE_BYTES)], {
      readyPattern: /ready/,
      maxLifetimeMs: 30_000,
    });
    try {
      const bytes = await withCapture({ iface: server.ifname, netns: server.ns, filter: `tcp port ${port}`, file }, async () => {
        const { stdout } = await execInNamespace(
          client.ns,
          'python3',
          ['-c', CLIENT, server.addr, String(port), String(CLIENT_TIMEOUT_S), String(RESPONSE_BYTES)],
          { timeoutMs: (CLIENT_TIMEOUT_S + 5) * 1000 },
        );
        return Number(stdout.trim());
      });
      // The server's own count of what sent the resends (its namespace's TCP counters are its own).
      const { stdout } = await execInNamespace(server.ns, 'nstat', ['-asz', 'TcpExtTCPLossProbes', 'TcpExtTCPTimeouts', 'TcpExtTCPSackRecovery']);
      const counter = (name) => Number(new RegExp(`${name}\\s+(\\d+)`).exec(stdout)?.[1] ?? NaN);
      return { bytes, lossProbes: counter('TcpExtTCPLossProbes'), timeouts: counter('TcpExtTCPTimeouts'), sackRecoveries: counter('TcpExtTCPSackRecovery') };
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (received !== RESPONSE_BYTES) throw new Error(`${file}: received ${received} of ${RESPONSE_BYTES} bytes`);
  return counters;
}
