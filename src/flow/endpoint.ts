// Per-direction TCP state, as Zeek tracks it (TCP_Endpoint): each side has its own state,
// initial sequence number, highest sequence seen and highest ack received.

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

export class Endpoint {
  state: EndpointState = EP.INACTIVE;
  prevState: EndpointState = EP.INACTIVE;
  /** Sequence numbers are raw 32-bit values; relative ones are seqDiff(x, startSeq). */
  startSeq = 0;
  lastSeq = 0;
  ackSeq = 0;
  finSeqRel = 0;
  synCount = 0;
  finCount = 0;
  rstCount = 0;
  didClose = false;
  /** Window scale shift from this side's SYN, -1 until known. */
  windowScale = -1;
  /** Zeek history bookkeeping. */
  histLastSyn = 0;
  histLastFin = 0;
  histLastRst = 0;
  gapCount = 0;
  gapThresh = 1;
  rxmitCount = 0;
  rxmitThresh = 1;
  zeroWinCount = 0;
  checksumErrors = 0;
  checksumThresh = 1;
  zeroWinThresh = 1;

  // --- facts for verdicts and reports ---
  packets = 0;
  /** IP datagram bytes (headers and payload, as each IP header gives its length), like Zeek's *_ip_bytes. */
  ipBytes = 0;
  /** TCP payload bytes, counting retransmissions (like tshark's tcp.len sum). */
  payloadBytes = 0;
  firstPacketNo = 0;
  firstTs = 0;
  lastTs = 0;
  firstDataNo = 0;
  firstDataTs = 0;
  lastDataNo = 0;
  lastDataTs = 0;
  firstFinNo = 0;
  firstFinTs = 0;
  firstRstNo = 0;
  firstRstTs = 0;
  /** Handshake options as sent in this side's SYN or SYN-ACK (-1 / false when absent). */
  mss = -1;
  sackPermitted = false;
  timestamps = false;
  ttl = -1;
  synWindow = -1;
  /** Bytes that were never seen but were acknowledged (Zeek missed_bytes). */
  missedBytes = 0;
  /** This side's first ACK number (raw; set once firstAckNo is), and how far its later ACKs went past it: bytes and FIN of the peer it acknowledged. */
  firstAckNo = 0;
  firstAckSeq = 0;
  ackedPeerBytes = 0;

  // --- the same segment captured twice (see isCopyOfPrevious) ---
  prevNo = 0;
  prevTs = 0;
  prevIpId = -1;
  prevTtl = 0;
  prevSeq = 0;
  prevAck = 0;
  /** flags | payload length << 8 */
  prevFlagsLen = -1;
  prevWindow = -1;
  prevTsVal = 0;
  /** Segments that were copies of the one before them, and how many of those carried payload or were bare ACKs. */
  copies = 0;
  dataCopies = 0;
  ackCopies = 0;
  /** The first copy and the packet it repeats; the widest gap between a copy and its original (µs); TTL change at the first copy. */
  firstCopyNo = 0;
  firstCopyOfNo = 0;
  copyMaxGap = 0;
  copyTtlChange = 0;

  /** Zeek's Size(): highest of last seq / ack seq minus the ISN, less SYN and FIN octets. */
  size(peer: Endpoint): number {
    if (this.prevState === EP.SYN_SENT && this.state === EP.RESET && peer.state === EP.INACTIVE) return 0;
    const last = (this.lastSeq - this.startSeq) | 0;
    const ack = (this.ackSeq - this.startSeq) | 0;
    let size = Math.max(last, ack);
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
