import { describe, expect, it } from 'vitest';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../../src/decode/seq.js';

describe('sequence arithmetic', () => {
  it('measures signed distance across the 2^32 wrap', () => {
    expect(seqDiff(5, 0xffff_fffb)).toBe(10);
    expect(seqDiff(0xffff_fffb, 5)).toBe(-10);
    expect(seqDiff(100, 100)).toBe(0);
    expect(seqDiff(0x7fff_ffff, 0)).toBe(0x7fff_ffff);
  });

  it('orders numbers modulo 2^32', () => {
    expect(seqLt(0xffff_fff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xffff_fff0)).toBe(true);
    expect(seqLe(7, 7) && seqGe(7, 7)).toBe(true);
    expect(seqLt(7, 7) || seqGt(7, 7)).toBe(false);
  });

  it('adds with wrap-around and returns an unsigned number', () => {
    expect(seqAdd(0xffff_fff0, 0x20)).toBe(0x10);
    expect(seqAdd(0x10, -0x20)).toBe(0xffff_fff0);
    expect(seqAdd(1, 1)).toBe(2);
  });
});
