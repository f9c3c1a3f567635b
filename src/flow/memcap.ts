import { setFlagsFromString } from 'node:v8';
import { DistinctCount } from './distinct-count.js';

// The memory budget (--memcap), after Suricata's flow, stream and reassembly memcaps: what the
// analysis holds for open flows is estimated from counts (open flows, open SYN attempts, dissector
// sessions, buffered out-of-order bytes) times a per-item cost measured on this implementation
// (scripts/calibrate-memcap.mjs), and kept within shares of the budget. Near a share's end, load is
// shed in this order, each step said of the flows it touches and counted for the capture:
//
//   1. payload: flows whose stream is no protocol tcpwhy reads (not HTTP, WebSocket, TLS or DNS)
//      stop being reassembled, and their buffered bytes are let go;
//   2. attempts: unanswered SYN attempts beyond their share are counted per service (SYNs, distinct
//      sources, first and last packet) instead of kept as flows, longest idle first: an attempt holds
//      nothing but its SYN, and a flood is made of them;
//   3. flows: the flows idle longest are finished early and judged with what was seen of them.
//
// The rest of the budget is headroom for the runtime: the heap holds garbage between collections.

export const MiB = 1024 * 1024;
export const DEFAULT_MEMCAP_BYTES = 512 * MiB;

/** Shares of the budget the estimates may fill; the remainder is the runtime's headroom. */
export const MEMCAP_SHARES = {
  /** Open flows past their handshake (or with payload): state machines, history, per-segment analysis. */
  flows: 0.3,
  /** Open unanswered SYN attempts. */
  attempts: 0.1,
  /** Dissector sessions (HTTP parsers, WebSocket and TLS state) and their reassemblers. */
  dissectors: 0.12,
  /** Out-of-order bytes buffered for reassembly. */
  reassembly: 0.1,
} as const;

/**
 * Bytes per item, measured on open flows of each kind by scripts/calibrate-memcap.mjs (the JS heap
 * after a full collection plus the memory outside it, which holds the flow columns, divided by the
 * open flows; 33,000, 50,000 and 65,000 flows, the columns growing by chunks): a bare SYN attempt
 * 4.4-4.5 kB, one whose SYN was sent twice 4.8-4.9 kB, a flow with handshake and data 4.6-4.7 kB,
 * plus 2.9 kB for its HTTP session and reassemblers. A flow that changes one of the numbers most
 * flows never change holds a rare row besides (columns.ts RareRow): an attempt whose SYN the
 * capture holds twice (a copy) measures 5.9-6.0 kB, 1.5 kB more than a bare one (the row's 1,312
 * bytes, and the copy in its handshake log). An attempt parked while it waits (flow/table.ts) gives
 * its slot to other flows for a parked row and record of some 650 bytes, and measures 2.7 kB in
 * all; it is still counted as a flow, so the budget counts attempts no later than it did before
 * attempts were parked.
 */
export const ESTIMATED_BYTES = {
  FLOW: 4_700,
  RARE_ROW: 1_500,
  SESSION: 2_900,
} as const;

/** Buffer fill (of a share) at which payload shedding starts, and the fill shedding flows goes down to. */
const PAYLOAD_SHED_AT = 0.8;
const SHED_DOWN_TO = 0.9;
/** Packets between two periodic looks at the estimates. */
const CHECK_EVERY_PACKETS = 1024;
/** Packets between two walks over the open flows to stop opaque payload. */
const PAYLOAD_WALK_EVERY_PACKETS = 65_536;
/** Services whose counted attempts are kept apart; attempts to any other are summed in one row. */
const MAX_COUNTED_SERVICES = 4_096;
/** Services listed in the summary, most attempts first. */
const MAX_LISTED_SERVICES = 100;

/** How a flow was touched by the budget (the flow's `memcap` field). */
export interface MemcapMark {
  /** Packet number from which the flow's payload was no longer reassembled. */
  payloadStoppedAt?: number;
  /** The flow was finished early, at this packet, with what was seen of it. */
  finishedEarlyAt?: number;
}

/** Unanswered SYN attempts to one service, counted instead of kept as flows. */
export interface CountedAttempts {
  service: string;
  attempts: number;
  /** Distinct source addresses (null for the row that sums the services not listed). */
  sources: number | null;
  /** True once the distinct sources are a HyperLogLog estimate (over 4,096 of them). */
  sourcesApproximate: boolean;
  firstPacket: number;
  lastPacket: number;
  firstTs: number;
  lastTs: number;
}

export interface MemcapSummary {
  limitBytes: number;
  /** Packet at which load was first shed, null if never. */
  reachedAtPacket: number | null;
  /** Largest estimate of what open flows held. */
  peakEstimatedBytes: number;
  flowsFinishedEarly: number;
  attemptsCounted: number;
  payloadStopped: number;
  /** Per service, most attempts first (at most 100; `others` sums the rest). */
  countedAttempts: CountedAttempts[];
}

/** What the flow table lets the budget do (FlowTable implements it). */
export interface Sheddable {
  readonly openFlows: number;
  readonly openAttempts: number;
  /** Flows holding a rare row, and of the open attempts those that do. */
  readonly rareRows: number;
  readonly openAttemptsWithRareRow: number;
  readonly bufferedBytes: number;
  /** Finishes the flow idle longest early (an unanswered attempt is counted instead); false if none. */
  shedLongestIdle(): boolean;
  /** Counts the unanswered SYN attempt idle longest instead of keeping it as a flow; false if none. */
  countLongestIdleAttempt(): boolean;
  /** Stops reassembly of each open flow whose stream is no protocol tcpwhy reads, calling back with its id. */
  stopOpaquePayload(onStopped: (flowId: number) => void): void;
}

/** What the open unanswered SYN attempts hold, estimated. */
function estimatedAttemptBytes(t: Sheddable): number {
  return t.openAttempts * ESTIMATED_BYTES.FLOW + t.openAttemptsWithRareRow * ESTIMATED_BYTES.RARE_ROW;
}

/** What the other open flows hold (past their handshake, or with payload), estimated without their dissector sessions. */
function estimatedEstablishedBytes(t: Sheddable): number {
  return (t.openFlows - t.openAttempts) * ESTIMATED_BYTES.FLOW + (t.rareRows - t.openAttemptsWithRareRow) * ESTIMATED_BYTES.RARE_ROW;
}

/** One SYN attempt counted instead of kept: what the counters and the syn-flood rule read of it. */
export interface AttemptSummary {
  service: string;
  source: number | string;
  syns: number;
  firstNo: number;
  firstTs: number;
  lastTs: number;
}

class ServiceCounter {
  attempts = 0;
  readonly sources = new DistinctCount();
  firstNo = 0;
  lastNo = 0;
  firstTs = 0;
  lastTs = 0;

  add(a: AttemptSummary): void {
    if (this.attempts++ === 0) {
      this.firstNo = a.firstNo;
      this.firstTs = a.firstTs;
    }
    this.firstNo = Math.min(this.firstNo, a.firstNo);
    this.firstTs = Math.min(this.firstTs, a.firstTs);
    this.lastNo = Math.max(this.lastNo, a.firstNo);
    this.lastTs = Math.max(this.lastTs, a.lastTs);
    this.sources.add(a.source);
  }
}

/**
 * Two settings of V8's collector, process-wide and so left to the program, not the library:
 * - V8 lets its heap grow to several times the live data while collecting is cheap, so a process
 *   whose live data stays within the budget can still take four times as much memory. The heap
 *   grows by at most half per step: a flood of 300,000 SYNs peaked at 223 MiB instead of 389 MiB,
 *   in the same CPU time; the 2 M-packet benchmark mix at 392 instead of 566 MiB, for 1.04 times the
 *   CPU and the same wall time.
 * - V8 allocates straight in the old generation from a code site whose objects it once saw survive
 *   the young one. The sites that build a finished flow's facts end up so, while those facts are
 *   dropped as soon as the flow is written: on the 500 k-packet benchmark mix all of their 100 MB
 *   went to the old generation, for the full collector to find dead. Without that, young
 *   collections take them for free: 0.98 times the CPU there, 0.95 with 1 M packets.
 */
export function tuneHeap(): void {
  setFlagsFromString('--heap-growing-percent=50');
  setFlagsFromString('--no-allocation-site-pretenuring');
}

/** Parses a size: bytes, or a number with k, M, G (KiB, MiB, GiB; 'MB' and 'MiB' read the same). */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Math.round(Number(m[1]) * unit);
  return bytes > 0 ? bytes : null;
}

export function formatSize(bytes: number): string {
  if (bytes < MiB) return `${bytes} bytes`;
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}

export class MemoryBudget {
  readonly flowBytes: number;
  readonly attemptBytes: number;
  readonly dissectorBytes: number;
  /** Out-of-order bytes the reassemblers may buffer in all (ReassemblyBudget's total). */
  readonly reassemblyBytes: number;
  private readonly marks = new Map<number, MemcapMark>();
  private readonly services = new Map<string, ServiceCounter>();
  private readonly otherServices = new ServiceCounter();
  private packetsToCheck = CHECK_EVERY_PACKETS;
  private nextPayloadWalk = 0;
  private lastNo = 0;
  reachedAtPacket: number | null = null;
  peakEstimatedBytes = 0;
  flowsFinishedEarly = 0;
  attemptsCounted = 0;
  payloadStopped = 0;
  /** Flows still open whose payload was stopped: their sessions hold no more than counts. */
  private stoppedOpen = 0;

  /** `sessions`: the dissector sessions open now. */
  constructor(readonly limitBytes: number, private readonly sessions: () => number = () => 0) {
    this.flowBytes = limitBytes * MEMCAP_SHARES.flows;
    this.attemptBytes = limitBytes * MEMCAP_SHARES.attempts;
    this.dissectorBytes = limitBytes * MEMCAP_SHARES.dissectors;
    this.reassemblyBytes = Math.floor(limitBytes * MEMCAP_SHARES.reassembly);
  }

  /** Per packet: every CHECK_EVERY_PACKETS packets, sheds what is over its share. */
  onPacket(t: Sheddable, no: number): void {
    this.lastNo = no;
    if (--this.packetsToCheck > 0) return;
    this.packetsToCheck = CHECK_EVERY_PACKETS;
    this.enforce(t, false);
  }

  /** Before the table opens a flow (`attempt`: a bare SYN): makes room for it. */
  beforeNewFlow(t: Sheddable, attempt: boolean, no: number): void {
    this.lastNo = no;
    this.enforce(t, attempt);
  }

  private enforce(t: Sheddable, newAttempt: boolean): void {
    const sessionBytes = this.readingSessions() * ESTIMATED_BYTES.SESSION;
    const newFlowBytes = newAttempt ? ESTIMATED_BYTES.FLOW : 0;
    const estimate = estimatedAttemptBytes(t) + estimatedEstablishedBytes(t) + newFlowBytes + sessionBytes + t.bufferedBytes;
    if (estimate > this.peakEstimatedBytes) this.peakEstimatedBytes = estimate;
    // 1. Payload nothing reads.
    if ((t.bufferedBytes > PAYLOAD_SHED_AT * this.reassemblyBytes || sessionBytes > PAYLOAD_SHED_AT * this.dissectorBytes) && this.lastNo >= this.nextPayloadWalk) {
      this.nextPayloadWalk = this.lastNo + PAYLOAD_WALK_EVERY_PACKETS;
      t.stopOpaquePayload((id) => {
        this.reached();
        this.payloadStopped++;
        this.stoppedOpen++;
        this.mark(id).payloadStoppedAt = this.lastNo;
      });
    }
    // 2. Attempts beyond their share become counts: at a new attempt, or at a periodic look (an
    // open attempt takes a rare row when the capture holds its SYN twice).
    if (estimatedAttemptBytes(t) + newFlowBytes > this.attemptBytes) {
      while (estimatedAttemptBytes(t) + newFlowBytes > SHED_DOWN_TO * this.attemptBytes && t.countLongestIdleAttempt());
    }
    // 3. Flows idle longest are finished early: past the flows' share, or the dissectors' share.
    if (estimatedEstablishedBytes(t) > this.flowBytes || sessionBytes > this.dissectorBytes) {
      const keepSessions = Math.floor((SHED_DOWN_TO * this.dissectorBytes) / ESTIMATED_BYTES.SESSION);
      while ((estimatedEstablishedBytes(t) >= SHED_DOWN_TO * this.flowBytes || this.readingSessions() >= keepSessions) && t.shedLongestIdle());
    }
  }

  /** The table finished a flow early: it is marked, and counted. */
  finishedEarly(flowId: number): void {
    this.reached();
    this.flowsFinishedEarly++;
    this.mark(flowId).finishedEarlyAt = this.lastNo;
  }

  /** An attempt counted instead of kept as a flow. */
  countAttempt(a: AttemptSummary): void {
    this.reached();
    this.attemptsCounted++;
    let c = this.services.get(a.service);
    if (!c) {
      if (this.services.size < MAX_COUNTED_SERVICES) this.services.set(a.service, (c = new ServiceCounter()));
      else c = this.otherServices;
    }
    c.add(a);
  }

  /** How the budget touched the flow, if it did; the mark is handed over once. */
  takeMark(flowId: number): MemcapMark | null {
    if (this.marks.size === 0) return null;
    const m = this.marks.get(flowId);
    if (!m) return null;
    this.marks.delete(flowId);
    if (m.payloadStoppedAt !== undefined) this.stoppedOpen--;
    return m;
  }

  /** Dissector sessions still reading payload. */
  private readingSessions(): number {
    return this.sessions() - this.stoppedOpen;
  }

  summary(): MemcapSummary {
    const rows = [...this.services].map(([service, c]) => counted(service, c)).sort((a, b) => b.attempts - a.attempts || a.firstPacket - b.firstPacket);
    const listed = rows.slice(0, MAX_LISTED_SERVICES);
    const rest = new ServiceCounter();
    for (const r of rows.slice(MAX_LISTED_SERVICES)) mergeCounter(rest, { attempts: r.attempts, firstNo: r.firstPacket, lastNo: r.lastPacket, firstTs: r.firstTs, lastTs: r.lastTs });
    if (this.otherServices.attempts > 0) mergeCounter(rest, this.otherServices);
    if (rest.attempts > 0) listed.push({ ...counted('others', rest), sources: null, sourcesApproximate: false });
    return {
      limitBytes: this.limitBytes,
      reachedAtPacket: this.reachedAtPacket,
      peakEstimatedBytes: Math.round(this.peakEstimatedBytes),
      flowsFinishedEarly: this.flowsFinishedEarly,
      attemptsCounted: this.attemptsCounted,
      payloadStopped: this.payloadStopped,
      countedAttempts: listed,
    };
  }

  private reached(): void {
    if (this.reachedAtPacket === null) this.reachedAtPacket = this.lastNo;
  }

  private mark(flowId: number): MemcapMark {
    let m = this.marks.get(flowId);
    if (!m) this.marks.set(flowId, (m = {}));
    return m;
  }
}

function counted(service: string, c: ServiceCounter): CountedAttempts {
  return { service, attempts: c.attempts, sources: c.sources.count, sourcesApproximate: c.sources.approximate, firstPacket: c.firstNo, lastPacket: c.lastNo, firstTs: c.firstTs, lastTs: c.lastTs };
}

function mergeCounter(into: ServiceCounter, c: Pick<ServiceCounter, 'attempts' | 'firstNo' | 'lastNo' | 'firstTs' | 'lastTs'>): void {
  if (into.attempts === 0) {
    into.firstNo = c.firstNo;
    into.firstTs = c.firstTs;
  }
  into.attempts += c.attempts;
  into.firstNo = Math.min(into.firstNo, c.firstNo);
  into.firstTs = Math.min(into.firstTs, c.firstTs);
  into.lastNo = Math.max(into.lastNo, c.lastNo);
  into.lastTs = Math.max(into.lastTs, c.lastTs);
}
