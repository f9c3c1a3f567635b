// Per-flow timing facts gathered segment by segment from capture timestamps only: RTT samples
// (ACKs of data, TS echo), the longest silence, server think time, zero-window episodes and the
// request that never got an answer. All state is numbers on one object per flow; nothing is
// allocated per packet.

/** Running statistics of one kind of sample (µs). */
export class SampleStats {
  count = 0;
  min = 0;
  max = 0;
  sum = 0;
  maxNo = 0;

  add(value: number, no: number): void {
    if (this.count === 0 || value < this.min) this.min = value;
    if (this.count === 0 || value > this.max) {
      this.max = value;
      this.maxNo = no;
    }
    this.count++;
    this.sum += value;
  }

  toJson(): { samples: number; minMs: number; avgMs: number; maxMs: number; maxPacket: number } | null {
    if (this.count === 0) return null;
    return { samples: this.count, minMs: toMs(this.min), avgMs: toMs(this.sum / this.count), maxMs: toMs(this.max), maxPacket: this.maxNo };
  }
}

/** Timing of one side (the sender of the data the samples are about). */
export class SideTiming {
  /** From an ACK that exactly covers one of this side's segments (Wireshark's tcp.analysis.ack_rtt). */
  readonly ackRtt = new SampleStats();
  /** From the peer echoing this side's TSval (RFC 7323). */
  readonly tsEchoRtt = new SampleStats();
  /** TSval first sent at tsPendingTs, waiting for the peer's echo (0 = nothing pending). */
  tsPendingVal = 0;
  tsPendingTs = 0;
  tsPending = false;
  lastTsVal = -1;
  /** Data retransmissions since the peer's ACK last covered one of this side's segments. */
  retransSinceProgress = 0;

  /** Zero window advertised by this side: the current episode and the totals. */
  zeroSinceNo = 0;
  zeroSinceTs = 0;
  zeroEpisodes = 0;
  zeroLongest = 0;
  zeroLongestFromNo = 0;
  zeroTotal = 0;
  reopenedNo = 0;
  reopenedTs = 0;
  /** Probes the peer sent while this side's window was zero. */
  probesWhileZero = 0;
}

export class FlowTiming {
  readonly side: [SideTiming, SideTiming] = [new SideTiming(), new SideTiming()];

  /** Handshake: the last SYN, the last SYN-ACK, and the first ACK after a SYN-ACK. */
  synTs = 0;
  synAckTs = 0;
  handshakeAckTs = 0;

  /** Longest silence between two consecutive packets of the flow. */
  lastPacketTs = 0;
  lastPacketNo = 0;
  idleLongest = 0;
  idleFromNo = 0;
  idleToNo = 0;

  /** Longest silence before the first FIN or RST, measured from the last packet before it. */
  closeNo = 0;
  closeTs = 0;
  closeSide = -1;
  closeWasRst = false;
  idleBeforeClose = 0;
  idleBeforeCloseFromNo = 0;
  lastDataTs = 0;
  lastDataNo = 0;
  /** The last payload packet before the close. */
  closeLastDataNo = 0;
  closeLastDataTs = 0;

  /** Request/response turns; the client side index is fixed when the flow is summarised. */
  requestSide = -1;
  requestEndNo = 0;
  requestEndTs = 0;
  requestEndSeq = 0;
  requestAckedNo = 0;
  requestAckedTs = 0;
  awaitingResponse = false;
  readonly think = new SampleStats();
  firstThink = -1;
  firstThinkNo = 0;
  /** Times the client went on sending after a second or more without an answer. */
  silentResumes = 0;
  /** The server sent data after one of those: silence is part of its protocol, not a hang. */
  serverSpokeAfterResume = false;
  /** A close (FIN/RST) from the side that sent the unanswered request. */
  gaveUpNo = 0;
  gaveUpTs = 0;
  gaveUpRst = false;

  /** Retransmission timeouts: the time since the original segment, per retransmission. */
  readonly rto = new SampleStats();
  worstRtoOriginalNo = 0;
}

export function toMs(micros: number): number {
  return Math.round(micros) / 1000;
}
