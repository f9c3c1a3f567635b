// Field offsets, lengths and protocol numbers, named so that decoders never use bare numbers
// (smoltcp's `field::SEQ_NUM`). Offsets are relative to the start of their own header.

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  MPLS_UNICAST: 0x8847,
  MPLS_MULTICAST: 0x8848,
  QINQ: 0x88a8,
  /** Pre-standard QinQ tag still sent by some switches. */
  QINQ_OLD: 0x9100,
  CISCO_FABRIC_PATH: 0x8903,
  PPPOE_DISCOVERY: 0x8863,
  PPPOE_SESSION: 0x8864,
  /** Transparent Ethernet bridging: GRE carrying a whole Ethernet frame. */
  TRANSPARENT_ETHERNET: 0x6558,
} as const;

export const ETHERNET = {
  DST: 0,
  SRC: 6,
  TYPE: 12,
  HEADER_LEN: 14,
} as const;

/** An 802.1Q/802.1ad tag: TCI then the next ethertype. */
export const VLAN_TAG = {
  TCI: 0,
  TYPE: 2,
  LEN: 4,
} as const;

export const MPLS = {
  LABEL_LEN: 4,
  /** Byte 2 of a label entry: bit 0 is bottom-of-stack. */
  BOS_BYTE: 2,
  BOS_BIT: 0x01,
} as const;

/** Cisco FabricPath: outer MACs (12), ethertype 0x8903 (2), FTAG/TTL (2), then a whole inner Ethernet frame. */
export const FABRIC_PATH = {
  OUTER_LEN: 16,
  /** What follows the 0x8903 ethertype before the inner Ethernet header. */
  TAG_LEN: 2,
} as const;

/** BSD loopback (DLT_NULL, LOOP): a 4-byte address family. */
export const NULL_LINK = {
  HEADER_LEN: 4,
} as const;

/** Address families seen in NULL/LOOP headers. IPv6 differs per OS. */
export const AF = {
  INET: 2,
  INET6_LINUX: 10,
  INET6_BSD: 24,
  INET6_FREEBSD: 28,
  INET6_DARWIN: 30,
} as const;

/** Linux cooked capture v1: packet type, ARPHRD, address length, address (8), protocol. */
export const SLL = {
  PACKET_TYPE: 0,
  ARPHRD: 2,
  ADDR_LEN: 4,
  ADDR: 6,
  PROTOCOL: 14,
  HEADER_LEN: 16,
} as const;

/** Linux cooked capture v2: protocol comes first. */
export const SLL2 = {
  PROTOCOL: 0,
  RESERVED: 2,
  IF_INDEX: 4,
  ARPHRD: 8,
  PACKET_TYPE: 10,
  ADDR_LEN: 11,
  ADDR: 12,
  HEADER_LEN: 20,
} as const;

export const IP_PROTO = {
  HOPOPT: 0,
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  IPV6_ROUTING: 43,
  IPV6_FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NONXT: 59,
  IPV6_DSTOPTS: 60,
} as const;

export const IPV4 = {
  VER_IHL: 0,
  TOS: 1,
  TOTAL_LEN: 2,
  ID: 4,
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTO: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  MIN_LEN: 20,
  /** In the 16-bit flags/fragment-offset field. */
  FLAG_DF: 0x4000,
  FLAG_MF: 0x2000,
  FRAG_OFFSET_MASK: 0x1fff,
} as const;

export const IPV6 = {
  VER_TC_FLOW: 0,
  PAYLOAD_LEN: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
  HEADER_LEN: 40,
} as const;

/** Generic IPv6 extension header: next header, length in 8-byte units not counting the first 8. */
export const IPV6_EXT = {
  NEXT_HEADER: 0,
  LEN: 1,
  MIN_LEN: 8,
  LEN_UNIT: 8,
} as const;

/** AH measures its length in 4-byte units, minus 2. */
export const IPV6_AH = {
  LEN_UNIT: 4,
  LEN_BIAS: 2,
} as const;

export const IPV6_FRAG = {
  OFFSET_FLAGS: 2,
  LEN: 8,
  OFFSET_MASK: 0xfff8,
  FLAG_MORE: 0x0001,
} as const;

/** PPPoE (RFC 2516): version/type, code, session id, then the length of the PPP frame that follows. */
export const PPPOE = {
  VER_TYPE: 0,
  CODE: 1,
  SESSION_ID: 2,
  LEN: 4,
  HEADER_LEN: 6,
  /** Version 1, type 1. */
  VER_TYPE_1_1: 0x11,
  /** Session data; discovery stages use other codes on ethertype 0x8863. */
  CODE_SESSION_DATA: 0x00,
} as const;

/** PPP protocol numbers inside a PPPoE session. One-byte forms are the protocol-field-compressed ones. */
export const PPP_PROTO = {
  IPV4: 0x0021,
  IPV6: 0x0057,
  LEN: 2,
  /** With protocol field compression the field is one byte, whose low bit is set. */
  COMPRESSED_LEN: 1,
} as const;

/** VXLAN (RFC 7348): flags (I bit = VNI valid), 3 reserved, VNI (3), 1 reserved, then an Ethernet frame. */
export const VXLAN = {
  FLAGS: 0,
  VNI: 4,
  HEADER_LEN: 8,
  FLAG_VNI_VALID: 0x08,
  /** IANA's port, used by AWS and GCP traffic mirroring. */
  PORT: 4789,
  /** The Linux kernel's default port before IANA assigned 4789 (flannel still uses it). */
  PORT_LINUX: 8472,
} as const;

/** UDP ports of encapsulations that are recognised only to name them in the skipped counts. */
export const UDP_ENCAPSULATION_PORT = {
  GENEVE: 6081,
  VXLAN_GPE: 4790,
  L2TP: 1701,
} as const;

export const DNS_PORT = 53;

export const UDP = {
  SRC_PORT: 0,
  DST_PORT: 2,
  LEN: 4,
  CHECKSUM: 6,
  HEADER_LEN: 8,
} as const;

export const TCP = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  DATA_OFF: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  MIN_LEN: 20,
  MAX_LEN: 60,
} as const;

export const TCP_OPT = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WSCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
  FAST_OPEN: 34,
  EXPERIMENTAL: 254,
  /** RFC 7413 section 4.1.1: the experimental option carries the TFO cookie after this magic. */
  TFO_EXPERIMENTAL_MAGIC: 0xf989,
  MSS_LEN: 4,
  WSCALE_LEN: 3,
  TIMESTAMPS_LEN: 10,
  SACK_BLOCK_LEN: 8,
  MAX_SACK_BLOCKS: 4,
} as const;

export const ICMP = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Errors quote the offending IP header right after the 8-byte ICMP header. */
  QUOTE: 8,
  V4_DEST_UNREACHABLE: 3,
  V4_TIME_EXCEEDED: 11,
  V6_DEST_UNREACHABLE: 1,
  /** Packet too big: a router telling the sender the path's MTU (RFC 8201); the quote sits where the others' does. */
  V6_PACKET_TOO_BIG: 2,
  V6_TIME_EXCEEDED: 3,
  /** Ports (4) and sequence number (4): what RFC 792 promises of the quoted transport header. */
  QUOTED_TCP_LEN: 8,
  /** The quoted TCP header's flags byte, when the quote reaches it (Linux quotes up to 576 bytes). */
  QUOTED_TCP_FLAGS: 13,
} as const;

/** Neighbor Solicitation and Advertisement (RFC 4861 sections 4.3, 4.4). */
export const NDP = {
  SOLICITATION: 135,
  ADVERTISEMENT: 136,
  /** Byte 4 of an advertisement: Router, Solicited, Override flags. */
  FLAGS: 4,
  SOLICITED: 0x40,
  TARGET: 8,
  LEN: 24,
  /** Sent with hop limit 255, so a receiver knows it came from the link itself (RFC 4861 7.1). */
  HOP_LIMIT: 255,
} as const;

export const ARP = {
  HTYPE: 0,
  PTYPE: 2,
  HLEN: 4,
  PLEN: 5,
  OP: 6,
  SENDER_HW: 8,
  SENDER_IP: 14,
  TARGET_HW: 18,
  TARGET_IP: 24,
  /** Ethernet hardware + IPv4 protocol addresses. */
  LEN: 28,
  HTYPE_ETHERNET: 1,
} as const;

export const GRE = {
  FLAGS_VERSION: 0,
  PROTOCOL: 2,
  BASE_LEN: 4,
  FLAG_CHECKSUM: 0x8000,
  FLAG_ROUTING: 0x4000,
  FLAG_KEY: 0x2000,
  FLAG_SEQ: 0x1000,
  VERSION_MASK: 0x0007,
  OPTIONAL_FIELD_LEN: 4,
} as const;

export const GTP = {
  FLAGS: 0,
  MSG_TYPE: 1,
  LEN: 2,
  TEID: 4,
  BASE_LEN: 8,
  /** Sequence number (2), N-PDU number (1), next extension header type (1). */
  OPTIONAL_LEN: 4,
  VERSION_SHIFT: 5,
  VERSION_1: 1,
  FLAG_PROTOCOL_TYPE: 0x10,
  /** Extension header, sequence number, N-PDU number: any of them adds the optional 4 bytes. */
  FLAGS_OPTIONAL: 0x07,
  FLAG_EXTENSION: 0x04,
  MSG_G_PDU: 0xff,
  EXT_LEN_UNIT: 4,
  PORT_U: 2152,
} as const;

export const TEREDO = {
  PORT: 3544,
  /** Indications start with a 2-byte type: 0x0001 authentication, 0x0000 origin. */
  AUTH_TYPE: 0x0001,
  ORIGIN_TYPE: 0x0000,
  AUTH_ID_LEN: 2,
  AUTH_AU_LEN: 3,
  /** Type (2), id length (1), auth length (1), then id, auth value, nonce (8) and confirmation (1). */
  AUTH_FIXED_LEN: 13,
  ORIGIN_LEN: 8,
} as const;

/** How deep tunnels may nest before the packet is skipped (stops crafted loops). */
export const MAX_ENCAPSULATION_DEPTH = 4;
/** MPLS labels / VLAN tags accepted before giving up on a frame. */
export const MAX_LINK_TAGS = 8;
