// GRE (RFC 2784/2890, version 0): IPv4, IPv6 or a whole Ethernet frame inside.

import { u16 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { decodeEthernet } from './ethernet.js';
import { ETHERTYPE, GRE } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

export function decodeGre(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  if (avail < GRE.BASE_LEN) return markMalformed(v, MALFORMED.GRE_TRUNCATED, off, cur.packetStart, avail, GRE.BASE_LEN);
  const flags = u16(b, off + GRE.FLAGS_VERSION);
  // Version 1 is PPTP's enhanced GRE carrying PPP; source routing (RFC 1701) is obsolete.
  if ((flags & GRE.VERSION_MASK) !== 0 || (flags & GRE.FLAG_ROUTING) !== 0) {
    return markSkipped(v, SKIP_REASON.GRE_UNSUPPORTED);
  }
  let headerLen = GRE.BASE_LEN;
  if (flags & GRE.FLAG_CHECKSUM) headerLen += GRE.OPTIONAL_FIELD_LEN;
  if (flags & GRE.FLAG_KEY) headerLen += GRE.OPTIONAL_FIELD_LEN;
  if (flags & GRE.FLAG_SEQ) headerLen += GRE.OPTIONAL_FIELD_LEN;
  if (avail < headerLen) return markMalformed(v, MALFORMED.GRE_TRUNCATED, off, cur.packetStart, avail, headerLen);
  const protocol = u16(b, off + GRE.PROTOCOL);
  cur.off = off + headerLen;
  switch (protocol) {
    case ETHERTYPE.IPV4:
    case ETHERTYPE.IPV6:
      cur.next = protocol;
      return STATUS.OK;
    case ETHERTYPE.TRANSPARENT_ETHERNET:
      return decodeEthernet(b, cur, v);
    default:
      return markSkipped(v, SKIP_REASON.GRE_UNSUPPORTED);
  }
}
