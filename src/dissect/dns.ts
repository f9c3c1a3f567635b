// DNS messages (RFC 1035 section 4), read strictly: the header, the questions and the answer
// section's A, AAAA and CNAME records, which is what says where an address came from and whether a
// lookup failed. Every length is checked against the bytes held; a compression pointer must point
// before the label that holds it, so a name can never loop; names are at most 255 bytes. Bad input
// is normal input: the parser returns an error code and the offset, never throws.
//
// DnsOverTcp reads the first message of each direction of a TCP port-53 flow (two-byte length
// prefix, RFC 1035 section 4.2.2) and passes every byte on to the flow's own sink.

import { formatAddr } from '../decode/addr.js';
import type { Dir, StreamSink } from '../flow/sink.js';

export const DNS = {
  HEADER_LEN: 12,
  ID: 0,
  FLAGS: 2,
  QDCOUNT: 4,
  ANCOUNT: 6,
  FLAG_RESPONSE: 0x8000,
  FLAG_TRUNCATED: 0x0200,
  OPCODE_SHIFT: 11,
  OPCODE_MASK: 0x0f,
  RCODE_MASK: 0x000f,
  /** Two length bits of a label byte: 00 a label, 11 a compression pointer, 01/10 reserved. */
  LABEL_KIND_MASK: 0xc0,
  LABEL_POINTER: 0xc0,
  POINTER_MASK: 0x3fff,
  MAX_NAME_LEN: 255,
  /** Question type, class; record type, class, TTL, data length. */
  QUESTION_FIXED_LEN: 4,
  RECORD_FIXED_LEN: 10,
  TCP_LENGTH_PREFIX: 2,
} as const;

export const RR_TYPE = {
  A: 1,
  CNAME: 5,
  AAAA: 28,
  SVCB: 64,
  HTTPS: 65,
} as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** Questions and answer records kept per message; the rest are counted, not kept. */
const DNS_LIMITS = {
  MAX_QUESTIONS: 4,
  MAX_ANSWERS: 64,
  /** Largest DNS-over-TCP message held to be read (answers that name addresses are far smaller). */
  MAX_TCP_MESSAGE: 16 * 1024,
} as const;

export interface DnsQuestion {
  /** Lower case, without the final dot ('' for the root). */
  name: string;
  type: number;
}

export interface DnsAnswer {
  /** Owner name, lower case. */
  name: string;
  type: number;
  ttl: number;
  /** A / AAAA: the address as tcpwhy prints addresses; CNAME: the target name. */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: number;
  rcode: number;
  /** TC bit: the answer did not fit and the client should ask again over TCP. */
  truncated: boolean;
  questions: DnsQuestion[];
  /** A, AAAA and CNAME records of the answer section, in order. */
  answers: DnsAnswer[];
  /** SVCB/HTTPS records in the answer section: they may carry address hints not read here. */
  hintRecords: number;
  /** The capture's bytes ended before the message did (snap length): answers are those captured. */
  cut: boolean;
}

export const DNS_ERROR = {
  TRUNCATED: 'DNS_TRUNCATED',
  BAD_LABEL: 'DNS_BAD_LABEL',
  POINTER_NOT_BACKWARDS: 'DNS_POINTER_NOT_BACKWARDS',
  NAME_TOO_LONG: 'DNS_NAME_TOO_LONG',
  BAD_RDATA: 'DNS_BAD_RDATA',
  NO_QUESTION: 'DNS_NO_QUESTION',
} as const;
export type DnsErrorCode = (typeof DNS_ERROR)[keyof typeof DNS_ERROR];

export interface DnsParseError {
  error: DnsErrorCode;
  /** Offset in the message where reading failed. */
  at: number;
}

export function isDnsError(r: DnsMessage | DnsParseError): r is DnsParseError {
  return (r as DnsParseError).error !== undefined;
}

class Fail {
  constructor(
    readonly code: DnsErrorCode,
    readonly at: number,
  ) {}
}

/**
 * Reads the message in b[off, end). `wireLen` is the message's length on the wire when the capture
 * holds less of it (snap length): a message cut there keeps what was read before the cut.
 */
export function parseDnsMessage(b: Uint8Array, off: number, end: number, wireLen = end - off): DnsMessage | DnsParseError {
  const len = end - off;
  if (len < DNS.HEADER_LEN) return { error: DNS_ERROR.TRUNCATED, at: len < 0 ? 0 : len };
  const u16 = (p: number) => (b[p] << 8) | b[p + 1];
  const flags = u16(off + DNS.FLAGS);
  const msg: DnsMessage = {
    id: u16(off + DNS.ID),
    response: (flags & DNS.FLAG_RESPONSE) !== 0,
    opcode: (flags >> DNS.OPCODE_SHIFT) & DNS.OPCODE_MASK,
    rcode: flags & DNS.RCODE_MASK,
    truncated: (flags & DNS.FLAG_TRUNCATED) !== 0,
    questions: [],
    answers: [],
    hintRecords: 0,
    cut: false,
  };
  const qdcount = u16(off + DNS.QDCOUNT);
  const ancount = u16(off + DNS.ANCOUNT);
  const cutByCapture = wireLen > len;
  let p = off + DNS.HEADER_LEN;
  try {
    for (let i = 0; i < qdcount; i++) {
      const [name, next] = readName(b, off, p, end);
      if (next + DNS.QUESTION_FIXED_LEN > end) throw new Fail(DNS_ERROR.TRUNCATED, end - off);
      if (msg.questions.length < DNS_LIMITS.MAX_QUESTIONS) msg.questions.push({ name, type: u16(next) });
      p = next + DNS.QUESTION_FIXED_LEN;
    }
    for (let i = 0; i < ancount; i++) {
      const [name, next] = readName(b, off, p, end);
      if (next + DNS.RECORD_FIXED_LEN > end) throw new Fail(DNS_ERROR.TRUNCATED, end - off);
      const type = u16(next);
      const ttl = ((b[next + 4] << 24) | (b[next + 5] << 16) | (b[next + 6] << 8) | b[next + 7]) >>> 0;
      const rdlen = u16(next + 8);
      const rdata = next + DNS.RECORD_FIXED_LEN;
      if (rdata + rdlen > end) throw new Fail(DNS_ERROR.TRUNCATED, end - off);
      let data: string | null = null;
      if (type === RR_TYPE.A) {
        if (rdlen !== 4) throw new Fail(DNS_ERROR.BAD_RDATA, rdata - off);
        data = `${b[rdata]}.${b[rdata + 1]}.${b[rdata + 2]}.${b[rdata + 3]}`;
      } else if (type === RR_TYPE.AAAA) {
        if (rdlen !== 16) throw new Fail(DNS_ERROR.BAD_RDATA, rdata - off);
        data = ipv6Text(b, rdata);
      } else if (type === RR_TYPE.CNAME) {
        const [target, after] = readName(b, off, rdata, rdata + rdlen);
        if (after !== rdata + rdlen) throw new Fail(DNS_ERROR.BAD_RDATA, rdata - off);
        data = target;
      } else if (type === RR_TYPE.SVCB || type === RR_TYPE.HTTPS) {
        msg.hintRecords++;
      }
      if (data !== null && msg.answers.length < DNS_LIMITS.MAX_ANSWERS) msg.answers.push({ name, type, ttl, data });
      p = rdata + rdlen;
    }
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    // Bytes the snap length removed: what was read before the cut stands.
    if (e.code === DNS_ERROR.TRUNCATED && cutByCapture && msg.questions.length > 0) {
      msg.cut = true;
      return msg;
    }
    return { error: e.code, at: e.at };
  }
  if (msg.questions.length === 0) return { error: DNS_ERROR.NO_QUESTION, at: DNS.QDCOUNT };
  return msg;
}

/**
 * The name at `p` (message starts at `base`, readable bytes end at `end`) and the offset after it
 * in the record. A pointer must point before the start of the labels it ends (the name itself, or
 * the place the previous pointer led to), so following pointers always moves backwards and ends.
 */
function readName(b: Uint8Array, base: number, p: number, end: number): [string, number] {
  let name = '';
  let length = 0;
  let after = -1;
  let runStart = p;
  for (;;) {
    if (p >= end) throw new Fail(DNS_ERROR.TRUNCATED, p - base);
    const len = b[p];
    const kind = len & DNS.LABEL_KIND_MASK;
    if (kind === DNS.LABEL_POINTER) {
      if (p + 1 >= end) throw new Fail(DNS_ERROR.TRUNCATED, p - base);
      const target = base + (((len << 8) | b[p + 1]) & DNS.POINTER_MASK);
      if (target >= runStart) throw new Fail(DNS_ERROR.POINTER_NOT_BACKWARDS, p - base);
      if (after < 0) after = p + 2;
      p = target;
      runStart = target;
      continue;
    }
    if (kind !== 0) throw new Fail(DNS_ERROR.BAD_LABEL, p - base);
    if (len === 0) return [name, after < 0 ? p + 1 : after];
    if (p + 1 + len > end) throw new Fail(DNS_ERROR.TRUNCATED, p - base);
    length += len + 1;
    if (length > DNS.MAX_NAME_LEN) throw new Fail(DNS_ERROR.NAME_TOO_LONG, p - base);
    if (name.length > 0) name += '.';
    name += labelText(b, p + 1, p + 1 + len);
    p += 1 + len;
  }
}

/** Label bytes as text, lower case; bytes outside printable ASCII and dots inside a label escaped as \DDD (RFC 4343). */
function labelText(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    let c = b[i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, '0')}`;
  }
  return s;
}

/** RFC 5952 text of 16 bytes at `p`, as flow addresses are printed. */
function ipv6Text(b: Uint8Array, p: number): string {
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((b[p + 4 * i] << 24) | (b[p + 4 * i + 1] << 16) | (b[p + 4 * i + 2] << 8) | b[p + 4 * i + 3]) >>> 0;
  return formatAddr(words, 6);
}

/** A DNS message read from a TCP stream: which direction, and the packet that completed it. */
export type DnsStreamMessage = (dir: Dir, result: DnsMessage | DnsParseError, no: number, tsMicros: number) => void;

/**
 * Passes a TCP port-53 flow's bytes on to `inner` and reads the first message of each direction.
 * Holds the message's own length in bytes (at most DNS_LIMITS.MAX_TCP_MESSAGE) per direction, and
 * only until it is complete; a longer message is read as far as it was held, like one cut by the
 * snap length.
 */
export class DnsOverTcp implements StreamSink {
  /** The two-byte length prefix as read so far, and how many of its bytes were read. */
  private readonly prefix = [0, 0];
  private readonly prefixRead = [0, 0];
  /** The message, sized to its length prefix (at most MAX_TCP_MESSAGE) once that is known. */
  private readonly held: [Uint8Array | null, Uint8Array | null] = [null, null];
  private readonly heldLen = [0, 0];
  private readonly done = [false, false];

  constructor(
    private readonly inner: StreamSink | null,
    private readonly onMessage: DnsStreamMessage,
  ) {}

  onData(dir: Dir, bytes: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): void {
    this.inner?.onData(dir, bytes, off, end, streamOffset, no, tsMicros);
    if (this.done[dir]) return;
    let p = off;
    while (p < end && this.prefixRead[dir] < DNS.TCP_LENGTH_PREFIX) {
      this.prefix[dir] = (this.prefix[dir] << 8) | bytes[p++];
      this.prefixRead[dir]++;
    }
    if (this.prefixRead[dir] < DNS.TCP_LENGTH_PREFIX) return;
    const messageLen = this.prefix[dir];
    let buf = this.held[dir];
    if (buf === null) buf = this.held[dir] = new Uint8Array(Math.min(messageLen, DNS_LIMITS.MAX_TCP_MESSAGE));
    const take = Math.min(buf.length - this.heldLen[dir], end - p);
    buf.set(bytes.subarray(p, p + take), this.heldLen[dir]);
    this.heldLen[dir] += take;
    if (this.heldLen[dir] < buf.length) return;
    this.done[dir] = true;
    this.held[dir] = null;
    this.onMessage(dir, parseDnsMessage(buf, 0, buf.length, messageLen), no, tsMicros);
  }

  onGap(dir: Dir, streamOffset: number, length: number, no: number, tsMicros: number): void {
    this.inner?.onGap(dir, streamOffset, length, no, tsMicros);
    // Bytes after a gap cannot be placed in the message: stop reading this direction.
    this.done[dir] = true;
    this.held[dir] = null;
  }

  onOverlap(dir: Dir, streamOffset: number, length: number, no: number, tsMicros: number): void {
    this.inner?.onOverlap?.(dir, streamOffset, length, no, tsMicros);
  }

  onClose(dir: Dir, how: 'fin' | 'rst', no: number, tsMicros: number): void {
    this.inner?.onClose?.(dir, how, no, tsMicros);
  }

  onEnd(tsMicros: number): void {
    this.held[0] = this.held[1] = null;
    this.inner?.onEnd(tsMicros);
  }
}
