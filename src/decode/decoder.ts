// PacketDecoder: walks link -> (tags) -> IP -> (tunnels) -> TCP / ICMP error / ARP for each record,
// overwriting its one PacketView. Nothing is allocated per packet: the layer decoders take the
// record's bytes plus offsets and fill the view (gopacket's DecodingLayerParser contract).
//
// Every packet ends as exactly one of TCP, ICMP_ERROR, ARP, NDP, DNS, SKIPPED (with a reason) or
// MALFORMED (with a code), so that the counts always add up to the number of packets read.

import type { PacketRecord } from '../capture/record.js';
import { LINKTYPE } from '../capture/record.js';
import { decodeArp } from './arp.js';
import { Cursor } from './cursor.js';
import { IpDefragmenter } from './defrag.js';
import { decodeEthernet } from './ethernet.js';
import { decodeGre } from './gre.js';
import { decodeIcmpError } from './icmp.js';
import { decodeNdp, isNdp } from './ndp.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { ETHERTYPE, IP_PROTO, MAX_ENCAPSULATION_DEPTH } from './layout.js';
import { decodeNullLink, decodeRawLink } from './loopback.js';
import { decodeSll, decodeSll2 } from './sll.js';
import { SKIP_REASON, STATUS, markSkipped, numberedReason } from './status.js';
import type { DecodeStatus } from './status.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';
import { DECODED, PacketView, TUNNEL } from './view.js';
import type { DecodedKind } from './view.js';

export class PacketDecoder {
  /** Overwritten by every decode() call: copy what you keep. */
  readonly view = new PacketView();
  private readonly cursor = new Cursor();
  /** Holds IP fragments until their datagram is whole (null: fragments are only counted as skipped). */
  readonly defrag: IpDefragmenter | null;

  constructor(opts: { reassembleFragments?: boolean } = {}) {
    this.defrag = opts.reassembleFragments === false ? null : new IpDefragmenter();
  }

  decode(rec: PacketRecord): DecodedKind {
    return this.decodeBytes(rec.bytes, rec.off, rec.end, rec.linkType, rec.origLen - rec.caplen, rec.tsMicros);
  }

  /**
   * Decodes bytes[off, end) captured on `linkType`. `cutBytes` is how many bytes the snap length
   * removed (origLen - caplen); it only matters when an IP length field is 0 (TSO).
   */
  decodeBytes(bytes: Uint8Array, off: number, end: number, linkType: number, cutBytes = 0, tsMicros = 0): DecodedKind {
    const v = this.view;
    const cur = this.cursor;
    resetView(v);
    v.bytes = bytes;
    cur.reset(off, end, end + (cutBytes > 0 ? cutBytes : 0), tsMicros);
    if (decodeLink(linkType, bytes, cur, v) !== STATUS.OK) return v.kind;
    decodeNetwork(bytes, cur, v, this.defrag);
    return v.kind;
  }
}

export function decodeLink(linkType: number, b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      return decodeEthernet(b, cur, v);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP:
      return decodeNullLink(b, cur, v);
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_ALT12:
    case LINKTYPE.RAW_ALT14:
      return decodeRawLink(b, cur, v);
    case LINKTYPE.LINUX_SLL:
      return decodeSll(b, cur, v);
    case LINKTYPE.LINUX_SLL2:
      return decodeSll2(b, cur, v);
    case LINKTYPE.IPV4:
      cur.next = ETHERTYPE.IPV4;
      return STATUS.OK;
    case LINKTYPE.IPV6:
      cur.next = ETHERTYPE.IPV6;
      return STATUS.OK;
    default:
      return markSkipped(v, numberedReason('link-type', linkType));
  }
}

/** From the network header named by cur.next to the final kind, unwrapping tunnels on the way. */
function decodeNetwork(b: Uint8Array, cur: Cursor, v: PacketView, defrag: IpDefragmenter | null): DecodeStatus {
  for (;;) {
    let status: DecodeStatus;
    const network = cur.next;
    switch (network) {
      case ETHERTYPE.IPV4:
        status = decodeIpv4(b, cur, v, defrag);
        break;
      case ETHERTYPE.IPV6:
        status = decodeIpv6(b, cur, v, defrag);
        break;
      case ETHERTYPE.ARP:
        return decodeArp(b, cur, v);
      default:
        return markSkipped(v, SKIP_REASON.NOT_IP);
    }
    if (status === STATUS.REASSEMBLED && defrag !== null) {
      // This fragment completed its datagram: decode the whole datagram from its IP header on.
      b = defrag.output;
      v.bytes = b;
      v.reassembled = true;
      cur.reset(0, b.length, b.length);
      cur.next = network;
      continue;
    }
    if (status !== STATUS.OK) return status;

    const protocol: number = cur.next;
    switch (protocol) {
      case IP_PROTO.TCP:
        return decodeTcp(b, cur, v);
      case IP_PROTO.ICMP:
        if (v.ipVersion !== 4) return markSkipped(v, numberedReason('ip-proto', protocol));
        return decodeIcmpError(b, cur, v, 4);
      case IP_PROTO.ICMPV6:
        if (v.ipVersion !== 6) return markSkipped(v, numberedReason('ip-proto', protocol));
        if (isNdp(b, cur)) return decodeNdp(b, cur, v);
        return decodeIcmpError(b, cur, v, 6);
      case IP_PROTO.UDP:
        status = decodeUdp(b, cur, v);
        if (v.kind === DECODED.DNS) return status;
        break;
      case IP_PROTO.IPIP:
        cur.next = ETHERTYPE.IPV4;
        v.tunnelKind = TUNNEL.IP_IN_IP;
        status = STATUS.OK;
        break;
      case IP_PROTO.IPV6:
        cur.next = ETHERTYPE.IPV6;
        v.tunnelKind = TUNNEL.IP_IN_IP;
        status = STATUS.OK;
        break;
      case IP_PROTO.GRE:
        status = decodeGre(b, cur, v);
        if (status === STATUS.OK) v.tunnelKind = TUNNEL.GRE;
        break;
      default:
        return markSkipped(v, numberedReason('ip-proto', protocol));
    }
    if (status !== STATUS.OK) return status;
    if (++v.tunnelDepth > MAX_ENCAPSULATION_DEPTH) return markSkipped(v, SKIP_REASON.TUNNEL_TOO_DEEP);
  }
}

/**
 * Puts every field back to its "absent" value so nothing leaks from the previous packet.
 * Array fields are cleared by hand, and the SACK/quote arrays only when the last packet used them:
 * TypedArray.fill is a builtin call and showed up as the most expensive line of the hot path.
 */
export function resetView(v: PacketView): void {
  // Only ICMP decoding writes the quote arrays, and it ends as ICMP_ERROR or MALFORMED.
  const quoteUsed = v.kind === DECODED.ICMP_ERROR || v.kind === DECODED.MALFORMED;
  const ndpUsed = v.kind === DECODED.NDP;
  v.kind = DECODED.SKIPPED;
  v.skipReason = '';
  v.malformedCode = '';
  v.malformedDetail = '';
  v.malformedAt = 0;
  v.reassembled = false;
  v.ipVersion = 0;
  clearWords(v.src);
  clearWords(v.dst);
  v.ttl = 0;
  v.ipId = 0;
  v.dontFragment = false;
  v.ipOff = 0;
  v.tunnelDepth = 0;
  v.tunnelKind = TUNNEL.NONE;
  v.srcPort = 0;
  v.dstPort = 0;
  v.seq = 0;
  v.ack = 0;
  v.flags = 0;
  v.window = 0;
  v.tcpOff = 0;
  v.tcpHeaderLen = 0;
  v.payloadOff = 0;
  v.payloadLen = 0;
  v.payloadCaptured = 0;
  v.mss = -1;
  v.wscale = -1;
  v.sackPermitted = false;
  v.hasTimestamps = false;
  v.tsVal = 0;
  v.tsEcr = 0;
  if (v.sackCount !== 0) {
    for (let i = 0; i < 8; i++) v.sackBlocks[i] = 0;
    v.sackCount = 0;
  }
  v.tfoCookieLen = -1;
  v.tcpOptionsBad = false;
  v.icmpType = 0;
  v.icmpCode = 0;
  if (quoteUsed) {
    clearWords(v.quotedSrc);
    clearWords(v.quotedDst);
  }
  v.quotedIpVersion = 0;
  v.quotedSrcPort = 0;
  v.quotedDstPort = 0;
  v.quotedSeq = 0;
  v.quotedFlags = -1;
  v.quotedDns = false;
  v.quotedDnsId = -1;
  v.arpOp = 0;
  v.arpSenderIp = 0;
  v.arpTargetIp = 0;
  v.ndpType = 0;
  v.ndpSolicited = false;
  if (ndpUsed) clearWords(v.ndpTarget);
}

function clearWords(w: Uint32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
}
