// UDP matters to tcpwhy when it carries DNS (port 53: where a failing address came from, and
// lookups that failed) or a tunnel: VXLAN (port 4789, and 8472 as Linux and flannel use it), the
// way cloud traffic mirroring delivers copies, and Teredo and GTP-U as Zeek follows them, recognised
// by content as well as by port with strict length checks so that ordinary UDP is not mistaken for
// a tunnel. Geneve, VXLAN-GPE and L2TP are counted as skipped under their names; everything else is
// SKIPPED 'udp'. Only port numbers are compared before that verdict: plain UDP costs no allocation.

import { u16 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { decodeEthernet } from './ethernet.js';
import { DNS_PORT, ETHERNET, ETHERTYPE, GTP, IPV6, TEREDO, UDP, UDP_ENCAPSULATION_PORT, VXLAN } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped } from './status.js';
import type { DecodeStatus } from './status.js';
import { DECODED, TUNNEL } from './view.js';
import type { PacketView } from './view.js';

/** On success the cursor points at the inner IP header and view.tunnelKind names the tunnel. */
export function decodeUdp(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  if (avail < UDP.HEADER_LEN) return markMalformed(v, MALFORMED.UDP_TRUNCATED, off, cur.packetStart, avail, UDP.HEADER_LEN);
  const srcPort = u16(b, off + UDP.SRC_PORT);
  const dstPort = u16(b, off + UDP.DST_PORT);
  const udpLen = u16(b, off + UDP.LEN);
  const wireEnd = udpLen >= UDP.HEADER_LEN ? off + udpLen : cur.wireEnd;
  const end = wireEnd < cur.end ? wireEnd : cur.end;
  const payload = off + UDP.HEADER_LEN;

  if (dstPort === VXLAN.PORT || dstPort === VXLAN.PORT_LINUX) return decodeVxlan(b, cur, v, payload, end, wireEnd);
  if (srcPort === DNS_PORT || dstPort === DNS_PORT) {
    v.kind = DECODED.DNS;
    v.srcPort = srcPort;
    v.dstPort = dstPort;
    v.payloadOff = payload;
    v.payloadLen = wireEnd > payload ? wireEnd - payload : 0;
    v.payloadCaptured = end > payload ? end - payload : 0;
    return STATUS.OK;
  }

  const onGtpPort = srcPort === GTP.PORT_U || dstPort === GTP.PORT_U;
  const gtpInner = findGtpInner(b, payload, end, wireEnd, !onGtpPort);
  if (gtpInner >= 0) {
    const innerWireEnd = payload + GTP.BASE_LEN + u16(b, payload + GTP.LEN);
    enterTunnel(cur, v, gtpInner, end, innerWireEnd, TUNNEL.GTP_U, b[gtpInner] >> 4 === 4 ? ETHERTYPE.IPV4 : ETHERTYPE.IPV6);
    return STATUS.OK;
  }
  const teredoInner = findTeredoInner(b, payload, end, wireEnd);
  if (teredoInner >= 0) {
    enterTunnel(cur, v, teredoInner, end, wireEnd, TUNNEL.TEREDO, ETHERTYPE.IPV6);
    return STATUS.OK;
  }
  if (dstPort === UDP_ENCAPSULATION_PORT.GENEVE || srcPort === UDP_ENCAPSULATION_PORT.GENEVE) return markSkipped(v, SKIP_REASON.GENEVE);
  if (dstPort === UDP_ENCAPSULATION_PORT.VXLAN_GPE) return markSkipped(v, SKIP_REASON.VXLAN_GPE);
  if (dstPort === UDP_ENCAPSULATION_PORT.L2TP && srcPort === UDP_ENCAPSULATION_PORT.L2TP) return markSkipped(v, SKIP_REASON.L2TP);
  return markSkipped(v, SKIP_REASON.UDP);
}

/** The Ethernet frame inside a VXLAN datagram; on success cur.next names its network layer. */
function decodeVxlan(b: Uint8Array, cur: Cursor, v: PacketView, payload: number, end: number, wireEnd: number): DecodeStatus {
  const need = VXLAN.HEADER_LEN + ETHERNET.HEADER_LEN;
  if (end - payload < need) return markMalformed(v, MALFORMED.VXLAN_TRUNCATED, payload, cur.packetStart, end > payload ? end - payload : 0, need);
  if ((b[payload + VXLAN.FLAGS] & VXLAN.FLAG_VNI_VALID) === 0) return markSkipped(v, SKIP_REASON.VXLAN_UNSUPPORTED);
  cur.off = payload + VXLAN.HEADER_LEN;
  cur.end = end;
  cur.wireEnd = wireEnd;
  v.tunnelKind = TUNNEL.VXLAN;
  return decodeEthernet(b, cur, v);
}

function enterTunnel(cur: Cursor, v: PacketView, innerOff: number, end: number, wireEnd: number, kind: PacketView['tunnelKind'], ethertype: number): void {
  cur.off = innerOff;
  cur.end = wireEnd < end ? wireEnd : end;
  cur.wireEnd = wireEnd;
  cur.next = ethertype;
  v.tunnelKind = kind;
}

/**
 * Offset of the IP packet inside a GTPv1-U G-PDU at [p, end), or -1.
 * Off the GTP-U port (operators move it, Zeek detects GTP by content) the GTP length must also
 * match the UDP payload exactly.
 */
export function findGtpInner(b: Uint8Array, p: number, end: number, wireEnd: number, strict: boolean): number {
  if (end - p < GTP.BASE_LEN) return -1;
  const flags = b[p + GTP.FLAGS];
  if (flags >> GTP.VERSION_SHIFT !== GTP.VERSION_1 || (flags & GTP.FLAG_PROTOCOL_TYPE) === 0) return -1;
  if (b[p + GTP.MSG_TYPE] !== GTP.MSG_G_PDU) return -1;
  if (strict && p + GTP.BASE_LEN + u16(b, p + GTP.LEN) !== wireEnd) return -1;
  let q = p + GTP.BASE_LEN;
  if ((flags & GTP.FLAGS_OPTIONAL) !== 0) {
    q += GTP.OPTIONAL_LEN;
    if (q > end) return -1;
    if ((flags & GTP.FLAG_EXTENSION) !== 0) {
      // Each extension header: length in 4-byte units, content, then the next header's type.
      let nextType = b[q - 1];
      while (nextType !== 0) {
        if (q >= end) return -1;
        const extLen = b[q] * GTP.EXT_LEN_UNIT;
        if (extLen === 0 || q + extLen > end) return -1;
        q += extLen;
        nextType = b[q - 1];
      }
    }
  }
  if (q >= end) return -1;
  const version = b[q] >> 4;
  if (version === 4 && (b[q] & 0x0f) >= 5) return q;
  if (version === 6) return q;
  return -1;
}

/**
 * Offset of the IPv6 packet inside a Teredo datagram at [p, end), or -1. Optional authentication
 * and origin indications come first (RFC 4380 section 5.1.1). The IPv6 payload length must account
 * for the datagram exactly.
 */
export function findTeredoInner(b: Uint8Array, p: number, end: number, wireEnd: number): number {
  let q = p;
  if (end - q >= TEREDO.AUTH_FIXED_LEN && u16(b, q) === TEREDO.AUTH_TYPE) {
    q += TEREDO.AUTH_FIXED_LEN + b[q + TEREDO.AUTH_ID_LEN] + b[q + TEREDO.AUTH_AU_LEN];
  }
  if (end - q >= TEREDO.ORIGIN_LEN && u16(b, q) === TEREDO.ORIGIN_TYPE) q += TEREDO.ORIGIN_LEN;
  if (end - q < IPV6.HEADER_LEN) return -1;
  if (b[q] >> 4 !== 6) return -1;
  if (q + IPV6.HEADER_LEN + u16(b, q + IPV6.PAYLOAD_LEN) !== wireEnd) return -1;
  return q;
}
