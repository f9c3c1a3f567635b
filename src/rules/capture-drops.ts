import type { FlowFacts } from './facts.js';
import { grouped } from './format.js';
import type { Verdict } from './verdict.js';

// A pcapng packet block can say how many packets the capturing tool lost just before it
// (epb_dropcount). A loss after a flow's last packet, while the flow was still awaited, may hold
// the very packet one of its verdicts finds missing: the SYN-ACK of a syn-timeout, the response of
// a no-response, the FIN of a half-closed. (A loss before a packet of the flow shows in what that
// packet acknowledges or sends again: the TCP analysis counts such bytes as missed.) Such a verdict
// is said of the capture as much as of the hosts: it stays, one step less severe, and names the
// loss. The capture-loss verdict says the same of the capture as a whole.

/** Loss points kept apart; past this, later ones are added to the last (see CaptureLosses.add). */
const MAX_LOSS_POINTS = 65_536;

/** The packets the capture lost after a flow's last packet, while it was still awaited, as FlowFacts.captureDrops holds them. */
export interface CaptureDropsFact {
  /** Packets the tool says it lost after the flow's last packet and before the flow ended. */
  packets: number;
  /** The first packet after such a loss: the loss came just before it. */
  firstBefore: number;
}

/** The capture's losses by packet number, in the order read: where each was (the packet after it) and how many packets it lost. */
export class CaptureLosses {
  private before = new Int32Array(64);
  /** The packet after the last loss merged into each point (the point's own packet when none was). */
  private lastBefore = new Int32Array(64);
  /** Packets lost up to and including each point: a flow's share is a difference of two. */
  private lostUpTo = new Float64Array(64);
  private count = 0;

  /** `lost` packets were lost just before packet `no` (numbers come in increasing order). */
  add(no: number, lost: number): void {
    const n = this.count;
    const total = (n > 0 ? this.lostUpTo[n - 1] : 0) + lost;
    if (n === MAX_LOSS_POINTS) {
      // A capture losing packets this often: later losses join the last point, which then stands for all of them.
      this.lastBefore[n - 1] = no;
      this.lostUpTo[n - 1] = total;
      return;
    }
    if (n === this.before.length) this.grow();
    this.before[n] = no;
    this.lastBefore[n] = no;
    this.lostUpTo[n] = total;
    this.count = n + 1;
  }

  /** The packets lost after packet `first` and before packet `last`: null when none were. */
  between(first: number, last: number): CaptureDropsFact | null {
    const n = this.count;
    if (n === 0) return null;
    // The first point whose last loss came after `first`.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lastBefore[mid] > first) hi = mid;
      else lo = mid + 1;
    }
    if (lo === n || this.before[lo] > last) return null;
    // The last point that began by `last`.
    let end = lo;
    hi = n;
    while (end + 1 < hi) {
      const mid = (end + hi) >>> 1;
      if (this.before[mid] <= last) end = mid;
      else hi = mid;
    }
    return {
      packets: this.lostUpTo[end] - (lo > 0 ? this.lostUpTo[lo - 1] : 0),
      firstBefore: Math.max(this.before[lo], first + 1),
    };
  }

  private grow(): void {
    const size = this.before.length * 2;
    const before = new Int32Array(size);
    const lastBefore = new Int32Array(size);
    const lostUpTo = new Float64Array(size);
    before.set(this.before);
    lastBefore.set(this.lastBefore);
    lostUpTo.set(this.lostUpTo);
    this.before = before;
    this.lastBefore = lastBefore;
    this.lostUpTo = lostUpTo;
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
 * Verdicts that rest on a packet the capture does not hold: an answer, an acknowledgement or a
 * close never seen. A packet the capturing tool dropped may be that one.
 */
const RESTS_ON_A_MISSING_PACKET = new Set([
  'syn-timeout',
  'syn-abandoned',
  'no-response',
  'half-open',
  'half-closed',
  'request-stalled',
  'response-cut-short',
  'expect-continue-unanswered',
  'tls-handshake-abandoned',
  'ws-close-unanswered',
  'ws-ping-unanswered',
  'ws-no-close-frame',
]);

/** The flow's verdicts that rest on a missing packet, when the capture lost packets after its last one: an error becomes a warning, and the summary names the loss. */
export function addCaptureDrops(f: FlowFacts, verdicts: Verdict[]): Verdict[] {
  const d = f.captureDrops;
  if (!d) return verdicts;
  for (const v of verdicts) {
    if (!RESTS_ON_A_MISSING_PACKET.has(v.code)) continue;
    if (v.severity === 'error') v.severity = 'warning';
    v.summary += `; the capturing tool says it dropped ${grouped(d.packets)} ${d.packets === 1 ? 'packet' : 'packets'} after this flow's last packet, before it ended (the first just before #${d.firstBefore}): what is missing here may be among them`;
    v.facts = { ...v.facts, captureDrops: d };
    v.hint += " The capture itself lost packets while this flow's answer was awaited (its packet blocks say so): capture again, with a larger buffer, before taking this verdict as the hosts'.";
  }
  return verdicts;
}
