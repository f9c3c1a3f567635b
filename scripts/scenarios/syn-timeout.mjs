// Client namespace -> server namespace over a veth; the server namespace drops TCP to the port
// (iptables -j DROP, a firewall that drops silently). The client gives up after 3.5 s, so the
// capture holds the first SYN and the kernel's retries at about 1 s and 3 s, and nothing else.
import { withCapture } from '../lib/capture.mjs';
import { execInNamespace, useClassicSynBackoff, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const DROPPED_PORT = 8080;
const CLIENT_TIMEOUT_S = 3.5;

// Prints the errno name the connect attempt ended with, e.g. "timeout".
const CONNECTING_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print('connected')
except socket.timeout:
    print('timeout')
except OSError as e:
    print('error', e.errno)
finally:
    s.close()
`;

export const description =
  'three SYNs (at 0, ~1 s and ~3 s) and no answer at all, the server side drops them (iptables DROP): SYN timeout, host down or filtered';

export default async function synTimeout({ dir, port = DROPPED_PORT }) {
  const file = captureFile(dir, 'syn-timeout');
  const outcome = await withNamespacePair({}, async ({ client, server }) => {
    await useClassicSynBackoff(client.ns);
    await execInNamespace(server.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
    return withCapture({ iface: client.ifname, netns: client.ns, filter: `tcp port ${port}`, file }, async () => {
      const { stdout } = await execInNamespace(
        client.ns,
        'python3',
        ['-c', CONNECTING_CLIENT, server.addr, String(port), String(CLIENT_TIMEOUT_S)],
        { timeoutMs: CLIENT_TIMEOUT_S * 1000 + 3_000 },
      );
      return stdout.trim();
    });
  });
  if (outcome !== 'timeout') throw new Error(`syn-timeout: expected the connect to time out, got ${outcome}`);
  return { file, expect: { description } };
}
