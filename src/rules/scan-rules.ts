import type { CaptureRule, FlowDigest } from './capture-rules.js';
import type { FlowFacts } from './facts.js';
import { fmtDuration, ms, plural } from './format.js';
import { CRAFTED_NAMES, networkOf, type ScanMark } from './probe-log.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';
import type { Verdict } from './verdict.js';
import { EARLIER_DISTRIBUTED_WINDOW_MICROS, EARLIER_WINDOW_MICROS, MAX_EARLIER_PROBES, MAX_EARLIER_PROBES_PER_HOST } from './probe-hold.js';

// Scans: a flow that was one probe of a port scan, an address sweep, an OS fingerprint or a
// distributed scan (see probe-log.ts) is said to be that, instead of a refused connection or a SYN
// timeout an application suffered; the capture gets one verdict per scan with what the scanner
// found open, closed and filtered.

/**
 * A flow a scanner could have made: not one payload byte either way, and opened by a SYN or by
 * the client (a crafted NULL, FIN or ACK probe; probe-log.ts takes those only beside crafted packets).
 */
export function isProbeLike(f: FlowFacts): boolean {
  return f.clientSide.bytes === 0 && f.serverSide.bytes === 0 && (f.syns.length > 0 || f.synAcks.length === 0);
}

/** The packet that opened the probe. */
const firstProbePacket = (f: FlowDigest): { no: number; ts: number } => f.syns[0] ?? { no: f.firstPacket ?? 0, ts: f.start };

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
  // A SYN+FIN probe (history Q) counts as a SYN in the flow; it is said as what it was.
  if (f.history?.includes('Q')) return { state: 'filtered', evidence: `no answer to ${plural(f.syns.length, 'SYN+FIN probe')}` };
  return { state: 'filtered', evidence: f.syns.length > 0 ? `no answer to ${plural(f.syns.length, 'SYN')}` : 'no answer' };
}

const upTo64 = (n: number) => `${n}${n >= 64 ? '+' : ''}`;

function scanTarget(s: ScanMark): string {
  switch (s.kind) {
    case 'port-scan':
      return `a port scan of ${s.target} by ${s.scanner} (${upTo64(s.targets)} ports probed)`;
    case 'address-scan':
      return `a sweep of port ${s.target} across hosts by ${s.scanner} (${upTo64(s.targets)} hosts probed)`;
    case 'os-fingerprint':
      return `OS fingerprinting of ${s.target} by ${s.scanner}`;
    case 'syn-flood':
      return `a SYN flood against ${s.target} from ${s.scanner} (${s.attempts} SYNs so far)`;
    case 'distributed-scan':
      return `a distributed scan of ${s.target}, here from ${s.scanner} (${upTo64(s.sources ?? 0)} sources on ${upTo64(s.networks ?? 0)} networks, ${upTo64(s.targets)} ports so far)`;
  }
}

const SCAN_HINT =
  'A scan is reconnaissance, not an application failing to connect: its refused and unanswered connections are probes. If the scanner is yours (a vulnerability scanner, an inventory or monitoring job), nothing is wrong here. If not, find who runs it. Either way, check that every open port should be reachable from there, and that the filtered ones are what the firewall intends.';

/** The flow was a probe: said instead of refused, syn-timeout, half-open and the like (an exclusive rule). */
export const scanProbe: FlowRule = {
  code: 'scan-probe',
  needs: SHOWS.SCAN,
  exclusive: true,
  evaluate(f) {
    const s = f.scan;
    if (!s) return null;
    const { state, evidence } = probeOutcome(f);
    const first = firstProbePacket(f);
    if (s.kind === 'syn-flood') {
      const answer = f.synAcks.length > 0 ? `SYN-ACK #${f.synAcks[0].no}, never completed` : f.serverSide.rst ? `RST #${f.serverSide.rst.no}` : 'no answer';
      return {
        code: 'scan-probe',
        severity: 'info',
        summary: `one SYN of ${scanTarget(s)}: ${answer}`,
        packets: [first.no],
        facts: { scanner: s.scanner, kind: s.kind, target: s.target, synsSoFar: s.attempts },
        hint: 'See the capture-level syn-flood verdict.',
      };
    }
    const what = s.kind === 'address-scan' ? f.serverIp : `port ${f.serverPort}`;
    // A fingerprint probe's answer says how the system reacts, not whether the port is open.
    const found = s.kind === 'os-fingerprint' && state !== 'open' ? (state === 'closed' ? `answered ${evidence}` : evidence) : `${state} (${evidence})`;
    return {
      code: 'scan-probe',
      severity: 'info',
      summary: `probe in ${scanTarget(s)}: ${what} ${found}`,
      packets: [first.no],
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
/** Sources (and their networks) told apart per distributed scan. */
const MAX_SOURCES = 4_096;
/** Keys (client and host, or target host) whose earlier probes are remembered. */
const MAX_EARLIER_KEYS = 16_384;
/** SYN probes with a window this small come from a packet crafter: TCP stacks offer kilobytes. */
const TINY_SYN_WINDOW = 1024;

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
  /** Probes that ended before the scan showed, and how many of them were let go of (counted, not held: they keep their own verdicts). */
  earlier: number;
  earlierLetGo: number;
  /** Distributed scans: the sources and their networks. */
  sources: Set<string>;
  networks: Set<number | string>;
  /** OS fingerprints: crafted packets by kind (the fullest count any probe saw), SYN probes and their windows. */
  crafted: number[];
  synProbes: number;
  tinyWindows: number[];
}

/** A probe that ended before anything showed it was one. */
interface EarlierProbe {
  clientIp: string;
  clientPort: number;
  port: number;
  state: PortState;
  completed: boolean;
  no: number;
  ts: number;
}

const STATES: readonly PortState[] = ['open', 'closed', 'filtered'];
/** Numbers per probe in EarlierProbes: its first packet's time and number, the client's port, the port probed, and the outcome (state index, + 4 when the handshake completed). */
const PROBE_NUMBERS = 5;

/**
 * The last probes of a client and host (MAX_EARLIER_PROBES), or to a host
 * (MAX_EARLIER_PROBES_PER_HOST), and how many older ones were let go. Up to a million probes wait
 * here at once (16,384 lists of up to 64), so each is five numbers in one array rather than an
 * object with a boxed time; the client's address is kept only by lists of a host, whose probes
 * come from many clients (a pair's is in its key).
 */
class EarlierProbes {
  private readonly numbers: number[] = [];
  private readonly clientIps: string[] | null;
  dropped = 0;

  constructor(byHost: boolean) {
    this.clientIps = byHost ? [] : null;
  }

  get length(): number {
    return this.numbers.length / PROBE_NUMBERS;
  }

  get lastTs(): number {
    return this.numbers[this.numbers.length - PROBE_NUMBERS];
  }

  /** Adds `p` as the newest; past `cap` probes the oldest is let go of and counted. */
  add(p: EarlierProbe, cap: number): void {
    if (this.length >= cap) {
      this.numbers.splice(0, PROBE_NUMBERS);
      this.clientIps?.shift();
      this.dropped++;
    }
    this.numbers.push(p.ts, p.no, p.clientPort, p.port, STATES.indexOf(p.state) + (p.completed ? 4 : 0));
    this.clientIps?.push(p.clientIp);
  }

  /** The probes from `since` on, oldest first; `clientIp` names the client of a pair's probes. */
  since(since: number, clientIp: string): EarlierProbe[] {
    const out: EarlierProbe[] = [];
    for (let i = 0; i < this.length; i++) {
      const at = i * PROBE_NUMBERS;
      const ts = this.numbers[at];
      if (ts < since) continue;
      const outcome = this.numbers[at + 4];
      out.push({ ts, no: this.numbers[at + 1], clientPort: this.numbers[at + 2], port: this.numbers[at + 3], state: STATES[outcome & 3], completed: outcome >= 4, clientIp: this.clientIps?.[i] ?? clientIp });
    }
    return out;
  }
}

/** One verdict per scan: how much was probed, and what was found open, closed and filtered. */
export const scans: CaptureRule = {
  code: 'scan',
  start() {
    const byKey = new Map<string, Scan>();
    // Probe-like flows no scan claimed, by client and host and by target host: a scan that shows
    // later counts them (their own verdicts were given as they ended).
    const earlierByPair = new Map<string, EarlierProbes>();
    const earlierByHost = new Map<string, EarlierProbes>();
    const nextPrune = new Map<Map<string, EarlierProbes>, number>();
    let tracked = 0;
    let unlisted = 0;
    const remember = (map: Map<string, EarlierProbes>, key: string, p: EarlierProbe, window: number, cap: number) => {
      let e = map.get(key);
      if (!e) {
        // Full: let go of what no scan can count any more, at most once per sixteenth of the window.
        if (map.size >= MAX_EARLIER_KEYS && p.ts >= (nextPrune.get(map) ?? -Infinity)) {
          for (const [k, v] of map) if (v.lastTs < p.ts - window) map.delete(k);
          nextPrune.set(map, p.ts + window / 16);
        }
        if (map.size >= MAX_EARLIER_KEYS) return;
        map.set(key, (e = new EarlierProbes(map === earlierByHost)));
      }
      e.add(p, cap);
    };
    const count = (s: Scan, p: { clientIp: string; clientPort: number; port: number; ip: string; state: PortState; completed: boolean; no: number; ts: number }) => {
      const m = s.mark;
      const target = m.kind === 'address-scan' ? p.ip : p.port;
      s.probes++;
      const known = s.states.get(target);
      if (known === undefined) {
        if (tracked < MAX_TARGETS_TOTAL) {
          s.states.set(target, p.state);
          tracked++;
        } else s.untracked++;
      } else if (RANK[p.state] > RANK[known]) s.states.set(target, p.state);
      if (p.state === 'open') {
        s.openProbes++;
        if (p.completed) s.completed++;
      }
      if (s.sourcePorts.size < MAX_SOURCE_PORTS) s.sourcePorts.add(p.clientPort);
      if (s.sources.size < MAX_SOURCES) {
        s.sources.add(p.clientIp);
        s.networks.add(networkOf(p.clientIp));
      }
      s.firstTs = Math.min(s.firstTs, p.ts);
      s.lastTs = Math.max(s.lastTs, p.ts);
      keepFirst(s.cited, p.no);
    };
    return {
      observe(f) {
        // A flood's SYNs are summed by the syn-flood rule.
        if (f.scan?.kind === 'syn-flood') return;
        const m = f.scan;
        // Most flows are neither: nothing is built for them.
        if (!m && !isDigestProbeLike(f)) return;
        const first = firstProbePacket(f);
        const { state } = probeOutcome(f);
        const probe = { clientIp: f.clientIp, clientPort: f.clientPort, port: f.serverPort!, ip: f.serverIp!, state, completed: f.handshakeAck !== null, no: first.no, ts: first.ts };
        if (!m) {
          // Only what could have been a probe: no payload, opened by the client.
          remember(earlierByPair, `${f.clientIp} ${f.serverIp}`, probe, EARLIER_WINDOW_MICROS, MAX_EARLIER_PROBES);
          if (f.synAcks.length === 0) remember(earlierByHost, f.serverIp!, probe, EARLIER_DISTRIBUTED_WINDOW_MICROS, MAX_EARLIER_PROBES_PER_HOST);
          return;
        }
        const key = m.kind === 'distributed-scan' ? `${m.kind} ${m.target}` : `${m.kind} ${m.scanner} ${m.target}`;
        let s = byKey.get(key);
        if (!s) {
          if (byKey.size >= MAX_SCANS) {
            unlisted++;
            return;
          }
          s = { mark: m, states: new Map(), probes: 0, untracked: 0, sourcePorts: new Set(), completed: 0, openProbes: 0, firstTs: Infinity, lastTs: -Infinity, cited: [], earlier: 0, earlierLetGo: 0, sources: new Set(), networks: new Set(), crafted: [0, 0, 0, 0, 0], synProbes: 0, tinyWindows: [] };
          byKey.set(key, s);
        }
        if (m.crafted && sum(m.crafted.counts) > sum(s.crafted)) s.crafted = m.crafted.counts;
        if (m.kind === 'os-fingerprint' && f.syns.length > 0 && !f.history?.includes('Q')) {
          s.synProbes++;
          const w = f.clientSide.synWindow;
          if (w !== undefined && w !== null && w < TINY_SYN_WINDOW && s.tinyWindows.length < 16) s.tinyWindows.push(w);
        }
        // Probes of the same scanner (or, distributed, of the same target) that ended before the scan showed.
        const earlier = m.kind === 'distributed-scan' ? earlierByHost.get(m.target) : m.kind === 'address-scan' ? undefined : earlierByPair.get(`${m.scanner} ${m.target}`);
        if (earlier) {
          const window = m.kind === 'distributed-scan' ? EARLIER_DISTRIBUTED_WINDOW_MICROS : EARLIER_WINDOW_MICROS;
          const inWindow = earlier.since(first.ts - window, m.scanner);
          for (const p of inWindow) count(s, { ...p, ip: m.target });
          // Older probes let go of are counted, not told apart, when the window still reaches them.
          const dropped = inWindow.length === earlier.length ? earlier.dropped : 0;
          s.probes += dropped;
          s.earlier += inWindow.length + dropped;
          s.earlierLetGo += dropped;
          if (m.kind === 'distributed-scan') earlierByHost.delete(m.target);
          else earlierByPair.delete(`${m.scanner} ${m.target}`);
        }
        count(s, probe);
      },
      retained: () => byKey.size + tracked + earlierByPair.size + earlierByHost.size,
      verdicts(_capture, ctx) {
        const out: Verdict[] = [];
        const held = ctx.probesHeld === true;
        for (const s of byKey.values()) {
          if (s.mark.kind === 'os-fingerprint') out.push(fingerprintVerdict(s, held));
          else if (s.mark.kind === 'distributed-scan') out.push(distributedVerdict(s, held));
          else out.push(scanVerdict(s, held));
        }
        if (unlisted > 0 && out.length > 0) out[out.length - 1].summary += `; ${plural(unlisted, 'more probe')} of other scans not itemised`;
        return out;
      },
    };
  },
};

function isDigestProbeLike(f: FlowDigest): boolean {
  return f.clientSide.bytes === 0 && (f.serverSide.bytes ?? 0) === 0 && (f.syns.length > 0 || f.synAcks.length === 0);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The 20 smallest packet numbers, ascending, whatever order the flows end in. */
function keepFirst(list: number[], no: number): void {
  if (list.length >= 20 && no >= list[list.length - 1]) return;
  let i = list.length;
  while (i > 0 && list[i - 1] > no) i--;
  list.splice(i, 0, no);
  if (list.length > 20) list.pop();
}

function countStates(s: Scan): { counts: Record<PortState, number>; open: Array<string | number> } {
  const counts: Record<PortState, number> = { open: 0, closed: 0, filtered: 0 };
  const open: Array<string | number> = [];
  for (const [target, state] of s.states) {
    counts[state]++;
    if (state === 'open') open.push(target);
  }
  open.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), 'en', { numeric: true })));
  return { counts, open };
}

/**
 * Probes that ended before the scan showed: said as its probes when they were held back for it
 * (`held`, probe-hold.ts), else, and when let go of, judged on their own.
 */
function earlierNote(s: Scan, held: boolean): string {
  const kept = held ? s.earlierLetGo : s.earlier;
  const claimed = s.earlier - kept;
  const ownVerdicts = (n: number) => `${n === 1 ? 'keeps its' : 'keep their'} own verdict${n === 1 ? '' : 's'}`;
  return `${claimed > 0 ? `; ${plural(claimed, 'probe')} ended before the scan showed and ${claimed === 1 ? 'is' : 'are'} said as its probes` : ''}${kept > 0 ? `; ${plural(kept, 'probe')} ${held ? 'older still ' : ''}ended before the scan showed and ${ownVerdicts(kept)}` : ''}`;
}

function scanVerdict(s: Scan, held: boolean): Verdict {
  const m = s.mark;
  const port = m.kind === 'port-scan';
  const { counts, open } = countStates(s);
  const listed = open.slice(0, MAX_LISTED_OPEN);
  const openList = listed.length ? ` (${listed.join(', ')}${open.length > listed.length ? ', …' : ''})` : '';
  const probed = s.states.size + s.untracked;
  // nmap -sS sends raw SYNs from one source port (another for retries) and never completes a
  // handshake; a connect scan uses a new kernel-chosen port per probe and completes every open one.
  let style = '';
  if (s.probes >= 10 && s.sourcePorts.size * 10 <= s.probes) style = `; raw SYN probes from ${plural(s.sourcePorts.size, 'source port')}${s.openProbes > 0 && s.completed === 0 ? ', no handshake completed' : ''} (a SYN scan, as nmap -sS sends)`;
  else if (s.openProbes > 0 && s.completed === s.openProbes) style = '; every open port connected to and dropped at once (a connect scan, as nmap -sT makes)';
  const crafted = craftedList(s.crafted);
  if (crafted) style += `; crafted probes no TCP stack sends: ${crafted}`;
  const what = port ? `${plural(probed, 'port')} of ${m.target}` : `port ${m.target} on ${plural(probed, 'host')}`;
  const untracked = s.untracked ? `, ${s.untracked} more not told apart` : '';
  return {
    code: port ? 'port-scan' : 'address-scan',
    severity: 'warning',
    summary: `${m.scanner} probed ${what} in ${fmtDuration(s.lastTs - s.firstTs)} (${plural(s.probes, 'probe')}): ${counts.open} open${openList}, ${counts.closed} closed (RST), ${counts.filtered} filtered (no answer)${untracked}${style}${earlierNote(s, held)}`,
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
      craftedProbes: sum(s.crafted),
      probesBeforeItShowed: s.earlier,
    },
    hint: SCAN_HINT,
  };
}

/** "NULL (no flags) ×4, SYN+FIN ×4": the crafted packets by kind. */
function craftedList(counts: number[]): string {
  return counts
    .map((n, kind) => (n > 0 ? `${CRAFTED_NAMES[kind]} ×${n}` : ''))
    .filter(Boolean)
    .join(', ');
}

const FINGERPRINT_HINT =
  'Active OS detection (nmap -O, or a vulnerability scanner doing the same) sends a fixed set of odd packets, SYNs with unusual windows and options, NULL, SYN+FIN+PSH+URG, bare ACK and FIN+PSH+URG probes to an open and a closed port, and reads the operating system from how the target answers. The unanswered and half-open connections are its probes, not failures. If the prober is not yours, find who runs it; a stateful firewall in front of the host drops most of these probes.';

function fingerprintVerdict(s: Scan, held: boolean): Verdict {
  const m = s.mark;
  const { counts, open } = countStates(s);
  const ports = [...s.states.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(([p, st]) => `${p} (${st === 'filtered' ? 'no answer' : st})`);
  const crafted = craftedList(s.crafted);
  const syns = s.synProbes ? `${plural(s.synProbes, 'SYN probe')}${s.tinyWindows.length ? ` (${s.tinyWindows.length} with windows of ${s.tinyWindows.join(', ')} bytes, which no TCP stack offers)` : ''}` : '';
  const kinds = [syns, crafted ? `crafted packets no TCP stack sends: ${crafted}` : ''].filter(Boolean).join('; ');
  return {
    code: 'os-fingerprint',
    severity: 'warning',
    summary: `${m.scanner} probed ${m.target} with ${plural(s.probes, 'TCP probe')} in ${fmtDuration(s.lastTs - s.firstTs)} to port${s.states.size === 1 ? '' : 's'} ${ports.join(', ')}: ${kinds} (nmap's OS detection, -O, sends this set)${earlierNote(s, held)}`,
    packets: s.cited,
    facts: {
      scanner: m.scanner,
      target: m.target,
      probes: s.probes,
      ports: [...s.states.keys()],
      open: counts.open,
      openTargets: open,
      synProbes: s.synProbes,
      tinySynWindows: s.tinyWindows,
      craftedProbes: Object.fromEntries(s.crafted.map((n, kind) => [CRAFTED_NAMES[kind], n]).filter(([, n]) => Number(n) > 0)),
      durationMs: ms(s.lastTs - s.firstTs),
    },
    hint: FINGERPRINT_HINT,
  };
}

const DISTRIBUTED_HINT =
  'Many unrelated sources each tried a few ports of this host and were refused or ignored: internet background scanning, or worms looking for backdoors and vulnerable services (the ports they try name the worm or the service they hunt). Nothing on this host is failing. Check that the ports they reached are closed or filtered on purpose, and that nothing answers on the ones the worms hunt.';

function distributedVerdict(s: Scan, held: boolean): Verdict {
  const m = s.mark;
  const { counts, open } = countStates(s);
  const ports = [...s.states.keys()].map(Number).sort((a, b) => a - b);
  const listed = ports.slice(0, MAX_LISTED_OPEN);
  const sources = `${s.sources.size}${s.sources.size >= MAX_SOURCES ? '+' : ''}`;
  return {
    code: 'distributed-scan',
    severity: 'warning',
    summary: `${sources} sources on ${s.networks.size} networks probed ${plural(ports.length, 'port')} of ${m.target} in ${fmtDuration(s.lastTs - s.firstTs)} (${plural(s.probes, 'probe')}; ports ${listed.join(', ')}${ports.length > listed.length ? ', …' : ''}): ${counts.open} open${open.length ? ` (${open.slice(0, MAX_LISTED_OPEN).join(', ')})` : ''}, ${counts.closed} closed (RST), ${counts.filtered} filtered (no answer)${earlierNote(s, held)}`,
    packets: s.cited,
    facts: {
      target: m.target,
      sources: s.sources.size,
      networks: s.networks.size,
      ports: listed,
      probes: s.probes,
      open: counts.open,
      closed: counts.closed,
      filtered: counts.filtered,
      openTargets: open.slice(0, MAX_LISTED_OPEN),
      durationMs: ms(s.lastTs - s.firstTs),
      probesBeforeItShowed: s.earlier,
    },
    hint: DISTRIBUTED_HINT,
  };
}
