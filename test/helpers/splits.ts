// Feed a streaming parser the same bytes cut in every way (llparse-test-fixture's "scan", ws's
// "spanning multiple writes"): every 2-way cut, a few 3-way cuts, and one byte at a time. A parser
// that keeps state correctly across chunk boundaries gives the same result for all of them.

export interface Split {
  /** How the bytes were cut, for failure messages: "whole", "at 17", "at 3,40", "1-byte". */
  label: string;
  chunks: Uint8Array[];
}

export interface SplitOptions {
  /** Above this length, 2-way cuts are every position near both ends plus a stride in between. */
  exhaustiveUpTo?: number;
  /** Number of 3-way cuts (deterministic). */
  threeWay?: number;
  /** Include the 1-byte-at-a-time feed (default true). */
  byteAtATime?: boolean;
}

/** Positions 1..len-1 to cut at: all of them for short inputs. */
export function cutPositions(len: number, exhaustiveUpTo = 4096): number[] {
  if (len <= exhaustiveUpTo) return Array.from({ length: Math.max(0, len - 1) }, (_, i) => i + 1);
  const edge = Math.floor(exhaustiveUpTo / 4);
  const out = new Set<number>();
  for (let i = 1; i <= edge; i++) out.add(i);
  for (let i = len - edge; i < len; i++) out.add(i);
  const stride = Math.max(1, Math.floor((len - 2 * edge) / (exhaustiveUpTo / 2)));
  for (let i = edge; i < len - edge; i += stride) out.add(i);
  return [...out].sort((a, b) => a - b);
}

export function* everySplit(bytes: Uint8Array, opts: SplitOptions = {}): Generator<Split> {
  const len = bytes.length;
  yield { label: 'whole', chunks: [bytes] };
  for (const at of cutPositions(len, opts.exhaustiveUpTo)) {
    yield { label: `at ${at}`, chunks: [bytes.subarray(0, at), bytes.subarray(at)] };
  }
  // Deterministic pseudo-random 3-way cuts (an LCG, so failures reproduce).
  let seed = (len * 2654435761) >>> 0;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  const threeWay = len >= 3 ? (opts.threeWay ?? 8) : 0;
  for (let k = 0; k < threeWay; k++) {
    const a = 1 + (next() % (len - 2));
    const b = a + 1 + (next() % (len - a - 1));
    yield { label: `at ${a},${b}`, chunks: [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)] };
  }
  if (opts.byteAtATime !== false && len > 1) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < len; i++) chunks.push(bytes.subarray(i, i + 1));
    yield { label: '1-byte', chunks };
  }
}

/** Concatenates byte strings (fixtures are built from parts). */
export function concatBytes(...parts: (Uint8Array | string)[]): Uint8Array {
  const bufs = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p));
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of bufs) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}
