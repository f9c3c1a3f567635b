import { TCP_FLAG, type PacketView } from '../decode/view.js';
import { AddressPair } from './address-pair.js';
import { Columns, defineColumns, putInitial, swapNumbers, wholeNumber, type ColumnView, type RareRow } from './columns.js';
import { TupleIndex } from './tuple-index.js';
import type { Flow, SegmentContext } from './flow.js';
import { toMs, type FlowTiming, type SideTiming } from './timing.js';
import { NO_MARK, type MarkChain, type MarkStore } from './mark-store.js';

// Per-segment TCP analysis with Wireshark's rules and precedence (packet-tcp.c,
// tcp_analyze_sequence_number, as in Wireshark 4.0): every segment is classified as keep-alive,
// retransmission, duplicate ACK, zero window and so on, and the counts match what
// `tshark -Y tcp.analysis.<flag>` shows.
//
// Wireshark keeps its sequence state per conversation (its tcp.stream), which only restarts on a
// SYN with a new initial sequence number. Our flows follow Zeek and also split on timers, so the
// sequence state lives in a TcpConversation shared by the flows of one 4-tuple, while counts,
// marks and timing belong to each flow.
//
// Limitations: like Wireshark, at most 1000 unacknowledged segments are tracked per direction;
// without a handshake the window scale is unknown and "window full" is never reported.

/** Analysis flags of one segment, Wireshark's TCP_A_* (one bit each). */
export const SEG = {
  RETRANSMISSION: 1 << 0,
  FAST_RETRANSMISSION: 1 << 1,
  SPURIOUS_RETRANSMISSION: 1 << 2,
  OUT_OF_ORDER: 1 << 3,
  LOST_SEGMENT: 1 << 4,
  ACK_LOST_SEGMENT: 1 << 5,
  DUPLICATE_ACK: 1 << 6,
  ZERO_WINDOW: 1 << 7,
  ZERO_WINDOW_PROBE: 1 << 8,
  ZERO_WINDOW_PROBE_ACK: 1 << 9,
  WINDOW_FULL: 1 << 10,
  WINDOW_UPDATE: 1 << 11,
  KEEP_ALIVE: 1 << 12,
  KEEP_ALIVE_ACK: 1 << 13,
  REUSED_PORTS: 1 << 14,
} as const;

/** Names used in marks and JSON, in the order of the SEG bits. */
export const SEG_NAMES = [
  'retransmission',
  'fast-retransmission',
  'spurious-retransmission',
  'out-of-order',
  'lost-segment',
  'ack-lost-segment',
  'duplicate-ack',
  'zero-window',
  'zero-window-probe',
  'zero-window-probe-ack',
  'window-full',
  'window-update',
  'keep-alive',
  'keep-alive-ack',
  'reused-ports',
] as const;
export type SegmentKind = (typeof SEG_NAMES)[number];

const KIND_COUNT = SEG_NAMES.length;
/** Per-sender counters of a flow's analysis: most in its rare row, a few in its own row (see FlowAnalysis.counter). */
export const ANALYSIS_COUNTS = 2 * KIND_COUNT + 18;
/** FlowAnalysis counters after the per-kind counts: payload bytes sent again (any retransmission) per sender, */
const RESENT_BYTES = 2 * KIND_COUNT;
/** retransmitted SYNs and SYN-ACKs per sender (the handshake rules speak for those), */
const HANDSHAKE_RETRANSMISSIONS = RESENT_BYTES + 2;
/** retransmissions carrying payload per sender, */
const DATA_RETRANSMISSIONS = HANDSHAKE_RETRANSMISSIONS + 2;
/** and of those, the ones stamped before an earlier packet of their 4-tuple (the capture's clock stepped back); */
const BACK_IN_TIME_RETRANSMISSIONS = DATA_RETRANSMISSIONS + 2;
/** D-SACKs per sender (RFC 2883): ACKs reporting a segment of the peer received twice. */
const D_SACKS = BACK_IN_TIME_RETRANSMISSIONS + 2;
/** Data retransmissions per sender that the first ACK covering them shows were not needed (see releaseAcked). */
const UNNEEDED_RETRANSMISSIONS = D_SACKS + 2;
/** Data retransmissions per sender resending what its SYN carried, which the peer's SYN-ACK did not take (TCP Fast Open refused). */
const FAST_OPEN_RESENDS = UNNEEDED_RETRANSMISSIONS + 2;
/** Of the D-SACKs per sender, those on a duplicate ACK: a copy received, not a hole. */
const D_SACK_DUPLICATE_ACKS = FAST_OPEN_RESENDS + 2;
/**
 * Duplicate ACKs per sender of all the peer had sent (its FIN too, if sent), once the peer had sent
 * data again: with no byte missing they report no hole (see analyzeSegment).
 */
const DUPLICATE_ACKS_OF_ALL = D_SACK_DUPLICATE_ACKS + 2;
/**
 * The counters a SYN or SYN-ACK sent again changes (retransmissions, and handshake retransmissions,
 * per sender) live in the flow's first row: an attempt whose SYN is sent again, what the
 * SYN-retries verdicts are made of, would otherwise take a rare row for them.
 */
const RETRANSMISSION_KIND = SEG_NAMES.indexOf('retransmission');
const FIRST_ROW_COUNTERS = [RETRANSMISSION_KIND, KIND_COUNT + RETRANSMISSION_KIND, HANDSHAKE_RETRANSMISSIONS, HANDSHAKE_RETRANSMISSIONS + 1];
export const FIRST_ROW_ANALYSIS_COUNTS = FIRST_ROW_COUNTERS.length;
export const RARE_ANALYSIS_COUNTS = ANALYSIS_COUNTS - FIRST_ROW_ANALYSIS_COUNTS;
/** Where each counter lives: at p in the rare row's counts when p >= 0, at -1 - p in the first row's. */
const COUNTER_PLACE = (() => {
  const place = new Int16Array(ANALYSIS_COUNTS);
  for (let i = 0, rare = 0; i < ANALYSIS_COUNTS; i++) {
    const first = FIRST_ROW_COUNTERS.indexOf(i);
    place[i] = first >= 0 ? -1 - first : rare++;
  }
  return place;
})();
/** Any kind of retransmission: tshark shows tcp.analysis.retransmission on fast and spurious ones too. */
const ANY_RETRANSMISSION = SEG.RETRANSMISSION | SEG.FAST_RETRANSMISSION | SEG.SPURIOUS_RETRANSMISSION;

/** A client that sends again after this long without an answer was not waiting for one. */
const SILENT_RESUME_MICROS = 1_000_000;
/** Wireshark's TCP_MAX_UNACKED_SEGMENTS. */
const MAX_UNACKED_SEGMENTS = 1000;
/** Marks kept per flow for the ladder view; later ones are counted only. */
export const MAX_MARKS = 4000;
/**
 * The shortest a retransmission timer is seen to wait: Linux's TCP_RTO_MIN, 200 ms, the least
 * default of the mainstream stacks (RFC 6298 asks for 1 s), less one tick of a 100 Hz kernel clock:
 * a timer counts whole ticks, so one armed partway through a tick fires up to a tick early (a 1999
 * capture holds a resend 197 ms after its original, answered at once).
 */
export const TIMER_RESEND_MIN_MICROS = 190_000;
/**
 * A resend this soon after an ACK of new data was sent on it: a sender near the capture point
 * answers an ACK within a millisecond or two (nDPI alexa-app's client, 1 to 2.6 ms).
 */
const RESEND_ON_ACK_MICROS = 3_000;
/** Wireshark: a fast retransmission comes within 20 ms of the last duplicate ACK. */
const FAST_RETRANSMISSION_WINDOW_MICROS = 20_000;
/** Wireshark: out-of-order threshold when the handshake RTT is unknown. */
const DEFAULT_OUT_OF_ORDER_MICROS = 3_000;
/** 4-tuples whose Wireshark-style conversation is remembered across flow splits. */
const MAX_REMEMBERED_CONVERSATIONS = 20_000;

const WINDOW_UNKNOWN = 0xffffffff;
const WS_UNKNOWN = -1;
/** Wireshark's -2: no scaling, the window field is taken as is. */
const WS_NONE = -2;

const CTRL = TCP_FLAG.SYN | TCP_FLAG.FIN | TCP_FLAG.RST;

/** Signed distance a - b modulo 2^32. */
const sd = (a: number, b: number) => (a - b) | 0;

/**
 * Wireshark's tcp_flow_t plus its tcp_analyze_seq_info: what one direction has sent. A view over
 * its part of the conversation's row (see columns.ts), made once per conversation slot.
 */
class DirectionState implements ColumnView {
  declare baseSeqSet: boolean;
  declare baseSeq: number;
  /** Highest sequence number seen + 1; 0 means unknown (Wireshark's own sentinel). */
  declare nextSeq: number;
  declare nextSeqTs: number;
  /**
   * The IP ID and TSval of the segment that set nextSeq (-1: none), and how many new highest
   * segments in a row carried an IP ID a little after the one before (-1 once one did not: IDs
   * random, or not a counter). Together they tell whether a segment left the sender before or after
   * that highest one (see sendOrder).
   */
  declare nextSeqIpId: number;
  declare nextSeqTsVal: number;
  declare ipIdSteps: number;
  declare maxSeqToBeAcked: number;
  declare lastAck: number;
  declare lastAckTs: number;
  /**
   * The packet that last moved this side's ACK number forward. A segment of its sent before that
   * may arrive after it, with an ACK number older than one the receiver already took, and Linux
   * then leaves TS.Recent alone (tcp_ack's old_ack path): the Eifel test cannot judge it.
   */
  declare ackAdvancedNo: number;
  declare ackAdvancedTs: number;
  declare dupAckNum: number;
  declare window: number;
  declare winScale: number;
  /** No pure ACK yet: the window is still the SYN's, which is never scaled. */
  declare isFirstAck: boolean;
  declare lastSegmentFlags: number;
  declare unackedCount: number;
  /**
   * Unacknowledged segments in send order, UNACKED_STRIDE numbers each (seq, next seq, packet
   * number, time, and for a data retransmission with a timestamp its TSval, for a SYN carrying data
   * FAST_OPEN_SYN, else NOT_RESENT), in one
   * array grown on demand up to MAX_UNACKED_SEGMENTS: one allocation per side instead of five. A
   * plain array keeps its doubles unboxed in the JS heap, with no malloc'd buffer behind it as a
   * Float64Array would have.
   */
  unacked: number[] = EMPTY;

  constructor(
    readonly n: Float64Array,
    readonly at: number,
  ) {}

  releaseUnacked(): void {
    const a = this.unacked;
    if (a !== EMPTY && a.length <= SPARE_LIST_NUMBERS && spareLists.length < MAX_SPARE_LISTS) spareLists.push(a);
    this.unackedCount = 0;
    this.unacked = EMPTY;
  }

  pushUnacked(seq: number, next: number, no: number, ts: number): void {
    let a = this.unacked;
    const count = this.unackedCount;
    if (count === 0 && a === EMPTY && spareLists.length > 0) this.unacked = a = spareLists.pop()!;
    else if (count * UNACKED_STRIDE === a.length) {
      const segments = Math.min(MAX_UNACKED_SEGMENTS, Math.max(4, count * 2));
      const b = new Array<number>(segments * UNACKED_STRIDE).fill(0);
      for (let k = 0; k < a.length; k++) b[k] = a[k];
      this.unacked = a = b;
    }
    const i = count * UNACKED_STRIDE;
    this.unackedCount = count + 1;
    a[i] = seq;
    a[i + 1] = next;
    a[i + 2] = no;
    a[i + 3] = ts;
    a[i + 4] = NOT_RESENT;
  }

  /** The segment pushed last is a data retransmission sent with timestamp `tsVal`, or a SYN carrying data (FAST_OPEN_SYN). */
  markLast(mark: number): void {
    this.unacked[(this.unackedCount - 1) * UNACKED_STRIDE + 4] = mark;
  }

  /**
   * The latest transmission still unacknowledged that carried any of the bytes from `seq` to `end`
   * (`whole`: all of them), as its index in the list, or -1: the capture holds no such copy.
   */
  latestCarrying(seq: number, end: number, whole: boolean): number {
    const u = this.unacked;
    for (let i = this.unackedCount - 1; i >= 0; i--) {
      const at = i * UNACKED_STRIDE;
      if (whole ? sd(u[at], seq) <= 0 && sd(u[at + 1], end) >= 0 : sd(u[at], end) < 0 && sd(u[at + 1], seq) > 0) return i;
    }
    return -1;
  }
}

const DIRECTION_INITIAL = {
  baseSeqSet: false,
  baseSeq: 0,
  nextSeq: 0,
  nextSeqTs: 0,
  nextSeqIpId: -1,
  nextSeqTsVal: -1,
  ipIdSteps: 0,
  maxSeqToBeAcked: 0,
  lastAck: 0,
  lastAckTs: 0,
  ackAdvancedNo: 0,
  ackAdvancedTs: 0,
  dupAckNum: 0,
  window: WINDOW_UNKNOWN,
  winScale: WS_UNKNOWN,
  isFirstAck: true,
  lastSegmentFlags: 0,
  unackedCount: 0,
};
const DIRECTION_FIELDS = defineColumns(DirectionState.prototype, DIRECTION_INITIAL);

/** Numbers per unacknowledged segment: seq, next seq, packet number, time, resend mark. */
const UNACKED_STRIDE = 5;
/** The resend mark of a segment not judged by the Eifel test (see classify): sent for the first time, a copy, or a resend it cannot judge. */
const NOT_RESENT = -1;
/** The resend mark of a client's SYN that carried data (TCP Fast Open, RFC 7413): a later resend of that data is judged apart (see classify). */
const FAST_OPEN_SYN = -2;
/** Shared by every side with nothing unacknowledged; never written (pushUnacked grows first). */
const EMPTY: number[] = [];
/**
 * Unacknowledged-segment lists of finished flows, kept for the next flows to fill: a list lives as
 * long as its flow, long enough for the collector to move it to the old generation, where a flow's
 * end would leave it as garbage. Only short lists are kept, and at most as many as two sides of the
 * open flows of a busy capture need; the numbers a list holds past its count are never read.
 */
const spareLists: number[][] = [];
const SPARE_LIST_NUMBERS = 8 * UNACKED_STRIDE;
const MAX_SPARE_LISTS = 16_384;

/**
 * Wireshark's tcp_analysis: the sequence state of one conversation (both directions). Its numbers
 * are a row of the registry's columns; the view and its sides are made once per row and serve
 * every conversation that takes the row.
 */
export class TcpConversation extends AddressPair implements ColumnView {
  readonly sideA: DirectionState;
  readonly sideB: DirectionState;
  /** Side A is the sender of the first packet; its address and port tell the directions apart. */
  portA = 0;
  portB = 0;
  /** Time of the most recent SYN and the handshake RTT (SYN to the ACK after it), 0 if unknown. */
  declare mruSynTs: number;
  declare firstRtt: number;
  /** Latest timestamp of the conversation, across the flows it spans (-Infinity before its first packet: times can be 0 or negative). */
  declare latestTs: number;
  /** The hash of its 4-tuple (table.ts tupleHash), by which the registry finds it. */
  hash = 0;
  /** Still in its registry (not replaced by a newer conversation on its 4-tuple, not forgotten), and its place in the registry's ring. */
  registered = false;
  ringAt = -1;
  /** Flows whose analysis uses this conversation: its row is given back once none does and the registry forgot it. */
  flows = 0;

  constructor(
    readonly slot: number,
    readonly n: Float64Array,
    readonly at: number,
  ) {
    super();
    this.sideA = new DirectionState(n, at + CONVERSATION_FIELDS);
    this.sideB = new DirectionState(n, at + CONVERSATION_FIELDS + DIRECTION_FIELDS);
  }

  /** `addr`:`port` is endpoint A. */
  isA(addr: Uint32Array, port: number): boolean {
    return port === this.portA && this.isAddrA(addr);
  }

  /** `addr`:`port` is endpoint B. */
  isB(addr: Uint32Array, port: number): boolean {
    return port === this.portB && this.isAddrB(addr);
  }
}

const CONVERSATION_INITIAL = { mruSynTs: 0, firstRtt: 0, latestTs: -Infinity };
const CONVERSATION_FIELDS = defineColumns(TcpConversation.prototype, CONVERSATION_INITIAL);
const NEW_CONVERSATION_ROW = (() => {
  const row = new Float64Array(CONVERSATION_FIELDS + 2 * DIRECTION_FIELDS);
  putInitial(row, 0, CONVERSATION_INITIAL);
  putInitial(row, CONVERSATION_FIELDS, DIRECTION_INITIAL);
  putInitial(row, CONVERSATION_FIELDS + DIRECTION_FIELDS, DIRECTION_INITIAL);
  return row;
})();

/** Remembers the latest conversation per 4-tuple for one flow table, and keeps the conversations' rows. */
class ConversationRegistry {
  private readonly byTuple = new TupleIndex<TcpConversation>();
  private readonly rows = new Columns(NEW_CONVERSATION_ROW.length);
  private readonly views: TcpConversation[] = [];
  /**
   * Conversations in the order they were made, a ring of MAX_REMEMBERED_CONVERSATIONS slots: a new
   * one takes the oldest's slot and that one is forgotten. A view whose row went to a later
   * conversation has another place in the ring (ringAt).
   */
  private readonly ring: TcpConversation[] = [];
  private ringNext = 0;

  find(hash: number, v: PacketView): TcpConversation | null {
    const index = this.byTuple;
    for (let i = index.first(hash), h = index.hashAt(i); h >= 0; i = index.next(i), h = index.hashAt(i)) {
      if (h !== hash) continue;
      const c = index.itemAt(i);
      if (matches(c, v)) return c;
    }
    return null;
  }

  /** Starts a new conversation for the packet's 4-tuple, replacing any older one. */
  create(hash: number, v: PacketView): TcpConversation {
    const old = this.find(hash, v);
    if (old) this.forget(old);
    const at = this.ringNext;
    const oldest = at < this.ring.length ? this.ring[at] : null;
    if (oldest?.registered && oldest.ringAt === at) this.forget(oldest);
    const c = this.take();
    this.ring[at] = c;
    this.ringNext = (at + 1) % MAX_REMEMBERED_CONVERSATIONS;
    c.registered = true;
    c.ringAt = at;
    c.hash = hash;
    c.setAddrs(v.src, v.dst);
    c.portA = v.srcPort;
    c.portB = v.dstPort;
    this.byTuple.add(c);
    return c;
  }

  /** A flow's analysis stops using the conversation. */
  detach(c: TcpConversation): void {
    if (--c.flows === 0 && !c.registered) this.giveBack(c);
  }

  private take(): TcpConversation {
    const slot = this.rows.take(NEW_CONVERSATION_ROW);
    let c = this.views[slot];
    // A row comes back only once no flow uses it: its view's count of flows is 0 already.
    if (!c) this.views[slot] = c = new TcpConversation(slot, this.rows.chunkOf(slot), this.rows.rowAt(slot));
    return c;
  }

  private giveBack(c: TcpConversation): void {
    c.sideA.releaseUnacked();
    c.sideB.releaseUnacked();
    this.rows.release(c.slot);
  }

  private forget(c: TcpConversation): void {
    c.registered = false;
    this.byTuple.remove(c);
    if (c.flows === 0) this.giveBack(c);
  }
}

function matches(c: TcpConversation, v: PacketView): boolean {
  return (c.isA(v.src, v.srcPort) && c.isB(v.dst, v.dstPort)) || (c.isB(v.src, v.srcPort) && c.isA(v.dst, v.dstPort));
}

function isFromA(c: TcpConversation, v: PacketView): boolean {
  // A conversation with itself (same address and port both ways): the packet is from A unless it is the mirror.
  return c.isA(v.src, v.srcPort) && (v.srcPort !== c.portB || !c.isA(v.dst, v.dstPort));
}

const registries = new WeakMap<object, ConversationRegistry>();

function registryFor(ctx: object): ConversationRegistry {
  let r = registries.get(ctx);
  if (!r) registries.set(ctx, (r = new ConversationRegistry()));
  return r;
}

/** The flow's row goes back to the pool: its analysis lets go of its conversation. */
export function detachFlowAnalysis(flow: Flow, ctx: object): void {
  const fa = flow.analysis;
  if (fa instanceof FlowAnalysis) registryFor(ctx).detach(fa.conv);
}

/**
 * The flow is finished: drop the per-segment buffers of its conversation, keeping the sequence
 * state that tells a later SYN on the same 4-tuple apart (tshark's reused-ports rule). Memory then
 * follows the open flows, not every 4-tuple ever seen.
 */
export function releaseFlowAnalysis(flow: Flow, onlyIfAllAcked = false): void {
  const fa = flow.analysis;
  if (!(fa instanceof FlowAnalysis)) return;
  // While the flow lingers after its close, keep a side's list if anything is still unacknowledged.
  if (!onlyIfAllAcked || fa.conv.sideA.unackedCount === 0) fa.conv.sideA.releaseUnacked();
  if (!onlyIfAllAcked || fa.conv.sideB.unackedCount === 0) fa.conv.sideB.releaseUnacked();
}

/**
 * The flow's roles were turned (Flow.turnRoles): the client's counts become the server's and the
 * other way round, and each mark names the other sender.
 */
export function swapAnalysisSides(flow: Flow): void {
  flow.slotAnalysis.swapCounters();
  const fa = flow.analysis;
  if (!(fa instanceof FlowAnalysis)) return;
  const store = fa.markStore;
  for (let row = fa.marksFirst; row !== NO_MARK; row = store.next[row]) store.bits[row] ^= MARK_FROM_SERVER;
}

/** A mark's bits (MarkStore.bits): sent by the server, and for a resend, sent on an ACK of new data (see classify); the segment's kinds above them. */
const MARK_FROM_SERVER = 1;
const MARK_ON_ACK = 2;
const MARK_KINDS_SHIFT = 2;

/** A FlowAnalysis's own fields, kept while its flow is parked (counters and timing are in the flow's row). */
export interface ParkedAnalysis extends MarkChain {
  conv: TcpConversation | null;
  marksDropped: number;
}

/**
 * Per-flow analysis: counts by kind and sender, marks, timing. Lives in Flow.analysis; made once
 * per flow slot (like the views over its row) and started afresh for each flow that takes it.
 */
export class FlowAnalysis implements MarkChain {
  /** Set by start(), before the first segment is classified. */
  conv!: TcpConversation;
  /**
   * Every per-sender counter (read with count()): packets per kind at from * KIND_COUNT + bit, then
   * RESENT_BYTES, HANDSHAKE_RETRANSMISSIONS, DATA_RETRANSMISSIONS and so on, each + from. Those of
   * FIRST_ROW_COUNTERS are in the flow's row from `firstAt`, the others in its rare row from
   * `countsAt` (see COUNTER_PLACE). Most flows count nothing: those read 0 until the first count
   * takes the rare row.
   */
  private readonly rare: RareRow;
  private readonly countsAt: number;
  private readonly n: Float64Array;
  private readonly firstAt: number;
  /** The flow's segment marks, in the flow table's store (most flows have none); those past MAX_MARKS are counted, not kept. */
  marksFirst = NO_MARK;
  marksLast = NO_MARK;
  markCount = 0;
  marksDropped = 0;
  readonly timing: FlowTiming;
  /** Details of the segment being classified: duplicate ACK number, RTO and the original's packet. */
  lastDupAckNum = 0;
  lastRto = 0;
  lastRtoNo = 0;
  /** Whether that resend came on an ACK that acknowledged new data (see classify). */
  lastResendOnAck = false;
  /** When the segment being classified is a held answer (see releaseAcked): how long the data it acknowledged waited, and that data's packet. */
  heldMicros = 0;
  heldDataNo = 0;

  constructor(
    readonly markStore: MarkStore,
    timing: FlowTiming,
    rare: RareRow,
    countsAt: number,
    n: Float64Array,
    firstAt: number,
  ) {
    this.timing = timing;
    this.rare = rare;
    this.countsAt = countsAt;
    this.n = n;
    this.firstAt = firstAt;
  }

  /** A flow's first segment: its analysis starts on `conv` (the counters are 0 already). */
  start(conv: TcpConversation): this {
    this.conv = conv;
    // Empty already (end() gave the slot's last flow's chain back); let go again so that no chain can pass from one flow to the next.
    this.markStore.release(this);
    this.marksDropped = 0;
    this.lastDupAckNum = 0;
    this.lastRto = 0;
    this.lastRtoNo = 0;
    this.lastResendOnAck = false;
    return this;
  }

  /** The flow is reported: its marks are let go rather than kept until the slot's next flow. */
  end(): void {
    this.markStore.release(this);
  }

  /**
   * The flow leaves its slot while it waits (flow.ts Flow.park): what is not in its row goes to `p`.
   * The details of the segment last classified are not: each segment sets them anew.
   */
  parkInto(p: ParkedAnalysis): void {
    p.conv = this.conv;
    p.marksFirst = this.marksFirst;
    p.marksLast = this.marksLast;
    p.markCount = this.markCount;
    p.marksDropped = this.marksDropped;
    // The parked flow keeps its chain: the slot's next flow must not let it go.
    this.marksFirst = this.marksLast = NO_MARK;
    this.markCount = 0;
  }

  /** The parked flow takes this slot: its analysis goes on from `p`. */
  unparkFrom(p: ParkedAnalysis): this {
    this.conv = p.conv!;
    this.marksFirst = p.marksFirst;
    this.marksLast = p.marksLast;
    this.markCount = p.markCount;
    this.marksDropped = p.marksDropped;
    return this;
  }

  /** Counter `i`, from the row COUNTER_PLACE puts it in. */
  counter(i: number): number {
    const p = COUNTER_PLACE[i];
    if (p < 0) return this.n[this.firstAt - 1 - p];
    const r = this.rare;
    return r.n === null ? 0 : r.n[r.at + this.countsAt + p];
  }

  addToCounter(i: number, by: number): void {
    if (by === 0) return;
    const p = COUNTER_PLACE[i];
    if (p < 0) {
      this.n[this.firstAt - 1 - p] += by;
      return;
    }
    const r = this.rare;
    const n = r.n ?? r.take();
    n[r.at + this.countsAt + p] += by;
  }

  /** The client's counts become the server's and the other way round (see swapAnalysisSides). */
  swapCounters(): void {
    for (let i = 0; i < KIND_COUNT; i++) this.swapCounter(i, KIND_COUNT + i);
    for (let i = RESENT_BYTES; i < ANALYSIS_COUNTS; i += 2) this.swapCounter(i, i + 1);
  }

  private swapCounter(i: number, j: number): void {
    const x = this.counter(i);
    const y = this.counter(j);
    if (x === y) return;
    this.addToCounter(i, y - x);
    this.addToCounter(j, x - y);
  }

  count(bit: number, from: 0 | 1): number {
    return this.counter(from * KIND_COUNT + bit);
  }
}

/**
 * Classifies one segment the way Wireshark does and updates the flow's counts and timing.
 * Called once per TCP segment of the flow, before the Zeek state machine; `dir` says who sent it (0
 * the originator, 1 the responder); `ctx` identifies the flow table, whose 4-tuples share
 * sequence state across flow splits.
 */
export function analyzeSegment(flow: Flow, dir: 0 | 1, v: PacketView, no: number, ts: number, ctx: SegmentContext, copy: boolean): void {
  let fa = flow.analysis as FlowAnalysis | null;
  if (!fa) {
    const registry = registryFor(ctx);
    const conv = registry.find(flow.hash, v) ?? registry.create(flow.hash, v);
    conv.flows++;
    fa = flow.slotAnalysis.start(conv);
    flow.analysis = fa;
  }
  const seq = v.seq >>> 0;
  const flags = v.flags;
  const seglen = v.payloadLen;
  let taFlags = 0;

  let conv = fa.conv;
  let fromA = isFromA(conv, v);
  let fwd = fromA ? conv.sideA : conv.sideB;
  // A SYN with a new initial sequence number starts a new Wireshark conversation (tcp.stream).
  if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN && fwd.baseSeqSet && seq !== fwd.baseSeq) {
    const registry = registryFor(ctx);
    conv = registry.create(flow.hash, v);
    conv.flows++;
    registry.detach(fa.conv);
    fa.conv = conv;
    fromA = true;
    fwd = conv.sideA;
    taFlags |= SEG.REUSED_PORTS;
  } else if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === (TCP_FLAG.SYN | TCP_FLAG.ACK) && fwd.baseSeqSet && seq !== fwd.baseSeq) {
    taFlags |= SEG.REUSED_PORTS;
  }
  const rev = fromA ? conv.sideB : conv.sideA;
  const fromClient = dir;

  // Handshake RTT (Wireshark's iRTT): from the latest SYN to the first ACK that follows it.
  if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN) conv.mruSynTs = ts;
  else if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.ACK && conv.mruSynTs !== 0 && conv.firstRtt === 0) conv.firstRtt = Math.max(1, ts - conv.mruSynTs);

  // A packet stamped before one its 4-tuple already carried: the capture's clock stepped back (a
  // file holding the same packets twice, merged captures). Nothing is measured from it backwards.
  const backInTime = ts < fa.conv.latestTs;
  // A replayed connection's last packet carries the latest time itself: "not after" counts it.
  if (ts <= fa.conv.latestTs) fa.timing.packetsBackInTime++;
  if (!backInTime) fa.conv.latestTs = ts;
  if (ts > fa.timing.latestTs) fa.timing.latestTs = ts;

  // A copy held twice, or a packet replayed after the clock stepped back, was not sent again.
  taFlags = classify(fwd, rev, conv, v, no, ts, taFlags, fa, fromClient, copy || backInTime);
  if (fa.heldMicros !== 0) {
    ctx.onHeldAnswer?.(flow, v, no, ts, fa.heldMicros, fa.heldDataNo);
    fa.heldMicros = 0;
  }

  if (flags & TCP_FLAG.SYN && v.wscale >= 0) fwd.winScale = Math.min(v.wscale, 14);
  if (flags & TCP_FLAG.SYN) verifyWindowScaling((flags & TCP_FLAG.ACK) !== 0, fwd, rev);
  if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.ACK) fwd.isFirstAck = false;

  updateTiming(fa, v, no, ts, taFlags, fromClient);
  if (v.sackCount > 0 && isDsack(v)) {
    fa.addToCounter(D_SACKS + fromClient, 1);
    if (taFlags & SEG.DUPLICATE_ACK) fa.addToCounter(D_SACK_DUPLICATE_ACKS + fromClient, 1);
  }
  // A duplicate ACK of every byte the peer sent (its FIN too, if sent) leaves no hole for a later
  // segment to have opened: a segment received twice made it (RFC 5681, 4.2), or an ACK sent twice
  // (some stacks pair their ACKs), never a loss. Which of those, the ACK does not tell. A copy the
  // capture holds twice is counted once, among the copies.
  if (taFlags & SEG.DUPLICATE_ACK && !copy && rev.nextSeq !== 0 && (v.ack >>> 0) === rev.nextSeq && fa.counter(DATA_RETRANSMISSIONS + 1 - dir) > 0) {
    fa.addToCounter(DUPLICATE_ACKS_OF_ALL + fromClient, 1);
  }

  if (taFlags !== 0) record(fa, taFlags, fromClient, no, ts, seglen, flags, backInTime, copy);
}

/**
 * RFC 2883: the segment's first SACK block reports data received twice, when it lies at or below
 * the cumulative ACK, or inside the second block.
 */
function isDsack(v: PacketView): boolean {
  if ((v.flags & TCP_FLAG.ACK) === 0) return false;
  const blocks = v.sackBlocks;
  if (sd(blocks[1], v.ack >>> 0) <= 0) return true;
  return v.sackCount > 1 && sd(blocks[0], blocks[2]) >= 0 && sd(blocks[1], blocks[3]) <= 0;
}

/** Wireshark's verify_tcp_window_scaling, run on SYNs after their options are read. */
function verifyWindowScaling(isSynAck: boolean, fwd: DirectionState, rev: DirectionState): void {
  if (fwd.winScale === WS_UNKNOWN) {
    // This SYN has no window scale option, so neither side scales.
    fwd.winScale = WS_NONE;
    rev.winScale = WS_NONE;
  } else if (isSynAck && rev.winScale === WS_NONE) {
    fwd.winScale = WS_NONE;
  }
}

/**
 * tcp_analyze_sequence_number: returns the segment's flags, in Wireshark's order and precedence.
 * The segment's numbers are read from the view here rather than passed in: a sequence number at or
 * past 2^31 passed as an argument is boxed in a heap number on every call.
 */
function classify(fwd: DirectionState, rev: DirectionState, conv: TcpConversation, v: PacketView, no: number, ts: number, ta: number, fa: FlowAnalysis, fromClient: 0 | 1, capturedAgain: boolean): number {
  const seq = v.seq >>> 0;
  const ack = v.ack >>> 0;
  const seglen = v.payloadLen;
  const flags = v.flags;
  const window = v.window;
  fa.lastRto = 0;
  fa.lastRtoNo = 0;
  fa.lastResendOnAck = false;
  if (!fwd.baseSeqSet) {
    fwd.baseSeq = flags & TCP_FLAG.SYN ? seq : (seq - 1) >>> 0;
    fwd.baseSeqSet = true;
  }
  if (!rev.baseSeqSet && flags & TCP_FLAG.ACK) {
    rev.baseSeq = (ack - 1) >>> 0;
    rev.baseSeqSet = true;
  }

  checks: {
    // Zero-window probe: exactly one byte at the next expected sequence number into a zero window.
    if (seglen === 1 && seq === fwd.nextSeq && rev.window === 0) {
      ta |= SEG.ZERO_WINDOW_PROBE;
      break checks;
    }
    if (window === 0 && (flags & CTRL) === 0) ta |= SEG.ZERO_WINDOW;
    // Previous segment not captured: the sequence number jumped past what was seen.
    if (fwd.nextSeq !== 0 && sd(seq, fwd.nextSeq) > 0 && (flags & TCP_FLAG.RST) === 0) ta |= SEG.LOST_SEGMENT;
    // Keep-alive: 0 or 1 byte, one before the next expected sequence number.
    if ((seglen === 0 || seglen === 1) && seq === ((fwd.nextSeq - 1) >>> 0) && (flags & CTRL) === 0) ta |= SEG.KEEP_ALIVE;
    const sameSeqAck = seglen === 0 && seq === fwd.nextSeq && ack === fwd.lastAck && (flags & CTRL) === 0;
    if (sameSeqAck && window !== 0 && window !== fwd.window) ta |= SEG.WINDOW_UPDATE;
    // Window full: the data reaches the right edge of the receiver's advertised window.
    if (seglen > 0 && rev.winScale !== WS_UNKNOWN && (flags & CTRL) === 0) {
      const shift = rev.isFirstAck || rev.winScale === WS_NONE ? 0 : rev.winScale;
      if (((seq + seglen) >>> 0) === ((rev.lastAck + ((rev.window << shift) >>> 0)) >>> 0)) ta |= SEG.WINDOW_FULL;
    }
    if (sameSeqAck && window !== 0 && window === fwd.window && rev.lastSegmentFlags & SEG.KEEP_ALIVE) {
      ta |= SEG.KEEP_ALIVE_ACK;
      break checks;
    }
    if (sameSeqAck && window === 0 && fwd.window === 0 && rev.lastSegmentFlags & SEG.ZERO_WINDOW_PROBE) {
      ta |= SEG.ZERO_WINDOW_PROBE_ACK;
      break checks;
    }
    if (sameSeqAck && window !== 0 && window === fwd.window) {
      // -1 means "ACKed unseen segment already reported": the next duplicate counts as #1.
      fwd.dupAckNum = fwd.dupAckNum === -1 ? 1 : fwd.dupAckNum + 1;
      ta |= SEG.DUPLICATE_ACK;
    }
  }
  const dupAckNum = ta & SEG.DUPLICATE_ACK ? fwd.dupAckNum : 0;

  if (ack !== fwd.lastAck) fwd.dupAckNum = 0;

  // ACKed unseen segment: this ACK covers bytes of the peer that were never seen.
  // The peer's bound then moves to its highest sequence number; when it was already there, the
  // peer's duplicate-ACK counter (-1) remembers that this hole was reported.
  if (rev.maxSeqToBeAcked !== 0 && sd(ack, rev.maxSeqToBeAcked) > 0 && flags & TCP_FLAG.ACK) {
    if (rev.maxSeqToBeAcked > rev.nextSeq) ta |= SEG.ACK_LOST_SEGMENT;
    else {
      if (rev.dupAckNum === 0) ta |= SEG.ACK_LOST_SEGMENT;
      rev.dupAckNum = -1;
    }
    rev.maxSeqToBeAcked = rev.nextSeq;
  }

  const synFin = (flags & (TCP_FLAG.SYN | TCP_FLAG.FIN)) !== 0;
  retransmission: if (seglen > 0 || synFin) {
    let notAdvanced = fwd.nextSeq !== 0 && sd(seq, fwd.nextSeq) < 0;
    if (ta & SEG.KEEP_ALIVE) break retransmission;
    // More than one new byte right after a possible zero-window probe adds data: not a retransmission.
    if (seglen > 1 && ((fwd.nextSeq - 1) >>> 0) === seq) notAdvanced = false;
    if (seglen > 0 && rev.lastAck !== 0 && sd((seq + seglen) >>> 0, rev.lastAck) <= 0) {
      ta |= SEG.SPURIOUS_RETRANSMISSION;
      break retransmission;
    }
    // The latest earlier transmission of any of these bytes the capture holds (-1: none).
    const end = (seq + seglen + (synFin ? 1 : 0)) >>> 0;
    const original = notAdvanced ? fwd.latestCarrying(seq, end, false) : -1;
    // The first copy of its bytes is a resend only if it left the sender after the highest
    // segment captured (the original lost before the capture saw it); one that left before it
    // arrived late, reordered on the way. A packet the capture holds again (a copy, a replay after
    // the clock stepped back) was not sent again: Wireshark's reading stands for it.
    const order = notAdvanced && original < 0 && !capturedAgain ? sendOrder(fwd, v) : 0;
    if (order < 0) {
      ta |= SEG.OUT_OF_ORDER;
      break retransmission;
    }
    const sinceDupAck = ts - rev.lastAckTs;
    if (notAdvanced && rev.dupAckNum >= 2 && rev.lastAck === seq && sinceDupAck >= 0 && sinceDupAck < FAST_RETRANSMISSION_WINDOW_MICROS) {
      ta |= SEG.FAST_RETRANSMISSION;
      break retransmission;
    }
    const sinceHighest = ts - fwd.nextSeqTs;
    const oooThreshold = conv.firstRtt !== 0 ? conv.firstRtt : DEFAULT_OUT_OF_ORDER_MICROS;
    // Bytes the capture saw sent before, all of them in one segment, were sent again however soon:
    // no reordering on the path makes a second transmission. Wireshark's timing rule decides the
    // rest: a first copy whose send order the packets do not tell, and segments only partly sent
    // before (new bytes joined to old, or bytes no real stream holds).
    const sentBefore = original >= 0 && !capturedAgain && fwd.latestCarrying(seq, end, true) >= 0;
    if (notAdvanced && !sentBefore && order === 0 && sinceHighest >= 0 && sinceHighest < oooThreshold && fwd.nextSeq !== end) {
      ta |= SEG.OUT_OF_ORDER;
      break retransmission;
    }
    if (notAdvanced) {
      ta |= SEG.RETRANSMISSION;
      if (original >= 0) {
        const at = original * UNACKED_STRIDE;
        const originalTs = fwd.unacked[at + 3];
        if (fwd.unacked[at + 4] === FAST_OPEN_SYN && rev.lastAck === ((fwd.baseSeq + 1) >>> 0)) {
          // Data first sent on the SYN, which the peer's SYN-ACK acknowledged alone: it did not take
          // the Fast Open data, and the sender sends it again at once (RFC 7413). No timer fired.
          fa.addToCounter(FAST_OPEN_RESENDS + fromClient, 1);
        } else if (ts > originalTs) {
          // A resend stamped no later than its original comes from a clock that stepped back: there is no timeout to measure.
          fa.lastRto = ts - originalTs;
          fa.lastRtoNo = fwd.unacked[at + 2];
          // A resend of bytes as old as a timer's wait that leaves within a few milliseconds of an
          // ACK of new data was sent on that ACK (loss recovery), whatever the age of its bytes: a
          // timer firing in that instant would be chance. (Not "sooner than any timer after it":
          // Linux re-arms its timer from the oldest segment's sending after a probe or a reordering
          // wait, so a timeout may follow an ACK closely.)
          const sinceAck = ts - rev.ackAdvancedTs;
          fa.lastResendOnAck = fa.lastRto >= TIMER_RESEND_MIN_MICROS && rev.ackAdvancedNo !== 0 && sinceAck >= 0 && sinceAck <= RESEND_ON_ACK_MICROS;
        }
      }
    }
  }

  let nextSeq = (seq + seglen) >>> 0;
  if ((seglen > 0 || synFin) && fwd.unackedCount < MAX_UNACKED_SEGMENTS) {
    if (synFin) nextSeq = (nextSeq + 1) >>> 0;
    fwd.pushUnacked(seq, nextSeq, no, ts);
    // A resend the Eifel test can judge (see resendWasUnneeded): data sent again (not the same
    // packet captured again) that starts at or below the peer's last ACK.
    if (ta & (SEG.RETRANSMISSION | SEG.FAST_RETRANSMISSION) && seglen > 0 && !capturedAgain && v.hasTimestamps && rev.lastAck !== 0 && sd(seq, rev.lastAck) <= 0) {
      fwd.markLast(v.tsVal >>> 0);
    } else if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN && seglen > 0) fwd.markLast(FAST_OPEN_SYN);
  }
  const probe = (ta & SEG.ZERO_WINDOW_PROBE) !== 0;
  // Zero-window probes do not move the next expected sequence number.
  if ((sd(nextSeq, fwd.nextSeq) > 0 || fwd.nextSeq === 0) && !probe) {
    fwd.nextSeq = nextSeq;
    fwd.nextSeqTs = ts;
    noteHighestSent(fwd, v);
  }
  if ((seq === fwd.maxSeqToBeAcked || fwd.maxSeqToBeAcked === 0) && !probe) fwd.maxSeqToBeAcked = fwd.nextSeq;

  fwd.window = window;
  if (flags & TCP_FLAG.ACK && fwd.lastAck !== 0 && sd(ack, fwd.lastAck) > 0) {
    fwd.ackAdvancedNo = no;
    fwd.ackAdvancedTs = ts;
  }
  fwd.lastAck = ack;
  fwd.lastAckTs = ts;
  fwd.lastSegmentFlags = ta;

  releaseAcked(rev, v, ts, no, fa, fromClient);
  fa.lastDupAckNum = dupAckNum;
  return ta;
}

/** Signed distance a - b between two 16-bit IP IDs. */
const sd16 = (a: number, b: number) => ((a - b) << 16) >> 16;
/**
 * IP IDs numbered from a counter (Linux, Windows) stay this close across the segments of one
 * flight: a 64 KB TSO segment takes 45 of them. Random IDs rarely fall this close twice in a row.
 */
const IP_ID_WINDOW = 1024;
/** New highest segments in a row whose IP ID followed the one before, before a sender's IDs are read as a counter. */
const IP_ID_COUNTER_STEPS = 2;

/** The segment in `v` is the highest its sender sent so far: remember how it was numbered (see sendOrder). */
function noteHighestSent(fwd: DirectionState, v: PacketView): void {
  const id = v.ipId;
  if (id !== 0 && fwd.nextSeqIpId > 0 && fwd.ipIdSteps >= 0) {
    const d = sd16(id, fwd.nextSeqIpId);
    fwd.ipIdSteps = d > 0 && d <= IP_ID_WINDOW ? fwd.ipIdSteps + 1 : -1;
  }
  fwd.nextSeqIpId = id;
  fwd.nextSeqTsVal = v.hasTimestamps ? v.tsVal >>> 0 : -1;
}

/**
 * Whether the segment in `v` left its sender before (-1) or after (1) the highest segment captured
 * from it, or 0 when the packets do not tell. A sender's TSvals never go back (RFC 7323); its IP IDs
 * tell when they come from a counter, as its highest segments so far show.
 */
function sendOrder(fwd: DirectionState, v: PacketView): number {
  if (v.hasTimestamps && fwd.nextSeqTsVal >= 0) {
    const d = sd(v.tsVal >>> 0, fwd.nextSeqTsVal);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (v.ipId !== 0 && fwd.nextSeqIpId > 0 && fwd.ipIdSteps >= IP_ID_COUNTER_STEPS) {
    const d = sd16(v.ipId, fwd.nextSeqIpId);
    if (d !== 0 && d >= -IP_ID_WINDOW && d <= IP_ID_WINDOW) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Drops the peer's segments the ACK in `v` covers; the first exact match is an RTT sample for the
 * peer. A data retransmission this ACK is the first to cover was not needed when the ACK answers
 * its original (see resendWasUnneeded).
 */
function releaseAcked(rev: DirectionState, v: PacketView, ts: number, no: number, fa: FlowAnalysis, fromClient: 0 | 1): void {
  const n = rev.unackedCount;
  if (n === 0) return;
  const ack = v.ack >>> 0;
  const isAck = (v.flags & TCP_FLAG.ACK) !== 0;
  const senderSide = fromClient === 0 ? 1 : 0;
  const u = rev.unacked;
  let kept = 0;
  let sampled = false;
  let largestAcked = 0;
  // When this ACK answers data first sent longer ago than any TCP delays an ACK: that send time
  // and packet, and whether it also covers a segment sent after it, which it may answer instead.
  let heldSentTs = -1;
  let heldDataNo = 0;
  let heldAmbiguous = false;
  for (let i = 0; i < n; i++) {
    const at = i * UNACKED_STRIDE;
    const s = u[at];
    const e = u[at + 1];
    let keep: boolean;
    if (ack === e) {
      // A segment sent twice is in the list twice: like Wireshark's ack_rtt, the ACK gives one
      // sample, from the first time it was sent.
      const rtt = sampled ? -1 : ts - u[at + 3];
      sampled = true;
      if (rtt >= 0) {
        const sender = fa.timing.side[senderSide];
        sender.ackRtt.add(rtt, no);
        if (s !== rev.baseSeq && rtt >= DELAYED_ACK_MAX_MICROS) {
          heldSentTs = u[at + 3];
          heldDataNo = u[at + 2];
        }
        // A segment starting at the initial sequence number is the SYN (or SYN-ACK).
        if (s !== rev.baseSeq && (sender.dataRttMin < 0 || rtt < sender.dataRttMin)) {
          sender.dataRttMin = rtt;
          sender.dataRttMinNo = no;
        }
        if (s !== rev.baseSeq) noteQueueRise(sender, rtt, no, ts, ack, sd(rev.nextSeq, ack));
      }
      keep = false;
    } else if (sd(ack, s) > 0 && sd(ack, e) <= 0) {
      u[at] = ack; // partly acknowledged: keep the rest
      keep = true;
    } else keep = sd(e, ack) > 0;
    if (keep) {
      if (kept !== i) {
        const to = kept * UNACKED_STRIDE;
        u[to] = u[at];
        u[to + 1] = e;
        u[to + 2] = u[at + 2];
        u[to + 3] = u[at + 3];
        u[to + 4] = u[at + 4];
      }
      kept++;
    } else {
      // A segment partly acknowledged before counts the rest only: never more than was sent.
      if (s !== rev.baseSeq && sd(e, s) > largestAcked) largestAcked = sd(e, s);
      // This ACK is the first to cover a judged resend, and no later segment of its sender moved
      // the ACK number on (see DirectionState.ackAdvancedNo).
      const unneeded = u[at + 4] >= 0 && isAck && rev.ackAdvancedNo <= u[at + 2] && resendWasUnneeded(u[at + 4], v);
      if (unneeded) fa.addToCounter(UNNEEDED_RETRANSMISSIONS + senderSide, 1);
      // Karn: a later segment it covers (the data sent again, an earlier hole's resend, a FIN or a
      // window probe) may be the one it answers, unless its timestamp echo is older (Eifel).
      if (heldSentTs >= 0 && u[at + 3] > heldSentTs && !unneeded) heldAmbiguous = true;
    }
  }
  // Acknowledged later than any TCP delays an ACK: the data or its ACK was held on the way.
  if (heldSentTs >= 0 && !heldAmbiguous) {
    fa.heldMicros = ts - heldSentTs;
    fa.heldDataNo = heldDataNo;
  }
  // The peer acknowledged new data of the other side.
  if (kept < n) {
    const sender = fa.timing.side[senderSide];
    sender.retransSinceProgress = 0;
    sender.finResendsSinceProgress = 0;
    if (largestAcked > sender.largestAckedSegment) sender.largestAckedSegment = largestAcked;
  }
  rev.unackedCount = kept;
}

/**
 * The rise of a side's RTT above its floor, for the bufferbloat rule: a sample of data `rtt` µs
 * after it was sent, taken by the ACK `no` at `ts` with ACK number `ack`, `inFlight` bytes still
 * unacknowledged after it. A new floor starts the watch again; from there it keeps the largest
 * sample of a segment sent after the side's last resend (Karn: an ACK of bytes sent again does not
 * say which copy it answers, and a resend may cut them differently), how steadily the samples came
 * (a pause in the ACKs is a stalled receiver, not a queue) and the most bytes in flight (what the
 * side had put into the path).
 */
function noteQueueRise(sender: SideTiming, rtt: number, no: number, ts: number, ack: number, inFlight: number): void {
  if (sender.dataRttMinNo === no && sender.dataRttMin === rtt) {
    sender.floorTs = ts;
    sender.floorAck = ack;
    sender.sampleGapSinceFloor = 0;
    sender.inFlightSinceFloor = 0;
    sender.riseNo = 0;
  } else if (ts < sender.floorTs) {
    // Stamped before the floor: the clock stepped back, and no rise is measured across it.
    return;
  } else if (ts - sender.lastSampleTs > sender.sampleGapSinceFloor) sender.sampleGapSinceFloor = ts - sender.lastSampleTs;
  sender.lastSampleTs = ts;
  if (inFlight > sender.inFlightSinceFloor) sender.inFlightSinceFloor = inFlight;
  if (ts - rtt <= sender.lastResendTs || (sender.riseNo !== 0 && rtt <= sender.riseRtt)) return;
  sender.riseRtt = rtt;
  sender.riseNo = no;
  sender.riseTs = ts;
  sender.riseAck = ack;
  sender.riseInFlight = sender.inFlightSinceFloor;
  sender.riseSampleGap = sender.sampleGapSinceFloor;
}

/**
 * Whether the ACK in `v`, the first to cover a data retransmission sent with timestamp `tsVal`,
 * was sent before the resend arrived, so that the receiver had its bytes already (the Eifel test,
 * RFC 3522): it echoes an older timestamp. Only a resend starting at or below an ACK the capture
 * saw before it is judged: the receiver had then acknowledged up to its start (Last.ACK.sent), so
 * the resend moved TS.Recent to its own TSval on arrival (RFC 7323), and every later ACK echoes
 * that or newer. A resend above the receiver's last ACK may arrive while an earlier segment waits
 * for a delayed ACK; TS.Recent stays older, and an old echo then proves nothing. Nor does one when
 * the sender moved its ACK number on after the resend (see DirectionState.ackAdvancedNo). Without
 * timestamps nothing is proven: every round trip measured is an upper bound (a late SYN-ACK, a
 * delayed ACK), and a resend's own ACK may come sooner than all of them.
 */
function resendWasUnneeded(tsVal: number, v: PacketView): boolean {
  return v.hasTimestamps && sd(tsVal, v.tsEcr >>> 0) > 0;
}

/** A segment held back by Nagle's algorithm is small; a full-size one waiting for an ACK waits for the congestion window. */
const NAGLE_SMALL_SEGMENT = 1_200;
/** The shortest delayed-ACK wait of common stacks (Linux's 40 ms minimum, less its timer's slack), and the longest allowed (RFC 1122: 500 ms). */
const DELAYED_ACK_MIN_MICROS = 20_000;
const DELAYED_ACK_MAX_MICROS = 500_000;
/** A held segment leaves as soon as the ACK it waited for arrives: within this, beside the round trip from the capture to the side. */
const RELEASED_BY_ACK_MICROS = 1_000;
/** A capture this close to a side (round trip) sees its segments leave as they do. */
const NEAR_SIDE_MICROS = 2_000;

/** The peer answers the whole message soon after the held piece arrives: within this, plus its round trip. */
const ANSWERED_AFTER_HELD_MICROS = 200_000;

/**
 * Nagle's algorithm meeting a delayed ACK: a side's small segment left only when the peer's ACK of
 * its previous small segment came, and that ACK came late and bare: the peer had nothing to send
 * and waited for its delayed-ACK timer. It counts once the peer sends data soon after the held
 * segment, as a peer does once the message it waited for is whole; a stream the peer only
 * acknowledges (a transfer paced by its writer or its send buffer) shows the same timing without
 * Nagle, and is not counted.
 */
function noteHeldSegment(me: SideTiming, peer: SideTiming, v: PacketView, seglen: number, ta: number, no: number, ts: number, rttToMe: number, rttToPeer: number): void {
  const seq = v.seq >>> 0;
  const ack = v.ack >>> 0;
  const flags = v.flags;
  if ((flags & TCP_FLAG.ACK) !== 0 && peer.lastSentNo !== 0 && sd(ack, peer.lastSentEnd) >= 0) peer.lastSentCovered = true;
  if (seglen > 0) {
    if ((ta & (ANY_RETRANSMISSION | SEG.KEEP_ALIVE | SEG.ZERO_WINDOW_PROBE)) !== 0) return;
    // This side's data answers the peer's held segment, if one waits.
    if (peer.heldPendingNo !== 0) {
      if (ts - peer.heldPendingTs <= ANSWERED_AFTER_HELD_MICROS + rttToMe + rttToPeer) countHeldSegment(peer);
      peer.heldPendingNo = 0;
    }
    // A small segment sent while the last one was unacknowledged: Nagle's algorithm is off on this side.
    if (me.lastSentNo !== 0 && !me.lastSentCovered && seglen < NAGLE_SMALL_SEGMENT) me.sentSmallUnacked = true;
    // At the capture, the ACK shows a round trip to the peer after the segment. A segment it
    // released echoes the ACK's timestamp (RFC 7323: a bare ACK's TSval becomes TS.Recent), which
    // shows it left after the ACK arrived.
    // Only a capture near this side times its departure against the ACK's arrival closely enough
    // to tell a release by the ACK from an application that wrote a few ms later.
    const sinceAck = ts - me.lastSentAckTs;
    const afterAck = me.lastSentAckTsVal >= 0 && v.hasTimestamps ? sd(v.tsEcr >>> 0, me.lastSentAckTsVal) >= 0 : true;
    const released = me.lastSentAckTs > 0 && afterAck && rttToMe <= NEAR_SIDE_MICROS && sinceAck <= rttToMe + RELEASED_BY_ACK_MICROS;
    const ackWait = me.lastSentAckTs - me.lastSentTs - rttToPeer;
    if (released && seglen < NAGLE_SMALL_SEGMENT && me.lastSentLen < NAGLE_SMALL_SEGMENT && ackWait >= DELAYED_ACK_MIN_MICROS && ackWait <= DELAYED_ACK_MAX_MICROS) {
      me.heldPendingNo = no;
      me.heldPendingTs = ts;
      me.heldPendingWait = ts - me.lastSentTs;
      me.heldPendingAfterNo = me.lastSentNo;
      me.heldPendingAckNo = me.lastSentAckNo;
    }
    me.lastSentEnd = (seq + seglen) >>> 0;
    me.lastSentLen = seglen;
    me.lastSentTs = ts;
    me.lastSentNo = no;
    me.lastSentAckTs = 0;
    me.lastSentCovered = false;
    // Data from this side voids the peer's wait: its ACK rides on data, or the peer's next segment may answer it.
    if (peer.lastSentNo !== 0) peer.lastSentAckTs = -1;
  } else if ((flags & (TCP_FLAG.ACK | TCP_FLAG.SYN | TCP_FLAG.FIN)) === TCP_FLAG.ACK && peer.lastSentNo !== 0 && peer.lastSentAckTs === 0 && sd(ack, peer.lastSentEnd) >= 0) {
    peer.lastSentAckTs = ts;
    peer.lastSentAckNo = no;
    peer.lastSentAckTsVal = v.hasTimestamps ? v.tsVal >>> 0 : -1;
  }
}

function countHeldSegment(s: SideTiming): void {
  const held = s.heldPendingWait;
  s.heldSegments++;
  s.heldTotal += held;
  if (held > s.heldLongest) {
    s.heldLongest = held;
    s.heldLongestNo = s.heldPendingNo;
    s.heldLongestAfterNo = s.heldPendingAfterNo;
    s.heldLongestAckNo = s.heldPendingAckNo;
  }
}

/**
 * A side's second data segment that starts past the end of its first: the bytes between were sent
 * before it and never reached the capture. Right behind the first bytes of an answer it shows the
 * answer was on its way before those bytes arrived (resends of what the path lost), so the wait
 * for them was not all the sender's.
 */
function noteEarlyHole(me: SideTiming, seq: number, seglen: number, no: number, ts: number): void {
  if (me.earlyHoleNo !== 0) return;
  if (me.firstDataSeq < 0) {
    me.firstDataSeq = seq;
    me.firstDataLen = seglen;
    me.earlyHoleAfter = ts;
    return;
  }
  // No hole, or one stamped before the first data (a clock that stepped back): nothing to time.
  if (sd(seq, (me.firstDataSeq + me.firstDataLen) >>> 0) <= 0 || ts < me.earlyHoleAfter) {
    me.earlyHoleNo = -1;
    return;
  }
  me.earlyHoleNo = no;
  me.earlyHoleAfter = ts - me.earlyHoleAfter;
  me.earlyHoleSeq = seq;
  me.earlyHoleLen = seglen;
}

/** Reads the segment's numbers from the view, as classify does. */
function updateTiming(fa: FlowAnalysis, v: PacketView, no: number, ts: number, ta: number, from: 0 | 1): void {
  const seq = v.seq >>> 0;
  const ack = v.ack >>> 0;
  const seglen = v.payloadLen;
  const flags = v.flags;
  const window = v.window;
  const t = fa.timing;
  const me = t.side[from];
  const peer = t.side[from === 0 ? 1 : 0];
  const syn = (flags & TCP_FLAG.SYN) !== 0;
  const ackf = (flags & TCP_FLAG.ACK) !== 0;
  const closing = (flags & (TCP_FLAG.FIN | TCP_FLAG.RST)) !== 0;

  if (syn && !ackf) t.synTs = ts;
  else if (syn && ackf) t.synAckTs = ts;
  else if (ackf && t.synAckTs !== 0 && t.handshakeAckTs === 0 && from === 0) t.handshakeAckTs = ts;

  if (seglen > 0 && (flags & TCP_FLAG.RST) === 0) {
    t.lastDataTs = ts;
    t.lastDataNo = no;
    noteEarlyHole(me, seq, seglen, no, ts);
    if (ta & ANY_RETRANSMISSION) me.lastResendTs = ts;
  }
  if (closing && t.closeNo === 0) {
    t.closeNo = no;
    t.closeTs = ts;
    t.closeSide = from;
    t.closeWasRst = (flags & TCP_FLAG.RST) !== 0;
    t.closeLastDataNo = t.lastDataNo;
    t.closeLastDataTs = t.lastDataTs;
    if (t.lastPacketNo !== 0) {
      t.idleBeforeClose = Math.max(0, ts - t.lastPacketTs);
      t.idleBeforeCloseFromNo = t.lastPacketNo;
    }
  }
  if (t.lastPacketNo !== 0) {
    const gap = ts - t.lastPacketTs;
    if (gap > t.idleLongest) {
      t.idleLongest = gap;
      t.idleFromNo = t.lastPacketNo;
      t.idleToNo = no;
    }
  }
  t.lastPacketTs = ts;
  t.lastPacketNo = no;

  // TS echo RTT: time from this side's first use of a TSval to the peer echoing it.
  if (v.hasTimestamps) {
    if (peer.tsPending && (v.tsEcr >>> 0) === peer.tsPendingVal) {
      const rtt = ts - peer.tsPendingTs;
      if (rtt >= 0) peer.tsEchoRtt.add(rtt, no);
      peer.tsPending = false;
    }
    const val = v.tsVal >>> 0;
    if (val !== me.lastTsVal && (seglen > 0 || syn || closing)) {
      me.lastTsVal = val;
      if (!me.tsPending) {
        me.tsPending = true;
        me.tsPendingVal = val;
        me.tsPendingTs = ts;
      }
    }
  }

  // Zero-window episodes of the side advertising them.
  if ((flags & TCP_FLAG.RST) === 0) {
    if (window === 0 && !syn) {
      if (me.zeroSinceNo === 0) {
        me.zeroSinceNo = no;
        me.zeroSinceTs = ts;
        me.zeroEpisodes++;
      }
    } else if (me.zeroSinceNo !== 0) {
      closeZeroEpisode(me, ts);
      me.reopenedNo = no;
    }
  }

  // Probes into a closed window: Wireshark's zero-window probes, and keep-alive style probes.
  if (peer.zeroSinceNo !== 0 && ta & (SEG.ZERO_WINDOW_PROBE | SEG.KEEP_ALIVE)) peer.probesWhileZero++;

  // Round trips from the capture to each side come from the handshake: without it a late ACK and a long path look alike.
  if ((flags & TCP_FLAG.RST) === 0 && t.synTs !== 0 && t.synAckTs >= t.synTs && t.handshakeAckTs >= t.synAckTs) {
    const toServer = t.synAckTs - t.synTs;
    const toClient = t.handshakeAckTs - t.synAckTs;
    noteHeldSegment(me, peer, v, seglen, ta, no, ts, from === 0 ? toClient : toServer, from === 0 ? toServer : toClient);
  }

  if (ta & SEG.RETRANSMISSION && fa.lastRtoNo !== 0 && !fa.lastResendOnAck) {
    t.rto.add(fa.lastRto, no);
    if (t.rto.maxNo === no) t.worstRtoOriginalNo = fa.lastRtoNo;
  }

  // Request/response turns: the client's new data opens a turn, the server's first byte closes it.
  const newData = seglen > 0 && (flags & TCP_FLAG.RST) === 0 && (ta & (ANY_RETRANSMISSION | SEG.KEEP_ALIVE | SEG.ZERO_WINDOW_PROBE)) === 0;
  const rst = (flags & TCP_FLAG.RST) !== 0;
  if (from === 0) {
    if (newData) {
      if (t.awaitingResponse && ts - t.requestEndTs >= SILENT_RESUME_MICROS) t.silentResumes++;
      t.requestLoneByte = seglen === 1 && t.requestEndNo === 0 && t.synTs === 0 && t.synAckTs === 0;
      t.awaitingResponse = true;
      t.requestEndNo = no;
      t.requestEndTs = ts;
      t.requestEndSeq = (seq + seglen) >>> 0;
      t.requestAckedNo = 0;
      t.requestAckedTs = 0;
      t.requestServerSeq = ackf ? ack >>> 0 : -1;
      t.unseenAnswerNo = 0;
      t.gaveUpNo = 0;
    } else if (t.awaitingResponse && t.requestLoneByte && ta & SEG.KEEP_ALIVE && ((seq + 1) >>> 0) === t.requestEndSeq) {
      // The client sends that byte again as a keep-alive (one before its next sequence number):
      // the "request" was the first probe, seen before the capture knew where the stream stood.
      t.awaitingResponse = false;
    } else if (t.awaitingResponse && ackf && !rst && t.unseenAnswerNo === 0 && t.requestServerSeq >= 0 && sd(ack, serverSentEnd(t)) > 0) {
      // The client acknowledged server bytes (or a FIN) the capture never held.
      t.unseenAnswerNo = no;
    } else if (closing && t.awaitingResponse && t.gaveUpNo === 0) {
      t.gaveUpNo = no;
      t.gaveUpTs = ts;
      t.gaveUpRst = (flags & TCP_FLAG.RST) !== 0;
    }
  } else {
    // The server's sequence number passed bytes the capture never held: it sent them.
    if (t.awaitingResponse && !rst && !syn && t.unseenAnswerNo === 0 && t.requestServerSeq >= 0 && sd(seq, serverSentEnd(t)) > 0) t.unseenAnswerNo = no;
    if (!rst) {
      const end = (seq + seglen + (syn ? 1 : 0) + ((flags & TCP_FLAG.FIN) !== 0 ? 1 : 0)) >>> 0;
      if (t.serverSeenEnd < 0 || sd(end, t.serverSeenEnd) > 0) t.serverSeenEnd = end;
    }
    if (newData && t.silentResumes > 0) t.serverSpokeAfterResume = true;
    if (t.awaitingResponse && ackf && t.requestAckedNo === 0 && sd(ack, t.requestEndSeq) >= 0) {
      t.requestAckedNo = no;
      t.requestAckedTs = ts;
    }
    if (t.awaitingResponse && seglen > 0 && (flags & TCP_FLAG.RST) === 0) {
      const think = ts - t.requestEndTs;
      // An answer stamped before its request: the clock stepped back, there is no time to measure.
      if (think >= 0) {
        const ackNo = t.requestAckedNo !== no ? t.requestAckedNo : 0;
        const ackDelay = ackNo !== 0 ? Math.max(0, t.requestAckedTs - t.requestEndTs) : 0;
        t.think.add(think, no);
        if (t.think.maxNo === no) {
          t.maxThinkRequestNo = t.requestEndNo;
          t.maxThinkAckNo = ackNo;
          t.maxThinkAckDelay = ackDelay;
        }
        if (t.firstThink < 0) {
          t.firstThink = think;
          t.firstThinkNo = no;
          t.firstThinkRequestNo = t.requestEndNo;
          t.firstThinkAckNo = ackNo;
          t.firstThinkAckDelay = ackDelay;
        }
      }
      t.awaitingResponse = false;
    }
  }
}

/** The server's sequence space known to be sent by the end of the open request: what the client had acknowledged then, or what the capture saw since. */
function serverSentEnd(t: FlowAnalysis['timing']): number {
  return t.serverSeenEnd >= 0 && sd(t.serverSeenEnd, t.requestServerSeq) > 0 ? t.serverSeenEnd : t.requestServerSeq;
}

function closeZeroEpisode(s: { zeroSinceNo: number; zeroSinceTs: number; zeroLongest: number; zeroLongestFromNo: number; zeroTotal: number }, ts: number): void {
  const d = Math.max(0, ts - s.zeroSinceTs);
  s.zeroTotal += d;
  if (d >= s.zeroLongest) {
    s.zeroLongest = d;
    s.zeroLongestFromNo = s.zeroSinceNo;
  }
  s.zeroSinceNo = 0;
  s.zeroSinceTs = 0;
}

function record(fa: FlowAnalysis, ta: number, from: 0 | 1, no: number, ts: number, len: number, tcpFlags: number, backInTime: boolean, copy: boolean): void {
  const base = from * KIND_COUNT;
  for (let bit = 0, m = ta; m !== 0; bit++, m >>>= 1) if (m & 1) fa.addToCounter(base + bit, 1);
  if (ta & (SEG.FAST_RETRANSMISSION | SEG.SPURIOUS_RETRANSMISSION)) fa.addToCounter(base, 1); // tshark also shows these as retransmission
  if (ta & ANY_RETRANSMISSION) {
    fa.addToCounter(RESENT_BYTES + from, len);
    if (len > 0) fa.addToCounter(DATA_RETRANSMISSIONS + from, 1);
    if (len > 0 && backInTime) fa.addToCounter(BACK_IN_TIME_RETRANSMISSIONS + from, 1);
    if (tcpFlags & TCP_FLAG.SYN) fa.addToCounter(HANDSHAKE_RETRANSMISSIONS + from, 1);
    else {
      const side = fa.timing.side[from];
      if (side.retransSinceProgress++ === 0) {
        side.retransRunFirstNo = no;
        side.retransRunFirstTs = ts;
      }
      if (len === 0 && (tcpFlags & TCP_FLAG.FIN) !== 0 && !copy && !backInTime) side.finResendsSinceProgress++;
    }
  }
  if (fa.markCount >= MAX_MARKS) {
    fa.marksDropped++;
    return;
  }
  const store = fa.markStore;
  const row = store.append(fa);
  const resent = (ta & SEG.RETRANSMISSION) !== 0;
  store.no[row] = no;
  store.bits[row] = (ta << MARK_KINDS_SHIFT) | (resent && fa.lastResendOnAck ? MARK_ON_ACK : 0) | (from === 1 ? MARK_FROM_SERVER : 0);
  store.len[row] = len;
  store.dupAckNo[row] = ta & SEG.DUPLICATE_ACK ? fa.lastDupAckNum : 0;
  store.rto[row] = resent ? fa.lastRto : 0;
  store.rtoNo[row] = resent ? fa.lastRtoNo : 0;
}

/** Names of the kinds set in a flags value, in SEG order. */
export function segmentKinds(flags: number): SegmentKind[] {
  const out: SegmentKind[] = [];
  for (let bit = 0; bit < KIND_COUNT; bit++) if (flags & (1 << bit)) out.push(SEG_NAMES[bit]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Facts: the JSON-ready summary that FlowFacts.analysis carries.

export interface TcpCounts {
  retransmission: number;
  fastRetransmission: number;
  spuriousRetransmission: number;
  outOfOrder: number;
  lostSegment: number;
  ackLostSegment: number;
  duplicateAck: number;
  zeroWindow: number;
  zeroWindowProbe: number;
  zeroWindowProbeAck: number;
  windowFull: number;
  windowUpdate: number;
  keepAlive: number;
  keepAliveAck: number;
  reusedPorts: number;
}

export interface RttStats {
  samples: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
  maxPacket: number;
}

export interface ZeroWindowFacts {
  /** Episodes in which this side advertised a zero window. */
  episodes: number;
  firstPacket: number;
  longestMs: number;
  longestFromPacket: number;
  totalMs: number;
  /** Still closed when the flow ended, and since which packet. */
  stillClosed: boolean;
  /** Probes the peer sent into the closed window (zero-window probes or keep-alive style). */
  probes: number;
  reopenedPacket: number | null;
}

/** What one side sent: the counts the verdicts weigh, bytes resent, RTT, zero-window episodes. */
export interface SideAnalysis extends Pick<TcpCounts, 'retransmission' | 'fastRetransmission' | 'spuriousRetransmission' | 'duplicateAck' | 'zeroWindow' | 'zeroWindowProbe' | 'zeroWindowProbeAck' | 'windowFull' | 'keepAlive'> {
  /** Payload bytes this side sent again. */
  bytesResent: number;
  /** Of the retransmissions, SYNs or SYN-ACKs sent again, and those carrying payload. */
  handshakeRetransmissions: number;
  dataRetransmissions: number;
  /** Of those carrying payload, the ones stamped before an earlier packet of their 4-tuple: copies from a clock that stepped back, not resends. */
  dataRetransmissionsBackInTime: number;
  /** D-SACKs this side sent (RFC 2883): segments of the peer it reports having received twice. */
  dsacks: number;
  /** Of those, the ones a duplicate ACK carried. */
  dsackDuplicateAcks: number;
  /**
   * Duplicate ACKs this side sent of every byte the peer had sent (its FIN too, if sent), once the
   * peer had sent data again: no sign of a hole. Copies the capture holds twice are not counted.
   */
  duplicateAcksOfAll: number;
  /**
   * Of this side's data retransmissions, those the first ACK covering them shows were not needed:
   * it echoed a timestamp older than the resend's (the Eifel test, RFC 3522), so the original had
   * arrived.
   */
  unneededRetransmissions: number;
  /**
   * Of this side's data retransmissions, those sending again the data its SYN carried (TCP Fast
   * Open) after the peer's SYN-ACK acknowledged the SYN alone: the peer did not take it, nothing was lost.
   */
  fastOpenResends: number;
  /** Retransmissions since the peer last acknowledged new data: a sender left talking to nobody. */
  retransmissionsUnanswered: number;
  /** The first of those (null: none), from which the peer's silence is measured. */
  unansweredSince: { packet: number; ts: number } | null;
  /** Payload bytes of the largest segment of this side the peer acknowledged whole (0: none). */
  largestAckedSegment: number;
  /** Payload bytes of this side's last new data segment when the peer's ACKs never covered it (0: covered, or unknown without the handshake). */
  lastSegmentUnacked: number;
  /**
   * Small segments of this side that left only when the peer's late, bare ACK of its previous small
   * segment came (Nagle's algorithm meeting a delayed ACK; null: none): how many, their waits, and
   * the longest, with the segment held, the one before it and the ACK that released it.
   */
  heldForAck: { segments: number; totalMs: number; longestMs: number; packet: number; afterPacket: number; ackPacket: number } | null;
  /**
   * This side's second data segment when it skipped bytes the capture never saw (null: it did not):
   * the packet, its length and time after the first data segment, the first's length, and the
   * bytes skipped. See noteEarlyHole.
   */
  earlyHole: { packet: number; len: number; afterFirstMs: number; firstLen: number; skippedBytes: number } | null;
  /**
   * How far the ACK RTT of this side's data rose above its floor (dataRtt) afterwards, from segments
   * sent after its last resend (null: no sample after the floor): the largest sample and its ACK, the
   * time since the floor, the bytes acknowledged between the two, the most bytes in flight after an
   * ACK and the longest time between two RTT samples, from the floor to it. See noteQueueRise.
   */
  queueRise: { rttMs: number; packet: number; afterFloorMs: number; ackedBytes: number; inFlightBytes: number; longestSampleGapMs: number } | null;
  /** RTT of this side's data: from the peer's ACKs, and from its TS echoes. */
  ackRtt: RttStats | null;
  tsEchoRtt: RttStats | null;
  /** The smallest ACK RTT of a segment after the SYN: the path's round trip without the handshake. */
  dataRtt: { minMs: number; packet: number } | null;
  zeroWindowEpisodes: ZeroWindowFacts | null;
}

export interface TcpAnalysisFacts extends TcpCounts {
  client: SideAnalysis;
  server: SideAnalysis;
  handshake: { rttMs: number; synToSynAckMs: number; synAckToAckMs: number } | null;
  rto: { samples: number; worstMs: number; worstPacket: number; originalPacket: number; avgMs: number } | null;
  idle: { longestMs: number; fromPacket: number; toPacket: number } | null;
  /** The first FIN or RST, and the silence before it. */
  close: { packet: number; by: 'client' | 'server'; rst: boolean; idleBeforeMs: number; lastPacketBefore: number; sinceLastDataMs: number | null } | null;
  serverThink: {
    firstMs: number;
    firstPacket: number;
    maxMs: number;
    maxPacket: number;
    turns: number;
    /** The request of the first and of the slowest turn, and the server's ACK of it before its answer. */
    first: ThinkTurn;
    max: ThinkTurn;
  } | null;
  /** The client's last request bytes got no application byte back. */
  unanswered: {
    requestPacket: number;
    requestTs: number;
    ackedPacket: number | null;
    ackedTs: number | null;
    gaveUpPacket: number | null;
    gaveUpTs: number | null;
    gaveUpRst: boolean;
    /** Times the client sent again after a second or more without an answer (it was not waiting). */
    silentResumes: number;
    /** The server sent data after one of those resumes. */
    serverSpokeAfterResume: boolean;
    /** A packet proving the server sent bytes or a FIN after the request that the capture does not hold. */
    unseenAnswerPacket: number | null;
  } | null;
  /** Packets stamped no later than the latest its 4-tuple already carried: with all of a flow's, a replay. */
  packetsBackInTime: number;
  marks: Array<{ no: number; from: 'client' | 'server'; kinds: SegmentKind[]; len: number; dupAckNo?: number; rtoMs?: number; rtoOf?: number; onAck?: true }>;
  marksDropped: number;
}

/** One request/answer turn: the request's last packet, and the server's ACK of it when one came before the answer. */
export interface ThinkTurn {
  requestPacket: number;
  ackPacket: number | null;
  ackDelayMs: number | null;
}

function thinkTurn(requestNo: number, ackNo: number, ackDelay: number): ThinkTurn {
  return { requestPacket: requestNo, ackPacket: ackNo || null, ackDelayMs: ackNo ? toMs(ackDelay) : null };
}

/** The latest time a packet of the flow carried: after a step back in the capture's clock, later than its last packet's. */
export function latestTimestamp(flow: Flow): number {
  const fa = flow.analysis;
  return fa instanceof FlowAnalysis ? Math.max(flow.lastTs, fa.timing.latestTs) : flow.lastTs;
}

/** Summarises a flow's analysis for FlowFacts (null when the flow saw no TCP segment). */
export function summarizeTcpAnalysis(flow: Flow): TcpAnalysisFacts | null {
  const fa = flow.analysis as FlowAnalysis | null;
  if (!fa || !(fa instanceof FlowAnalysis)) return null;
  const t = fa.timing;
  const end = Math.max(flow.lastTs, t.latestTs);
  // The flow is over: its unacknowledged-segment lists only served RTT and RTO samples.
  fa.conv.sideA.releaseUnacked();
  fa.conv.sideB.releaseUnacked();
  const hs = t.synTs && t.synAckTs && t.handshakeAckTs && t.synAckTs >= t.synTs && t.handshakeAckTs >= t.synAckTs;
  return {
    retransmission: countOfBoth(fa, 0),
    fastRetransmission: countOfBoth(fa, 1),
    spuriousRetransmission: countOfBoth(fa, 2),
    outOfOrder: countOfBoth(fa, 3),
    lostSegment: countOfBoth(fa, 4),
    ackLostSegment: countOfBoth(fa, 5),
    duplicateAck: countOfBoth(fa, 6),
    zeroWindow: countOfBoth(fa, 7),
    zeroWindowProbe: countOfBoth(fa, 8),
    zeroWindowProbeAck: countOfBoth(fa, 9),
    windowFull: countOfBoth(fa, 10),
    windowUpdate: countOfBoth(fa, 11),
    keepAlive: countOfBoth(fa, 12),
    keepAliveAck: countOfBoth(fa, 13),
    reusedPorts: countOfBoth(fa, 14),
    client: sideSummary(fa, 0, end),
    server: sideSummary(fa, 1, end),
    handshake: hs ? { rttMs: toMs(t.handshakeAckTs - t.synTs), synToSynAckMs: toMs(t.synAckTs - t.synTs), synAckToAckMs: toMs(t.handshakeAckTs - t.synAckTs) } : null,
    rto: t.rto.count ? { samples: t.rto.count, worstMs: toMs(t.rto.max), worstPacket: t.rto.maxNo, originalPacket: t.worstRtoOriginalNo, avgMs: toMs(t.rto.sum / t.rto.count) } : null,
    idle: t.idleToNo ? { longestMs: toMs(t.idleLongest), fromPacket: t.idleFromNo, toPacket: t.idleToNo } : null,
    close: t.closeNo
      ? {
          packet: t.closeNo,
          by: t.closeSide === 0 ? 'client' : 'server',
          rst: t.closeWasRst,
          idleBeforeMs: toMs(t.idleBeforeClose),
          lastPacketBefore: t.idleBeforeCloseFromNo,
          sinceLastDataMs: t.closeLastDataNo && t.closeTs >= t.closeLastDataTs ? toMs(t.closeTs - t.closeLastDataTs) : null,
        }
      : null,
    serverThink: t.think.count
      ? {
          firstMs: toMs(t.firstThink),
          firstPacket: t.firstThinkNo,
          maxMs: toMs(t.think.max),
          maxPacket: t.think.maxNo,
          turns: t.think.count,
          first: thinkTurn(t.firstThinkRequestNo, t.firstThinkAckNo, t.firstThinkAckDelay),
          max: thinkTurn(t.maxThinkRequestNo, t.maxThinkAckNo, t.maxThinkAckDelay),
        }
      : null,
    unanswered: t.awaitingResponse
      ? {
          requestPacket: t.requestEndNo,
          requestTs: t.requestEndTs,
          ackedPacket: t.requestAckedNo || null,
          ackedTs: t.requestAckedNo ? t.requestAckedTs : null,
          gaveUpPacket: t.gaveUpNo || null,
          gaveUpTs: t.gaveUpNo ? t.gaveUpTs : null,
          gaveUpRst: t.gaveUpRst,
          silentResumes: t.silentResumes,
          serverSpokeAfterResume: t.serverSpokeAfterResume,
          unseenAnswerPacket: t.unseenAnswerNo || null,
        }
      : null,
    packetsBackInTime: t.packetsBackInTime,
    marks: fa.markCount === 0 ? NO_MARKS : marksOf(fa),
    marksDropped: fa.marksDropped,
  };
}

/** Counter `i` (see FlowAnalysis.countsAt) as the facts hold it: see wholeNumber. */
function countOf(fa: FlowAnalysis, i: number): number {
  return wholeNumber(fa.counter(i));
}

/** Count of kind `bit` sent by both sides. */
function countOfBoth(fa: FlowAnalysis, bit: number): number {
  return countOf(fa, bit) + countOf(fa, KIND_COUNT + bit);
}

/** The marks of a flow with no segment to mark (most): shared, never written. */
const NO_MARKS: TcpAnalysisFacts['marks'] = Object.freeze([]) as unknown as TcpAnalysisFacts['marks'];

type MarkFacts = TcpAnalysisFacts['marks'][number];

function marksOf(fa: FlowAnalysis): MarkFacts[] {
  const store = fa.markStore;
  const out: MarkFacts[] = [];
  for (let row = fa.marksFirst; row !== NO_MARK; row = store.next[row]) out.push(markFacts(store, row));
  return out;
}

/** A mark as the facts hold it, with dupAckNo, rtoMs, rtoOf and onAck only where they apply: no spread of a temporary object. */
function markFacts(store: MarkStore, row: number): MarkFacts {
  const no = store.no[row];
  const bits = store.bits[row];
  const from = bits & MARK_FROM_SERVER ? 'server' : 'client';
  const kinds = kindsOf(bits >>> MARK_KINDS_SHIFT);
  const len = store.len[row];
  const dupAckNo = store.dupAckNo[row];
  if (store.rtoNo[row]) {
    const rtoMs = toMs(store.rto[row]);
    const rtoOf = wholeNumber(store.rtoNo[row]);
    const resent: MarkFacts = dupAckNo ? { no, from, kinds, len, dupAckNo, rtoMs, rtoOf } : { no, from, kinds, len, rtoMs, rtoOf };
    if (bits & MARK_ON_ACK) resent.onAck = true;
    return resent;
  }
  return dupAckNo ? { no, from, kinds, len, dupAckNo } : { no, from, kinds, len };
}

/** segmentKinds of each flags value met so far: a mark's kinds are read, never written, so marks with the same flags share them. */
const KINDS_BY_FLAGS = new Map<number, SegmentKind[]>();

function kindsOf(flags: number): SegmentKind[] {
  let kinds = KINDS_BY_FLAGS.get(flags);
  if (!kinds) {
    kinds = Object.freeze(segmentKinds(flags)) as SegmentKind[];
    KINDS_BY_FLAGS.set(flags, kinds);
  }
  return kinds;
}

/** One side's counters and timing; a plain function, not a closure, since it runs once per flow side. */
function sideSummary(fa: FlowAnalysis, from: 0 | 1, end: number): SideAnalysis {
  const s = fa.timing.side[from];
  const stillClosed = s.zeroSinceNo !== 0;
  const longest = stillClosed ? Math.max(s.zeroLongest, end - s.zeroSinceTs) : s.zeroLongest;
  const k = from * KIND_COUNT;
  return {
    retransmission: countOf(fa, k),
    fastRetransmission: countOf(fa, k + 1),
    spuriousRetransmission: countOf(fa, k + 2),
    duplicateAck: countOf(fa, k + 6),
    zeroWindow: countOf(fa, k + 7),
    zeroWindowProbe: countOf(fa, k + 8),
    zeroWindowProbeAck: countOf(fa, k + 9),
    windowFull: countOf(fa, k + 10),
    keepAlive: countOf(fa, k + 12),
    bytesResent: countOf(fa, RESENT_BYTES + from),
    handshakeRetransmissions: countOf(fa, HANDSHAKE_RETRANSMISSIONS + from),
    dataRetransmissions: countOf(fa, DATA_RETRANSMISSIONS + from),
    dataRetransmissionsBackInTime: countOf(fa, BACK_IN_TIME_RETRANSMISSIONS + from),
    dsacks: countOf(fa, D_SACKS + from),
    dsackDuplicateAcks: countOf(fa, D_SACK_DUPLICATE_ACKS + from),
    duplicateAcksOfAll: countOf(fa, DUPLICATE_ACKS_OF_ALL + from),
    unneededRetransmissions: countOf(fa, UNNEEDED_RETRANSMISSIONS + from),
    fastOpenResends: countOf(fa, FAST_OPEN_RESENDS + from),
    retransmissionsUnanswered: s.retransSinceProgress,
    unansweredSince: s.retransSinceProgress > 0 ? { packet: s.retransRunFirstNo, ts: s.retransRunFirstTs } : null,
    largestAckedSegment: s.largestAckedSegment,
    lastSegmentUnacked: s.lastSentCovered ? 0 : s.lastSentLen,
    heldForAck:
      s.heldSegments === 0 || s.sentSmallUnacked
        ? null
        : { segments: s.heldSegments, totalMs: toMs(s.heldTotal), longestMs: toMs(s.heldLongest), packet: s.heldLongestNo, afterPacket: s.heldLongestAfterNo, ackPacket: s.heldLongestAckNo },
    earlyHole:
      s.earlyHoleNo > 0
        ? { packet: s.earlyHoleNo, len: s.earlyHoleLen, afterFirstMs: toMs(s.earlyHoleAfter), firstLen: s.firstDataLen, skippedBytes: sd(s.earlyHoleSeq, (s.firstDataSeq + s.firstDataLen) >>> 0) }
        : null,
    queueRise:
      s.riseNo !== 0 && s.riseNo !== s.dataRttMinNo
        ? { rttMs: toMs(s.riseRtt), packet: s.riseNo, afterFloorMs: toMs(s.riseTs - s.floorTs), ackedBytes: sd(s.riseAck, s.floorAck), inFlightBytes: s.riseInFlight, longestSampleGapMs: toMs(s.riseSampleGap) }
        : null,
    ackRtt: s.ackRtt.toJson(),
    tsEchoRtt: s.tsEchoRtt.toJson(),
    dataRtt: s.dataRttMin >= 0 ? { minMs: toMs(s.dataRttMin), packet: s.dataRttMinNo } : null,
    zeroWindowEpisodes:
      s.zeroEpisodes === 0
        ? null
        : {
            episodes: s.zeroEpisodes,
            firstPacket: firstZeroPacket(fa, from) ?? s.zeroSinceNo,
            longestMs: toMs(longest),
            longestFromPacket: stillClosed && end - s.zeroSinceTs >= s.zeroLongest ? s.zeroSinceNo : s.zeroLongestFromNo,
            totalMs: toMs(s.zeroTotal + (stillClosed ? end - s.zeroSinceTs : 0)),
            stillClosed,
            probes: s.probesWhileZero,
            reopenedPacket: s.reopenedNo || null,
          },
  };
}

function firstZeroPacket(fa: FlowAnalysis, from: 0 | 1): number | null {
  const store = fa.markStore;
  const sender = from === 1 ? MARK_FROM_SERVER : 0;
  for (let row = fa.marksFirst; row !== NO_MARK; row = store.next[row]) {
    const bits = store.bits[row];
    if ((bits & MARK_FROM_SERVER) === sender && (bits >>> MARK_KINDS_SHIFT) & SEG.ZERO_WINDOW) return store.no[row];
  }
  return null;
}
