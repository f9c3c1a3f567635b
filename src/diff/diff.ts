import type { HttpExchangeFacts } from '../dissect/types.js';
import type { SideFacts } from '../rules/facts.js';
import { fmtDuration } from '../rules/format.js';
import { SEVERITY, type Verdict } from '../rules/verdict.js';
import type { JudgedFlow } from './annotate.js';
import { findDivergence, flowSteps, type Divergence, type Step } from './align.js';
import type { FlowPacket } from './packets.js';

// (GOOD flow, BAD flow) -> ranked differences, the divergence point and a one-line conclusion.
// Everything is compared by role (client/server) and by relative numbers, never by addresses,
// ports or ISNs, so the two flows may come from captures taken at different points.

export interface Difference {
  /** Stable dotted name: "http.request.version", "verdict.ws-fin-after-101", "client.mss". */
  field: string;
  good: string | number | boolean | null;
  bad: string | number | boolean | null;
  /** How decisive the difference is, 0..100: verdicts and request/response lines first, counts last. */
  weight: number;
}

export const WEIGHT = {
  VERDICT_ERROR: 100,
  REQUEST_VERSION: 90,
  TLS_ALERT: 90,
  TLS_VERSION: 85,
  TLS_SNI: 80,
  TLS_OFFER: 70,
  RESPONSE_STATUS: 85,
  UPGRADE_HEADER: 80,
  CONNECTION_HEADER: 80,
  REQUEST_PRESENT: 78,
  CLOSE: 75,
  VERDICT_WARNING: 70,
  STATE: 65,
  WS_CLOSE_CODE: 60,
  WS_TCP_CLOSE: 55,
  WS_FRAMES: 50,
  RETRANSMISSIONS: 45,
  ZERO_WINDOW: 45,
  REQUEST_TARGET: 40,
  CLOSE_DELAY: 40,
  SERVER_HEADER: 35,
  HISTORY: 30,
  HANDSHAKE_OPTION: 30,
  VERDICT_INFO: 25,
  TTL: 20,
  RTT: 15,
  BYTES: 10,
} as const;

/** Below this a difference is detail (addresses of a hop, byte counts), not a cause. */
export const DECISIVE_WEIGHT = 50;

export interface CloseStory {
  by: 'client' | 'server';
  how: 'FIN' | 'RST';
  packet: number;
  /** The last protocol message before the close ("101 Switching Protocols", "WS close 1000", "SYN"). */
  after: string;
  /** From that message's packet to the close, µs; null when its time is unknown. */
  delayMicros: number | null;
}

export interface DiffSide {
  file: string;
  flow: JudgedFlow;
  packets: readonly FlowPacket[];
  /** Why this flow was picked when the file holds several and none was named; null otherwise. */
  chosen: string | null;
  /** Candidate flows in the file after filters. */
  candidates: number;
}

export interface FlowDiff {
  good: DiffSide;
  bad: DiffSide;
  differences: Difference[];
  goodSteps: Step[];
  badSteps: Step[];
  divergence: Divergence | null;
  /** Both flows carry this Sec-WebSocket-Key: one upgrade request seen on two hops. */
  sameWebSocketKey: string | null;
  conclusion: string;
}

const firstRequest = (f: JudgedFlow): HttpExchangeFacts | null => f.app?.http.find((x) => x.request) ?? null;
const firstResponse = (f: JudgedFlow): HttpExchangeFacts | null => f.app?.http.find((x) => x.response) ?? null;
const isUpgrade = (f: JudgedFlow): boolean => !!f.app?.websocket || !!firstRequest(f)?.request?.headers.upgrade;

/** Who closed first, how, and right after which message. */
export function closeStory(flow: JudgedFlow, packets: readonly FlowPacket[] = []): CloseStory | null {
  const candidates: Array<{ by: 'client' | 'server'; how: 'FIN' | 'RST'; no: number; ts: number }> = [];
  const add = (side: SideFacts, by: 'client' | 'server') => {
    if (side.fin) candidates.push({ by, how: 'FIN', no: side.fin.no, ts: side.fin.ts });
    if (side.rst) candidates.push({ by, how: 'RST', no: side.rst.no, ts: side.rst.ts });
  };
  add(flow.clientSide, 'client');
  add(flow.serverSide, 'server');
  if (candidates.length === 0) return null;
  candidates.sort((a, b) => a.no - b.no);
  const close = candidates[0];
  const events = (flow.app?.events ?? []).filter((e) => e.no <= close.no);
  const tsOf = (no: number): number | null => packets.find((p) => p.no === no)?.ts ?? null;
  let after: string;
  let fromTs: number | null;
  if (events.length) {
    const last = events[events.length - 1];
    after = last.text.replace(/ \d+ B( \(.*\))?$/, '').replace(/^HTTP /, '');
    fromTs = tsOf(last.no);
    if (fromTs === null) {
      const ex = flow.app?.http.find((x) => x.response?.packet === last.no || x.request?.packet === last.no);
      if (ex?.closeAfterMs !== null && ex?.closeAfterMs !== undefined) fromTs = close.ts - Math.round(ex.closeAfterMs * 1000);
    }
  } else if (flow.handshakeAck && flow.handshakeAck.no < close.no) {
    after = 'the handshake';
    fromTs = flow.handshakeAck.ts;
  } else if (flow.synAcks.length && flow.synAcks[0].no < close.no) {
    after = 'SYN-ACK';
    fromTs = flow.synAcks[flow.synAcks.length - 1].ts;
  } else if (flow.syns.length && flow.syns[0].no < close.no) {
    after = 'SYN';
    fromTs = flow.syns[flow.syns.length - 1].ts;
  } else {
    after = 'the first packet';
    fromTs = flow.start;
  }
  return { by: close.by, how: close.how, packet: close.no, after, delayMicros: fromTs === null ? null : close.ts - fromTs };
}

export function describeClose(c: CloseStory | null): string {
  if (!c) return 'not closed';
  return `${c.by} ${c.how} ${c.delayMicros !== null ? `${fmtDuration(c.delayMicros)} ` : ''}after ${c.after}`;
}

const closeKey = (c: CloseStory | null) => (c ? `${c.by} ${c.how} after ${c.after}` : 'none');

function requestLine(ex: HttpExchangeFacts | null): string | null {
  const r = ex?.request;
  return r ? `${r.method} ${r.target} HTTP/${r.version}` : null;
}

function retransmissions(f: JudgedFlow, role: 'client' | 'server'): number {
  const a = f.analysis?.[role];
  return a ? a.retransmission + a.fastRetransmission + a.spuriousRetransmission : 0;
}

function verdictWeight(v: Verdict): number {
  return v.severity === 'error' ? WEIGHT.VERDICT_ERROR : v.severity === 'warning' ? WEIGHT.VERDICT_WARNING : WEIGHT.VERDICT_INFO;
}

function differs(a: number, b: number, ratio: number, minAbs: number): boolean {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  return hi - lo >= minAbs && (lo === 0 || hi / lo >= ratio);
}

/** Every difference between the two flows, most decisive first. Needs no packets except for close delays. */
export function diffFacts(good: JudgedFlow, bad: JudgedFlow, goodPackets: readonly FlowPacket[] = [], badPackets: readonly FlowPacket[] = []): Difference[] {
  const out: Difference[] = [];
  const push = (field: string, g: Difference['good'], b: Difference['bad'], weight: number) => {
    if (g !== b) out.push({ field, good: g, bad: b, weight });
  };

  // Verdicts present on one side only.
  const goodCodes = new Map(good.verdicts.map((v) => [v.code, v]));
  const badCodes = new Map(bad.verdicts.map((v) => [v.code, v]));
  for (const v of bad.verdicts) if (!goodCodes.has(v.code)) push(`verdict.${v.code}`, null, v.summary, verdictWeight(v));
  for (const v of good.verdicts) if (!badCodes.has(v.code)) push(`verdict.${v.code}`, v.summary, null, verdictWeight(v));

  // HTTP: the request line, the upgrade headers, the status.
  const gReq = firstRequest(good)?.request ?? null;
  const bReq = firstRequest(bad)?.request ?? null;
  if (gReq && bReq) {
    push('http.request.version', `HTTP/${gReq.version}`, `HTTP/${bReq.version}`, WEIGHT.REQUEST_VERSION);
    push('http.request.upgrade', gReq.headers.upgrade ?? null, bReq.headers.upgrade ?? null, WEIGHT.UPGRADE_HEADER);
    push('http.request.connection', gReq.headers.connection?.toLowerCase() ?? null, bReq.headers.connection?.toLowerCase() ?? null, WEIGHT.CONNECTION_HEADER);
    push('http.request.target', `${gReq.method} ${gReq.target}`, `${bReq.method} ${bReq.target}`, WEIGHT.REQUEST_TARGET);
  } else {
    push('http.request', requestLine(firstRequest(good)), requestLine(firstRequest(bad)), WEIGHT.REQUEST_PRESENT);
  }
  const gRes = firstResponse(good)?.response ?? null;
  const bRes = firstResponse(bad)?.response ?? null;
  if (gReq || bReq || gRes || bRes) {
    push('http.response.status', gRes ? `${gRes.status} ${gRes.reason}`.trim() : null, bRes ? `${bRes.status} ${bRes.reason}`.trim() : null, WEIGHT.RESPONSE_STATUS);
    if (gRes && bRes) push('http.response.server', gRes.headers.server ?? null, bRes.headers.server ?? null, WEIGHT.SERVER_HEADER);
  }

  // Who closed first, how, after which message.
  const gClose = closeStory(good, goodPackets);
  const bClose = closeStory(bad, badPackets);
  if (closeKey(gClose) !== closeKey(bClose)) out.push({ field: 'close', good: describeClose(gClose), bad: describeClose(bClose), weight: WEIGHT.CLOSE });
  else if (gClose && bClose && gClose.delayMicros !== null && bClose.delayMicros !== null && differs(gClose.delayMicros, bClose.delayMicros, 10, 100_000)) {
    out.push({ field: 'close.delay', good: describeClose(gClose), bad: describeClose(bClose), weight: WEIGHT.CLOSE_DELAY });
  }

  push('state', good.state, bad.state, WEIGHT.STATE);

  // WebSocket session.
  const gWs = good.app?.websocket ?? null;
  const bWs = bad.app?.websocket ?? null;
  if (gWs || bWs) {
    push('websocket.acceptValid', gWs?.acceptValid ?? null, bWs?.acceptValid ?? null, WEIGHT.RESPONSE_STATUS);
    push('websocket.close.code', gWs?.close.code ?? null, bWs?.close.code ?? null, WEIGHT.WS_CLOSE_CODE);
    push('websocket.tcpClose', gWs?.tcpClose ?? null, bWs?.tcpClose ?? null, WEIGHT.WS_TCP_CLOSE);
    for (const role of ['client', 'server'] as const) {
      const frames = (ws: typeof gWs) => (ws ? ws.frames[role].text + ws.frames[role].binary + ws.frames[role].continuation : null);
      push(`websocket.${role}.dataFrames`, frames(gWs), frames(bWs), WEIGHT.WS_FRAMES);
    }
  }

  // TLS handshake, as far as it is in the clear.
  const gTls = good.app?.tls ?? null;
  const bTls = bad.app?.tls ?? null;
  if (gTls || bTls) {
    const alert = (t: typeof gTls) => {
      const a = t?.alerts.find((x) => x.level === 'fatal');
      return a ? `${a.name} (${a.description}) from the ${a.from}` : null;
    };
    push('tls.plaintextAnswer', gTls?.serverNotTls?.text.slice(0, 40) ?? null, bTls?.serverNotTls?.text.slice(0, 40) ?? null, WEIGHT.TLS_ALERT);
    push('tls.alert', alert(gTls), alert(bTls), WEIGHT.TLS_ALERT);
    push('tls.version', gTls?.serverHello?.version ?? null, bTls?.serverHello?.version ?? null, WEIGHT.TLS_VERSION);
    push('tls.sni', gTls?.clientHello?.sni ?? null, bTls?.clientHello?.sni ?? null, WEIGHT.TLS_SNI);
    push('tls.offered', gTls?.clientHello?.versions.join(', ') ?? null, bTls?.clientHello?.versions.join(', ') ?? null, WEIGHT.TLS_OFFER);
    push('tls.alpn', gTls?.clientHello?.alpn.join(', ') ?? null, bTls?.clientHello?.alpn.join(', ') ?? null, WEIGHT.TLS_OFFER);
  }

  // TCP: history, retransmissions, windows, handshake options, TTL, RTT, bytes.
  push('history', good.history, bad.history, WEIGHT.HISTORY);
  for (const role of ['client', 'server'] as const) {
    const g = retransmissions(good, role);
    const b = retransmissions(bad, role);
    if (differs(g, b, 2, 1)) out.push({ field: `${role}.retransmissions`, good: g, bad: b, weight: WEIGHT.RETRANSMISSIONS });
    const gz = good.analysis?.[role].zeroWindow ?? 0;
    const bz = bad.analysis?.[role].zeroWindow ?? 0;
    if ((gz === 0) !== (bz === 0)) out.push({ field: `${role}.zeroWindows`, good: gz, bad: bz, weight: WEIGHT.ZERO_WINDOW });
  }
  for (const role of ['client', 'server'] as const) {
    const g = role === 'client' ? good.clientSide : good.serverSide;
    const b = role === 'client' ? bad.clientSide : bad.serverSide;
    // Options exist only where a SYN or SYN-ACK was seen on both sides.
    const synSeen = (f: JudgedFlow) => (role === 'client' ? f.syns.length > 0 : f.synAcks.length > 0);
    if (synSeen(good) && synSeen(bad)) {
      push(`${role}.mss`, g.mss, b.mss, WEIGHT.HANDSHAKE_OPTION);
      push(`${role}.windowScale`, g.windowScale, b.windowScale, WEIGHT.HANDSHAKE_OPTION);
      push(`${role}.sackPermitted`, g.sackPermitted, b.sackPermitted, WEIGHT.HANDSHAKE_OPTION);
      push(`${role}.timestamps`, g.timestamps, b.timestamps, WEIGHT.HANDSHAKE_OPTION);
    }
    if (g.ttl !== null && b.ttl !== null) push(`${role}.ttl`, g.ttl, b.ttl, WEIGHT.TTL);
  }
  const gRtt = good.analysis?.handshake?.rttMs ?? null;
  const bRtt = bad.analysis?.handshake?.rttMs ?? null;
  if (gRtt !== null && bRtt !== null && differs(gRtt, bRtt, 2, 0.5)) out.push({ field: 'rttMs', good: gRtt, bad: bRtt, weight: WEIGHT.RTT });
  for (const role of ['client', 'server'] as const) {
    const g = role === 'client' ? good.clientSide.bytes : good.serverSide.bytes;
    const b = role === 'client' ? bad.clientSide.bytes : bad.serverSide.bytes;
    if (differs(g, b, 1.1, 1)) out.push({ field: `${role}.bytes`, good: g, bad: b, weight: WEIGHT.BYTES });
  }
  // Stable sort: equal weights keep the order above.
  return out.map((d, i) => ({ d, i })).sort((a, b) => b.d.weight - a.d.weight || a.i - b.i).map((x) => x.d);
}

/** Sum of weights: how far apart two flows are (used to pick the most telling pair). */
export function diffWeight(diffs: readonly Difference[]): number {
  return diffs.reduce((s, d) => s + d.weight, 0);
}

/** BAD's warnings and errors that GOOD does not have, in rule order. */
function badOnlyProblems(good: JudgedFlow, bad: JudgedFlow): Verdict[] {
  const goodCodes = new Set(good.verdicts.map((v) => v.code));
  return bad.verdicts.filter((v) => !goodCodes.has(v.code) && v.severity !== 'info');
}

function worstBadVerdict(good: JudgedFlow, bad: JudgedFlow): Verdict | null {
  let worst: Verdict | null = null;
  for (const v of badOnlyProblems(good, bad)) if (!worst || SEVERITY[v.severity] > SEVERITY[worst.severity]) worst = v;
  return worst;
}

/** One line: the cause first (request line, headers, status), then how the close differed. */
export function concludeDiff(good: JudgedFlow, bad: JudgedFlow, diffs: readonly Difference[], goodClose: CloseStory | null, badClose: CloseStory | null): string {
  const clauses: string[] = [];
  const by = (field: string) => diffs.find((d) => d.field === field);
  const goodOnly = badOnlyProblems(bad, good);
  if (goodOnly.length && !badOnlyProblems(good, bad).length) {
    return `GOOD is the one with problems (${goodOnly.map((v) => v.code).join(', ')}: ${goodOnly[0].summary}) and BAD has none of them: were GOOD and BAD swapped?`;
  }
  const what = isUpgrade(bad) || isUpgrade(good) ? 'upgrade' : 'request';
  const version = by('http.request.version');
  if (version) clauses.push(`BAD sent its ${what} as ${version.bad} (GOOD: ${version.good})`);
  for (const [field, name] of [
    ['http.request.upgrade', 'Upgrade'],
    ['http.request.connection', 'Connection'],
  ] as const) {
    const d = by(field);
    if (d && clauses.length < 2) clauses.push(`BAD's ${what} had ${name}: ${d.bad ?? '(none)'} (GOOD: ${d.good ?? '(none)'})`);
  }
  const status = by('http.response.status');
  // A status only tells something when BAD got as far as sending its request.
  if (status && firstRequest(bad) && clauses.length < 2) clauses.push(status.bad === null ? `BAD got no response (GOOD: ${status.good})` : `the server answered ${status.bad} in BAD (GOOD: ${status.good ?? 'no response'})`);
  if (clauses.length === 0) {
    const v = worstBadVerdict(good, bad);
    if (v) {
      const goodProblems = good.verdicts.filter((x) => x.severity !== 'info').map((x) => x.code);
      const others = badOnlyProblems(good, bad).filter((x) => x !== v);
      clauses.push(`BAD: ${v.summary}${others.length ? `, with ${others.map((x) => x.code).join(', ')}` : ''} (GOOD: ${good.state}, ${goodProblems.length ? goodProblems.join(', ') : 'no problem found'})`);
    }
  }
  if (clauses.length < 2 && (by('close') || by('close.delay')) && badClose) {
    const delay = badClose.delayMicros !== null ? ` ${fmtDuration(badClose.delayMicros)}` : '';
    const goodSame = goodClose && goodClose.after === badClose.after && goodClose.by === badClose.by;
    clauses.push(`the ${badClose.by} closed (${badClose.how})${delay} after ${badClose.after} in BAD${goodSame ? '' : ' only'} (GOOD: ${describeClose(goodClose)})`);
  }
  if (clauses.length === 0 && diffs.length) {
    const d = diffs[0];
    const text = `${d.field}: GOOD ${d.good ?? '-'}, BAD ${d.bad ?? '-'}`;
    clauses.push(d.weight >= DECISIVE_WEIGHT ? text : `no decisive difference (largest: ${text})`);
  }
  if (clauses.length === 0) return 'No difference found: both flows took the same steps with the same outcome.';
  return `${clauses.join('; ')}.`;
}

/** Compares two chosen flows: differences, aligned steps, divergence, shared key, conclusion. */
export function compareFlows(good: DiffSide, bad: DiffSide): FlowDiff {
  const differences = diffFacts(good.flow, bad.flow, good.packets, bad.packets);
  const goodSteps = flowSteps(good.flow, good.packets);
  const badSteps = flowSteps(bad.flow, bad.packets);
  const gKey = good.flow.app?.websocket?.key ?? null;
  const bKey = bad.flow.app?.websocket?.key ?? null;
  const sameWebSocketKey = gKey !== null && gKey === bKey ? gKey : null;
  let conclusion = concludeDiff(good.flow, bad.flow, differences, closeStory(good.flow, good.packets), closeStory(bad.flow, bad.packets));
  if (sameWebSocketKey) conclusion += ` Both flows carry Sec-WebSocket-Key ${sameWebSocketKey}: the same upgrade request seen on two hops (one request traced through a proxy).`;
  return { good, bad, differences, goodSteps, badSteps, divergence: findDivergence(goodSteps, badSteps), sameWebSocketKey, conclusion };
}
