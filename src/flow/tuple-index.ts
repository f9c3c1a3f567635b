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
function entryToMoveBack(hashes: Int32Array, mask: number, i: number): number {
  for (let j = (i + 1) & mask; hashes[j] !== EMPTY; j = (j + 1) & mask) {
    const home = hashes[j] & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) return j;
  }
  return -1;
}

/**
 * Empties place `i` of a linear-probing table of `hashes`, with `values` beside them (`empty` left
 * in the value's place), and closes the gap by backward-shift deletion (see entryToMoveBack).
 */
export function removePlace<V>(hashes: Int32Array, values: { [place: number]: V }, mask: number, i: number, empty: V): void {
  for (;;) {
    hashes[i] = EMPTY;
    values[i] = empty;
    const j = entryToMoveBack(hashes, mask, i);
    if (j < 0) return;
    hashes[i] = hashes[j];
    values[i] = values[j];
    i = j;
  }
}

/**
 * Items by the hash of their 4-tuple (table.ts tupleHash): the open flows of the flow table, the
 * remembered conversations of the sequence analysis (analysis.ts). Open addressing with linear
 * probing, the hashes in an Int32Array beside the items, so a lookup compares numbers in one
 * buffer and looks at an item only when its hash matches. An item leaves by backward-shift
 * deletion, which leaves no tombstones behind; the owner keeps at most one item per 4-tuple.
 */
export class TupleIndex<T extends { readonly hash: number }> {
  private hashes = new Int32Array(INITIAL_PLACES).fill(EMPTY);
  private items: (T | null)[] = new Array<T | null>(INITIAL_PLACES).fill(null);
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

  itemAt(place: number): T {
    return this.items[place]!;
  }

  add(item: T): void {
    if (2 * (this.count + 1) > this.hashes.length) this.grow();
    this.put(item);
    this.count++;
  }

  remove(item: T): void {
    const hashes = this.hashes;
    const items = this.items;
    const mask = this.mask;
    let i = item.hash & mask;
    while (items[i] !== item) {
      if (hashes[i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    this.count--;
    removePlace(hashes, items, mask, i, null);
  }

  private put(item: T): void {
    const mask = this.mask;
    let i = item.hash & mask;
    while (this.hashes[i] !== EMPTY) i = (i + 1) & mask;
    this.hashes[i] = item.hash;
    this.items[i] = item;
  }

  private grow(): void {
    const old = this.items;
    const places = old.length * 2;
    this.hashes = new Int32Array(places).fill(EMPTY);
    this.items = new Array<T | null>(places).fill(null);
    this.mask = places - 1;
    for (const item of old) if (item) this.put(item);
  }
}
