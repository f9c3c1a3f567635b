import type { AddressPair } from '../flow/address-pair.js';

// Held answers: ACKs that acknowledged data sent half a second or more before them, longer than
// any TCP delays an ACK (RFC 1122: under 0.5 s), so the data or its ACK waited somewhere. One such
// ACK arriving in the same instant as a late SYN-ACK of another connection between the same two
// hosts shows that the handshake did not wait alone: the path, one way or both, or the server host
// as a whole stalled (a Wi-Fi link asleep or roaming, a link flap, a paused VM), and the server's
// SYN queue is not what made it slow. The log keeps the latest HELD_ANSWERS_KEPT in
// typed-array columns; a late SYN-ACK's flow asks for those around it as it ends, and one whose
// neighbours were let go by then is judged as if they were not there.

/** Held answers kept: the oldest goes first. */
const HELD_ANSWERS_KEPT = 4_096;
/** Late SYN-ACKs kept: the oldest goes first. */
const LATE_SYN_ACKS_KEPT = 1_024;
/** Two packets this close arrived together: a queue let them go at once. */
const BURST_MICROS = 2_000;
/**
 * SYNs sent over at least this long and answered together waited different times: ten times the
 * burst, so no answers that follow their SYNs by a fixed delay, however long, can look like one.
 */
const SYN_SPAN_MIN_MICROS = 10 * BURST_MICROS;

/** A held answer that arrived with a late SYN-ACK, as the slow-handshake verdict cites it. */
export interface HeldWithSynAck {
  /** The held ACK's packet number. */
  packet: number;
  /** When it arrived (µs). */
  ts: number;
  /** The data packet it acknowledged. */
  dataPacket: number;
  /** How long after that data it came (µs). */
  heldMicros: number;
  /** Connections between the two hosts that had a held answer arrive with the SYN-ACK. */
  connections: number;
}

/**
 * The latest `kept` entries of a log, the oldest going first, in typed-array columns allocated at
 * the first entry: each a packet, its time, its flow and two hosts (4 address words each, as
 * AddressPair.copyAddrsTo lays them out). A log adds columns of its own (allocate).
 */
class PacketRing {
  protected size = 0;
  private next = 0;
  protected ts = new Float64Array(0);
  protected no = new Float64Array(0);
  protected flowIds = new Float64Array(0);
  protected hosts = new Int32Array(0);

  constructor(protected readonly kept: number) {}

  /** The place of a new entry, packet `no` at `ts` on flow `flowId`: the oldest's once full. Its hosts and the log's own columns are the caller's to fill. */
  protected place(no: number, ts: number, flowId: number): number {
    if (this.ts.length === 0) this.allocate();
    const i = this.next;
    this.ts[i] = ts;
    this.no[i] = no;
    this.flowIds[i] = flowId;
    this.next = (i + 1) % this.kept;
    if (this.size < this.kept) this.size++;
    return i;
  }

  /** The place of the `k`-th entry kept, oldest first. */
  protected placeOf(k: number): number {
    return (this.next - this.size + k + this.kept) % this.kept;
  }

  protected allocate(): void {
    this.ts = new Float64Array(this.kept);
    this.no = new Float64Array(this.kept);
    this.flowIds = new Float64Array(this.kept);
    this.hosts = new Int32Array(this.kept * 8);
  }
}

/** Held answers: the ACK's sender and receiver are its hosts. */
export class HeldAnswers extends PacketRing {
  private dataNo = new Float64Array(0);
  private held = new Float64Array(0);

  constructor() {
    super(HELD_ANSWERS_KEPT);
  }

  /** The ACK `no` at `ts`, from `src` to `dst` (4 words each) on flow `flowId`, acknowledged data packet `dataNo` sent `heldMicros` before. */
  record(src: Uint32Array, dst: Uint32Array, flowId: number, no: number, ts: number, heldMicros: number, dataNo: number): void {
    const i = this.place(no, ts, flowId);
    this.dataNo[i] = dataNo;
    this.held[i] = heldMicros;
    for (let k = 0; k < 4; k++) {
      this.hosts[i * 8 + k] = src[k] | 0;
      this.hosts[i * 8 + 4 + k] = dst[k] | 0;
    }
  }

  /**
   * The held answers from the server to the client of `flow` (its address B to its address A) that
   * arrived within BURST_MICROS of `ts`, each held at least `minHeldMicros`: the longest held of
   * them, with the number of their flows. Null when there is none. (The flow's own has none then:
   * its SYN is no data.)
   */
  arrivedWith(flow: AddressPair, ts: number, minHeldMicros: number): HeldWithSynAck | null {
    let best = -1;
    const flows = new Set<number>();
    for (let i = 0; i < this.size; i++) {
      if (Math.abs(this.ts[i] - ts) > BURST_MICROS || this.held[i] < minHeldMicros || !flow.hasAddrsAt(this.hosts, i * 8, true)) continue;
      flows.add(this.flowIds[i]);
      if (best < 0 || this.held[i] > this.held[best]) best = i;
    }
    if (best < 0) return null;
    return { packet: this.no[best], ts: this.ts[best], dataPacket: this.dataNo[best], heldMicros: this.held[best], connections: flows.size };
  }

  protected override allocate(): void {
    super.allocate();
    this.dataNo = new Float64Array(this.kept);
    this.held = new Float64Array(this.kept);
  }
}

/** Late SYN-ACKs of other connections that arrived with a late SYN-ACK, as the slow-handshake verdict cites them. */
export interface ReleasedWithSynAck {
  /** Their SYN-ACKs' packet numbers, in the order they arrived (the first 8). */
  packets: number[];
  /** Their connections between the two hosts. */
  connections: number;
  /** From the first to the last of their SYNs and this flow's SYN (µs). */
  synSpanMicros: number;
}

/**
 * SYN-ACKs that came as late as a slow handshake, each from a plain handshake (one SYN), kept in
 * typed-array columns like the held answers. Several of them from one server, answering SYNs sent
 * at different times and arriving in the same instant, waited different times and were let go
 * together: most likely the path or the server host held them, not a listener that answers each
 * SYN as it comes (or drops it, and the client sends it again).
 */
export class LateSynAcks extends PacketRing {
  private synTs = new Float64Array(0);

  constructor() {
    super(LATE_SYN_ACKS_KEPT);
  }

  /** The SYN-ACK `no` at `ts` on `flow` answered its SYN sent at `synTs`; the flow's client and server are its hosts. */
  record(flow: AddressPair, flowId: number, no: number, ts: number, synTs: number): void {
    const i = this.place(no, ts, flowId);
    this.synTs[i] = synTs;
    flow.copyAddrsTo(this.hosts, i * 8);
  }

  /**
   * The late SYN-ACKs of other connections between the hosts of `flow` that arrived within
   * BURST_MICROS of its SYN-ACK at `ts`, when their SYNs and its SYN at `synTs` were sent over
   * SYN_SPAN_MIN_MICROS or more. Null when there is none, or their SYNs went out together.
   */
  releasedWith(flow: AddressPair, flowId: number, ts: number, synTs: number): ReleasedWithSynAck | null {
    const found: number[] = [];
    let first = synTs;
    let last = synTs;
    // Oldest first, so the packets come out in the order they arrived.
    for (let k = 0; k < this.size; k++) {
      const i = this.placeOf(k);
      if (this.flowIds[i] === flowId || Math.abs(this.ts[i] - ts) > BURST_MICROS || !flow.hasAddrsAt(this.hosts, i * 8, false)) continue;
      found.push(i);
      first = Math.min(first, this.synTs[i]);
      last = Math.max(last, this.synTs[i]);
    }
    if (found.length === 0 || last - first < SYN_SPAN_MIN_MICROS) return null;
    return { packets: found.slice(0, 8).map((i) => this.no[i]), connections: found.length, synSpanMicros: last - first };
  }

  protected override allocate(): void {
    super.allocate();
    this.synTs = new Float64Array(this.kept);
  }
}
