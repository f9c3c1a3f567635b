// One client's connections to one server:port, summed as they finish (the port-exhaustion rule).
// A busy capture follows tens of thousands of pairs at once, nearly every one with a single
// connection, so a pair is a slot of typed-array columns under its key (no object, no boxed
// times, no arrays); only a pair with a second connection or a reused 4-tuple gets an object, for
// its source ports, lifetimes and cited packets. Pairs keep the order they were first seen in.

import { grownColumn } from '../flow/columns.js';

/** Lifetimes kept per pair, for the median: exact up to this many connections, then every other one, and so on. */
const MAX_LIFETIMES = 65_536;
/** Slots the columns start with; they double up to the bound. */
const INITIAL_SLOTS = 1024;

/** A pair as the verdict reads it. */
export interface PortGroup {
  clientIp: string;
  server: string;
  connections: number;
  distinctPorts: number;
  firstSyn: number;
  lastSyn: number;
  /** Lifetimes of every `stride`-th connection. */
  lifetimes: number[];
  reused: number;
  /** First SYNs of the connections that reused a 4-tuple within TIME_WAIT (the first 20). */
  reusedPackets: number[];
  quickestReuse: number;
  failedReused: number;
}

/** What a pair with more than one connection, or with a reuse, holds besides its columns. */
interface Details {
  /** Every source port, once there is a second. */
  ports: Set<number> | null;
  lifetimes: number[];
  stride: number;
  reusedPackets: number[];
}

export class PortGroups {
  /** Key ('client server') to slot, in the order pairs were first seen. */
  private readonly slotOf = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private readonly details = new Map<number, Details>();
  private capacity = 0;
  /** Slots handed out so far (free ones included). */
  private used = 0;
  private connectionCount = new Int32Array(0);
  private firstPort = new Int32Array(0);
  private reusedCount = new Int32Array(0);
  private failedReusedCount = new Int32Array(0);
  private firstSynTs = new Float64Array(0);
  private lastSynTs = new Float64Array(0);
  private quickestReuseMicros = new Float64Array(0);
  /** The first connection's lifetime (the others, when there are, are in Details). */
  private firstLifetime = new Float64Array(0);

  constructor(readonly max: number) {}

  get size(): number {
    return this.slotOf.size;
  }

  /** The slot of the pair `key` ('client server'), or -1. */
  find(key: string): number {
    return this.slotOf.get(key) ?? -1;
  }

  /** Starts following the pair `key`, whose first SYN was at `syn`; -1 when the table is full. */
  add(key: string, clientPort: number, syn: number): number {
    if (this.slotOf.size >= this.max) return -1;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
    }
    this.slotOf.set(key, slot);
    this.connectionCount[slot] = 0;
    this.firstPort[slot] = clientPort;
    this.reusedCount[slot] = 0;
    this.failedReusedCount[slot] = 0;
    this.firstSynTs[slot] = syn;
    this.lastSynTs[slot] = syn;
    this.quickestReuseMicros[slot] = Infinity;
    this.firstLifetime[slot] = 0;
    return slot;
  }

  /** A connection of the pair in `slot`, from `clientPort`, its first SYN at `syn`, lasting `lifetime` µs. */
  connection(slot: number, clientPort: number, syn: number, lifetime: number): void {
    const n = this.connectionCount[slot]++;
    if (n === 0) this.firstLifetime[slot] = lifetime;
    else {
      const d = this.detailsOf(slot);
      if (n % d.stride === 0) {
        d.lifetimes.push(lifetime);
        if (d.lifetimes.length >= MAX_LIFETIMES) {
          d.lifetimes = d.lifetimes.filter((_, i) => i % 2 === 0);
          d.stride *= 2;
        }
      }
    }
    if (clientPort !== this.firstPort[slot]) (this.detailsOf(slot).ports ??= new Set([this.firstPort[slot]])).add(clientPort);
    if (syn < this.firstSynTs[slot]) this.firstSynTs[slot] = syn;
    if (syn > this.lastSynTs[slot]) this.lastSynTs[slot] = syn;
  }

  /**
   * The connection just counted in `slot` reused a 4-tuple `gap` µs after its previous close;
   * `failed`: it did not end cleanly. Returns the pair's cited packets, for the caller to add its SYN.
   */
  reuse(slot: number, gap: number, failed: boolean): number[] {
    this.reusedCount[slot]++;
    if (gap < this.quickestReuseMicros[slot]) this.quickestReuseMicros[slot] = gap;
    if (failed) this.failedReusedCount[slot]++;
    return this.detailsOf(slot).reusedPackets;
  }

  /** Forgets the pairs without reuse whose last SYN came before `cutoff`. */
  forgetQuiet(cutoff: number): void {
    // forEach, not for-of: it looks over every pair, and an entries iterator makes an array of each.
    this.slotOf.forEach((slot, key) => {
      if (this.reusedCount[slot] === 0 && this.lastSynTs[slot] < cutoff) this.remove(key, slot);
    });
  }

  /** Forgets the pairs first seen longest ago with no reuse and fewer than `minConnections`, until fewer than `downTo` are left. */
  forgetOldest(minConnections: number, downTo: number): void {
    // The keys alone: an entries iterator makes an array of each entry.
    for (const key of this.slotOf.keys()) {
      if (this.slotOf.size < downTo) break;
      const slot = this.slotOf.get(key)!;
      if (this.reusedCount[slot] === 0 && this.connectionCount[slot] < minConnections) this.remove(key, slot);
    }
  }

  /** Every pair with at least `minConnections` connections, in the order first seen; the others are not made into records. */
  groups(minConnections = 0): PortGroup[] {
    const out: PortGroup[] = [];
    // forEach, not for-of: at the end of a busy capture this looks over tens of thousands of pairs.
    this.slotOf.forEach((slot, key) => {
      if (this.connectionCount[slot] >= minConnections) out.push(this.group(key, slot));
    });
    return out;
  }

  private group(key: string, slot: number): PortGroup {
    const d = this.details.get(slot);
    const space = key.indexOf(' ');
    return {
      clientIp: key.slice(0, space),
      server: key.slice(space + 1),
      connections: this.connectionCount[slot],
      distinctPorts: d?.ports ? d.ports.size : 1,
      firstSyn: this.firstSynTs[slot],
      lastSyn: this.lastSynTs[slot],
      lifetimes: d ? d.lifetimes : [this.firstLifetime[slot]],
      reused: this.reusedCount[slot],
      reusedPackets: d ? d.reusedPackets : [],
      quickestReuse: this.quickestReuseMicros[slot],
      failedReused: this.failedReusedCount[slot],
    };
  }

  private detailsOf(slot: number): Details {
    let d = this.details.get(slot);
    if (!d) this.details.set(slot, (d = { ports: null, lifetimes: [this.firstLifetime[slot]], stride: 1, reusedPackets: [] }));
    return d;
  }

  private remove(key: string, slot: number): void {
    this.slotOf.delete(key);
    this.details.delete(slot);
    this.freeSlots.push(slot);
  }

  private grow(): void {
    const capacity = Math.min(this.max, Math.max(INITIAL_SLOTS, this.capacity * 2));
    this.connectionCount = grownColumn(this.connectionCount, capacity);
    this.firstPort = grownColumn(this.firstPort, capacity);
    this.reusedCount = grownColumn(this.reusedCount, capacity);
    this.failedReusedCount = grownColumn(this.failedReusedCount, capacity);
    this.firstSynTs = grownColumn(this.firstSynTs, capacity);
    this.lastSynTs = grownColumn(this.lastSynTs, capacity);
    this.quickestReuseMicros = grownColumn(this.quickestReuseMicros, capacity);
    this.firstLifetime = grownColumn(this.firstLifetime, capacity);
    this.capacity = capacity;
  }
}
