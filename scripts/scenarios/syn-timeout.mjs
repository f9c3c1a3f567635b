// Client namespace -> server namespace over a veth; the server namespace drops TCP to the port
// (iptables -j DROP, a firewall that drops silently). The client gives up after 3.5 s, so the
// capture holds the first SYN and the kernel's retries at about 1 s and 3 s, and nothing else.
import { withCapture } from '../lib/capture.mjs';
import { connectFromNamespace, execInNamespace, useClassicSynBackoff, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const DROPPED_PORT = 8080;
const CLIENT_TIMEOUT_S = 3.5;

export const description =
  'three SYNs (at 0, ~1 s and ~3 s) and no answer at all, the server side drops them (iptables DROP): SYN timeout, host down or filtered';

export default async function synTimeout({ dir, port = DROPPED_PORT }) {
  const file = captureFile(dir, 'syn-timeout');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    await useClassicSynBackoff(client.ns);
    await execInNamespace(server.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
    return withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${port}`, file }, async () => {
      return connectFromNamespace(client.ns, server.addr, port, CLIENT_TIMEOUT_S);
    });
  });
  if (outcome !== 'timeout') throw new Error(`syn-timeout: expected the connect to time out, got ${outcome}`);
  return { file, expect: { description } };
}
