// Durations as the verdicts write them: a figure never rounds up past its unit ("1000 ms").
import { describe, expect, it } from 'vitest';
import { fmtDuration } from '../../src/rules/format.js';

describe('fmtDuration', () => {
  it('moves to the next unit where the figure would round up to it', () => {
    expect([0, 250, 9_949, 9_950, 999_499, 999_500, 999_600].map(fmtDuration)).toEqual(['0 ms', '0.25 ms', '9.9 ms', '10 ms', '999 ms', '1.00 s', '1.00 s']);
    expect([9_994_999, 9_995_000, 599_949_999, 599_950_000].map(fmtDuration)).toEqual(['9.99 s', '10.0 s', '599.9 s', '600 s']);
  });
});
