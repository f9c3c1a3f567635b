// State shared by the pcap and pcapng walkers of one CaptureParser: the reused PacketRecord,
// the CaptureInfo being filled, and the one place where diagnostics are worded.

import { CAPTURE_DIAG, MAX_DIAGNOSTICS } from './codes.js';
import type { CaptureInfo, PacketCallback, PacketRecord } from './record.js';

/**
 * A format walker consumes whole records (pcap) or blocks (pcapng). The parser hands it
 * complete units only: either straight from a chunk (walk) or reassembled in its carry buffer.
 */
export interface RecordWalker {
  /** False until the file header (pcap) or first section header (pcapng) has been read. */
  readonly headerDone: boolean;
  /**
   * Total length of the unit starting at b[off] given that `avail` bytes of it are present:
   * a header size when avail is too short to tell, else the full unit length.
   * -1 when the unit is corrupt (the walker has reported it and stopped the parse).
   */
  unitNeed(b: Uint8Array, off: number, avail: number, fileOffset: number): number;
  /**
   * Consumes every complete unit in b[off, end) and returns the offset of the first byte not
   * consumed. `base` is the file offset of b[0].
   */
  walk(b: Uint8Array, off: number, end: number, base: number): number;
  /** The input ended with `avail` bytes of an incomplete unit at `fileOffset`. */
  reportTruncated(avail: number, need: number, fileOffset: number): void;
}

export class ParseContext {
  readonly rec: PacketRecord = {
    no: 0,
    tsMicros: 0,
    caplen: 0,
    origLen: 0,
    linkType: 0,
    interfaceId: 0,
    bytes: new Uint8Array(0),
    off: 0,
    end: 0,
    fileOffset: 0,
  };
  stopped = false;
  private suppressed = 0;

  constructor(
    readonly info: CaptureInfo,
    private readonly onPacket: PacketCallback,
  ) {}

  /** Delivers the reused record after the walker has filled every field but `no`. */
  deliver(): void {
    const rec = this.rec;
    rec.no = ++this.info.packets;
    if (rec.caplen < rec.origLen) this.info.truncatedPackets++;
    this.onPacket(rec);
  }

  /** A problem that does not stop reading. `packet` defaults to the next packet's number. */
  report(code: string, detail: string, offset: number, packet = this.info.packets + 1): void {
    const diagnostics = this.info.diagnostics;
    if (diagnostics.length >= MAX_DIAGNOSTICS) {
      this.suppressed++;
      return;
    }
    diagnostics.push({ code, message: formatDiagnostic(this.info.file, packet, offset, detail, code), packet, offset });
  }

  /** A problem after which the rest of the input cannot be framed: report it and stop. */
  stop(code: string, detail: string, offset: number): void {
    if (this.stopped) return;
    // The stopping diagnostic is kept even past the limit: it explains why reading ended.
    const packet = this.info.packets + 1;
    this.info.diagnostics.push({ code, message: formatDiagnostic(this.info.file, packet, offset, detail, code), packet, offset });
    this.stopped = true;
    this.info.stoppedEarly = true;
  }

  addLinkType(linkType: number): void {
    if (!this.info.linkTypes.includes(linkType)) this.info.linkTypes.push(linkType);
  }

  finish(endOffset: number): void {
    if (this.suppressed === 0) return;
    const n = this.suppressed;
    this.suppressed = 0;
    this.info.diagnostics.push({
      code: CAPTURE_DIAG.CAPTURE_DIAGNOSTICS_SUPPRESSED,
      message: `${this.info.file}: ${n} more diagnostics not shown (limit ${MAX_DIAGNOSTICS}) [${CAPTURE_DIAG.CAPTURE_DIAGNOSTICS_SUPPRESSED}]`,
      packet: this.info.packets,
      offset: endOffset,
    });
  }
}

export function formatDiagnostic(file: string, packet: number, offset: number, detail: string, code: string): string {
  const where = packet > 0 ? `packet ${packet}` : 'file header';
  return `${file}: ${where} (file offset 0x${offset.toString(16)}): ${detail} [${code}]`;
}
