// The client connects to an address that is on-link (routed straight out of its veth) but that no
// host owns: its ARP "who-has" requests go unanswered, no SYN ever reaches the wire, and connect()
// fails with "no route to host" (EHOSTUNREACH) after about 3 s of ARP retries.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, useClassicSynBackoff, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const TARGET_PORT = 8080;
const CLIENT_TIMEOUT_S = 5;

// Prints how connect ended: "connected", "timeout" or the errno name.
const CONNECTING_CLIENT = `
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print('connected')
except socket.timeout:
    print('timeout')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
finally:
    s.close()
`;

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
        const { stdout } = await execInNamespace(
          client.ns,
          'python3',
          ['-c', CONNECTING_CLIENT, absent, String(port), String(CLIENT_TIMEOUT_S)],
          { timeoutMs: CLIENT_TIMEOUT_S * 1000 + 3_000 },
        );
        return stdout.trim();
      },
    );
  });
  if (outcome !== 'EHOSTUNREACH') throw new Error(`arp-unanswered: expected EHOSTUNREACH, got ${outcome}`);
  return { file, expect: { description } };
}
