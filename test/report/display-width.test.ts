import { describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/report/display-width.js';

describe('displayWidth', () => {
  it('counts terminal columns: ASCII one each, CJK and emoji two, combining and control characters none', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('服务器')).toBe(6);
    expect(displayWidth('e\u0301')).toBe(1); // e and a combining acute accent
    expect(displayWidth('ok \u{1F600}')).toBe(5);
    expect(displayWidth('a\u0007b')).toBe(2);
    expect(displayWidth('…×')).toBe(2);
  });
});
