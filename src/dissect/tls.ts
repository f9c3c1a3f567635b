// TLS seen from outside: the record layer and the handshake messages sent in the clear (RFC 8446,
// RFC 5246), enough to say why a wss:// or https:// connection failed before any byte of HTTP:
// the SNI and versions the client offered, the version the server chose, plaintext alerts, which
// side stopped the handshake, and a server that does not speak TLS at all. Once a side encrypts,
// its records are only counted.

import type { Dir } from '../flow/sink.js';
import { cipherSuiteName } from './tls-ciphers.js';

const RECORD = { CHANGE_CIPHER_SPEC: 20, ALERT: 21, HANDSHAKE: 22, APPLICATION_DATA: 23 } as const;
const HANDSHAKE = { CLIENT_HELLO: 1, SERVER_HELLO: 2, CERTIFICATE: 11, CERTIFICATE_REQUEST: 13 } as const;
const EXT = { SERVER_NAME: 0, ALPN: 16, SUPPORTED_VERSIONS: 43 } as const;
/** A handshake message longer than this is not read (a ClientHello with post-quantum key shares is under 2 KB). */
const MAX_HANDSHAKE_BYTES = 32 * 1024;
const MAX_ALERTS = 8;
/** What a TLS 1.3 alert measures once encrypted: 2 bytes, the inner content type, a 16-byte AEAD tag. */
export const TLS13_ENCRYPTED_ALERT_LENGTH = 19;

/** Alert descriptions (RFC 8446 6, RFC 5246 7.2; the ones TLS 1.3 retired, from RFC 2246, 5246 and 6066). */
export const TLS_ALERT_NAME: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  111: 'certificate_unobtainable',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

export function tlsVersionName(v: number): string {
  if (v === 0x0300) return 'SSL 3.0';
  if (v >= 0x0301 && v <= 0x0304) return `TLS 1.${v - 0x0301}`;
  if ((v & 0x0f0f) === 0x0a0a) return 'GREASE';
  return `0x${v.toString(16).padStart(4, '0')}`;
}

export interface TlsHelloFacts {
  no: number;
  ts: number;
}

export interface TlsClientHelloFacts extends TlsHelloFacts {
  sni: string | null;
  alpn: string[];
  /** Versions offered: supported_versions when sent, else the legacy version field. */
  versions: string[];
}

export interface TlsServerHelloFacts extends TlsHelloFacts {
  version: string;
  /** Cipher suite by its IANA name (TLS_AES_128_GCM_SHA256), or its code when not listed (see cipherSuiteName). */
  cipher: string;
  /** Cipher suite code, as tshark shows it (0x1301). */
  cipherCode: string;
  alpn: string | null;
}

export interface TlsAlertFacts {
  from: 'client' | 'server';
  no: number;
  ts: number;
  level: 'warning' | 'fatal';
  description: number;
  name: string;
}

export interface TlsFacts {
  clientHello: TlsClientHelloFacts | null;
  serverHello: TlsServerHelloFacts | null;
  alerts: TlsAlertFacts[];
  /** Per side: the first record sent encrypted (after ChangeCipherSpec, or after the ServerHello in TLS 1.3). */
  firstEncrypted: { client: { no: number; ts: number; length: number } | null; server: { no: number; ts: number; length: number } | null };
  /** Encrypted records per side. */
  encryptedRecords: { client: number; server: number };
  /**
   * The server's encrypted records that began after the client's first one (its Finished, or its
   * first data): how many, the first, and what the client had sent by then: its encrypted records,
   * and the length of its latest (19 bytes, an alert's size in TLS 1.3, is a client that had closed
   * with close_notify or an alert).
   */
  serverAfterClient: { records: number; first: { no: number; ts: number; length: number }; clientRecords: number; clientLastLength: number } | null;
  /** The server's Certificate message, sent in the clear (TLS 1.2 and older; TLS 1.3 encrypts it). */
  serverCertificate: { no: number; ts: number } | null;
  /** The server's CertificateRequest, asking the client for a certificate (mutual TLS), in the clear in TLS 1.2 and older. */
  certificateRequest: { no: number; ts: number } | null;
  /** The client's Certificate message (TLS 1.2 and older), and whether its list held a certificate: an empty one says it had none to give. */
  clientCertificate: { no: number; ts: number; empty: boolean } | null;
  /** The server's first bytes when they were not a TLS record (a plaintext server on this port). */
  serverNotTls: { no: number; ts: number; text: string } | null;
  /**
   * Per side, the packet where the capture missed bytes of the stream: its records are not followed
   * from there, so what the side sent after it (records, alerts, a Finished) is unknown.
   */
  missed: { client: number | null; server: number | null };
  /** A side sent bytes that do not parse as TLS records; its stream is no longer read. */
  malformed: { from: 'client' | 'server'; no: number; detail: string } | null;
}

/**
 * How each side ended its TLS session, for the rules that judge a reset or a FIN after a close: its
 * latest alert record (type 21, plaintext or encrypted, or in TLS 1.3 an encrypted record of an
 * alert's size), and where in its stream its last other record ended and when it began (µs, 0 when
 * none). What a side sent past that were alerts alone. Kept apart from TlsFacts, which the JSON
 * report writes whole.
 */
export interface TlsClosingFacts {
  lastAlert: { client: { no: number; ts: number } | null; server: { no: number; ts: number } | null };
  otherRecordsEnd: { client: number; server: number };
  otherRecordsTs: { client: number; server: number };
}

export function newTlsFacts(): TlsFacts {
  return {
    clientHello: null,
    serverHello: null,
    alerts: [],
    firstEncrypted: { client: null, server: null },
    encryptedRecords: { client: 0, server: 0 },
    serverAfterClient: null,
    serverCertificate: null,
    certificateRequest: null,
    clientCertificate: null,
    serverNotTls: null,
    missed: { client: null, server: null },
    malformed: null,
  };
}

/** The first bytes of a stream look like a TLS handshake record (type 22, version 3.x). */
export function looksLikeTlsRecord(b: Uint8Array, off: number, end: number): boolean {
  return end - off >= 2 && b[off] === RECORD.HANDSHAKE && b[off + 1] === 3;
}

/** One direction's records: a 5-byte header, then the body; handshake bodies are gathered until whole. */
class RecordReader {
  private header = new Uint8Array(5);
  private headerLen = 0;
  private bodyLeft = 0;
  private type = 0;
  /** Handshake message bytes gathered across records while this side is in the clear. */
  private hs: Uint8Array | null = null;
  private hsLen = 0;
  /** A handshake message outgrew MAX_HANDSHAKE_BYTES: message boundaries are lost, so none is read. */
  private hsOverflow = false;
  /** Alert bytes of the current plaintext alert record. */
  private alert: number[] = [];
  encrypted = false;
  stopped = false;

  constructor(
    private readonly dir: Dir,
    private readonly tracker: TlsTracker,
  ) {}

  /** `streamOffset`: where b[off] lies in the direction's stream. */
  feed(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    let i = off;
    while (i < end && !this.stopped) {
      if (this.bodyLeft === 0) {
        this.header[this.headerLen++] = b[i++];
        if (this.headerLen < 5) continue;
        this.headerLen = 0;
        const type = this.header[0];
        const length = (this.header[3] << 8) | this.header[4];
        if (type < RECORD.CHANGE_CIPHER_SPEC || type > RECORD.APPLICATION_DATA || this.header[1] !== 3 || length > 18432) {
          this.tracker.malformed(this.dir, no, `bytes ${hex(this.header)} are no TLS record header`);
          this.stopped = true;
          return;
        }
        this.type = type;
        this.bodyLeft = length;
        this.alert.length = 0;
        this.tracker.recordStart(this.dir, type, length, no, ts, this.encrypted, streamOffset + (i - off) + length);
        if (length === 0) this.recordEnd(no, ts);
        continue;
      }
      const n = Math.min(this.bodyLeft, end - i);
      if (!this.encrypted) {
        if (this.type === RECORD.HANDSHAKE) this.gather(b, i, i + n);
        else if (this.type === RECORD.ALERT) for (let k = i; k < i + n && this.alert.length < 2; k++) this.alert.push(b[k]);
      }
      i += n;
      this.bodyLeft -= n;
      if (this.bodyLeft === 0) this.recordEnd(no, ts);
    }
  }

  private recordEnd(no: number, ts: number): void {
    if (this.encrypted) return;
    if (this.type === RECORD.ALERT && this.alert.length === 2) this.tracker.alert(this.dir, this.alert[0], this.alert[1], no, ts);
    else if (this.type === RECORD.HANDSHAKE) this.parseMessages(no, ts);
    else if (this.type === RECORD.CHANGE_CIPHER_SPEC) this.tracker.changeCipherSpec(this.dir);
  }

  private gather(b: Uint8Array, from: number, to: number): void {
    if (this.hsOverflow) return;
    const need = this.hsLen + (to - from);
    if (need > MAX_HANDSHAKE_BYTES) {
      this.hsOverflow = true;
      this.hs = null;
      this.hsLen = 0;
      return;
    }
    if (!this.hs || this.hs.length < need) {
      const grown = new Uint8Array(Math.min(MAX_HANDSHAKE_BYTES, Math.max(need, 2048)));
      if (this.hs) grown.set(this.hs.subarray(0, this.hsLen));
      this.hs = grown;
    }
    this.hs.set(b.subarray(from, to), this.hsLen);
    this.hsLen = need;
  }

  /** Whole handshake messages gathered so far (a message may span records). */
  private parseMessages(no: number, ts: number): void {
    const hs = this.hs;
    if (!hs) return;
    let at = 0;
    while (this.hsLen - at >= 4) {
      const length = (hs[at + 1] << 16) | (hs[at + 2] << 8) | hs[at + 3];
      if (this.hsLen - at - 4 < length) break;
      this.tracker.handshakeMessage(this.dir, hs[at], hs, at + 4, at + 4 + length, no, ts);
      at += 4 + length;
      if (this.encrypted) break;
    }
    hs.copyWithin(0, at, this.hsLen);
    this.hsLen -= at;
  }
}

/** Reads both directions of one flow and fills TlsFacts. */
export class TlsTracker {
  readonly facts = newTlsFacts();
  readonly closing: TlsClosingFacts = { lastAlert: { client: null, server: null }, otherRecordsEnd: { client: 0, server: 0 }, otherRecordsTs: { client: 0, server: 0 } };
  private readonly readers: [RecordReader, RecordReader];
  private tls13 = false;
  /** The server sent a HelloRetryRequest: the hellos go round once more, in the clear. */
  private helloRetried = false;
  /** Length of the client's latest encrypted record. */
  private clientLastLength = 0;
  private serverFed = false;

  /** `onEvent` gets a line per hello, alert and first encrypted record, for the ladder. */
  constructor(private readonly onEvent: ((no: number, dir: Dir, text: string) => void) | null = null) {
    this.readers = [new RecordReader(0, this), new RecordReader(1, this)];
  }

  /**
   * `streamOffset` is where b[off] lies in the direction's stream. Only the server's very first
   * bytes tell whether it speaks TLS: later segments may start anywhere inside a record (a
   * Certificate record spans several), and bytes after a gap are not read at all.
   */
  feed(dir: Dir, b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    const r = this.readers[dir];
    if (r.stopped) return;
    if (dir === 1 && !this.serverFed) {
      this.serverFed = true;
      // The server's first bytes went by before TLS was recognised (a gap): nothing to follow.
      if (streamOffset !== 0) return this.lost(1, no);
    }
    if (dir === 1 && streamOffset === 0 && !mayStartTlsRecord(b, off, end)) {
      this.facts.serverNotTls = { no, ts, text: printable(b, off, Math.min(end, off + 64)) };
      this.onEvent?.(no, 1, `not TLS: "${this.facts.serverNotTls.text.slice(0, 40)}"`);
      r.stopped = true;
      return;
    }
    r.feed(b, off, end, streamOffset, no, ts);
  }

  /** A gap in a direction: its records can no longer be followed. */
  lost(dir: Dir, no: number): void {
    this.readers[dir].stopped = true;
    const side = dir === 0 ? 'client' : 'server';
    this.facts.missed[side] ??= no;
  }

  /** `endOffset`: where in the direction's stream the record ends. */
  recordStart(dir: Dir, type: number, length: number, no: number, ts: number, encrypted: boolean, endOffset: number): void {
    // TLS 1.3 sends a ChangeCipherSpec for middleboxes only; application data records are encrypted.
    const isEncrypted = (encrypted && type !== RECORD.CHANGE_CIPHER_SPEC) || (type === RECORD.APPLICATION_DATA && (this.tls13 || this.facts.serverHello !== null));
    const side = dir === 0 ? 'client' : 'server';
    const alertSized = isEncrypted && this.tls13 && type === RECORD.APPLICATION_DATA && length === TLS13_ENCRYPTED_ALERT_LENGTH;
    if (type === RECORD.ALERT || alertSized) this.closing.lastAlert[side] = { no, ts };
    else {
      this.closing.otherRecordsEnd[side] = endOffset;
      this.closing.otherRecordsTs[side] = ts;
    }
    if (!isEncrypted) return;
    this.facts.encryptedRecords[side]++;
    if (dir === 0) this.clientLastLength = length;
    else if (this.facts.firstEncrypted.client !== null) {
      const after = this.facts.serverAfterClient;
      if (after) after.records++;
      else this.facts.serverAfterClient = { records: 1, first: { no, ts, length }, clientRecords: this.facts.encryptedRecords.client, clientLastLength: this.clientLastLength };
    }
    if (this.facts.firstEncrypted[side] === null) {
      this.facts.firstEncrypted[side] = { no, ts, length };
      this.onEvent?.(no, dir, `TLS encrypted from here (first record ${length} bytes)`);
    }
  }

  alert(dir: Dir, level: number, description: number, no: number, ts: number): void {
    if (this.facts.alerts.length >= MAX_ALERTS) return;
    this.onEvent?.(no, dir, `TLS alert ${level === 2 ? 'fatal' : 'warning'} ${TLS_ALERT_NAME[description] ?? description} (${description})`);
    this.facts.alerts.push({
      from: dir === 0 ? 'client' : 'server',
      no,
      ts,
      level: level === 2 ? 'fatal' : 'warning',
      description,
      name: TLS_ALERT_NAME[description] ?? `alert ${description}`,
    });
  }

  changeCipherSpec(dir: Dir): void {
    // TLS 1.2: what this side sends next is encrypted. (TLS 1.3 already encrypts after the hellos.)
    // A client's ChangeCipherSpec after a HelloRetryRequest is TLS 1.3's middlebox disguise: its
    // second ClientHello follows in the clear.
    if (this.helloRetried && !this.facts.serverHello) return;
    this.readers[dir].encrypted = true;
  }

  malformed(dir: Dir, no: number, detail: string): void {
    if (!this.facts.malformed) this.facts.malformed = { from: dir === 0 ? 'client' : 'server', no, detail };
  }

  handshakeMessage(dir: Dir, type: number, b: Uint8Array, off: number, end: number, no: number, ts: number): void {
    if (dir === 0 && type === HANDSHAKE.CLIENT_HELLO && !this.facts.clientHello) {
      const hello = parseClientHello(b, off, end, no, ts);
      this.facts.clientHello = hello;
      if (hello) this.onEvent?.(no, 0, `TLS ClientHello${hello.sni ? ` SNI ${hello.sni}` : ''} (${hello.versions.join(', ')}${hello.alpn.length ? `; ALPN ${hello.alpn.join(', ')}` : ''})`);
    } else if (dir === 1 && type === HANDSHAKE.CERTIFICATE && !this.facts.serverCertificate) {
      this.facts.serverCertificate = { no, ts };
    } else if (dir === 1 && type === HANDSHAKE.CERTIFICATE_REQUEST && !this.facts.certificateRequest) {
      this.facts.certificateRequest = { no, ts };
    } else if (dir === 0 && type === HANDSHAKE.CERTIFICATE && !this.facts.clientCertificate) {
      // certificate_list<0..2^24-1> (RFC 5246 7.4.2): a zero length is a client with no certificate.
      const listLength = end - off >= 3 ? (b[off] << 16) | (b[off + 1] << 8) | b[off + 2] : 0;
      this.facts.clientCertificate = { no, ts, empty: listLength === 0 };
    } else if (dir === 1 && type === HANDSHAKE.SERVER_HELLO && !this.facts.serverHello && isHelloRetryRequest(b, off, end)) {
      // Not the ServerHello: the server asks for another ClientHello (RFC 8446 4.1.4); the real one follows in the clear.
      this.helloRetried = true;
      this.onEvent?.(no, 1, 'TLS HelloRetryRequest');
    } else if (dir === 1 && type === HANDSHAKE.SERVER_HELLO && !this.facts.serverHello) {
      const hello = parseServerHello(b, off, end, no, ts);
      this.facts.serverHello = hello;
      if (hello) this.onEvent?.(no, 1, `TLS ServerHello ${hello.version}, cipher ${hello.cipher}${hello.alpn ? `, ALPN ${hello.alpn}` : ''}`);
      if (hello && hello.version === 'TLS 1.3') {
        // Everything after the ServerHello is encrypted in TLS 1.3, on both sides once the client has its keys.
        this.tls13 = true;
        this.readers[1].encrypted = true;
      }
    }
  }
}

/** The bytes at hand can begin a TLS record: a record type, then major version 3 when there is a second byte. */
function mayStartTlsRecord(b: Uint8Array, off: number, end: number): boolean {
  if (end <= off || b[off] < RECORD.CHANGE_CIPHER_SPEC || b[off] > RECORD.APPLICATION_DATA) return false;
  return end - off === 1 || b[off + 1] === 3;
}

/** The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 4.1.3). */
const HELLO_RETRY_RANDOM = Uint8Array.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c'.match(/../g)!.map((h) => parseInt(h, 16)),
);

/** A ServerHello body whose random marks it as a HelloRetryRequest. */
function isHelloRetryRequest(b: Uint8Array, off: number, end: number): boolean {
  // legacy_version (2 bytes), then the 32-byte random.
  if (end - off < 2 + HELLO_RETRY_RANDOM.length) return false;
  for (let k = 0; k < HELLO_RETRY_RANDOM.length; k++) if (b[off + 2 + k] !== HELLO_RETRY_RANDOM[k]) return false;
  return true;
}

/** Reads a ClientHello body (RFC 8446 4.1.2); null when it is cut short. */
function parseClientHello(b: Uint8Array, off: number, end: number, no: number, ts: number): TlsClientHelloFacts | null {
  const r = new Cursor(b, off, end);
  const legacy = r.u16();
  r.skip(32); // random
  r.skip(r.u8()); // session id
  r.skip(r.u16()); // cipher suites
  r.skip(r.u8()); // compression methods
  const hello: TlsClientHelloFacts = { no, ts, sni: null, alpn: [], versions: [] };
  if (r.bad) return null;
  if (r.left() >= 2) {
    const extEnd = r.at + r.u16();
    while (!r.bad && r.at + 4 <= extEnd) {
      const type = r.u16();
      const len = r.u16();
      const next = r.at + len;
      if (type === EXT.SERVER_NAME) {
        const listEnd = r.at + 2 + r.u16();
        while (!r.bad && r.at + 3 <= listEnd) {
          const nameType = r.u8();
          const nameLen = r.u16();
          if (nameType === 0 && hello.sni === null) hello.sni = r.ascii(nameLen);
          else r.skip(nameLen);
        }
      } else if (type === EXT.ALPN) {
        const listEnd = r.at + 2 + r.u16();
        while (!r.bad && r.at < listEnd) hello.alpn.push(r.ascii(r.u8()));
      } else if (type === EXT.SUPPORTED_VERSIONS) {
        const n = r.u8();
        for (let k = 0; k + 2 <= n && !r.bad; k += 2) {
          const v = r.u16();
          if ((v & 0x0f0f) !== 0x0a0a) hello.versions.push(tlsVersionName(v));
        }
      }
      r.at = next;
    }
  }
  if (hello.versions.length === 0) hello.versions.push(tlsVersionName(legacy));
  return r.bad ? null : hello;
}

/** Reads a ServerHello body: the version chosen (supported_versions for TLS 1.3), the cipher, ALPN (TLS 1.2). */
function parseServerHello(b: Uint8Array, off: number, end: number, no: number, ts: number): TlsServerHelloFacts | null {
  const r = new Cursor(b, off, end);
  let version = r.u16();
  r.skip(32);
  r.skip(r.u8());
  const cipher = r.u16();
  r.skip(1);
  let alpn: string | null = null;
  if (r.left() >= 2) {
    const extEnd = r.at + r.u16();
    while (!r.bad && r.at + 4 <= extEnd) {
      const type = r.u16();
      const len = r.u16();
      const next = r.at + len;
      if (type === EXT.SUPPORTED_VERSIONS && len === 2) version = r.u16();
      else if (type === EXT.ALPN) {
        r.skip(2);
        alpn = r.ascii(r.u8());
      }
      r.at = next;
    }
  }
  if (r.bad) return null;
  return { no, ts, version: tlsVersionName(version), cipher: cipherSuiteName(cipher), cipherCode: `0x${cipher.toString(16).padStart(4, '0')}`, alpn };
}

/** Bounds-checked big-endian reads; a read past the end sets `bad` instead of throwing. */
class Cursor {
  bad = false;
  constructor(
    private readonly b: Uint8Array,
    public at: number,
    private readonly end: number,
  ) {}
  left(): number {
    return this.end - this.at;
  }
  u8(): number {
    if (this.at + 1 > this.end) return this.fail();
    return this.b[this.at++];
  }
  u16(): number {
    if (this.at + 2 > this.end) return this.fail();
    const v = (this.b[this.at] << 8) | this.b[this.at + 1];
    this.at += 2;
    return v;
  }
  skip(n: number): void {
    if (this.at + n > this.end) this.fail();
    else this.at += n;
  }
  ascii(n: number): string {
    if (this.at + n > this.end) {
      this.fail();
      return '';
    }
    let s = '';
    for (let i = this.at; i < this.at + n; i++) s += String.fromCharCode(this.b[i] >= 0x20 && this.b[i] < 0x7f ? this.b[i] : 0x3f);
    this.at += n;
    return s;
  }
  private fail(): number {
    this.bad = true;
    this.at = this.end;
    return 0;
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function printable(b: Uint8Array, off: number, end: number): string {
  let s = '';
  for (let i = off; i < end; i++) s += b[i] >= 0x20 && b[i] < 0x7f ? String.fromCharCode(b[i]) : b[i] === 0x0d ? '\\r' : b[i] === 0x0a ? '\\n' : '.';
  return s;
}
