// Finished flows remembered for TIME_WAIT: enough to spot a 4-tuple reused too soon, and to tell
// a late packet of a flow finished before its linger ended from a new connection. A busy capture
// keeps up to hundreds of thousands of them: a TupleRing in close order (A the originator, B the
// responder), the oldest leaving first, once past TIME_WAIT or when the ring is full. Flows the
// idle timeout ended are remembered apart (IdleEnded), with where each side's numbers stopped.

import type { AddressPair } from './address-pair.js';
import { TupleRing, type Relayout } from './tuple-ring.js';

export class RecentCloses extends TupleRing {
  private flowIds = new Float64Array(0);
  private lingerEnd = new Float64Array(0);
  private stateIds = new Uint8Array(0);
  private readonly stateNames: string[] = [];

  /**
   * Remembers a finished flow at packet time `now`. `lingerUntil`: when the flow was finished
   * before its linger ended, the end of that linger, else 0.
   */
  add(hash: number, flowId: number, closedTs: number, lingerUntil: number, state: string, addrs: AddressPair, origPort: number, respPort: number, now: number): void {
    const slot = this.place(hash, addrs, origPort, respPort, closedTs, now);
    this.flowIds[slot] = flowId;
    this.lingerEnd[slot] = lingerUntil;
    this.stateIds[slot] = this.stateId(state);
  }

  flowId(slot: number): number {
    return this.flowIds[slot];
  }

  closedTs(slot: number): number {
    return this.addedTs(slot);
  }

  lingerUntil(slot: number): number {
    return this.lingerEnd[slot];
  }

  state(slot: number): string {
    return this.stateNames[this.stateIds[slot]];
  }

  protected regrow(relayout: Relayout, capacity: number): void {
    this.flowIds = relayout(this.flowIds, new Float64Array(capacity));
    this.lingerEnd = relayout(this.lingerEnd, new Float64Array(capacity));
    this.stateIds = relayout(this.stateIds, new Uint8Array(capacity));
  }

  private stateId(state: string): number {
    let id = this.stateNames.indexOf(state);
    if (id < 0) id = this.stateNames.push(state) - 1;
    return id;
  }
}

/** Flows with a handshake the idle timeout ended, kept by count alone: where each side's sequence numbers stopped, for the packets after the idle to continue them. */
export class IdleEnded extends TupleRing {
  private flowIds = new Float64Array(0);
  /** Each side's next sequence number when the flow ended (originator, responder). */
  private nextSeqs = new Float64Array(0);

  constructor(maxSlots: number) {
    super(maxSlots, Infinity);
  }

  add(hash: number, flowId: number, endedTs: number, addrs: AddressPair, origPort: number, respPort: number, origNextSeq: number, respNextSeq: number): void {
    const slot = this.place(hash, addrs, origPort, respPort, endedTs, endedTs);
    this.flowIds[slot] = flowId;
    this.nextSeqs[slot * 2] = origNextSeq;
    this.nextSeqs[slot * 2 + 1] = respNextSeq;
  }

  flowId(slot: number): number {
    return this.flowIds[slot];
  }

  /** When the flow in `slot` was last seen. */
  endedTs(slot: number): number {
    return this.addedTs(slot);
  }

  /** The originator's (side 0) or responder's (side 1) next sequence number when the flow ended. */
  nextSeq(slot: number, side: 0 | 1): number {
    return this.nextSeqs[slot * 2 + side];
  }

  protected regrow(relayout: Relayout, capacity: number): void {
    this.flowIds = relayout(this.flowIds, new Float64Array(capacity));
    this.nextSeqs = relayout(this.nextSeqs, new Float64Array(capacity * 2), 2);
  }
}
