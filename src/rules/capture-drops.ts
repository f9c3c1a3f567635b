import type { FlowFacts } from './facts.js';
import { grownColumn } from '../flow/columns.js';
import { grouped } from './format.js';
import type { Verdict } from './verdict.js';

// A pcapng packet block can say how many packets the capturing tool lost on its interface between
// that interface's previous packet and this one (epb_dropcount). Lost after a flow's last packet,
// they may hold what one of its verdicts found never came: the SYN-ACK of a syn-timeout, the FIN
// of a half-closed, the response of a no-response still awaited when the capture stopped watching.
// Such a verdict is said of the capture as much as of the hosts: it stays, one step less severe,
// and names the loss. A loss before a packet of the flow changes nothing: that packet's sequence
// and acknowledgement numbers, or its SYN sent again, show what its sender had sent and received.
// The capture-loss verdict says the same of the capture as a whole.

/** Losses kept; past this, the older half is forgotten (see CaptureLosses.add). */
const MAX_LOSSES = 65_536;

/** The packets the capture lost after a flow's last packet, as FlowFacts.captureDrops holds them. */
export interface CaptureDropsFact {
  /** Packets the tool says it lost after the flow's last packet and before the flow ended. */
  packets: number;
  /** The first such loss came between these two packets of its interface (firstAfter 0: its first packet). */
  firstAfter: number;
  firstBefore: number;
}

/** The capture's losses in the order read: between which two packets of its interface each came, and how many packets it lost. */
export class CaptureLosses {
  /** The packets of the loss's interface on either side of it. */
  private prevPacket = new Float64Array(64);
  private nextPacket = new Float64Array(64);
  /** Packets lost up to and including each loss, from lostEarlier on: a flow's share is a difference of two. */
  private lostUpTo = new Float64Array(64);
  /** What lostUpTo counted of the losses forgotten. */
  private lostEarlier = 0;
  private count = 0;

  /**
   * `lost` packets were lost between packets `after` and `before` of one interface. Losses come
   * in the order of `before`. A flow idle since before the losses kept is judged as though the
   * capture had said nothing of the older ones.
   */
  add(after: number, before: number, lost: number): void {
    if (this.count === MAX_LOSSES) this.forgetOlderHalf();
    else if (this.count === this.nextPacket.length) this.grow();
    const n = this.count;
    this.prevPacket[n] = after;
    this.nextPacket[n] = before;
    this.lostUpTo[n] = (n > 0 ? this.lostUpTo[n - 1] : this.lostEarlier) + lost;
    this.count = n + 1;
  }

  /** The packets lost after packet `last` (all of them read by now): null when none were. */
  after(last: number): CaptureDropsFact | null {
    // The first loss recorded on a packet after `last`; one recorded on `last` itself came before it.
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nextPacket[mid] > last) hi = mid;
      else lo = mid + 1;
    }
    if (lo === this.count) return null;
    return {
      packets: this.lostUpTo[this.count - 1] - (lo > 0 ? this.lostUpTo[lo - 1] : this.lostEarlier),
      firstAfter: this.prevPacket[lo],
      firstBefore: this.nextPacket[lo],
    };
  }

  private grow(): void {
    this.prevPacket = grownColumn(this.prevPacket, this.prevPacket.length * 2);
    this.nextPacket = grownColumn(this.nextPacket, this.nextPacket.length * 2);
    this.lostUpTo = grownColumn(this.lostUpTo, this.lostUpTo.length * 2);
  }

  private forgetOlderHalf(): void {
    const half = this.count >>> 1;
    this.lostEarlier = this.lostUpTo[half - 1];
    this.prevPacket.copyWithin(0, half, this.count);
    this.nextPacket.copyWithin(0, half, this.count);
    this.lostUpTo.copyWithin(0, half, this.count);
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
 * packet of it ended the wait), and how many lost packets could hide it: what never came, and the
 * acknowledgement it would have drawn (which the capture would hold otherwise). A client's final
 * ACK draws nothing.
 */
const LOSSES_THAT_HIDE: Record<string, number> = {
  'syn-timeout': 2,
  'syn-abandoned': 2,
  'half-open': 1,
  'half-closed': 2,
  'no-response': 2,
};

/** Whether `v` rests on something awaited to the end of watching that `d` may hold. */
function mayBeAmongDrops(v: Verdict, d: CaptureDropsFact): boolean {
  const hide = LOSSES_THAT_HIDE[v.code];
  if (hide === undefined || d.packets < hide) return false;
  // A request the client gave up on, or a close, ended that wait: what it acknowledged shows what it had.
  return v.code !== 'no-response' || v.facts.endedBy == null;
}

/** Where a loss came, for a verdict's text. */
function lossPlace(d: CaptureDropsFact): string {
  if (d.firstAfter === d.firstBefore - 1) return `just before #${d.firstBefore}`;
  return d.firstAfter === 0 ? `before #${d.firstBefore}` : `between #${d.firstAfter} and #${d.firstBefore}`;
}

/** The flow's verdicts that rest on what the capture may have lost after its last packet: an error becomes a warning, and the summary names the loss. */
export function addCaptureDrops(f: FlowFacts, verdicts: Verdict[]): Verdict[] {
  const d = f.captureDrops;
  if (!d) return verdicts;
  for (const v of verdicts) {
    if (!mayBeAmongDrops(v, d)) continue;
    if (v.severity === 'error') v.severity = 'warning';
    v.summary += `; the capturing tool says it dropped ${grouped(d.packets)} ${d.packets === 1 ? 'packet' : 'packets'} after this flow's last packet (the first ${lossPlace(d)}): what never came may be among them`;
    v.facts = { ...v.facts, captureDrops: d };
    v.hint += " The capture itself lost packets after this flow's last one (its packet blocks say so): capture again, with a larger buffer, before taking this verdict as the hosts'.";
  }
  return verdicts;
}
