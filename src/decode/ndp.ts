// IPv6 neighbour discovery, IPv6's ARP: who asked for which address (Neighbor Solicitation) and
// who answered (Neighbor Advertisement). Unanswered solicitations explain "host down" on IPv6.

import type { Cursor } from './cursor.js';
import { ICMP, NDP } from './layout.js';
import { SKIP_REASON, STATUS, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import { u32 } from './bytes.js';
import { DECODED } from './view.js';
import type { PacketView } from './view.js';

export const NDP_TYPE = {
  SOLICITATION: NDP.SOLICITATION,
  ADVERTISEMENT: NDP.ADVERTISEMENT,
} as const;

/** An ICMPv6 message long enough to be a solicitation or an advertisement. */
export function isNdp(b: Uint8Array, cur: Cursor): boolean {
  if (cur.end - cur.off < NDP.LEN) return false;
  const type = b[cur.off + ICMP.TYPE];
  return type === NDP.SOLICITATION || type === NDP.ADVERTISEMENT;
}

export function decodeNdp(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const off = cur.off;
  // RFC 4861 7.1.1/7.1.2: a receiver drops any other code or hop limit (forwarded, not from the link).
  if (b[off + ICMP.CODE] !== 0 || v.ttl !== NDP.HOP_LIMIT) return markSkipped(v, SKIP_REASON.ICMPV6);
  v.kind = DECODED.NDP;
  v.ndpType = b[off + ICMP.TYPE];
  v.ndpSolicited = v.ndpType === NDP.ADVERTISEMENT && (b[off + NDP.FLAGS] & NDP.SOLICITED) !== 0;
  for (let i = 0; i < 4; i++) v.ndpTarget[i] = u32(b, off + NDP.TARGET + 4 * i);
  return STATUS.OK;
}

/** The unspecified address ::, the source of a duplicate-address probe. */
export function isUnspecified(a: Uint32Array): boolean {
  return a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0;
}

/** An IPv6 multicast address (ff00::/8): an address-resolution solicitation goes to one. */
export function isMulticast(a: Uint32Array): boolean {
  return a[0] >>> 24 === 0xff;
}
