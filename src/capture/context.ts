// State shared by the pcap and pcapng walkers of one CaptureParser: the reused PacketRecord,
// the CaptureInfo being filled, and the one place where diagnostics are worded.

import { CAPTURE_DIAG, MAX_DIAGNOSTICS } from './codes.js';
import type { CaptureDiagnostic, CaptureInfo, PacketCallback, PacketRecord } from './record.js';

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
  /** The input ended (whole or not): settles what the walker reports in the capture's info. */
  end?(): void;
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
    droppedBefore: 0,
    droppedSincePacket: 0,
    droppedSinceTs: 0,
  };
  stopped = false;
  private suppressed = 0;
  private readonly timeOrder = new TimeOrder();

  constructor(
    readonly info: CaptureInfo,
    private readonly onPacket: PacketCallback,
  ) {}

  /**
   * Delivers the reused record after the walker has filled every field but `no`. `snaplen` is the
   * record's interface's snap length (0: unknown, or the record's block bounds it as an SPB's does).
   */
  deliver(snaplen: number): void {
    const rec = this.rec;
    rec.no = ++this.info.packets;
    if (rec.caplen < rec.origLen) {
      this.info.truncatedPackets++;
      if (snaplen > 0 && rec.caplen < snaplen) this.info.truncatedBelowSnaplen++;
    }
    this.timeOrder.observe(rec);
    this.onPacket(rec);
  }

  /** A problem that does not stop reading. `packet` defaults to the next packet's number. */
  report(code: string, detail: string, offset: number, packet = this.info.packets + 1): void {
    const diagnostics = this.info.diagnostics;
    if (diagnostics.length >= MAX_DIAGNOSTICS) {
      this.suppressed++;
      return;
    }
    diagnostics.push({ code, message: formatDiagnostic(this.info.file, packet, offset, detail), packet, offset });
  }

  /** A problem after which the rest of the input cannot be framed: report it and stop. */
  stop(code: string, detail: string, offset: number): void {
    if (this.stopped) return;
    // The stopping diagnostic is kept even past the limit: it explains why reading ended.
    const packet = this.info.packets + 1;
    this.info.diagnostics.push({ code, message: formatDiagnostic(this.info.file, packet, offset, detail), packet, offset });
    this.stopped = true;
    this.info.stoppedEarly = true;
  }

  addLinkType(linkType: number): void {
    if (!this.info.linkTypes.includes(linkType)) this.info.linkTypes.push(linkType);
  }

  finish(endOffset: number): void {
    // Kept past the limit, like a stopping diagnostic: it qualifies every timing in the report.
    const timeOrder = this.timeOrder.diagnostic(this.info.file);
    if (timeOrder) this.info.diagnostics.push(timeOrder);
    if (this.suppressed === 0) return;
    const n = this.suppressed;
    this.suppressed = 0;
    this.info.diagnostics.push({
      code: CAPTURE_DIAG.CAPTURE_DIAGNOSTICS_SUPPRESSED,
      message: `${this.info.file}: ${n} more problems with the file's records not shown (the first ${MAX_DIAGNOSTICS} are)`,
      packet: this.info.packets,
      offset: endOffset,
    });
  }
}

/** A problem as the user reads it: the file, the packet and byte offset, then a sentence (the code is for JSON). */
function formatDiagnostic(file: string, packet: number, offset: number, detail: string): string {
  const where = packet > 0 ? `packet ${packet}` : 'file header';
  return `${file}: ${where} (file offset 0x${offset.toString(16)}): ${detail}`;
}

/** Steps back shorter than this are the jitter of several CPUs or interfaces stamping packets. */
const JITTER_MICROS = 1000;

/**
 * Watches the packets' timestamps for steps back in time: counts them, keeps the largest, and
 * whether that step restarted the capture (the two packets after it repeat packets 1 and 2, time
 * and bytes: the same packets stored twice). One comparison per packet; the first two packets are
 * copied once.
 */
class TimeOrder {
  private previousTs = 0;
  private steps = 0;
  private firstStepNo = 0;
  private largest = 0;
  private largestNo = 0;
  private largestOffset = 0;
  /** Packets after the largest step that repeat the capture's first packets (0, 1 or 2). */
  private largestRepeats = 0;
  private readonly head: Array<{ ts: number; bytes: Uint8Array }> = [];

  observe(rec: PacketRecord): void {
    const ts = rec.tsMicros;
    if (rec.no <= REPEAT_PROOF) this.head.push({ ts, bytes: rec.bytes.slice(rec.off, rec.end) });
    if (rec.no > 1 && ts < this.previousTs) {
      this.steps++;
      if (this.firstStepNo === 0) this.firstStepNo = rec.no;
      const back = this.previousTs - ts;
      if (back > this.largest) {
        this.largest = back;
        this.largestNo = rec.no;
        this.largestOffset = rec.fileOffset;
        this.largestRepeats = this.repeatsHead(rec, 0) ? 1 : 0;
      }
    } else if (this.largestRepeats > 0 && this.largestRepeats < REPEAT_PROOF && rec.no === this.largestNo + this.largestRepeats) {
      this.largestRepeats = this.repeatsHead(rec, this.largestRepeats) ? this.largestRepeats + 1 : 0;
    }
    this.previousTs = ts;
  }

  diagnostic(file: string): CaptureDiagnostic | null {
    if (this.steps === 0) return null;
    const code = CAPTURE_DIAG.CAPTURE_TIME_BACKWARDS;
    const count = this.steps === 1 ? 'once' : `${this.steps} times (first at packet ${this.firstStepNo})`;
    const restarted = this.largestRepeats === REPEAT_PROOF;
    let detail = `time runs backwards ${count}; the largest step goes back ${formatStep(this.largest)}, from packet ${this.largestNo - 1} to packet ${this.largestNo}`;
    if (restarted) detail += `, where the capture starts over (packets ${this.largestNo} and ${this.largestNo + 1} repeat packets 1 and 2, times and bytes): the file holds the same packets twice`;
    detail +=
      this.largest < JITTER_MICROS && !restarted
        ? ': the jitter of several CPUs or interfaces stamping packets, too small to matter'
        : '; retransmission timeouts, think times and durations are not measured across a step back';
    return { code, message: formatDiagnostic(file, this.largestNo, this.largestOffset, detail), packet: this.largestNo, offset: this.largestOffset };
  }

  /** The record repeats the capture's packet `i + 1`: same time, same bytes. */
  private repeatsHead(rec: PacketRecord, i: number): boolean {
    const h = this.head[i];
    if (!h || h.ts !== rec.tsMicros || h.bytes.length !== rec.end - rec.off) return false;
    for (let k = 0; k < h.bytes.length; k++) if (h.bytes[k] !== rec.bytes[rec.off + k]) return false;
    return true;
  }
}

/** Packets that must repeat the capture's first ones to say it starts over. */
const REPEAT_PROOF = 2;

function formatStep(micros: number): string {
  if (micros < 1000) return `${micros / 1000} ms`;
  if (micros < 1_000_000) return `${Math.round(micros / 100) / 10} ms`;
  return `${(micros / 1e6).toFixed(2)} s`;
}
