// IPv6 between two namespaces on one /64: the client first connects to the server's two addresses
// (each Neighbor Solicitation answered by a Neighbor Advertisement, then a handshake and FINs: the
// capture holds replies to the client from two addresses, so it sees its replies), then to an address
// of the same /64 that nobody has: its solicitations, about once a second, go unanswered, no TCP
// packet leaves, and connect() fails with "no route to host" (EHOSTUNREACH) after about 3 s.
import { withCapture } from '../lib/capture.mjs';
import { connectFromNamespace, execInNamespace, startInNamespace, withNamespacePair } from '../lib/netns.mjs';
import { captureFile } from '../lib/scenario.mjs';

const SERVER_PORT = 8080;
const CLIENT_TIMEOUT_S = 6;
/** ICMPv6 type 135 (solicitation) or 136 (advertisement), with no extension header before it. */
const NDP_FILTER = '(icmp6 and (ip6[40] == 135 or ip6[40] == 136))';

const ONE_SHOT_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.bind(('::', int(sys.argv[1])))
s.listen(2)
print('ready', flush=True)
s.settimeout(10)
for _ in range(2):
    c, _ = s.accept()
    c.close()
`;

export const description =
  'IPv6: Neighbor Solicitations for two addresses answered and connections made, then solicitations for another address of the /64 about once a second and never answered, no TCP packet to it, connect fails with EHOSTUNREACH: the address is not on the link';

export default async function ndpUnanswered({ dir, port = SERVER_PORT }) {
  const file = captureFile(dir, 'ndp-unanswered');
  const outcomes = await withNamespacePair({}, async ({ client, server }) => {
    const prefix = `fd31:${Math.floor(Math.random() * 0x10000).toString(16)}::`;
    const [clientAddr, serverAddr, serverAddr2, absent] = [`${prefix}1`, `${prefix}2`, `${prefix}3`, `${prefix}99`];
    // nodad: usable at once, and no duplicate-address probes in the capture.
    await execInNamespace(client.ns, 'ip', ['-6', 'addr', 'add', `${clientAddr}/64`, 'dev', client.ifname, 'nodad']);
    await execInNamespace(server.ns, 'ip', ['-6', 'addr', 'add', `${serverAddr}/64`, 'dev', server.ifname, 'nodad']);
    await execInNamespace(server.ns, 'ip', ['-6', 'addr', 'add', `${serverAddr2}/64`, 'dev', server.ifname, 'nodad']);
    const serverProcess = await startInNamespace(server.ns, 'python3', ['-c', ONE_SHOT_SERVER, String(port)], {
      readyPattern: /ready/,
      maxLifetimeMs: 20_000,
    });
    try {
      return await withCapture({ iface: client.ifname, netns: client.ns, filter: `${NDP_FILTER} or tcp port ${port}`, file }, async () => {
        const first = await connectFromNamespace(client.ns, serverAddr, port, CLIENT_TIMEOUT_S);
        const second = await connectFromNamespace(client.ns, serverAddr2, port, CLIENT_TIMEOUT_S);
        const third = await connectFromNamespace(client.ns, absent, port, CLIENT_TIMEOUT_S);
        return [first, second, third];
      });
    } finally {
      await serverProcess.stop({ signal: 'SIGKILL' });
    }
  });
  if (outcomes.join() !== 'connected,connected,EHOSTUNREACH') throw new Error(`ndp-unanswered: expected connected twice then EHOSTUNREACH, got ${outcomes.join(', ')}`);
  return { file, expect: { description } };
}
