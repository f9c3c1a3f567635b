// Finished flows remembered for TIME_WAIT: enough to spot a 4-tuple reused too soon, and to tell
// a late packet of a flow finished before its linger ended from a new connection. A busy capture
// keeps up to hundreds of thousands of them, so they are a ring of slots in close order with
// their fields in typed arrays (no object per close, no boxed times), and an index from the 4-tuple
// hash to the newest slot, itself two typed arrays (open addressing) rather than a Map of hundreds
// of thousands of entries on the heap. The oldest leaves first: once past TIME_WAIT, or when the
// ring is full.

import { addrEquals } from '../decode/addr.js';
import type { AddressPair } from './address-pair.js';
import { EMPTY, entryToMoveBack } from './tuple-index.js';

/** Slots the ring starts with; it doubles up to its bound. */
const INITIAL_SLOTS = 1024;

/**
 * From a 4-tuple hash to a slot: open addressing with linear probing, one entry per hash, grown
 * when half full; an entry leaves by backward-shift deletion (tuple-index.ts entryToMoveBack).
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
    // Close the gap: move back each later entry of the run that may sit at or before place i.
    for (;;) {
      hashes[i] = EMPTY;
      const j = entryToMoveBack(hashes, mask, i);
      if (j < 0) return;
      hashes[i] = hashes[j];
      slots[i] = slots[j];
      i = j;
    }
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

export class RecentCloses {
  private readonly slotOf = new SlotIndex();
  private capacity = 0;
  /** Oldest slot, and how many slots are in use from there on (wrapping). */
  private head = 0;
  private count = 0;
  private hash = new Int32Array(0);
  private flowIds = new Float64Array(0);
  private closedAt = new Float64Array(0);
  private lingerEnd = new Float64Array(0);
  private ports = new Int32Array(0);
  private stateIds = new Uint8Array(0);
  /** Each side's next sequence number when the flow ended (originator, responder). */
  private nextSeqs = new Float64Array(0);
  /** 8 words a slot: the originator's address, then the responder's. */
  private addrs = new Int32Array(0);
  private readonly stateNames: string[] = [];

  private readonly maxSlots: number;

  constructor(
    maxSlots: number,
    /** How long a close is remembered (µs of packet time). */
    private readonly keepMicros: number,
  ) {
    this.maxSlots = Math.max(1, maxSlots);
  }

  /** Closes remembered now (some may have been taken back by forget()). */
  get size(): number {
    return this.slotOf.size;
  }

  /**
   * Remembers a finished flow at packet time `now`. `lingerUntil`: when the flow was finished
   * before its linger ended, the end of that linger, else 0.
   */
  add(hash: number, flowId: number, closedTs: number, lingerUntil: number, state: string, addrs: AddressPair, origPort: number, respPort: number, now: number, origNextSeq = 0, respNextSeq = 0): void {
    while (this.count > 0 && this.closedAt[this.head] < now - this.keepMicros) this.dropOldest();
    if (this.count === this.capacity) {
      if (this.capacity < this.maxSlots) this.grow();
      else this.dropOldest();
    }
    const slot = (this.head + this.count) % this.capacity;
    this.count++;
    this.hash[slot] = hash;
    this.flowIds[slot] = flowId;
    this.closedAt[slot] = closedTs;
    this.lingerEnd[slot] = lingerUntil;
    this.ports[slot] = (origPort << 16) | respPort;
    this.stateIds[slot] = this.stateId(state);
    this.nextSeqs[slot * 2] = origNextSeq;
    this.nextSeqs[slot * 2 + 1] = respNextSeq;
    addrs.copyAddrsTo(this.addrs, slot * 8);
    this.slotOf.set(hash, slot);
  }

  /** The newest close with this 4-tuple hash, or -1. */
  find(hash: number): number {
    return this.slotOf.get(hash);
  }

  /** The close in `slot` had `a`:`ap` as its originator and `b`:`bp` as its responder. */
  is(slot: number, a: Uint32Array, ap: number, b: Uint32Array, bp: number): boolean {
    const w = this.addrs;
    const s = slot * 8;
    return this.ports[slot] === ((ap << 16) | bp) && addrEquals(a, w[s], w[s + 1], w[s + 2], w[s + 3]) && addrEquals(b, w[s + 4], w[s + 5], w[s + 6], w[s + 7]);
  }

  flowId(slot: number): number {
    return this.flowIds[slot];
  }

  closedTs(slot: number): number {
    return this.closedAt[slot];
  }

  lingerUntil(slot: number): number {
    return this.lingerEnd[slot];
  }

  /** The originator's (side 0) or responder's (side 1) next sequence number when the flow ended. */
  nextSeq(slot: number, side: 0 | 1): number {
    return this.nextSeqs[slot * 2 + side];
  }

  state(slot: number): string {
    return this.stateNames[this.stateIds[slot]];
  }

  /** A new connection took the 4-tuple over: the close is no longer looked up (its slot ages out). */
  forget(slot: number): void {
    const hash = this.hash[slot];
    if (this.slotOf.get(hash) === slot) this.slotOf.delete(hash);
  }

  private dropOldest(): void {
    const slot = this.head;
    const hash = this.hash[slot];
    if (this.slotOf.get(hash) === slot) this.slotOf.delete(hash);
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
    const take = <T extends Int32Array | Float64Array | Uint8Array>(from: T, next: T, width = 1): T => {
      next.set(from.subarray(head * width, old * width), 0);
      next.set(from.subarray(0, head * width), (old - head) * width);
      return next;
    };
    this.hash = take(this.hash, new Int32Array(capacity));
    this.flowIds = take(this.flowIds, new Float64Array(capacity));
    this.closedAt = take(this.closedAt, new Float64Array(capacity));
    this.lingerEnd = take(this.lingerEnd, new Float64Array(capacity));
    this.ports = take(this.ports, new Int32Array(capacity));
    this.stateIds = take(this.stateIds, new Uint8Array(capacity));
    this.nextSeqs = take(this.nextSeqs, new Float64Array(capacity * 2), 2);
    this.addrs = take(this.addrs, new Int32Array(capacity * 8), 8);
    this.slotOf.renumber((slot) => (slot - head + old) % old);
    this.capacity = capacity;
    this.head = 0;
  }

  private stateId(state: string): number {
    let id = this.stateNames.indexOf(state);
    if (id < 0) id = this.stateNames.push(state) - 1;
    return id;
  }
}
