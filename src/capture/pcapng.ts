// pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks framed as
// type(4) totalLength(4) body totalLength(4). Each Section Header Block sets the byte order and
// starts a fresh list of interfaces; packet blocks point into that list.

import { hex32, i64, u16, u32, u32be, u32le, u64 } from './bytes.js';
import { CAPTURE_DIAG, CORRUPT_FROM_HERE, CUT_SHORT, OPEN_ERROR } from './codes.js';
import type { ParseContext, RecordWalker } from './context.js';
import { CaptureOpenError } from './record.js';

export const PCAPNG = {
  /** Block type of the Section Header Block, also the file magic; a byte palindrome. */
  SHB: 0x0a0d0d0a,
  BYTE_ORDER_MAGIC: 0x1a2b3c4d,
  MIN_BLOCK_LEN: 12,
  MIN_SHB_LEN: 28,
  /** Wireshark's MAX_BLOCK_SIZE is 16 MiB too; beyond that the framing is assumed lost. */
  MAX_BLOCK_LEN: 16 * 1024 * 1024,
} as const;

export const BLOCK = {
  IDB: 1,
  OPB: 2,
  SPB: 3,
  NRB: 4,
  ISB: 5,
  EPB: 6,
  DSB: 0x0a,
  CUSTOM: 0xbad,
  CUSTOM_NO_COPY: 0x40000bad,
} as const;

/** Field offsets from the start of each block (type at 0, total length at 4). */
const SHB = { BYTE_ORDER: 8, MAJOR: 12 } as const;
const IDB = { LINKTYPE: 8, SNAPLEN: 12, OPTIONS: 16, MIN_LEN: 20 } as const;
export const EPB = { INTERFACE: 8, TS_HIGH: 12, TS_LOW: 16, CAPLEN: 20, ORIGLEN: 24, DATA: 28, MIN_LEN: 32 } as const;
const OPB = { INTERFACE: 8, DROPS: 10, TS_HIGH: 12, TS_LOW: 16, CAPLEN: 20, ORIGLEN: 24, DATA: 28, MIN_LEN: 32 } as const;
const SPB = { ORIGLEN: 8, DATA: 12, MIN_LEN: 16 } as const;
const ISB = { INTERFACE: 8, OPTIONS: 20, MIN_LEN: 24 } as const;
export const OPTION = { END: 0, IF_TSRESOL: 9, IF_TSOFFSET: 14, EPB_DROPCOUNT: 4, ISB_IFRECV: 4, ISB_IFDROP: 5, ISB_OSDROP: 7 } as const;
/** The interface statistics' counts the analysis takes, by option code, as diagnostics name them. */
const ISB_COUNT_NAMES: Record<number, string> = { [OPTION.ISB_IFRECV]: 'isb_ifrecv', [OPTION.ISB_IFDROP]: 'isb_ifdrop', [OPTION.ISB_OSDROP]: 'isb_osdrop' };
/** An obsolete packet block's drop count when its writer did not know it. */
const OPB_DROPS_UNKNOWN = 0xffff;
/** A 64-bit count of all ones: unknown to its writer. */
const UNKNOWN_COUNT = -2;

interface SectionDrops {
  packets: number;
  inStatistics: number;
  beforePackets: number;
  interfaces: number;
  counted: number;
  largerCapture: { interfaces: number; received: number; held: number; dropped: number };
}

const noDrops = (): SectionDrops => ({ packets: 0, inStatistics: 0, beforePackets: 0, interfaces: 0, counted: 0, largerCapture: { interfaces: 0, received: 0, held: 0, dropped: 0 } });

/** How an interface's timestamp units become microseconds. */
const TS_UNIT = { MICROS: 0, NANOS: 1, OTHER: 2 } as const;

export class PcapngWalker implements RecordWalker {
  headerDone = false;
  private littleEndian = true;
  // Interfaces of the current section, as parallel arrays reused across sections.
  private ifCount = 0;
  private readonly ifLinkType: number[] = [];
  private readonly ifSnaplen: number[] = [];
  private readonly ifTsUnit: number[] = [];
  private readonly ifTicksPerSecond: bigint[] = [];
  private readonly ifTsOffsetMicros: number[] = [];
  private interfacesInFile = 0;
  // Drop counts, per interface of the current section (see sectionDrops).
  /** Packets delivered. */
  private readonly ifPackets: number[] = [];
  /** Each interface's last packet delivered and its time (0: none yet): a drop count's losses came after it. */
  private readonly ifLastPacket: number[] = [];
  private readonly ifLastTs: number[] = [];
  /** Drops and packets received as the latest statistics block counts them, from the capture's start (-1: none yet). */
  private readonly ifDropped: number[] = [];
  private readonly ifReceived: number[] = [];
  /** Drops as packet blocks count them, summed, and whether any packet block gave a count (0 included). */
  private readonly ifDroppedBefore: number[] = [];
  private readonly ifCountedBefore: boolean[] = [];
  /** The sections already ended, summed. */
  private endedDrops: SectionDrops = noDrops();
  private firstAfterLoss = 0;
  /** Each interface's drop count for its next packet (PacketRecord.droppedBefore): a block whose packet is skipped leaves its count to that. */
  private readonly ifDroppedPending: number[] = [];
  /** Whether any block said anything of drops: only then does the file have a count. */
  private dropsSaid = false;
  private readonly option = new OptionCursor();
  /** SPBs carry no timestamp; they get the previous packet's so time never jumps back to 1970. */
  private lastTsMicros = 0;

  constructor(private readonly ctx: ParseContext) {
    ctx.info.format = 'pcapng';
  }

  unitNeed(b: Uint8Array, off: number, avail: number, fileOffset: number): number {
    if (avail < PCAPNG.MIN_BLOCK_LEN) return PCAPNG.MIN_BLOCK_LEN;
    return this.readBlockLength(b, off, fileOffset);
  }

  walk(b: Uint8Array, off: number, end: number, base: number): number {
    let pos = off;
    const ctx = this.ctx;
    while (end - pos >= PCAPNG.MIN_BLOCK_LEN) {
      // Fast path for the block that is nearly every block: a well-formed EPB on a known
      // interface with microsecond or nanosecond stamps, read with inline loads.
      const le = this.littleEndian;
      if ((le ? u32le(b, pos) : u32be(b, pos)) === BLOCK.EPB) {
        const len = le ? u32le(b, pos + 4) : u32be(b, pos + 4);
        if (len >= EPB.MIN_LEN && len <= PCAPNG.MAX_BLOCK_LEN && (len & 3) === 0) {
          if (end - pos < len) break;
          const ifId = le ? u32le(b, pos + EPB.INTERFACE) : u32be(b, pos + EPB.INTERFACE);
          const caplen = le ? u32le(b, pos + EPB.CAPLEN) : u32be(b, pos + EPB.CAPLEN);
          const origLen = le ? u32le(b, pos + EPB.ORIGLEN) : u32be(b, pos + EPB.ORIGLEN);
          const trailing = le ? u32le(b, pos + len - 4) : u32be(b, pos + len - 4);
          if (
            trailing === len &&
            ifId < this.ifCount &&
            this.ifTsUnit[ifId] !== TS_UNIT.OTHER &&
            caplen <= len - EPB.MIN_LEN &&
            caplen <= origLen &&
            (caplen <= this.ifSnaplen[ifId] || this.ifSnaplen[ifId] === 0)
          ) {
            const high = le ? u32le(b, pos + EPB.TS_HIGH) : u32be(b, pos + EPB.TS_HIGH);
            const low = le ? u32le(b, pos + EPB.TS_LOW) : u32be(b, pos + EPB.TS_LOW);
            const rec = ctx.rec;
            rec.tsMicros = this.lastTsMicros =
              (this.ifTsUnit[ifId] === TS_UNIT.MICROS
                ? high * 4294967296 + low
                : high * 4294967 + Math.floor((high * 296 + low) / 1000)) + this.ifTsOffsetMicros[ifId];
            rec.caplen = caplen;
            rec.origLen = origLen;
            rec.linkType = this.ifLinkType[ifId];
            rec.interfaceId = ifId;
            rec.bytes = b;
            rec.off = pos + EPB.DATA;
            rec.end = pos + EPB.DATA + caplen;
            rec.fileOffset = base + pos;
            this.readPacketOptions(b, pos, len, caplen, ifId, base + pos);
            this.placeDrops(ifId);
            this.ifPackets[ifId]++;
            ctx.deliver(this.ifSnaplen[ifId]);
            pos += len;
            continue;
          }
        }
      }
      // General path: every other block, and EPBs with anything to report.
      const len = this.readBlockLength(b, pos, base + pos);
      if (len < 0) return pos;
      if (end - pos < len) break;
      const type = u32(b, pos, le);
      // The SHB's own byte order governs its trailing length, even when it switches order.
      const trailing = u32(b, pos + len - 4, type === PCAPNG.SHB ? this.shbLittleEndian(b, pos) : le);
      if (trailing !== len) {
        ctx.stop(
          CAPTURE_DIAG.PCAPNG_BLOCK_LENGTH_MISMATCH,
          `a block's two length fields disagree (${len} at its start, ${trailing} at its end; block type ${hex32(type)}), ${CORRUPT_FROM_HERE}`,
          base + pos,
        );
        return pos;
      }
      switch (type) {
        case BLOCK.EPB:
          this.readEnhancedPacket(b, pos, len, base + pos);
          break;
        case BLOCK.SPB:
          this.readSimplePacket(b, pos, len, base + pos);
          break;
        case BLOCK.IDB:
          this.readInterface(b, pos, len, base + pos);
          break;
        case PCAPNG.SHB:
          this.readSectionHeader(b, pos, len, base + pos);
          if (ctx.stopped) return pos;
          break;
        case BLOCK.OPB:
          this.readObsoletePacket(b, pos, len, base + pos);
          break;
        case BLOCK.ISB:
          this.readStatistics(b, pos, len, base + pos);
          break;
        default:
          // NRB, DSB, custom and unknown blocks carry nothing the analysis needs.
          break;
      }
      pos += len;
    }
    return pos;
  }

  reportTruncated(avail: number, need: number, fileOffset: number): void {
    if (!this.headerDone) {
      throw new CaptureOpenError(
        `${this.ctx.info.file}: too short for a pcapng file: its section header needs ${need} bytes, the input has ${avail}`,
        OPEN_ERROR.CAPTURE_TRUNCATED_HEADER,
      );
    }
    const detail =
      need <= PCAPNG.MIN_BLOCK_LEN
        ? `the file ends inside a block header (${avail} of ${PCAPNG.MIN_BLOCK_LEN} bytes), ${CUT_SHORT}`
        : `the file ends inside a block (${avail} of its ${need} bytes), ${CUT_SHORT}`;
    this.ctx.stop(CAPTURE_DIAG.PCAPNG_TRUNCATED_BLOCK, detail, fileOffset);
  }

  /** Byte order of the SHB at b[off] (its byte-order magic was checked by readBlockLength). */
  private shbLittleEndian(b: Uint8Array, off: number): boolean {
    return u32(b, off + SHB.BYTE_ORDER, true) === PCAPNG.BYTE_ORDER_MAGIC;
  }

  /** Total length of the block at b[off] (12 bytes present), or -1 after reporting a broken frame. */
  private readBlockLength(b: Uint8Array, off: number, fileOffset: number): number {
    const ctx = this.ctx;
    let le = this.littleEndian;
    let minLen: number = PCAPNG.MIN_BLOCK_LEN;
    const isSection = u32(b, off, true) === PCAPNG.SHB;
    if (isSection) {
      const bom = u32(b, off + SHB.BYTE_ORDER, true);
      if (bom === PCAPNG.BYTE_ORDER_MAGIC) le = true;
      else if (u32(b, off + SHB.BYTE_ORDER, false) === PCAPNG.BYTE_ORDER_MAGIC) le = false;
      else {
        const detail = `a section header's byte-order mark is ${hex32(bom)}, not 0x1a2b3c4d in either byte order`;
        if (!this.headerDone) {
          throw new CaptureOpenError(
            `${ctx.info.file}: not a pcapng file: ${detail}`,
            OPEN_ERROR.CAPTURE_BAD_MAGIC,
          );
        }
        ctx.stop(CAPTURE_DIAG.PCAPNG_BAD_BYTE_ORDER, `${detail}, ${CORRUPT_FROM_HERE}`, fileOffset);
        return -1;
      }
      minLen = PCAPNG.MIN_SHB_LEN;
    }
    const len = u32(b, off + 4, le);
    if (len < minLen) {
      ctx.stop(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_SHORT, `a block claims ${len} bytes, fewer than the ${minLen} of the smallest, ${CORRUPT_FROM_HERE}`, fileOffset);
      return -1;
    }
    if (len > PCAPNG.MAX_BLOCK_LEN) {
      ctx.stop(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_LONG, `a block claims ${len} bytes, more than the ${PCAPNG.MAX_BLOCK_LEN} any capture tool writes, ${CORRUPT_FROM_HERE}`, fileOffset);
      return -1;
    }
    if (len % 4 !== 0) {
      ctx.stop(CAPTURE_DIAG.PCAPNG_BLOCK_UNALIGNED, `a block claims ${len} bytes, not a multiple of 4 as every pcapng block is, ${CORRUPT_FROM_HERE}`, fileOffset);
      return -1;
    }
    return len;
  }

  private readSectionHeader(b: Uint8Array, p: number, len: number, fileOffset: number): void {
    const le = this.shbLittleEndian(b, p);
    const major = u16(b, p + SHB.MAJOR, le);
    if (major !== 1) {
      this.ctx.stop(CAPTURE_DIAG.PCAPNG_UNSUPPORTED_VERSION, `a section of pcapng version ${major}.x, which no reader knows (only 1.x exists), so reading stopped`, fileOffset);
      return;
    }
    this.littleEndian = le;
    this.endedDrops = this.sectionDrops();
    this.ifCount = 0;
    this.headerDone = true;
  }

  private readInterface(b: Uint8Array, p: number, len: number, fileOffset: number): void {
    const ctx = this.ctx;
    if (len < IDB.MIN_LEN) {
      // Framing is intact (trailing length matched), so only this interface is lost; packets
      // naming it will be reported as unknown-interface.
      ctx.report(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_SHORT, `an interface description of ${len} bytes, too short to hold one (${IDB.MIN_LEN} at least), so the packets naming it are skipped`, fileOffset);
      return;
    }
    const le = this.littleEndian;
    const linkType = u16(b, p + IDB.LINKTYPE, le);
    const snaplen = u32(b, p + IDB.SNAPLEN, le);
    let tsUnit: number = TS_UNIT.MICROS;
    let ticksPerSecond = 1_000_000n;
    let tsOffsetMicros = 0;
    const opt = this.option.start(b, p + IDB.OPTIONS, p + len - 4, this.littleEndian);
    while (opt.next()) {
      const q = opt.at;
      if (opt.code === OPTION.IF_TSRESOL && opt.length >= 1) {
        const v = b[q];
        // High bit set: 2^-n seconds per tick, else 10^-n (pcapng spec, if_tsresol).
        const exp = v & 0x7f;
        if (v & 0x80) {
          tsUnit = TS_UNIT.OTHER;
          ticksPerSecond = 1n << BigInt(exp);
        } else {
          tsUnit = exp === 6 ? TS_UNIT.MICROS : exp === 9 ? TS_UNIT.NANOS : TS_UNIT.OTHER;
          ticksPerSecond = 10n ** BigInt(exp);
        }
      } else if (opt.code === OPTION.IF_TSOFFSET && opt.length >= 8) {
        tsOffsetMicros = i64(b, q, le) * 1_000_000;
      }
    }
    if (opt.overran) this.reportOverrun('an interface description', p, fileOffset);
    const i = this.ifCount++;
    this.ifPackets[i] = 0;
    this.ifLastPacket[i] = 0;
    this.ifLastTs[i] = 0;
    this.ifDroppedPending[i] = 0;
    this.ifDropped[i] = -1;
    this.ifReceived[i] = -1;
    this.ifDroppedBefore[i] = 0;
    this.ifCountedBefore[i] = false;
    this.ifLinkType[i] = linkType;
    this.ifSnaplen[i] = snaplen;
    this.ifTsUnit[i] = tsUnit;
    this.ifTicksPerSecond[i] = ticksPerSecond;
    this.ifTsOffsetMicros[i] = tsOffsetMicros;
    if (this.interfacesInFile++ === 0) ctx.info.snaplen = snaplen;
    ctx.addLinkType(linkType);
  }

  private readEnhancedPacket(b: Uint8Array, p: number, len: number, fileOffset: number): void {
    if (len < EPB.MIN_LEN) {
      this.ctx.report(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_SHORT, `a packet block of ${len} bytes, too short to hold a packet (${EPB.MIN_LEN} at least), skipped`, fileOffset);
      return;
    }
    const le = this.littleEndian;
    const ifId = u32(b, p + EPB.INTERFACE, le);
    const caplen = u32(b, p + EPB.CAPLEN, le);
    // A caplen past the block is reported as the packet is; it places no options.
    if (caplen <= len - EPB.MIN_LEN) this.readPacketOptions(b, p, len, caplen, ifId, fileOffset);
    this.deliverPacket(b, p, len, fileOffset, ifId, u32(b, p + EPB.TS_HIGH, le), u32(b, p + EPB.TS_LOW, le), caplen, u32(b, p + EPB.ORIGLEN, le), EPB.DATA);
  }

  private readObsoletePacket(b: Uint8Array, p: number, len: number, fileOffset: number): void {
    if (len < OPB.MIN_LEN) {
      this.ctx.report(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_SHORT, `an obsolete packet block of ${len} bytes, too short to hold a packet (${OPB.MIN_LEN} at least), skipped`, fileOffset);
      return;
    }
    const le = this.littleEndian;
    const ifId = u16(b, p + OPB.INTERFACE, le);
    // 0 is what writers put that kept no count, as well as a count of none: only losses are taken.
    const dropped = u16(b, p + OPB.DROPS, le);
    if (dropped > 0 && dropped !== OPB_DROPS_UNKNOWN) this.droppedBefore(ifId, dropped);
    this.deliverPacket(b, p, len, fileOffset, ifId, u32(b, p + OPB.TS_HIGH, le), u32(b, p + OPB.TS_LOW, le), u32(b, p + OPB.CAPLEN, le), u32(b, p + OPB.ORIGLEN, le), OPB.DATA);
  }

  /**
   * The options of the EPB of `len` bytes at `p` (its caplen within the block), which follow its
   * padded packet data: rare, and read only for a drop count.
   */
  private readPacketOptions(b: Uint8Array, p: number, len: number, caplen: number, ifId: number, fileOffset: number): void {
    const optionsAt = p + EPB.DATA + ((caplen + 3) & ~3);
    if (optionsAt >= p + len - 4) return;
    const opt = this.option.start(b, optionsAt, p + len - 4, this.littleEndian);
    while (opt.next()) {
      if (opt.code !== OPTION.EPB_DROPCOUNT) continue;
      const dropped = this.count(b, p, fileOffset, 'a packet block\'s drop count');
      if (dropped >= 0) this.droppedBefore(ifId, dropped);
    }
    if (opt.overran) this.reportOverrun('a packet block', p, fileOffset);
  }

  /**
   * Puts the drop count of the packet block being read on its record, with the interface's packet
   * before it: the format places the losses between the two, not just before this packet.
   */
  private placeDrops(ifId: number): void {
    const rec = this.ctx.rec;
    const no = this.ctx.info.packets + 1;
    rec.droppedBefore = this.ifDroppedPending[ifId];
    rec.droppedSincePacket = this.ifLastPacket[ifId];
    rec.droppedSinceTs = this.ifLastTs[ifId];
    this.ifDroppedPending[ifId] = 0;
    this.ifLastPacket[ifId] = no;
    this.ifLastTs[ifId] = rec.tsMicros;
  }

  /** Packets lost on interface `ifId` before the packet being read and after its previous one, by its block's count (0 included). */
  private droppedBefore(ifId: number, dropped: number): void {
    // A block naming an interface its section lacks is reported as its packet is delivered.
    if (ifId >= this.ifCount) return;
    this.dropsSaid = true;
    this.ifCountedBefore[ifId] = true;
    if (dropped === 0) return;
    this.ifDroppedBefore[ifId] += dropped;
    this.ifDroppedPending[ifId] += dropped;
    if (this.firstAfterLoss === 0) this.firstAfterLoss = this.ctx.info.packets + 1;
  }

  /** An Interface Statistics Block: its drop counts, which run from the start of the capture, replace the interface's earlier ones. */
  private readStatistics(b: Uint8Array, p: number, len: number, fileOffset: number): void {
    const ctx = this.ctx;
    if (len < ISB.MIN_LEN) {
      ctx.report(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_SHORT, `an interface statistics block of ${len} bytes, too short to hold one (${ISB.MIN_LEN} at least), ignored`, fileOffset);
      return;
    }
    const ifId = u32(b, p + ISB.INTERFACE, this.littleEndian);
    if (ifId >= this.ifCount) {
      ctx.report(CAPTURE_DIAG.PCAPNG_UNKNOWN_INTERFACE, `interface statistics name interface ${ifId}, which their section does not describe, so they are ignored`, fileOffset);
      return;
    }
    let dropped = -1;
    let received = -1;
    let refused = false;
    const opt = this.option.start(b, p + ISB.OPTIONS, p + len - 4, this.littleEndian);
    while (opt.next()) {
      const code = opt.code;
      if (ISB_COUNT_NAMES[code] === undefined) continue;
      const n = this.count(b, p, fileOffset, ISB_COUNT_NAMES[code]);
      if (n < 0) {
        // Refused, or unknown to its writer: a block missing a drop count has none whole.
        if (code !== OPTION.ISB_IFRECV) refused = true;
      } else if (code === OPTION.ISB_IFRECV) received = n;
      else dropped = Math.max(dropped, 0) + n;
    }
    if (opt.overran) this.reportOverrun('interface statistics', p, fileOffset);
    // Half a count is none: a block whose other drop option was refused says nothing of drops.
    if (dropped < 0 || refused) return;
    if (dropped < this.ifDropped[ifId]) {
      // Counts run from the start of the capture and never fall: the larger is kept.
      ctx.report(CAPTURE_DIAG.PCAPNG_BAD_OPTION, `interface statistics count ${dropped} packets dropped on interface ${ifId}, fewer than the ${this.ifDropped[ifId]} an earlier block counted, so the larger count is kept`, fileOffset);
      return;
    }
    this.dropsSaid = true;
    this.ifDropped[ifId] = dropped;
    this.ifReceived[ifId] = received;
  }

  /**
   * The 64-bit count the option cursor stands on; UNKNOWN_COUNT for all ones, which some writers
   * put for a count they do not have; -1 after reporting one that is not 8 bytes or past 2^53.
   */
  private count(b: Uint8Array, p: number, fileOffset: number, what: string): number {
    const opt = this.option;
    if (opt.length !== 8) {
      this.ctx.report(CAPTURE_DIAG.PCAPNG_BAD_OPTION, `${what} is ${opt.length} bytes long, not the 8 of a 64-bit count, so it is ignored`, fileOffset + (opt.at - 4 - p));
      return -1;
    }
    if (u32(b, opt.at, true) === 0xffffffff && u32(b, opt.at + 4, true) === 0xffffffff) return UNKNOWN_COUNT;
    const n = u64(b, opt.at, this.littleEndian);
    if (n > Number.MAX_SAFE_INTEGER) {
      this.ctx.report(CAPTURE_DIAG.PCAPNG_BAD_OPTION, `${what} claims ${n.toExponential(3)} packets, more than any capture holds, so it is ignored`, fileOffset + (opt.at - 4 - p));
      return -1;
    }
    return n;
  }

  private reportOverrun(what: string, p: number, fileOffset: number): void {
    const opt = this.option;
    this.ctx.report(CAPTURE_DIAG.PCAPNG_BAD_OPTION, `an option of ${what} (code ${opt.code}, ${opt.length} bytes) runs past the end of its block, so the options after it are ignored`, fileOffset + (opt.at - 4 - p));
  }

  /**
   * The drops of the ended sections and the current one. Per interface, the larger of its
   * statistics' and its packet blocks' counts (a writer keeping both counts the same losses
   * twice), summed over interfaces. Statistics that count more packets received than the file
   * holds of the interface describe a larger capture this file was cut from: their count is
   * that capture's, and is kept apart.
   */
  private sectionDrops(): SectionDrops {
    const sum = { ...this.endedDrops, largerCapture: { ...this.endedDrops.largerCapture } };
    for (let i = 0; i < this.ifCount; i++) {
      const held = this.ifPackets[i];
      const statsDrops = this.ifDropped[i];
      const larger = statsDrops >= 0 && this.ifReceived[i] > held + statsDrops;
      const stats = statsDrops >= 0 && !larger ? statsDrops : 0;
      const before = this.ifDroppedBefore[i];
      sum.packets += Math.max(stats, before);
      sum.inStatistics += stats;
      sum.beforePackets += before;
      if (held > 0) {
        sum.interfaces++;
        if ((statsDrops >= 0 && !larger) || this.ifCountedBefore[i]) sum.counted++;
      }
      if (larger) {
        sum.largerCapture.interfaces++;
        sum.largerCapture.received += this.ifReceived[i];
        sum.largerCapture.held += held;
        sum.largerCapture.dropped += statsDrops;
      }
    }
    return sum;
  }

  /** Says the drop counts in the capture's info, once the input has ended. */
  end(): void {
    if (!this.dropsSaid) return;
    const d = this.sectionDrops();
    this.ctx.info.dropped = { ...d, largerCapture: d.largerCapture.interfaces > 0 ? d.largerCapture : null, firstAfterLoss: this.firstAfterLoss, source: 'file' };
  }

  private readSimplePacket(b: Uint8Array, p: number, len: number, fileOffset: number): void {
    const ctx = this.ctx;
    if (len < SPB.MIN_LEN) {
      ctx.report(CAPTURE_DIAG.PCAPNG_BLOCK_TOO_SHORT, `a simple packet block of ${len} bytes, too short to hold a packet (${SPB.MIN_LEN} at least), skipped`, fileOffset);
      return;
    }
    if (this.ifCount === 0) {
      ctx.report(CAPTURE_DIAG.PCAPNG_UNKNOWN_INTERFACE, 'a simple packet block before any interface description, skipped', fileOffset);
      return;
    }
    const origLen = u32(b, p + SPB.ORIGLEN, this.littleEndian);
    // The SPB has no caplen: it is what fits, bounded by the original length and the snap length.
    const room = len - SPB.MIN_LEN;
    const snaplen = this.ifSnaplen[0];
    let caplen = origLen < room ? origLen : room;
    if (snaplen > 0 && caplen > snaplen) caplen = snaplen;
    const rec = ctx.rec;
    rec.tsMicros = this.lastTsMicros;
    rec.caplen = caplen;
    rec.origLen = origLen;
    rec.linkType = this.ifLinkType[0];
    rec.interfaceId = 0;
    rec.bytes = b;
    rec.off = p + SPB.DATA;
    rec.end = p + SPB.DATA + caplen;
    rec.fileOffset = fileOffset;
    this.placeDrops(0);
    ctx.deliver(0);
  }

  private deliverPacket(
    b: Uint8Array, p: number, len: number, fileOffset: number,
    ifId: number, tsHigh: number, tsLow: number, caplen: number, origLen: number, dataAt: number,
  ): void {
    const ctx = this.ctx;
    if (ifId >= this.ifCount) {
      ctx.report(
        CAPTURE_DIAG.PCAPNG_UNKNOWN_INTERFACE,
        `the packet names interface ${ifId}, but its section describes ${this.ifCount === 1 ? 'only interface 0' : `${this.ifCount} interfaces`}, so it is skipped`,
        fileOffset,
      );
      return;
    }
    const room = len - dataAt - 4;
    if (caplen > room) {
      ctx.report(CAPTURE_DIAG.PCAPNG_CAPLEN_EXCEEDS_BLOCK, `the packet claims ${caplen} captured bytes, its block holds ${room}, so it is skipped`, fileOffset);
      return;
    }
    const packet = ctx.info.packets + 1;
    const snaplen = this.ifSnaplen[ifId];
    if (snaplen > 0 && caplen > snaplen) {
      ctx.report(CAPTURE_DIAG.PCAPNG_CAPLEN_EXCEEDS_SNAPLEN, `the packet holds ${caplen} bytes, more than its interface's snap length of ${snaplen} (read all the same)`, fileOffset, packet);
    }
    if (caplen > origLen) {
      ctx.report(CAPTURE_DIAG.PCAPNG_CAPLEN_EXCEEDS_ORIGLEN, `the packet holds ${caplen} bytes, more than its length on the wire, ${origLen} (read all the same)`, fileOffset, packet);
    }
    const rec = ctx.rec;
    rec.tsMicros = this.lastTsMicros = this.toMicros(ifId, tsHigh, tsLow);
    rec.caplen = caplen;
    rec.origLen = origLen;
    rec.linkType = this.ifLinkType[ifId];
    rec.interfaceId = ifId;
    rec.bytes = b;
    rec.off = p + dataAt;
    rec.end = p + dataAt + caplen;
    rec.fileOffset = fileOffset;
    this.placeDrops(ifId);
    this.ifPackets[ifId]++;
    ctx.deliver(snaplen);
  }

  private toMicros(ifId: number, high: number, low: number): number {
    const unit = this.ifTsUnit[ifId];
    let micros: number;
    if (unit === TS_UNIT.MICROS) {
      micros = high * 4294967296 + low;
    } else if (unit === TS_UNIT.NANOS) {
      // 2^32 = 4294967 * 1000 + 296: split so every product stays below 2^53 (exact).
      micros = high * 4294967 + Math.floor((high * 296 + low) / 1000);
    } else {
      // Rare resolutions (2^-n, 10^-3, 10^-12...): exact, at the price of a BigInt per packet.
      micros = Number((((BigInt(high) << 32n) | BigInt(low)) * 1_000_000n) / this.ifTicksPerSecond[ifId]);
    }
    return micros + this.ifTsOffsetMicros[ifId];
  }
}

/**
 * Walks a block's options without allocating: start(), then next() until false; `code`, `length`
 * and `at` (where the value starts) describe the option it stands on. `overran` is set when an
 * option claimed more bytes than its block holds, which ends the walk.
 */
class OptionCursor {
  code = 0;
  length = 0;
  at = 0;
  overran = false;
  private b: Uint8Array = new Uint8Array(0);
  private nextAt = 0;
  private end = 0;
  private le = true;

  start(b: Uint8Array, from: number, end: number, littleEndian: boolean): this {
    this.b = b;
    this.nextAt = from;
    this.end = end;
    this.le = littleEndian;
    this.overran = false;
    return this;
  }

  next(): boolean {
    const q = this.nextAt;
    if (this.end - q < 4) return false;
    this.code = u16(this.b, q, this.le);
    this.length = u16(this.b, q + 2, this.le);
    this.at = q + 4;
    if (this.code === OPTION.END) return false;
    if (this.length > this.end - q - 4) {
      this.overran = true;
      return false;
    }
    this.nextAt = q + 4 + ((this.length + 3) & ~3);
    return true;
  }
}
