import { describe, expect, it } from 'vitest';
import { AddressParseError, formatAddr, formatEndpoint, parseAddr } from '../../src/decode/addr.js';

const words = (...w: number[]) => Uint32Array.from(w);

describe('formatAddr', () => {
  it('formats IPv4 from word 3 as a dotted quad', () => {
    expect(formatAddr(words(0, 0, 0, 0x0a000001), 4)).toBe('10.0.0.1');
    expect(formatAddr(words(0, 0, 0, 0xffffffff), 4)).toBe('255.255.255.255');
  });

  it.each([
    ['::1', [0, 0, 0, 1]],
    ['::', [0, 0, 0, 0]],
    ['2001:db8::1', [0x20010db8, 0, 0, 1]],
    ['2001:db8:0:1:1:1:1:1', [0x20010db8, 0x00000001, 0x00010001, 0x00010001]],
    ['2001:db8::1:0:0:1', [0x20010db8, 0, 0x00010000, 0x00000001]],
    ['2001:0:0:1::1', [0x20010000, 0x00000001, 0, 1]],
    ['fe80::abcd:ef01:2345:6789', [0xfe800000, 0, 0xabcdef01, 0x23456789]],
    ['1::', [0x00010000, 0, 0, 0]],
    ['::ffff:192.0.2.1', [0, 0, 0xffff, 0xc0000201]],
  ])('formats IPv6 %s in RFC 5952 form', (expected, w) => {
    expect(formatAddr(words(...w), 6)).toBe(expected);
  });
});

describe('formatEndpoint', () => {
  it('adds the port, with brackets around IPv6', () => {
    expect(formatEndpoint(words(0, 0, 0, 0x0a000001), 4, 80)).toBe('10.0.0.1:80');
    expect(formatEndpoint(words(0, 0, 0, 1), 6, 35234)).toBe('[::1]:35234');
  });
});

describe('parseAddr', () => {
  it.each(['10.0.0.1', '::1', '::', '2001:db8::1:0:0:1', 'fe80::abcd:ef01:2345:6789', '::ffff:192.0.2.1', '1::'])('round-trips %s', (text) => {
    const { version, words: w } = parseAddr(text);
    expect(formatAddr(w, version)).toBe(text);
  });

  it('accepts upper case, leading zeros, brackets and zones', () => {
    expect(formatAddr(parseAddr('[2001:0DB8:0000:0000:0000:0000:0000:0001]').words, 6)).toBe('2001:db8::1');
    expect(formatAddr(parseAddr('fe80::1%eth0').words, 6)).toBe('fe80::1');
    expect(parseAddr('2001:db8:0:0:0:0:2:1').version).toBe(6);
  });

  it.each(['10.0.0', '10.0.0.256', '1:2:3', '1::2::3', 'g::1', 'hello', '', '1:2:3:4:5:6:7:8:9'])('rejects %s', (text) => {
    expect(() => parseAddr(text)).toThrow(AddressParseError);
  });
});
