// DNS verdicts. Capture-level: lookups that failed in a way that explains a connection never made
// (dns-no-answer, dns-servfail, dns-nxdomain, dns-slow), one verdict per code listing the names.
// Per flow: a connection failure says where its server address came from, an answer in this
// capture or none although the client's lookups are in it (a hosts file, a configured address).

import type { CaptureRule } from './capture-rules.js';
import type { DnsFailureCode, DnsFailureGroup, DnsOrigin } from './dns-log.js';
import { DNS_SLOW_MICROS } from './dns-log.js';
import type { FlowFacts } from './facts.js';
import { fmtDuration, ms, plural } from './format.js';
import type { Verdict } from './verdict.js';

/** Names detailed in a verdict's facts; the summary names the first few. */
const LISTED_NAMES = 20;
const NAMED_IN_SUMMARY = 4;

const TYPE_NAME: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 64: 'SVCB', 65: 'HTTPS' };
const typeName = (t: number) => TYPE_NAME[t] ?? `TYPE${t}`;

const queryPackets = (g: DnsFailureGroup) =>
  g.queries === 0 ? 'query not captured' : g.firstQuery === g.lastQuery ? `query #${g.firstQuery}` : `${plural(g.queries, 'query', 'queries')} #${g.firstQuery}..#${g.lastQuery}`;

const HINT: Record<DnsFailureCode, string> = {
  'dns-no-answer':
    'No DNS server answered, so the application never learned an address and never connected. The servers are down or unreachable (routing, a firewall or security group blocking UDP and TCP port 53), or the client is configured with the wrong ones (/etc/resolv.conf, DHCP, the adapter\'s DNS settings). Test from the client with `dig @SERVER NAME` or `nslookup NAME SERVER`. A capture that holds only outgoing traffic would look the same, but a client that retried got nothing either.',
  'dns-servfail':
    'SERVFAIL is the resolver saying it could not get an answer: its forwarders or the zone\'s authoritative servers are unreachable from it, the delegation is broken (lame servers), or DNSSEC validation failed. Look at the resolver: its logs, its own connectivity upstream, and `dig @RESOLVER NAME +trace`.',
  'dns-nxdomain':
    'The name does not exist in DNS: a typo in the host name or URL, a record deleted or not created yet, a split-horizon zone answered by the wrong resolver, or a short name without the right search suffix (resolv.conf search list, the Windows DNS suffix list). Check the name with `dig NAME`.',
  'dns-slow': `The answer came more than ${fmtDuration(DNS_SLOW_MICROS)} after the first query: the resolver recursed to slow or unreachable servers, or a query was lost and retried after the resolver timeout (1 to 5 s). Every connection by name waits this long first. Check the resolver's upstream latency, loss on the path, and whether the first configured server answers at all.`,
};

const SEVERITY: Record<DnsFailureCode, (groups: DnsFailureGroup[]) => Verdict['severity']> = {
  // The client's own retries prove it got no answer. A single query may be an answer the capture
  // missed, or, when an ICMP error says its server is unreachable, one the client then asked of a
  // resolver the capture does not see.
  'dns-no-answer': (groups) => (groups.some((g) => g.retries > 0) ? 'error' : 'warning'),
  'dns-servfail': () => 'error',
  'dns-nxdomain': () => 'warning',
  'dns-slow': () => 'warning',
};

function describe(g: DnsFailureGroup): string {
  const what = `${g.name || '.'} (${typeName(g.type)}) from ${g.client}`;
  const servers = g.servers.join(', ');
  const lookups = g.lookups > 1 ? `, ${g.lookups} lookups` : '';
  switch (g.code) {
    case 'dns-no-answer':
      return `${what}, ${queryPackets(g)} to ${servers}${g.transport === 'tcp' ? ' over TCP' : ''}${g.queries > 1 ? ` over ${fmtDuration(g.lastTs - g.firstTs)}` : ''}${lookups}, no answer in the ${fmtDuration(g.delayMicros)} the capture went on${unreachableNote(g)}`;
    case 'dns-servfail':
    case 'dns-nxdomain':
    case 'dns-slow': {
      const after = g.queries > 0 ? ` ${fmtDuration(g.delayMicros)} after ${g.queries > 1 ? 'the first of ' : ''}${queryPackets(g)}${g.servers.length > 1 ? ` to ${g.servers.join(', ')}` : ''}` : '';
      return `${what}, answer #${g.answerPacket} from ${g.answeredBy}${after}${lookups}`;
    }
  }
}

/** "; ICMP port unreachable #7 from 10.0.0.53 (nothing listens on 10.0.0.53 port 53)" when an ICMP error answered a query. */
function unreachableNote(g: DnsFailureGroup): string {
  const u = g.unreachable;
  if (!u) return '';
  const port = /port unreachable/i.test(u.meaning);
  return `; ICMP ${u.meaning} #${u.no} from ${u.from} (${port ? `nothing listens on ${u.server} port 53` : `${u.server} cannot be reached`})`;
}

const HEADLINE: Record<DnsFailureCode, (n: number) => string> = {
  'dns-no-answer': (n) => `DNS ${n === 1 ? 'lookup' : 'lookups'} never answered`,
  'dns-servfail': (n) => `DNS SERVFAIL (the resolver could not resolve ${n === 1 ? 'a name' : `${n} names`}, and the client got no address for ${n === 1 ? 'it' : 'them'})`,
  'dns-nxdomain': (n) => `DNS NXDOMAIN (${n === 1 ? 'a name does' : `${n} names do`} not exist, and the client resolved no related name)`,
  'dns-slow': (n) => `DNS ${n === 1 ? 'answer' : 'answers'} slower than ${fmtDuration(DNS_SLOW_MICROS)}`,
};

function failureVerdict(code: DnsFailureCode, groups: DnsFailureGroup[], dropped: number): Verdict {
  const named = groups.slice(0, NAMED_IN_SUMMARY).map(describe).join('; ');
  const more = groups.length - NAMED_IN_SUMMARY + dropped;
  return {
    code,
    severity: SEVERITY[code](groups),
    summary: `${HEADLINE[code](groups.length + dropped)}: ${named}${more > 0 ? `; and ${plural(more, 'other name')}` : ''}`,
    packets: groups.slice(0, NAMED_IN_SUMMARY).flatMap((g) => [g.firstQuery, g.answerPacket, g.unreachable?.no ?? 0].filter((n) => n > 0)),
    facts: {
      names: groups.length + dropped,
      lookups: groups.slice(0, LISTED_NAMES).map((g) => ({
        client: g.client,
        name: g.name,
        type: typeName(g.type),
        lookups: g.lookups,
        queries: g.queries,
        retries: g.retries,
        servers: g.servers,
        transport: g.transport,
        firstQueryPacket: g.firstQuery || null,
        lastQueryPacket: g.lastQuery || null,
        answerPacket: g.answerPacket || null,
        answeredBy: g.answeredBy || null,
        [code === 'dns-no-answer' ? 'waitedMs' : 'answerMs']: ms(g.delayMicros),
        ...(g.unreachable ? { unreachable: g.unreachable } : {}),
      })),
    },
    hint: HINT[code],
  };
}

/** The DNS failures of the capture (RuleContext.dns), one verdict per code. */
export const dnsFailures: CaptureRule = {
  code: 'dns',
  start: () => ({
    observe() {},
    verdicts(_capture, ctx) {
      if (!ctx.dns) return [];
      const byCode = new Map<DnsFailureCode, DnsFailureGroup[]>();
      for (const g of ctx.dns.failures(ctx.captureEnd)) {
        const list = byCode.get(g.code);
        if (list) list.push(g);
        else byCode.set(g.code, [g]);
      }
      const out: Verdict[] = [];
      for (const code of ['dns-no-answer', 'dns-servfail', 'dns-nxdomain', 'dns-slow'] as const) {
        const groups = byCode.get(code);
        if (groups) out.push(failureVerdict(code, groups, ctx.dns.groupsDropped[code]));
      }
      return out;
    },
  }),
};

/** Verdicts about a connection that never worked: where its address came from matters to them. */
const CONNECTION_FAILURES = new Set(['refused', 'syn-timeout', 'syn-abandoned', 'icmp-unreachable', 'arp-unanswered', 'ndp-unanswered', 'unroutable-address']);

function originText(clientIp: string, serverIp: string, o: DnsOrigin): string {
  if (o.name === null) return `${serverIp} came from no DNS answer in this capture, though the client's DNS lookups are in it (from #${o.clientFirstQuery}): check hosts files and configuration`;
  const answer = `answer #${o.answerPacket} from ${o.resolver}${o.answeredTo !== clientIp ? ` to ${o.answeredTo}` : ''}, ${fmtDuration(o.msBeforeConnect * 1000)} before the first SYN`;
  const via = o.owner !== o.name ? ` (via ${o.owner})` : '';
  if (o.hint) return `${serverIp}, from the ${o.hint.record} record of ${o.owner}${o.owner !== o.name ? ` (asked as ${o.name})` : ''}, ${o.hint.key}, in ${answer}`;
  const t = o.targetOf;
  const named = t ? ` (${t.mode} target of the ${t.record} record of ${t.owner} in answer #${t.answerPacket})` : '';
  return `${serverIp}, resolved from ${o.name}${named}${via} in ${answer}`;
}

const NO_ANSWER_HINT =
  ' The address came from no DNS answer in this capture: look at the hosts file (/etc/hosts, C:\\Windows\\System32\\drivers\\etc\\hosts), the address configured in the application, an answer cached before the capture began, or DNS over HTTPS/TLS that a capture cannot read.';

/** Adds the DNS origin of the server address to the flow's connection-failure verdicts (in place). */
export function addDnsOrigin(f: FlowFacts, verdicts: Verdict[]): Verdict[] {
  const o = f.dns;
  if (!o) return verdicts;
  for (const v of verdicts) {
    // A connect the capture ended on before it could fail is one too.
    if (!CONNECTION_FAILURES.has(v.code) && !(v.code === 'capture-ended' && v.facts.unansweredSyns)) continue;
    v.summary += `; ${originText(f.clientIp, f.serverIp, o)}`;
    v.facts = { ...v.facts, dnsOrigin: o };
    if (o.name === null) v.hint += NO_ANSWER_HINT;
  }
  return verdicts;
}
