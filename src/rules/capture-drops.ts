import { grownColumn } from '../flow/columns.js';
import { watchOf } from './capture-end.js';
import type { FlowFacts } from './facts.js';
import { grouped } from './format.js';
import type { RuleContext } from './rules.js';
import type { Verdict } from './verdict.js';

// A pcapng packet block can say how many packets the capturing tool lost on its interface between
// that interface's previous packet and this one (epb_dropcount). Lost after a flow's last packet,
// they may hold what one of its verdicts found never came: the SYN-ACK of a syn-timeout, the FIN
// of a half-closed, the response of a no-response still awaited when the capture stopped watching.
// Such a verdict is said of the capture as much as of the hosts: it stays, a warning at most, and
// names the loss. A loss before a packet of the flow changes nothing: that packet's sequence
// and acknowledgement numbers, or its SYN sent again, show what its sender had sent and received.
// The capture-loss verdict says the same of the capture as a whole.

/** Losses kept; past this, the older half is forgotten (CaptureLosses.add). */
const MAX_LOSSES = 65_536;
/** Losses a flow's look-up reads at most: enough to name the first and to weigh what they could hide. */
const MAX_READ = 64;

/**
 * Longest a host waits before it acknowledges what it received (a delayed ACK: 40 ms on Linux, 200
 * on Windows, 500 at most by RFC 1122): a capture that went on this long after a loss would hold the
 * ACK of a packet the loss took, unless the loss took it too.
 */
const ACK_DUE_MICROS = 500_000;

/** The packets the capture lost after a flow's last packet, as FlowFacts.captureDrops holds them. */
export interface CaptureDropsFact {
  /** Packets the tool says it lost after the flow's last packet, begun before its timer ran out and the capture stopped watching it. */
  packets: number;
  /** More losses followed than were read: `packets` is a floor. */
  atLeast: boolean;
  /** The first such loss came between these two packets of its interface (firstAfter 0: before its first packet), after firstAfterTs. */
  firstAfter: number;
  firstBefore: number;
  firstAfterTs: number;
  /** Some began before the flow's last packet, on another interface: they may have come before it. */
  mayPrecede: boolean;
  /** When the packet came that counted the newest of them: they were lost before it. */
  lastTs: number;
}

/** The capture's losses in the order read: between which two packets (and times) of its interface each came, and how many packets it lost. */
export class CaptureLosses {
  private prevPacket = new Float64Array(64);
  private prevTs = new Float64Array(64);
  private nextPacket = new Float64Array(64);
  private nextTs = new Float64Array(64);
  private lost = new Float64Array(64);
  /** The packet that counted the newest loss forgotten. */
  private forgottenUpTo = 0;
  private count = 0;

  /**
   * `lost` packets were lost between packet `after` (at `afterTs`) and packet `before` (at
   * `beforeTs`) of one interface. Losses come in the order of `before`. Past MAX_LOSSES the older
   * half is forgotten: a flow idle since before a forgotten loss is judged as though the capture
   * had counted none.
   */
  add(after: number, afterTs: number, before: number, beforeTs: number, lost: number): void {
    if (this.count === MAX_LOSSES) this.forgetOlderHalf();
    else if (this.count === this.nextPacket.length) this.grow();
    const n = this.count++;
    this.prevPacket[n] = after;
    this.prevTs[n] = afterTs;
    this.nextPacket[n] = before;
    this.nextTs[n] = beforeTs;
    this.lost[n] = lost;
  }

  /**
   * The packets lost after packet `last` (counted by now) whose loss began before `until`: null
   * when none were, or when some were forgotten.
   */
  after(last: number, until: number): CaptureDropsFact | null {
    if (last < this.forgottenUpTo) return null;
    // The first loss counted on a packet after `last`; one counted on `last` itself came before it.
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nextPacket[mid] > last) hi = mid;
      else lo = mid + 1;
    }
    let d: CaptureDropsFact | null = null;
    const end = Math.min(this.count, lo + MAX_READ);
    for (let i = lo; i < end; i++) {
      if (this.prevTs[i] >= until) continue;
      d ??= { packets: 0, atLeast: false, firstAfter: this.prevPacket[i], firstBefore: this.nextPacket[i], firstAfterTs: this.prevTs[i], mayPrecede: false, lastTs: 0 };
      d.packets += this.lost[i];
      if (this.prevPacket[i] < last) d.mayPrecede = true;
      if (this.nextTs[i] > d.lastTs) d.lastTs = this.nextTs[i];
    }
    if (d && end < this.count) d.atLeast = true;
    return d;
  }

  private grow(): void {
    const size = this.nextPacket.length * 2;
    this.prevPacket = grownColumn(this.prevPacket, size);
    this.prevTs = grownColumn(this.prevTs, size);
    this.nextPacket = grownColumn(this.nextPacket, size);
    this.nextTs = grownColumn(this.nextTs, size);
    this.lost = grownColumn(this.lost, size);
  }

  private forgetOlderHalf(): void {
    const half = this.count >>> 1;
    this.forgottenUpTo = this.nextPacket[half - 1];
    for (const column of [this.prevPacket, this.prevTs, this.nextPacket, this.nextTs, this.lost]) column.copyWithin(0, half, this.count);
    this.count -= half;
  }
}

/**
 * Whether the flow's packets end with the connection still open (no RST, not both FINs): the
 * packets lost after its last one may be what was still to come. After an RST, or FINs both ways,
 * nothing more was.
 */
export function endedOpen(f: FlowFacts): boolean {
  return !f.clientSide.rst && !f.serverSide.rst && !(f.clientSide.fin && f.serverSide.fin);
}

/**
 * Verdicts on something that never came, awaited until the capture stopped watching the flow (no
 * packet of it ended the wait), and how many lost packets could hide it when the capture holds
 * both sides and went on long enough to hold an ACK: what never came, and the ACK it would have
 * drawn. A client's final ACK (half-open, synack-retry) draws none. Not syn-abandoned: a client
 * whose retry the capture lost would have sent the next one, due within seconds.
 */
const LOSSES_THAT_HIDE: Record<string, number> = {
  'syn-timeout': 2,
  'half-open': 1,
  'synack-retry': 1,
  'half-closed': 2,
  'no-response': 2,
};

/** Whether what `v` found never came may be among the packets `d` counts. */
function mayBeAmongDrops(f: FlowFacts, v: Verdict, d: CaptureDropsFact, ctx: RuleContext): boolean {
  let hide = LOSSES_THAT_HIDE[v.code];
  if (hide === undefined) return false;
  // A request the client gave up on, or a close, ended that wait: what it acknowledged shows what it had.
  if (v.code === 'no-response' && v.facts.endedBy != null) return false;
  const watch = watchOf(f, ctx);
  // The losses began after the capture stopped watching the flow (a seam of joined captures, its hosts gone quiet).
  if (d.firstAfterTs >= watch.ts) return false;
  // The ACK it would have drawn goes the way the capture does not see, or came after it stopped watching.
  if (hide === 2 && (f.visibility.seen !== 'both' || watch.ts < d.lastTs + ACK_DUE_MICROS)) hide = 1;
  return d.packets >= hide;
}

/** Where the first loss came, for a verdict's text. */
function lossPlace(d: CaptureDropsFact): string {
  if (d.firstAfter === d.firstBefore - 1) return `just before #${d.firstBefore}`;
  return d.firstAfter === 0 ? `before #${d.firstBefore}` : `between #${d.firstAfter} and #${d.firstBefore}`;
}

/**
 * The flow's verdicts on what the capture may have lost after its last packet: an error becomes a
 * warning, and the summary names the loss. Run before the verdicts are sorted by severity.
 */
export function addCaptureDrops(f: FlowFacts, verdicts: Verdict[], ctx: RuleContext): Verdict[] {
  const d = f.captureDrops;
  if (!d) return verdicts;
  const count = `${d.atLeast ? 'at least ' : ''}${grouped(d.packets)} ${d.packets === 1 ? 'packet' : 'packets'}`;
  const when = d.mayPrecede ? "that may have come after this flow's last packet" : "after this flow's last packet";
  for (const v of verdicts) {
    if (!mayBeAmongDrops(f, v, d, ctx)) continue;
    if (v.severity === 'error') v.severity = 'warning';
    v.summary += `; the capturing tool says it dropped ${count} ${when} (the first ${lossPlace(d)}): what never came may be among them`;
    v.facts = { ...v.facts, captureDrops: dropsFacts(d) };
    v.hint = `${v.hint ? `${v.hint} ` : ''}The capture itself lost packets after this flow's last one (its packet blocks say so): capture again, with a larger buffer, before taking this verdict as the hosts'.`;
  }
  return verdicts;
}

/** What a report shows of `d`: the count (a floor when atLeast) and where the first loss came. */
export function dropsFacts(d: CaptureDropsFact): { packets: number; atLeast?: true; firstAfter: number; firstBefore: number } {
  return { packets: d.packets, ...(d.atLeast ? { atLeast: true as const } : {}), firstAfter: d.firstAfter, firstBefore: d.firstBefore };
}
