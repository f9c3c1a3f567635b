// Link types without an ethertype: BSD loopback (NULL, LOOP) and raw IP (RAW and its aliases, IPV4, IPV6).

import { u32, u32le } from './bytes.js';
import type { Cursor } from './cursor.js';
import { AF, ETHERTYPE, NULL_LINK } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

// NULL stores the address family in the capturing host's byte order and LOOP in network order,
// but files get moved between machines and some writers get LOOP wrong, so both orders are
// accepted for both: a family is a small number, so the order is whichever gives one below 2^16.
export function decodeNullLink(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const avail = cur.end - cur.off;
  if (avail < NULL_LINK.HEADER_LEN) {
    return markMalformed(v, MALFORMED.LINK_TRUNCATED, cur.off, cur.packetStart, avail, NULL_LINK.HEADER_LEN);
  }
  const little = u32le(b, cur.off);
  const family = little <= 0xffff ? little : u32(b, cur.off);
  cur.off += NULL_LINK.HEADER_LEN;
  switch (family) {
    case AF.INET:
      cur.next = ETHERTYPE.IPV4;
      return STATUS.OK;
    case AF.INET6_LINUX:
    case AF.INET6_BSD:
    case AF.INET6_FREEBSD:
    case AF.INET6_DARWIN:
      cur.next = ETHERTYPE.IPV6;
      return STATUS.OK;
    default:
      return markSkipped(v, SKIP_REASON.ADDRESS_FAMILY);
  }
}

/** Raw IP: the version nibble says IPv4 or IPv6. */
export function decodeRawLink(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  if (cur.off >= cur.end) return markMalformed(v, MALFORMED.LINK_TRUNCATED, cur.off, cur.packetStart, 0, 1);
  const version = b[cur.off] >> 4;
  if (version === 4) cur.next = ETHERTYPE.IPV4;
  else if (version === 6) cur.next = ETHERTYPE.IPV6;
  else return markMalformed(v, MALFORMED.IP_BAD_VERSION, cur.off, cur.packetStart, version, 0);
  return STATUS.OK;
}
