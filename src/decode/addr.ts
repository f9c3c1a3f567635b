// Address text for reports and command-line filters; not used on the per-packet path.
// Addresses are 4 big-endian 32-bit words as in PacketView: IPv4 lives in word 3, words 0..2 are 0.

export type IpVersion = 4 | 6;

export class AddressParseError extends Error {
  readonly code = 'ADDR_INVALID';
  constructor(readonly text: string) {
    super(`not an IPv4 or IPv6 address: '${text}'`);
    this.name = 'AddressParseError';
  }
}

/** Node's native Latin-1 decoder; it accepts any Uint8Array as `this`, so no view is made per string. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;
/** Where address text is written before it becomes one string (a dotted quad and a port fit). */
const TEXT = new Uint8Array(32);

/** Writes `n` (0 to 65535) in decimal at TEXT[at]; returns the index after it. */
function putDecimal(n: number, at: number): number {
  let div = 1;
  while (div * 10 <= n) div *= 10;
  for (; div >= 1; div /= 10) {
    TEXT[at++] = 0x30 + Math.floor(n / div) % 10;
  }
  return at;
}

/** Writes the dotted quad at TEXT[0]; returns its length. */
function putIpv4(u32: number): number {
  let at = putDecimal(u32 >>> 24, 0);
  TEXT[at++] = 0x2e;
  at = putDecimal((u32 >>> 16) & 0xff, at);
  TEXT[at++] = 0x2e;
  at = putDecimal((u32 >>> 8) & 0xff, at);
  TEXT[at++] = 0x2e;
  return putDecimal(u32 & 0xff, at);
}

// The text is written out byte by byte and made into one string, not joined from parts: reports
// format a few addresses for every flow.
export function formatIpv4(u32: number): string {
  return latin1Slice.call(TEXT, 0, putIpv4(u32));
}

/** IPv4 dotted quad, IPv6 in RFC 5952 form: lower case, no leading zeros, longest zero run as '::'. */
export function formatAddr(words: Uint32Array, version: IpVersion): string {
  if (version === 4) return formatIpv4(words[3]);
  const groups = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    groups[2 * i] = words[i] >>> 16;
    groups[2 * i + 1] = words[i] & 0xffff;
  }
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return `::ffff:${formatIpv4(words[3])}`;

  // Longest run of two or more zero groups; the first one wins a tie (RFC 5952 section 4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** '10.0.0.1:80', '[::1]:35234'. */
export function formatEndpoint(words: Uint32Array, version: IpVersion, port: number): string {
  if (version === 4) {
    let at = putIpv4(words[3]);
    TEXT[at++] = 0x3a;
    return latin1Slice.call(TEXT, 0, putDecimal(port, at));
  }
  const addr = formatAddr(words, version);
  return version === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** Parses IPv4 or IPv6 text (brackets and a %zone are allowed around IPv6). Throws AddressParseError. */
export function parseAddr(text: string): { version: IpVersion; words: Uint32Array } {
  const words = new Uint32Array(4);
  const v4 = parseIpv4(text);
  if (v4 !== null) {
    words[3] = v4;
    return { version: 4, words };
  }
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':')) throw new AddressParseError(text);

  const groups: number[] = [];
  const parseSide = (side: string, allowTrailingIpv4: boolean): number[] | null => {
    if (side === '') return [];
    const out: number[] = [];
    const parts = side.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (allowTrailingIpv4 && i === parts.length - 1 && part.includes('.')) {
        const tail = parseIpv4(part);
        if (tail === null) return null;
        out.push(Math.floor(tail / 0x10000), tail & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const doubleColon = s.indexOf('::');
  if (doubleColon >= 0) {
    if (s.indexOf('::', doubleColon + 1) >= 0) throw new AddressParseError(text);
    const head = parseSide(s.slice(0, doubleColon), false);
    const tail = parseSide(s.slice(doubleColon + 2), true);
    if (head === null || tail === null || head.length + tail.length > 7) throw new AddressParseError(text);
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseSide(s, true);
    if (all === null || all.length !== 8) throw new AddressParseError(text);
    groups.push(...all);
  }
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return { version: 6, words };
}

/** Two addresses in the 4-word form are equal (hot path: no allocation, no loop). */
export function sameAddr(a: Uint32Array, b: Uint32Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/**
 * An address in the 4-word form equals one kept as four small integers (each word | 0), the way
 * flows, conversations and remembered closes keep theirs instead of a typed array per address.
 */
export function addrEquals(addr: Uint32Array, w0: number, w1: number, w2: number, w3: number): boolean {
  return (addr[0] | 0) === w0 && (addr[1] | 0) === w1 && (addr[2] | 0) === w2 && (addr[3] | 0) === w3;
}
