// Per-flow timing facts gathered segment by segment from capture timestamps only: RTT samples
// (ACKs of data, TS echo), the longest silence, server think time, zero-window episodes and the
// request that never got an answer. Nothing is allocated per packet.
//
// All of a flow's timing numbers live in its row of the flow table's columns (columns.ts), as
// unboxed doubles. FlowTiming, SideTiming and SampleStats are views over their parts of the row;
// the fields below are declared for the type checker and read and written through accessors made
// by `defineColumns` (`defineRareColumns` for those in the rare row), so the code that uses them
// reads like plain field access.

import { Columns, defineColumns, defineRareColumns, putInitial, RareRow, swapNumbers } from './columns.js';

/** Running statistics of one kind of sample (µs). */
export class SampleStats {
  declare readonly count: number;
  declare readonly min: number;
  declare readonly max: number;
  declare readonly sum: number;
  /** Packet of the largest sample. */
  declare readonly maxNo: number;

  constructor(
    readonly n: Float64Array,
    readonly at: number,
  ) {}

  add(value: number, no: number): void {
    const n = this.n;
    const a = this.at;
    const count = n[a];
    if (count === 0 || value < n[a + 1]) n[a + 1] = value;
    if (count === 0 || value > n[a + 2]) {
      n[a + 2] = value;
      n[a + 4] = no;
    }
    n[a] = count + 1;
    n[a + 3] += value;
  }

  toJson(): { samples: number; minMs: number; avgMs: number; maxMs: number; maxPacket: number } | null {
    if (this.count === 0) return null;
    return { samples: this.count, minMs: toMs(this.min), avgMs: toMs(this.sum / this.count), maxMs: toMs(this.max), maxPacket: this.maxNo };
  }
}
const STATS_SLOTS = defineColumns(SampleStats.prototype, { count: 0, min: 0, max: 0, sum: 0, maxNo: 0 });

/** Timing of one side (the sender of the data the samples are about). */
export class SideTiming {
  /** From an ACK that exactly covers one of this side's segments (Wireshark's tcp.analysis.ack_rtt). */
  readonly ackRtt: SampleStats;
  /** From the peer echoing this side's TSval (RFC 7323). */
  readonly tsEchoRtt: SampleStats;
  /** Smallest ACK RTT of a segment after the SYN (-1: none), and its ACK: the path without the handshake. */
  declare dataRttMin: number;
  declare dataRttMinNo: number;
  /** TSval first sent at tsPendingTs, waiting for the peer's echo (tsPending false: nothing pending). */
  declare tsPendingVal: number;
  declare tsPendingTs: number;
  declare tsPending: boolean;
  declare lastTsVal: number;
  /** Data retransmissions since the peer's ACK last covered one of this side's segments. */
  declare retransSinceProgress: number;
  /** The first of those retransmissions: where the silence they answer to began. */
  declare retransRunFirstNo: number;
  declare retransRunFirstTs: number;
  /** Of those, FINs sent again alone (not a copy the capture holds twice, nor a packet replayed after the clock stepped back). */
  declare finResendsSinceProgress: number;
  /** Payload bytes of the largest segment of this side the peer acknowledged whole (its original length; 0: none). */
  declare largestAckedSegment: number;
  /**
   * This side's last new data segment: its end, length, time and packet, and when the peer's bare
   * ACK first covered it (0: not yet; -1: the peer sent data first). See noteHeldSegment.
   */
  declare lastSentEnd: number;
  declare lastSentLen: number;
  declare lastSentTs: number;
  declare lastSentNo: number;
  declare lastSentAckTs: number;
  declare lastSentAckNo: number;
  declare lastSentAckTsVal: number;
  /** The peer's ACK covers this side's last new data segment; and whether this side ever sent a small segment while its last was uncovered (Nagle off). */
  declare lastSentCovered: boolean;
  declare sentSmallUnacked: boolean;
  /** The last segment held until a delayed ACK released it, waiting for the peer's answer to count (0: none). */
  declare heldPendingNo: number;
  declare heldPendingTs: number;
  declare heldPendingWait: number;
  declare heldPendingAfterNo: number;
  declare heldPendingAckNo: number;
  /** Segments held until a delayed ACK released them (Nagle) and then answered, their total wait, and the longest with its packets. */
  declare heldSegments: number;
  declare heldTotal: number;
  declare heldLongest: number;
  declare heldLongestNo: number;
  declare heldLongestAfterNo: number;
  declare heldLongestAckNo: number;

  /**
   * This side's first data segment (its raw sequence number, -1 before it, and length), and its
   * second when that one skipped past bytes never captured (earlyHoleNo 0: not yet seen; -1: it
   * skipped none), with its time after the first (the first's own time until the second comes).
   */
  declare firstDataSeq: number;
  declare firstDataLen: number;
  declare earlyHoleNo: number;
  declare earlyHoleAfter: number;
  declare earlyHoleSeq: number;
  declare earlyHoleLen: number;

  /**
   * A queue this side's data built on the path (see noteQueueRise): when the floor (dataRttMin) was
   * measured and the ACK number then; the last RTT sample's time, and since the floor the longest
   * time between two samples and the most bytes in flight after one; and the largest RTT since the
   * floor of a segment sent once, with its ACK's packet, time and ACK number, and the longest gap
   * and the most bytes in flight up to it (riseNo 0: none).
   */
  declare floorTs: number;
  /** When this side last sent data again: a segment sent before then may be what an ACK answers in a resent copy. */
  declare lastResendTs: number;
  declare floorAck: number;
  declare lastSampleTs: number;
  declare sampleGapSinceFloor: number;
  declare inFlightSinceFloor: number;
  declare riseRtt: number;
  declare riseNo: number;
  declare riseTs: number;
  declare riseAck: number;
  declare riseInFlight: number;
  declare riseSampleGap: number;

  /** Zero window advertised by this side: the current episode and the totals. */
  declare zeroSinceNo: number;
  declare zeroSinceTs: number;
  declare zeroEpisodes: number;
  declare zeroLongest: number;
  declare zeroLongestFromNo: number;
  declare zeroTotal: number;
  declare reopenedNo: number;
  /** Probes the peer sent while this side's window was zero. */
  declare probesWhileZero: number;

  constructor(
    readonly n: Float64Array,
    readonly at: number,
    readonly rare: RareRow,
    readonly rareAt: number,
  ) {
    this.ackRtt = new SampleStats(n, at + SIDE_OWN_SLOTS);
    this.tsEchoRtt = new SampleStats(n, at + SIDE_OWN_SLOTS + STATS_SLOTS);
  }
}
const SIDE_INITIAL = {
  dataRttMin: -1,
  dataRttMinNo: 0,
  tsPendingVal: 0,
  tsPendingTs: 0,
  tsPending: false,
  lastTsVal: -1,
  largestAckedSegment: 0,
  lastSentEnd: 0,
  lastSentLen: 0,
  lastSentTs: 0,
  lastSentNo: 0,
  lastSentAckTs: 0,
  lastSentAckNo: 0,
  lastSentAckTsVal: -1,
  lastSentCovered: false,
  sentSmallUnacked: false,
  firstDataSeq: -1,
  firstDataLen: 0,
  earlyHoleNo: 0,
  earlyHoleAfter: 0,
  earlyHoleSeq: 0,
  earlyHoleLen: 0,
  floorTs: 0,
  floorAck: 0,
  lastSampleTs: 0,
  sampleGapSinceFloor: 0,
  inFlightSinceFloor: 0,
  riseRtt: 0,
  riseNo: 0,
  riseTs: 0,
  riseAck: 0,
  riseInFlight: 0,
  riseSampleGap: 0,
};
/** Retransmission runs, held segments and zero windows, which most flows never have: in the rare row (columns.ts RareRow). */
const SIDE_RARE_INITIAL = {
  retransSinceProgress: 0,
  retransRunFirstNo: 0,
  retransRunFirstTs: 0,
  finResendsSinceProgress: 0,
  lastResendTs: 0,
  heldPendingNo: 0,
  heldPendingTs: 0,
  heldPendingWait: 0,
  heldPendingAfterNo: 0,
  heldPendingAckNo: 0,
  heldSegments: 0,
  heldTotal: 0,
  heldLongest: 0,
  heldLongestNo: 0,
  heldLongestAfterNo: 0,
  heldLongestAckNo: 0,
  zeroSinceNo: 0,
  zeroSinceTs: 0,
  zeroEpisodes: 0,
  zeroLongest: 0,
  zeroLongestFromNo: 0,
  zeroTotal: 0,
  reopenedNo: 0,
  probesWhileZero: 0,
};
const SIDE_OWN_SLOTS = defineColumns(SideTiming.prototype, SIDE_INITIAL);
const SIDE_RARE_SLOTS = defineRareColumns(SideTiming.prototype, SIDE_RARE_INITIAL);
/** The names of a side's numbers kept in the rare row. */
export const SIDE_RARE_NAMES = Object.keys(SIDE_RARE_INITIAL) as (keyof typeof SIDE_RARE_INITIAL)[];
const SIDE_SLOTS = SIDE_OWN_SLOTS + 2 * STATS_SLOTS;

export class FlowTiming {
  readonly side: [SideTiming, SideTiming];

  /** Handshake: the last SYN, the last SYN-ACK, and the first ACK after a SYN-ACK. */
  declare synTs: number;
  declare synAckTs: number;
  declare handshakeAckTs: number;

  /** Latest timestamp so far (-Infinity before the first packet: times can be 0 or negative): a packet stamped before it came after a step back in the capture's clock. */
  declare latestTs: number;
  /** Packets stamped no later than the latest packet its 4-tuple already carried. */
  declare packetsBackInTime: number;
  /** Longest silence between two consecutive packets of the flow. */
  declare lastPacketTs: number;
  declare lastPacketNo: number;
  declare idleLongest: number;
  declare idleFromNo: number;
  declare idleToNo: number;

  /** Longest silence before the first FIN or RST, measured from the last packet before it. */
  declare closeNo: number;
  declare closeTs: number;
  declare closeSide: number;
  declare closeWasRst: boolean;
  declare idleBeforeClose: number;
  declare idleBeforeCloseFromNo: number;
  declare lastDataTs: number;
  declare lastDataNo: number;
  /** The last payload packet before the close. */
  declare closeLastDataNo: number;
  declare closeLastDataTs: number;

  /** Request/response turns. */
  declare requestEndNo: number;
  declare requestEndTs: number;
  declare requestEndSeq: number;
  declare requestAckedNo: number;
  declare requestAckedTs: number;
  declare awaitingResponse: boolean;
  /** Server think time: from the end of a request to the first byte of its answer. */
  readonly think: SampleStats;
  declare firstThink: number;
  declare firstThinkNo: number;
  /**
   * The request of the first and of the slowest turn, and the server's ACK of it before the answer
   * (0: the answer itself acknowledged it) with the time it took.
   */
  declare firstThinkRequestNo: number;
  declare firstThinkAckNo: number;
  declare firstThinkAckDelay: number;
  declare maxThinkRequestNo: number;
  declare maxThinkAckNo: number;
  declare maxThinkAckDelay: number;
  /** The open request is one byte, the client's first data in a flow seen from mid-stream: maybe a keep-alive probe. */
  declare requestLoneByte: boolean;
  /** Times the client went on sending after a second or more without an answer. */
  declare silentResumes: number;
  /** The server sent data after one of those: silence is part of its protocol, not a hang. */
  declare serverSpokeAfterResume: boolean;
  /** Where the server's sequence numbers stood when the request ended (the request's ACK number; -1 unknown), and the highest the capture saw the server send (-1 none). */
  declare requestServerSeq: number;
  declare serverSeenEnd: number;
  /** A packet proving the server sent something after the request that the capture does not hold (its sequence number jumped, or the client acknowledged it). */
  declare unseenAnswerNo: number;
  /** A close (FIN/RST) from the side that sent the unanswered request. */
  declare gaveUpNo: number;
  declare gaveUpTs: number;
  declare gaveUpRst: boolean;

  /** Retransmission timeouts: the time since the original segment, per retransmission. */
  readonly rto: SampleStats;
  declare worstRtoOriginalNo: number;

  /**
   * A view over the timing numbers from `at` in `n` (see initialTiming) and from `rareAt` in the rare
   * row (initialRareTiming); without them, over numbers of its own.
   */
  constructor(
    readonly n: Float64Array = ownTiming(),
    readonly at = 0,
    readonly rare: RareRow = ownRareTiming(),
    readonly rareAt = 0,
  ) {
    this.think = new SampleStats(n, at + FLOW_OWN_SLOTS);
    this.rto = new SampleStats(n, at + FLOW_OWN_SLOTS + STATS_SLOTS);
    const sides = at + FLOW_OWN_SLOTS + 2 * STATS_SLOTS;
    const rareSides = rareAt + FLOW_RARE_SLOTS;
    this.side = [new SideTiming(n, sides, rare, rareSides), new SideTiming(n, sides + SIDE_SLOTS, rare, rareSides + SIDE_RARE_SLOTS)];
  }

  /** The client's numbers become the server's and the other way round (see Flow.turnRoles). */
  swapSides(): void {
    const [a, b] = this.side;
    swapNumbers(this.n, a.at, b.at, SIDE_SLOTS);
    const r = this.rare;
    if (r.n !== null) swapNumbers(r.n, r.at + a.rareAt, r.at + b.rareAt, SIDE_RARE_SLOTS);
  }
}
const FLOW_INITIAL = {
  synTs: 0,
  synAckTs: 0,
  handshakeAckTs: 0,
  latestTs: -Infinity,
  lastPacketTs: 0,
  lastPacketNo: 0,
  idleLongest: 0,
  idleFromNo: 0,
  idleToNo: 0,
  closeNo: 0,
  closeTs: 0,
  closeSide: -1,
  closeWasRst: false,
  idleBeforeClose: 0,
  idleBeforeCloseFromNo: 0,
  lastDataTs: 0,
  lastDataNo: 0,
  closeLastDataNo: 0,
  closeLastDataTs: 0,
  requestEndNo: 0,
  requestEndTs: 0,
  requestEndSeq: 0,
  requestAckedNo: 0,
  requestAckedTs: 0,
  awaitingResponse: false,
  firstThink: -1,
  firstThinkNo: 0,
  firstThinkRequestNo: 0,
  firstThinkAckNo: 0,
  firstThinkAckDelay: 0,
  maxThinkRequestNo: 0,
  maxThinkAckNo: 0,
  maxThinkAckDelay: 0,
  requestServerSeq: -1,
  serverSeenEnd: -1,
  worstRtoOriginalNo: 0,
};
/** Clock steps back, silent resumes, unseen answers and a client giving up: in the rare row. */
const FLOW_RARE_INITIAL = {
  packetsBackInTime: 0,
  requestLoneByte: false,
  silentResumes: 0,
  serverSpokeAfterResume: false,
  unseenAnswerNo: 0,
  gaveUpNo: 0,
  gaveUpTs: 0,
  gaveUpRst: false,
};
const FLOW_OWN_SLOTS = defineColumns(FlowTiming.prototype, FLOW_INITIAL);
const FLOW_RARE_SLOTS = defineRareColumns(FlowTiming.prototype, FLOW_RARE_INITIAL);
/** The names of a flow's timing numbers kept in the rare row. */
export const FLOW_RARE_NAMES = Object.keys(FLOW_RARE_INITIAL) as (keyof typeof FLOW_RARE_INITIAL)[];

/** Numbers a flow's timing takes in its row, and in its rare row. */
export const TIMING_FIELDS = FLOW_OWN_SLOTS + 2 * STATS_SLOTS + 2 * SIDE_SLOTS;
export const TIMING_RARE_FIELDS = FLOW_RARE_SLOTS + 2 * SIDE_RARE_SLOTS;

/** Writes a new flow's timing numbers into `row` from `at`. */
export function initialTiming(row: Float64Array, at: number): void {
  row.fill(0, at, at + TIMING_FIELDS);
  putInitial(row, at, FLOW_INITIAL);
  const sides = at + FLOW_OWN_SLOTS + 2 * STATS_SLOTS;
  putInitial(row, sides, SIDE_INITIAL);
  putInitial(row, sides + SIDE_SLOTS, SIDE_INITIAL);
}

/** Writes a new flow's rare timing numbers into a rare row from `at`. */
export function initialRareTiming(row: Float64Array, at: number): void {
  putInitial(row, at, FLOW_RARE_INITIAL);
  putInitial(row, at + FLOW_RARE_SLOTS, SIDE_RARE_INITIAL);
  putInitial(row, at + FLOW_RARE_SLOTS + SIDE_RARE_SLOTS, SIDE_RARE_INITIAL);
}

/** A row holding one flow's timing alone. */
function ownTiming(): Float64Array {
  const row = new Float64Array(TIMING_FIELDS);
  initialTiming(row, 0);
  return row;
}

/** A rare row holding one flow's rare timing numbers alone. */
function ownRareTiming(): RareRow {
  const row = new Float64Array(TIMING_RARE_FIELDS);
  initialRareTiming(row, 0);
  return new RareRow(new Columns(TIMING_RARE_FIELDS, 1), row);
}

export function toMs(micros: number): number {
  return Math.round(micros) / 1000;
}
