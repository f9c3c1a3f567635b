// ICMP and ICMPv6 errors about a TCP segment: destination unreachable and time exceeded.
// The quoted IP header and first 8 TCP bytes (ports, seq) tie the error to its flow. Errors about
// a UDP datagram to port 53 are kept too: they tie a DNS query to its unreachable server.

import { u16, u32 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { ICMP, IP_PROTO, IPV4, IPV6, IPV6_EXT } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import { DECODED } from './view.js';

import type { PacketView } from './view.js';

const DNS_PORT = 53;

export function decodeIcmpError(b: Uint8Array, cur: Cursor, v: PacketView, ipVersion: 4 | 6): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  const notAnalysed = ipVersion === 4 ? SKIP_REASON.ICMP : SKIP_REASON.ICMPV6;
  if (avail < ICMP.QUOTE) return markMalformed(v, MALFORMED.ICMP_TRUNCATED, off, cur.packetStart, avail, ICMP.QUOTE);
  const type = b[off + ICMP.TYPE];
  const isError =
    ipVersion === 4
      ? type === ICMP.V4_DEST_UNREACHABLE || type === ICMP.V4_TIME_EXCEEDED
      : type === ICMP.V6_DEST_UNREACHABLE || type === ICMP.V6_PACKET_TOO_BIG || type === ICMP.V6_TIME_EXCEEDED;
  if (!isError) return markSkipped(v, notAnalysed);
  v.icmpType = type;
  v.icmpCode = b[off + ICMP.CODE];

  const q = off + ICMP.QUOTE;
  const quoted = cur.end - q;
  let tcp: number;
  if (ipVersion === 4) {
    if (quoted < IPV4.MIN_LEN) {
      return markMalformed(v, MALFORMED.ICMP_QUOTE_TRUNCATED, q, cur.packetStart, quoted, IPV4.MIN_LEN + ICMP.QUOTED_TCP_LEN);
    }
    if (b[q] >> 4 !== 4) return markSkipped(v, notAnalysed);
    const headerLen = (b[q + IPV4.VER_IHL] & 0x0f) * 4;
    // A later fragment quotes payload bytes, not a TCP header.
    const fragOffset = u16(b, q + IPV4.FLAGS_FRAG) & IPV4.FRAG_OFFSET_MASK;
    const proto = b[q + IPV4.PROTO];
    if ((proto !== IP_PROTO.TCP && proto !== IP_PROTO.UDP) || headerLen < IPV4.MIN_LEN || fragOffset !== 0) {
      return markSkipped(v, notAnalysed);
    }
    v.quotedDns = proto === IP_PROTO.UDP;
    tcp = q + headerLen;
    v.quotedIpVersion = 4;
    v.quotedSrc[3] = u32(b, q + IPV4.SRC);
    v.quotedDst[3] = u32(b, q + IPV4.DST);
  } else {
    if (quoted < IPV6.HEADER_LEN) {
      return markMalformed(v, MALFORMED.ICMP_QUOTE_TRUNCATED, q, cur.packetStart, quoted, IPV6.HEADER_LEN + ICMP.QUOTED_TCP_LEN);
    }
    if (b[q] >> 4 !== 6) return markSkipped(v, notAnalysed);
    let next = b[q + IPV6.NEXT_HEADER];
    tcp = q + IPV6.HEADER_LEN;
    // Skip the option-style extension headers a router may have quoted in front of TCP.
    while (
      (next === IP_PROTO.HOPOPT || next === IP_PROTO.IPV6_ROUTING || next === IP_PROTO.IPV6_DSTOPTS) &&
      cur.end - tcp >= IPV6_EXT.MIN_LEN
    ) {
      const extLen = (b[tcp + IPV6_EXT.LEN] + 1) * IPV6_EXT.LEN_UNIT;
      next = b[tcp + IPV6_EXT.NEXT_HEADER];
      tcp += extLen;
    }
    if (next !== IP_PROTO.TCP && next !== IP_PROTO.UDP) return markSkipped(v, notAnalysed);
    v.quotedDns = next === IP_PROTO.UDP;
    v.quotedIpVersion = 6;
    for (let i = 0; i < 4; i++) {
      v.quotedSrc[i] = u32(b, q + IPV6.SRC + 4 * i);
      v.quotedDst[i] = u32(b, q + IPV6.DST + 4 * i);
    }
  }
  const tcpQuoted = cur.end - tcp;
  if (tcpQuoted < ICMP.QUOTED_TCP_LEN) {
    v.quotedIpVersion = 0;
    return markMalformed(v, MALFORMED.ICMP_QUOTE_TRUNCATED, tcp, cur.packetStart, tcpQuoted < 0 ? 0 : tcpQuoted, ICMP.QUOTED_TCP_LEN);
  }
  v.quotedSrcPort = u16(b, tcp);
  v.quotedDstPort = u16(b, tcp + 2);
  if (v.quotedDns) {
    // Only a DNS query's datagram is of use: other UDP stays an ICMP packet not analysed.
    if (v.quotedDstPort !== DNS_PORT) {
      v.quotedIpVersion = 0;
      v.quotedDns = false;
      return markSkipped(v, notAnalysed);
    }
    // The UDP header (8 bytes), then the DNS message ID when the quote reaches it.
    v.quotedDnsId = tcpQuoted >= ICMP.QUOTED_TCP_LEN + 2 ? u16(b, tcp + ICMP.QUOTED_TCP_LEN) : -1;
  } else {
    v.quotedSeq = u32(b, tcp + 4);
    if (tcpQuoted > ICMP.QUOTED_TCP_FLAGS) v.quotedFlags = b[tcp + ICMP.QUOTED_TCP_FLAGS];
  }
  v.kind = DECODED.ICMP_ERROR;
  return STATUS.OK;
}
