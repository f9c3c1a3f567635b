// 4-tuples whose connection ended with a reset, remembered for a while so that later packets on
// the same 4-tuple (a scanner that sends data after resetting its half-open probe, a client that
// keeps writing after its own RST) are tied to that connection instead of read as a new one the
// server refused. Only connections that ended with an RST are kept, the latest MAX_RESETS of them,
// in a TupleRing (no object or string per reset). A 4-tuple is found through its hash: of two
// 4-tuples sharing one, only the later reset is found.

import type { AddressPair } from '../flow/address-pair.js';
import { TupleRing, type Relayout } from '../flow/tuple-ring.js';

/** How long a reset 4-tuple is remembered (packet time): Linux keeps nothing after an RST, but peers do write on. */
const REMEMBER_MICROS = 300_000_000;
const MAX_RESETS = 65_536;

export interface EarlierReset {
  flowId: number;
  /** Which side of the earlier flow reset it, in that flow's roles. */
  by: 'client' | 'server';
  /** The reset's sender as ip:port. */
  resetter: string;
  rstPacket: number;
  rstTs: number;
}

/** A flow's 4-tuple as the log reads it: address A and its port are the client's, B the server's. */
export interface ResetTuple extends AddressPair {
  readonly hash: number;
  readonly origPort: number;
  readonly respPort: number;
}

export class ResetLog extends TupleRing {
  private flowIds = new Float64Array(0);
  private rstPackets = new Float64Array(0);
  /** 1 when the earlier flow's server sent the reset, 0 when its client did. */
  private byServer = new Uint8Array(0);

  constructor() {
    // Kept by count alone: flows end out of reset order, and before() weighs the reset's age.
    super(MAX_RESETS, Infinity);
  }

  /** The flow `tuple` ended with this reset. */
  record(tuple: ResetTuple, reset: Omit<EarlierReset, 'resetter'>): void {
    const slot = this.place(tuple.hash, tuple, tuple.origPort, tuple.respPort, reset.rstTs, reset.rstTs);
    this.flowIds[slot] = reset.flowId;
    this.rstPackets[slot] = reset.rstPacket;
    this.byServer[slot] = reset.by === 'server' ? 1 : 0;
  }

  /**
   * The reset that ended an earlier flow on the 4-tuple of `tuple`, in either direction, if it
   * came shortly before `ts`; `client` and `server` are the tuple's two ends as ip:port texts.
   */
  before(tuple: ResetTuple, client: string, server: string, ts: number): EarlierReset | null {
    const slot = this.find(tuple.hash);
    if (slot < 0) return null;
    const orientation = this.orientation(slot, tuple, tuple.origPort, tuple.respPort);
    if (orientation === 0) return null;
    const rstTs = this.addedTs(slot);
    if (rstTs > ts || ts - rstTs > REMEMBER_MICROS) return null;
    const by = this.byServer[slot] === 1 ? 'server' : 'client';
    // The earlier flow's client is this flow's client when the 4-tuple stands the same way round.
    const byThisClient = (by === 'client') === (orientation === 1);
    return { flowId: this.flowIds[slot], by, resetter: byThisClient ? client : server, rstPacket: this.rstPackets[slot], rstTs };
  }

  protected regrow(relayout: Relayout, capacity: number): void {
    this.flowIds = relayout(this.flowIds, new Float64Array(capacity));
    this.rstPackets = relayout(this.rstPackets, new Float64Array(capacity));
    this.byServer = relayout(this.byServer, new Uint8Array(capacity));
  }
}
