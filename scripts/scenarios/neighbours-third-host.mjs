// Three namespaces on one bridge (a switched segment: unicast goes only to its port), the capture
// on the first. The second connects to the first over IPv4 and IPv6 (its ARP request and Neighbor
// Solicitation, broadcast and multicast, and the first's replies are all captured), then to the
// third (the requests are captured, the third's unicast replies and the connections are not), and
// 3 s later to the first again. Nothing listens: every connect is refused. The capture holds
// lookups of the third that were answered out of its sight.
import { withCapture } from '../lib/capture.mjs';
import { connectFromNamespace, execInNamespace } from '../lib/netns.mjs';
import { runCommand } from '../lib/proc.mjs';
import { captureFile } from '../lib/scenario.mjs';

const PORT = 8080;
const CLIENT_TIMEOUT_S = 3;

export const description =
  'A capture on one host of a bridged segment: another host looks up this one (answered, seen) and a third (answered by unicast, unseen) and connects to both; the lookups of the third are not unanswered';

const ip = (args) => runCommand('ip', args, { timeoutMs: 5_000 });

export default async function neighboursThirdHost({ dir }) {
  const file = captureFile(dir, 'neighbours-third-host');
  const tag = `${(process.pid % 1296).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const bridgeNs = `tcpwhy-${tag}-br`;
  const hosts = ['a', 'b', 'c'].map((h, i) => ({ ns: `tcpwhy-${tag}-${h}`, ifname: `tw${tag}${h}`, port: `tw${tag}${h}p`, v4: `10.231.250.${i + 1}`, v6: `fd31:250::${i + 1}` }));
  const created = [];
  try {
    await ip(['netns', 'add', bridgeNs]);
    created.push(bridgeNs);
    // No multicast snooping: the bridge floods solicitations to every port, as a plain switch does.
    await execInNamespace(bridgeNs, 'ip', ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    await execInNamespace(bridgeNs, 'ip', ['link', 'set', 'br0', 'up']);
    for (const h of hosts) {
      await ip(['netns', 'add', h.ns]);
      created.push(h.ns);
      await ip(['link', 'add', h.ifname, 'netns', h.ns, 'type', 'veth', 'peer', 'name', h.port, 'netns', bridgeNs]);
      await execInNamespace(bridgeNs, 'ip', ['link', 'set', h.port, 'master', 'br0', 'up']);
      await execInNamespace(h.ns, 'ip', ['addr', 'add', `${h.v4}/24`, 'dev', h.ifname]);
      await execInNamespace(h.ns, 'ip', ['-6', 'addr', 'add', `${h.v6}/64`, 'dev', h.ifname, 'nodad']);
      await execInNamespace(h.ns, 'ip', ['link', 'set', h.ifname, 'up']);
    }
    const [a, b, c] = hosts;
    const outcomes = await withCapture({ iface: a.ifname, netns: a.ns, filter: `arp or (icmp6 and (ip6[40] == 135 or ip6[40] == 136)) or tcp port ${PORT}`, file }, async () => {
      const out = [];
      for (const host of [a.v4, a.v6, c.v4, c.v6]) out.push(await connectFromNamespace(b.ns, host, PORT, CLIENT_TIMEOUT_S));
      await new Promise((r) => setTimeout(r, 3_000));
      for (const host of [a.v4, a.v6]) out.push(await connectFromNamespace(b.ns, host, PORT, CLIENT_TIMEOUT_S));
      return out;
    });
    if (outcomes.some((o) => o !== 'ECONNREFUSED')) throw new Error(`neighbours-third-host: expected every connect refused, got ${outcomes.join(', ')}`);
  } finally {
    for (const ns of created.reverse()) await runCommand('ip', ['netns', 'del', ns], { timeoutMs: 5_000, check: false });
  }
  return { file, expect: { description } };
}
