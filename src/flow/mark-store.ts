// The segment marks of a flow table's flows (retransmissions, duplicate ACKs, zero windows and the
// like: analysis.ts record()), kept for the ladder and the rules that cite packets. A mark is a row
// of typed-array columns, not an object: each flow holds a chain of its rows (first, last, count),
// linked oldest first through `next`, and gives the chain back to the free list when it is
// reported. A mark costs 44 bytes; a lossy flow's hundreds of them cost the collector nothing.

/** The end of a chain, and a flow with no marks. */
export const NO_MARK = -1;
/** Rows the columns start with; they double as they fill. */
const INITIAL_ROWS = 256;

/** A flow's chain of marks: its first and last rows and how many there are. */
export interface MarkChain {
  marksFirst: number;
  marksLast: number;
  markCount: number;
}

export class MarkStore {
  /** The marked packet, and for a duplicate ACK or a resend the packet it refers to (0: none). */
  no = new Float64Array(INITIAL_ROWS);
  dupAckNo = new Float64Array(INITIAL_ROWS);
  rtoNo = new Float64Array(INITIAL_ROWS);
  /** For a resend: time since the original segment (µs). */
  rto = new Float64Array(INITIAL_ROWS);
  /** The segment's kinds (SEG bits) << 2 | onAck << 1 | sender (0: client, 1: server). */
  bits = new Int32Array(INITIAL_ROWS);
  len = new Int32Array(INITIAL_ROWS);
  next = new Int32Array(INITIAL_ROWS);
  /** Rows ever taken, and the chain of rows given back. */
  private taken = 0;
  private free = NO_MARK;
  /** Rows in chains now (for tests of the free list). */
  live = 0;

  /** Appends a mark to `chain`; its row, to be filled by the caller. */
  append(chain: MarkChain): number {
    const row = this.take();
    this.next[row] = NO_MARK;
    if (chain.marksLast === NO_MARK) chain.marksFirst = row;
    else this.next[chain.marksLast] = row;
    chain.marksLast = row;
    chain.markCount++;
    return row;
  }

  /** The chain's rows go back to the free list; the chain is left empty. */
  release(chain: MarkChain): void {
    if (chain.marksFirst === NO_MARK) return;
    this.next[chain.marksLast] = this.free;
    this.free = chain.marksFirst;
    this.live -= chain.markCount;
    chain.marksFirst = chain.marksLast = NO_MARK;
    chain.markCount = 0;
  }

  private take(): number {
    this.live++;
    const row = this.free;
    if (row !== NO_MARK) {
      this.free = this.next[row];
      return row;
    }
    if (this.taken === this.no.length) this.grow();
    return this.taken++;
  }

  private grow(): void {
    const rows = this.no.length * 2;
    this.no = grown(this.no, new Float64Array(rows));
    this.dupAckNo = grown(this.dupAckNo, new Float64Array(rows));
    this.rtoNo = grown(this.rtoNo, new Float64Array(rows));
    this.rto = grown(this.rto, new Float64Array(rows));
    this.bits = grown(this.bits, new Int32Array(rows));
    this.len = grown(this.len, new Int32Array(rows));
    this.next = grown(this.next, new Int32Array(rows));
  }
}

function grown<T extends Float64Array | Int32Array>(old: T, to: T): T {
  to.set(old);
  return to;
}
