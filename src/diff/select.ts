import { SEVERITY } from '../rules/verdict.js';
import type { JudgedFlow } from './annotate.js';
import { diffFacts, diffWeight } from './diff.js';

// Which flow of a file to compare when none was named: the one serving the same thing as the
// other side (server port, HTTP target or WebSocket path, Server header), and among equally
// similar pairs the one that went worst in BAD, then the pair that differs most.

export interface Service {
  serverPort: number;
  /** "GET /ws" of the first request, or null. */
  target: string | null;
  serverHeader: string | null;
  userAgent: string | null;
  /** Names of the kept request headers in the order sent: a fingerprint of the client software. */
  headerOrder: string;
}

export function serviceOf(f: JudgedFlow): Service {
  const ex = f.app?.http ?? [];
  const req = ex.find((x) => x.request)?.request ?? null;
  const res = ex.find((x) => x.response)?.response ?? null;
  return {
    serverPort: f.serverPort,
    target: req ? `${req.method} ${req.target.split('?')[0]}` : null,
    serverHeader: res?.headers.server ?? null,
    userAgent: req?.headers['user-agent'] ?? null,
    headerOrder: req ? Object.keys(req.headers).join(',') : '',
  };
}

/** Points of similarity and their description ("server port 8080", "HTTP GET /ws"). */
export function serviceMatch(a: JudgedFlow, b: JudgedFlow): { score: number; reasons: string[] } {
  const sa = serviceOf(a);
  const sb = serviceOf(b);
  const reasons: string[] = [];
  let score = 0;
  if (sa.serverPort === sb.serverPort) {
    score += 3;
    reasons.push(`server port ${sa.serverPort}`);
  }
  if (sa.target !== null && sa.target === sb.target) {
    score += 2;
    reasons.push(`HTTP ${sa.target}`);
  }
  if (sa.serverHeader !== null && sa.serverHeader === sb.serverHeader) {
    score += 2;
    reasons.push(`Server: ${sa.serverHeader}`);
  }
  if (sa.headerOrder !== '' && sa.headerOrder === sb.headerOrder) {
    // The same client software writes the same headers in the same order.
    score += 2;
    reasons.push('same request header order');
  }
  if (sa.userAgent !== null && sa.userAgent === sb.userAgent) {
    score += 1;
    reasons.push(`User-Agent: ${sa.userAgent}`);
  }
  return { score, reasons };
}

function badness(f: JudgedFlow): number {
  return f.verdicts.reduce((s, v) => s + (v.severity === 'info' ? 0 : 10 ** SEVERITY[v.severity]), 0);
}

/** No warning or error: a flow the same-capture diff may take as GOOD. */
export function isHealthy(f: JudgedFlow): boolean {
  return badness(f) === 0;
}

/** How many flows a side's candidate list stands for, when it holds only the first of them. */
export interface CandidateCounts {
  all: number;
  healthy: number;
  failed: number;
}

export interface FlowPair {
  good: JudgedFlow;
  bad: JudgedFlow;
  score: number;
  reasons: string[];
}

export interface PairChoice {
  good: JudgedFlow;
  bad: JudgedFlow;
  /** Why, when a side had several candidates; null when it had one. */
  goodReason: string | null;
  badReason: string | null;
  /** Every pair matched by service, the chosen one included (several when both sides had several flows). */
  pairs: FlowPair[];
}

/** Candidates considered per side at most (the rest are ignored, in flow order). */
export const MAX_CANDIDATES = 200;
/** Pairs named in the reason for the choice; the rest are counted. */
const PAIRS_LISTED = 5;

/**
 * Matches GOOD flows to BAD flows one to one, most similar service first (two legs of a proxy pair
 * up leg with leg), then compares the matched pair in which BAD went worst, the pair that differs
 * most on a tie. `excludeSame` drops pairs of a flow with itself (both sides read the same file).
 */
export function choosePair(
  goods: readonly JudgedFlow[],
  bads: readonly JudgedFlow[],
  excludeSame = false,
  counts?: { goods: CandidateCounts; bads: CandidateCounts },
): PairChoice {
  let [goodKind, badKind] = ['', ''];
  let [goodCount, badCount] = [counts?.goods.all ?? goods.length, counts?.bads.all ?? bads.length];
  if (excludeSame) {
    // One capture on both sides: a healthy flow against a failed one, when it holds both (else
    // healthy flows pair with healthy ones and failed with failed, and nothing is learnt).
    const healthy = goods.filter(isHealthy);
    const failed = bads.filter((f) => !isHealthy(f));
    if (healthy.length > 0 && failed.length > 0) {
      [goods, bads, goodKind, badKind] = [healthy, failed, 'healthy ', 'failed '];
      [goodCount, badCount] = [counts?.goods.healthy ?? healthy.length, counts?.bads.failed ?? failed.length];
    }
  }
  const gs = goods.slice(0, MAX_CANDIDATES);
  const bs = bads.slice(0, MAX_CANDIDATES);
  const all: FlowPair[] = [];
  for (const g of gs) {
    for (const b of bs) {
      if (excludeSame && g.id === b.id && (gs.length > 1 || bs.length > 1)) continue;
      const m = serviceMatch(g, b);
      all.push({ good: g, bad: b, score: m.score, reasons: m.reasons });
    }
  }
  if (all.length === 0) throw new Error('choosePair: no candidate flows');
  // Stable sort keeps flow order among equal scores.
  all.sort((x, y) => y.score - x.score);
  const usedGood = new Set<JudgedFlow>();
  const usedBad = new Set<JudgedFlow>();
  const pairs: FlowPair[] = [];
  for (const p of all) {
    if (usedGood.has(p.good) || usedBad.has(p.bad)) continue;
    usedGood.add(p.good);
    usedBad.add(p.bad);
    pairs.push(p);
  }
  let best = pairs[0];
  let bestBad = badness(best.bad) - badness(best.good);
  let bestWeight = pairs.length > 1 ? diffWeight(diffFacts(best.good, best.bad)) : 0;
  for (const p of pairs.slice(1)) {
    const bad = badness(p.bad) - badness(p.good);
    if (bad < bestBad) continue;
    const weight = diffWeight(diffFacts(p.good, p.bad));
    if (bad > bestBad || weight > bestWeight) [best, bestBad, bestWeight] = [p, bad, weight];
  }
  const same = best.reasons.length ? `same service as OTHER (${best.reasons.join(', ')})` : 'no flow of the same service as OTHER';
  // The compared pair first, then the others in pairing order.
  const shown = [best, ...pairs.filter((p) => p !== best)].slice(0, PAIRS_LISTED);
  const listed = shown.map((p) => `GOOD #${p.good.id} ~ BAD #${p.bad.id}`);
  if (pairs.length > PAIRS_LISTED) listed.push(`${pairs.length - PAIRS_LISTED} more pairs`);
  const others = pairs.length > 1 ? `; flows paired by service: ${listed.join(', ')}; compared the pair where BAD went worst` : '';
  const why = (n: number, kind: string, other: string) => (n <= 1 ? null : `chosen of ${n} ${kind}flows: ${same.replace('OTHER', other)}${others}`);
  return { good: best.good, bad: best.bad, goodReason: why(goodCount, goodKind, 'BAD'), badReason: why(badCount, badKind, 'GOOD'), pairs };
}

export interface SharedKey {
  key: string;
  flows: Array<{ file: string; flow: number; client: string; server: string }>;
}

/** A flow's Sec-WebSocket-Key, and what names the flow in a file. */
export interface KeyedFlow {
  key: string;
  id: number;
  client: string;
  server: string;
}

/** The flow's Sec-WebSocket-Key and names, or null when it sent none. */
export function keyedFlow(f: JudgedFlow): KeyedFlow | null {
  const key = f.app?.websocket?.key;
  return key ? { key, id: f.id, client: f.client, server: f.server } : null;
}

/** Sec-WebSocket-Keys carried by more than one flow across the given files (one upgrade seen on several hops). */
export function findSharedWebSocketKeys(files: ReadonlyArray<{ file: string; flows: readonly KeyedFlow[] }>): SharedKey[] {
  const byKey = new Map<string, SharedKey['flows']>();
  for (const { file, flows } of files) {
    for (const f of flows) {
      let list = byKey.get(f.key);
      if (!list) byKey.set(f.key, (list = []));
      list.push({ file, flow: f.id, client: f.client, server: f.server });
    }
  }
  return [...byKey].filter(([, list]) => list.length > 1).map(([key, flows]) => ({ key, flows }));
}
