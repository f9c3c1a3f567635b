// A port scan between two namespaces: nmap from the client namespace against 200 ports of the
// server namespace, where three ports have listeners, 50 are dropped by iptables (filtered) and
// the rest answer RST (closed). By default a SYN scan (-sS: raw SYNs from one source port, the
// open ports' SYN-ACKs reset); with { style: 'connect' } a connect scan (-sT: a kernel connect()
// per port, the open ones completed and dropped). The capture on the client's veth holds every
// probe and answer.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

export const OPEN_PORTS = [22, 80, 143];
const FILTERED = { from: 150, to: 199 };
const SCANNED = '1-200';
/**
 * Snap length of the capture. In immediate mode libpcap gives tcpdump a ring of fixed-size frames
 * sized by the snap length: at the default 262,144 bytes the 16 MiB buffer holds 256 packets on a
 * veth (measured: a burst of 3,000 sent while tcpdump was stopped left 256 captured), and a scan's
 * burst overran it on a busy machine (tcpdump: packets dropped by the kernel). At 128 bytes, room
 * for the longest Ethernet, IPv4 and TCP headers, the same burst is captured whole.
 */
const CAPTURE_SNAPLEN = 128;

const LISTENERS = `
import socket, sys, time
socks = []
for port in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port)))
    s.listen(16)
    socks.append(s)
print('ready', flush=True)
time.sleep(60)  # stopped long before this
`;

export const description =
  `nmap -sS against ports ${SCANNED} of one host: ${OPEN_PORTS.length} open (SYN-ACK, then nmap's RST), ports ${FILTERED.from}-${FILTERED.to} filtered (iptables DROP, no answer, one retry), the rest closed (RST): a port scan`;

export default async function portScan({ dir, style = 'syn' }) {
  const scanType = style === 'connect' ? '-sT' : '-sS';
  const file = captureFile(dir, 'port-scan');
  const result = await withNamespacePair({}, async ({ client, server }) => {
    await execInNamespace(server.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', `${FILTERED.from}:${FILTERED.to}`, '-j', 'DROP']);
    const listeners = await startInNamespace(server.ns, 'python3', ['-c', LISTENERS, server.addr, ...OPEN_PORTS.map(String)], {
      readyPattern: /ready/,
      maxLifetimeMs: 60_000,
    });
    try {
      // Probes and answers carry no payload: headers are all there is to keep (see CAPTURE_SNAPLEN).
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: 'tcp', file, snaplen: CAPTURE_SNAPLEN }, async () => {
        // -Pn: no host discovery (the host is known up); -n: no DNS; a bounded scan that ends by itself.
        const { stdout } = await execInNamespace(
          client.ns,
          'nmap',
          [scanType, '-Pn', '-n', '-p', SCANNED, '--max-retries', '1', '--host-timeout', '40s', '-oG', '-', server.addr],
          { timeoutMs: 50_000 },
        );
        return { stdout, client: client.addr, server: server.addr };
      });
    } finally {
      await listeners.stop({ signal: 'SIGKILL' });
    }
  });
  const open = [...result.stdout.matchAll(/(\d+)\/open\/tcp/g)].map((m) => Number(m[1]));
  if (open.join(',') !== OPEN_PORTS.join(',')) throw new Error(`port-scan: nmap found open ${open.join(',')}, expected ${OPEN_PORTS.join(',')}\n${result.stdout}`);
  return {
    file,
    expect: { description, style, scanner: result.client, target: result.server, openPorts: OPEN_PORTS, filtered: FILTERED.to - FILTERED.from + 1, probedPorts: 200 },
  };
}
