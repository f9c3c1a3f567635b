// Seeded mutations of capture files, shared by the capture fuzz test and any pipeline-level fuzz.
// Deterministic: the same seed gives the same mutated bytes, so a failure names its seed.

import { ByteWriter } from '../../src/capture/writer.js';
import { concat } from './packets.js';

/** mulberry32: a tiny 32-bit PRNG, good enough to spread mutations, returns [0, 1). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MUTATION = {
  TRUNCATE: 'truncate',
  BIT_FLIP: 'bit-flip',
  LENGTH_ZERO: 'length-zero',
  LENGTH_MAX: 'length-max',
  LENGTH_RANDOM: 'length-random',
} as const;
export type MutationKind = (typeof MUTATION)[keyof typeof MUTATION];

export interface Mutant {
  bytes: Uint8Array;
  kind: MutationKind;
  /** e.g. "length-max at 0x1a4 (pcapng block length)": enough to rebuild the case by hand. */
  description: string;
}

function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

/**
 * Offsets of the 32-bit length fields in a pcap (caplen, origLen per record) or pcapng file
 * (leading and trailing block length; EPB/OPB caplen and origLen), found by a walk that
 * trusts the lengths and stops at the first one that makes no sense.
 */
export function lengthFieldOffsets(b: Uint8Array): { offset: number; littleEndian: boolean; what: string }[] {
  const out: { offset: number; littleEndian: boolean; what: string }[] = [];
  if (b.length < 24) return out;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magicLE = dv.getUint32(0, true);
  if (magicLE === 0x0a0d0d0a) {
    let le = true;
    let p = 0;
    while (p + 12 <= b.length) {
      const type = dv.getUint32(p, le);
      if (type === 0x0a0d0d0a) le = dv.getUint32(p + 8, true) === 0x1a2b3c4d;
      const len = dv.getUint32(p + 4, le);
      if (len < 12 || len % 4 !== 0 || p + len > b.length) break;
      out.push({ offset: p + 4, littleEndian: le, what: 'pcapng block length' });
      out.push({ offset: p + len - 4, littleEndian: le, what: 'pcapng trailing block length' });
      if ((type === 6 || type === 2) && len >= 32) {
        out.push({ offset: p + 20, littleEndian: le, what: 'pcapng packet caplen' });
        out.push({ offset: p + 24, littleEndian: le, what: 'pcapng packet origLen' });
      }
      if (type === 3 && len >= 16) out.push({ offset: p + 8, littleEndian: le, what: 'pcapng simple packet origLen' });
      p += len;
    }
    return out;
  }
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  let p = 24;
  while (p + 16 <= b.length) {
    const caplen = dv.getUint32(p + 8, le);
    out.push({ offset: p + 8, littleEndian: le, what: 'pcap record caplen' });
    out.push({ offset: p + 12, littleEndian: le, what: 'pcap record origLen' });
    if (caplen > 262144) break;
    p += 16 + caplen;
  }
  return out;
}

/** One seeded mutation of a capture: truncation, a bit flip, or a length field set to 0 / max / random. */
export function mutateCapture(source: Uint8Array, rng: () => number): Mutant {
  const bytes = source.slice();
  const roll = rng();
  if (roll < 0.25 || source.length === 0) {
    const at = randInt(rng, source.length + 1);
    return { bytes: bytes.subarray(0, at), kind: MUTATION.TRUNCATE, description: `truncate at ${at} of ${source.length}` };
  }
  if (roll < 0.5) {
    const flips = 1 + randInt(rng, 4);
    const where: string[] = [];
    for (let i = 0; i < flips; i++) {
      const at = randInt(rng, bytes.length);
      const bit = randInt(rng, 8);
      bytes[at] ^= 1 << bit;
      where.push(`0x${at.toString(16)}.${bit}`);
    }
    return { bytes, kind: MUTATION.BIT_FLIP, description: `bit flips at ${where.join(', ')}` };
  }
  const fields = lengthFieldOffsets(source);
  if (fields.length === 0) {
    const at = randInt(rng, source.length + 1);
    return { bytes: bytes.subarray(0, at), kind: MUTATION.TRUNCATE, description: `truncate at ${at} of ${source.length} (no length fields)` };
  }
  const field = fields[randInt(rng, fields.length)];
  const kinds = [MUTATION.LENGTH_ZERO, MUTATION.LENGTH_MAX, MUTATION.LENGTH_RANDOM] as const;
  const kind = kinds[randInt(rng, kinds.length)];
  const value = kind === MUTATION.LENGTH_ZERO ? 0 : kind === MUTATION.LENGTH_MAX ? 0xffffffff : Math.floor(rng() * 4294967296);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(field.offset, value, field.littleEndian);
  return { bytes, kind, description: `${kind} ${value} at 0x${field.offset.toString(16)} (${field.what})` };
}

/** `count` mutants drawn round-robin from the sources, reproducible from `seed`. */
export function* generateMutants(sources: Uint8Array[], count: number, seed: number): Generator<Mutant & { seed: number; source: number }> {
  for (let i = 0; i < count; i++) {
    const caseSeed = (seed + i * 0x9e3779b9) >>> 0;
    const rng = createRng(caseSeed);
    const source = i % sources.length;
    yield { ...mutateCapture(sources[source], rng), seed: caseSeed, source };
  }
}

// ---------------------------------------------------------------------------------------------
// Structure-aware mutations. A capture is read into a model (its packets, their link types and
// times), one field of the structure is changed, and the file is written again with every length
// consistent, so the reader gets past the framing and meets the mutated field itself: pcapng
// if_tsresol, if_tsoffset, option lengths, interface ids, section byte order, SPB/EPB/OPB block
// kinds; pcap header fields; IPv4 IHL, TCP data offset, IPv6 extension chains, VLAN depth, ICMP
// quotes in the packets.

/** One packet of the model: its bytes as captured and where it came from. */
export interface ModelPacket {
  tsMicros: number;
  data: Uint8Array;
  origLen: number;
  linkType: number;
}

export const STRUCTURE = {
  TSRESOL: 'if-tsresol',
  TSOFFSET: 'if-tsoffset',
  OPTION_LENGTH: 'option-length',
  INTERFACE_ID: 'interface-id',
  BYTE_ORDER: 'byte-order',
  BLOCK_KIND: 'block-kind',
  PCAP_HEADER: 'pcap-header',
  IPV4_IHL: 'ipv4-ihl',
  TCP_OFFSET: 'tcp-data-offset',
  IPV6_EXTENSIONS: 'ipv6-extensions',
  VLAN_DEPTH: 'vlan-depth',
  ICMP_QUOTE: 'icmp-quote',
} as const;
export type StructureKind = (typeof STRUCTURE)[keyof typeof STRUCTURE];

const PCAPNG_KINDS: StructureKind[] = [STRUCTURE.TSRESOL, STRUCTURE.TSOFFSET, STRUCTURE.OPTION_LENGTH, STRUCTURE.INTERFACE_ID, STRUCTURE.BYTE_ORDER, STRUCTURE.BLOCK_KIND];
const PACKET_KINDS: StructureKind[] = [STRUCTURE.IPV4_IHL, STRUCTURE.TCP_OFFSET, STRUCTURE.IPV6_EXTENSIONS, STRUCTURE.VLAN_DEPTH, STRUCTURE.ICMP_QUOTE];

/** An interface description as written: link type and raw options (code, value). */
interface ModelIface {
  linkType: number;
  snaplen: number;
  options: { code: number; value: Uint8Array; lengthLie?: number }[];
}

type BlockKind = 'epb' | 'spb' | 'opb';

/** A pcapng block: type, body, both lengths. */
function block(out: ByteWriter, type: number, body: (o: ByteWriter) => void): void {
  const start = out.length;
  out.u32(type).u32(0);
  body(out);
  out.pad4();
  const total = out.length - start + 4;
  out.u32(total);
  out.setU32(start + 4, total);
}

interface PcapngPlan {
  bigEndian: boolean;
  /** The SHB's byte-order magic written in the other order than the blocks (a lying section). */
  lyingByteOrder: boolean;
  ifaces: ModelIface[];
  /** Per packet: block kind and the interface id written. */
  kinds: BlockKind[];
  ifIds: number[];
}

function encodePcapngPlan(packets: ModelPacket[], plan: PcapngPlan, ifaceOf: (p: ModelPacket) => number): Uint8Array {
  const out = new ByteWriter(!plan.bigEndian);
  block(out, 0x0a0d0d0a, (o) => {
    const magicAt = o.length;
    o.u32(0x1a2b3c4d).u16(1).u16(0).i64(-1);
    if (plan.lyingByteOrder) o.setU32(magicAt, 0x1a2b3c4d, plan.bigEndian);
  });
  for (const iface of plan.ifaces) {
    block(out, 1, (o) => {
      o.u16(iface.linkType).u16(0).u32(iface.snaplen);
      if (iface.options.length === 0) return;
      for (const opt of iface.options) o.u16(opt.code).u16(opt.lengthLie ?? opt.value.length).bytes(opt.value).pad4();
      o.u16(0).u16(0);
    });
  }
  packets.forEach((p, i) => {
    const ticks = BigInt(Math.round(p.tsMicros));
    const ifId = plan.ifIds[i] ?? ifaceOf(p);
    const kind = plan.kinds[i] ?? 'epb';
    if (kind === 'spb') block(out, 3, (o) => o.u32(p.origLen).bytes(p.data));
    else if (kind === 'opb') block(out, 2, (o) => o.u16(ifId).u16(0).u32(Number(ticks >> 32n)).u32(Number(ticks & 0xffffffffn)).u32(p.data.length).u32(p.origLen).bytes(p.data));
    else block(out, 6, (o) => o.u32(ifId).u32(Number(ticks >> 32n)).u32(Number(ticks & 0xffffffffn)).u32(p.data.length).u32(p.origLen).bytes(p.data));
  });
  return out.finish();
}

const PCAP_MAGICS = [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34, 0x4d3cb2a1, 0xd4c3b2a1, 0x12345678];
const LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 276, 228, 229, 147, 0xffff];

function encodePcapVariant(packets: ModelPacket[], rng: () => number, what: string[]): Uint8Array {
  const linkType = packets[0].linkType;
  const le = rng() < 0.7;
  const out = new ByteWriter(le);
  const r = rng();
  let magic = 0xa1b2c3d4;
  let major = 2;
  let minor = 4;
  let snaplen = 262144;
  let link = linkType;
  let zone = 0;
  let sigfigs = 0;
  if (r < 0.2) {
    magic = PCAP_MAGICS[randInt(rng, PCAP_MAGICS.length)];
    what.push(`magic 0x${magic.toString(16)}`);
  } else if (r < 0.35) {
    [major, minor] = [[2, 4], [2, 2], [1, 0], [3, 0], [randInt(rng, 65536), randInt(rng, 65536)]][randInt(rng, 5)];
    what.push(`version ${major}.${minor}`);
  } else if (r < 0.6) {
    snaplen = [0, 1, 14, 40, 64, 0xffffffff, randInt(rng, 4294967296)][randInt(rng, 7)];
    what.push(`snaplen ${snaplen}`);
  } else if (r < 0.85) {
    link = LINK_TYPES[randInt(rng, LINK_TYPES.length)];
    what.push(`link type ${link}`);
  } else {
    zone = randInt(rng, 4294967296);
    sigfigs = randInt(rng, 4294967296);
    what.push(`thiszone ${zone} sigfigs ${sigfigs}`);
  }
  const nanos = magic === 0xa1b23c4d;
  out.u32(magic).u16(major).u16(minor).u32(zone).u32(sigfigs).u32(snaplen).u32(link);
  // An odd fraction now and then: above a second's worth, as broken writers leave.
  const oddFraction = rng() < 0.2;
  if (oddFraction) what.push('fractions over one second');
  for (const p of packets) {
    const sec = Math.floor(p.tsMicros / 1e6);
    const micros = p.tsMicros - sec * 1e6;
    const frac = oddFraction ? 1e6 + randInt(rng, 4e9) : nanos ? micros * 1000 : micros;
    out.u32(sec).u32(frac).u32(p.data.length).u32(p.origLen).bytes(p.data);
  }
  return out.finish();
}

/** Where the IP header starts in a frame of this link type (after VLAN tags), or -1. */
function ipOffset(data: Uint8Array, linkType: number): { at: number; version: number } {
  let at: number;
  let type: number;
  if (linkType === 1) {
    at = 12;
    type = (data[at] << 8) | data[at + 1];
    while ((type === 0x8100 || type === 0x88a8 || type === 0x9100) && at + 6 <= data.length) {
      at += 4;
      type = (data[at] << 8) | data[at + 1];
    }
    at += 2;
  } else if (linkType === 113) {
    at = 16;
    type = (data[14] << 8) | data[15];
  } else if (linkType === 101 || linkType === 12 || linkType === 14) {
    at = 0;
    type = (data[0] >> 4) === 6 ? 0x86dd : 0x0800;
  } else if (linkType === 0 || linkType === 108) {
    at = 4;
    type = (data[4] >> 4) === 6 ? 0x86dd : 0x0800;
  } else return { at: -1, version: 0 };
  if (at >= data.length) return { at: -1, version: 0 };
  if (type === 0x0800 && data[at] >> 4 === 4) return { at, version: 4 };
  if (type === 0x86dd && data[at] >> 4 === 6) return { at, version: 6 };
  return { at: -1, version: 0 };
}

function splice(data: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length - remove + insert.length);
  out.set(data.subarray(0, at));
  out.set(insert, at);
  out.set(data.subarray(at + remove), at + insert.length);
  return out;
}

/** The packet with its IPv4 header replaced by the IPv6 header saying the same; null for link types without an EtherType. */
function asIpv6(p: ModelPacket, at: number): ModelPacket | null {
  const d = p.data;
  const ihl = (d[at] & 0x0f) * 4;
  if (ihl < 20 || at + ihl > d.length) return null;
  const typeAt = p.linkType === 1 || p.linkType === 113 ? at - 2 : -1;
  if (typeAt < 0 && p.linkType !== 101 && p.linkType !== 12 && p.linkType !== 14) return null;
  const ip6 = new Uint8Array(40);
  ip6[0] = 0x60;
  const payload = Math.max(0, ((d[at + 2] << 8) | d[at + 3]) - ihl);
  ip6[4] = payload >> 8;
  ip6[5] = payload & 0xff;
  ip6[6] = d[at + 9];
  ip6[7] = d[at + 8];
  for (const [from, to] of [
    [at + 12, 8],
    [at + 16, 24],
  ]) {
    ip6.set([0x20, 0x01, 0x0d, 0xb8], to);
    ip6.set(d.subarray(from, from + 4), to + 12);
  }
  const data = splice(d, at, ihl, ip6);
  if (typeAt >= 0) {
    data[typeAt] = 0x86;
    data[typeAt + 1] = 0xdd;
  }
  return { ...p, data, origLen: p.origLen + data.length - d.length };
}

/** One structural change to one packet's headers; null when the packet has no such header. */
function mutatePacket(p: ModelPacket, kind: StructureKind, rng: () => number): { packet: ModelPacket; what: string } | null {
  const { at, version } = ipOffset(p.data, p.linkType);
  const grown = (data: Uint8Array): ModelPacket => ({ ...p, data, origLen: p.origLen + data.length - p.data.length });
  if (kind === STRUCTURE.VLAN_DEPTH) {
    if (p.linkType !== 1 || p.data.length < 14) return null;
    const depth = 1 + randInt(rng, 12);
    const tags = new Uint8Array(depth * 4);
    for (let i = 0; i < depth; i++) {
      const tpid = [0x8100, 0x88a8, 0x9100][randInt(rng, 3)];
      tags[i * 4] = tpid >> 8;
      tags[i * 4 + 1] = tpid & 0xff;
      tags[i * 4 + 2] = randInt(rng, 256);
      tags[i * 4 + 3] = randInt(rng, 256);
    }
    return { packet: grown(splice(p.data, 12, 0, tags)), what: `${depth} VLAN tags` };
  }
  if (at < 0) return null;
  const data = p.data.slice();
  if (kind === STRUCTURE.IPV4_IHL) {
    if (version !== 4) return null;
    const ihl = randInt(rng, 16);
    data[at] = 0x40 | ihl;
    return { packet: { ...p, data }, what: `IPv4 IHL ${ihl}` };
  }
  const transport = version === 4 ? at + (data[at] & 0x0f) * 4 : at + 40;
  const proto = version === 4 ? data[at + 9] : data[at + 6];
  if (kind === STRUCTURE.TCP_OFFSET) {
    if (proto !== 6 || transport + 13 > data.length) return null;
    const offset = randInt(rng, 16);
    data[transport + 12] = (offset << 4) | (data[transport + 12] & 0x0f);
    return { packet: { ...p, data }, what: `TCP data offset ${offset}` };
  }
  if (kind === STRUCTURE.IPV6_EXTENSIONS) {
    if (version === 4) {
      // An IPv4 packet is first carried over IPv6 (addresses 2001:db8::a.b.c.d), so the captures
      // without IPv6 get chains too.
      const v6 = asIpv6(p, at);
      return v6 ? mutatePacket(v6, kind, rng) : null;
    }
    if (version !== 6 || transport > data.length) return null;
    const count = 1 + randInt(rng, 6);
    const chain: number[] = [];
    const parts: Uint8Array[] = [];
    let next = proto;
    for (let i = count - 1; i >= 0; i--) {
      const type = [0, 43, 44, 60, 51, 135, 59][randInt(rng, 7)];
      // Fragment headers are 8 bytes; the others 8 * (1 + len) bytes, with a lying length now and then.
      const units = type === 44 ? 0 : randInt(rng, 3);
      const ext = new Uint8Array(8 * (1 + units));
      ext[0] = next;
      ext[1] = type === 44 ? 0 : rng() < 0.1 ? randInt(rng, 256) : units;
      for (let j = 2; j < ext.length; j++) ext[j] = type === 44 && j < 4 ? 0 : randInt(rng, 256);
      parts.unshift(ext);
      chain.unshift(type);
      next = type;
    }
    const ext = concat(...parts);
    const total = ext.length;
    const out = splice(data, transport, 0, ext);
    out[at + 6] = next;
    const payload = ((out[at + 4] << 8) | out[at + 5]) + total;
    out[at + 4] = (payload >> 8) & 0xff;
    out[at + 5] = payload & 0xff;
    return { packet: grown(out), what: `IPv6 extension chain ${chain.join(',')} before ${proto}` };
  }
  if (kind === STRUCTURE.ICMP_QUOTE) {
    if (version !== 4 || proto !== 6 || transport > data.length) return null;
    // An ICMP error about this very segment, sent back to its source, quoting its IP header and a
    // random share of what follows; then one field of the quote is broken.
    const quoteLen = Math.min(data.length - at, transport - at + randInt(rng, 40));
    const quote = data.slice(at, at + quoteLen);
    const broken = randInt(rng, 4);
    let what: string;
    if (broken === 0) {
      quote[0] = 0x40 | randInt(rng, 16);
      what = `quoted IHL ${quote[0] & 0x0f}`;
    } else if (broken === 1) {
      quote[9] = [1, 6, 17, 41, 58, randInt(rng, 256)][randInt(rng, 6)];
      what = `quoted protocol ${quote[9]}`;
    } else if (broken === 2) {
      quote[2] = randInt(rng, 256);
      quote[3] = randInt(rng, 256);
      what = `quoted total length ${(quote[2] << 8) | quote[3]}`;
    } else what = `quote of ${quoteLen} bytes`;
    const ihl = 20;
    const ip = new Uint8Array(ihl + 8 + quote.length);
    ip[0] = 0x45;
    ip[2] = ip.length >> 8;
    ip[3] = ip.length & 0xff;
    ip[8] = 64;
    ip[9] = 1;
    ip.set(data.subarray(at + 16, at + 20), 12); // from the segment's destination
    ip.set(data.subarray(at + 12, at + 16), 16); // to its source
    ip[ihl] = [3, 11, 12, 4][randInt(rng, 4)];
    ip[ihl + 1] = randInt(rng, 16);
    ip.set(quote, ihl + 8);
    const frame = splice(data, at, data.length - at, ip);
    return { packet: { ...p, data: frame, origLen: frame.length }, what: `ICMP ${ip[ihl]}/${ip[ihl + 1]}, ${what}` };
  }
  return null;
}

export interface StructureMutant {
  bytes: Uint8Array;
  kind: StructureKind;
  description: string;
  /**
   * The mutant says exactly what encodeStructure(packets) says, in another encoding (a big-endian
   * section, packets in obsolete packet blocks): a reader must give the same packets, times and all.
   */
  sameAsSource: boolean;
}

/** The packets as a plain little-endian pcapng file (one interface per link type, EPBs), as mutateStructure writes them before changing anything. */
export function encodeStructure(packets: ModelPacket[]): Uint8Array {
  const linkTypes = [...new Set(packets.map((p) => p.linkType))];
  const ifaces: ModelIface[] = linkTypes.map((linkType) => ({ linkType, snaplen: 262144, options: [{ code: 9, value: Uint8Array.of(6) }] }));
  return encodePcapngPlan(packets, { bigEndian: false, lyingByteOrder: false, ifaces, kinds: [], ifIds: [] }, (p) => linkTypes.indexOf(p.linkType));
}

/**
 * One seeded structural mutant of a capture's packets: the packets written back as pcapng or pcap
 * with one structure field changed, or with the headers of some packets changed.
 */
export function mutateStructure(packets: ModelPacket[], rng: () => number): StructureMutant {
  const roll = rng();
  const what: string[] = [];
  if (roll < 0.15) return { bytes: encodePcapVariant(packets, rng, what), kind: STRUCTURE.PCAP_HEADER, description: what.join(', '), sameAsSource: false };
  let model = packets;
  let kind: StructureKind;
  if (roll < 0.55) {
    kind = PACKET_KINDS[randInt(rng, PACKET_KINDS.length)];
    // A few packets of the capture, or every one that has the header.
    const share = rng() < 0.3 ? 1 : 0.1;
    let changed = 0;
    model = packets.map((p, i) => {
      if (rng() >= share) return p;
      const m = mutatePacket(p, kind, rng);
      if (!m) return p;
      if (changed++ < 3) what.push(`packet ${i + 1}: ${m.what}`);
      return m.packet;
    });
    if (changed > 3) what.push(`and ${changed - 3} more`);
    if (changed === 0) what.push('no packet had the header');
  } else kind = PCAPNG_KINDS[randInt(rng, PCAPNG_KINDS.length)];
  // Interfaces: one per link type, options as a capture tool writes them.
  const linkTypes = [...new Set(model.map((p) => p.linkType))];
  const ifaces: ModelIface[] = linkTypes.map((linkType) => ({ linkType, snaplen: 262144, options: [{ code: 9, value: Uint8Array.of(6) }] }));
  const plan: PcapngPlan = { bigEndian: rng() < 0.3, lyingByteOrder: false, ifaces, kinds: [], ifIds: [] };
  const target = ifaces[randInt(rng, ifaces.length)];
  if (kind === STRUCTURE.TSRESOL) {
    const v = randInt(rng, 256);
    target.options[0].value = Uint8Array.of(v);
    what.push(`if_tsresol 0x${v.toString(16).padStart(2, '0')}`);
  } else if (kind === STRUCTURE.TSOFFSET) {
    const v = [2n ** 63n - 1n, -(2n ** 63n), 2n ** 62n, -(2n ** 62n), 2n ** 40n, -(2n ** 40n), BigInt(randInt(rng, 4294967296)) << 31n][randInt(rng, 7)];
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigInt64(0, v, !plan.bigEndian);
    target.options.push({ code: 14, value });
    what.push(`if_tsoffset ${v}`);
  } else if (kind === STRUCTURE.OPTION_LENGTH) {
    target.options.push({ code: 2, value: new TextEncoder().encode('eth0') });
    const opt = target.options[randInt(rng, target.options.length)];
    opt.lengthLie = [0, 1, 3, 5, 8, 0xfffc, 0xffff, randInt(rng, 65536)][randInt(rng, 8)];
    what.push(`option ${opt.code} length ${opt.lengthLie} (holds ${opt.value.length})`);
  } else if (kind === STRUCTURE.INTERFACE_ID) {
    const ids = [ifaces.length, ifaces.length + 1, 0xffff, 0xffffffff, randInt(rng, 4294967296)];
    let changed = 0;
    for (let i = 0; i < model.length; i++) {
      if (rng() < 0.2) {
        plan.ifIds[i] = ids[randInt(rng, ids.length)];
        changed++;
      }
    }
    what.push(`${changed} packets on interfaces not described`);
  } else if (kind === STRUCTURE.BYTE_ORDER) {
    plan.bigEndian = !plan.bigEndian;
    plan.lyingByteOrder = rng() < 0.5;
    what.push(plan.lyingByteOrder ? 'section magic in the other byte order than its blocks' : `${plan.bigEndian ? 'big' : 'little'}-endian section`);
  } else if (kind === STRUCTURE.BLOCK_KIND) {
    const to: BlockKind[] = ['spb', 'opb', 'epb'];
    const counts: Record<string, number> = {};
    for (let i = 0; i < model.length; i++) {
      if (rng() < 0.4) {
        const k = to[randInt(rng, 3)];
        plan.kinds[i] = k;
        counts[k] = (counts[k] ?? 0) + 1;
      }
    }
    what.push(`packets as ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ') || 'epb'}`);
  }
  const ifaceOf = (p: ModelPacket) => linkTypes.indexOf(p.linkType);
  const sameAsSource = (kind === STRUCTURE.BYTE_ORDER && !plan.lyingByteOrder) || (kind === STRUCTURE.BLOCK_KIND && !plan.kinds.includes('spb'));
  return { bytes: encodePcapngPlan(model, plan, ifaceOf), kind, description: what.join('; '), sameAsSource };
}
