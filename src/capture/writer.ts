// Writes pcap and pcapng: fixtures for tests (gopacket's ngwrite_test style: build with the
// writer, read back with the reader) and the file behind live capture's --write.

import * as fs from 'node:fs';
import { PCAP } from './pcap.js';
import { BLOCK, EPB, OPTION, PCAPNG } from './pcapng.js';
import { LINKTYPE } from './record.js';

export interface WriterPacket {
  /** Integer microseconds since the Unix epoch. */
  tsMicros: number;
  data: Uint8Array;
  /** Original length on the wire (default data.length; larger means snaplen-cut). */
  origLen?: number;
  /** pcapng interface index within the section (default 0). */
  interfaceId?: number;
  /** pcapng: packets lost just before this one (an EPB's epb_dropcount option, an OPB's drop count). */
  droppedBefore?: number;
}

/** An interface statistics block's counters (pcapng isb_ifrecv, isb_ifdrop, isb_osdrop); the ones given are written. */
export interface PcapngStatistics {
  received?: number;
  droppedByInterface?: number;
  droppedByOs?: number;
}

export interface PcapWriteOptions {
  linkType?: number;
  nanos?: boolean;
  bigEndian?: boolean;
  /** Snap length written in the header (default 262144). Packets are not cut to it. */
  snaplen?: number;
}

export interface PcapngInterface {
  linkType: number;
  /** Raw if_tsresol byte: n means 10^-n s, 0x80|n means 2^-n s. Omitted: 6 (microseconds). */
  tsresol?: number;
  /** if_tsoffset in whole seconds, added by readers to every timestamp. */
  tsoffset?: number;
  snaplen?: number;
}

export interface PcapngWriteOptions {
  interfaces?: PcapngInterface[];
  bigEndian?: boolean;
}

const DEFAULT_SNAPLEN = 262144;

/** Encodes a classic pcap file (version 2.4). */
export function encodePcap(packets: WriterPacket[], opts: PcapWriteOptions = {}): Uint8Array {
  const out = new ByteWriter(!opts.bigEndian);
  writePcapFileHeader(out, opts.linkType ?? LINKTYPE.ETHERNET, opts.snaplen ?? DEFAULT_SNAPLEN, opts.nanos ?? false);
  for (const p of packets) {
    const [sec, frac] = splitMicros(p.tsMicros, opts.nanos ?? false);
    out.u32(sec).u32(frac).u32(p.data.length).u32(p.origLen ?? p.data.length).bytes(p.data);
  }
  return out.finish();
}

/** Encodes a one-section pcapng file: SHB, one IDB per interface, one EPB per packet. */
export function encodePcapng(packets: WriterPacket[], opts: PcapngWriteOptions = {}): Uint8Array {
  const b = new PcapngBuilder();
  b.section({ bigEndian: opts.bigEndian });
  for (const iface of opts.interfaces ?? [{ linkType: LINKTYPE.ETHERNET }]) b.iface(iface);
  for (const p of packets) b.epb(p);
  return b.finish();
}

/**
 * Block-by-block pcapng writer for fixtures that need more than encodePcapng: several sections,
 * simple/obsolete packet blocks, name resolution and statistics blocks, arbitrary blocks.
 */
export class PcapngBuilder {
  private readonly parts: Uint8Array[] = [];
  private le = true;
  private interfaces: PcapngInterface[] = [];

  /** Starts a section (byte order for all its blocks); forgets the previous section's interfaces. */
  section(opts: { bigEndian?: boolean; major?: number } = {}): this {
    this.le = !opts.bigEndian;
    this.interfaces = [];
    const body = this.writer().u32(PCAPNG.BYTE_ORDER_MAGIC).u16(opts.major ?? 1).u16(0).u32(0xffffffff).u32(0xffffffff);
    return this.block(PCAPNG.SHB, body.finish());
  }

  /** Adds an interface description; returns its index within the section. */
  iface(iface: PcapngInterface): number {
    const body = this.writer().u16(iface.linkType).u16(0).u32(iface.snaplen ?? DEFAULT_SNAPLEN);
    if (iface.tsresol !== undefined) body.u16(OPTION.IF_TSRESOL).u16(1).u8(iface.tsresol).pad4();
    if (iface.tsoffset !== undefined) body.u16(OPTION.IF_TSOFFSET).u16(8).i64(iface.tsoffset);
    if (iface.tsresol !== undefined || iface.tsoffset !== undefined) body.u16(0).u16(0);
    this.block(BLOCK.IDB, body.finish());
    this.interfaces.push(iface);
    return this.interfaces.length - 1;
  }

  /** Enhanced packet block. */
  epb(p: WriterPacket): this {
    const ifId = p.interfaceId ?? 0;
    const [high, low] = this.ticks(ifId, p.tsMicros);
    const body = this.writer().u32(ifId).u32(high).u32(low).u32(p.data.length).u32(p.origLen ?? p.data.length).bytes(p.data).pad4();
    if (p.droppedBefore !== undefined) body.u16(OPTION.EPB_DROPCOUNT).u16(8).i64(p.droppedBefore).u16(0).u16(0);
    return this.block(BLOCK.EPB, body.finish());
  }

  /** Obsolete packet block (pcapng 0.x "Packet Block"), still written by old tools. */
  opb(p: WriterPacket): this {
    const ifId = p.interfaceId ?? 0;
    const [high, low] = this.ticks(ifId, p.tsMicros);
    const body = this.writer().u16(ifId).u16(p.droppedBefore ?? 0).u32(high).u32(low).u32(p.data.length).u32(p.origLen ?? p.data.length).bytes(p.data).pad4();
    return this.block(BLOCK.OPB, body.finish());
  }

  /** Simple packet block: no timestamp, no caplen; readers cut it to interface 0's snap length. */
  spb(data: Uint8Array, origLen = data.length): this {
    return this.block(BLOCK.SPB, this.writer().u32(origLen).bytes(data).pad4().finish());
  }

  /** Name resolution block with one IPv4 record. */
  nrb(ipv4: [number, number, number, number], name: string): this {
    const nameBytes = new TextEncoder().encode(name + '\0');
    const body = this.writer().u16(1).u16(4 + nameBytes.length).bytes(Uint8Array.from(ipv4)).bytes(nameBytes).pad4().u16(0).u16(0);
    return this.block(BLOCK.NRB, body.finish());
  }

  /** Interface statistics block (timestamp in the interface's units), with the counters given. */
  isb(interfaceId: number, tsMicros: number, stats: PcapngStatistics = {}): this {
    const [high, low] = this.ticks(interfaceId, tsMicros);
    const body = this.writer().u32(interfaceId).u32(high).u32(low);
    const options: [number, number | undefined][] = [[OPTION.ISB_IFRECV, stats.received], [OPTION.ISB_IFDROP, stats.droppedByInterface], [OPTION.ISB_OSDROP, stats.droppedByOs]];
    const given = options.filter(([, v]) => v !== undefined);
    for (const [code, v] of given) body.u16(code).u16(8).i64(v!);
    if (given.length > 0) body.u16(0).u16(0);
    return this.block(BLOCK.ISB, body.finish());
  }

  /** Any block, framed with matching leading and trailing lengths; the body is padded to 4. */
  block(type: number, body: Uint8Array): this {
    const padded = (body.length + 3) & ~3;
    const out = this.writer().u32(type).u32(12 + padded).bytes(body);
    out.pad4().u32(12 + padded);
    this.parts.push(out.finish());
    return this;
  }

  /** Bytes written so far (for offsets in tests). */
  get length(): number {
    let n = 0;
    for (const p of this.parts) n += p.length;
    return n;
  }

  finish(): Uint8Array {
    return concatBytes(this.parts);
  }

  private writer(): ByteWriter {
    return new ByteWriter(this.le);
  }

  /** Timestamp in the interface's units as [high, low] 32-bit words. */
  private ticks(ifId: number, tsMicros: number): [number, number] {
    const iface = this.interfaces[ifId] ?? { linkType: 0 };
    const micros = BigInt(tsMicros) - BigInt(iface.tsoffset ?? 0) * 1_000_000n;
    if (micros < 0n) throw new RangeError(`timestamp ${tsMicros} is before the interface's tsoffset`);
    const v = iface.tsresol ?? 6;
    const perSecond = v & 0x80 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v);
    // Round up when ticks are finer than microseconds, so readers that round down get tsMicros back.
    const t = (micros * perSecond + 999_999n) / 1_000_000n;
    if (t >= 1n << 64n) throw new RangeError(`timestamp ${tsMicros} does not fit in 64 bits at if_tsresol ${v}; use a tsoffset`);
    return [Number(t >> 32n), Number(t & 0xffffffffn)];
  }
}

/** The counts a capture file's statistics keep when it is closed (pcapng only). */
export interface CaptureFileStatistics {
  /** Packets the file holds (isb_ifrecv, as dumpcap counts them: received and kept), and those the kernel dropped (libpcap's ps_drop; null when unknown). */
  received: number;
  dropped: number | null;
}

/**
 * Streams a capture file to an open descriptor (live capture's --write): pcap, or pcapng with an
 * interface statistics block at the end that keeps the kernel's drop count. Records are gathered
 * in a 1 MiB buffer and written in one syscall per buffer. Owns the descriptor unless keepOpen.
 */
export class CaptureFileWriter {
  private readonly buf = new Uint8Array(1 << 20);
  private readonly view = new DataView(this.buf.buffer);
  private used = 0;
  private readonly snaplen: number;
  private readonly keepOpen: boolean;
  private readonly pcapng: boolean;
  /** Bytes of a record before its data, and after it (a pcapng block's trailing length). */
  private readonly recordHeaderLen: number;
  private readonly recordTrailerLen: number;
  private lastTsMicros = 0;
  private closed = false;

  constructor(
    private readonly fd: number,
    opts: { linkType: number; snaplen?: number; keepOpen?: boolean; format?: 'pcap' | 'pcapng' },
  ) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.keepOpen = opts.keepOpen ?? false;
    this.pcapng = opts.format === 'pcapng';
    this.recordHeaderLen = this.pcapng ? EPB.DATA : PCAP.RECORD_HEADER_LEN;
    this.recordTrailerLen = this.pcapng ? 4 : 0;
    let header: Uint8Array;
    if (this.pcapng) {
      const b = new PcapngBuilder().section();
      b.iface({ linkType: opts.linkType, snaplen: this.snaplen });
      header = b.finish();
    } else {
      const out = new ByteWriter(true);
      writePcapFileHeader(out, opts.linkType, this.snaplen, false);
      header = out.finish();
    }
    this.buf.set(header, 0);
    this.used = header.length;
  }

  /** Appends one packet data[off, end), cut to the snap length; origLen is the length on the wire. */
  write(tsMicros: number, data: Uint8Array, off: number, end: number, origLen: number): void {
    if (this.closed) throw new Error('CaptureFileWriter: write after close');
    const caplen = Math.min(end - off, this.snaplen);
    const padding = this.pcapng ? ((caplen + 3) & ~3) - caplen : 0;
    const need = this.recordHeaderLen + caplen + padding + this.recordTrailerLen;
    if (this.used + need > this.buf.length) this.flush();
    const v = this.view;
    const p = this.used;
    this.lastTsMicros = tsMicros;
    if (this.pcapng) {
      // Enhanced packet block, interface 0, microsecond ticks.
      v.setUint32(p, BLOCK.EPB, true);
      v.setUint32(p + 4, need, true);
      v.setUint32(p + EPB.INTERFACE, 0, true);
      v.setUint32(p + EPB.TS_HIGH, Math.floor(tsMicros / 4294967296), true);
      v.setUint32(p + EPB.TS_LOW, tsMicros % 4294967296, true);
      v.setUint32(p + EPB.CAPLEN, caplen, true);
      v.setUint32(p + EPB.ORIGLEN, origLen, true);
    } else {
      const sec = Math.floor(tsMicros / 1_000_000);
      v.setUint32(p, sec, true);
      v.setUint32(p + 4, tsMicros - sec * 1_000_000, true);
      v.setUint32(p + 8, caplen, true);
      v.setUint32(p + 12, origLen, true);
    }
    this.used += this.recordHeaderLen;
    if (need > this.buf.length) {
      // Only possible with a snap length above the buffer size: write the packet straight through.
      this.flush();
      writeAll(this.fd, data, off, caplen);
      this.tail(padding, need);
      this.flush();
      return;
    }
    this.buf.set(data.subarray(off, off + caplen), this.used);
    this.used += caplen;
    this.tail(padding, need);
  }

  flush(): void {
    if (this.used === 0) return;
    writeAll(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  /** Writes what is buffered and, in pcapng, the statistics given; closes the descriptor unless keepOpen. */
  close(statistics?: CaptureFileStatistics): void {
    if (this.closed) return;
    if (this.pcapng && statistics) {
      // dumpcap's way: libpcap's kernel drops as isb_ifdrop, stamped with the last packet's time.
      const stats: PcapngStatistics = { received: statistics.received };
      if (statistics.dropped !== null) stats.droppedByInterface = statistics.dropped;
      const isb = new PcapngBuilder().isb(0, this.lastTsMicros, stats).finish();
      this.flush();
      writeAll(this.fd, isb, 0, isb.length);
    }
    this.flush();
    this.closed = true;
    if (!this.keepOpen) fs.closeSync(this.fd);
  }

  /** A pcapng block's padding after its data and its trailing length (nothing in pcap). */
  private tail(padding: number, blockLen: number): void {
    for (let i = 0; i < padding; i++) this.buf[this.used++] = 0;
    if (this.recordTrailerLen > 0) {
      this.view.setUint32(this.used, blockLen, true);
      this.used += 4;
    }
  }
}

function writeAll(fd: number, b: Uint8Array, off: number, len: number): void {
  let done = 0;
  while (done < len) done += fs.writeSync(fd, b, off + done, len - done);
}

function writePcapFileHeader(out: ByteWriter, linkType: number, snaplen: number, nanos: boolean): void {
  out.u32(nanos ? PCAP.MAGIC_NANOS : PCAP.MAGIC_MICROS).u16(2).u16(4).u32(0).u32(0).u32(snaplen).u32(linkType);
}

function splitMicros(tsMicros: number, nanos: boolean): [number, number] {
  const sec = Math.floor(tsMicros / 1_000_000);
  const micros = tsMicros - sec * 1_000_000;
  return [sec, nanos ? micros * 1000 : micros];
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Growable little/big-endian byte sink for building headers and blocks. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private n = 0;

  constructor(private readonly le: boolean) {}

  u8(v: number): this {
    this.room(1);
    this.view.setUint8(this.n, v);
    this.n += 1;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.view.setUint16(this.n, v, this.le);
    this.n += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.view.setUint32(this.n, v >>> 0, this.le);
    this.n += 4;
    return this;
  }
  i64(v: number): this {
    this.room(8);
    this.view.setBigInt64(this.n, BigInt(v), this.le);
    this.n += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }
  pad4(): this {
    while (this.n % 4 !== 0) this.u8(0);
    return this;
  }
  /** Bytes written so far. */
  get length(): number {
    return this.n;
  }
  /** Overwrites the 32-bit word at `at` (a block length known only once its body is written). */
  setU32(at: number, v: number, le = this.le): void {
    this.view.setUint32(at, v >>> 0, le);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + k) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.buf.subarray(0, this.n));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}
