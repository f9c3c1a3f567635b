// 4-tuples whose connection ended with a reset, remembered for a while so that later packets on
// the same 4-tuple (a scanner that sends data after resetting its half-open probe, a client that
// keeps writing after its own RST) are tied to that connection instead of read as a new one the
// server refused. Only connections that ended with an RST are kept, and at most MAX_RESETS of them.

import { FifoMap } from './fifo-map.js';

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

/** The same text for both directions of a 4-tuple. */
function tupleKey(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

export class ResetLog {
  private readonly byTuple = new FifoMap<string, EarlierReset>();

  /** A flow between `client` and `server` (ip:port texts) ended with this reset. */
  record(client: string, server: string, reset: EarlierReset): void {
    this.byTuple.setNewest(tupleKey(client, server), reset, MAX_RESETS);
  }

  /** The reset that ended an earlier flow on this 4-tuple, if it came shortly before `ts`. */
  before(client: string, server: string, ts: number): EarlierReset | null {
    const r = this.byTuple.get(tupleKey(client, server));
    if (!r || r.rstTs > ts || ts - r.rstTs > REMEMBER_MICROS) return null;
    return r;
  }
}
