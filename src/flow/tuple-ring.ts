// 4-tuples in the order they were added, each a slot of typed-array columns, found by the
// 4-tuple's hash: the logs of finished connections that a busy capture keeps hundreds of thousands
// of (remembered closes, connections that ended with a reset). No object per entry, no boxed
// time: a ring of slots, oldest first, and an index from hash to the newest slot with that hash,
// itself two typed arrays (open addressing) rather than a Map on the heap. The oldest leaves first:
// once older than the ring keeps, or when the ring is full. A subclass keeps its own columns beside
// the ring's and moves them when the ring grows (regrow).

import { addrEquals } from '../decode/addr.js';
import type { AddressPair } from './address-pair.js';
import { EMPTY, removePlace } from './tuple-index.js';

/** Slots a ring starts with; it doubles up to its bound. */
const INITIAL_SLOTS = 1024;

/**
 * From a 4-tuple hash to a slot: open addressing with linear probing, one entry per hash, grown
 * when half full; an entry leaves by backward-shift deletion (tuple-index.ts removePlace).
 */
export class SlotIndex {
  private hashes = new Int32Array(INITIAL_SLOTS * 2).fill(EMPTY);
  private slots = new Int32Array(INITIAL_SLOTS * 2);
  private mask = INITIAL_SLOTS * 2 - 1;
  size = 0;

  /** The slot of `hash`, or -1. */
  get(hash: number): number {
    const mask = this.mask;
    for (let i = hash & mask; this.hashes[i] !== EMPTY; i = (i + 1) & mask) if (this.hashes[i] === hash) return this.slots[i];
    return -1;
  }

  set(hash: number, slot: number): void {
    if (2 * (this.size + 1) > this.hashes.length) this.grow();
    const mask = this.mask;
    let i = hash & mask;
    while (this.hashes[i] !== EMPTY && this.hashes[i] !== hash) i = (i + 1) & mask;
    if (this.hashes[i] === EMPTY) this.size++;
    this.hashes[i] = hash;
    this.slots[i] = slot;
  }

  delete(hash: number): void {
    const { hashes, slots, mask } = this;
    let i = hash & mask;
    while (hashes[i] !== hash) {
      if (hashes[i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    this.size--;
    removePlace(hashes, slots, mask, i, -1);
  }

  /** Every entry's slot becomes `renumber(slot)`. */
  renumber(renumber: (slot: number) => number): void {
    for (let i = 0; i < this.hashes.length; i++) if (this.hashes[i] !== EMPTY) this.slots[i] = renumber(this.slots[i]);
  }

  private grow(): void {
    const { hashes, slots } = this;
    const places = hashes.length * 2;
    this.hashes = new Int32Array(places).fill(EMPTY);
    this.slots = new Int32Array(places);
    this.mask = places - 1;
    this.size = 0;
    for (let i = 0; i < hashes.length; i++) if (hashes[i] !== EMPTY) this.set(hashes[i], slots[i]);
  }
}

/** Copies a column into its grown array, its slots moved so that the oldest comes first (see TupleRing.grow). */
export type Relayout = <T extends Int32Array | Float64Array | Uint8Array>(from: T, next: T, width?: number) => T;

/**
 * `column`, a full ring of `slots` slots of `width` numbers whose oldest is at `oldest`, copied into
 * the larger `next` oldest first: the run from `oldest` to the end, then the run from 0.
 */
export function rotated<T extends Int32Array | Float64Array | Uint8Array>(column: T, next: T, oldest: number, slots: number, width = 1): T {
  next.set(column.subarray(oldest * width, slots * width), 0);
  next.set(column.subarray(0, oldest * width), (slots - oldest) * width);
  return next;
}

export abstract class TupleRing {
  private readonly slotOf = new SlotIndex();
  private capacity = 0;
  /** Oldest slot, and how many slots are in use from there on (wrapping). */
  private head = 0;
  private count = 0;
  private hash = new Int32Array(0);
  /** Packet time of each entry, by which the oldest leave. */
  private addedAt = new Float64Array(0);
  /** A's port in the high 16 bits, B's in the low. */
  private ports = new Int32Array(0);
  /** 8 words a slot: address A, then address B. */
  private addrs = new Int32Array(0);
  private readonly maxSlots: number;

  constructor(
    maxSlots: number,
    /** How long an entry is kept (µs of packet time). */
    private readonly keepMicros: number,
  ) {
    this.maxSlots = Math.max(1, maxSlots);
  }

  /** Entries that can be found now (some may have been taken back by forget()). */
  get size(): number {
    return this.slotOf.size;
  }

  /** The newest entry with this 4-tuple hash, or -1. */
  find(hash: number): number {
    return this.slotOf.get(hash);
  }

  /** The entry in `slot` has `a`:`ap` as its A and `b`:`bp` as its B. */
  is(slot: number, a: Uint32Array, ap: number, b: Uint32Array, bp: number): boolean {
    const w = this.addrs;
    const s = slot * 8;
    return this.ports[slot] === ((ap << 16) | bp) && addrEquals(a, w[s], w[s + 1], w[s + 2], w[s + 3]) && addrEquals(b, w[s + 4], w[s + 5], w[s + 6], w[s + 7]);
  }

  /**
   * How the 4-tuple of `addrs` (A:`aPort`, B:`bPort`) stands to the entry in `slot`: 1 when its A
   * is the entry's A, -1 when its A is the entry's B, 0 when it is another 4-tuple.
   */
  orientation(slot: number, addrs: AddressPair, aPort: number, bPort: number): 1 | -1 | 0 {
    const p = this.ports[slot];
    if (p === ((aPort << 16) | bPort) && addrs.hasAddrsAt(this.addrs, slot * 8, false)) return 1;
    if (p === ((bPort << 16) | aPort) && addrs.hasAddrsAt(this.addrs, slot * 8, true)) return -1;
    return 0;
  }

  /** When the entry in `slot` was added (packet time). */
  addedTs(slot: number): number {
    return this.addedAt[slot];
  }

  /** The entry is no longer looked up (its slot ages out). */
  forget(slot: number): void {
    const hash = this.hash[slot];
    if (this.slotOf.get(hash) === slot) this.slotOf.delete(hash);
  }

  /**
   * A new entry, the newest: the 4-tuple of `addrs` with A's port `aPort` and B's `bPort`, added at
   * `addedTs`; entries added before `now` less the keep are dropped first. Returns its slot, for the
   * subclass to fill its columns.
   */
  protected place(hash: number, addrs: AddressPair, aPort: number, bPort: number, addedTs: number, now: number): number {
    while (this.count > 0 && this.addedAt[this.head] < now - this.keepMicros) this.dropOldest();
    if (this.count === this.capacity) {
      if (this.capacity < this.maxSlots) this.grow();
      else this.dropOldest();
    }
    const slot = (this.head + this.count) % this.capacity;
    this.count++;
    this.hash[slot] = hash;
    this.addedAt[slot] = addedTs;
    this.ports[slot] = (aPort << 16) | bPort;
    addrs.copyAddrsTo(this.addrs, slot * 8);
    this.slotOf.set(hash, slot);
    return slot;
  }

  /** The subclass's columns grown to `capacity` slots, each through `relayout`. */
  protected abstract regrow(relayout: Relayout, capacity: number): void;

  private dropOldest(): void {
    this.forget(this.head);
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  /**
   * Doubles the ring (up to its bound). It grows only when full, so its slots are the run from
   * `head` to the end followed by the run from 0: both are copied to the front, oldest first.
   */
  private grow(): void {
    const old = this.capacity;
    const head = this.head;
    const capacity = Math.min(this.maxSlots, Math.max(INITIAL_SLOTS, old * 2));
    const relayout: Relayout = (column, next, width = 1) => rotated(column, next, head, old, width);
    this.hash = relayout(this.hash, new Int32Array(capacity));
    this.addedAt = relayout(this.addedAt, new Float64Array(capacity));
    this.ports = relayout(this.ports, new Int32Array(capacity));
    this.addrs = relayout(this.addrs, new Int32Array(capacity * 8), 8);
    this.regrow(relayout, capacity);
    this.slotOf.renumber((slot) => (slot - head + old) % old);
    this.capacity = capacity;
    this.head = 0;
  }
}
