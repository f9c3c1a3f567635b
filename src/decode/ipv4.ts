// IPv4: fills addresses, TTL, id and DF, trims the cursor to the total length and leaves
// cur.next = protocol, cur.off = first byte after the header (options skipped).

import { u16, u32 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { ipv4FragmentKey, takeFragment, type IpDefragmenter } from './defrag.js';
import { IPV4 } from './layout.js';
import { MALFORMED, STATUS, markMalformed } from './status.js';
import type { DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

export function decodeIpv4(b: Uint8Array, cur: Cursor, v: PacketView, defrag: IpDefragmenter | null = null): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  if (avail < IPV4.MIN_LEN) {
    return markMalformed(v, MALFORMED.IPV4_TRUNCATED, off, cur.packetStart, avail, IPV4.MIN_LEN);
  }
  const version = b[off + IPV4.VER_IHL] >> 4;
  if (version !== 4) return markMalformed(v, MALFORMED.IP_BAD_VERSION, off, cur.packetStart, version, 4);
  const headerLen = (b[off + IPV4.VER_IHL] & 0x0f) * 4;
  if (headerLen < IPV4.MIN_LEN) {
    return markMalformed(v, MALFORMED.IPV4_BAD_HEADER_LENGTH, off, cur.packetStart, headerLen, IPV4.MIN_LEN);
  }
  if (headerLen > avail) {
    return markMalformed(v, MALFORMED.IPV4_TRUNCATED, off, cur.packetStart, avail, headerLen);
  }
  const totalLen = u16(b, off + IPV4.TOTAL_LEN);
  let wireEnd: number;
  if (totalLen === 0) {
    // With TCP segmentation offload the NIC fills in the length later, so captures taken on the
    // sending host show 0 (gopacket ip4.go): trust the captured length instead.
    wireEnd = cur.wireEnd;
  } else {
    if (totalLen < headerLen) {
      return markMalformed(v, MALFORMED.IPV4_BAD_TOTAL_LENGTH, off, cur.packetStart, totalLen, headerLen);
    }
    wireEnd = off + totalLen;
  }

  v.ipVersion = 4;
  v.ipOff = off;
  v.src[0] = v.src[1] = v.src[2] = 0;
  v.dst[0] = v.dst[1] = v.dst[2] = 0;
  v.src[3] = u32(b, off + IPV4.SRC);
  v.dst[3] = u32(b, off + IPV4.DST);
  v.ttl = b[off + IPV4.TTL];
  v.ipId = u16(b, off + IPV4.ID);
  const flagsFrag = u16(b, off + IPV4.FLAGS_FRAG);
  v.dontFragment = (flagsFrag & IPV4.FLAG_DF) !== 0;
  if ((flagsFrag & (IPV4.FLAG_MF | IPV4.FRAG_OFFSET_MASK)) !== 0) {
    return takeFragment(defrag, b, v, {
      key: ipv4FragmentKey(b, off),
      ipVersion: 4,
      ipOff: off,
      headerLen,
      nextHeaderAt: -1,
      nextHeader: b[off + IPV4.PROTO],
      payloadOff: off + headerLen,
      payloadEnd: Math.min(wireEnd, cur.end),
      payloadWireLen: wireEnd - (off + headerLen),
      fragmentOffset: (flagsFrag & IPV4.FRAG_OFFSET_MASK) * 8,
      more: (flagsFrag & IPV4.FLAG_MF) !== 0,
      tsMicros: cur.tsMicros,
    });
  }

  cur.next = b[off + IPV4.PROTO];
  cur.off = off + headerLen;
  // Ethernet pads short frames to 60 bytes; trimming here keeps the padding out of the payload.
  if (wireEnd < cur.end) cur.end = wireEnd;
  cur.wireEnd = wireEnd;
  return STATUS.OK;
}
