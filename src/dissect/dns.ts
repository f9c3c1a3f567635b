// DNS messages (RFC 1035 section 4), read strictly: the header, the questions and the answer
// section's A, AAAA and CNAME records, and its SVCB and HTTPS records (RFC 9460: the name they
// send the client on to, and the addresses a browser may connect to before it has any A/AAAA
// answer), which is what says where an address came from and whether a lookup failed. Every length
// is checked against the bytes held; a compression pointer must point before the label that holds
// it, so a name can never loop; names are at most 255 bytes. Bad input is normal input: the parser
// returns an error code and the offset, never throws; a malformed SVCB/HTTPS record is skipped and
// counted, as its own length still says where the next record starts.
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
  /** SVCB RDATA (RFC 9460 section 2.2): SvcPriority, TargetName, then key, length, value per SvcParam. */
  SVC_PRIORITY_LEN: 2,
  SVC_PARAM_HEADER_LEN: 4,
} as const;

/** SvcParamKeys (RFC 9460 section 14.3.2) that carry addresses. */
const SVC_PARAM = {
  IPV4HINT: 4,
  IPV6HINT: 6,
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
  MAX_SERVICE_RECORDS: 16,
  /** Address hints kept per SVCB/HTTPS record, both families together. */
  MAX_HINTS: 16,
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

/** An SVCB or HTTPS record of the answer section (RFC 9460). */
export interface DnsServiceRecord {
  /** Owner name, lower case. */
  name: string;
  type: typeof RR_TYPE.SVCB | typeof RR_TYPE.HTTPS;
  /** 0 is AliasMode: `target` is another name to ask, and the record carries no hints. */
  priority: number;
  /** TargetName, lower case; '' (the root) in ServiceMode means the owner name itself. */
  target: string;
  /** ipv4hint and ipv6hint addresses, as tcpwhy prints addresses (ServiceMode only). */
  ipv4Hints: string[];
  ipv6Hints: string[];
  /** Hints beyond DNS_LIMITS.MAX_HINTS, not kept. */
  hintsLeftOut: number;
}

/** Records of one owner name and type. */
type RRset = Pick<DnsServiceRecord, 'name' | 'type'>;

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
  /** SVCB and HTTPS records of the answer section, in order. */
  services: DnsServiceRecord[];
  /**
   * SVCB/HTTPS records not read: malformed (with the rest of their RRset, which a client rejects
   * whole, RFC 9460 section 2.2), or beyond the limits. Their hints are unknown.
   */
  unreadServices: number;
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
    services: [],
    unreadServices: 0,
    cut: false,
  };
  const qdcount = u16(off + DNS.QDCOUNT);
  const ancount = u16(off + DNS.ANCOUNT);
  const cutByCapture = wireLen > len;
  let p = off + DNS.HEADER_LEN;
  /** SVCB/HTTPS records found malformed: their RRsets are dropped once all are read. */
  let rejected: RRset[] | null = null;
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
        const record = readServiceRecord(b, off, rdata, rdata + rdlen, name, type);
        if (record === null) {
          msg.unreadServices++;
          (rejected ??= []).push({ name, type });
        } else if (msg.services.length < DNS_LIMITS.MAX_SERVICE_RECORDS) msg.services.push(record);
        else msg.unreadServices++;
      }
      if (data !== null && msg.answers.length < DNS_LIMITS.MAX_ANSWERS) msg.answers.push({ name, type, ttl, data });
      p = rdata + rdlen;
    }
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    // Bytes the snap length removed: what was read before the cut stands.
    if (e.code === DNS_ERROR.TRUNCATED && cutByCapture && msg.questions.length > 0) {
      msg.cut = true;
      if (rejected) dropRejectedRRsets(msg, rejected);
      return msg;
    }
    return { error: e.code, at: e.at };
  }
  if (msg.questions.length === 0) return { error: DNS_ERROR.NO_QUESTION, at: DNS.QDCOUNT };
  if (rejected) dropRejectedRRsets(msg, rejected);
  return msg;
}

/**
 * The SVCB/HTTPS record whose RDATA is b[from, to), or null when it is malformed (RFC 9460 section
 * 2.2): a SvcParam runs past the RDATA, keys are not in strictly increasing order, a hint is not a
 * whole non-empty list of addresses, or the TargetName is compressed or runs past the RDATA. Each
 * SvcParam moves on at least 4 bytes, so the loop ends.
 */
function readServiceRecord(b: Uint8Array, base: number, from: number, to: number, name: string, type: DnsServiceRecord['type']): DnsServiceRecord | null {
  if (to - from < DNS.SVC_PRIORITY_LEN + 1) return null;
  const priority = (b[from] << 8) | b[from + 1];
  let target: string;
  let p: number;
  try {
    [target, p] = readName(b, base, from + DNS.SVC_PRIORITY_LEN, to, false);
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    return null;
  }
  const record: DnsServiceRecord = { name, type, priority, target, ipv4Hints: [], ipv6Hints: [], hintsLeftOut: 0 };
  let previousKey = -1;
  while (p < to) {
    if (to - p < DNS.SVC_PARAM_HEADER_LEN) return null;
    const key = (b[p] << 8) | b[p + 1];
    const len = (b[p + 2] << 8) | b[p + 3];
    const value = p + DNS.SVC_PARAM_HEADER_LEN;
    if (key <= previousKey || value + len > to) return null;
    previousKey = key;
    const size = key === SVC_PARAM.IPV4HINT ? 4 : key === SVC_PARAM.IPV6HINT ? 16 : 0;
    if (size > 0) {
      if (len === 0 || len % size !== 0) return null;
      // AliasMode records carry no SvcParams that count: recipients ignore them (RFC 9460 section 2.4.2).
      for (let a = value; priority !== 0 && a < value + len; a += size) {
        if (record.ipv4Hints.length + record.ipv6Hints.length >= DNS_LIMITS.MAX_HINTS) record.hintsLeftOut++;
        else if (size === 4) record.ipv4Hints.push(`${b[a]}.${b[a + 1]}.${b[a + 2]}.${b[a + 3]}`);
        else record.ipv6Hints.push(ipv6Text(b, a));
      }
    }
    p = value + len;
  }
  return record;
}

/** Drops the records of each RRset that held a malformed one: a client rejects such an RRset whole (RFC 9460 section 2.2). */
function dropRejectedRRsets(msg: DnsMessage, rejected: RRset[]): void {
  const kept = msg.services.filter((r) => !rejected.some((x) => x.type === r.type && x.name === r.name));
  msg.unreadServices += msg.services.length - kept.length;
  msg.services = kept;
}

/**
 * The name at `p` (message starts at `base`, readable bytes end at `end`) and the offset after it
 * in the record. A pointer must point before the start of the labels it ends (the name itself, or
 * the place the previous pointer led to), so following pointers always moves backwards and ends.
 * Without `pointers` the name must be written out (RDATA of types newer than RFC 3597).
 */
function readName(b: Uint8Array, base: number, p: number, end: number, pointers = true): [string, number] {
  let name = '';
  let length = 0;
  let after = -1;
  let runStart = p;
  for (;;) {
    if (p >= end) throw new Fail(DNS_ERROR.TRUNCATED, p - base);
    const len = b[p];
    const kind = len & DNS.LABEL_KIND_MASK;
    if (kind === DNS.LABEL_POINTER) {
      if (!pointers) throw new Fail(DNS_ERROR.BAD_RDATA, p - base);
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

  onClose(dir: Dir, how: 'fin' | 'rst', no: number, tsMicros: number): void {
    this.inner?.onClose?.(dir, how, no, tsMicros);
  }

  onEnd(tsMicros: number): void {
    this.held[0] = this.held[1] = null;
    this.inner?.onEnd(tsMicros);
  }
}
