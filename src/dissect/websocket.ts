// RFC 6455 frames for one direction after a 101, fed chunk by chunk (ws's lib/receiver.js model:
// explicit states, each waiting for enough bytes). Payloads are not kept: a frame header is at most
// 14 bytes in a fixed buffer, a close payload at most 125, and text is UTF-8 checked by a streaming
// validator as the bytes pass. Frame errors are reported and parsing goes on while the framing is
// still trustworthy (so the report shows what the peer did next); a bad 64-bit length stops it.
import { createHash } from 'node:crypto';
import type { Dir } from '../flow/sink.js';
import { WS_ERROR, type WsErrorCode } from './status.js';
import type { WsFrameCounts, WsUnansweredPing } from './types.js';

export const OPCODE = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export const OPCODE_NAME: Record<number, string> = {
  0x0: 'continuation',
  0x1: 'text',
  0x2: 'binary',
  0x8: 'close',
  0x9: 'ping',
  0xa: 'pong',
};

export const CLOSE_CODE_NAME: Record<number, string> = {
  1000: 'normal',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal',
  1007: 'invalid payload data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake',
};

const NO_BYTES = new Uint8Array(0);

/** The byte of masking key `mask` that applies at payload offset `pos` (RFC 6455 5.3). */
const maskByte = (mask: number, pos: number): number => (mask >>> ((3 - (pos & 3)) << 3)) & 0xff;

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_CONTROL_PAYLOAD = 125;

/** Sec-WebSocket-Accept for a key (RFC 6455 4.2.2 step 5.4). */
export function computeAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** A key is base64 of 16 bytes: 22 characters and "==" (RFC 6455 4.1 item 7). */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key);
}

/** Codes a peer may send (RFC 6455 7.4.1/7.4.2, IANA 1012-1014, private 3000-4999); 1005, 1006
 *  and 1015 are for APIs only, never on the wire. Same set as ws's isValidStatusCode. */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Streaming UTF-8 check (RFC 3629 table of well-formed sequences): rejects overlongs, surrogates
 *  and code points above U+10FFFF as soon as the offending byte arrives. */
export class Utf8Validator {
  private need = 0;
  private lo = 0x80;
  private hi = 0xbf;

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  /** False when `c` cannot continue a well-formed sequence. */
  push(c: number): boolean {
    if (this.need === 0) {
      if (c < 0x80) return true;
      this.lo = 0x80;
      this.hi = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) this.need = 1;
      else if (c === 0xe0) (this.need = 2), (this.lo = 0xa0);
      else if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) this.need = 2;
      else if (c === 0xed) (this.need = 2), (this.hi = 0x9f);
      else if (c === 0xf0) (this.need = 3), (this.lo = 0x90);
      else if (c >= 0xf1 && c <= 0xf3) this.need = 3;
      else if (c === 0xf4) (this.need = 3), (this.hi = 0x8f);
      else return false;
      return true;
    }
    if (c < this.lo || c > this.hi) return false;
    this.need--;
    this.lo = 0x80;
    this.hi = 0xbf;
    return true;
  }

  /** True when no sequence is left open. */
  get complete(): boolean {
    return this.need === 0;
  }
}

export function isValidUtf8(b: Uint8Array, s: number, e: number): boolean {
  const v = new Utf8Validator();
  for (let i = s; i < e; i++) if (!v.push(b[i])) return false;
  return v.complete;
}

export interface WsFrameStart {
  opcode: number;
  fin: boolean;
  rsv: number;
  masked: boolean;
  length: number;
  compressed: boolean;
  streamOffset: number;
  no: number;
  tsMicros: number;
}

export interface WsParserHooks {
  onFrame(dir: Dir, frame: WsFrameStart): void;
  /** A close frame's payload is complete. code null: no payload. */
  onClose(dir: Dir, frame: WsFrameStart, code: number | null, reason: string | null): void;
  onError(code: WsErrorCode, message: string, dir: Dir, streamOffset: number, no: number): void;
}

export function newFrameCounts(): WsFrameCounts {
  return { text: 0, binary: 0, ping: 0, pong: 0, close: 0, continuation: 0, invalid: 0, compressed: 0, payloadBytes: 0 };
}

/** The counts of a detached parser: never written (a detached parser is fed nothing). */
const NO_COUNTS: WsFrameCounts = Object.freeze(newFrameCounts());

const STATE = {
  HEADER: 0,
  PAYLOAD: 1,
  STOPPED: 2,
} as const;
type State = (typeof STATE)[keyof typeof STATE];

/** The hooks of a parser waiting to be begun anew: it calls none. */
const NO_HOOKS: WsParserHooks = { onFrame() {}, onClose() {}, onError() {} };

export class WebSocketFrameParser {
  dir!: Dir;
  private hooks!: WsParserHooks;
  /** permessage-deflate negotiated: RSV1 marks a compressed message. */
  private deflate!: boolean;
  /** Where the frames are counted: the session's facts, when it has them. */
  counts!: WsFrameCounts;
  /** This direction's pings since the peer's last pong; the session keeps it (it sees both directions). */
  unansweredPing!: WsUnansweredPing | null;
  private state!: State;
  /** Frame header bytes collected so far (2..14). */
  private readonly header = new Uint8Array(14);
  private headerLen!: number;
  private headerStart!: number;
  private headerNo!: number;
  private headerTs!: number;
  /** Reused for every frame: hooks copy what they keep. */
  private readonly frame: WsFrameStart = { opcode: 0, fin: false, rsv: 0, masked: false, length: 0, compressed: false, streamOffset: 0, no: 0, tsMicros: 0 };
  /** The masking key as a 32-bit integer, its first byte highest (0 when unmasked). */
  private mask!: number;
  private payloadPos!: number;
  private remaining!: number;
  /** A fragmented data message is open; its opcode and whether its bytes are UTF-8 checked. */
  private inMessage!: boolean;
  private messageOpcode!: number;
  private checkUtf8!: boolean;
  private readonly utf8 = new Utf8Validator();
  /** Made at the first close frame, which many directions never send; kept when the parser is begun anew. */
  private closePayload = NO_BYTES;
  private closeLen!: number;
  private closeSent!: boolean;

  constructor(dir: Dir, hooks: WsParserHooks, deflate: boolean, counts: WsFrameCounts = newFrameCounts()) {
    this.begin(dir, hooks, deflate, counts);
  }

  /**
   * Ready for another stream, as the constructor leaves it (the arguments are the constructor's). A
   * parser lives as long as its WebSocket: one made for each would be promoted to the old
   * generation and collected there. The header, frame and close payload buffers and the UTF-8
   * validator are kept: each is written or reset before it is read.
   */
  begin(dir: Dir, hooks: WsParserHooks, deflate: boolean, counts: WsFrameCounts = newFrameCounts()): this {
    this.dir = dir;
    this.hooks = hooks;
    this.deflate = deflate;
    this.counts = counts;
    this.unansweredPing = null;
    this.state = STATE.HEADER;
    this.headerLen = 0;
    this.headerStart = 0;
    this.headerNo = 0;
    this.headerTs = 0;
    this.mask = 0;
    this.payloadPos = 0;
    this.remaining = 0;
    this.inMessage = false;
    this.messageOpcode = 0;
    this.checkUtf8 = false;
    this.closeLen = 0;
    this.closeSent = false;
    return this;
  }

  /** Done with its stream: lets go of what was the stream's (its hooks, counts and pings), to wait for begin(). */
  detach(): this {
    this.hooks = NO_HOOKS;
    this.counts = NO_COUNTS;
    this.unansweredPing = null;
    return this;
  }

  get stopped(): boolean {
    return this.state === STATE.STOPPED;
  }
  /** Between frames: no byte of a next frame seen. */
  get idle(): boolean {
    return this.state === STATE.HEADER && this.headerLen === 0;
  }

  execute(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): void {
    let i = off;
    const base = streamOffset - off;
    while (i < end) {
      if (this.state === STATE.HEADER) {
        if (this.headerLen === 0) {
          this.headerStart = base + i;
          this.headerNo = no;
          this.headerTs = tsMicros;
        }
        const need = this.headerNeed();
        const n = Math.min(need - this.headerLen, end - i);
        // A byte loop: a header is a few bytes, and set(subarray) would make a view per frame.
        const header = this.header;
        for (let k = 0; k < n; k++) header[this.headerLen + k] = b[i + k];
        this.headerLen += n;
        i += n;
        if (this.headerLen === this.headerNeed()) this.parseHeader(base + i, no);
      } else if (this.state === STATE.PAYLOAD) {
        const n = Math.min(this.remaining, end - i);
        this.consumePayload(b, i, i + n, base);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.endFrame(base + i, no);
      } else {
        return;
      }
    }
  }

  /** Lost bytes: survivable inside a payload (the UTF-8 check of that message is dropped), fatal
   *  to framing anywhere else. Returns false when the direction stopped. */
  gap(length: number): boolean {
    if (this.state === STATE.PAYLOAD && length < this.remaining) {
      this.remaining -= length;
      this.payloadPos += length;
      this.counts.payloadBytes += length;
      this.checkUtf8 = false;
      this.closeLen = -1; // close payload incomplete
      return true;
    }
    if (this.state === STATE.STOPPED) return false;
    this.state = STATE.STOPPED;
    return false;
  }

  /**
   * The direction ended; a frame cut short is reported when the side's own FIN cut it (`byFin`).
   * Cut by an RST from either side or by the capture's end, it was aborted, not malformed.
   */
  finish(no: number, byFin = true): void {
    if (byFin && this.state !== STATE.STOPPED && !this.idle) {
      this.error('WS_INCOMPLETE_FRAME', `frame at stream offset ${this.headerStart} is cut off`, this.headerStart, no);
    }
    this.state = STATE.STOPPED;
  }

  private headerNeed(): number {
    if (this.headerLen < 2) return 2;
    const len7 = this.header[1] & 0x7f;
    const masked = (this.header[1] & 0x80) !== 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  private error(code: WsErrorCode, detail: string, streamOffset: number, no: number): void {
    this.hooks.onError(code, `${WS_ERROR[code]}: ${detail}`, this.dir, streamOffset, no);
  }

  private parseHeader(afterHeader: number, no: number): void {
    const h = this.header;
    const fin = (h[0] & 0x80) !== 0;
    const rsv = (h[0] >> 4) & 0x7;
    const opcode = h[0] & 0x0f;
    const masked = (h[1] & 0x80) !== 0;
    const len7 = h[1] & 0x7f;
    let length = len7;
    let p = 2;
    if (len7 === 126) {
      length = (h[2] << 8) | h[3];
      p = 4;
    } else if (len7 === 127) {
      if (h[2] & 0x80) {
        this.error('WS_INVALID_LENGTH', `first length byte 0x${h[2].toString(16)}`, this.headerStart, this.headerNo);
        this.state = STATE.STOPPED;
        return;
      }
      // 2^53 bounds a JS number; payloads that large cannot be in a capture anyway.
      length = (h[2] * 2 ** 24 + ((h[3] << 16) | (h[4] << 8) | h[5])) * 2 ** 32 + (((h[6] << 24) >>> 0) + ((h[7] << 16) | (h[8] << 8) | h[9]));
      p = 10;
    }
    this.mask = masked ? (h[p] << 24) | (h[p + 1] << 16) | (h[p + 2] << 8) | h[p + 3] : 0;
    const at = this.headerStart;
    const fno = this.headerNo;
    const isControl = (opcode & 0x8) !== 0;
    const known = OPCODE_NAME[opcode] !== undefined;
    const compressed = this.deflate && (rsv & 0x4) !== 0 && !isControl && opcode !== OPCODE.CONTINUATION;

    if (this.closeSent) this.error('WS_DATA_AFTER_CLOSE', `${OPCODE_NAME[opcode] ?? `opcode 0x${opcode.toString(16)}`} frame after close`, at, fno);
    if (this.dir === 0 && !masked) this.error('WS_UNMASKED_CLIENT_FRAME', `${OPCODE_NAME[opcode] ?? 'frame'} of ${length} bytes`, at, fno);
    if (this.dir === 1 && masked) this.error('WS_MASKED_SERVER_FRAME', `${OPCODE_NAME[opcode] ?? 'frame'} of ${length} bytes`, at, fno);
    // permessage-deflate (RFC 7692 6) defines RSV1 on the first frame of a data message only.
    const allowedRsv = compressed ? 0x4 : 0;
    if ((rsv & ~allowedRsv) !== 0) {
      this.error('WS_RSV_WITHOUT_EXTENSION', `RSV bits 0b${rsv.toString(2).padStart(3, '0')} on ${OPCODE_NAME[opcode] ?? 'frame'}`, at, fno);
    }
    if (!known) {
      this.counts.invalid++;
      this.error('WS_BAD_OPCODE', `opcode 0x${opcode.toString(16)}`, at, fno);
    } else if (isControl) {
      if (length > MAX_CONTROL_PAYLOAD) this.error('WS_CONTROL_TOO_LONG', `${OPCODE_NAME[opcode]} of ${length} bytes`, at, fno);
      if (!fin) this.error('WS_FRAGMENTED_CONTROL', `${OPCODE_NAME[opcode]} without FIN`, at, fno);
    } else if (opcode === OPCODE.CONTINUATION) {
      if (!this.inMessage) this.error('WS_UNEXPECTED_CONTINUATION', `continuation of ${length} bytes`, at, fno);
    } else if (this.inMessage) {
      this.error('WS_EXPECTED_CONTINUATION', `${OPCODE_NAME[opcode]} frame inside a fragmented ${OPCODE_NAME[this.messageOpcode]} message`, at, fno);
    }

    switch (opcode) {
      case OPCODE.TEXT:
        this.counts.text++;
        break;
      case OPCODE.BINARY:
        this.counts.binary++;
        break;
      case OPCODE.CONTINUATION:
        this.counts.continuation++;
        break;
      case OPCODE.CLOSE:
        this.counts.close++;
        break;
      case OPCODE.PING:
        this.counts.ping++;
        break;
      case OPCODE.PONG:
        this.counts.pong++;
        break;
    }
    if (compressed) this.counts.compressed++;
    this.counts.payloadBytes += length;

    // A new data frame starts a message (even after the error above, as a receiver would read it).
    if (known && !isControl && opcode !== OPCODE.CONTINUATION) {
      this.inMessage = true;
      this.messageOpcode = opcode;
      this.checkUtf8 = opcode === OPCODE.TEXT && !compressed;
      this.utf8.reset();
    }
    if (opcode === OPCODE.CLOSE) {
      this.closeLen = 0;
      if (this.closePayload === NO_BYTES) this.closePayload = new Uint8Array(MAX_CONTROL_PAYLOAD);
    }

    const f = this.frame;
    f.opcode = opcode;
    f.fin = fin;
    f.rsv = rsv;
    f.masked = masked;
    f.length = length;
    f.compressed = compressed;
    f.streamOffset = at;
    f.no = fno;
    f.tsMicros = this.headerTs;
    this.hooks.onFrame(this.dir, f);
    this.headerLen = 0;
    this.payloadPos = 0;
    this.remaining = length;
    this.state = STATE.PAYLOAD;
    if (length === 0) this.endFrame(afterHeader, no);
  }

  private consumePayload(b: Uint8Array, s: number, e: number, base: number): void {
    const frame = this.frame;
    const masked = frame.masked;
    if (frame.opcode === OPCODE.CLOSE) {
      for (let i = s; i < e; i++, this.payloadPos++) {
        if (this.closeLen >= 0 && this.closeLen < MAX_CONTROL_PAYLOAD) {
          this.closePayload[this.closeLen++] = masked ? b[i] ^ maskByte(this.mask, this.payloadPos) : b[i];
        }
      }
      return;
    }
    if (this.checkUtf8 && (frame.opcode === OPCODE.TEXT || frame.opcode === OPCODE.CONTINUATION)) {
      const utf8 = this.utf8;
      const mask = this.mask;
      const start = this.payloadPos;
      this.payloadPos += e - s;
      let pos = start;
      for (let i = s; i < e; i++, pos++) {
        const c = masked ? b[i] ^ maskByte(mask, pos) : b[i];
        if (c < 0x80 && utf8.complete) continue; // ASCII outside a sequence: nothing to check
        if (!utf8.push(c)) {
          this.checkUtf8 = false;
          this.error('WS_INVALID_UTF8', `byte 0x${c.toString(16)} at payload offset ${pos} of a text message`, base + i, frame.no);
          break;
        }
      }
      return;
    }
    this.payloadPos += e - s;
  }

  private endFrame(afterFrame: number, no: number): void {
    const frame = this.frame;
    this.state = STATE.HEADER;
    this.headerLen = 0;
    if (frame.opcode === OPCODE.CLOSE) {
      this.endClose(frame);
      return;
    }
    const isData = frame.opcode === OPCODE.TEXT || frame.opcode === OPCODE.BINARY || frame.opcode === OPCODE.CONTINUATION;
    if (isData && frame.fin && this.inMessage) {
      if (this.checkUtf8 && !this.utf8.complete) {
        this.error('WS_INVALID_UTF8', 'text message ends inside a UTF-8 sequence', afterFrame - 1, no);
      }
      this.inMessage = false;
      this.checkUtf8 = false;
    }
  }

  private endClose(frame: WsFrameStart): void {
    this.closeSent = true;
    if (this.closeLen < 0) {
      this.hooks.onClose(this.dir, frame, null, null);
      return;
    }
    let code: number | null = null;
    let reason: string | null = null;
    if (this.closeLen === 1) {
      this.error('WS_CLOSE_PAYLOAD_TOO_SHORT', '1-byte close payload', frame.streamOffset, frame.no);
    } else if (this.closeLen >= 2) {
      code = (this.closePayload[0] << 8) | this.closePayload[1];
      if (!isValidCloseCode(code)) this.error('WS_INVALID_CLOSE_CODE', `close code ${code}`, frame.streamOffset, frame.no);
      if (isValidUtf8(this.closePayload, 2, this.closeLen)) {
        reason = Buffer.from(this.closePayload.buffer, this.closePayload.byteOffset + 2, this.closeLen - 2).toString('utf8');
      } else {
        this.error('WS_INVALID_UTF8', 'close reason is not UTF-8', frame.streamOffset, frame.no);
        reason = Buffer.from(this.closePayload.buffer, this.closePayload.byteOffset + 2, this.closeLen - 2).toString('latin1');
      }
    }
    this.hooks.onClose(this.dir, frame, code, reason);
  }
}
