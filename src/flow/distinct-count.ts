// How many distinct values (source addresses) a stream holds, in bounded memory: exact up to a
// bound, then a HyperLogLog estimate (Flajolet et al. 2007), said to be approximate. With 2^12
// registers the estimate's standard error is 1.04 / sqrt(4096), about 1.6%.

/** Values counted exactly before switching to the estimate. */
export const DISTINCT_EXACT_BOUND = 4_096;
const REGISTER_BITS = 12;
const REGISTERS = 1 << REGISTER_BITS;
/** HyperLogLog's bias constant for m >= 128 registers. */
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

export class DistinctCount {
  private exact: Set<number | string> | null = new Set();
  private registers: Uint8Array | null = null;

  constructor(private readonly exactBound = DISTINCT_EXACT_BOUND) {}

  add(value: number | string): void {
    if (this.exact) {
      this.exact.add(value);
      if (this.exact.size <= this.exactBound) return;
      // Over the bound: every value seen so far goes into the registers, and the set is let go.
      this.registers = new Uint8Array(REGISTERS);
      for (const v of this.exact) this.addHashed(v);
      this.exact = null;
      return;
    }
    this.addHashed(value);
  }

  /** The count: exact while `approximate` is false. */
  get count(): number {
    if (this.exact) return this.exact.size;
    const r = this.registers!;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < REGISTERS; i++) {
      sum += 2 ** -r[i];
      if (r[i] === 0) zeros++;
    }
    const raw = (ALPHA * REGISTERS * REGISTERS) / sum;
    // Small ranges: linear counting over the empty registers is the better estimate.
    const estimate = raw <= 2.5 * REGISTERS && zeros > 0 ? REGISTERS * Math.log(REGISTERS / zeros) : raw;
    return Math.round(estimate);
  }

  get approximate(): boolean {
    return this.exact === null;
  }

  private addHashed(value: number | string): void {
    const h = hash32(value);
    const index = h >>> (32 - REGISTER_BITS);
    const rest = (h << REGISTER_BITS) | (1 << (REGISTER_BITS - 1)); // a stop bit bounds the run of zeros
    const rank = Math.clz32(rest) + 1;
    if (rank > this.registers![index]) this.registers![index] = rank;
  }
}

/** A 32-bit hash with good avalanche (murmur3's finaliser over FNV-1a for strings). */
function hash32(value: number | string): number {
  let h: number;
  if (typeof value === 'number') h = value | 0;
  else {
    h = 0x811c9dc5;
    for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
