// Classic pcap (libpcap savefile): a 24-byte file header, then 16-byte record headers each
// followed by caplen bytes. Both byte orders, microsecond and nanosecond magic, and the "modified"
// pcap of Alexey Kuznetsov's patched libpcap (magic a1b2cd34, still written by some embedded
// capture tools such as a FRITZ!Box's), whose record headers carry 8 more bytes (interface index,
// protocol, packet type, padding) that tcpwhy skips.

import { u32le, u32be, u16 } from './bytes.js';
import { CAPTURE_DIAG, CORRUPT_FROM_HERE, CUT_SHORT, OPEN_ERROR } from './codes.js';
import type { ParseContext, RecordWalker } from './context.js';
import { CaptureOpenError } from './record.js';

export const PCAP = {
  MAGIC_MICROS: 0xa1b2c3d4,
  MAGIC_NANOS: 0xa1b23c4d,
  MAGIC_MODIFIED: 0xa1b2cd34,
  FILE_HEADER_LEN: 24,
  RECORD_HEADER_LEN: 16,
  MODIFIED_RECORD_HEADER_LEN: 24,
  /** Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD: anything longer is a lost framing, not a packet. */
  MAX_RECORD_LEN: 262144,
} as const;

/** File header field offsets. */
const FILE_HDR = { MAGIC: 0, VERSION_MAJOR: 4, SNAPLEN: 16, LINKTYPE: 20 } as const;
/** Record header field offsets. */
const REC_HDR = { TS_SEC: 0, TS_FRAC: 4, CAPLEN: 8, ORIGLEN: 12 } as const;

export interface PcapMagic {
  littleEndian: boolean;
  nanos: boolean;
  /** Kuznetsov's modified pcap: 24-byte record headers. */
  modified: boolean;
}

/** Recognises the four pcap magics from the first four bytes, or returns null. */
export function sniffPcapMagic(b: Uint8Array, off: number): PcapMagic | null {
  const le = u32le(b, off);
  const be = u32be(b, off);
  if (le === PCAP.MAGIC_MICROS) return { littleEndian: true, nanos: false, modified: false };
  if (be === PCAP.MAGIC_MICROS) return { littleEndian: false, nanos: false, modified: false };
  if (le === PCAP.MAGIC_NANOS) return { littleEndian: true, nanos: true, modified: false };
  if (be === PCAP.MAGIC_NANOS) return { littleEndian: false, nanos: true, modified: false };
  if (le === PCAP.MAGIC_MODIFIED) return { littleEndian: true, nanos: false, modified: true };
  if (be === PCAP.MAGIC_MODIFIED) return { littleEndian: false, nanos: false, modified: true };
  return null;
}

export class PcapWalker implements RecordWalker {
  headerDone = false;
  private snaplen = 0;
  private linkType = 0;
  /** Snap lengths of 0 or above the record limit are common placeholders, not limits. */
  private snaplenIsSane = false;
  private readonly recordHeaderLen: number;

  constructor(
    private readonly ctx: ParseContext,
    private readonly littleEndian: boolean,
    private readonly nanos: boolean,
    modified = false,
  ) {
    ctx.info.format = modified ? 'pcap-modified' : nanos ? 'pcap-ns' : 'pcap';
    this.recordHeaderLen = modified ? PCAP.MODIFIED_RECORD_HEADER_LEN : PCAP.RECORD_HEADER_LEN;
  }

  unitNeed(b: Uint8Array, off: number, avail: number, fileOffset: number): number {
    if (!this.headerDone) return PCAP.FILE_HEADER_LEN;
    if (avail < this.recordHeaderLen) return this.recordHeaderLen;
    const caplen = this.readCaplen(b, off, fileOffset);
    return caplen < 0 ? -1 : this.recordHeaderLen + caplen;
  }

  walk(b: Uint8Array, off: number, end: number, base: number): number {
    let pos = off;
    if (!this.headerDone) {
      if (end - pos < PCAP.FILE_HEADER_LEN) return pos;
      this.readFileHeader(b, pos);
      pos += PCAP.FILE_HEADER_LEN;
    }
    const ctx = this.ctx;
    const rec = ctx.rec;
    const le = this.littleEndian;
    const fracDivisor = this.nanos ? 1000 : 1;
    const linkType = this.linkType;
    const headerLen = this.recordHeaderLen;
    while (end - pos >= headerLen) {
      const caplen = le ? u32le(b, pos + REC_HDR.CAPLEN) : u32be(b, pos + REC_HDR.CAPLEN);
      if (caplen > PCAP.MAX_RECORD_LEN) {
        this.readCaplen(b, pos, base + pos); // reports and stops
        return pos;
      }
      const dataOff = pos + headerLen;
      const dataEnd = dataOff + caplen;
      if (dataEnd > end) break;
      const sec = le ? u32le(b, pos) : u32be(b, pos);
      const frac = le ? u32le(b, pos + REC_HDR.TS_FRAC) : u32be(b, pos + REC_HDR.TS_FRAC);
      const origLen = le ? u32le(b, pos + REC_HDR.ORIGLEN) : u32be(b, pos + REC_HDR.ORIGLEN);
      rec.tsMicros = sec * 1_000_000 + (fracDivisor === 1 ? frac : Math.floor(frac / fracDivisor));
      rec.caplen = caplen;
      rec.origLen = origLen;
      rec.linkType = linkType;
      rec.interfaceId = 0;
      rec.bytes = b;
      rec.off = dataOff;
      rec.end = dataEnd;
      rec.fileOffset = base + pos;
      if (caplen > origLen || (caplen > this.snaplen && this.snaplenIsSane)) this.reportOddLengths(base + pos);
      ctx.deliver(this.snaplenIsSane ? this.snaplen : 0);
      pos = dataEnd;
    }
    return pos;
  }

  reportTruncated(avail: number, need: number, fileOffset: number): void {
    if (!this.headerDone) {
      throw new CaptureOpenError(
        `${this.ctx.info.file}: too short for a pcap file: its header needs ${PCAP.FILE_HEADER_LEN} bytes, the input has ${avail}`,
        OPEN_ERROR.CAPTURE_TRUNCATED_HEADER,
      );
    }
    const detail =
      need <= this.recordHeaderLen
        ? `the file ends inside this packet's record header (${avail} of ${this.recordHeaderLen} bytes), ${CUT_SHORT}`
        : `the file ends inside this packet (${avail} of its ${need} bytes), ${CUT_SHORT}`;
    this.ctx.stop(CAPTURE_DIAG.PCAP_TRUNCATED_RECORD, detail, fileOffset);
  }

  private readFileHeader(b: Uint8Array, off: number): void {
    const le = this.littleEndian;
    this.snaplen = le ? u32le(b, off + FILE_HDR.SNAPLEN) : u32be(b, off + FILE_HDR.SNAPLEN);
    this.snaplenIsSane = this.snaplen > 0 && this.snaplen <= PCAP.MAX_RECORD_LEN;
    // The upper 16 bits carry FCS length flags (pcap spec "LinkType and additional information").
    this.linkType = u16(b, off + FILE_HDR.LINKTYPE + (le ? 0 : 2), le);
    this.ctx.info.snaplen = this.snaplen;
    this.ctx.addLinkType(this.linkType);
    this.headerDone = true;
  }

  /** caplen of the record at b[off], or -1 after reporting a length no reader accepts. */
  private readCaplen(b: Uint8Array, off: number, fileOffset: number): number {
    const caplen = this.littleEndian ? u32le(b, off + REC_HDR.CAPLEN) : u32be(b, off + REC_HDR.CAPLEN);
    if (caplen <= PCAP.MAX_RECORD_LEN) return caplen;
    this.ctx.stop(
      CAPTURE_DIAG.PCAP_RECORD_TOO_LONG,
      `a packet record claims ${caplen} bytes, more than the ${PCAP.MAX_RECORD_LEN} any capture tool writes, ${CORRUPT_FROM_HERE}`,
      fileOffset,
    );
    return -1;
  }

  private reportOddLengths(fileOffset: number): void {
    const rec = this.ctx.rec;
    const packet = this.ctx.info.packets + 1;
    if (rec.caplen > this.snaplen && this.snaplenIsSane) {
      this.ctx.report(
        CAPTURE_DIAG.PCAP_CAPLEN_EXCEEDS_SNAPLEN,
        `the packet holds ${rec.caplen} bytes, more than the file's snap length of ${this.snaplen} (read all the same)`,
        fileOffset,
        packet,
      );
    }
    if (rec.caplen > rec.origLen) {
      this.ctx.report(
        CAPTURE_DIAG.PCAP_CAPLEN_EXCEEDS_ORIGLEN,
        `the packet holds ${rec.caplen} bytes, more than its length on the wire, ${rec.origLen} (read all the same)`,
        fileOffset,
        packet,
      );
    }
  }
}
