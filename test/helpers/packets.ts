// Frame builders for tests: real-looking frames with correct lengths and checksums, built from a
// template plus the fields you care about (smoltcp's `..SEND_TEMPL`).
//
//   const syn = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 80, flags: 'S',
//                          options: { mss: 1460, wscale: 7, sackPerm: true, ts: [1, 0] } });
//   syn.bytes     // Uint8Array: the whole frame, link header included
//   syn.linkType  // LINKTYPE.ETHERNET (pass it to the pcap writer or to toRecord())
//
//   tcpFrame({ ...syn.spec, flags: 'SA', src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 51000 })
//   tcpFrame({ src: '::1', dst: '::1', link: 'null', payload: 'GET / HTTP/1.1\r\n\r\n', flags: 'PA' })
//   icmpUnreachableFrame({ quoted: { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 80, flags: 'S' } })
//   arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.2' })
//   toRecord(syn, { no: 1, tsMicros: 0, snap: 54 })   // a PacketRecord, optionally cut to a snap length
//
// Defaults: IPv4 10.0.0.1:51000 -> 10.0.0.2:80, IPv6 when an address contains ':', flags 'A',
// window 65535, no options, Ethernet. The default seq sits just below 2^32 so every test that does
// sequence arithmetic crosses the wrap-around without asking for it.
// Flags are letters: S SYN, A ACK, F FIN, R RST, P PSH, U URG, E ECE, C CWR ('SA' = SYN+ACK).
// Ethernet frames shorter than 60 bytes are zero-padded to 60 as a NIC does (pad: false to turn it
// off), so every test also checks that padding never counts as payload.
// Links: 'ether' 'vlan' 'qinq' 'mpls' 'fabricpath' 'null' 'loop' 'raw' 'sll' 'sll2' 'ipv4' 'ipv6'.
// Lower-level pieces (ipv4Packet, ipv6Packet, udpDatagram, tcpSegment, linkFrame) build tunnels and
// broken packets; every field a malformed-packet test needs can be overridden.

import type { PacketRecord } from '../../src/capture/record.js';
import { LINKTYPE } from '../../src/capture/record.js';
import { parseAddr } from '../../src/decode/addr.js';

export type LinkKind =
  | 'ether'
  | 'vlan'
  | 'qinq'
  | 'mpls'
  | 'fabricpath'
  | 'null'
  | 'loop'
  | 'raw'
  | 'sll'
  | 'sll2'
  | 'ipv4'
  | 'ipv6';

export interface Frame {
  bytes: Uint8Array;
  linkType: number;
}

export interface TcpOptionsSpec {
  mss?: number;
  wscale?: number;
  sackPerm?: boolean;
  /** [tsVal, tsEcr] */
  ts?: [number, number];
  /** SACK blocks as [left, right] edges (at most 4 fit, 3 with timestamps). */
  sack?: Array<[number, number]>;
  /** TFO cookie (kind 34); an empty array is a cookie request. */
  tfoCookie?: number[];
  /** TFO cookie in the experimental option 254 with magic 0xF989. */
  tfoExperimentalCookie?: number[];
  /** Raw option bytes appended as they are (for malformed options). */
  raw?: number[];
}

export interface LinkOptions {
  link?: LinkKind;
  /** Zero-pad Ethernet-family frames to 60 bytes (default true). */
  pad?: boolean;
  /** Bytes appended after the IP packet (an Ethernet trailer or FCS). */
  trailer?: number[];
  vlanId?: number;
  outerVlanId?: number;
  /** For 'null'/'loop': the address family written (default 2, or 30 for IPv6 as macOS does). */
  addressFamily?: number;
  /** For 'null': write the family big-endian (a capture from a big-endian host). */
  addressFamilyBigEndian?: boolean;
  srcMac?: string;
  dstMac?: string;
}

export interface IpOptions {
  src?: string;
  dst?: string;
  ttl?: number;
  ipId?: number;
  /** IPv4 DF bit (default true, as Linux sets it on TCP). */
  df?: boolean;
  /** IPv4 more-fragments bit. */
  mf?: boolean;
  /** IPv4 fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  /** IPv4 options (padded to a multiple of 4 with EOL). */
  ipOptions?: number[];
  /** Overrides the IPv4 total length / IPv6 payload length field (0 = TSO). */
  ipLength?: number;
  /** Overrides the version nibble. */
  ipVersion?: number;
  /** Overrides the IPv4 header length field, in bytes. */
  ipHeaderLength?: number;
  /** IPv6 extension headers between the fixed header and the transport, in order. */
  ipv6Ext?: Ipv6ExtSpec[];
}

export type Ipv6ExtSpec =
  | { type: 'hop-by-hop' | 'routing' | 'destination'; length?: number }
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number }
  | { type: 'ah'; length?: number };

export interface TcpSpec extends IpOptions, LinkOptions {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: string | number;
  window?: number;
  urgent?: number;
  options?: TcpOptionsSpec;
  payload?: Uint8Array | string;
  /** Overrides the data offset field, in bytes (multiple of 4 between 0 and 60). */
  dataOffset?: number;
}

export interface TcpFrame extends Frame {
  /** The spec the frame was built from, with defaults filled in: spread it to derive the next packet. */
  spec: TcpSpec;
}

export const TCP_TEMPLATE = {
  src: '10.0.0.1',
  dst: '10.0.0.2',
  sport: 51000,
  dport: 80,
  seq: 0xffff_fff0,
  ack: 0,
  flags: 'A',
  window: 65535,
} as const satisfies TcpSpec;

const PROTO = { ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, GRE: 47, ICMPV6: 58 } as const;
const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80 };
const ETHERNET_MIN_FRAME = 60;

const text = new TextEncoder();

function bytesOf(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === 'string' ? text.encode(payload) : payload;
}

export function concat(...parts: Array<Uint8Array | number[]>): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Address as network-order bytes (4 or 16). */
export function addrBytes(address: string): Uint8Array {
  const { version, words } = parseAddr(address);
  const out = new Uint8Array(version === 4 ? 4 : 16);
  if (version === 4) put32(out, 0, words[3]);
  else for (let i = 0; i < 4; i++) put32(out, 4 * i, words[i]);
  return out;
}

export function ipVersionOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((h) => parseInt(h, 16));
}

export function flagBits(flags: string | number | undefined): number {
  if (flags === undefined) return FLAG_BITS.A;
  if (typeof flags === 'number') return flags;
  let bits = 0;
  for (const letter of flags) {
    const bit = FLAG_BITS[letter.toUpperCase()];
    if (bit === undefined) throw new Error(`unknown TCP flag letter '${letter}' in '${flags}' (use S A F R P U E C)`);
    bits |= bit;
  }
  return bits;
}

/** RFC 1071 ones'-complement sum over the given parts, folded and inverted. */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i] << 8) | p[i + 1];
    if (p.length % 2 === 1) sum += p[p.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeader(src: Uint8Array, dst: Uint8Array, proto: number, length: number): Uint8Array {
  if (src.length === 4) {
    const p = new Uint8Array(12);
    p.set(src, 0);
    p.set(dst, 4);
    p[9] = proto;
    put16(p, 10, length);
    return p;
  }
  const p = new Uint8Array(40);
  p.set(src, 0);
  p.set(dst, 16);
  put32(p, 32, length);
  p[39] = proto;
  return p;
}

/** TCP option bytes in the order Linux sends them, padded to a multiple of 4. */
export function tcpOptionBytes(o: TcpOptionsSpec | undefined): number[] {
  if (!o) return [];
  const out: number[] = [];
  if (o.mss !== undefined) out.push(2, 4, (o.mss >>> 8) & 0xff, o.mss & 0xff);
  if (o.sackPerm && o.ts) out.push(4, 2);
  else if (o.sackPerm) out.push(1, 1, 4, 2);
  if (o.ts) {
    if (!o.sackPerm) out.push(1, 1);
    const t = new Uint8Array(8);
    put32(t, 0, o.ts[0]);
    put32(t, 4, o.ts[1]);
    out.push(8, 10, ...t);
  }
  if (o.wscale !== undefined) out.push(1, 3, 3, o.wscale);
  if (o.sack && o.sack.length > 0) {
    out.push(1, 1, 5, 2 + 8 * o.sack.length);
    for (const [l, r] of o.sack) {
      const e = new Uint8Array(8);
      put32(e, 0, l);
      put32(e, 4, r);
      out.push(...e);
    }
  }
  if (o.tfoCookie) out.push(34, 2 + o.tfoCookie.length, ...o.tfoCookie);
  if (o.tfoExperimentalCookie) out.push(254, 4 + o.tfoExperimentalCookie.length, 0xf9, 0x89, ...o.tfoExperimentalCookie);
  if (o.raw) out.push(...o.raw);
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

/** A TCP header plus payload with a correct checksum for the given addresses. */
export function tcpSegment(spec: TcpSpec): Uint8Array {
  const s = { ...TCP_TEMPLATE, ...spec };
  const options = tcpOptionBytes(s.options);
  const headerLen = 20 + options.length;
  if (headerLen > 60) throw new Error(`TCP options too long: ${options.length} bytes > 40`);
  const payload = bytesOf(s.payload);
  const seg = new Uint8Array(headerLen + payload.length);
  put16(seg, 0, s.sport);
  put16(seg, 2, s.dport);
  put32(seg, 4, s.seq >>> 0);
  put32(seg, 8, s.ack >>> 0);
  seg[12] = ((s.dataOffset ?? headerLen) / 4) << 4;
  seg[13] = flagBits(s.flags);
  put16(seg, 14, s.window);
  put16(seg, 18, s.urgent ?? 0);
  seg.set(options, 20);
  seg.set(payload, headerLen);
  const src = addrBytes(s.src);
  const dst = addrBytes(s.dst);
  put16(seg, 16, internetChecksum(pseudoHeader(src, dst, PROTO.TCP, seg.length), seg));
  return seg;
}

/** A UDP header plus payload with a correct checksum. */
export function udpDatagram(src: string, dst: string, sport: number, dport: number, payload: Uint8Array | string): Uint8Array {
  const body = bytesOf(payload);
  const d = new Uint8Array(8 + body.length);
  put16(d, 0, sport);
  put16(d, 2, dport);
  put16(d, 4, d.length);
  d.set(body, 8);
  const sum = internetChecksum(pseudoHeader(addrBytes(src), addrBytes(dst), PROTO.UDP, d.length), d);
  put16(d, 6, sum === 0 ? 0xffff : sum);
  return d;
}

/** An IPv4 packet around `payload` (header checksum filled in). */
export function ipv4Packet(proto: number, payload: Uint8Array, o: IpOptions = {}): Uint8Array {
  const options = [...(o.ipOptions ?? [])];
  while (options.length % 4 !== 0) options.push(0);
  const headerLen = 20 + options.length;
  const p = new Uint8Array(headerLen + payload.length);
  p[0] = ((o.ipVersion ?? 4) << 4) | ((o.ipHeaderLength ?? headerLen) / 4);
  put16(p, 2, o.ipLength ?? p.length);
  put16(p, 4, o.ipId ?? 0x1234);
  const frag = ((o.df ?? true) ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8);
  put16(p, 6, frag);
  p[8] = o.ttl ?? 64;
  p[9] = proto;
  p.set(addrBytes(o.src ?? TCP_TEMPLATE.src), 12);
  p.set(addrBytes(o.dst ?? TCP_TEMPLATE.dst), 16);
  p.set(options, 20);
  put16(p, 10, internetChecksum(p.subarray(0, headerLen)));
  p.set(payload, headerLen);
  return p;
}

const EXT_PROTO: Record<Ipv6ExtSpec['type'], number> = {
  'hop-by-hop': 0,
  routing: 43,
  destination: 60,
  fragment: 44,
  ah: 51,
};

/** An IPv6 packet around `payload`, with optional extension headers. */
export function ipv6Packet(proto: number, payload: Uint8Array, o: IpOptions = {}): Uint8Array {
  const exts = o.ipv6Ext ?? [];
  const extBytes: number[] = [];
  for (let i = 0; i < exts.length; i++) {
    const ext = exts[i];
    const next = i + 1 < exts.length ? EXT_PROTO[exts[i + 1].type] : proto;
    if (ext.type === 'fragment') {
      const offFlags = (ext.offset ?? 0) | (ext.more ? 1 : 0);
      const id = ext.id ?? 0x0bad_cafe;
      extBytes.push(next, 0, (offFlags >>> 8) & 0xff, offFlags & 0xff, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
    } else if (ext.type === 'ah') {
      const len = ext.length ?? 24; // 12 fixed bytes + 12 of ICV (HMAC-SHA1-96)
      extBytes.push(next, len / 4 - 2, ...new Array<number>(len - 2).fill(0));
    } else {
      const len = ext.length ?? 8;
      // PadN option filling the header after the two fixed bytes.
      extBytes.push(next, len / 8 - 1, 1, len - 4, ...new Array<number>(len - 4).fill(0));
    }
  }
  const p = new Uint8Array(40 + extBytes.length + payload.length);
  p[0] = (o.ipVersion ?? 6) << 4;
  put16(p, 4, o.ipLength ?? extBytes.length + payload.length);
  p[6] = exts.length > 0 ? EXT_PROTO[exts[0].type] : proto;
  p[7] = o.ttl ?? 64;
  p.set(addrBytes(o.src ?? '::1'), 8);
  p.set(addrBytes(o.dst ?? '::1'), 24);
  p.set(extBytes, 40);
  p.set(payload, 40 + extBytes.length);
  return p;
}

/** An IP packet of the version the source address implies. */
export function ipPacket(proto: number, payload: Uint8Array, o: IpOptions = {}): Uint8Array {
  const src = o.src ?? TCP_TEMPLATE.src;
  return ipVersionOf(src) === 4 ? ipv4Packet(proto, payload, o) : ipv6Packet(proto, payload, o);
}

function ethernetHeader(type: number, o: LinkOptions): number[] {
  return [...macBytes(o.dstMac ?? '02:00:00:00:00:02'), ...macBytes(o.srcMac ?? '02:00:00:00:00:01'), type >>> 8, type & 0xff];
}

const ETHERTYPE_OF_VERSION = { 4: 0x0800, 6: 0x86dd } as const;

/**
 * Wraps a network-layer packet in a link header. `ethertype` defaults to IPv4/IPv6 by the
 * packet's version nibble (pass 0x0806 for ARP).
 */
export function linkFrame(packet: Uint8Array, o: LinkOptions = {}, ethertype?: number): Frame {
  const link = o.link ?? 'ether';
  const version = packet[0] >> 4 === 6 ? 6 : 4;
  const type = ethertype ?? ETHERTYPE_OF_VERSION[version];
  const trailer = o.trailer ?? [];
  const padded = (header: number[]): Uint8Array => {
    let frame = concat(header, packet, trailer);
    if ((o.pad ?? true) && frame.length < ETHERNET_MIN_FRAME) frame = concat(frame, new Array<number>(ETHERNET_MIN_FRAME - frame.length).fill(0));
    return frame;
  };
  const tag = (tpid: number, id: number, inner: number) => [tpid >>> 8, tpid & 0xff, (id >>> 8) & 0x0f, id & 0xff, inner >>> 8, inner & 0xff];
  switch (link) {
    case 'ether':
      return { bytes: padded(ethernetHeader(type, o)), linkType: LINKTYPE.ETHERNET };
    case 'vlan':
      return { bytes: padded([...ethernetHeader(0, o).slice(0, 12), ...tag(0x8100, o.vlanId ?? 100, type)]), linkType: LINKTYPE.ETHERNET };
    case 'qinq': {
      const outer = tag(0x88a8, o.outerVlanId ?? 200, 0x8100);
      const inner = [((o.vlanId ?? 100) >>> 8) & 0x0f, (o.vlanId ?? 100) & 0xff, type >>> 8, type & 0xff];
      return { bytes: padded([...ethernetHeader(0, o).slice(0, 12), ...outer, ...inner]), linkType: LINKTYPE.ETHERNET };
    }
    case 'mpls':
      // Two labels: 16 (not bottom) and 17 (bottom of stack), TTL 64.
      return { bytes: padded([...ethernetHeader(0x8847, o), 0x00, 0x01, 0x00, 64, 0x00, 0x01, 0x11, 64]), linkType: LINKTYPE.ETHERNET };
    case 'fabricpath':
      return {
        bytes: padded([...ethernetHeader(0x8903, { srcMac: '02:fa:00:00:00:01', dstMac: '02:fa:00:00:00:02' }), 0x00, 0x3f, ...ethernetHeader(type, o)]),
        linkType: LINKTYPE.ETHERNET,
      };
    case 'null':
    case 'loop': {
      const family = o.addressFamily ?? (version === 6 ? 30 : 2);
      const bigEndian = link === 'loop' || o.addressFamilyBigEndian === true;
      const af = new Uint8Array(4);
      if (bigEndian) put32(af, 0, family);
      else af.set([family & 0xff, (family >>> 8) & 0xff, (family >>> 16) & 0xff, family >>> 24]);
      return { bytes: concat(af, packet, trailer), linkType: link === 'loop' ? LINKTYPE.LOOP : LINKTYPE.NULL };
    }
    case 'raw':
      return { bytes: concat(packet, trailer), linkType: LINKTYPE.RAW };
    case 'ipv4':
      return { bytes: concat(packet, trailer), linkType: LINKTYPE.IPV4 };
    case 'ipv6':
      return { bytes: concat(packet, trailer), linkType: LINKTYPE.IPV6 };
    case 'sll': {
      // Packet type 0 (to us), ARPHRD_ETHER, 6-byte address padded to 8, protocol.
      const h = [0, 0, 0, 1, 0, 6, ...macBytes(o.srcMac ?? '02:00:00:00:00:01'), 0, 0, type >>> 8, type & 0xff];
      return { bytes: concat(h, packet, trailer), linkType: LINKTYPE.LINUX_SLL };
    }
    case 'sll2': {
      // Protocol, reserved, interface index 2, ARPHRD_ETHER, packet type 0, address length 6, address.
      const h = [type >>> 8, type & 0xff, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, ...macBytes(o.srcMac ?? '02:00:00:00:00:01'), 0, 0];
      return { bytes: concat(h, packet, trailer), linkType: LINKTYPE.LINUX_SLL2 };
    }
  }
}

/** A complete TCP frame: link + IP + TCP (+ payload). */
export function tcpFrame(spec: TcpSpec = {}): TcpFrame {
  const full: TcpSpec = { ...TCP_TEMPLATE, ...spec };
  const packet = ipPacket(PROTO.TCP, tcpSegment(full), full);
  return { ...linkFrame(packet, full), spec: full };
}

export interface IcmpErrorSpec extends LinkOptions {
  /** The TCP packet the error is about (as sent: src is the host that receives the error). */
  quoted: TcpSpec;
  /** Router that reports the error (default: the quoted destination). */
  from?: string;
  /** Default: IPv4 3 (destination unreachable), IPv6 1. */
  type?: number;
  /** Default: IPv4 1 (host unreachable), IPv6 3 (address unreachable). */
  code?: number;
  /** Bytes of the quoted packet after its IP header (default 8, as RFC 792 requires). */
  quoteTransportBytes?: number;
  /** Protocol of the quoted packet (default TCP; 17 makes it quote a UDP header instead). */
  quotedProtocol?: number;
}

/** An ICMP (or ICMPv6, for IPv6 addresses) error quoting a TCP packet. */
export function icmpErrorFrame(spec: IcmpErrorSpec): Frame {
  const q: TcpSpec = { ...TCP_TEMPLATE, ...spec.quoted };
  const version = ipVersionOf(q.src!);
  const proto = spec.quotedProtocol ?? PROTO.TCP;
  const transport = proto === PROTO.TCP ? tcpSegment(q) : udpDatagram(q.src!, q.dst!, q.sport!, q.dport!, q.payload ?? '');
  const original = ipPacket(proto, transport, q);
  const ipHeaderLen = version === 4 ? (original[0] & 0x0f) * 4 : 40;
  const quote = original.subarray(0, Math.min(original.length, ipHeaderLen + (spec.quoteTransportBytes ?? 8)));
  const icmp = new Uint8Array(8 + quote.length);
  icmp[0] = spec.type ?? (version === 4 ? 3 : 1);
  icmp[1] = spec.code ?? (version === 4 ? 1 : 3);
  icmp.set(quote, 8);
  const from = spec.from ?? q.dst!;
  const ip: IpOptions = { src: from, dst: q.src, ttl: 255, df: false };
  if (version === 4) {
    put16(icmp, 2, internetChecksum(icmp));
  } else {
    put16(icmp, 2, internetChecksum(pseudoHeader(addrBytes(from), addrBytes(q.src!), PROTO.ICMPV6, icmp.length), icmp));
  }
  const packet = ipPacket(version === 4 ? PROTO.ICMP : PROTO.ICMPV6, icmp, ip);
  return linkFrame(packet, spec);
}

/** Destination unreachable about a TCP packet; see icmpErrorFrame for the options. */
export function icmpUnreachableFrame(spec: IcmpErrorSpec): Frame {
  return icmpErrorFrame(spec);
}

export interface ArpSpec extends LinkOptions {
  op?: 'request' | 'reply' | number;
  senderIp?: string;
  targetIp?: string;
  senderMac?: string;
  targetMac?: string;
}

/** An ARP request or reply for IPv4 over Ethernet. */
export function arpFrame(spec: ArpSpec = {}): Frame {
  const op = spec.op === undefined || spec.op === 'request' ? 1 : spec.op === 'reply' ? 2 : spec.op;
  const senderMac = spec.senderMac ?? '02:00:00:00:00:01';
  const targetMac = spec.targetMac ?? (op === 1 ? '00:00:00:00:00:00' : '02:00:00:00:00:02');
  const arp = concat(
    [0, 1, 0x08, 0x00, 6, 4, op >>> 8, op & 0xff],
    macBytes(senderMac),
    addrBytes(spec.senderIp ?? '10.0.0.1'),
    macBytes(targetMac),
    addrBytes(spec.targetIp ?? '10.0.0.2'),
  );
  const dstMac = op === 1 ? 'ff:ff:ff:ff:ff:ff' : targetMac;
  return linkFrame(arp, { dstMac, srcMac: senderMac, ...spec }, 0x0806);
}

export interface NdpSpec extends LinkOptions {
  op?: 'solicit' | 'advertise';
  /** Source address (default fd00::1; :: for a duplicate-address probe). */
  src?: string;
  /** Default: the target's solicited-node multicast address for a solicitation, all nodes (ff02::1) for an advertisement. */
  dst?: string;
  target?: string;
  /** An advertisement's Solicited flag (default true). */
  solicited?: boolean;
  /** Default 255, as RFC 4861 requires. */
  hopLimit?: number;
}

/** The solicited-node multicast address of an IPv6 address: ff02::1:ff and its last 24 bits. */
export function solicitedNode(address: string): string {
  const b = addrBytes(address);
  const hex = (i: number) => b[i].toString(16).padStart(2, '0');
  return `ff02::1:ff${hex(13)}:${hex(14)}${hex(15)}`;
}

/** An IPv6 Neighbor Solicitation (ICMPv6 135) or Advertisement (136) over Ethernet. */
export function ndpFrame(spec: NdpSpec = {}): Frame {
  const solicit = spec.op !== 'advertise';
  const src = spec.src ?? 'fd00::1';
  const target = spec.target ?? 'fd00::2';
  const dst = spec.dst ?? (solicit ? solicitedNode(target) : 'ff02::1');
  const icmp = new Uint8Array(24);
  icmp[0] = solicit ? 135 : 136;
  if (!solicit) icmp[4] = (spec.solicited ?? true ? 0x40 : 0) | 0x20;
  icmp.set(addrBytes(target), 8);
  put16(icmp, 2, internetChecksum(pseudoHeader(addrBytes(src), addrBytes(dst), PROTO.ICMPV6, icmp.length), icmp));
  return linkFrame(ipv6Packet(PROTO.ICMPV6, icmp, { src, dst, ttl: spec.hopLimit ?? 255 }), spec);
}

export interface RecordOptions {
  no?: number;
  tsMicros?: number;
  /** Keep only this many bytes, as a snap length would (origLen stays the full length). */
  snap?: number;
  /** Place the frame at this offset inside a larger buffer (readers hand out views into chunks). */
  offset?: number;
}

/** A PacketRecord holding the frame, as a capture reader would deliver it. */
export function toRecord(frame: Frame, o: RecordOptions = {}): PacketRecord {
  const caplen = Math.min(frame.bytes.length, o.snap ?? frame.bytes.length);
  const offset = o.offset ?? 0;
  const buffer = new Uint8Array(offset + caplen + 16).fill(0xee); // 0xee around the frame: reads past `end` show up
  buffer.set(frame.bytes.subarray(0, caplen), offset);
  return {
    no: o.no ?? 1,
    tsMicros: o.tsMicros ?? 0,
    caplen,
    origLen: frame.bytes.length,
    linkType: frame.linkType,
    interfaceId: 0,
    bytes: buffer,
    off: offset,
    end: offset + caplen,
    fileOffset: 0,
  };
}

export const IP_PROTOCOL = PROTO;

/**
 * Bytes from `tcpdump -XX` (or -X) output: the hex columns of every `0x0000:` line, ignoring the
 * summary line and the ASCII column. Lets a test keep a real captured frame as the dump itself.
 */
export function fromTcpdumpHex(dump: string, linkType: number): Frame {
  const out: number[] = [];
  for (const line of dump.split('\n')) {
    const m = /^\s*0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4} ?)+)/i.exec(line);
    if (!m) continue;
    // The hex area is at most 8 groups of 4 digits; the ASCII column follows after two spaces.
    const hex = m[1].trim().split(/\s+/).slice(0, 8).join('');
    for (let i = 0; i + 1 < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  }
  return { bytes: Uint8Array.from(out), linkType };
}

/**
 * Splits an Ethernet frame's IP datagram into fragments of at most `size` payload bytes (a multiple
 * of 8), as a router with a small MTU would: IPv4 sets MF and the offset in copies of the header,
 * IPv6 inserts a Fragment header after the fixed header. Returned in datagram order.
 */
export function fragmentFrame(frame: Frame, size: number, o: { id?: number } = {}): Frame[] {
  if (size % 8 !== 0) throw new Error(`fragment size ${size} is not a multiple of 8`);
  const b = frame.bytes;
  const ip = 14;
  const v6 = b[ip] >> 4 === 6;
  const headerLen = v6 ? 40 : (b[ip] & 0x0f) * 4;
  const datagramLen = v6 ? 40 + ((b[ip + 4] << 8) | b[ip + 5]) : (b[ip + 2] << 8) | b[ip + 3];
  const payload = b.subarray(ip + headerLen, ip + datagramLen);
  const out: Frame[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const chunk = payload.subarray(off, Math.min(payload.length, off + size));
    const more = off + size < payload.length;
    let packet: Uint8Array;
    if (v6) {
      const id = o.id ?? 0x0bad_cafe;
      const offFlags = off | (more ? 1 : 0);
      const fragHeader = [b[ip + 6], 0, offFlags >>> 8, offFlags & 0xff, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff];
      packet = concat(b.subarray(ip, ip + 40), fragHeader, chunk);
      packet[6] = 44;
      put16(packet, 4, 8 + chunk.length);
    } else {
      packet = concat(b.subarray(ip, ip + headerLen), chunk);
      put16(packet, 2, packet.length);
      if (o.id !== undefined) put16(packet, 4, o.id);
      put16(packet, 6, (more ? 0x2000 : 0) | (off / 8));
      put16(packet, 10, 0);
      put16(packet, 10, internetChecksum(packet.subarray(0, headerLen)));
    }
    out.push({ bytes: concat(b.subarray(0, ip), packet), linkType: frame.linkType });
  }
  return out;
}

export interface UdpSpec extends IpOptions, LinkOptions {
  sport?: number;
  dport?: number;
  payload?: Uint8Array | string;
}

/** A complete UDP frame: link + IP + UDP (+ payload), correct checksums. */
export function udpFrame(spec: UdpSpec = {}): Frame {
  const src = spec.src ?? TCP_TEMPLATE.src;
  const dst = spec.dst ?? TCP_TEMPLATE.dst;
  const datagram = udpDatagram(src, dst, spec.sport ?? 51000, spec.dport ?? 53, spec.payload ?? '');
  return linkFrame(ipPacket(PROTO.UDP, datagram, { ...spec, src, dst, df: spec.df ?? false }), spec);
}

/**
 * An Ethernet frame carrying a PPPoE session (ethertype 0x8864, session 0x0001) around an IP packet;
 * `pppProtocol` defaults to 0x0021 (IPv4) or 0x0057 (IPv6) by the packet's version nibble.
 */
export function pppoeFrame(packet: Uint8Array, o: { pppProtocol?: number; code?: number; pad?: boolean } = {}): Frame {
  const protocol = o.pppProtocol ?? (packet[0] >> 4 === 6 ? 0x0057 : 0x0021);
  const pppLen = 2 + packet.length;
  const header = [0x11, o.code ?? 0x00, 0x00, 0x01, pppLen >>> 8, pppLen & 0xff, protocol >>> 8, protocol & 0xff];
  return linkFrame(concat(header, packet), { pad: o.pad }, 0x8864);
}

/**
 * A VXLAN datagram (UDP to `dport`, default 4789, VNI 5001) carrying `inner`, a whole Ethernet frame,
 * between two tunnel endpoints, as AWS/GCP traffic mirroring sends copies.
 */
export function vxlanFrame(inner: Frame, o: { outerSrc?: string; outerDst?: string; dport?: number; flags?: number } = {}): Frame {
  if (inner.linkType !== LINKTYPE.ETHERNET) throw new Error('VXLAN carries Ethernet frames');
  const vni = 5001;
  const header = [o.flags ?? 0x08, 0, 0, 0, (vni >>> 16) & 0xff, (vni >>> 8) & 0xff, vni & 0xff, 0];
  return udpFrame({ src: o.outerSrc ?? '172.31.0.10', dst: o.outerDst ?? '172.31.0.20', sport: 49152, dport: o.dport ?? 4789, payload: concat(header, inner.bytes) });
}
