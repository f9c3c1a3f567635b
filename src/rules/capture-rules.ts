import type { CaptureDrops } from '../capture/record.js';
import type { FlowFacts } from './facts.js';
import { bytesText, fmtDuration, grouped, ms, plural } from './format.js';
import type { RuleContext } from './rules.js';
import type { Verdict } from './verdict.js';
import { TCP_CAPTURE_RULES } from './tcp-rules.js';
import { scans } from './scan-rules.js';
import { proxyClientGaveUp } from './proxy-rules.js';
import { dnsFailures } from './dns-rules.js';
import { icmpAboutUnseenSyns, neighboursUnanswered } from './unreachable-rules.js';
import { oneStackAnswers } from './one-stack.js';

// Capture-level verdicts: facts about the whole capture rather than one flow.

export interface CaptureFacts {
  packets: number;
  truncatedPackets: number;
  /** Of those, stored shorter than the snap length too (see CaptureInfo). */
  truncatedBelowSnaplen: number;
  /** TCP packets whose payload the record cut (CaptureSummary). */
  payloadCutPackets: number;
  /** Records cut inside the TCP header (CaptureSummary). */
  headerCutPackets: number;
  snaplen: number;
  /** The capture filter the analysis applied (tcpwhy's own argument), or null, and the packets it left out. */
  captureFilter?: string | null;
  filtered?: number;
  /** The packets the capturing tool says it dropped, when the file says (CaptureSummary). */
  dropped?: CaptureDrops | null;
}

/**
 * What capture-level rules may read of a flow. FlowFacts has all of it; a rule that keeps a flow to
 * cite later keeps only this copy, since the flow itself is reported and freed as it ends.
 */
export interface FlowDigest {
  id: number;
  server: string;
  clientIp: string;
  clientPort: number;
  state: FlowFacts['state'];
  firstPacket?: number;
  history?: string;
  start: number;
  end: number;
  syns: FlowFacts['syns'];
  synAcks: FlowFacts['synAcks'];
  handshakeAck: FlowFacts['handshakeAck'];
  reusedAfter: FlowFacts['reusedAfter'];
  clientSide: Pick<FlowFacts['clientSide'], 'bytes' | 'rst'> & Partial<Pick<FlowFacts['clientSide'], 'copies' | 'packets' | 'synWindow' | 'seqBytes' | 'missedBytes'>>;
  serverSide: Pick<FlowFacts['serverSide'], 'rst' | 'packets'> & Partial<Pick<FlowFacts['serverSide'], 'copies' | 'bytes' | 'seqBytes' | 'missedBytes' | 'rstIpId' | 'rstTtl' | 'ttl'>>;
  serverIp?: string;
  serverPort?: number;
  icmp?: FlowFacts['icmp'];
  scan?: FlowFacts['scan'];
}

/** A copy of just what the capture rules read: a rule that keeps a flow to cite keeps this much of it. */
export function digestFlow(f: FlowDigest): FlowDigest {
  return {
    id: f.id,
    server: f.server,
    clientIp: f.clientIp,
    clientPort: f.clientPort,
    state: f.state,
    start: f.start,
    end: f.end,
    syns: f.syns,
    synAcks: f.synAcks,
    handshakeAck: f.handshakeAck,
    reusedAfter: f.reusedAfter,
    clientSide: { bytes: f.clientSide.bytes, rst: f.clientSide.rst },
    serverSide: { rst: f.serverSide.rst, packets: f.serverSide.packets },
  };
}

/**
 * A capture-level rule. Each analysis starts its own run, which sees every finished flow once (in
 * the order they finish) and keeps only bounded state: the few flows it may cite, and counters.
 * A capture of many GB therefore costs these rules no more memory than a short one.
 */
export interface CaptureRule {
  code: string;
  start(): CaptureRuleRun;
}

export interface CaptureRuleRun {
  observe(f: FlowDigest, ctx: RuleContext): void;
  verdicts(capture: CaptureFacts, ctx: RuleContext): Verdict[];
  /** Entries (flows, groups, counters) the run holds now: what its memory bound is about. */
  retained?(): number;
  /** An unanswered SYN attempt the memory budget counted instead of reporting as a flow. */
  countAttempt?(f: FlowDigest): void;
}

/** For rules that look only at the capture as a whole. */
function stateless(code: string, verdicts: CaptureRuleRun['verdicts']): CaptureRule {
  return { code, start: () => ({ observe() {}, verdicts }) };
}

const truncatedSnaplen = stateless('truncated-snaplen', (c) => {
  if (c.truncatedPackets === 0) return [];
  const atSnaplen = c.truncatedPackets - c.truncatedBelowSnaplen;
  const payloadCut = c.payloadCutPackets;
  const facts = { truncatedPackets: c.truncatedPackets, truncatedBelowSnaplen: c.truncatedBelowSnaplen, payloadCutPackets: payloadCut, snaplen: c.snaplen };
  const storedShort = `${plural(c.truncatedPackets, 'packet')} of ${c.packets} stored shorter than ${c.truncatedPackets === 1 ? 'its' : 'their'} length on the wire`;
  // A record cut inside the TCP header lost its flags, numbers and payload: nothing of it is read.
  if (c.headerCutPackets > 0) {
    return [
      {
        code: 'truncated-snaplen',
        severity: 'warning',
        summary: `${storedShort}; the TCP header of ${plural(c.headerCutPackets, 'packet')} is cut${c.snaplen ? ` (snap length ${c.snaplen} bytes)` : ''}, so ${c.headerCutPackets === 1 ? 'it' : 'they'} could not be analysed (counted as malformed)`,
        packets: [],
        facts: { ...facts, headerCutPackets: c.headerCutPackets },
        hint: 'The snap length is too small to hold the TCP header (20 to 60 bytes after the link and IP headers): the flags, sequence numbers and payload are not in the file, so no connection in it can be judged. Capture again with the full snap length (tcpdump -s 0, the default on current versions).',
      },
    ];
  }
  // Records short only of what lies past the IP packet (Ethernet padding, a trailer, the frame
  // check sequence) lost nothing tcpwhy reads; one too short to decode is counted as malformed.
  if (payloadCut === 0) {
    return [
      {
        code: 'truncated-snaplen',
        severity: 'info',
        summary: `${storedShort}, but no TCP payload is missing from ${c.truncatedPackets === 1 ? 'it' : 'them'} (what was left out is the payload of other traffic, or lies past the IP packet: padding, a trailer, the frame check sequence; a record too short to decode is counted as malformed)`,
        packets: [],
        facts,
        hint: 'Nothing to do for the TCP analysis: every TCP segment in these records is whole.',
      },
    ];
  }
  // A record stored shorter than its length on the wire but short of the snap length too was not
  // cut by the capture: a tool trimmed it afterwards, or the file is damaged there.
  if (atSnaplen === 0) {
    return [
      {
        code: 'truncated-snaplen',
        severity: 'warning',
        summary: `${storedShort} and than the file's snap length (${c.snaplen} bytes): cut by a smaller limit than the file says, trimmed after the capture, or damaged; ${plural(payloadCut, 'TCP packet')} lost payload, so payload analysis (HTTP, WebSocket) is partial`,
        packets: [],
        facts,
        hint: `The file's header allows ${c.snaplen} bytes a packet, but these records hold less: a capture with a smaller snap length than the header says, a tool that removed or anonymised payloads afterwards, or a damaged file. If the payloads matter, find a capture with whole packets (tcpdump -s 0).`,
      },
    ];
  }
  const below = c.truncatedBelowSnaplen > 0 ? `; ${c.truncatedBelowSnaplen} more stored shorter than the snap length (cut by a smaller limit, trimmed after the capture, or damaged)` : '';
  return [
    {
      code: 'truncated-snaplen',
      severity: 'warning',
      summary: `${plural(atSnaplen, 'packet')} of ${c.packets} cut by the snap length${c.snaplen ? ` (${c.snaplen} bytes)` : ''}: payload analysis (HTTP, WebSocket) is partial${below}`,
      packets: [],
      facts,
      hint: 'Capture again with the full snap length (tcpdump -s 0, the default on current versions) to see payloads whole.',
    },
  ];
});

/** Packets the capture holds twice, over all flows: one verdict about the capture point. */
const capturedTwice: CaptureRule = {
  code: 'captured-twice',
  start() {
    let copies = 0;
    let packets = 0;
    let flows = 0;
    let maxGap = 0;
    let first: { no: number; copyOf: number; ttlChange: number } | null = null;
    let routed = 0;
    return {
      observe(f) {
        packets += (f.clientSide.packets ?? 0) + f.serverSide.packets;
        const sides = [f.clientSide.copies, f.serverSide.copies];
        if (!sides[0] && !sides[1]) return;
        flows++;
        for (const c of sides) {
          if (!c) continue;
          copies += c.packets;
          maxGap = Math.max(maxGap, c.maxGapMicros);
          if (c.ttlChange < 0) routed++;
          if (!first || c.firstPacket < first.no) first = { no: c.firstPacket, copyOf: c.copyOf, ttlChange: c.ttlChange };
        }
      },
      verdicts() {
        if (!first) return [];
        const ttl = first.ttlChange < 0 ? `, the copy's TTL ${-first.ttlChange} lower: it crossed a router between the two capture points` : first.ttlChange === 0 ? ', TTL unchanged' : '';
        return [
          {
            code: 'captured-twice',
            severity: 'info',
            summary: `${copies} of ${packets} TCP packets in ${plural(flows, 'flow')} repeat the packet just before them header for header (same IP ID, sequence and ACK numbers; #${first.no} repeats #${first.copyOf}; ${maxGap === 0 ? 'each pair stamped with the same time' : `at most ${fmtDuration(maxGap)} apart`}${ttl}). They are copies, not retransmissions: the retransmission and SYN-retry verdicts leave them out`,
            packets: [first.copyOf, first.no],
            facts: { copies, packets, flows, maxGapMs: ms(maxGap), firstCopy: first.no, copyOf: first.copyOf, ttlChange: first.ttlChange, routedFlowSides: routed },
            hint: 'The capture point saw each of these packets twice: tcpdump -i any on a host where a bridge and its veth or VLAN ports carry the same packet (Docker and Kubernetes nodes), or a SPAN/mirror port fed from two ports the packet crosses (a lower TTL on the copy means a router sits between them). Capture on one interface (-i eth0, or the container\'s veth), or drop the copies with editcap -D 100 before reading the file with tools that take them for retransmissions.',
          },
        ];
      },
    };
  },
};

/** Ports told apart by the one-sided-capture rule: more than this many is no port filter. */
const FILTER_PORTS_NAMED = 3;

/** Up to one more port than a filter would name, each once. */
function addPort(ports: number[], port: number): void {
  if (ports.length <= FILTER_PORTS_NAMED && !ports.includes(port)) ports.push(port);
}

/** `dst port 22`, `src port 8008 or src port 8009`; null past FILTER_PORTS_NAMED ports. */
function filterOf(way: 'src' | 'dst', ports: number[]): string | null {
  return ports.length > FILTER_PORTS_NAMED ? null : ports.map((p) => `${way} port ${p}`).join(' or ');
}

/**
 * Which way the captured packets go, over all flows: flows with packets of the client alone, of the
 * server alone, or of both, and the ports of the one-sided ones. When every flow holds one way
 * alone and that way is to (or from) a few ports, a port filter may have made the capture.
 */
function directionTally() {
  const to = { serverPorts: [] as number[], clientPorts: [] as number[], flows: 0 };
  const from = { serverPorts: [] as number[], clientPorts: [] as number[], flows: 0 };
  let both = 0;
  return {
    observe(f: FlowDigest) {
      const c = f.clientSide.packets;
      const sv = f.serverSide.packets;
      if (c === undefined || f.serverPort === undefined) return;
      if (c > 0 && sv > 0) both++;
      else if (c > 0 || sv > 0) {
        const one = c > 0 ? to : from;
        one.flows++;
        addPort(one.serverPorts, f.serverPort);
        addPort(one.clientPorts, f.clientPort);
      }
    },
    /** The port filter every captured packet fits, naming the fewer ports of the two ways to write it; null when none does. */
    portFilter(): string | null {
      if (both > 0 || (to.flows > 0) === (from.flows > 0)) return null;
      // Packets to the servers' ports are packets from the clients' ports, and the other way round.
      const [one, serverWay, clientWay] = to.flows > 0 ? [to, 'dst', 'src'] as const : [from, 'src', 'dst'] as const;
      const byServer = filterOf(serverWay, one.serverPorts);
      const byClient = filterOf(clientWay, one.clientPorts);
      if (byServer === null || byClient === null) return byServer ?? byClient;
      return one.clientPorts.length < one.serverPorts.length ? byClient : byServer;
    },
  };
}

const isLoopback = (ip: string) => ip.startsWith('127.') || ip === '::1';

/** Hosts whose peers' packets the capture misses (rules/visibility.ts): one verdict about the capture point. */
const oneSidedCapture: CaptureRule = {
  code: 'one-sided-capture',
  start() {
    const tally = directionTally();
    return { observe: (f) => tally.observe(f), verdicts: (c, ctx) => oneSidedVerdicts(ctx, tally.portFilter(), (c.filtered ?? 0) > 0 ? (c.captureFilter ?? null) : null) };
  },
};

function oneSidedVerdicts(ctx: RuleContext, portFilter: string | null, appliedFilter: string | null): Verdict[] {
  const hosts = ctx.visibility?.oneSidedHosts() ?? [];
  if (hosts.length === 0) return [];
  const deaf = hosts.filter((h) => !ctx.visibility!.mayHaveReceived(h.ip));
  const flows = hosts.reduce((n, h) => n + h.flows, 0);
  const peers = hosts.reduce((n, h) => n + h.peerCount, 0);
  const capped = hosts.some((h) => h.peersCapped);
  const named = hosts.slice(0, 3).map((h) => `${h.ip} (from ${h.peers.slice(0, 4).join(', ')}${h.peerCount > 4 ? ` and ${h.peersCapped ? 'over ' : ''}${h.peerCount - 4} more` : ''})`);
  const first = hosts[0].first;
  const allDeaf = deaf.length === hosts.length;
  // Loopback traffic crosses one interface both ways: no route can have taken one way elsewhere.
  const loopback = hosts.every((h) => isLoopback(h.ip) && h.peers.every(isLoopback));
  // A host that received nothing at all points at a capture of one direction before a port filter.
  // The filter given to the analysis may have left out what the file holds.
  const cause = appliedFilter
    ? `the capture filter this analysis applied (\`${appliedFilter}\`) may have left the other direction out: the missing packets may be in the file`
    : allDeaf
    ? `the capture holds no TCP packet sent to ${deaf.length === 1 ? deaf[0].ip : `any of these ${deaf.length} hosts`}: only one direction was captured`
    : portFilter
      ? `every TCP packet the capture holds fits the filter \`${portFilter}\` and none goes the other way: a capture filter of that kind left out the answers`
      : loopback
        ? 'on loopback both directions cross the same interface, so a filter or a one-direction capture left the missing ones out'
        : 'the capture holds other packets sent to these hosts: the missing ones took a path it does not see, or a filter left them out';
  return [
    {
      code: 'one-sided-capture',
      severity: 'warning',
      summary: `${named.join(', ')}${hosts.length > 3 ? ` and ${hosts.length - 3} more hosts` : ''} acknowledged packets from ${capped ? 'over ' : ''}${plural(peers, 'peer')} that the capture does not hold (${plural(flows, 'flow')}; first proof #${first.packet} in flow ${first.flow}); ${cause}. Half-open, half-closed and idle-close are not said of those flows, nor no-response unless the server's own packets prove it, nor syn-timeout unless the client's own SYN back-off proves no answer reached it`,
      packets: hosts.slice(0, 20).map((h) => h.first.packet),
      facts: {
        hosts: hosts.slice(0, 100).map((h) => ({ ip: h.ip, peers: h.peers, peerCount: h.peerCount, peersCapped: h.peersCapped, flows: h.flows, firstFlow: h.first.flow, firstPacket: h.first.packet, receivedNothing: !ctx.visibility!.mayHaveReceived(h.ip) })),
        hostCount: hosts.length,
        flows,
        oneDirectionOnly: allDeaf,
        portFilter,
      },
      hint: appliedFilter
        ? `Run the analysis without the capture filter, or with one that keeps both directions (a port or host filter without src or dst), to see whether the file holds the other direction.`
        : portFilter && !allDeaf
        ? `Every packet captured goes one way, to or from the servers' ports, as \`tcpdump '${portFilter}'\` or a firewall or mirror rule matching one port direction captures: the answers coming the other way were never kept. Capture with a filter that names the port either way (\`${portFilter.replace(/\b(dst|src) port/g, 'port')}\`) to judge these conversations.`
        : allDeaf || loopback
        ? 'The capture was taken of one direction only: tcpdump -Q out (or -Q in, --direction), a filter naming only the source (src host ...), a SPAN or mirror session copying only TX or only RX, or a tap port for one direction. Capture both directions at one point (tcpdump -Q inout, the default; a SPAN of both directions) to judge these conversations.'
        : 'The packets of these peers take another path than the one captured: asymmetric routing (two uplinks, ECMP, a firewall cluster), a load balancer answering by direct server return, or a mirror of only some ports or VLANs. Capture where both directions pass (on the host itself, or a SPAN of every port of the path).',
    },
  ];
}

/** Missed bytes this share of the stream bytes or more make a warning: Zeek's capture-loss notice fires at 10%, and 1% already leaves verdicts guessing. */
const CAPTURE_LOSS_WARNING_SHARE = 0.01;

/**
 * Packets the capture did not keep, by either proof: bytes the hosts acknowledged that the file
 * does not hold (Zeek's missed_bytes, its capture_loss log), or the capturing tool's own count of
 * the packets it dropped, where the file records one (pcapng statistics). Said once for the
 * capture, since each flow's verdicts leave the missing packets out without saying so.
 */
const captureLoss: CaptureRule = {
  code: 'capture-loss',
  start() {
    let missed = 0;
    let streamBytes = 0;
    let flows = 0;
    let worst: { id: number; missed: number } | null = null;
    return {
      observe(f) {
        const m = (f.clientSide.missedBytes ?? 0) + (f.serverSide.missedBytes ?? 0);
        streamBytes += (f.clientSide.seqBytes ?? 0) + (f.serverSide.seqBytes ?? 0);
        if (m === 0) return;
        missed += m;
        flows++;
        if (!worst || m > worst.missed) worst = { id: f.id, missed: m };
      },
      verdicts(capture) {
        const dropped = capture.dropped?.packets ?? 0;
        // Payload cut by the snap length counts as missed too: truncated-snaplen tells that, and
        // what the capture dropped cannot be told apart from it.
        const missedSaid = missed > 0 && worst !== null && capture.payloadCutPackets === 0;
        if (!missedSaid && dropped === 0) return [];
        const share = missed / Math.max(missed, streamBytes);
        const percent = share >= 0.001 ? `${(share * 100).toFixed(1)}%` : 'under 0.1%';
        const missedText = missedSaid ? `the capture missed ${bytesText(missed)} the hosts acknowledged (${percent} of the TCP stream bytes) in ${plural(flows, 'flow')}, most in flow ${worst!.id} (${bytesText(worst!.missed)})` : '';
        const missedFacts = missedSaid ? { missedBytes: missed, streamBytes, share: Math.round(share * 10_000) / 10_000, flows, worstFlow: worst!.id, worstFlowMissedBytes: worst!.missed } : {};
        if (dropped > 0) {
          const d = capture.dropped!;
          return [
            {
              code: 'capture-loss',
              severity: 'warning',
              summary: `the capturing tool dropped ${grouped(dropped)} ${dropped === 1 ? 'packet' : 'packets'} by its own count, against ${grouped(capture.packets)} kept${missedSaid ? `, and ${missedText}` : ''}: an answer, an ACK or a close the capture lacks may have crossed the network all the same, so verdicts that rest on one never seen (no-response, syn-timeout, half-open, half-closed, slow or stalled handshakes) may be the capture's loss, not the hosts'`,
              packets: [],
              facts: { droppedPackets: dropped, droppedInStatistics: d.inStatistics, droppedBeforePackets: d.beforePackets, ...(d.firstAfterLoss > 0 ? { firstPacketAfterLoss: d.firstAfterLoss } : {}), dropCountFrom: d.source, ...missedFacts },
              hint:
                d.source === 'live'
                  ? "The kernel's buffer for this capture filled faster than tcpwhy read it (a burst, a busy machine), and libpcap counted the packets it dropped. Packets a capture drops are its copies, not the traffic: they most likely reached the hosts, so their absence proves little about them. Narrow the capture filter to the traffic of interest, lower the load, or capture to a file with a larger buffer (tcpdump -B or dumpcap -B, and a snap length that fits the headers, -s 128) and analyze the file; until then, read each verdict resting on a missing packet as a question for a fuller capture."
                  : 'The capturing tool could not keep up, and its count of the packets it dropped is in the file: its buffer filled (a burst, a slow disk, a busy machine, a reader paused). A capture that drops packets loses its copies, not the traffic: they most likely reached the hosts all the same, so their absence from the file proves little about them. Capture again with a larger buffer (dumpcap or tcpdump -B), a filter that keeps only the traffic of interest, a snap length that fits the headers (-s 128), to a local disk; until then, read each verdict resting on a missing packet as a question for a fuller capture.',
            },
          ];
        }
        return [
          {
            code: 'capture-loss',
            // One sequence number is a SYN or FIN the capture missed, not lost data.
            severity: share >= CAPTURE_LOSS_WARNING_SHARE && missed > 1 ? 'warning' : 'info',
            summary: `${missedText}: packets the network delivered but the capture did not keep`,
            packets: [],
            facts: missedFacts,
            hint: 'The hosts acknowledged bytes that are not in the file, so the capture, not the network, lost them: a capture buffer too small for the rate (tcpdump -B, "packets dropped by kernel" when it stops), a busy SPAN or mirror port, a tap that drops, or a file cut with editcap. Verdicts on those flows rest on what was kept, and payload analysis has gaps there. Capture again with a larger buffer, a filter that keeps only the traffic of interest, or a snap length that fits the headers.',
          },
        ];
      },
    };
  },
};

export const CAPTURE_RULES: CaptureRule[] = [oneSidedCapture, capturedTwice, truncatedSnaplen, captureLoss, oneStackAnswers, neighboursUnanswered, icmpAboutUnseenSyns, ...TCP_CAPTURE_RULES, scans, proxyClientGaveUp, dnsFailures];

/** One analysis's capture-level judgement: fed each flow as it finishes, asked for verdicts at the end. */
export class CaptureJudge {
  private readonly runs: CaptureRuleRun[];

  constructor(rules: CaptureRule[] = CAPTURE_RULES) {
    this.runs = rules.map((r) => r.start());
  }

  observe(f: FlowDigest, ctx: RuleContext): void {
    for (const r of this.runs) r.observe(f, ctx);
  }

  countAttempt(f: FlowDigest): void {
    for (const r of this.runs) r.countAttempt?.(f);
  }

  verdicts(capture: CaptureFacts, ctx: RuleContext): Verdict[] {
    return this.runs.flatMap((r) => r.verdicts(capture, ctx));
  }

  /** Entries held over all rules. */
  retained(): number {
    return this.runs.reduce((n, r) => n + (r.retained?.() ?? 0), 0);
  }
}

/** Judges a list of flows at once (tests, and callers that hold every flow anyway). */
export function judgeCapture(flows: FlowDigest[], capture: CaptureFacts, ctx: RuleContext, rules: CaptureRule[] = CAPTURE_RULES): Verdict[] {
  const judge = new CaptureJudge(rules);
  for (const f of flows) judge.observe(f, ctx);
  return judge.verdicts(capture, ctx);
}
