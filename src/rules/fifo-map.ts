// A Map in insertion order whose oldest entry costs nothing to find, for the logs that keep at most
// so many entries and forget the oldest first.
//
// A plain Map keeps its order too, but not cheaply at the front: a deleted entry stays in V8's
// table as a hole until the table is rebuilt, and `keys().next()` walks every hole before the
// first live entry. A log that deletes its oldest entry for each new one piles its holes up at the
// front: at 65,536 entries each insertion took 15 µs, and 200,000 resets took 2.3 s to record
// where 65,536 took 45 ms. Here the order is an array of keys with the dead ones skipped once and
// dropped when they outnumber the live ones.

/** Dead slots allowed beyond the live entries before the order is compacted. */
const SLACK = 32;

export class FifoMap<K, V> {
  /** Each key's place in `order`. */
  private readonly at = new Map<K, number>();
  /** Keys in insertion order; undefined where an entry was deleted. */
  private order: (K | undefined)[] = [];
  private items: (V | undefined)[] = [];
  /** No live entry comes before this place in `order`. */
  private head = 0;
  private dead = 0;
  /** Iterations under way: the order is not compacted under them, so a set() while iterating is met later, as in a Map. */
  private iterating = 0;

  get size(): number {
    return this.at.size;
  }

  /** Slots in the order, live and dead: at most twice the entries and SLACK more, once a set() has compacted them. */
  get slots(): number {
    return this.order.length;
  }

  get(key: K): V | undefined {
    const i = this.at.get(key);
    return i === undefined ? undefined : this.items[i];
  }

  /** As Map.set: a new key goes last, a key already there keeps its place. */
  set(key: K, value: V): this {
    const i = this.at.get(key);
    if (i !== undefined) {
      this.items[i] = value;
      return this;
    }
    if (this.dead > this.at.size + SLACK && this.iterating === 0) this.compact();
    this.at.set(key, this.order.length);
    this.order.push(key);
    this.items.push(value);
    return this;
  }

  /**
   * As delete then set: the key goes last, whether it was there or not. A new key that would make
   * more than `most` entries first pushes the oldest out; returns whether one was.
   */
  setNewest(key: K, value: V, most: number): boolean {
    let pushedOut = false;
    if (!this.delete(key) && this.at.size >= most) {
      const oldest = this.firstKey();
      if (oldest !== undefined) pushedOut = this.delete(oldest);
    }
    this.set(key, value);
    return pushedOut;
  }

  delete(key: K): boolean {
    const i = this.at.get(key);
    if (i === undefined) return false;
    this.at.delete(key);
    this.order[i] = undefined;
    this.items[i] = undefined;
    this.dead++;
    return true;
  }

  /** The oldest key, or undefined when empty. */
  firstKey(): K | undefined {
    const order = this.order;
    while (this.head < order.length && order[this.head] === undefined) this.head++;
    return this.head < order.length ? order[this.head] : undefined;
  }

  clear(): void {
    this.at.clear();
    this.order = [];
    this.items = [];
    this.head = 0;
    this.dead = 0;
  }

  /** Entries oldest first; as in a Map, entries deleted meanwhile are skipped and entries set meanwhile are met. */
  *entries(): Generator<[K, V]> {
    this.iterating++;
    try {
      for (let i = this.head; i < this.order.length; i++) {
        const key = this.order[i];
        if (key !== undefined) yield [key, this.items[i]!];
      }
    } finally {
      this.iterating--;
    }
  }

  *values(): Generator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  private compact(): void {
    const order: K[] = [];
    const values: V[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const key = this.order[i];
      if (key === undefined) continue;
      this.at.set(key, order.length);
      order.push(key);
      values.push(this.items[i]!);
    }
    this.order = order;
    this.items = values;
    this.head = 0;
    this.dead = 0;
  }
}
