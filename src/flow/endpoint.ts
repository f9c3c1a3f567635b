import { defineColumns, defineRareColumns, putInitial, type ColumnView, type RareColumnView, type RareRow } from './columns.js';

// Per-direction TCP state, as Zeek tracks it (TCP_Endpoint): each side has its own state,
// initial sequence number, highest sequence seen and highest ack received. An Endpoint is a view
// over its part of the flow's row in the flow table's columns (columns.ts).

export const EP = {
  INACTIVE: 0,
  SYN_SENT: 1,
  SYN_ACK_SENT: 2,
  PARTIAL: 3,
  ESTABLISHED: 4,
  CLOSED: 5,
  RESET: 6,
} as const;
export type EndpointState = (typeof EP)[keyof typeof EP];

export class Endpoint implements ColumnView, RareColumnView {
  declare state: EndpointState;
  declare prevState: EndpointState;
  /** Sequence numbers are raw 32-bit values; relative ones are seqDiff(x, startSeq). */
  declare startSeq: number;
  declare lastSeq: number;
  declare ackSeq: number;
  /**
   * How far lastSeq and ackSeq lie past startSeq, unwrapped: a connection may carry more than
   * 4 GiB, where the 32-bit numbers alone repeat (Zeek counts the wraps for the same reason).
   */
  declare lastSeqOffset: number;
  declare ackSeqOffset: number;
  declare finCount: number;
  declare rstCount: number;
  declare didClose: boolean;
  /** Window scale shift from this side's SYN, -1 until known. */
  declare windowScale: number;
  /** Zeek history bookkeeping. */
  declare histLastSyn: number;
  declare histLastFin: number;
  declare histLastRst: number;
  declare gapCount: number;
  declare gapThresh: number;
  declare rxmitCount: number;
  declare rxmitThresh: number;
  declare zeroWinCount: number;
  declare checksumErrors: number;
  declare checksumThresh: number;
  declare zeroWinThresh: number;

  // --- facts for verdicts and reports ---
  declare packets: number;
  /** IP datagram bytes (headers and payload, as each IP header gives its length), like Zeek's *_ip_bytes. */
  declare ipBytes: number;
  /** TCP payload bytes, counting retransmissions (like tshark's tcp.len sum). */
  declare payloadBytes: number;
  declare firstPacketNo: number;
  declare firstTs: number;
  declare lastTs: number;
  declare firstDataNo: number;
  declare firstDataTs: number;
  declare lastDataNo: number;
  declare lastDataTs: number;
  declare firstFinNo: number;
  declare firstFinTs: number;
  /** The acknowledgement number the first FIN carried (-1: it carried none). */
  declare firstFinAck: number;
  declare firstRstNo: number;
  declare firstRstTs: number;
  /** The acknowledgement number the first RST carried (-1: it carried none). */
  declare firstRstAck: number;
  /** The first RST carried an ACK and sequence number 0: the answer a closed port gives a SYN (RFC 9293 3.10.7.1). */
  declare firstRstAnswersSyn: boolean;
  /**
   * The first RST answered the peer's segment (its acknowledgement as the RST's sequence number)
   * before the handshake completed: a TCP in SYN-SENT answers an unacceptable ACK so, with or without
   * an ACK of its own (RFC 9293 3.10.7.3; lwIP sets one), and one in SYN-RECEIVED without (3.10.7.4),
   * and either keeps its attempt, so what the side sends after it proves nothing.
   */
  declare firstRstKeepsConnection: boolean;
  /** This side's first packet other than an RST after its first RST (0: none): that RST was not its TCP's. */
  declare sentAfterRstNo: number;
  declare sentAfterRstTs: number;
  /** When this side last sent a packet other than an RST, and that packet's IPv4 ID (0: none). */
  declare lastOtherThanRstTs: number;
  declare lastOtherThanRstIpId: number;
  /** The first of the RSTs after this side's last other packet (0: its last packet is no RST), and the acknowledgement number it carried (-1: none). */
  declare finalRstNo: number;
  declare finalRstTs: number;
  declare finalRstAck: number;
  /**
   * That RST answers the peer's last segment as a TCP holding no connection for it does: no ACK, and
   * the segment's acknowledgement number as its sequence number (RFC 9293 3.10.7.1).
   */
  declare finalRstAnswersSegment: boolean;
  /** It answers so a segment the peer sent after its own RST. */
  declare finalRstAnswersStray: boolean;
  /** That RST looks like the first RST rather than this side's own packets (flow.ts likeFirstRst). */
  declare finalRstLikeFirst: boolean;
  /** The first RST's IPv4 ID (0: none) and TTL. */
  declare firstRstIpId: number;
  declare firstRstTtl: number;
  /** Handshake options as sent in this side's SYN or SYN-ACK (-1 / false when absent). */
  declare mss: number;
  declare sackPermitted: boolean;
  declare timestamps: boolean;
  declare ttl: number;
  declare synWindow: number;
  /** Bytes that were never seen but were acknowledged (Zeek missed_bytes). */
  declare missedBytes: number;
  /** This side's first ACK number (raw; set once firstAckNo is), and how far its later ACKs went past it: bytes and FIN of the peer it acknowledged. */
  declare firstAckNo: number;
  declare firstAckSeq: number;
  declare ackedPeerBytes: number;

  // --- the same segment captured twice (see isCopyOfPrevious) ---
  declare prevNo: number;
  declare prevTs: number;
  declare prevIpId: number;
  declare prevTtl: number;
  declare prevSeq: number;
  declare prevAck: number;
  /** flags | payload length << 8 */
  declare prevFlagsLen: number;
  declare prevWindow: number;
  declare prevTsVal: number;
  /** Segments that were copies of the one before them, and how many of those carried payload or were bare ACKs. */
  declare copies: number;
  declare dataCopies: number;
  declare ackCopies: number;
  /** The first copy and the packet it repeats; the widest gap between a copy and its original (µs); TTL change at the first copy. */
  declare firstCopyNo: number;
  declare firstCopyOfNo: number;
  declare firstCopyTs: number;
  declare copyMaxGap: number;
  declare copyTtlChange: number;

  // --- the first of this side's handshake packets (see handshake-log.ts) ---
  declare handshakePackets: number;
  declare handshakeFirstNo: number;
  declare handshakeFirstTs: number;
  declare handshakeFirstSeq: number;
  declare handshakeFirstIpId: number;

  constructor(
    readonly n: Float64Array,
    readonly at: number,
    readonly rare: RareRow,
    readonly rareAt: number,
  ) {}

  /** Zeek's Size(): highest of last seq / ack seq minus the ISN, less SYN and FIN octets. */
  size(peer: Endpoint): number {
    if (this.prevState === EP.SYN_SENT && this.state === EP.RESET && peer.state === EP.INACTIVE) return 0;
    let size = Math.max(this.lastSeqOffset, this.ackSeqOffset);
    if (size < 0) size = 0;
    if (size !== 0) size--;
    if (this.finCount > 0 && size !== 0) size--;
    return size;
  }

  setState(s: EndpointState): void {
    if (s !== this.state) {
      this.prevState = this.state;
      this.state = s;
    }
  }
}

const ENDPOINT_INITIAL = {
  state: EP.INACTIVE,
  prevState: EP.INACTIVE,
  startSeq: 0,
  lastSeq: 0,
  ackSeq: 0,
  lastSeqOffset: 0,
  ackSeqOffset: 0,
  finCount: 0,
  didClose: false,
  windowScale: -1,
  histLastSyn: 0,
  histLastFin: 0,
  histLastRst: 0,
  packets: 0,
  ipBytes: 0,
  payloadBytes: 0,
  firstPacketNo: 0,
  firstTs: 0,
  lastTs: 0,
  firstDataNo: 0,
  firstDataTs: 0,
  lastDataNo: 0,
  lastDataTs: 0,
  firstFinNo: 0,
  firstFinTs: 0,
  firstFinAck: -1,
  lastOtherThanRstTs: 0,
  lastOtherThanRstIpId: 0,
  mss: -1,
  sackPermitted: false,
  timestamps: false,
  ttl: -1,
  synWindow: -1,
  firstAckNo: 0,
  firstAckSeq: 0,
  ackedPeerBytes: 0,
  prevNo: 0,
  prevTs: 0,
  prevIpId: -1,
  prevTtl: 0,
  prevSeq: 0,
  prevAck: 0,
  prevFlagsLen: -1,
  prevWindow: -1,
  prevTsVal: 0,
  handshakePackets: 0,
  handshakeFirstNo: 0,
  handshakeFirstTs: 0,
  handshakeFirstSeq: 0,
  handshakeFirstIpId: -1,
};
/**
 * The numbers most flows never change (resets, copies, gaps, retransmission and zero-window counts):
 * kept in the slot's RareRow, which a flow takes the first time one of them changes.
 */
const ENDPOINT_RARE_INITIAL = {
  gapCount: 0,
  gapThresh: 1,
  rxmitCount: 0,
  rxmitThresh: 1,
  zeroWinCount: 0,
  checksumErrors: 0,
  checksumThresh: 1,
  zeroWinThresh: 1,
  rstCount: 0,
  firstRstNo: 0,
  firstRstTs: 0,
  firstRstAck: -1,
  firstRstAnswersSyn: false,
  firstRstKeepsConnection: false,
  sentAfterRstNo: 0,
  sentAfterRstTs: 0,
  finalRstNo: 0,
  finalRstTs: 0,
  finalRstAck: -1,
  finalRstAnswersSegment: false,
  finalRstAnswersStray: false,
  finalRstLikeFirst: false,
  firstRstIpId: 0,
  firstRstTtl: -1,
  missedBytes: 0,
  copies: 0,
  dataCopies: 0,
  ackCopies: 0,
  firstCopyNo: 0,
  firstCopyOfNo: 0,
  firstCopyTs: 0,
  copyMaxGap: 0,
  copyTtlChange: 0,
};
/** Numbers per endpoint in a flow's row, and in its rare row. */
export const ENDPOINT_FIELDS = defineColumns(Endpoint.prototype, ENDPOINT_INITIAL);
export const ENDPOINT_RARE_FIELDS = defineRareColumns(Endpoint.prototype, ENDPOINT_RARE_INITIAL);
/** The names of an endpoint's numbers kept in the rare row. */
export const ENDPOINT_RARE_NAMES = Object.keys(ENDPOINT_RARE_INITIAL) as (keyof typeof ENDPOINT_RARE_INITIAL)[];

/** Writes a new endpoint's numbers into `row` from `at`. */
export function initialEndpoint(row: Float64Array, at: number): void {
  putInitial(row, at, ENDPOINT_INITIAL);
}

/** Writes a new endpoint's rare numbers into a rare row from `at`. */
export function initialRareEndpoint(row: Float64Array, at: number): void {
  putInitial(row, at, ENDPOINT_RARE_INITIAL);
}
