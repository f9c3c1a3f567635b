// Own streaming reader instead of the pcap-parser package: pcap-parser measured 16x slower than a
// plain record walker and rejects pcapng and nanosecond pcap.
//
// CaptureParser is a push parser: feed it chunks of any size, in order, then call end().
// Records that lie inside one chunk are delivered as views into that chunk (no copy); a record
// or block cut by a chunk boundary is reassembled in one carry buffer that only grows.

import { CAPTURE_DIAG, OPEN_ERROR } from './codes.js';
import { ParseContext, type RecordWalker } from './context.js';
import { PCAPNG, PcapngWalker } from './pcapng.js';
import { sniffPcapMagic, PcapWalker } from './pcap.js';
import { CaptureOpenError, type CaptureInfo, type PacketCallback } from './record.js';
import { u32le } from './bytes.js';

const MAGIC_LEN = 4;
const INITIAL_CARRY = 64 * 1024;

export class CaptureParser {
  readonly info: CaptureInfo;
  private readonly ctx: ParseContext;
  private walker: RecordWalker | null = null;
  private carry = new Uint8Array(INITIAL_CARRY);
  private carryLen = 0;
  /** File offset of carry[0]. */
  private carryFileOffset = 0;
  /** Bytes pushed so far. */
  private bytesIn = 0;
  private ended = false;

  /**
   * @param file names the input in every message (the path as the user gave it).
   * @param onPacket receives one reused PacketRecord per packet; its bytes are valid only during the call.
   */
  constructor(file: string, onPacket: PacketCallback) {
    this.info = {
      file,
      format: null,
      linkTypes: [],
      snaplen: 0,
      packets: 0,
      truncatedPackets: 0,
      truncatedBelowSnaplen: 0,
      diagnostics: [],
      stoppedEarly: false,
    };
    this.ctx = new ParseContext(this.info, onPacket);
  }

  /**
   * Parses as much of `chunk` as is complete. The chunk may be reused by the caller after push
   * returns: any incomplete tail is copied. Throws only CaptureOpenError, and only while the
   * magic is being identified.
   */
  push(chunk: Uint8Array): void {
    const chunkBase = this.bytesIn;
    this.bytesIn += chunk.length;
    if (this.ctx.stopped || this.ended || chunk.length === 0) return;
    let pos = 0;
    if (this.carryLen > 0 || this.walker === null) {
      pos = this.fillCarry(chunk);
      if (this.carryLen > 0 || this.ctx.stopped || pos === chunk.length) return;
    }
    const walker = this.walker!;
    const stop = walker.walk(chunk, pos, chunk.length, chunkBase);
    if (this.ctx.stopped || stop === chunk.length) return;
    const rest = chunk.length - stop;
    this.ensureCarry(rest);
    this.carry.set(chunk.subarray(stop), 0);
    this.carryLen = rest;
    this.carryFileOffset = chunkBase + stop;
  }

  /**
   * Ends the input: an incomplete last record becomes a diagnostic. Throws CaptureOpenError when
   * the input was empty or shorter than its file header. Returns info (also available as .info).
   */
  end(): CaptureInfo {
    if (this.ended) return this.info;
    this.ended = true;
    const file = this.info.file;
    if (this.walker === null) {
      if (this.bytesIn === 0) {
        throw new CaptureOpenError(`${file}: the input is empty`, OPEN_ERROR.CAPTURE_EMPTY);
      }
      throw new CaptureOpenError(
        `${file}: only ${this.bytesIn} bytes, too short for any capture file header`,
        OPEN_ERROR.CAPTURE_TRUNCATED_HEADER,
      );
    }
    if (!this.ctx.stopped && (this.carryLen > 0 || !this.walker.headerDone)) {
      const need = this.walker.unitNeed(this.carry, 0, this.carryLen, this.carryFileOffset);
      if (need >= 0) this.walker.reportTruncated(this.carryLen, need, this.carryFileOffset);
    }
    this.carryLen = 0;
    this.walker.end?.();
    this.ctx.finish(this.bytesIn);
    return this.info;
  }

  /**
   * Stops reading because the input itself failed (an I/O error part way): records a diagnostic
   * at the current offset and keeps everything delivered so far.
   */
  abort(detail: string): void {
    this.ctx.stop(CAPTURE_DIAG.CAPTURE_READ_ERROR, detail, this.bytesIn);
  }

  /** Moves bytes from the chunk into the carry until it holds one complete unit; returns bytes taken. */
  private fillCarry(chunk: Uint8Array): number {
    let pos = 0;
    for (;;) {
      let need: number;
      if (this.walker === null) {
        if (this.carryLen >= MAGIC_LEN) {
          this.walker = this.createWalker();
          continue;
        }
        need = MAGIC_LEN;
      } else {
        need = this.walker.unitNeed(this.carry, 0, this.carryLen, this.carryFileOffset);
        if (need < 0) {
          this.carryLen = 0;
          return chunk.length;
        }
        if (this.carryLen >= need) {
          this.walker.walk(this.carry, 0, this.carryLen, this.carryFileOffset);
          this.carryFileOffset += this.carryLen;
          this.carryLen = 0;
          return pos;
        }
      }
      const take = Math.min(need - this.carryLen, chunk.length - pos);
      if (take === 0) return pos;
      this.ensureCarry(this.carryLen + take);
      this.carry.set(chunk.subarray(pos, pos + take), this.carryLen);
      this.carryLen += take;
      pos += take;
    }
  }

  private ensureCarry(size: number): void {
    if (size <= this.carry.length) return;
    let cap = this.carry.length * 2;
    while (cap < size) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.carry.subarray(0, this.carryLen));
    this.carry = grown;
  }

  private createWalker(): RecordWalker {
    const b = this.carry;
    const pcap = sniffPcapMagic(b, 0);
    if (pcap) return new PcapWalker(this.ctx, pcap.littleEndian, pcap.nanos, pcap.modified);
    if (u32le(b, 0) === PCAPNG.SHB) return new PcapngWalker(this.ctx);
    const shown = Array.from(b.subarray(0, MAGIC_LEN), (x) => x.toString(16).padStart(2, '0')).join(' ');
    const hint = describeNonCapture(b);
    throw new CaptureOpenError(
      `${this.info.file}: not a pcap or pcapng file: first bytes ${shown}, expected a1b2c3d4, a1b23c4d or a1b2cd34 (pcap, either byte order) or 0a0d0d0a (pcapng)${hint ? `; ${hint}` : ''}`,
      OPEN_ERROR.CAPTURE_BAD_MAGIC,
    );
  }
}

/** A hint for the usual wrong inputs, from the first four bytes. */
function describeNonCapture(b: Uint8Array): string {
  if (b[0] === 0x1f && b[1] === 0x8b) return 'it looks gzip-compressed: decompress it first (gunzip)';
  if (b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) return 'it looks like a zip archive: extract the capture first';
  const first = firstNonSpace(b);
  if (first === 0x7b || first === 0x5b) return 'it looks like JSON, not a capture (tshark -T json output cannot be read back)';
  let printable = true;
  for (let i = 0; i < MAGIC_LEN; i++) {
    const c = b[i];
    if (!(c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c < 0x7f))) printable = false;
  }
  if (printable) return 'it looks like text, e.g. tcpdump or tshark printed output; capture with -w file instead';
  return '';
}

function firstNonSpace(b: Uint8Array): number {
  for (let i = 0; i < MAGIC_LEN; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}
