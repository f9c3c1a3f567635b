// The server namespace rejects the port with iptables REJECT (ICMP port unreachable, its default),
// and the capture on the client's veth keeps only what arrives (tcpdump -Q in): the file holds the
// ICMP error and not the SYN it answers, whose header the error quotes. connect() fails at once
// with "connection refused" (ECONNREFUSED).
import { withCapture } from '../lib/capture.mjs';
import { connectFromNamespace, execInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const REJECTED_PORT = 8080;
const CLIENT_TIMEOUT_S = 3;

export const description =
  'one ICMP port unreachable from the server quoting the client SYN, captured inbound only (tcpdump -Q in), so the SYN itself is not in the file: a firewall REJECT, the connection named from the quoted header';

export default async function icmpRejectOneWay({ dir, port = REJECTED_PORT }) {
  const file = captureFile(dir, 'icmp-reject-one-way');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    await execInNamespace(server.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'REJECT']);
    return withCapture({ iface: client.ifname, netns: client.ns, filter: `icmp or tcp port ${port}`, direction: 'in', file }, async () => {
      return connectFromNamespace(client.ns, server.addr, port, CLIENT_TIMEOUT_S);
    });
  });
  if (outcome !== 'ECONNREFUSED') throw new Error(`icmp-reject-one-way: expected ECONNREFUSED, got ${outcome}`);
  return { file, expect: { description } };
}
