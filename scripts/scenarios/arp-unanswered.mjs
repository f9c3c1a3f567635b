// The client connects to an address that is on-link (routed straight out of its veth) but that no
// host owns: its ARP "who-has" requests go unanswered, no SYN ever reaches the wire, and connect()
// fails with "no route to host" (EHOSTUNREACH) after about 3 s of ARP retries.
import { withCapture } from '../lib/capture.mjs';
import { connectFromNamespace, execInNamespace, useClassicSynBackoff, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const TARGET_PORT = 8080;
const CLIENT_TIMEOUT_S = 5;

export const description =
  'ARP who-has for the destination repeated about once a second and never answered, no TCP packet at all, connect fails with EHOSTUNREACH: destination not on the link (ARP unanswered), not a TCP problem';

export default async function arpUnanswered({ dir, port = TARGET_PORT }) {
  const file = captureFile(dir, 'arp-unanswered');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    await useClassicSynBackoff(client.ns);
    // An address outside the pair's /30 that nobody has, routed as directly reachable on the veth.
    const [a, b, c, d] = server.addr.split('.').map(Number);
    const absent = `${a}.${b}.${c ^ 0x80}.${d}`;
    await execInNamespace(client.ns, 'ip', ['route', 'add', `${absent}/32`, 'dev', client.ifname, 'scope', 'link']);
    return withCapture(
      { iface: client.ifname, netns: client.ns, filter: `arp or tcp port ${port}`, file },
      async () => {
        return connectFromNamespace(client.ns, absent, port, CLIENT_TIMEOUT_S);
      },
    );
  });
  if (outcome !== 'EHOSTUNREACH') throw new Error(`arp-unanswered: expected EHOSTUNREACH, got ${outcome}`);
  return { file, expect: { description } };
}
