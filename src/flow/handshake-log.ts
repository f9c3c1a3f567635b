import { wholeNumber } from './columns.js';
import type { Endpoint } from './endpoint.js';

// The SYNs a flow's originator sent, or the SYN-ACKs of its responder: what the retry and
// late-answer verdicts count and time. Nearly every flow has one of each, so the first lives in
// the endpoint's row and only a retry makes an array.

/** At most this many SYN / SYN-ACK packets are remembered per side (retry facts). */
const MAX_HANDSHAKE_PACKETS = 32;
/** Numbers per packet after the first: packet number, time, sequence number, IPv4 ID. */
const STRIDE = 4;

export interface HandshakePacket {
  no: number;
  ts: number;
  seq: number;
  /** IPv4 ID, -1 without one (IPv6, or ID 0): what tells a late copy of the SYN from a retry. */
  ipId: number;
}

/** One side's handshake packets, in the order seen. A view like Endpoint: made once per flow slot. */
export class HandshakeLog {
  /** The packets after the first, STRIDE numbers each; null until a second one comes. */
  private more: number[] | null = null;

  constructor(private readonly side: Endpoint) {}

  get length(): number {
    return this.side.handshakePackets;
  }

  /** A new flow took the slot (its row is already reset). */
  clear(): void {
    this.more = null;
  }

  /** The packets after the first (null when none), as restore() takes them back: the rest of the log is in the row. */
  get extra(): number[] | null {
    return this.more;
  }

  /** The slot takes a parked flow whose row holds the first packet: `extra` are its others. */
  restore(extra: number[] | null): void {
    this.more = extra;
  }

  push(no: number, ts: number, seq: number, ipId: number): void {
    const count = this.side.handshakePackets;
    if (count >= MAX_HANDSHAKE_PACKETS) return;
    if (count === 0) {
      this.side.handshakeFirstNo = no;
      this.side.handshakeFirstTs = ts;
      this.side.handshakeFirstSeq = seq;
      this.side.handshakeFirstIpId = ipId;
    } else (this.more ??= []).push(no, ts, seq, ipId);
    this.side.handshakePackets = count + 1;
  }

  no(i: number): number {
    return i === 0 ? this.side.handshakeFirstNo : this.more![(i - 1) * STRIDE];
  }

  ts(i: number): number {
    return i === 0 ? this.side.handshakeFirstTs : this.more![(i - 1) * STRIDE + 1];
  }

  seq(i: number): number {
    return i === 0 ? this.side.handshakeFirstSeq : this.more![(i - 1) * STRIDE + 2];
  }

  ipId(i: number): number {
    return i === 0 ? this.side.handshakeFirstIpId : this.more![(i - 1) * STRIDE + 3];
  }

  /** The latest packet's time and sequence number (the log must not be empty). */
  lastTs(): number {
    return this.ts(this.length - 1);
  }

  lastSeq(): number {
    return this.seq(this.length - 1);
  }

  /** The packets as records, for facts: an array of their exact number, and small integers where the row's doubles fit one (see wholeNumber). */
  packets(): HandshakePacket[] {
    const out = new Array<HandshakePacket>(this.length);
    for (let i = 0; i < out.length; i++) out[i] = { no: wholeNumber(this.no(i)), ts: this.ts(i), seq: this.seq(i), ipId: wholeNumber(this.ipId(i)) };
    return out;
  }

  /** The roles flipped: the endpoints' rows were swapped, and the later packets go with them. */
  swapWith(other: HandshakeLog): void {
    const m = this.more;
    this.more = other.more;
    other.more = m;
  }
}
