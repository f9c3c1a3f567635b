// The numbers of open flows in columns: rows of a fixed number of doubles, one row per flow slot,
// in Float64Array chunks of ROWS_PER_CHUNK rows. As fields of objects, each µs time would be a heap
// number of its own and each flow some hundred objects for the collector to trace and move; here a
// flow's numbers are one row of a buffer the collector never looks into. The store grows a chunk
// at a time, with no copying and so no twice-the-size moment of a doubled buffer; a finished
// flow's slot goes on a free list and the next flow takes it. Chunks are kept for the next peak.
//
// Code reads the rows through small view objects (Endpoint, FlowTiming and its parts) whose
// fields are accessors made by `defineColumns`, so it reads like plain field access. A view holds
// its row's chunk and offset; the views of a slot are made once and serve every flow that takes it.
// The numbers most flows never change live in a second row the slot takes only when one changes
// (RareRow, accessors made by `defineRareColumns`).

/** Rows per chunk. */
const ROWS_PER_CHUNK = 512;

/** A growable store of rows of `stride` numbers. */
export class Columns {
  private readonly chunks: Float64Array[] = [];
  /** Released slots, taken last in first out; slots at or past `used` were never taken. */
  private free = new Int32Array(ROWS_PER_CHUNK);
  private freeCount = 0;
  private used = 0;

  constructor(
    readonly stride: number,
    private readonly rowsPerChunk = ROWS_PER_CHUNK,
  ) {}

  /** Slots taken and not released. */
  get live(): number {
    return this.used - this.freeCount;
  }

  /** Takes a slot and fills its row with `initial` (stride numbers). */
  take(initial: Float64Array): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.free[--this.freeCount];
    else {
      slot = this.used++;
      if (slot === this.chunks.length * this.rowsPerChunk) this.chunks.push(new Float64Array(this.rowsPerChunk * this.stride));
      if (this.used > this.free.length) {
        const free = new Int32Array(this.free.length * 2);
        free.set(this.free);
        this.free = free;
      }
    }
    this.chunkOf(slot).set(initial, this.rowAt(slot));
    return slot;
  }

  /** Gives the slot back: the next take() may hand it out again. */
  release(slot: number): void {
    this.free[this.freeCount++] = slot;
  }

  /** The chunk holding the slot's row. */
  chunkOf(slot: number): Float64Array {
    return this.chunks[Math.floor(slot / this.rowsPerChunk)];
  }

  /** Where the slot's row starts in its chunk. */
  rowAt(slot: number): number {
    return (slot % this.rowsPerChunk) * this.stride;
  }
}

/** A column grown to `capacity` entries: a new array of the same type, `from` copied to its start and the rest zero. */
export function grownColumn<T extends Int32Array | Float64Array | Uint8Array | Uint16Array>(from: T, capacity: number): T {
  const next = new (from.constructor as new (length: number) => T)(capacity);
  next.set(from);
  return next;
}

/** Swaps `count` numbers at `a` with those at `b`. */
export function swapNumbers(n: Float64Array, a: number, b: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const x = n[a + i];
    n[a + i] = n[b + i];
    n[b + i] = x;
  }
}

/** A view over part of a row: its chunk and where its first field sits. */
export interface ColumnView {
  readonly n: Float64Array;
  readonly at: number;
}

/**
 * A slot's second row, for the numbers most flows never change from their initial values (resets,
 * copies, zero windows, retransmission runs): taken from its own store the first time one of them
 * changes and given back when the flow is done, so most flows carry only the first row.
 */
export class RareRow {
  /** The chunk and where the row starts in it; null while the slot's flow has none. */
  n: Float64Array | null = null;
  at = 0;
  private slot = -1;

  constructor(
    private readonly store: Columns,
    /** The row a flow starts with: every rare field at its initial value. */
    private readonly initial: Float64Array,
  ) {}

  take(): Float64Array {
    this.slot = this.store.take(this.initial);
    this.at = this.store.rowAt(this.slot);
    return (this.n = this.store.chunkOf(this.slot));
  }

  release(): void {
    if (this.slot < 0) return;
    this.store.release(this.slot);
    this.slot = -1;
    this.n = null;
  }
}

/** A view whose rare fields live in its slot's RareRow, from `rareAt` on. */
export interface RareColumnView {
  readonly rare: RareRow;
  readonly rareAt: number;
}

/**
 * Defines one accessor per field of `initial` on `proto`, reading and writing `this.n[this.at + i]`
 * for the i-th field (booleans as 0 and 1). Returns the number of fields.
 */
export function defineColumns(proto: object, initial: Record<string, number | boolean>): number {
  Object.entries(initial).forEach(([name, value], i) => {
    const accessors =
      typeof value === 'boolean'
        ? {
            get(this: ColumnView) {
              return this.n[this.at + i] !== 0;
            },
            set(this: ColumnView, v: boolean) {
              this.n[this.at + i] = v ? 1 : 0;
            },
          }
        : {
            get(this: ColumnView) {
              return this.n[this.at + i];
            },
            set(this: ColumnView, v: number) {
              this.n[this.at + i] = v;
            },
          };
    Object.defineProperty(proto, name, { ...accessors, configurable: false, enumerable: false });
  });
  return Object.keys(initial).length;
}

/**
 * As defineColumns, for fields kept in the slot's RareRow: a field reads as its initial value while
 * the slot has no rare row, and the first write of another value takes one. Returns the number of
 * fields.
 */
export function defineRareColumns(proto: object, initial: Record<string, number | boolean>): number {
  Object.entries(initial).forEach(([name, value], i) => {
    const start = +value;
    const read = (v: RareColumnView): number => {
      const r = v.rare;
      return r.n === null ? start : r.n[r.at + v.rareAt + i];
    };
    const write = (v: RareColumnView, x: number): void => {
      const r = v.rare;
      if (r.n !== null) r.n[r.at + v.rareAt + i] = x;
      else if (x !== start) r.take()[r.at + v.rareAt + i] = x;
    };
    const accessors =
      typeof value === 'boolean'
        ? {
            get(this: RareColumnView) {
              return read(this) !== 0;
            },
            set(this: RareColumnView, v: boolean) {
              write(this, v ? 1 : 0);
            },
          }
        : {
            get(this: RareColumnView) {
              return read(this);
            },
            set(this: RareColumnView, v: number) {
              write(this, v);
            },
          };
    Object.defineProperty(proto, name, { ...accessors, configurable: false, enumerable: false });
  });
  return Object.keys(initial).length;
}

/** Writes the initial values of `initial` (booleans as 0 and 1) into `row` from `at`. */
export function putInitial(row: Float64Array, at: number, initial: Record<string, number | boolean>): void {
  Object.values(initial).forEach((v, i) => (row[at + i] = +v));
}

/**
 * A number read from a row, as an object field should hold it: a double read from a Float64Array
 * is a heap number of its own wherever it is stored (16 bytes more per field of every object built
 * from it), a small integer is not. A count or a packet number comes back as the same value in
 * int32 form; fractions and numbers past 32 bits are left as they are.
 */
export function wholeNumber(v: number): number {
  const i = v | 0;
  return i === v ? i : v;
}
