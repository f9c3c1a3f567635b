import type { Dir, StreamSink } from './sink.js';

// Ordered, de-duplicated payload delivery for one direction of a flow (gopacket's tcpassembly,
// Zeek's TCP_Reassembler). In-order segments are passed through as views without copying; only
// out-of-order segments are copied, and only up to the per-flow and global bounds.

/** Shared across all flows of one analysis so total buffered bytes stay bounded. */
export class ReassemblyBudget {
  buffered = 0;
  constructor(readonly maxTotal: number, readonly maxPerDirection: number) {}
}

interface PendingSegment {
  seq: number;
  data: Uint8Array;
  /** Bytes after `data` that the snap length cut off. */
  lost: number;
  no: number;
  ts: number;
}

export const REASSEMBLY_EVENT = {
  NONE: 0,
  LIMIT_HIT: 1,
} as const;

export class DirectionReassembler {
  /** Raw sequence number of the next byte to deliver; valid once `started`. */
  nextSeq = 0;
  started = false;
  /** Stream offset of nextSeq: bytes delivered and skipped so far, unwrapped past 4 GiB. */
  private offset = 0;
  pending: PendingSegment[] = [];
  pendingBytes = 0;
  /**
   * Bytes never seen that the peer acknowledged (Zeek's missed_bytes): holes the peer's ACK passed,
   * and bytes skipped for the sink (a tail the snap length cut, a hole at a FIN or past a bound)
   * once an ACK covers them.
   */
  missedBytes = 0;
  /** Bytes skipped for the sink that no ACK has covered yet, and the raw sequence number they end at. */
  private unackedSkipped = 0;
  private unackedSkippedEnd = 0;
  /** Raw sequence number of this direction's FIN, once seen: ACKs past it cover no byte. */
  private finSeq = -1;
  gaps = 0;
  /** Set once a bound was hit: the stream is partial from then on. */
  limitHit = false;
  closed = false;

  constructor(private readonly dir: Dir, private readonly budget: ReassemblyBudget) {}

  /** A new flow's stream in this direction: as newly made (the reassembler is kept with its flow slot). */
  restart(): void {
    this.nextSeq = 0;
    this.started = false;
    this.offset = 0;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.missedBytes = 0;
    this.unackedSkipped = 0;
    this.unackedSkippedEnd = 0;
    this.finSeq = -1;
    this.gaps = 0;
    this.limitHit = false;
    this.closed = false;
  }

  /** The ISN is known (SYN seen): stream offset 0 is isn + 1. */
  startAt(isnPlusOne: number): void {
    if (this.started) return;
    this.started = true;
    this.nextSeq = isnPlusOne >>> 0;
  }

  /**
   * Offer a segment's payload. `capturedEnd - off` may be shorter than `len` when the snap
   * length cut the packet; the missing tail is reported as a gap once later data or an ACK passes it.
   * Returns REASSEMBLY_EVENT.LIMIT_HIT the first time a bound is hit.
   */
  segment(sink: StreamSink, seq: number, len: number, bytes: Uint8Array, off: number, capturedEnd: number, no: number, ts: number): number {
    if (this.closed || len <= 0) return REASSEMBLY_EVENT.NONE;
    if (!this.started) this.startAt(seq);
    let rel = (seq - this.nextSeq) | 0;
    if (rel + len <= 0) return REASSEMBLY_EVENT.NONE; // entirely old: a retransmission of delivered bytes
    if (rel < 0) {
      // Partial overlap with delivered bytes: keep only the new tail.
      off -= rel;
      len += rel;
      seq = this.nextSeq;
      rel = 0;
    }
    const captured = Math.max(0, Math.min(capturedEnd - off, len));
    if (rel === 0) {
      this.deliver(sink, bytes, off, off + captured, no, ts);
      if (captured < len) this.skip(sink, len - captured, no, ts);
      if (this.pending.length > 0) this.drain(sink);
      return REASSEMBLY_EVENT.NONE;
    }
    // Out of order: buffer a copy if the bounds allow, otherwise declare the hole lost.
    if (this.pendingBytes + captured > this.budget.maxPerDirection || this.budget.buffered + captured > this.budget.maxTotal) {
      const first = !this.limitHit;
      this.limitHit = true;
      this.flush(sink, no, ts);
      this.skip(sink, (seq - this.nextSeq) | 0, no, ts);
      this.deliver(sink, bytes, off, off + captured, no, ts);
      if (captured < len) this.skip(sink, len - captured, no, ts);
      return first ? REASSEMBLY_EVENT.LIMIT_HIT : REASSEMBLY_EVENT.NONE;
    }
    this.insertPending({ seq, data: bytes.slice(off, off + captured), lost: len - captured, no, ts });
    return REASSEMBLY_EVENT.NONE;
  }

  /**
   * The peer acknowledged up to `ack`: bytes below it that never arrived are lost (a gap). After
   * this direction's FIN the stream is over for the sink, but an ACK still tells how many bytes
   * before the FIN the capture missed (Zeek trims such an ACK to the FIN).
   */
  acked(sink: StreamSink, ack: number, no: number, ts: number): void {
    if (!this.started) return;
    let upTo = ack >>> 0;
    if (this.closed) {
      if (this.finSeq < 0) return;
      if (((upTo - this.finSeq) | 0) > 0) upTo = this.finSeq;
    }
    const ahead = (upTo - this.nextSeq) | 0;
    if (ahead > 0 && ahead <= 0x40000000) {
      if (this.closed) {
        this.missedBytes += ahead;
        this.gaps++;
        this.nextSeq = upTo;
        this.offset += ahead;
      } else {
        // Deliver what is buffered below the ack, with gaps between, up to the ack.
        while (this.pending.length > 0 && ((this.pending[0].seq - upTo) | 0) < 0) {
          const p = this.pending[0];
          const hole = (p.seq - this.nextSeq) | 0;
          if (hole > 0) this.skip(sink, hole, no, ts, true);
          this.drain(sink);
        }
        const rest = (upTo - this.nextSeq) | 0;
        if (rest > 0) this.skip(sink, rest, no, ts, true);
      }
    }
    if (this.unackedSkipped > 0) {
      // The skipped bytes are taken as one stretch ending at unackedSkippedEnd: exact once the ACK
      // passes its end, which is when the count is final.
      const covered = Math.min(this.unackedSkipped, (upTo - ((this.unackedSkippedEnd - this.unackedSkipped) >>> 0)) | 0);
      if (covered > 0) {
        this.missedBytes += covered;
        this.unackedSkipped -= covered;
      }
    }
  }

  /** Deliver everything still buffered, with gaps between (end of flow). */
  flush(sink: StreamSink, no: number, ts: number): void {
    while (this.pending.length > 0) {
      const hole = (this.pending[0].seq - this.nextSeq) | 0;
      if (hole > 0) this.skip(sink, hole, no, ts);
      this.drain(sink);
    }
  }

  /** A FIN (at raw sequence number `finSeq`) or an RST (finSeq -1) ended this direction. */
  close(sink: StreamSink, no: number, ts: number, finSeq = -1): void {
    if (this.closed) return;
    this.flush(sink, no, ts);
    this.closed = true;
    this.finSeq = finSeq;
  }

  private deliver(sink: StreamSink, bytes: Uint8Array, off: number, end: number, no: number, ts: number): void {
    if (end <= off) return;
    sink.onData(this.dir, bytes, off, end, this.offset, no, ts);
    this.nextSeq = (this.nextSeq + (end - off)) >>> 0;
    this.offset += end - off;
  }

  /** Tells the sink `length` bytes were not seen; they count as missed once an ACK covers them (`acked`: it already did). */
  private skip(sink: StreamSink, length: number, no: number, ts: number, acked = false): void {
    if (length <= 0) return;
    sink.onGap(this.dir, this.offset, length, no, ts);
    this.nextSeq = (this.nextSeq + length) >>> 0;
    this.offset += length;
    if (acked) this.missedBytes += length;
    else {
      this.unackedSkipped += length;
      this.unackedSkippedEnd = this.nextSeq;
    }
    this.gaps++;
  }

  /** Deliver buffered segments that are now contiguous. */
  private drain(sink: StreamSink): void {
    while (this.pending.length > 0) {
      const p = this.pending[0];
      const rel = (p.seq - this.nextSeq) | 0;
      if (rel > 0) return;
      this.pending.shift();
      this.pendingBytes -= p.data.length;
      this.budget.buffered -= p.data.length;
      const skipFront = -rel;
      if (skipFront < p.data.length) this.deliver(sink, p.data, skipFront, p.data.length, p.no, p.ts);
      if (p.lost > 0) this.skip(sink, p.lost, p.no, p.ts);
    }
  }

  private insertPending(seg: PendingSegment): void {
    let i = this.pending.length;
    while (i > 0 && ((this.pending[i - 1].seq - seg.seq) | 0) > 0) i--;
    const prev = this.pending[i - 1];
    if (prev && prev.seq === seg.seq && prev.data.length >= seg.data.length) return; // a copy of a buffered segment: the first copy's bytes stand
    this.pending.splice(i, 0, seg);
    this.pendingBytes += seg.data.length;
    this.budget.buffered += seg.data.length;
  }

  /** Release buffered bytes from the global budget (flow finished). */
  release(): void {
    this.budget.buffered -= this.pendingBytes;
    this.pendingBytes = 0;
    this.pending.length = 0;
  }
}
