// Linux cooked captures ("any" interface): v1 (LINUX_SLL, 113) and v2 (LINUX_SLL2, 276).
// Both carry an ethertype; VLAN tags may still follow when the kernel did not strip them.

import { u16 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { decodeEthertypeChain } from './ethernet.js';
import { SLL, SLL2 } from './layout.js';
import { MALFORMED, SKIP_REASON, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

/** ARPHRD_NETLINK: the protocol field is a netlink family, not an ethertype. */
const ARPHRD_NETLINK = 824;

/** Linux cooked captures v1 and v2 differ only in where the fields lie. */
function decodeCooked(b: Uint8Array, cur: Cursor, v: PacketView, layout: typeof SLL | typeof SLL2): DecodeStatus {
  const avail = cur.end - cur.off;
  if (avail < layout.HEADER_LEN) {
    return markMalformed(v, MALFORMED.LINK_TRUNCATED, cur.off, cur.packetStart, avail, layout.HEADER_LEN);
  }
  if (u16(b, cur.off + layout.ARPHRD) === ARPHRD_NETLINK) return markSkipped(v, SKIP_REASON.NETLINK);
  const type = u16(b, cur.off + layout.PROTOCOL);
  cur.off += layout.HEADER_LEN;
  return decodeEthertypeChain(b, cur, v, type);
}

export function decodeSll(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  return decodeCooked(b, cur, v, SLL);
}

export function decodeSll2(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  return decodeCooked(b, cur, v, SLL2);
}
