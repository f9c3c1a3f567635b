// ARP over Ethernet for IPv4: who asked for whom (unanswered requests explain "host down").

import { u16, u32 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { ARP, ETHERTYPE } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import { DECODED } from './view.js';
import type { PacketView } from './view.js';

export const ARP_OP = {
  REQUEST: 1,
  REPLY: 2,
} as const;

export function decodeArp(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  if (avail < ARP.LEN) return markMalformed(v, MALFORMED.ARP_TRUNCATED, off, cur.packetStart, avail, ARP.LEN);
  if (
    u16(b, off + ARP.HTYPE) !== ARP.HTYPE_ETHERNET ||
    u16(b, off + ARP.PTYPE) !== ETHERTYPE.IPV4 ||
    b[off + ARP.HLEN] !== 6 ||
    b[off + ARP.PLEN] !== 4
  ) {
    return markSkipped(v, SKIP_REASON.ARP_NOT_IPV4);
  }
  v.kind = DECODED.ARP;
  v.arpOp = u16(b, off + ARP.OP);
  v.arpSenderIp = u32(b, off + ARP.SENDER_IP);
  v.arpTargetIp = u32(b, off + ARP.TARGET_IP);
  return STATUS.OK;
}
