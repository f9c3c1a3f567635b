// 32-bit TCP sequence arithmetic (RFC 9293 section 3.4: comparisons are modulo 2^32), as smoltcp's
// SeqNumber: the signed distance is correct as long as the two numbers are less than 2^31 apart.

/** Signed distance a - b modulo 2^32: negative when a is before b. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return seqDiff(a, b) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

export function seqGe(a: number, b: number): boolean {
  return seqDiff(a, b) >= 0;
}

/** a + n wrapped to an unsigned 32-bit sequence number (n may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
