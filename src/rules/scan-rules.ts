import type { CaptureRule, FlowDigest } from './capture-rules.js';
import type { FlowFacts } from './facts.js';
import { fmtDuration, ms, plural } from './format.js';
import type { ScanMark } from './probe-log.js';
import type { FlowRule } from './rules.js';
import type { Verdict } from './verdict.js';

// Scans: a flow that was one probe of a port scan or an address sweep (see probe-log.ts) is said
// to be that, instead of a refused connection or a SYN timeout an application suffered; the
// capture gets one verdict per scan with what the scanner found open, closed and filtered.

/** A flow a scanner could have made: opened by a SYN, and not one payload byte either way. */
export function isProbeLike(f: FlowFacts): boolean {
  return f.syns.length > 0 && f.clientSide.bytes === 0 && f.serverSide.bytes === 0;
}

type PortState = 'open' | 'closed' | 'filtered';

/** What the probe found, as nmap would name it, and the packets that show it. */
function probeOutcome(f: FlowDigest): { state: PortState; evidence: string } {
  if (f.synAcks.length > 0) {
    const synAck = `SYN-ACK #${f.synAcks[0].no}`;
    const rst = f.clientSide.rst;
    if (f.handshakeAck) return { state: 'open', evidence: `${synAck}, handshake completed #${f.handshakeAck.no}${rst ? ` and reset by the scanner #${rst.no}` : ''}` };
    return { state: 'open', evidence: rst ? `${synAck}, reset by the scanner #${rst.no}` : `${synAck}, never completed by the scanner` };
  }
  if (f.serverSide.rst) return { state: 'closed', evidence: `RST #${f.serverSide.rst.no}` };
  const icmp = f.icmp?.[0];
  if (icmp) return { state: 'filtered', evidence: `ICMP ${icmp.meaning} #${icmp.no}` };
  return { state: 'filtered', evidence: `no answer to ${plural(f.syns.length, 'SYN')}` };
}

const scanTarget = (s: ScanMark) => (s.kind === 'port-scan' ? `a port scan of ${s.target}` : `a sweep of port ${s.target} across hosts`);
const probedCount = (s: ScanMark) => `${s.targets}${s.targets >= 64 ? '+' : ''} ${s.kind === 'port-scan' ? 'ports' : 'hosts'} probed`;

const SCAN_HINT =
  'A scan is reconnaissance, not an application failing to connect: its refused and unanswered connections are probes. If the scanner is yours (a vulnerability scanner, an inventory or monitoring job), nothing is wrong here. If not, find who runs it. Either way, check that every open port should be reachable from there, and that the filtered ones are what the firewall intends.';

/** The flow was a probe: said instead of refused, syn-timeout, half-open and the like (an exclusive rule). */
export const scanProbe: FlowRule = {
  code: 'scan-probe',
  exclusive: true,
  evaluate(f) {
    const s = f.scan;
    if (!s) return null;
    const { state, evidence } = probeOutcome(f);
    const syn = f.syns[0];
    return {
      code: 'scan-probe',
      severity: 'info',
      summary: `probe in ${scanTarget(s)} by ${s.scanner} (${probedCount(s)}): ${s.kind === 'port-scan' ? `port ${f.serverPort}` : f.serverIp} ${state} (${evidence})`,
      packets: [syn.no],
      facts: { scanner: s.scanner, kind: s.kind, target: s.target, probedSoFar: s.targets, port: f.serverPort, host: f.serverIp, state },
      hint: SCAN_HINT,
    };
  },
};

/** Most scans reported separately; probes of more are counted as such. */
const MAX_SCANS = 256;
/** Ports or hosts whose state is kept, over all scans (a port scan has at most 65,535). */
const MAX_TARGETS_TOTAL = 1_000_000;
/** Open ports (or answering hosts) listed per scan. */
const MAX_LISTED_OPEN = 50;
/** Source ports told apart per scan: enough to see a scanner sending from one or two. */
const MAX_SOURCE_PORTS = 64;

const RANK: Record<PortState, number> = { filtered: 0, closed: 1, open: 2 };

interface Scan {
  mark: ScanMark;
  /** Each port (port scan) or host (sweep) probed, with the best answer any probe of it got. */
  states: Map<string | number, PortState>;
  probes: number;
  /** Probes of targets past the state budget: counted, not told apart. */
  untracked: number;
  sourcePorts: Set<number>;
  /** Probes of open ports whose handshake the scanner completed (a connect scan does). */
  completed: number;
  openProbes: number;
  firstTs: number;
  lastTs: number;
  cited: number[];
}

/** One verdict per scan: how much was probed, and what was found open, closed and filtered. */
export const scans: CaptureRule = {
  code: 'scan',
  start() {
    const byKey = new Map<string, Scan>();
    let tracked = 0;
    let unlisted = 0;
    return {
      observe(f) {
        const m = f.scan;
        if (!m) return;
        const key = `${m.kind} ${m.scanner} ${m.target}`;
        let s = byKey.get(key);
        if (!s) {
          if (byKey.size >= MAX_SCANS) {
            unlisted++;
            return;
          }
          s = { mark: m, states: new Map(), probes: 0, untracked: 0, sourcePorts: new Set(), completed: 0, openProbes: 0, firstTs: Infinity, lastTs: -Infinity, cited: [] };
          byKey.set(key, s);
        }
        const syn = f.syns[0];
        const target = m.kind === 'port-scan' ? f.serverPort! : f.serverIp!;
        const { state } = probeOutcome(f);
        s.probes++;
        const known = s.states.get(target);
        if (known === undefined) {
          if (tracked < MAX_TARGETS_TOTAL) {
            s.states.set(target, state);
            tracked++;
          } else s.untracked++;
        } else if (RANK[state] > RANK[known]) s.states.set(target, state);
        if (state === 'open') {
          s.openProbes++;
          if (f.handshakeAck) s.completed++;
        }
        if (s.sourcePorts.size < MAX_SOURCE_PORTS) s.sourcePorts.add(f.clientPort);
        s.firstTs = Math.min(s.firstTs, syn.ts);
        s.lastTs = Math.max(s.lastTs, syn.ts);
        keepFirst(s.cited, syn.no);
      },
      retained: () => byKey.size + tracked,
      verdicts() {
        const out: Verdict[] = [];
        for (const s of byKey.values()) out.push(scanVerdict(s));
        if (unlisted > 0 && out.length > 0) out[out.length - 1].summary += `; ${plural(unlisted, 'more probe')} of other scans not itemised`;
        return out;
      },
    };
  },
};

/** The 20 smallest packet numbers, ascending, whatever order the flows end in. */
function keepFirst(list: number[], no: number): void {
  if (list.length >= 20 && no >= list[list.length - 1]) return;
  let i = list.length;
  while (i > 0 && list[i - 1] > no) i--;
  list.splice(i, 0, no);
  if (list.length > 20) list.pop();
}

function scanVerdict(s: Scan): Verdict {
  const m = s.mark;
  const port = m.kind === 'port-scan';
  const counts: Record<PortState, number> = { open: 0, closed: 0, filtered: 0 };
  const open: Array<string | number> = [];
  for (const [target, state] of s.states) {
    counts[state]++;
    if (state === 'open') open.push(target);
  }
  open.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), 'en', { numeric: true })));
  const listed = open.slice(0, MAX_LISTED_OPEN);
  const openList = listed.length ? ` (${listed.join(', ')}${open.length > listed.length ? ', …' : ''})` : '';
  const probed = s.states.size + s.untracked;
  // nmap -sS sends raw SYNs from one source port (another for retries) and never completes a
  // handshake; a connect scan uses a new kernel-chosen port per probe and completes every open one.
  let style = '';
  if (s.probes >= 10 && s.sourcePorts.size * 10 <= s.probes) style = `; raw SYN probes from ${plural(s.sourcePorts.size, 'source port')}${s.openProbes > 0 && s.completed === 0 ? ', no handshake completed' : ''} (a SYN scan, as nmap -sS sends)`;
  else if (s.openProbes > 0 && s.completed === s.openProbes) style = '; every open port connected to and dropped at once (a connect scan, as nmap -sT makes)';
  const what = port ? `${plural(probed, 'port')} of ${m.target}` : `port ${m.target} on ${plural(probed, 'host')}`;
  const untracked = s.untracked ? `, ${s.untracked} more not told apart` : '';
  return {
    code: port ? 'port-scan' : 'address-scan',
    severity: 'warning',
    summary: `${port ? 'port scan' : 'address sweep'}: ${m.scanner} probed ${what} in ${fmtDuration(s.lastTs - s.firstTs)} (${plural(s.probes, 'probe')}): ${counts.open} open${openList}, ${counts.closed} closed (RST), ${counts.filtered} filtered (no answer)${untracked}${style}`,
    packets: s.cited,
    facts: {
      scanner: m.scanner,
      kind: m.kind,
      target: m.target,
      probed,
      probes: s.probes,
      open: counts.open,
      closed: counts.closed,
      filtered: counts.filtered,
      openTargets: listed,
      sourcePorts: s.sourcePorts.size,
      durationMs: ms(s.lastTs - s.firstTs),
    },
    hint: SCAN_HINT,
  };
}
