// The decoded packet: one PacketView per decoder, overwritten for every packet (gopacket's
// DecodingLayer contract: decoding resets the whole view and allocates nothing).

export const DECODED = {
  TCP: 1,
  /** ICMP/ICMPv6 error quoting an IP+TCP header: the quote fields are filled. */
  ICMP_ERROR: 2,
  ARP: 3,
  /** Counted as skipped; skipReason says why. */
  SKIPPED: 4,
  /** Counted as malformed; malformedCode/malformedDetail say why. */
  MALFORMED: 5,
  /** UDP to or from port 53: IP addresses, ports and the payload fields are filled; rules/dns-log.ts reads the message. */
  DNS: 6,
  /** ICMPv6 Neighbor Solicitation or Advertisement (IPv6's ARP): the ndp fields are filled. */
  NDP: 7,
} as const;
export type DecodedKind = (typeof DECODED)[keyof typeof DECODED];

export const TCP_FLAG = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** The innermost tunnel the TCP/ICMP packet was found in (Zeek's tunnel.log types). */
export const TUNNEL = {
  NONE: 0,
  IP_IN_IP: 1,
  GRE: 2,
  TEREDO: 3,
  GTP_U: 4,
  VXLAN: 5,
} as const;
export type TunnelKind = (typeof TUNNEL)[keyof typeof TUNNEL];

export class PacketView {
  kind: DecodedKind = DECODED.SKIPPED;
  /** For SKIPPED: a short stable reason such as 'not-ip', 'udp', 'icmp', 'ip-fragment', 'link-type-147'. */
  skipReason = '';
  /** For MALFORMED: stable code (e.g. TCP_BAD_DATA_OFFSET) and a detail sentence with numbers. */
  malformedCode = '';
  malformedDetail = '';
  /** Offset of the layer that failed, relative to the start of the packet. */
  malformedAt = 0;
  /**
   * The bytes every offset below points into: the record's own buffer, or the reassembled datagram
   * when this packet completed a fragmented one.
   */
  bytes: Uint8Array = new Uint8Array(0);
  /** This packet completed a fragmented IP datagram, and what follows is decoded from it. */
  reassembled = false;

  // --- IP (outer header carrying TCP, or the ICMP error) ---
  ipVersion: 0 | 4 | 6 = 0;
  /** Addresses as 4 big-endian 32-bit words; IPv4 uses word 3 only, words 0..2 are 0. */
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  ttl = 0;
  ipId = 0;
  /** True if the IPv4 DF bit is set. */
  dontFragment = false;
  /** Offset (absolute, in `bytes`) of the IP header. */
  ipOff = 0;
  /** Number of tunnels unwrapped to reach the IP header above (0 = none). */
  tunnelDepth = 0;
  /** Kind of the innermost tunnel (TUNNEL.NONE when tunnelDepth is 0). */
  tunnelKind: TunnelKind = TUNNEL.NONE;

  // --- TCP (ports and payload fields also for DNS over UDP) ---
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** Raw (unscaled) window field. */
  window = 0;
  tcpOff = 0;
  tcpHeaderLen = 0;
  /** Absolute offsets of the payload within the record's bytes, after trimming to the IP length. */
  payloadOff = 0;
  /** Payload length claimed by the IP header (may exceed captured bytes). */
  payloadLen = 0;
  /** Payload bytes actually captured (payloadLen minus what the snap length cut). */
  payloadCaptured = 0;
  /** TCP options; -1 when absent. */
  mss = -1;
  wscale = -1;
  sackPermitted = false;
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** Number of SACK blocks (0..4); edges in sackBlocks[2*i], sackBlocks[2*i+1]. */
  sackCount = 0;
  readonly sackBlocks = new Uint32Array(8);
  /** TFO cookie length: -1 absent, 0 cookie request, >0 cookie present. */
  tfoCookieLen = -1;
  /** An option had a length < 2 or ran past the data offset; options after it were not read. */
  tcpOptionsBad = false;

  // --- ICMP error (ICMP_ERROR) ---
  icmpType = 0;
  icmpCode = 0;
  /** The quoted packet's IP version, addresses and TCP ports/seq (the flow the error is about). */
  quotedIpVersion: 0 | 4 | 6 = 0;
  readonly quotedSrc = new Uint32Array(4);
  readonly quotedDst = new Uint32Array(4);
  quotedSrcPort = 0;
  quotedDstPort = 0;
  quotedSeq = 0;
  /** The quoted TCP header's flags, or -1 when the quote ends before them (RFC 792 promises 8 bytes only). */
  quotedFlags = -1;
  /** The quoted packet was a UDP datagram to port 53 (a DNS query), not a TCP segment; quotedSeq is unused. */
  quotedDns = false;
  /** Its DNS message ID, when the quote reaches it; -1 otherwise. */
  quotedDnsId = -1;

  // --- ARP ---
  arpOp = 0;
  /** IPv4 addresses as u32. */
  arpSenderIp = 0;
  arpTargetIp = 0;

  // --- NDP (Neighbor Solicitation / Advertisement) ---
  /** ICMPv6 type: NDP_TYPE.SOLICITATION or NDP_TYPE.ADVERTISEMENT. */
  ndpType = 0;
  /** An advertisement's Solicited flag: it answers a solicitation, sent unicast to the asker. */
  ndpSolicited = false;
  /** The address asked for or advertised. */
  readonly ndpTarget = new Uint32Array(4);
}
