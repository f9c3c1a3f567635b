import type { Flow } from './flow.js';

/** The index starts with this many places; it doubles whenever it is half full. */
const INITIAL_PLACES = 1024;
/** An empty place (tuple hashes are 30-bit, never negative). */
export const EMPTY = -1;

/**
 * Backward-shift deletion in a linear-probing table of hashes whose place `i` was just emptied:
 * the place of the next entry of the probe run that may move back into `i` (its home place is at
 * or before `i`), or -1 when the run ends first. Moving it and repeating from its place leaves no
 * tombstones behind.
 */
export function entryToMoveBack(hashes: Int32Array, mask: number, i: number): number {
  for (let j = (i + 1) & mask; hashes[j] !== EMPTY; j = (j + 1) & mask) {
    const home = hashes[j] & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) return j;
  }
  return -1;
}

/**
 * The open flows by the hash of their 4-tuple (table.ts tupleHash): open addressing with linear
 * probing, the hashes in an Int32Array beside the flows, so a lookup compares numbers in one
 * buffer and looks at a flow only when its hash matches. A flow leaves by backward-shift deletion,
 * which leaves no tombstones behind. The table keeps at most one open flow per 4-tuple.
 */
export class FlowIndex {
  private hashes = new Int32Array(INITIAL_PLACES).fill(EMPTY);
  private flows: (Flow | null)[] = new Array<Flow | null>(INITIAL_PLACES).fill(null);
  private mask = INITIAL_PLACES - 1;
  private count = 0;

  /** The place to start looking for `hash`; compare hashAt(i) and walk on with next(i) until empty. */
  first(hash: number): number {
    return hash & this.mask;
  }

  next(place: number): number {
    return (place + 1) & this.mask;
  }

  /** The hash at `place`, -1 when the place is empty (the end of a probe). */
  hashAt(place: number): number {
    return this.hashes[place];
  }

  flowAt(place: number): Flow {
    return this.flows[place]!;
  }

  add(flow: Flow): void {
    if (2 * (this.count + 1) > this.hashes.length) this.grow();
    this.put(flow);
    this.count++;
  }

  remove(flow: Flow): void {
    const hashes = this.hashes;
    const flows = this.flows;
    const mask = this.mask;
    let i = flow.hash & mask;
    while (flows[i] !== flow) {
      if (hashes[i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    this.count--;
    // Close the gap: move back each later entry of the run that may sit at or before place i.
    for (;;) {
      hashes[i] = EMPTY;
      flows[i] = null;
      const j = entryToMoveBack(hashes, mask, i);
      if (j < 0) return;
      hashes[i] = hashes[j];
      flows[i] = flows[j];
      i = j;
    }
  }

  private put(flow: Flow): void {
    const mask = this.mask;
    let i = flow.hash & mask;
    while (this.hashes[i] !== EMPTY) i = (i + 1) & mask;
    this.hashes[i] = flow.hash;
    this.flows[i] = flow;
  }

  private grow(): void {
    const old = this.flows;
    const places = old.length * 2;
    this.hashes = new Int32Array(places).fill(EMPTY);
    this.flows = new Array<Flow | null>(places).fill(null);
    this.mask = places - 1;
    for (const f of old) if (f) this.put(f);
  }
}
