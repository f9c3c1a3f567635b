// Decoder outcomes. A layer decoder returns OK (carry on), SKIP (not something tcpwhy analyses;
// view.skipReason says why) or one of the MALFORMED codes below (view.malformedDetail has the numbers).
// Codes are stable: reports and tests match on them, so never rename one.

import type { PacketView } from './view.js';
import { DECODED } from './view.js';

export const MALFORMED = {
  LINK_TRUNCATED: 'LINK_TRUNCATED',
  VLAN_TRUNCATED: 'VLAN_TRUNCATED',
  MPLS_TRUNCATED: 'MPLS_TRUNCATED',
  LINK_TOO_MANY_TAGS: 'LINK_TOO_MANY_TAGS',
  IPV4_TRUNCATED: 'IPV4_TRUNCATED',
  IPV4_BAD_HEADER_LENGTH: 'IPV4_BAD_HEADER_LENGTH',
  IPV4_BAD_TOTAL_LENGTH: 'IPV4_BAD_TOTAL_LENGTH',
  IP_BAD_VERSION: 'IP_BAD_VERSION',
  IPV6_TRUNCATED: 'IPV6_TRUNCATED',
  IPV6_EXT_TRUNCATED: 'IPV6_EXT_TRUNCATED',
  TCP_TRUNCATED: 'TCP_TRUNCATED',
  TCP_BAD_DATA_OFFSET: 'TCP_BAD_DATA_OFFSET',
  UDP_TRUNCATED: 'UDP_TRUNCATED',
  GRE_TRUNCATED: 'GRE_TRUNCATED',
  ICMP_TRUNCATED: 'ICMP_TRUNCATED',
  ICMP_QUOTE_TRUNCATED: 'ICMP_QUOTE_TRUNCATED',
  ARP_TRUNCATED: 'ARP_TRUNCATED',
  PPPOE_TRUNCATED: 'PPPOE_TRUNCATED',
  VXLAN_TRUNCATED: 'VXLAN_TRUNCATED',
} as const;
export type MalformedCode = (typeof MALFORMED)[keyof typeof MALFORMED];

/** Sentence templates: `found` is what the packet has, `limit` what the header needs or claims. */
const cutShort = (what: string) => (found: number, limit: number) => `${what} is cut short (${found} of ${limit} bytes)`;
export const MALFORMED_MESSAGE: Record<MalformedCode, (found: number, limit: number) => string> = {
  LINK_TRUNCATED: cutShort('the link-layer header'),
  VLAN_TRUNCATED: cutShort('a VLAN tag'),
  MPLS_TRUNCATED: cutShort('the MPLS label stack'),
  LINK_TOO_MANY_TAGS: (found, limit) => `more than ${limit} VLAN tags or MPLS labels (${found} read), not followed further`,
  IPV4_TRUNCATED: cutShort('the IPv4 header'),
  IPV4_BAD_HEADER_LENGTH: (found, limit) => `the IPv4 header length field says ${found} bytes, less than the ${limit} of the smallest header`,
  IPV4_BAD_TOTAL_LENGTH: (found, limit) => `the IPv4 total length field says ${found} bytes, less than its own ${limit}-byte header`,
  IP_BAD_VERSION: (found, limit) => `IP version ${found} where ${limit === 0 ? '4 or 6' : limit} belongs`,
  IPV6_TRUNCATED: cutShort('the IPv6 header'),
  IPV6_EXT_TRUNCATED: cutShort('an IPv6 extension header'),
  TCP_TRUNCATED: cutShort('the TCP header'),
  TCP_BAD_DATA_OFFSET: (found, limit) =>
    found < limit
      ? `the TCP header length field says ${found} bytes, less than the ${limit} of the smallest header`
      : `the TCP header length field says ${found} bytes, more than the ${limit} bytes of the segment`,
  UDP_TRUNCATED: cutShort('the UDP header'),
  GRE_TRUNCATED: cutShort('the GRE header'),
  ICMP_TRUNCATED: cutShort('the ICMP header'),
  ICMP_QUOTE_TRUNCATED: (found, limit) => `the ICMP error quotes ${found} bytes of the packet it is about, too few to name its connection (${limit} needed)`,
  ARP_TRUNCATED: cutShort('the ARP packet'),
  PPPOE_TRUNCATED: cutShort('the PPPoE session header'),
  VXLAN_TRUNCATED: cutShort('the VXLAN header and its inner Ethernet header'),
};

export const STATUS = {
  OK: 'OK',
  SKIP: 'SKIP',
  /** A fragment completed its datagram: decoding goes on in the defragmenter's output. */
  REASSEMBLED: 'REASSEMBLED',
} as const;
export type DecodeStatus = (typeof STATUS)[keyof typeof STATUS] | MalformedCode;

/** Marks the view MALFORMED. `at` is absolute; the view stores it relative to `packetStart`. Rare path, so the detail string is built here. */
export function markMalformed(
  v: PacketView,
  code: MalformedCode,
  at: number,
  packetStart: number,
  found: number,
  limit: number,
): MalformedCode {
  v.kind = DECODED.MALFORMED;
  v.malformedCode = code;
  v.malformedDetail = MALFORMED_MESSAGE[code](found, limit);
  v.malformedAt = at - packetStart;
  return code;
}

export function markSkipped(v: PacketView, reason: string): typeof STATUS.SKIP {
  v.kind = DECODED.SKIPPED;
  v.skipReason = reason;
  return STATUS.SKIP;
}

// Reasons that carry a number are built once per number and reused, so skipping a packet
// allocates nothing after the first time (bounded: a hostile capture cannot grow this forever).
const REASON_CACHE_LIMIT = 4096;
const reasonCache = new Map<number, string>();

/** 'link-type-147', 'ethertype-0x88cc', 'ip-proto-132': stable reason strings with a number in them. */
export function numberedReason(kind: 'link-type' | 'ethertype' | 'ip-proto', n: number): string {
  const key = (kind === 'link-type' ? 0 : kind === 'ethertype' ? 1 : 2) * 0x1_0000_0000 + n;
  const cached = reasonCache.get(key);
  if (cached !== undefined) return cached;
  const text = kind === 'ethertype' ? `ethertype-0x${n.toString(16).padStart(4, '0')}` : `${kind}-${n}`;
  if (reasonCache.size < REASON_CACHE_LIMIT) reasonCache.set(key, text);
  return text;
}

/** The skip reasons without numbers, in one place so that reports can list them. */
export const SKIP_REASON = {
  NOT_IP: 'not-ip',
  LLC: '802.3-llc',
  UDP: 'udp',
  ICMP: 'icmp',
  ICMPV6: 'icmpv6',
  IP_FRAGMENT: 'ip-fragment',
  IPSEC_ESP: 'ipsec-esp',
  IPV6_NO_NEXT_HEADER: 'ipv6-no-next-header',
  ARP_NOT_IPV4: 'arp-not-ipv4',
  MPLS_PAYLOAD: 'mpls-payload',
  GRE_UNSUPPORTED: 'gre-unsupported',
  TUNNEL_TOO_DEEP: 'tunnel-too-deep',
  ADDRESS_FAMILY: 'address-family',
  NETLINK: 'netlink',
  PPPOE_DISCOVERY: 'pppoe-discovery',
  /** A PPPoE session frame carrying PPP control traffic (LCP, authentication, IPCP) rather than IP. */
  PPPOE_NOT_IP: 'pppoe-not-ip',
  GENEVE: 'geneve',
  VXLAN_GPE: 'vxlan-gpe',
  L2TP: 'l2tp',
  /** A VXLAN header without the VNI flag, or whose inner frame is not Ethernet carrying IP. */
  VXLAN_UNSUPPORTED: 'vxlan-unsupported',
  /** UDP port 53 bytes that are not a DNS message (the pipeline decides, see rules/dns-log.ts). */
  DNS_INVALID: 'dns-invalid',
  /** A DNS datagram the snap length cut before its question ended. */
  DNS_CUT: 'dns-cut',
} as const;
