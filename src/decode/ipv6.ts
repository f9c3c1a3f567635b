// IPv6 and its extension headers. Leaves cur.next = the upper-layer protocol, cur.off = its header.

import { u16, u32 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { ipv6FragmentKey, takeFragment, type IpDefragmenter } from './defrag.js';
import { IP_PROTO, IPV6, IPV6_AH, IPV6_EXT, IPV6_FRAG } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

export function decodeIpv6(b: Uint8Array, cur: Cursor, v: PacketView, defrag: IpDefragmenter | null = null): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  if (avail < IPV6.HEADER_LEN) {
    return markMalformed(v, MALFORMED.IPV6_TRUNCATED, off, cur.packetStart, avail, IPV6.HEADER_LEN);
  }
  const version = b[off + IPV6.VER_TC_FLOW] >> 4;
  if (version !== 6) return markMalformed(v, MALFORMED.IP_BAD_VERSION, off, cur.packetStart, version, 6);
  const payloadLen = u16(b, off + IPV6.PAYLOAD_LEN);
  // 0 means a jumbogram (RFC 2675) or, far more often, a TSO capture whose length the NIC fills in
  // later: either way the captured length is the best we have.
  const wireEnd = payloadLen === 0 ? cur.wireEnd : off + IPV6.HEADER_LEN + payloadLen;

  v.ipVersion = 6;
  v.ipOff = off;
  for (let i = 0; i < 4; i++) {
    v.src[i] = u32(b, off + IPV6.SRC + 4 * i);
    v.dst[i] = u32(b, off + IPV6.DST + 4 * i);
  }
  v.ttl = b[off + IPV6.HOP_LIMIT];
  v.ipId = 0;
  v.dontFragment = false;

  const end = wireEnd < cur.end ? wireEnd : cur.end;
  let next = b[off + IPV6.NEXT_HEADER];
  // Where the byte naming `next` sits: reassembly rewrites it to skip the Fragment header.
  let nextAt = off + IPV6.NEXT_HEADER;
  let p = off + IPV6.HEADER_LEN;
  // Every extension header is at least 8 bytes long, so this walk ends.
  for (;;) {
    // -1 while the fixed part of the extension header is not even captured.
    let extLen = -1;
    switch (next) {
      case IP_PROTO.HOPOPT:
      case IP_PROTO.IPV6_ROUTING:
      case IP_PROTO.IPV6_DSTOPTS:
        if (end - p < IPV6_EXT.MIN_LEN) break;
        extLen = (b[p + IPV6_EXT.LEN] + 1) * IPV6_EXT.LEN_UNIT;
        break;
      case IP_PROTO.AH:
        if (end - p < IPV6_EXT.MIN_LEN) break;
        extLen = (b[p + IPV6_EXT.LEN] + IPV6_AH.LEN_BIAS) * IPV6_AH.LEN_UNIT;
        break;
      case IP_PROTO.IPV6_FRAGMENT: {
        if (end - p < IPV6_FRAG.LEN) break;
        const offsetFlags = u16(b, p + IPV6_FRAG.OFFSET_FLAGS);
        // An "atomic" fragment (offset 0, no more fragments) holds the whole packet.
        if ((offsetFlags & (IPV6_FRAG.OFFSET_MASK | IPV6_FRAG.FLAG_MORE)) !== 0) {
          return takeFragment(defrag, b, v, {
            key: ipv6FragmentKey(b, off, p),
            ipVersion: 6,
            ipOff: off,
            headerLen: p - off,
            nextHeaderAt: nextAt,
            nextHeader: b[p + IPV6_EXT.NEXT_HEADER],
            payloadOff: p + IPV6_FRAG.LEN,
            payloadEnd: end,
            payloadWireLen: wireEnd - (p + IPV6_FRAG.LEN),
            fragmentOffset: offsetFlags & IPV6_FRAG.OFFSET_MASK,
            more: (offsetFlags & IPV6_FRAG.FLAG_MORE) !== 0,
            tsMicros: cur.tsMicros,
          });
        }
        extLen = IPV6_FRAG.LEN;
        break;
      }
      case IP_PROTO.ESP:
        return markSkipped(v, SKIP_REASON.IPSEC_ESP);
      case IP_PROTO.IPV6_NONXT:
        return markSkipped(v, SKIP_REASON.IPV6_NO_NEXT_HEADER);
      default:
        cur.next = next;
        cur.off = p;
        cur.end = end;
        cur.wireEnd = wireEnd;
        return STATUS.OK;
    }
    if (extLen < 0 || end - p < extLen) {
      const need = extLen < 0 ? IPV6_EXT.MIN_LEN : extLen;
      return markMalformed(v, MALFORMED.IPV6_EXT_TRUNCATED, p, cur.packetStart, end - p, need);
    }
    next = b[p + IPV6_EXT.NEXT_HEADER];
    nextAt = p + IPV6_EXT.NEXT_HEADER;
    p += extLen;
  }
}
