import type { FlowRule, IcmpAboutUnseenSyn, RuleContext, UnansweredLookup } from './rules.js';
import type { CaptureRule } from './capture-rules.js';
import type { Verdict } from './verdict.js';
import { fmtDuration, ms, plural } from './format.js';

// Connection failures told by packets other than TCP's: ICMP errors that quote the connection, and
// address lookups on the link (ARP, IPv6 neighbour discovery) that nobody answered.

/**
 * The likely cause of an ICMP error about a TCP connection, from its meaning and who sent it. A
 * host that names itself unreachable is up and got the SYN: its own firewall rejected it.
 */
export function icmpHint(meaning: string, from: string, destination: string): string {
  const fromDestination = from === destination;
  if (/administratively|reject route|policy/.test(meaning)) {
    return 'A firewall rejects this traffic (iptables REJECT with icmp-admin-prohibited, a security group or an ACL): the router or host named sent the rejection. Open the port in that firewall or use the allowed path.';
  }
  if (/exceeded/.test(meaning)) return 'The packets loop or the path is longer than the TTL allows: a routing loop or a misconfigured route.';
  if (/port/.test(meaning)) {
    // A closed TCP port answers with a RST; the ICMP error is what iptables REJECT sends unless told otherwise.
    return fromDestination
      ? `A firewall on ${destination} rejects the connection: a closed TCP port answers with a RST, while iptables REJECT answers with ICMP port unreachable unless told otherwise. Check the firewall rules on ${destination} for this port.`
      : `A firewall at ${from}, on the path, rejects the connection (iptables REJECT answers with ICMP port unreachable unless told otherwise). Check its rules for this port.`;
  }
  return fromDestination
    ? `The destination host sent this error itself, so it is up and reachable: its own firewall rejects the connection (iptables REJECT --reject-with icmp-host-unreachable, or a similar rule). Check the firewall rules on ${destination} for this port.`
    : 'A router has no route to the destination, or the destination host does not answer ARP/ND. Check routing and whether the host is up.';
}

/** The verdict code and the request's name of an address lookup. */
export function lookupWords(l: UnansweredLookup, address: string): { code: string; asked: string; requests: string } {
  return l.protocol === 'arp'
    ? { code: 'arp-unanswered', asked: `ARP who-has ${address}`, requests: plural(l.requests, 'request') }
    : { code: 'ndp-unanswered', asked: `Neighbor Solicitation for ${address}`, requests: plural(l.requests, 'solicitation') };
}

const NEIGHBOUR_HINT =
  'The host is down or disconnected, or the address is wrong (a stale config or DNS entry). Check that the host is up and on this subnet, and the client subnet mask and gateway.';

/** Lookups never answered: said of the capture, since no packet to that address could leave. */
export const neighboursUnanswered: CaptureRule = {
  code: 'neighbours-unanswered',
  start: () => ({
    observe() {},
    verdicts(_c, ctx: RuleContext): Verdict[] {
      const out: Verdict[] = [];
      for (const [address, l] of ctx.neighboursUnanswered) {
        const { code, asked, requests } = lookupWords(l, address);
        const link = l.protocol === 'arp' ? 'local segment' : 'link';
        const packets = `#${l.firstNo}..#${l.lastNo}`;
        if (l.repliesSeen) {
          out.push({
            code,
            severity: 'error',
            summary: `${asked} never answered (${requests}, ${packets}): no host with that address on the ${link}, so no SYN can leave`,
            packets: [l.firstNo, l.lastNo],
            facts: { ip: address, requests: l.requests },
            hint: NEIGHBOUR_HINT,
          });
          continue;
        }
        // A TCP packet the asker sent to the address shows it got an answer this capture does not hold.
        if (ctx.visibility?.mayHaveReceived(address, l.asker ?? undefined)) continue;
        const replies = l.protocol === 'arp' ? 'ARP reply' : 'solicited Neighbor Advertisement';
        const unseen = l.repliesInCapture ? `${replies}s to ${l.asker} from one host at most` : `no ${replies} at all`;
        out.push({
          code,
          severity: 'warning',
          summary: `${asked} asked ${l.requests} times by ${l.asker} in ${fmtDuration(l.lastTs - l.firstTs)} (${packets}) and never answered: a host that got its answer does not ask again, so most likely no host has that address on the ${link} and no SYN could leave (this capture holds ${unseen}, so it may not see replies)`,
          packets: [l.firstNo, l.lastNo],
          facts: { ip: address, requests: l.requests, asker: l.asker, spanMs: ms(l.lastTs - l.firstTs), repliesInCapture: l.repliesInCapture },
          hint: `${NEIGHBOUR_HINT} The capture holds ${l.repliesInCapture ? `replies to ${l.asker} from one host at most, which a capture on another host of a switched segment also gives (it holds every host's requests, broadcast or multicast, but only the replies that host sends or gets)` : 'no reply to anyone, which a mirror port that copies only broadcasts or a one-direction capture also gives'}: capture on the asking host, both directions, to be sure.`,
        });
      }
      return out;
    },
  }),
};

/** The same lookup, said of a flow to that address (one whose packets left before the host went away). */
export const neighbourUnanswered: FlowRule = {
  code: 'arp-unanswered',
  evaluate(f, ctx) {
    const l = ctx.neighboursUnanswered.get(f.serverIp);
    if (!l || !l.repliesSeen) return null;
    const { code, asked, requests } = lookupWords(l, f.serverIp);
    return {
      code,
      severity: 'error',
      summary: `${asked} never answered (${requests}, #${l.firstNo}..#${l.lastNo}): the host is not on the local ${l.protocol === 'arp' ? 'segment' : 'link'}`,
      packets: [l.firstNo, l.lastNo],
      facts: { ip: f.serverIp, requests: l.requests },
      hint: `The address is on the local subnet but no machine answers ${l.protocol === 'arp' ? 'ARP' : 'neighbour discovery'} for it: the host is down or disconnected, or the IP is wrong. Check the host, its address, and the client subnet mask.`,
    };
  },
};

/**
 * ICMP errors about connections the capture holds no TCP packet of: the error quotes the SYN's
 * addresses, ports and flags, so it tells which connect was answered, by whom and how, though the
 * capture saw only one direction (tcpdump -Q in) or started after the SYN. Errors from one host,
 * of one meaning, about one service are one verdict: a client retrying, or many clients, give
 * one answer.
 */
export const icmpAboutUnseenSyns: CaptureRule = {
  code: 'icmp-unreachable',
  start: () => ({
    observe() {},
    verdicts(_c, ctx: RuleContext): Verdict[] {
      const groups = new Map<string, IcmpAboutUnseenSyn[]>();
      for (const e of ctx.icmpAboutUnseenSyns ?? []) {
        const key = `${e.from} ${e.meaning} ${e.server} ${e.serverPort}`;
        const group = groups.get(key);
        if (group) group.push(e);
        else groups.set(key, [e]);
      }
      return [...groups.values()].map(unseenSynVerdict);
    },
  }),
};

function unseenSynVerdict(group: IcmpAboutUnseenSyn[]): Verdict {
  const e = group[0];
  const server = endpoint(e.server, e.serverPort);
  const who = e.from === e.server ? `${e.from}, the destination itself` : `${e.from}, a router or firewall on the path`;
  const errors = group.reduce((n, x) => n + x.count, 0);
  const lastNo = Math.max(...group.map((x) => x.lastNo));
  const first = endpoint(e.client, e.clientPort);
  const about =
    group.length === 1
      ? `about the connection ${first} -> ${server}${errors > 1 ? ` (${errors} errors about it, #${e.no}..#${lastNo})` : ''}: the error quotes its SYN`
      : `about ${group.length} connections to ${server} (${errors} errors, #${e.no}..#${lastNo}; the first from ${first}): the errors quote their SYNs`;
  return {
    code: 'icmp-unreachable',
    severity: 'error',
    summary: `ICMP ${e.meaning} from ${who} (#${e.no}), ${about}, which this capture does not hold (it sees one direction only, or began after the SYN)`,
    packets: errors > 1 ? [e.no, lastNo] : [e.no],
    facts: { type: e.type, code: e.code, meaning: e.meaning, from: e.from, count: errors, connections: group.length, client: first, server, synInCapture: false },
    hint: icmpHint(e.meaning, e.from, e.server),
  };
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
