import { parseAddr } from '../decode/addr.js';
import type { FlowFacts } from './facts.js';
import { watchOf } from './capture-end.js';
import { plural } from './format.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';

// Destinations no connection can reach: addresses reserved for documentation, the unspecified
// address, multicast and broadcast, and ranges reserved from routing. Private (RFC 1918), loopback
// and link-local addresses are reachable on their own network and are not listed.

export interface ReservedRange {
  /** The range as written in its RFC. */
  prefix: string;
  /** What the range is for, in a few words. */
  purpose: string;
  rfc: string;
  kind: 'documentation' | 'unspecified' | 'broadcast' | 'multicast' | 'reserved';
}

interface Ipv4Range extends ReservedRange {
  base: number;
  bits: number;
}

interface Ipv6Range extends ReservedRange {
  /** The prefix's leading 32-bit words, and the bits of them that count. */
  words: number[];
  bits: number;
}

const V4: Ipv4Range[] = [
  { prefix: '0.0.0.0/8', base: 0x00000000, bits: 8, purpose: '"this network": the unspecified address, never a destination', rfc: 'RFC 1122', kind: 'unspecified' },
  { prefix: '192.0.2.0/24', base: 0xc0000200, bits: 24, purpose: 'TEST-NET-1, reserved for documentation', rfc: 'RFC 5737', kind: 'documentation' },
  { prefix: '198.51.100.0/24', base: 0xc6336400, bits: 24, purpose: 'TEST-NET-2, reserved for documentation', rfc: 'RFC 5737', kind: 'documentation' },
  { prefix: '203.0.113.0/24', base: 0xcb007100, bits: 24, purpose: 'TEST-NET-3, reserved for documentation', rfc: 'RFC 5737', kind: 'documentation' },
  { prefix: '224.0.0.0/4', base: 0xe0000000, bits: 4, purpose: 'multicast: TCP cannot connect to a group', rfc: 'RFC 5771', kind: 'multicast' },
  { prefix: '255.255.255.255/32', base: 0xffffffff, bits: 32, purpose: 'the limited broadcast address', rfc: 'RFC 919', kind: 'broadcast' },
  { prefix: '240.0.0.0/4', base: 0xf0000000, bits: 4, purpose: 'reserved for future use, routed nowhere', rfc: 'RFC 1112', kind: 'reserved' },
];

const V6: Ipv6Range[] = [
  { prefix: '::/128', words: [0, 0, 0, 0], bits: 128, purpose: 'the unspecified address, never a destination', rfc: 'RFC 4291', kind: 'unspecified' },
  { prefix: '2001:db8::/32', words: [0x20010db8], bits: 32, purpose: 'reserved for documentation', rfc: 'RFC 3849', kind: 'documentation' },
  { prefix: '3fff::/20', words: [0x3fff0000], bits: 20, purpose: 'reserved for documentation', rfc: 'RFC 9637', kind: 'documentation' },
  { prefix: '100::/64', words: [0x01000000, 0], bits: 64, purpose: 'discard-only: routers drop what is sent there', rfc: 'RFC 6666', kind: 'reserved' },
  { prefix: 'ff00::/8', words: [0xff000000], bits: 8, purpose: 'multicast: TCP cannot connect to a group', rfc: 'RFC 4291', kind: 'multicast' },
];

/** The 32-bit word's first `bits` bits are those of `base`. */
export function inPrefix(word: number, base: number, bits: number): boolean {
  if (bits <= 0) return true;
  const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  return ((word & mask) >>> 0) === ((base & mask) >>> 0);
}

/** The reserved range an address falls in when no connection could reach it, else null. */
export function unroutableRange(address: string): ReservedRange | null {
  if (outsideV4Ranges(address)) return null;
  let parsed: ReturnType<typeof parseAddr>;
  try {
    parsed = parseAddr(address);
  } catch {
    return null;
  }
  const w = parsed.words;
  if (parsed.version === 4) return V4.find((r) => inPrefix(w[3], r.base, r.bits)) ?? null;
  return (
    V6.find((r) => {
      let left = r.bits;
      for (let i = 0; i < 4 && left > 0; i++, left -= 32) if (!inPrefix(w[i], r.words[i] ?? 0, Math.min(32, left))) return false;
      return true;
    }) ?? null
  );
}

/**
 * IPv4 text whose first number starts none of the V4 ranges (most addresses): told without
 * parsing the address, which a storm of refused connections would do for each one.
 */
function outsideV4Ranges(address: string): boolean {
  let first = 0;
  let i = 0;
  for (; i < address.length && i < 4; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) break;
    if (c < 0x30 || c > 0x39) return false;
    first = first * 10 + (c - 0x30);
  }
  if (i === 0 || i === 4 || address.charCodeAt(i) !== 0x2e) return false;
  return first !== 0 && first !== 192 && first !== 198 && first !== 203 && first < 224;
}

/** What the connection attempt got back, in a few words. */
function outcome(f: FlowFacts): string {
  if (f.serverSide.rst) return `answered by RST #${f.serverSide.rst.no}, most likely from a router or firewall on the way`;
  if (f.icmp.length > 0) return `answered by ICMP ${f.icmp[0].meaning} from ${f.icmp[0].from} (#${f.icmp[0].no})`;
  return 'never answered';
}

/** A single SYN may still be answered this long after it (the first SYN retry comes after 1 s). */
const SINGLE_SYN_PATIENCE_MICROS = 1_000_000;

/**
 * A SYN to an address no network routes. An error beside the failure it explains (syn-timeout,
 * refused, icmp-unreachable): it names the cause those verdicts can only guess at ("a wrong IP").
 * A lone SYN the capture could not see fail (it ended too soon; the spoofed destinations of a SYN
 * flood) is only info. A SYN-ACK from such an address, or the client's ACK of one the capture
 * missed, means a lab network or an anonymised capture, where the address evidently works: nothing
 * is said then.
 */
export const unroutableAddress: FlowRule = {
  code: 'unroutable-address',
  needs: SHOWS.SYN_UNANSWERED,
  evaluate(f, ctx) {
    if (f.syns.length === 0 || f.synAcks.length > 0) return null;
    // The client acknowledged a SYN-ACK or bytes the capture does not hold (one direction captured):
    // the address answered, as a SYN-ACK would have shown.
    if (f.handshakeAck !== null || f.peerUnseen !== null) return null;
    const range = unroutableRange(f.serverIp);
    if (!range) return null;
    const failed = f.syns.length > 1 || f.serverSide.rst !== null || f.icmp.length > 0 || watchOf(f, ctx).ts - f.syns[0].ts >= SINGLE_SYN_PATIENCE_MICROS;
    const reason =
      range.kind === 'documentation'
        ? 'an address from documentation or an example was used as if it were real: a placeholder left in a configuration file, a hosts file, a DNS record or an environment variable'
        : range.kind === 'multicast' || range.kind === 'broadcast'
          ? 'TCP connects to one host; a group or broadcast address was given where a host address belongs (a configuration or parsing mistake)'
          : range.kind === 'unspecified'
            ? 'the address was never filled in: an empty or unparsed setting, or a listening address (0.0.0.0, ::) used as a destination'
            : 'the address is outside every routed range: a typo or a mistaken configuration';
    return {
      code: 'unroutable-address',
      severity: failed ? 'error' : 'info',
      summary: `${f.serverIp} cannot be reached: it is in ${range.prefix} (${range.rfc}), ${range.purpose}; ${plural(f.syns.length, 'SYN')} ${outcome(f)}`,
      packets: [f.syns[0].no],
      facts: { address: f.serverIp, range: range.prefix, rfc: range.rfc, kind: range.kind, syns: f.syns.length },
      hint: `No network delivers packets to ${range.prefix}: ${reason}. Find where ${f.serverIp} came from (the client's configuration, its hosts file, the DNS answer it used) and put the real address there.`,
    };
  },
};
