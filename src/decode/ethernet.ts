// Ethernet II and what can sit between it and IP: 802.1Q/802.1ad tags (any depth), MPLS label
// stacks, Cisco FabricPath and PPPoE sessions (DSL links). Leaves cur.next = IPv4, IPv6 or ARP ethertype and cur.off at that header.

import { u16 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { ETHERNET, ETHERTYPE, FABRIC_PATH, MAX_LINK_TAGS, MPLS, PPP_PROTO, PPPOE, VLAN_TAG } from './layout.js';
import { MALFORMED, SKIP_REASON, STATUS, markMalformed, markSkipped, numberedReason } from './status.js';
import type { DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

/** Smallest ethertype value; below it the field is an 802.3 length and an LLC header follows. */
const ETHERTYPE_MIN = 0x0600;

export function decodeEthernet(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const avail = cur.end - cur.off;
  if (avail < ETHERNET.HEADER_LEN) {
    return markMalformed(v, MALFORMED.LINK_TRUNCATED, cur.off, cur.packetStart, avail, ETHERNET.HEADER_LEN);
  }
  const type = u16(b, cur.off + ETHERNET.TYPE);
  cur.off += ETHERNET.HEADER_LEN;
  return decodeEthertypeChain(b, cur, v, type);
}

/** Follows tags from `type` (whose payload starts at cur.off) until IP or ARP. Shared by Ethernet, SLL and SLL2. */
export function decodeEthertypeChain(b: Uint8Array, cur: Cursor, v: PacketView, type: number): DecodeStatus {
  for (let tags = 0; tags <= MAX_LINK_TAGS; tags++) {
    switch (type) {
      case ETHERTYPE.IPV4:
      case ETHERTYPE.IPV6:
      case ETHERTYPE.ARP:
        cur.next = type;
        return STATUS.OK;
      case ETHERTYPE.VLAN:
      case ETHERTYPE.QINQ:
      case ETHERTYPE.QINQ_OLD: {
        const avail = cur.end - cur.off;
        if (avail < VLAN_TAG.LEN) {
          return markMalformed(v, MALFORMED.VLAN_TRUNCATED, cur.off, cur.packetStart, avail, VLAN_TAG.LEN);
        }
        type = u16(b, cur.off + VLAN_TAG.TYPE);
        cur.off += VLAN_TAG.LEN;
        break;
      }
      case ETHERTYPE.MPLS_UNICAST:
      case ETHERTYPE.MPLS_MULTICAST:
        return decodeMplsStack(b, cur, v, tags);
      case ETHERTYPE.CISCO_FABRIC_PATH: {
        // cur.off is past the 0x8903 ethertype: FTAG/TTL, then a complete inner Ethernet header.
        const innerEthernet = cur.off + FABRIC_PATH.TAG_LEN;
        const need = FABRIC_PATH.TAG_LEN + ETHERNET.HEADER_LEN;
        if (cur.end - cur.off < need) {
          return markMalformed(v, MALFORMED.LINK_TRUNCATED, cur.off, cur.packetStart, cur.end - cur.off, need);
        }
        type = u16(b, innerEthernet + ETHERNET.TYPE);
        cur.off = innerEthernet + ETHERNET.HEADER_LEN;
        break;
      }
      case ETHERTYPE.PPPOE_SESSION: {
        const status = decodePppoeSession(b, cur, v);
        if (status !== STATUS.OK) return status;
        type = cur.next;
        break;
      }
      case ETHERTYPE.PPPOE_DISCOVERY:
        return markSkipped(v, SKIP_REASON.PPPOE_DISCOVERY);
      default:
        if (type < ETHERTYPE_MIN) return markSkipped(v, SKIP_REASON.LLC);
        return markSkipped(v, numberedReason('ethertype', type));
    }
  }
  return markMalformed(v, MALFORMED.LINK_TOO_MANY_TAGS, cur.off, cur.packetStart, MAX_LINK_TAGS + 1, MAX_LINK_TAGS);
}

/**
 * A PPPoE session header and the PPP protocol field at cur.off: on OK, cur.next is the ethertype of
 * the IP packet that follows, cur.off points at it and cur.end is trimmed to the PPPoE length.
 * PPP control traffic (LCP, authentication, IPCP) is skipped as 'pppoe-not-ip'.
 */
function decodePppoeSession(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const off = cur.off;
  const avail = cur.end - off;
  const need = PPPOE.HEADER_LEN + PPP_PROTO.LEN;
  if (avail < need) return markMalformed(v, MALFORMED.PPPOE_TRUNCATED, off, cur.packetStart, avail < 0 ? 0 : avail, need);
  if (b[off + PPPOE.VER_TYPE] !== PPPOE.VER_TYPE_1_1 || b[off + PPPOE.CODE] !== PPPOE.CODE_SESSION_DATA) {
    return markSkipped(v, SKIP_REASON.PPPOE_NOT_IP);
  }
  const pppEnd = off + PPPOE.HEADER_LEN + u16(b, off + PPPOE.LEN);
  let p = off + PPPOE.HEADER_LEN;
  let protocol: number;
  // Protocol field compression (RFC 1661 section 6.5): a one-byte field has its low bit set.
  if ((b[p] & 1) === 1) {
    protocol = b[p];
    p += PPP_PROTO.COMPRESSED_LEN;
  } else {
    protocol = u16(b, p);
    p += PPP_PROTO.LEN;
  }
  // The PPPoE length bounds the frame (Ethernet padding follows it); IP's own length trims further.
  if (pppEnd < cur.end) cur.end = pppEnd;
  if (pppEnd < cur.wireEnd) cur.wireEnd = pppEnd;
  cur.off = p;
  if (protocol === PPP_PROTO.IPV4) cur.next = ETHERTYPE.IPV4;
  else if (protocol === PPP_PROTO.IPV6) cur.next = ETHERTYPE.IPV6;
  else return markSkipped(v, SKIP_REASON.PPPOE_NOT_IP);
  return STATUS.OK;
}

// MPLS says nothing about its payload; like Zeek and tshark we guess IPv4/IPv6 from the version nibble.
function decodeMplsStack(b: Uint8Array, cur: Cursor, v: PacketView, tagsSoFar: number): DecodeStatus {
  for (let tags = tagsSoFar; tags <= MAX_LINK_TAGS; tags++) {
    const avail = cur.end - cur.off;
    if (avail < MPLS.LABEL_LEN) {
      return markMalformed(v, MALFORMED.MPLS_TRUNCATED, cur.off, cur.packetStart, avail, MPLS.LABEL_LEN);
    }
    const bottomOfStack = (b[cur.off + MPLS.BOS_BYTE] & MPLS.BOS_BIT) !== 0;
    cur.off += MPLS.LABEL_LEN;
    if (!bottomOfStack) continue;
    if (cur.off >= cur.end) {
      return markMalformed(v, MALFORMED.MPLS_TRUNCATED, cur.off, cur.packetStart, 0, 1);
    }
    const version = b[cur.off] >> 4;
    if (version === 4) cur.next = ETHERTYPE.IPV4;
    else if (version === 6) cur.next = ETHERTYPE.IPV6;
    else return markSkipped(v, SKIP_REASON.MPLS_PAYLOAD);
    return STATUS.OK;
  }
  return markMalformed(v, MALFORMED.LINK_TOO_MANY_TAGS, cur.off, cur.packetStart, MAX_LINK_TAGS + 1, MAX_LINK_TAGS);
}
