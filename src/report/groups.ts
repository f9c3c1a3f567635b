import { grownColumn } from '../flow/columns.js';
import { rolesUnproven, type FlowFacts } from '../rules/facts.js';
import { SEVERITY, type Severity, type Verdict } from '../rules/verdict.js';

// Problem groups: the flows' warnings and errors gathered by verdict code and the endpoint the code
// concerns, plus one group per capture-level verdict. "9 connections to 203.0.113.94:80 timed out"
// is one group, not nine flows. A grouper keeps counts and a few flow ids per group, never the flows,
// so a capture of any size can be grouped as its flows end.

/** What a group's endpoint is: the server (address:port), the client (address), a listener, a host, or the capture itself. */
/** 'pair': both ends of connections caught mid-stream whose roles nothing proves (see rolesUnproven). */
export type EndpointRole = 'server' | 'client' | 'listener' | 'host' | 'capture' | 'pair';

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
  /** One sentence: "9 connections to 203.0.113.94:80 timed out (SYN never answered)"; a capture-level verdict's summary. */
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
export interface GroupableFlow extends Pick<FlowFacts, 'client' | 'clientPort' | 'serverPort' | 'syns' | 'synAcks' | 'afterIdle' | 'rolesProvenPacket'> {
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
const CLIENT_CODES = new Set(['slow-client', 'slow-request', 'port-reuse']);

/**
 * What happened to each connection of a group, as the end of "N connections to SERVER ...". A code
 * not listed reads "N connections to SERVER: CODE". The order is also which code leads a group of
 * several codes said of the same flows: what happened before what explains or follows it.
 */
const SERVER_PHRASES: Record<string, string> = {
  refused: 'refused (nothing listens there)',
  'syn-timeout': 'timed out (SYN never answered)',
  'syn-abandoned': 'given up by the client before its first SYN retry',
  'unroutable-address': 'went to an address no network routes',
  'syn-retry-then-connected': 'connected only after SYN retries',
  'synack-retry': 'saw the SYN-ACK re-sent (final ACK lost or accept queue full)',
  'rst-ignored': "went on after the client's RST (SYN-ACK sent again)",
  'half-open': 'left half-open (handshake never completed)',
  'icmp-unreachable': 'answered by an ICMP error',
  'arp-unanswered': 'failed: ARP for the server never answered',
  'ndp-unanswered': 'failed: neighbour discovery for the server never answered',
  'half-closed': 'closed by one side only',
  'foreign-rst': "got an RST in one side's name that its TCP did not send",
  'rst-by-client': 'reset by the client',
  'rst-by-server': 'reset by the server',
  retransmission: 'retransmitted data',
  'zero-window': 'stalled on a zero window',
  'request-after-close': 'got a request after the server had closed it',
  'request-stalled': 'had a request the client never finished',
  'no-response': 'left a request unanswered',
  'response-cut-short': 'had a response cut short',
  'idle-close': 'closed or reset after an idle period',
  'slow-handshake': 'had a slow handshake',
  'slow-server': 'waited on a slow server',
  'expect-continue-unanswered': 'waited for a 100 Continue that never came',
  'path-mtu': 'waited on a path MTU black hole',
  bufferbloat: 'filled a deep queue on the path (bufferbloat)',
  'nagle-delay': 'waited on delayed ACKs (Nagle)',
  'http-error': 'got an HTTP error',
  'ws-upgrade-http10': 'sent a WebSocket upgrade as HTTP/1.0',
  'ws-fin-after-101': 'closed right after 101 Switching Protocols',
  'ws-upgrade-rejected': 'had the WebSocket upgrade rejected',
  'ws-non-http-response': 'got a non-HTTP answer to a WebSocket upgrade',
  'ws-bad-accept': 'got a wrong Sec-WebSocket-Accept',
  'ws-protocol-error': 'broke the WebSocket protocol',
  'ws-ping-unanswered': 'ended a WebSocket after a ping went unanswered',
  'ws-close-unanswered': 'had a WebSocket close frame go unanswered',
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
  'slow-client': 'were slow to send the first byte',
  'slow-request': 'were slow to send the request',
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
  if (role === 'client') {
    const phrase = CLIENT_PHRASES[code];
    if (!phrase) return `${connections} from ${endpoint}: ${code}`;
    return `${connections} from ${endpoint} ${flows === 1 ? phrase.replace(/^were /, 'was ') : phrase}`;
  }
  const phrase = SERVER_PHRASES[code];
  // Neither end is named the server where nothing proves which one is.
  const at = role === 'pair' ? 'between' : 'to';
  return phrase ? `${connections} ${at} ${endpoint} ${phrase}` : `${connections} ${at} ${endpoint}: ${code}`;
}

/** The group key of one flow verdict, with the role and endpoint it concerns. */
export function flowVerdictKey(f: GroupableFlow, v: Verdict): { key: string; role: EndpointRole; endpoint: string } {
  if (rolesUnproven(f)) {
    const endpoint = `${f.client} and ${f.server}`;
    return { key: `${v.code} ${endpoint}`, role: 'pair', endpoint };
  }
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

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error'];
const ROLES: readonly EndpointRole[] = ['server', 'client', 'listener', 'host', 'capture', 'pair'];
/** Slots the columns start with; they double as groups come. */
const INITIAL_SLOTS = 256;

/**
 * Tallies as typed-array columns under their key: a capture with problems at tens of thousands of
 * endpoints (one group per client for slow-client) keeps no object, boxed time or array per group,
 * only its key and its hint. A Tally object is made when the groups are read.
 */
class Tallies {
  private readonly slotOf = new Map<string, number>();
  private readonly codes: string[] = [];
  private readonly hints: string[] = [];
  private capacity = 0;
  private flowCounts = new Int32Array(0);
  private severities = new Uint8Array(0);
  private roles = new Uint8Array(0);
  private firstTimes = new Float64Array(0);
  private lastTimes = new Float64Array(0);
  private idSums = new Float64Array(0);
  private idMixes = new Int32Array(0);
  private hintFlows = new Float64Array(0);
  private hintsDiffer = new Uint8Array(0);
  /** The lowest flow ids, MAX_GROUP_FLOW_IDS places per slot, ascending; idCounts says how many are set. */
  private lowestIds = new Float64Array(0);
  private idCounts = new Uint8Array(0);

  /**
   * `endpointInKey`: each key is the code, a space and the endpoint (flow verdicts' groups); else
   * the endpoint is '' (probes, by the scan they belong to).
   */
  constructor(private readonly endpointInKey: boolean) {}

  keys(): IterableIterator<string> {
    return this.slotOf.keys();
  }

  /** The tally of `key`, or undefined. */
  get(key: string): Tally | undefined {
    const slot = this.slotOf.get(key);
    return slot === undefined ? undefined : this.tally(key, slot);
  }

  *entries(): Generator<[string, Tally]> {
    for (const [key, slot] of this.slotOf) yield [key, this.tally(key, slot)];
  }

  /** Counts flow `f` in the group `key` for its verdict `v` (the group is made, with `role`, on first use). */
  count(key: string, v: Verdict, role: EndpointRole, f: GroupableFlow): void {
    let slot = this.slotOf.get(key);
    if (slot === undefined) slot = this.add(key, v, role);
    const flows = ++this.flowCounts[slot];
    this.idSums[slot] += f.id;
    this.idMixes[slot] = (this.idMixes[slot] + Math.imul(f.id ^ (f.id >>> 16), 0x45d9f3b)) | 0;
    if (SEVERITY[v.severity] > this.severities[slot]) this.severities[slot] = SEVERITY[v.severity];
    if (f.start < this.firstTimes[slot]) this.firstTimes[slot] = f.start;
    if (f.end > this.lastTimes[slot]) this.lastTimes[slot] = f.end;
    if (flows > 1 && v.hint !== this.hints[slot]) this.hintsDiffer[slot] = 1;
    if (f.id < this.hintFlows[slot]) {
      this.hintFlows[slot] = f.id;
      this.hints[slot] = v.hint;
    }
    const ids = this.lowestIds;
    const base = slot * MAX_GROUP_FLOW_IDS;
    const n = this.idCounts[slot];
    if (n < MAX_GROUP_FLOW_IDS || f.id < ids[base + n - 1]) {
      let at = n < MAX_GROUP_FLOW_IDS ? n : n - 1;
      while (at > 0 && ids[base + at - 1] > f.id) {
        ids[base + at] = ids[base + at - 1];
        at--;
      }
      ids[base + at] = f.id;
      if (n < MAX_GROUP_FLOW_IDS) this.idCounts[slot] = n + 1;
    }
  }

  private add(key: string, v: Verdict, role: EndpointRole): number {
    const slot = this.slotOf.size;
    if (slot === this.capacity) this.grow();
    this.slotOf.set(key, slot);
    this.codes.push(v.code);
    this.hints.push('');
    this.severities[slot] = SEVERITY[v.severity];
    this.roles[slot] = ROLES.indexOf(role);
    this.firstTimes[slot] = Infinity;
    this.lastTimes[slot] = -Infinity;
    this.hintFlows[slot] = Infinity;
    return slot;
  }

  private tally(key: string, slot: number): Tally {
    const code = this.codes[slot];
    const ids = this.lowestIds.subarray(slot * MAX_GROUP_FLOW_IDS, slot * MAX_GROUP_FLOW_IDS + this.idCounts[slot]);
    return {
      code,
      severity: SEVERITIES[this.severities[slot]],
      role: ROLES[this.roles[slot]],
      endpoint: this.endpointInKey ? key.slice(code.length + 1) : '',
      flows: this.flowCounts[slot],
      firstTime: this.firstTimes[slot],
      lastTime: this.lastTimes[slot],
      flowIds: Array.from(ids),
      hint: this.hints[slot],
      hintFlow: this.hintFlows[slot],
      hintsDiffer: this.hintsDiffer[slot] === 1,
      idSum: this.idSums[slot],
      idMix: this.idMixes[slot],
    };
  }

  private grow(): void {
    const capacity = Math.max(INITIAL_SLOTS, this.capacity * 2);
    this.flowCounts = grownColumn(this.flowCounts, capacity);
    this.severities = grownColumn(this.severities, capacity);
    this.roles = grownColumn(this.roles, capacity);
    this.firstTimes = grownColumn(this.firstTimes, capacity);
    this.lastTimes = grownColumn(this.lastTimes, capacity);
    this.idSums = grownColumn(this.idSums, capacity);
    this.idMixes = grownColumn(this.idMixes, capacity);
    this.hintFlows = grownColumn(this.hintFlows, capacity);
    this.hintsDiffer = grownColumn(this.hintsDiffer, capacity);
    this.lowestIds = grownColumn(this.lowestIds, capacity * MAX_GROUP_FLOW_IDS);
    this.idCounts = grownColumn(this.idCounts, capacity);
    this.capacity = capacity;
  }
}

/**
 * Capture-level verdicts that change what the flow verdicts after them mean, and so come first
 * whatever their severity: one-stack-answers says the servers' refusals and resets were made by
 * one device answering for them; capture-loss, as a warning, that answers and ACKs the errors
 * below miss may be missing from the capture alone.
 */
function readFirst(g: ProblemGroup): boolean {
  return g.code === 'one-stack-answers' || (g.code === 'capture-loss' && g.severity !== 'info');
}

/** Orders groups: those to read first, then severity (highest first), size (largest first), code, endpoint. */
export function compareGroups(a: ProblemGroup, b: ProblemGroup): number {
  return (
    Number(readFirst(b)) - Number(readFirst(a)) ||
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
  private readonly tallies = new Tallies(true);
  /** Flows marked as probes of a scan or flood, by the capture-level group they belong to. */
  private readonly probes = new Tallies(false);

  add(f: GroupableFlow): void {
    // Made at the flow's first problem: most flows have none.
    let seen: Set<string> | null = null;
    for (const v of f.verdicts) {
      if (v.code === 'scan-probe') {
        const key = probeKey(v);
        if (key) this.probes.count(key, v, 'host', f);
        continue;
      }
      if (!isProblem(v)) continue;
      const { key, role } = flowVerdictKey(f, v);
      if (seen === null) seen = new Set<string>();
      else if (seen.has(key)) continue; // a flow counts once per group
      seen.add(key);
      this.tallies.count(key, v, role, f);
    }
  }

  /** The groups of the flows added so far and of the capture-level verdicts, in report order. */
  groups(captureVerdicts: readonly Verdict[]): ProblemGroup[] {
    const out: ProblemGroup[] = [];
    const sameFlows = new Map<string, ProblemGroup>();
    for (const [key, t] of [...this.tallies.entries()].sort(([, a], [, b]) => leadsBefore(a, b))) {
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
    for (const key of this.probes.keys()) {
      if (!key.startsWith(prefix)) continue;
      const t = this.probes.get(key)!;
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
