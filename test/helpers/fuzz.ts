// Seeded mutations of capture files, shared by the capture fuzz test and any pipeline-level fuzz.
// Deterministic: the same seed gives the same mutated bytes, so a failure names its seed.

/** mulberry32: a tiny 32-bit PRNG, good enough to spread mutations, returns [0, 1). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MUTATION = {
  TRUNCATE: 'truncate',
  BIT_FLIP: 'bit-flip',
  LENGTH_ZERO: 'length-zero',
  LENGTH_MAX: 'length-max',
  LENGTH_RANDOM: 'length-random',
} as const;
export type MutationKind = (typeof MUTATION)[keyof typeof MUTATION];

export interface Mutant {
  bytes: Uint8Array;
  kind: MutationKind;
  /** e.g. "length-max at 0x1a4 (pcapng block length)": enough to rebuild the case by hand. */
  description: string;
}

function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

/**
 * Offsets of the 32-bit length fields in a pcap (caplen, origLen per record) or pcapng file
 * (leading and trailing block length; EPB/OPB caplen and origLen), found by a walk that
 * trusts the lengths and stops at the first one that makes no sense.
 */
export function lengthFieldOffsets(b: Uint8Array): { offset: number; littleEndian: boolean; what: string }[] {
  const out: { offset: number; littleEndian: boolean; what: string }[] = [];
  if (b.length < 24) return out;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magicLE = dv.getUint32(0, true);
  if (magicLE === 0x0a0d0d0a) {
    let le = true;
    let p = 0;
    while (p + 12 <= b.length) {
      const type = dv.getUint32(p, le);
      if (type === 0x0a0d0d0a) le = dv.getUint32(p + 8, true) === 0x1a2b3c4d;
      const len = dv.getUint32(p + 4, le);
      if (len < 12 || len % 4 !== 0 || p + len > b.length) break;
      out.push({ offset: p + 4, littleEndian: le, what: 'pcapng block length' });
      out.push({ offset: p + len - 4, littleEndian: le, what: 'pcapng trailing block length' });
      if ((type === 6 || type === 2) && len >= 32) {
        out.push({ offset: p + 20, littleEndian: le, what: 'pcapng packet caplen' });
        out.push({ offset: p + 24, littleEndian: le, what: 'pcapng packet origLen' });
      }
      if (type === 3 && len >= 16) out.push({ offset: p + 8, littleEndian: le, what: 'pcapng simple packet origLen' });
      p += len;
    }
    return out;
  }
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  let p = 24;
  while (p + 16 <= b.length) {
    const caplen = dv.getUint32(p + 8, le);
    out.push({ offset: p + 8, littleEndian: le, what: 'pcap record caplen' });
    out.push({ offset: p + 12, littleEndian: le, what: 'pcap record origLen' });
    if (caplen > 262144) break;
    p += 16 + caplen;
  }
  return out;
}

/** One seeded mutation of a capture: truncation, a bit flip, or a length field set to 0 / max / random. */
export function mutateCapture(source: Uint8Array, rng: () => number): Mutant {
  const bytes = source.slice();
  const roll = rng();
  if (roll < 0.25 || source.length === 0) {
    const at = randInt(rng, source.length + 1);
    return { bytes: bytes.subarray(0, at), kind: MUTATION.TRUNCATE, description: `truncate at ${at} of ${source.length}` };
  }
  if (roll < 0.5) {
    const flips = 1 + randInt(rng, 4);
    const where: string[] = [];
    for (let i = 0; i < flips; i++) {
      const at = randInt(rng, bytes.length);
      const bit = randInt(rng, 8);
      bytes[at] ^= 1 << bit;
      where.push(`0x${at.toString(16)}.${bit}`);
    }
    return { bytes, kind: MUTATION.BIT_FLIP, description: `bit flips at ${where.join(', ')}` };
  }
  const fields = lengthFieldOffsets(source);
  if (fields.length === 0) {
    const at = randInt(rng, source.length + 1);
    return { bytes: bytes.subarray(0, at), kind: MUTATION.TRUNCATE, description: `truncate at ${at} of ${source.length} (no length fields)` };
  }
  const field = fields[randInt(rng, fields.length)];
  const kinds = [MUTATION.LENGTH_ZERO, MUTATION.LENGTH_MAX, MUTATION.LENGTH_RANDOM] as const;
  const kind = kinds[randInt(rng, kinds.length)];
  const value = kind === MUTATION.LENGTH_ZERO ? 0 : kind === MUTATION.LENGTH_MAX ? 0xffffffff : Math.floor(rng() * 4294967296);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(field.offset, value, field.littleEndian);
  return { bytes, kind, description: `${kind} ${value} at 0x${field.offset.toString(16)} (${field.what})` };
}

/** `count` mutants drawn round-robin from the sources, reproducible from `seed`. */
export function* generateMutants(sources: Uint8Array[], count: number, seed: number): Generator<Mutant & { seed: number; source: number }> {
  for (let i = 0; i < count; i++) {
    const caseSeed = (seed + i * 0x9e3779b9) >>> 0;
    const rng = createRng(caseSeed);
    const source = i % sources.length;
    yield { ...mutateCapture(sources[source], rng), seed: caseSeed, source };
  }
}
