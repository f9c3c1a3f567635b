import { SEVERITY, type Severity, type Verdict } from '../rules/verdict.js';

// Problem groups: the flows' warnings and errors gathered by verdict code and the endpoint the code
// concerns, plus one group per capture-level verdict. "9 connections to 203.0.113.94:80 timed out"
// is one group, not nine flows. A grouper keeps counts and a few flow ids per group, never the flows,
// so a capture of any size can be grouped as its flows end.

/** What a group's endpoint is: the server (address:port), the client (address), a listener, a host, or the capture itself. */
export type EndpointRole = 'server' | 'client' | 'listener' | 'host' | 'capture';

export interface ProblemGroup {
  /** Identifies the group within one capture: code and endpoint (and scanner, for scans). */
  key: string;
  code: string;
  /** The group's highest severity. */
  severity: Severity;
  role: EndpointRole;
  /** 'address:port', 'address', or '' for the capture as a whole. */
  endpoint: string;
  /** Flows in the group (for a capture-level verdict: the flows it counts or the probes marked as its). */
  flows: number;
  /** Earliest flow start and latest flow end in the group (µs since the epoch, as FlowFacts.start), or null when no flow is known. */
  firstTime: number | null;
  lastTime: number | null;
  /** The lowest flow ids of the group, ascending (at most MAX_GROUP_FLOW_IDS). */
  flowIds: number[];
  /** One sentence: "9 connections to 203.0.113.94:80 timed out (SYN retries, no answer)"; a capture-level verdict's summary. */
  title: string;
  /** The likely cause and the fix, once for the group (of its lowest flow id), '' when the code has none. */
  hint: string;
  /** The flow whose hint `hint` is, when the group's flows were given different hints (details of their own), else null. */
  hintFlow: number | null;
  /** The capture-level verdict the group stands for, or null for a group of flow verdicts. */
  verdict: Verdict | null;
  /**
   * Other codes said of exactly the same flows at the same endpoint (an unroutable-address beside
   * the syn-timeouts it explains), each with its hint: one group, not two of the same flows.
   */
  also: Array<{ code: string; severity: Severity; hint: string }>;
}

/** The part of a judged flow that grouping reads. */
export interface GroupableFlow {
  id: number;
  clientIp: string;
  serverIp: string;
  server: string;
  start: number;
  end: number;
  verdicts: readonly Verdict[];
}

export const MAX_GROUP_FLOW_IDS = 5;

/** A warning or an error: what makes a flow a problem flow. */
export function isProblem(v: Verdict): boolean {
  return v.severity !== 'info';
}

/** Codes about the client's side of a flow: grouped by the client's address, not the server. */
const CLIENT_CODES = new Set(['slow-client', 'port-reuse']);

/**
 * What happened to each connection of a group, as the end of "N connections to SERVER ...". A code
 * not listed reads "N connections to SERVER: CODE". The order is also which code leads a group of
 * several codes said of the same flows: what happened before what explains or follows it.
 */
const SERVER_PHRASES: Record<string, string> = {
  refused: 'refused (nothing listens there)',
  'syn-timeout': 'timed out (SYN retries, no answer)',
  'unroutable-address': 'went to an address no network routes',
  'syn-retry-then-connected': 'connected only after SYN retries',
  'synack-retry': 'saw the SYN-ACK re-sent (final ACK lost or accept queue full)',
  'half-open': 'left half-open (handshake never completed)',
  'icmp-unreachable': 'answered by an ICMP error',
  'arp-unanswered': 'failed: ARP for the server never answered',
  'half-closed': 'closed by one side only',
  'rst-by-client': 'reset by the client',
  'rst-by-server': 'reset by the server',
  retransmission: 'retransmitted lost data',
  'zero-window': 'stalled on a zero window',
  'no-response': 'left a request unanswered',
  'response-cut-short': 'had a response cut short',
  'idle-close': 'closed or reset after an idle period',
  'slow-handshake': 'had a slow handshake',
  'slow-server': 'waited on a slow server',
  'http-error': 'got an HTTP error',
  'ws-upgrade-http10': 'sent a WebSocket upgrade as HTTP/1.0',
  'ws-fin-after-101': 'closed right after 101 Switching Protocols',
  'ws-upgrade-rejected': 'had the WebSocket upgrade rejected',
  'ws-non-http-response': 'got a non-HTTP answer to a WebSocket upgrade',
  'ws-bad-accept': 'got a wrong Sec-WebSocket-Accept',
  'ws-protocol-error': 'broke the WebSocket protocol',
  'ws-no-close-frame': 'ended a WebSocket without a close frame',
  'ws-close': 'closed the WebSocket with an error code',
  'tls-plaintext-server': 'got plain text in answer to a TLS ClientHello',
  'tls-alert': 'ended with a TLS alert',
  'tls-handshake-abandoned': 'abandoned the TLS handshake',
};

const LEAD_ORDER = new Map(Object.keys(SERVER_PHRASES).map((code, i) => [code, i]));

/** Where a code stands among codes of one severity: what happened before what explains or follows it. */
export function leadRank(code: string): number {
  return LEAD_ORDER.get(code) ?? LEAD_ORDER.size;
}

/** Which of two codes said of the same flows leads their group: the more severe, then the one LEAD_ORDER puts first. */
function leadsBefore(a: Tally, b: Tally): number {
  return SEVERITY[b.severity] - SEVERITY[a.severity] || leadRank(a.code) - leadRank(b.code) || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
}

const CLIENT_PHRASES: Record<string, string> = {
  'slow-client': 'were slow to send their first byte',
  'port-reuse': 'reused a 4-tuple within TIME_WAIT',
};

/** The facts of a capture-level verdict that name its endpoint, most specific first. */
const ENDPOINT_FACTS: ReadonlyArray<[string, EndpointRole]> = [
  ['listener', 'listener'],
  ['target', 'host'],
  ['server', 'server'],
  ['backend', 'server'],
  ['ip', 'host'],
];

/** The facts of a capture-level verdict that count its flows, when no flow is marked as its. */
const COUNT_FACTS = ['flows', 'droppedConnections', 'halfOpen', 'connections'];

function groupTitle(code: string, role: EndpointRole, endpoint: string, flows: number): string {
  const connections = `${flows.toLocaleString('en-US')} ${flows === 1 ? 'connection' : 'connections'}`;
  if (role === 'client') return `${connections} from ${endpoint} ${CLIENT_PHRASES[code] ?? `: ${code}`}`.replace(' :', ':');
  const phrase = SERVER_PHRASES[code];
  return phrase ? `${connections} to ${endpoint} ${phrase}` : `${connections} to ${endpoint}: ${code}`;
}

/** The group key of one flow verdict, with the role and endpoint it concerns. */
export function flowVerdictKey(f: GroupableFlow, v: Verdict): { key: string; role: EndpointRole; endpoint: string } {
  const role: EndpointRole = CLIENT_CODES.has(v.code) ? 'client' : 'server';
  const endpoint = role === 'client' ? f.clientIp : f.server;
  return { key: `${v.code} ${endpoint}`, role, endpoint };
}

/** A flow's most severe problem verdict (the first of them on a tie), or null for a healthy flow. */
export function primaryProblem(f: GroupableFlow): Verdict | null {
  let best: Verdict | null = null;
  for (const v of f.verdicts) if (isProblem(v) && (!best || SEVERITY[v.severity] > SEVERITY[best.severity])) best = v;
  return best;
}

/** Which scan or flood a probe (a scan-probe verdict) belongs to: the capture-level verdict's code, target and scanner. */
function probeKey(v: Verdict): string | null {
  const { kind, target, scanner } = v.facts as { kind?: unknown; target?: unknown; scanner?: unknown };
  if (typeof kind !== 'string' || typeof target !== 'string') return null;
  return `${kind} ${target} from ${String(scanner)}`;
}

interface Tally {
  code: string;
  severity: Severity;
  role: EndpointRole;
  endpoint: string;
  flows: number;
  firstTime: number;
  lastTime: number;
  flowIds: number[];
  hint: string;
  hintFlow: number;
  hintsDiffer: boolean;
  /** Sum and a mixed sum of the flow ids: tell two groups of the same flows from others. */
  idSum: number;
  idMix: number;
}

function newTally(code: string, severity: Severity, role: EndpointRole, endpoint: string): Tally {
  return { code, severity, role, endpoint, flows: 0, firstTime: Infinity, lastTime: -Infinity, flowIds: [], hint: '', hintFlow: Infinity, hintsDiffer: false, idSum: 0, idMix: 0 };
}

function tallyOf(map: Map<string, Tally>, key: string, v: Verdict, role: EndpointRole, endpoint: string): Tally {
  let t = map.get(key);
  if (!t) {
    t = newTally(v.code, v.severity, role, endpoint);
    map.set(key, t);
  }
  return t;
}

function count(t: Tally, f: GroupableFlow, v: Verdict): void {
  t.flows++;
  t.idSum += f.id;
  t.idMix = (t.idMix + Math.imul(f.id ^ (f.id >>> 16), 0x45d9f3b)) | 0;
  if (SEVERITY[v.severity] > SEVERITY[t.severity]) t.severity = v.severity;
  if (f.start < t.firstTime) t.firstTime = f.start;
  if (f.end > t.lastTime) t.lastTime = f.end;
  if (t.flows > 1 && v.hint !== t.hint) t.hintsDiffer = true;
  if (f.id < t.hintFlow) {
    t.hintFlow = f.id;
    t.hint = v.hint;
  }
  const ids = t.flowIds;
  if (ids.length < MAX_GROUP_FLOW_IDS || f.id < ids[ids.length - 1]) {
    let at = ids.length;
    while (at > 0 && ids[at - 1] > f.id) at--;
    ids.splice(at, 0, f.id);
    if (ids.length > MAX_GROUP_FLOW_IDS) ids.pop();
  }
}

/** Orders groups: severity (highest first), then size (largest first), then code, then endpoint. */
export function compareGroups(a: ProblemGroup, b: ProblemGroup): number {
  return (
    SEVERITY[b.severity] - SEVERITY[a.severity] ||
    b.flows - a.flows ||
    (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
    (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

/**
 * Gathers problem groups as flows are judged (in any order): per group, counts, times and the
 * lowest flow ids, so memory grows with the groups, not the flows. The result does not depend on
 * the order flows are added in.
 */
export class ProblemGrouper {
  private readonly tallies = new Map<string, Tally>();
  /** Flows marked as probes of a scan or flood, by the capture-level group they belong to. */
  private readonly probes = new Map<string, Tally>();

  add(f: GroupableFlow): void {
    // Made at the flow's first problem: most flows have none.
    let seen: Set<string> | null = null;
    for (const v of f.verdicts) {
      if (v.code === 'scan-probe') {
        const key = probeKey(v);
        if (key) count(tallyOf(this.probes, key, v, 'host', ''), f, v);
        continue;
      }
      if (!isProblem(v)) continue;
      const { key, role, endpoint } = flowVerdictKey(f, v);
      if (seen === null) seen = new Set<string>();
      else if (seen.has(key)) continue; // a flow counts once per group
      seen.add(key);
      count(tallyOf(this.tallies, key, v, role, endpoint), f, v);
    }
  }

  /** The groups of the flows added so far and of the capture-level verdicts, in report order. */
  groups(captureVerdicts: readonly Verdict[]): ProblemGroup[] {
    const out: ProblemGroup[] = [];
    const sameFlows = new Map<string, ProblemGroup>();
    for (const [key, t] of [...this.tallies].sort(([, a], [, b]) => leadsBefore(a, b))) {
      const fingerprint = `${t.endpoint} ${t.flows} ${t.idSum} ${t.idMix} ${t.firstTime} ${t.lastTime}`;
      const lead = sameFlows.get(fingerprint);
      if (lead) {
        lead.also.push({ code: t.code, severity: t.severity, hint: t.hint });
        continue;
      }
      const group: ProblemGroup = {
        key,
        code: t.code,
        severity: t.severity,
        role: t.role,
        endpoint: t.endpoint,
        flows: t.flows,
        firstTime: t.firstTime,
        lastTime: t.lastTime,
        flowIds: t.flowIds.slice(),
        title: groupTitle(t.code, t.role, t.endpoint, t.flows),
        hint: t.hint,
        hintFlow: t.hintsDiffer ? t.hintFlow : null,
        verdict: null,
        also: [],
      };
      sameFlows.set(fingerprint, group);
      out.push(group);
    }
    captureVerdicts.forEach((v, i) => out.push(this.captureGroup(v, i)));
    return out.sort(compareGroups);
  }

  private captureGroup(v: Verdict, index: number): ProblemGroup {
    const facts = v.facts as Record<string, unknown>;
    let role: EndpointRole = 'capture';
    let endpoint = '';
    for (const [name, r] of ENDPOINT_FACTS) {
      if (typeof facts[name] === 'string') {
        role = r;
        endpoint = facts[name] as string;
        break;
      }
    }
    const scanner = typeof facts.scanner === 'string' ? facts.scanner : null;
    const probes = this.probes.get(`${v.code} ${endpoint} from ${String(scanner)}`) ?? (scanner === null ? this.probesOf(v.code, endpoint) : undefined);
    const counted = COUNT_FACTS.map((name) => facts[name]).find((n): n is number => typeof n === 'number');
    return {
      // Two verdicts of one code about one endpoint (two scanners of one host) stay two groups.
      key: `${v.code} ${endpoint}${scanner ? ` from ${scanner}` : ''}#${index}`,
      code: v.code,
      severity: v.severity,
      role,
      endpoint,
      flows: probes?.flows ?? counted ?? 0,
      firstTime: probes ? probes.firstTime : null,
      lastTime: probes ? probes.lastTime : null,
      flowIds: probes ? probes.flowIds.slice() : [],
      title: v.summary,
      hint: v.hint,
      hintFlow: null,
      verdict: v,
      also: [],
    };
  }

  /** Probes of a scan or flood whose verdict names no scanner (many sources): every scanner's probes of that target together. */
  private probesOf(code: string, endpoint: string): Tally | undefined {
    let sum: Tally | undefined;
    const prefix = `${code} ${endpoint} from `;
    for (const [key, t] of this.probes) {
      if (!key.startsWith(prefix)) continue;
      if (!sum) sum = newTally(code, t.severity, 'host', endpoint);
      sum.flows += t.flows;
      sum.firstTime = Math.min(sum.firstTime, t.firstTime);
      sum.lastTime = Math.max(sum.lastTime, t.lastTime);
      sum.flowIds = [...sum.flowIds, ...t.flowIds].sort((a, b) => a - b).slice(0, MAX_GROUP_FLOW_IDS);
    }
    return sum;
  }
}

/** The problem groups of judged flows and capture-level verdicts, in report order. */
export function groupProblems(flows: Iterable<GroupableFlow>, captureVerdicts: readonly Verdict[]): ProblemGroup[] {
  const grouper = new ProblemGrouper();
  for (const f of flows) grouper.add(f);
  return grouper.groups(captureVerdicts);
}
