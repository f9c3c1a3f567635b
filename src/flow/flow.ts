import { formatAddr, formatEndpoint } from '../decode/addr.js';
import { TCP_FLAG, type PacketView } from '../decode/view.js';
import { AddressPair } from './address-pair.js';
import { analyzeSegment, FIRST_ROW_ANALYSIS_COUNTS, FlowAnalysis, RARE_ANALYSIS_COUNTS, swapAnalysisSides, type ParkedAnalysis, type TcpConversation } from './analysis.js';
import { MarkStore, NO_MARK } from './mark-store.js';
import { Columns, defineColumns, RareRow, swapNumbers, type ColumnView } from './columns.js';
import { EP, Endpoint, ENDPOINT_FIELDS, ENDPOINT_RARE_FIELDS, initialEndpoint, initialRareEndpoint } from './endpoint.js';
import { HandshakeLog } from './handshake-log.js';
import { History, HIST } from './history.js';
import { DirectionReassembler, REASSEMBLY_EVENT, type ReassemblyBudget } from './reassembly.js';
import type { Dir, StreamSink } from './sink.js';
import { FlowTiming, initialRareTiming, initialTiming, TIMING_FIELDS, TIMING_RARE_FIELDS } from './timing.js';

/** Zeek's TOO_LARGE_SEQ_DELTA: jumps larger than this in SYN/RST sequence numbers are not trusted. */
const TOO_LARGE_SEQ_DELTA = 1048576;
/** Where an address is put to be formatted (formatting keeps no reference to it). */
const SCRATCH = new Uint32Array(4);
/** The addresses of a flow not yet given any (all words 0). */
const NO_ADDRESS = new Uint32Array(4);

/** ICMP errors of a flow that has none: shared, never written. */
export const NO_ICMP_ERRORS: IcmpErrorFact[] = [];

export interface IcmpErrorFact {
  no: number;
  ts: number;
  version: 4 | 6;
  type: number;
  code: number;
  /** Address of the host that sent the ICMP error, as 4 words. */
  from: Uint32Array;
}

/**
 * A flow's row in the columns: the flow's own times, the originator's endpoint, the responder's,
 * the timing, then the analysis counters a SYN sent again changes (analysis.ts FIRST_ROW_COUNTERS).
 */
const FLOW_TIMES = { startTs: 0, lastTs: 0, lastOpenTs: 0, attemptDeadline: 0, handshakeAckTs: 0, firstRefusalTs: 0, resumesAfterTs: 0 };
const ORIG_AT = Object.keys(FLOW_TIMES).length;
const RESP_AT = ORIG_AT + ENDPOINT_FIELDS;
const TIMING_AT = RESP_AT + ENDPOINT_FIELDS;
const COUNTS_AT = TIMING_AT + TIMING_FIELDS;
const FLOW_ROW = COUNTS_AT + FIRST_ROW_ANALYSIS_COUNTS;
const NEW_FLOW_ROW = (() => {
  const row = new Float64Array(FLOW_ROW);
  initialEndpoint(row, ORIG_AT);
  initialEndpoint(row, RESP_AT);
  initialTiming(row, TIMING_AT);
  return row;
})();

/** A flow's rare row (columns.ts RareRow): the originator's rare numbers, the responder's, then the timing's. */
const ORIG_RARE_AT = 0;
const RESP_RARE_AT = ENDPOINT_RARE_FIELDS;
const TIMING_RARE_AT = RESP_RARE_AT + ENDPOINT_RARE_FIELDS;
const COUNTS_RARE_AT = TIMING_RARE_AT + TIMING_RARE_FIELDS;
const NEW_RARE_ROW = (() => {
  const row = new Float64Array(COUNTS_RARE_AT + RARE_ANALYSIS_COUNTS);
  initialRareEndpoint(row, ORIG_RARE_AT);
  initialRareEndpoint(row, RESP_RARE_AT);
  initialRareTiming(row, TIMING_RARE_AT);
  return row;
})();

/**
 * A parked attempt's row (see Flow.park): FLOW_TIMES where a flow's row has them, so that its times
 * read as before; how many SYNs it sent and when it sent the last two; then the numbers of its flow
 * row past FLOW_TIMES that differ from a new flow's (an attempt changes 44 of the 243 in the
 * benchmark mix), at the places its record names.
 */
const PARKED_SYNS_AT = ORIG_AT;
const PARKED_CHANGES_AT = PARKED_SYNS_AT + 3;
/** Changed numbers a parked row holds: an attempt that changed more stays in its slot. */
const MAX_PARKED_CHANGES = 56;
const PARKED_ROW = PARKED_CHANGES_AT + MAX_PARKED_CHANGES;
const NEW_PARKED_ROW = new Float64Array(PARKED_ROW);
/** Distinct lists of changed places kept to be shared: attempts alike change the same places. */
const MAX_SHARED_PLACES = 256;
const NO_PLACES: readonly number[] = Object.freeze([]);

/**
 * What a parked attempt keeps besides its parked row: where in the flow row its changed numbers
 * go, and the state its slot's objects held outside the row.
 */
class ParkedAttempt implements ParkedAnalysis {
  slot = -1;
  /** Places in the flow row of the parked row's changed numbers, in order (shared between attempts alike). */
  places: readonly number[] = NO_PLACES;
  synsExtra: number[] | null = null;
  historyText = '';
  historySeen = 0;
  /** Whether the flow's analysis had started (a SYN was classified). */
  analysed = false;
  conv: TcpConversation | null = null;
  marksFirst = NO_MARK;
  marksLast = NO_MARK;
  markCount = 0;
  marksDropped = 0;

  /** Lets go of what it refers to, to be taken for the next parked attempt (park() sets the rest). */
  clear(): void {
    this.slot = -1;
    this.places = NO_PLACES;
    this.synsExtra = null;
    this.historyText = '';
    this.conv = null;
    this.marksFirst = this.marksLast = NO_MARK;
    this.markCount = 0;
  }
}
/** Spare ParkedAttempt objects kept for the next attempts parked. */
const MAX_SPARE_PARKED = 1024;

/** The lists of changed places parked attempts share, by their text. */
class SharedPlaces {
  private readonly byText = new Map<string, readonly number[]>();
  private last: readonly number[] = NO_PLACES;

  /** The shared list equal to the first `count` places of `places`. */
  of(places: Int32Array, count: number): readonly number[] {
    if (sameStart(this.last, places, count)) return this.last;
    const list = Array.from(places.subarray(0, count));
    const text = list.join(',');
    let shared = this.byText.get(text);
    if (!shared) {
      shared = Object.freeze(list);
      if (this.byText.size < MAX_SHARED_PLACES) this.byText.set(text, shared);
    }
    return (this.last = shared);
  }
}

function sameStart(list: readonly number[], places: Int32Array, count: number): boolean {
  if (list.length !== count) return false;
  for (let i = 0; i < count; i++) if (list[i] !== places[i]) return false;
  return true;
}

/** Where park() gathers an attempt's changed places. */
const CHANGED_PLACES = new Int32Array(FLOW_ROW);

/**
 * The views over one slot's row, and the objects that go with them, made the first time the slot
 * is taken and kept for every flow that takes it: a flow's objects live as long as the flow, long
 * enough to be promoted to the old generation, so they are reused rather than made for each flow.
 */
interface RowViews {
  /** The row's chunk, and where the row starts in it. */
  n: Float64Array;
  at: number;
  /** The slot's rare row, taken while a flow in the slot has one. */
  rare: RareRow;
  orig: Endpoint;
  resp: Endpoint;
  timing: FlowTiming;
  syns: HandshakeLog;
  synAcks: HandshakeLog;
  history: History;
  analysis: FlowAnalysis;
  /** Made when a flow in the slot first has a sink. */
  reassemblers: [DirectionReassembler, DirectionReassembler] | null;
}

/** A flow table's columns: one row per open flow (see columns.ts). */
export class FlowRows {
  readonly columns = new Columns(FLOW_ROW);
  readonly rareColumns = new Columns(NEW_RARE_ROW.length);
  /** The parked attempts' rows (see Flow.park). */
  readonly parkedRows = new Columns(PARKED_ROW);
  readonly sharedPlaces = new SharedPlaces();
  /** The segment marks of every flow of the table (see FlowAnalysis). */
  readonly marks = new MarkStore();
  private readonly spareParked: ParkedAttempt[] = [];
  private readonly views: RowViews[] = [];

  /** A new flow's slot, its row set to a new flow's numbers, with no rare row. */
  take(): number {
    const slot = this.columns.take(NEW_FLOW_ROW);
    // Released with the flow; again here, so that a write after release cannot pass to the next flow.
    this.views[slot]?.rare.release();
    return slot;
  }

  viewsOf(slot: number): RowViews {
    let v = this.views[slot];
    if (!v) {
      const n = this.columns.chunkOf(slot);
      const at = this.columns.rowAt(slot);
      const rare = new RareRow(this.rareColumns, NEW_RARE_ROW);
      const orig = new Endpoint(n, at + ORIG_AT, rare, ORIG_RARE_AT);
      const resp = new Endpoint(n, at + RESP_AT, rare, RESP_RARE_AT);
      const timing = new FlowTiming(n, at + TIMING_AT, rare, TIMING_RARE_AT);
      v = { n, at, rare, orig, resp, timing, syns: new HandshakeLog(orig), synAcks: new HandshakeLog(resp), history: new History(), analysis: new FlowAnalysis(this.marks, timing, rare, COUNTS_RARE_AT, n, at + COUNTS_AT), reassemblers: null };
      this.views[slot] = v;
    }
    return v;
  }

  /**
   * Flow objects of finished flows no table list holds any more, for the next flows: a flow lives
   * long enough to be promoted to the old generation, and reusing its object spares the collector
   * promoting and then collecting one per connection.
   */
  private readonly freeFlows: Flow[] = [];

  /** A new flow, in a reused flow object if there is one. */
  newFlow(id: number): Flow {
    return this.freeFlows.pop()?.reuse(id, this) ?? new Flow(id, this);
  }

  /** The flow is finished and reported: the next flow may take its row. */
  release(flow: Flow): void {
    flow.analysis = null;
    this.releaseSlot(flow.slot);
  }

  /** The slot's flow is done with it (finished, or parked): the next flow may take its row. */
  releaseSlot(slot: number): void {
    const views = this.views[slot];
    views.analysis.end();
    views.rare.release();
    this.columns.release(slot);
  }

  /** A record for an attempt to park: a spare one when there is one. */
  takeParked(): ParkedAttempt {
    const p = this.spareParked.pop() ?? new ParkedAttempt();
    p.slot = this.parkedRows.take(NEW_PARKED_ROW);
    return p;
  }

  /** The attempt is back in a slot of its own: its parked row and record go back. */
  releaseParked(p: ParkedAttempt): void {
    this.parkedRows.release(p.slot);
    p.clear();
    if (this.spareParked.length < MAX_SPARE_PARKED) this.spareParked.push(p);
  }

  /** No table list holds the finished flow any more: its object may serve a new flow. What it refers to is let go now, not at its reuse. */
  free(flow: Flow): void {
    flow.sink = null;
    flow.icmpErrors = NO_ICMP_ERRORS;
    flow.reusedAfter = null;
    this.freeFlows.push(flow);
  }
}

/** One TCP connection. Endpoint 0 is the originator (client), 1 the responder (server). */
export class Flow extends AddressPair implements ColumnView {
  /** The chunk of the flow table's columns holding the flow's row, and where the row starts (its times are read there). */
  n!: Float64Array;
  at!: number;
  orig!: Endpoint;
  resp!: Endpoint;
  /** Timing facts gathered segment by segment (analysis.ts). */
  timing!: FlowTiming;
  history!: History;
  ipVersion!: 4 | 6;
  origPort!: number;
  respPort!: number;
  hash!: number;
  /** LRU list ordered by last packet time, for expiry. */
  older!: Flow | null;
  newer!: Flow | null;

  firstNo!: number;
  lastNo!: number;
  declare startTs: number;
  declare lastTs: number;
  /** The last segment that came while a side had not closed yet: Zeek's last_time, where conn.log's duration ends. */
  declare lastOpenTs: number;
  /** Zeek's attempt timer: 5 s after the first SYN, a connection the responder never answered is dropped. */
  declare attemptDeadline: number;
  /** Index in the flow table's list of open SYN attempts, -1 when not in it. */
  attemptSlot!: number;
  /** The flow table counts this open attempt among those holding a rare row (see FlowTable.openAttemptsWithRareRow). */
  attemptCountedRare!: boolean;
  /** The table's last look over the open attempts found this one given up by its client (waiting for a late SYN-ACK). */
  givenUpSeen!: boolean;
  /** Packet time after which the flow is gone (Zeek's close/reset delay), 0 while open. */
  removeAfterTs!: number;
  /** Set once the table has finished the flow. */
  finished!: boolean;
  /** Roles were chosen by a heuristic or flipped (history '^'). */
  flipped!: boolean;
  /** True while analysis is partial (a bound was hit: history 'x'). */
  partial!: boolean;
  /**
   * Set for a connection the capture joined after its handshake, until a side's first payload is
   * looked at for proof of the roles (role-evidence.ts); rolesProvenNo is the packet that proved them.
   */
  seekingRoles!: boolean;
  rolesProvenNo!: number;
  /** That payload proved the first guess wrong, and the roles were turned (turnRoles). */
  rolesTurned!: boolean;

  /** The originator's SYNs and the responder's SYN-ACKs (retries included, copies left out). */
  syns!: HandshakeLog;
  synAcks!: HandshakeLog;
  /** Time the handshake completed (the originator's first ACK after the SYN-ACK), 0 if never. */
  handshakeAckNo!: number;
  declare handshakeAckTs: number;
  /** Shared and empty until the first ICMP error about the flow. */
  icmpErrors!: IcmpErrorFact[];
  /**
   * Connections Zeek's conn.log has for this flow: one more each time the flow goes on where Zeek
   * starts a new connection (a SYN retried after the RST that refused it, a SYN-ACK after the 5 s
   * attempt timer).
   */
  zeekConnections!: number;
  /**
   * The client sent its SYN again after an RST in its name (table.ts isRetryAfterClientRst), so
   * that RST was not its TCP's: until the handshake completes, RSTs in its name close nothing.
   */
  clientRstsForeign!: boolean;
  /** When the latest RST that closed nothing so came (0: none since): Zeek's connection ended there (see table.ts zeekSplitAfterIgnoredRst). */
  ignoredRstTs!: number;
  /** SYNs the server refused (RST) before the client's retry of the same SYN, and the first such RST. */
  refusals!: number;
  firstRefusalNo!: number;
  declare firstRefusalTs: number;
  /**
   * Set when the flow continues one the idle timeout ended (its id, and the time of its last
   * packet): the same connection after an idle, not one already open when the capture started.
   */
  resumesFlowId!: number;
  declare resumesAfterTs: number;
  /** Set when this flow's 4-tuple was used by an earlier flow that was still closing. */
  reusedAfter!: { flowId: number; closedTs: number; state: string } | null;
  /** The SYN with a new ISN that ended this flow by starting the next connection on its 4-tuple (0: none). */
  reusedByNo!: number;
  reusedByTs!: number;
  /** The packet whose ACK proves the other side sent packets the capture does not hold, while none of them is in it (0: none), and the side that sent it. */
  peerUnseenNo!: number;
  peerUnseenDir!: Dir;
  /** That packet's time, and how far past its first ACK it acknowledged (bytes, and a FIN, of the unseen side). */
  peerUnseenTs!: number;
  peerUnseenAcked!: number;

  sink!: StreamSink | null;
  sinkTried!: boolean;
  reassembler!: [DirectionReassembler, DirectionReassembler] | null;

  /** Extension point for per-segment analysis (retransmissions, windows, timing). */
  analysis!: unknown;
  /** The slot's views and the objects kept with them (see RowViews). */
  private views!: RowViews;

  /** Entries of this flow in the table's queue of closed flows: a finished flow is reused only once none is left. */
  closedQueued!: number;
  /** Set while the flow is a parked attempt (see park()): it holds no slot, and only its times may be read. */
  parked!: ParkedAttempt | null;

  constructor(
    public id: number,
    rows: FlowRows,
    /** The flow's row in the flow table's columns, until the flow is finished. */
    public slot = rows.take(),
  ) {
    super();
    this.clear();
    this.bind(rows.viewsOf(slot));
  }

  /** Every field a flow changes as it goes, as a new flow has it: set by the constructor and by reuse(). */
  private clear(): void {
    this.ipVersion = 4;
    this.origPort = 0;
    this.respPort = 0;
    this.hash = 0;
    this.older = null;
    this.newer = null;
    this.firstNo = 0;
    this.lastNo = 0;
    this.attemptSlot = -1;
    this.attemptCountedRare = false;
    this.givenUpSeen = false;
    this.removeAfterTs = 0;
    this.finished = false;
    this.flipped = false;
    this.partial = false;
    this.seekingRoles = false;
    this.rolesProvenNo = 0;
    this.rolesTurned = false;
    this.handshakeAckNo = 0;
    this.icmpErrors = NO_ICMP_ERRORS;
    this.zeekConnections = 1;
    this.clientRstsForeign = false;
    this.ignoredRstTs = 0;
    this.refusals = 0;
    this.firstRefusalNo = 0;
    this.resumesFlowId = 0;
    this.reusedAfter = null;
    this.reusedByNo = 0;
    this.reusedByTs = 0;
    this.peerUnseenNo = 0;
    this.peerUnseenDir = 0;
    this.peerUnseenTs = 0;
    this.peerUnseenAcked = 0;
    this.sink = null;
    this.sinkTried = false;
    this.reassembler = null;
    this.analysis = null;
    this.closedQueued = 0;
    this.parked = null;
  }

  /** The flow object of a finished flow starts flow `id` in a new slot: every field as in a new Flow. */
  reuse(id: number, rows: FlowRows): this {
    this.id = id;
    this.slot = rows.take();
    this.setAddrs(NO_ADDRESS, NO_ADDRESS);
    this.clear();
    this.bind(rows.viewsOf(this.slot));
    return this;
  }

  private bind(views: RowViews): void {
    this.takeViews(views);
    this.syns.clear();
    this.synAcks.clear();
    this.history.clear();
  }

  private takeViews(views: RowViews): void {
    this.views = views;
    this.n = views.n;
    this.at = views.at;
    this.orig = views.orig;
    this.resp = views.resp;
    this.timing = views.timing;
    this.syns = views.syns;
    this.synAcks = views.synAcks;
    this.history = views.history;
  }

  /**
   * Whether the flow may be parked: an attempt (only SYNs from its client, none answered) holding
   * nothing but its row, its handshake log, its history and its analysis. Not one with a rare row,
   * nor one that looked for a reader of its payload: its session is kept by slot, and its
   * reassemblers are the slot's.
   */
  get parkable(): boolean {
    return (
      this.parked === null &&
      this.removeAfterTs === 0 &&
      !this.sinkTried &&
      !this.holdsRareRow &&
      this.syns.length > 0 &&
      this.synAcks.length === 0 &&
      this.orig.state === EP.SYN_SENT &&
      this.resp.state === EP.INACTIVE
    );
  }

  /**
   * An attempt waiting for an answer or a retry gives its slot back (it must be parkable): the
   * numbers of its row that differ from a new flow's, and what its slot's objects hold besides,
   * go to a parked row and record of some 650 bytes, where a slot holds some 4 KB. Its times stay
   * readable (lastTs, startTs, attemptDeadline), and so do its SYNs' count and last times
   * (synCount, lastSynTs, prevSynTs); nothing else may be read until unpark() gives
   * it a slot. False, and nothing done, when its row changed more numbers than a parked row holds.
   */
  park(rows: FlowRows): boolean {
    const n = this.n;
    const at = this.at;
    let count = 0;
    for (let i = ORIG_AT; i < FLOW_ROW; i++) if (!Object.is(n[at + i], NEW_FLOW_ROW[i])) CHANGED_PLACES[count++] = i;
    if (count > MAX_PARKED_CHANGES) return false;
    const p = rows.takeParked();
    const pn = rows.parkedRows.chunkOf(p.slot);
    const pat = rows.parkedRows.rowAt(p.slot);
    const places = (p.places = rows.sharedPlaces.of(CHANGED_PLACES, count));
    for (let k = 0; k < count; k++) pn[pat + PARKED_CHANGES_AT + k] = n[at + places[k]];
    for (let i = 0; i < ORIG_AT; i++) pn[pat + i] = n[at + i];
    const syns = this.syns;
    const sent = syns.length;
    pn[pat + PARKED_SYNS_AT] = sent;
    pn[pat + PARKED_SYNS_AT + 1] = syns.ts(sent - 1);
    pn[pat + PARKED_SYNS_AT + 2] = sent >= 2 ? syns.ts(sent - 2) : 0;
    p.synsExtra = syns.extra;
    p.historyText = this.history.text;
    p.historySeen = this.history.seenLetters;
    const fa = this.analysis as FlowAnalysis | null;
    p.analysed = fa !== null;
    if (fa) fa.parkInto(p);
    this.analysis = null;
    rows.releaseSlot(this.slot);
    this.slot = -1;
    this.parked = p;
    this.n = pn;
    this.at = pat;
    // Nothing of the slot may be read while parked: a read fails at once rather than reading another flow's row.
    this.views = this.orig = this.resp = this.timing = this.syns = this.synAcks = this.history = null!;
    return true;
  }

  /** The parked attempt takes a slot again, its row and state as they were when it was parked. */
  unpark(rows: FlowRows): void {
    const p = this.parked!;
    const slot = rows.take();
    const views = rows.viewsOf(slot);
    const n = views.n;
    const at = views.at;
    const pn = rows.parkedRows.chunkOf(p.slot);
    const pat = rows.parkedRows.rowAt(p.slot);
    for (let i = 0; i < ORIG_AT; i++) n[at + i] = pn[pat + i];
    const places = p.places;
    for (let k = 0; k < places.length; k++) n[at + places[k]] = pn[pat + PARKED_CHANGES_AT + k];
    this.slot = slot;
    this.takeViews(views);
    views.syns.restore(p.synsExtra);
    views.synAcks.clear();
    views.history.restore(p.historyText, p.historySeen);
    if (p.analysed) this.analysis = views.analysis.unparkFrom(p);
    this.parked = null;
    rows.releaseParked(p);
  }

  /** The SYNs of a flow that sent any, parked or not: how many, and the times of the last and the one before it (0 when none). */
  get synCount(): number {
    return this.parked !== null ? this.n[this.at + PARKED_SYNS_AT] : this.syns.length;
  }

  get lastSynTs(): number {
    return this.parked !== null ? this.n[this.at + PARKED_SYNS_AT + 1] : this.syns.lastTs();
  }

  get prevSynTs(): number {
    if (this.parked !== null) return this.n[this.at + PARKED_SYNS_AT + 2];
    const syns = this.syns;
    return syns.length >= 2 ? syns.ts(syns.length - 2) : 0;
  }

  /** The slot's per-segment analysis, to start for this flow (analysis.ts). */
  get slotAnalysis(): FlowAnalysis {
    return this.views.analysis;
  }

  /** The slot's reassemblers, started afresh for this flow's streams. */
  startReassembly(budget: ReassemblyBudget): [DirectionReassembler, DirectionReassembler] {
    const pair = (this.views.reassemblers ??= [new DirectionReassembler(0, budget), new DirectionReassembler(1, budget)]);
    pair[0].restart();
    pair[1].restart();
    return (this.reassembler = pair);
  }

  endpoint(dir: Dir): Endpoint {
    return dir === 0 ? this.orig : this.resp;
  }

  /** Some number most flows never change has changed: the flow's slot holds a rare row (columns.ts RareRow). */
  get holdsRareRow(): boolean {
    return this.orig.rare.n !== null;
  }

  /** `addr`:`port` is the originator. */
  isOrig(addr: Uint32Array, port: number): boolean {
    return port === this.origPort && this.isAddrA(addr);
  }

  /** `addr`:`port` is the responder. */
  isResp(addr: Uint32Array, port: number): boolean {
    return port === this.respPort && this.isAddrB(addr);
  }

  /** 'client-ip:port' (the originator), as in reports. */
  clientText(): string {
    return formatEndpoint(this.addrAInto(SCRATCH), this.ipVersion, this.origPort);
  }

  /** 'server-ip:port' (the responder). */
  serverText(): string {
    return formatEndpoint(this.addrBInto(SCRATCH), this.ipVersion, this.respPort);
  }

  /** The originator's address as a map key: the IPv4 address as a number, an IPv6 one as text. */
  clientKey(): number | string {
    return this.ipVersion === 4 ? this.a3 >>> 0 : this.clientIpText();
  }

  /** The responder's address as a map key, as clientKey. */
  serverKey(): number | string {
    return this.ipVersion === 4 ? this.b3 >>> 0 : this.serverIpText();
  }

  clientIpText(): string {
    return formatAddr(this.addrAInto(SCRATCH), this.ipVersion);
  }

  serverIpText(): string {
    return formatAddr(this.addrBInto(SCRATCH), this.ipVersion);
  }

  /** Zeek's FlipRoles: the originator becomes the responder. */
  flipRoles(): void {
    this.swapAddrs();
    const p = this.origPort;
    this.origPort = this.respPort;
    this.respPort = p;
    swapNumbers(this.n, this.orig.at, this.resp.at, ENDPOINT_FIELDS);
    const rare = this.views.rare;
    if (rare.n !== null) swapNumbers(rare.n, rare.at + ORIG_RARE_AT, rare.at + RESP_RARE_AT, ENDPOINT_RARE_FIELDS);
    this.syns.swapWith(this.synAcks);
    if (this.reassembler) {
      // Reassemblers are per direction and were created with their dir; rebuild lazily.
      this.reassembler = null;
    }
    this.history.flip();
    this.flipped = true;
  }

  /**
   * A mid-stream connection's first payload proved the guessed roles wrong before any payload was
   * read: swap the roles and every per-side number the bare ACKs before it left.
   */
  turnRoles(): void {
    this.flipRoles();
    this.timing.swapSides();
    swapAnalysisSides(this);
    if (this.peerUnseenNo !== 0) this.peerUnseenDir = this.peerUnseenDir === 0 ? 1 : 0;
    this.rolesTurned = true;
  }

  get isClosed(): boolean {
    return this.orig.didClose || this.resp.didClose;
  }
}

defineColumns(Flow.prototype, FLOW_TIMES);

export interface SegmentContext {
  budget: ReassemblyBudget;
  /** Called the first time a reassembly bound is hit on a flow. */
  onLimit(flow: Flow, no: number): void;
  /** Called when a flow first needs a sink (first payload). */
  createSink(flow: Flow): StreamSink | null;
  /** The first packet from side `dir` of the flow: the other side's host received one. */
  onSideSeen?(flow: Flow, dir: Dir): void;
  /** Side `dir`'s ACKs prove the other side sent packets the capture holds none of (once per flow). */
  onPeerUnseen?(flow: Flow, dir: Dir, no: number): void;
  /** The packet in `v` acknowledged data (packet `dataNo`) sent `heldMicros` before it, longer than any TCP delays an ACK. */
  onHeldAnswer?(flow: Flow, v: PacketView, no: number, ts: number, heldMicros: number, dataNo: number): void;
}

/**
 * Zeek's TCPSessionAdapter::Process for one segment, in the same order: sequence bookkeeping,
 * history, window, SYN/FIN/RST counts, ACK bookkeeping, last-seq/retransmission, the endpoint
 * state machine, gap detection on ACK, then payload delivery and close handling.
 */
/** How long apart (µs) two copies of one IPv4 segment with a nonzero IP ID may be captured: a SPAN of both sides of a slow router. */
const COPY_MAX_GAP_WITH_ID = 500_000;
/** Without an IP ID to go by (IPv6, or ID 0), only copies this close (µs) are taken as copies. */
const COPY_MAX_GAP_WITHOUT_ID = 1_000;

/**
 * The segment repeats the one this side sent just before, header for header: the capture saw one
 * packet twice (tcpdump -i any on a host whose bridge and veth both carry it, a SPAN port fed from
 * both sides of a router), not a retransmission. A resent segment has a new IP ID (every stack
 * that sets one counts it up) and comes an RTO later. Without an IP ID only copies under a
 * millisecond apart count, and never bare ACKs, which a receiver legitimately repeats. Nor do
 * packets Linux sends alike by construction with IP ID 0: an RST from a closed socket for each
 * segment that reaches it (the peer's packet lies between two of them), or a SYN-ACK its timer
 * re-sent beside the one answering a retried SYN (synAckOwedTwice).
 */
function isCopyOfPrevious(flow: Flow, e: Endpoint, peer: Endpoint, isOrig: boolean, v: PacketView, ts: number): boolean {
  if (e.prevNo === 0 || v.seq !== e.prevSeq || v.ack !== e.prevAck || v.window !== e.prevWindow) return false;
  if ((v.flags | (v.payloadLen << 8)) !== e.prevFlagsLen || (v.hasTimestamps && v.tsVal !== e.prevTsVal)) return false;
  const gap = ts - e.prevTs;
  if (v.ipVersion === 4 && v.ipId !== 0) return v.ipId === e.prevIpId && gap <= COPY_MAX_GAP_WITH_ID;
  if (peer.prevNo > e.prevNo) return false;
  if (!isOrig && (v.flags & TCP_FLAG.SYN) !== 0 && synAckOwedTwice(flow, ts)) return false;
  return gap <= COPY_MAX_GAP_WITHOUT_ID && (v.payloadLen > 0 || (v.flags & (TCP_FLAG.SYN | TCP_FLAG.FIN | TCP_FLAG.RST)) !== 0);
}

/**
 * The server had two SYN-ACKs to send at once: the handshake was not complete, the client sent its
 * SYN again after the SYN-ACK before the latest, and the latest came a retransmission timeout or
 * more after that one, so its timer was due as the retried SYN came. Linux sends both with IP ID
 * 0, header for header alike.
 */
function synAckOwedTwice(flow: Flow, ts: number): boolean {
  const n = flow.synAcks.length;
  if (n < 2 || flow.syns.length < 2 || flow.handshakeAckNo !== 0) return false;
  const before = flow.synAcks.ts(n - 2);
  const retriedSyn = flow.syns.lastTs();
  return retriedSyn > before && retriedSyn <= ts && flow.synAcks.ts(n - 1) - before >= MIN_RTO_MICROS;
}

function noteCopy(e: Endpoint, v: PacketView, no: number, ts: number): void {
  if (e.copies === 0) {
    e.firstCopyNo = no;
    e.firstCopyOfNo = e.prevNo;
    e.firstCopyTs = ts;
    e.copyTtlChange = v.ttl - e.prevTtl;
  }
  e.copies++;
  if (v.payloadLen > 0) e.dataCopies++;
  else if ((v.flags & (TCP_FLAG.SYN | TCP_FLAG.FIN | TCP_FLAG.RST)) === 0) e.ackCopies++;
  if (ts - e.prevTs > e.copyMaxGap) e.copyMaxGap = ts - e.prevTs;
}

function rememberSegment(e: Endpoint, v: PacketView, no: number, ts: number): void {
  e.prevNo = no;
  e.prevTs = ts;
  e.prevIpId = v.ipVersion === 4 ? v.ipId : -1;
  e.prevTtl = v.ttl;
  e.prevSeq = v.seq;
  e.prevAck = v.ack;
  e.prevFlagsLen = v.flags | (v.payloadLen << 8);
  e.prevWindow = v.window;
  e.prevTsVal = v.tsVal;
}

/**
 * A SYN from the originator or a SYN-ACK from the responder. The two exceptions are the packets
 * before a role flip (updateStateMachine): the originator's SYN-ACK while it has sent no SYN, and
 * the responder's SYN answering it, which become the SYN-ACK and the SYN once the roles swap.
 */
function isHandshakeStep(flow: Flow, isOrig: boolean, ack: boolean): boolean {
  if (isOrig) return !ack || flow.syns.length === 0;
  return ack || flow.orig.state === EP.SYN_ACK_SENT;
}

/** No stack resends a SYN sooner than this (Linux's smallest RTO; a SYN's first is 1 s or more). */
const MIN_RTO_MICROS = 200_000;

/**
 * The SYN repeats one already recorded, ISN and IPv4 ID alike, after the handshake completed or
 * sooner than any retransmission timer: the capture holds that SYN twice (a second capture point,
 * a copy that came back late), whereas a retry carries a new IP ID. Some hosts send one IP ID
 * for every packet, so a repeat that could be a retry (before the handshake, an RTO later) counts.
 * Without an IP ID (IPv6, or ID 0) only the timer tells: the same ISN again sooner than any stack
 * resends a SYN is the same SYN seen twice (a FabricPath or VLAN copy a few milliseconds later).
 */
function isLateSynCopy(flow: Flow, log: HandshakeLog, ipId: number, seq: number, ts: number): boolean {
  for (let i = 0; i < log.length; i++) {
    if (log.seq(i) !== seq) continue;
    const loggedIpId = log.ipId(i);
    if (ipId === -1 || loggedIpId === -1) {
      if (ts - log.ts(i) < MIN_RTO_MICROS && !(log === flow.synAcks && synAckOwedTwice(flow, ts))) return true;
    } else if (loggedIpId === ipId && (flow.handshakeAckNo !== 0 || ts - log.ts(i) < MIN_RTO_MICROS)) return true;
  }
  return false;
}

/** Logs the SYN (or SYN-ACK) unless it is a late copy of one already logged; returns whether it was logged. */
function logHandshakePacket(flow: Flow, log: HandshakeLog, v: PacketView, no: number, ts: number): boolean {
  const seq = v.seq >>> 0;
  const ipId = v.ipVersion === 4 && v.ipId !== 0 ? v.ipId : -1;
  if (isLateSynCopy(flow, log, ipId, seq, ts)) return false;
  log.push(no, ts, seq, ipId);
  return true;
}

/** Packets a capture stamps this close after an RST may have been sent before it. */
const RST_REORDER_MICROS = 1_000;
/** An RST's IPv4 ID at most this far past another packet's continues that packet's counter. */
const RST_IP_ID_STEP = 64;

/**
 * A side's RSTs: the first after its last other packet is the one that ended its part. A TCP that
 * sends an RST has dropped the connection, so a later packet of it that goes on with it shows the
 * RST came from elsewhere (a middlebox or an attacker in its name): see sentSomethingNew.
 */
function noteRst(endpoint: Endpoint, peer: Endpoint, v: PacketView, no: number, ts: number, ackf: boolean): void {
  if (endpoint.finalRstNo !== 0) return;
  endpoint.finalRstNo = no;
  endpoint.finalRstTs = ts;
  endpoint.finalRstAck = ackf ? v.ack >>> 0 : -1;
  // A TCP with no connection for a segment answers it with an RST that carries no ACK and the
  // segment's acknowledgement as its sequence number (RFC 9293 3.10.7.1); a stray one came after
  // the peer's own RST, which this side had taken.
  endpoint.finalRstAnswersSegment = !ackf && answersPeerSegment(peer, v);
  endpoint.finalRstAnswersStray = endpoint.finalRstAnswersSegment && peer.firstRstNo !== 0 && peer.prevNo > peer.firstRstNo;
  endpoint.finalRstLikeFirst = likeFirstRst(endpoint, v);
}

/**
 * The RST looks like the side's first RST rather than its own packets: its IPv4 ID is not a few past
 * the side's last other packet's (its own counter) but a few past the first RST's (a device making
 * RSTs in its name, as in PPA's ftp-uploadfailed.pcap), or, with no IDs to tell, its TTL is the first
 * RST's where that differs from the side's own.
 */
function likeFirstRst(endpoint: Endpoint, v: PacketView): boolean {
  const id = v.ipVersion === 4 ? v.ipId : 0;
  if (ipIdContinues(endpoint.lastOtherThanRstIpId, id) && id !== endpoint.lastOtherThanRstIpId) return false;
  if (ipIdContinues(endpoint.firstRstIpId, id)) return true;
  return v.ttl === endpoint.firstRstTtl && endpoint.firstRstTtl !== endpoint.ttl;
}

/** IPv4 ID `id` is at most RST_IP_ID_STEP past `from` (0: no ID), as one counter goes on. */
function ipIdContinues(from: number, id: number): boolean {
  return from !== 0 && id !== 0 && ((id - from) & 0xffff) <= RST_IP_ID_STEP;
}

/** The segment's sequence number is the acknowledgement of the peer's segment before it: it answers that segment. */
function answersPeerSegment(peer: Endpoint, v: PacketView): boolean {
  return peer.prevNo !== 0 && (peer.prevFlagsLen & TCP_FLAG.ACK) !== 0 && (v.seq | 0) === (peer.prevAck | 0);
}

/**
 * The segment goes on with the connection past anything the side had sent before: its first SYN or
 * SYN-ACK, sequence numbers past its highest, or an acknowledgement past its highest and past the
 * RST's. A copy or a late-captured earlier segment does neither, so only such a segment proves it
 * was sent after (a re-sent SYN-ACK goes on with a half-open connection the RST may have left).
 */
function sentSomethingNew(endpoint: Endpoint, peer: Endpoint, v: PacketView, firstHandshakePacket: boolean): boolean {
  if (firstHandshakePacket) return true;
  const ends = (v.seq >>> 0) + v.payloadLen + ((v.flags & TCP_FLAG.FIN) !== 0 ? 1 : 0);
  if (endpoint.state !== EP.INACTIVE && ((ends - endpoint.lastSeq) | 0) > 0) return true;
  if ((v.flags & TCP_FLAG.ACK) === 0 || peer.state === EP.INACTIVE) return false;
  // Past what the RST itself acknowledged too: an ACK sent after its RST by a generator or a late timer acknowledges nothing new.
  const ack = v.ack >>> 0;
  return ((ack - peer.ackSeq) | 0) > 0 && (endpoint.firstRstAck < 0 || ((ack - endpoint.firstRstAck) | 0) > 0);
}

export function processSegment(flow: Flow, dir: Dir, v: PacketView, bytes: Uint8Array, no: number, ts: number, ctx: SegmentContext): void {
  const isOrig = dir === 0;
  const endpoint = isOrig ? flow.orig : flow.resp;
  const peer = isOrig ? flow.resp : flow.orig;
  const flags = v.flags;
  const syn = (flags & TCP_FLAG.SYN) !== 0;
  const fin = (flags & TCP_FLAG.FIN) !== 0;
  const rst = (flags & TCP_FLAG.RST) !== 0;
  const ackf = (flags & TCP_FLAG.ACK) !== 0;
  const len = v.payloadLen;
  const baseSeq = v.seq >>> 0;
  const ackSeq = v.ack >>> 0;

  const copy = isCopyOfPrevious(flow, endpoint, peer, isOrig, v, ts);
  if (copy) noteCopy(endpoint, v, no, ts);
  rememberSegment(endpoint, v, no, ts);

  // Wireshark-style segment classification and timing (flow.analysis). A copy is classified as
  // Wireshark and Zeek see it (a retransmission, a duplicate ACK); the rules discount it.
  analyzeSegment(flow, dir, v, no, ts, ctx, copy);

  // --- facts ---
  if (endpoint.packets++ === 0) ctx.onSideSeen?.(flow, dir);
  // The IP datagram's length (header, extension headers, TCP header and payload), as Zeek counts *_ip_bytes.
  endpoint.ipBytes += v.tcpOff - v.ipOff + v.tcpHeaderLen + len;
  if (!(flow.orig.didClose && flow.resp.didClose)) flow.lastOpenTs = ts;
  endpoint.payloadBytes += rst ? 0 : len;
  if (endpoint.firstPacketNo === 0) {
    endpoint.firstPacketNo = no;
    endpoint.firstTs = ts;
  }
  endpoint.lastTs = ts;
  if (len > 0 && !rst) {
    if (endpoint.firstDataNo === 0) {
      endpoint.firstDataNo = no;
      endpoint.firstDataTs = ts;
    }
    endpoint.lastDataNo = no;
    endpoint.lastDataTs = ts;
  }
  if (fin && endpoint.firstFinNo === 0) {
    endpoint.firstFinNo = no;
    endpoint.firstFinTs = ts;
    endpoint.firstFinAck = ackf ? v.ack >>> 0 : -1;
  }
  if (rst && endpoint.firstRstNo === 0) {
    endpoint.firstRstNo = no;
    endpoint.firstRstTs = ts;
    endpoint.firstRstAnswersSyn = ackf && baseSeq === 0;
    endpoint.firstRstAck = ackf ? v.ack >>> 0 : -1;
    endpoint.firstRstKeepsConnection = flow.handshakeAckNo === 0 && answersPeerSegment(peer, v) && (isOrig ? flow.syns.length > 0 : !ackf && flow.synAcks.length > 0);
    endpoint.firstRstIpId = v.ipVersion === 4 ? v.ipId : 0;
    endpoint.firstRstTtl = v.ttl;
  }
  // A SYN captured twice is one attempt, not a retry; a SYN in the other role's direction
  // (the client's SYN-ACK, the server's own SYN) is neither a retry of it nor an answer to it.
  const handshakeLogged = syn && !copy && isHandshakeStep(flow, isOrig, ackf) && logHandshakePacket(flow, isOrig ? flow.syns : flow.synAcks, v, no, ts);
  if (handshakeLogged) {
    endpoint.mss = v.mss;
    endpoint.sackPermitted = v.sackPermitted;
    endpoint.timestamps = v.hasTimestamps;
    endpoint.ttl = v.ttl;
    endpoint.synWindow = v.window;
  } else if (endpoint.ttl < 0) {
    endpoint.ttl = v.ttl;
  }
  if (isOrig && ackf && !syn && flow.handshakeAckNo === 0 && flow.synAcks.length > 0 && ((ackSeq - flow.synAcks.lastSeq()) | 0) === 1) {
    flow.handshakeAckNo = no;
    flow.handshakeAckTs = ts;
  }

  // An RST like the one the client's SYN retry proved was not the end of its attempt: whatever its
  // IP ID or TTL show, it is no more the client's own than the first, and it closes nothing.
  const rstClosesNothing = rst && isOrig && flow.clientRstsForeign && flow.handshakeAckNo === 0;
  if (rst) {
    noteRst(endpoint, peer, v, no, ts, ackf);
    if (rstClosesNothing) {
      endpoint.finalRstLikeFirst = true;
      flow.ignoredRstTs = ts;
    }
  } else {
    // A segment stamped just after a bare RST may have left before it (capture reordering); an RST
    // with an ACK is placed by its own acknowledgement number. The client's SYN sent again shows
    // its attempt going on (see table.ts isRetryAfterClientRst).
    const synRetried = isOrig && handshakeLogged && !ackf && baseSeq === endpoint.startSeq;
    const proves =
      endpoint.firstRstNo !== 0 &&
      endpoint.sentAfterRstNo === 0 &&
      !endpoint.firstRstKeepsConnection &&
      ts - endpoint.firstRstTs > (endpoint.firstRstAck < 0 ? RST_REORDER_MICROS : 0) &&
      (synRetried || sentSomethingNew(endpoint, peer, v, handshakeLogged && (isOrig ? flow.syns.length : flow.synAcks.length) === 1));
    if (proves) {
      endpoint.sentAfterRstNo = no;
      endpoint.sentAfterRstTs = ts;
    }
    endpoint.lastOtherThanRstTs = ts;
    endpoint.lastOtherThanRstIpId = v.ipVersion === 4 ? v.ipId : 0;
    endpoint.finalRstNo = 0;
  }

  // --- Zeek: segment length and endpoint sequence initialisation ---
  // The helpers below read the sequence numbers from the view: one at or past 2^31 passed as an
  // argument would be boxed in a new heap number on every call.
  let segLen = len + (syn ? 1 : 0) + (fin ? 1 : 0);
  if (rst) segLen -= len;
  initEndpoint(endpoint, syn, v, segLen);

  const relSeq = (baseSeq - endpoint.startSeq) | 0;

  updateHistory(flow.history, isOrig, endpoint, syn, fin, rst, ackf, relSeq, len);
  updateWindow(flow.history, isOrig, endpoint, peer, v.window, rst);
  if (syn) {
    // Zeek's init_window: a SYN without the option, or a SYN-ACK without it, means no scaling.
    if (v.wscale < 0) {
      if (ackf) peer.windowScale = 0;
      endpoint.windowScale = 0;
    } else endpoint.windowScale = Math.min(v.wscale, 14);
  }
  if (fin) endpoint.finCount++;
  if (rst) endpoint.rstCount++;

  if (ackf) {
    if (peer.state === EP.INACTIVE) {
      // Start the peer's numbering as though its SYN had been seen.
      const s = (ackSeq - 1) >>> 0;
      peer.startSeq = s;
      peer.ackSeq = s;
      peer.lastSeq = s;
      peer.ackSeqOffset = 0;
      peer.lastSeqOffset = 0;
    } else if (!rst) {
      const d = (ackSeq - peer.ackSeq) | 0;
      if (!(ackSeq === 0 && d > TOO_LARGE_SEQ_DELTA) && d > 0) {
        peer.ackSeq = ackSeq;
        peer.ackSeqOffset += d;
      }
    }
  }

  if (ackf && !rst) notePeerEvidence(flow, dir, endpoint, peer, syn, v, no, ctx);
  else if (syn && !ackf) endpoint.firstAckNo = 0; // a new SYN: the peer will number from a new ISN

  updateLastSeq(flow.history, isOrig, endpoint, v, segLen, syn, fin, rst, len);
  const closing = !rstClosesNothing && updateStateMachine(flow, endpoint, peer, isOrig, v, len, syn, fin, rst, ackf);
  if (isOrig && syn && flow.attemptDeadline === 0) flow.attemptDeadline = ts + ATTEMPT_DELAY_MICROS;

  // --- reassembly: ACK-revealed gaps, then this segment's payload ---
  if (flow.reassembler || (len > 0 && !rst)) {
    if (!flow.sinkTried) {
      flow.sinkTried = true;
      flow.sink = ctx.createSink(flow);
      if (flow.sink) {
        flow.startReassembly(ctx.budget);
        // A side whose SYN was seen streams from its ISN + 1, so a first data segment the capture
        // missed is a gap (as in Zeek), not a stream that seems to start one segment later.
        const { syns, synAcks } = flow;
        if (syns.length > 0) flow.reassembler![0].startAt((syns.lastSeq() + 1) >>> 0);
        if (synAcks.length > 0) flow.reassembler![1].startAt((synAcks.lastSeq() + 1) >>> 0);
      }
    }
    const ra = flow.reassembler;
    const sink = flow.sink;
    if (ra && sink) {
      const mine = ra[dir];
      if (syn && !mine.started) mine.startAt((baseSeq + 1) >>> 0);
      if (ackf && !fin && !rst) {
        const theirs = ra[dir === 0 ? 1 : 0];
        const before = theirs.missedBytes;
        theirs.acked(sink, ackSeq, no, ts);
        const missed = theirs.missedBytes - before;
        // Zeek counts a gap only while both sides are established or closing cleanly: in other
        // states it can come from an RST's odd numbers or the unseen start of a partial connection.
        if (missed > 0 && isClean(peer) && isClean(endpoint)) {
          peer.missedBytes += missed;
          peer.gapCount++;
          peer.gapThresh = flow.history.scaled('G', !isOrig, peer.gapCount, peer.gapThresh);
        }
      }
      if (len > 0 && !rst) {
        const dataSeq = syn ? (baseSeq + 1) >>> 0 : baseSeq;
        const ev = mine.segment(sink, dataSeq, len, bytes, v.payloadOff, v.payloadOff + v.payloadCaptured, no, ts);
        if (ev === REASSEMBLY_EVENT.LIMIT_HIT) {
          if (!flow.partial) flow.history.addRaw('x');
          flow.partial = true;
          ctx.onLimit(flow, no);
        }
      }
      if (fin || rst) {
        mine.close(sink, no, ts, fin && !rst ? (baseSeq + len + (syn ? 1 : 0)) >>> 0 : -1);
        sink.onClose?.(dir, fin && !rst ? 'fin' : 'rst', no, ts);
      }
    }
  }

  if (closing) connectionClosed(flow, endpoint, peer, ts);
}

/**
 * What this side's ACK says about its peer: how far past its first ACK it has acknowledged (bytes
 * or a FIN the peer sent), and whether it completed a handshake whose SYN-ACK is not in the
 * capture. Either, while the capture holds no packet of the peer, proves the capture misses that
 * direction (a capture of one direction, asymmetric routing, a one-way mirror). RSTs are left out:
 * their ACK numbers are not always meaningful.
 */
function notePeerEvidence(flow: Flow, dir: Dir, e: Endpoint, peer: Endpoint, syn: boolean, v: PacketView, no: number, ctx: SegmentContext): void {
  const ackSeq = v.ack >>> 0;
  if (e.firstAckNo === 0) {
    e.firstAckNo = no;
    e.firstAckSeq = ackSeq;
  } else {
    const d = (ackSeq - e.firstAckSeq) | 0;
    if (d > e.ackedPeerBytes && d <= 0x40000000) e.ackedPeerBytes = d;
  }
  if (flow.peerUnseenNo !== 0 || peer.packets !== 0) return;
  const synAckUnseen = dir === 0 && !syn && flow.syns.length > 0 && flow.synAcks.length === 0;
  if (e.ackedPeerBytes > 0 || synAckUnseen) {
    flow.peerUnseenNo = no;
    flow.peerUnseenDir = dir;
    flow.peerUnseenTs = e.lastTs;
    flow.peerUnseenAcked = e.ackedPeerBytes;
    ctx.onPeerUnseen?.(flow, dir, no);
  }
}

/** Zeek's is_clean: established, or closed after being established. */
function isClean(e: Endpoint): boolean {
  return e.state === EP.ESTABLISHED || (e.state === EP.CLOSED && e.prevState === EP.ESTABLISHED);
}

/** Zeek's InitStartSeq/InitAckSeq/InitLastSeq: number the endpoint from this SYN. */
function restartAt(e: Endpoint, seq: number, onePast: number): void {
  e.startSeq = seq;
  e.ackSeq = seq;
  e.lastSeq = onePast;
  e.ackSeqOffset = 0;
  e.lastSeqOffset = (onePast - seq) | 0;
}

/** Numbers the endpoint from the segment, `segLen` long in sequence space. */
function initEndpoint(e: Endpoint, syn: boolean, v: PacketView, segLen: number): void {
  const seq = v.seq >>> 0;
  const onePast = (seq + segLen) >>> 0;
  switch (e.state) {
    case EP.INACTIVE:
      if (syn) restartAt(e, seq, onePast);
      // A partial connection: number as though a SYN had been seen, and keep the first packet from looking duplicate.
      else restartAt(e, (seq - 1) >>> 0, seq);
      break;
    case EP.SYN_SENT:
    case EP.SYN_ACK_SENT:
      if (syn && seq !== e.startSeq) restartAt(e, seq, onePast);
      break;
    case EP.ESTABLISHED:
    case EP.PARTIAL:
      // A SYN inside a connection: guess that it is the one that really sets it up.
      if (syn) restartAt(e, seq, onePast);
      break;
    case EP.RESET:
      // Numbers set by a (possibly spoofed) RST are replaced by a later SYN's.
      if (syn && e.prevState === EP.INACTIVE) restartAt(e, seq, onePast);
      break;
  }
}

function updateHistory(h: History, isOrig: boolean, e: Endpoint, syn: boolean, fin: boolean, rst: boolean, ack: boolean, relSeq: number, len: number): void {
  const bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0);
  if (bits > 1) {
    if (fin && rst) h.check(HIST.FIN_RST, isOrig, 'I');
    else h.check(HIST.MULTI_FLAG, isOrig, 'Q');
  } else if (bits === 1) {
    if (syn) {
      const code = ack ? 'H' : 'S';
      if (h.check(HIST.SYN, isOrig, code) && relSeq !== e.histLastSyn) h.add(code, isOrig);
      e.histLastSyn = relSeq;
    }
    if (fin) {
      // For FINs the sequence number that matters is at the end of any data in the packet.
      if (h.check(HIST.FIN, isOrig, 'F') && relSeq + len !== e.histLastFin) h.add('F', isOrig);
      e.histLastFin = relSeq + len;
    }
    if (rst) {
      if (h.check(HIST.RST, isOrig, 'R') && relSeq !== e.histLastRst) h.add('R', isOrig);
      e.histLastRst = relSeq;
    }
  } else if (len) h.check(HIST.DATA, isOrig, 'D');
  else if (ack) h.check(HIST.ACK, isOrig, 'A');
}

function updateWindow(h: History, isOrig: boolean, e: Endpoint, peer: Endpoint, window: number, rst: boolean): void {
  // Zero windows are boring with or after a RST, or after the peer's FIN.
  if (window === 0 && !rst && peer.state !== EP.CLOSED && e.state !== EP.RESET) {
    e.zeroWinCount++;
    e.zeroWinThresh = h.scaled('W', isOrig, e.zeroWinCount, e.zeroWinThresh);
  }
}

function updateLastSeq(h: History, isOrig: boolean, e: Endpoint, v: PacketView, segLen: number, syn: boolean, fin: boolean, rst: boolean, len: number): void {
  const lastSeq = ((v.seq >>> 0) + segLen) >>> 0;
  const delta = (lastSeq - e.lastSeq) | 0;
  if ((syn || rst) && (delta > TOO_LARGE_SEQ_DELTA || delta < -TOO_LARGE_SEQ_DELTA)) {
    // Not trusted.
  } else if (fin && e.lastSeq === ((e.startSeq + 1) >>> 0)) {
    e.lastSeq = lastSeq;
    e.lastSeqOffset = (lastSeq - e.startSeq) | 0;
  } else if (e.state === EP.RESET) {
    // Nothing after a RST is trusted.
  } else if (delta > 0) {
    e.lastSeq = lastSeq;
    e.lastSeqOffset += delta;
  } else if (len > 0) {
    e.rxmitCount++;
    e.rxmitThresh = h.scaled('T', isOrig, e.rxmitCount, e.rxmitThresh);
  }
}

/** Zeek's UpdateStateMachine; returns true when the connection should be reported closed. */
function updateStateMachine(flow: Flow, e: Endpoint, peer: Endpoint, isOrig: boolean, v: PacketView, len: number, syn: boolean, fin: boolean, rst: boolean, ack: boolean): boolean {
  const baseSeq = v.seq >>> 0;
  let doClose = false;
  switch (e.state) {
    case EP.INACTIVE: {
      if (syn) {
        if (isOrig) e.setState(ack ? EP.SYN_ACK_SENT : EP.SYN_SENT);
        else {
          if (!ack && peer.state === EP.SYN_ACK_SENT && baseSeq === e.startSeq) {
            // SYN and SYN-ACK seen reversed: flip the roles and establish.
            flow.flipRoles();
            // After the flip `e` is the originator's endpoint object and `peer` the responder's.
            e.setState(EP.ESTABLISHED);
            peer.setState(EP.ESTABLISHED);
            return false;
          }
          if (peer.state === EP.SYN_SENT) peer.setState(EP.ESTABLISHED);
          e.setState(EP.ESTABLISHED);
        }
      }
      if (fin) {
        e.setState(EP.CLOSED);
        doClose = true;
      }
      if (rst) {
        e.setState(EP.RESET);
        doClose = true;
      }
      if (e.state === EP.INACTIVE) {
        // No control flag changed the state.
        const origEp = flow.orig;
        if (!isOrig && len === 0 && origEp.state === EP.SYN_SENT) {
          // Some TCPs ACK a SYN before answering it: not a partial connection.
        } else if (ack && peer.state === EP.ESTABLISHED) {
          // SYN-ACK seen without the SYN, now a pure ACK: the SYN was missed.
          e.setState(EP.ESTABLISHED);
        } else e.setState(EP.PARTIAL);
      }
      break;
    }
    case EP.SYN_SENT:
    case EP.SYN_ACK_SENT:
      if (fin) {
        e.setState(EP.CLOSED);
        doClose = true;
      }
      if (rst) {
        e.setState(EP.RESET);
        doClose = true;
      }
      break;
    case EP.ESTABLISHED:
    case EP.PARTIAL:
      if (syn && e.state === EP.PARTIAL && peer.state === EP.INACTIVE && !ack) e.setState(EP.SYN_SENT);
      if (fin && !rst) {
        e.setState(EP.CLOSED);
        // A FIN followed by a RST from the peer was a normal termination after all.
        if (peer.state === EP.RESET && peer.prevState === EP.CLOSED) peer.setState(EP.CLOSED);
        doClose = true;
      }
      if (rst) {
        e.setState(EP.RESET);
        doClose = true;
      }
      break;
    case EP.CLOSED:
      // Once both sides sent FINs, a RST does not change the outcome.
      if (rst && peer.state !== EP.CLOSED) {
        e.setState(EP.RESET);
        if (!e.didClose) doClose = true;
      }
      break;
    case EP.RESET:
      break;
  }
  return doClose;
}

/** Zeek's ConnectionClosed: marks the side closed; once complete, the flow lingers 5 s then goes. */
function connectionClosed(flow: Flow, e: Endpoint, peer: Endpoint, ts: number): void {
  if (e.didClose) return;
  e.didClose = true;
  const complete = e.state === EP.RESET || peer.didClose || peer.state === EP.INACTIVE;
  if (complete && flow.removeAfterTs === 0) flow.removeAfterTs = ts + CLOSE_DELAY_MICROS;
}

/** Zeek's tcp_attempt_delay. */
export const ATTEMPT_DELAY_MICROS = 5_000_000;

/** Zeek's tcp_close_delay / tcp_reset_delay: packets this long after the close start a new connection. */
export const CLOSE_DELAY_MICROS = 5_000_000;
