// Incremental HTTP/1.x parser for one direction of one flow, fed chunk by chunk (llhttp's model):
// `execute()` consumes bytes and calls hooks; an Upgrade/CONNECT message pauses the parser at the
// exact byte after it (llhttp's HPE_PAUSED_UPGRADE) and `execute()` returns that index. Errors are
// sticky: the first one is kept with its stream offset and up to 32 bytes from there, and the
// direction stops. Bodies are counted, never decoded or kept.
//
// Only head lines are copied, and only when a line spans chunks (ws's `consume`); a line inside
// one chunk is parsed in place.
//
// Limitations: no HTTP/0.9; bare LF accepted as a line end (as most servers do); chunk extensions
// and trailer values are validated but not kept.
import type { Dir } from '../flow/sink.js';
import { NO_HEADERS, takeHeaders } from './recycle.js';
import { ERROR_DATA_BYTES, HTTP_ERROR, escapeBytes, hexBytes, type HttpErrorCode } from './status.js';
import { SELECTED_HEADERS, type BodyFraming, type DissectErrorFact, type SelectedHeaderName, type SelectedHeaders } from './types.js';

export const HTTP_LIMITS = {
  /** Start line + header lines (and trailers) of one message (Node's --max-http-header-size is 16 KiB). */
  MAX_HEAD_BYTES: 64 * 1024,
  MAX_HEADERS: 256,
  MAX_CHUNK_SIZE_LINE: 4096,
  MAX_METHOD_LENGTH: 32,
} as const;

/** What the owner tells the parser after a message head (llhttp's on_headers_complete return). */
export const HEAD_DECISION = {
  /** Frame the body from the headers. */
  NORMAL: 0,
  /** No body whatever the headers say: response to HEAD, 1xx, 204, 304. */
  SKIP_BODY: 1,
  /** No body (response) or body as framed (request), then pause: the next bytes are another protocol. */
  UPGRADE: 2,
} as const;
export type HeadDecision = (typeof HEAD_DECISION)[keyof typeof HEAD_DECISION];

export type HttpMessageKind = 'request' | 'response';

export interface HttpHead {
  kind: HttpMessageKind;
  method: string;
  target: string;
  status: number;
  reason: string;
  version: string;
  versionMajor: number;
  versionMinor: number;
  headers: SelectedHeaders;
  headerCount: number;
  /** -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding present; `chunked` when its last coding is chunked. */
  hasTransferEncoding: boolean;
  chunked: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  connectionUpgrade: boolean;
  upgrade: string | null;
  keepAlive: boolean;
  /** How the body is delimited; set when the head completes. */
  framing: BodyFraming;
  streamOffset: number;
  no: number;
  tsMicros: number;
  afterGap: boolean;
}

/**
 * What the parser tells its owner. The head passed is the parser's own and is parsed into again by
 * the next message: hooks copy what they keep (its `headers` object is made anew for each message).
 */
export interface HttpParserHooks {
  /** The start line parsed; headers not yet. */
  onStartLine(head: HttpHead): void;
  /** `no`, `tsMicros`: the packet that ended the head. */
  onHeadersComplete(head: HttpHead, no: number, tsMicros: number): HeadDecision;
  /** `no`, `tsMicros`: the packet that carried these body bytes. */
  onBody?(length: number, no: number, tsMicros: number): void;
  onMessageComplete(head: HttpHead, endStreamOffset: number, no: number, tsMicros: number, endedBy: 'framing' | 'close'): void;
  /** A message with a parsed start line will never complete (gap, error, stream end). */
  onMessageAbort(head: HttpHead, why: 'gap' | 'error' | 'end'): void;
  onError(error: DissectErrorFact): void;
  /** After a gap, parsing restarted at a message start line at `streamOffset`. */
  onResync?(streamOffset: number, no: number): void;
}

const STATE = {
  MESSAGE_START: 0,
  START_LINE: 1,
  HEADER_LINE: 2,
  BODY_LENGTH: 3,
  BODY_CLOSE: 4,
  CHUNK_SIZE: 5,
  CHUNK_DATA: 6,
  CHUNK_DATA_CR: 7,
  CHUNK_DATA_LF: 8,
  TRAILER_LINE: 9,
  PAUSED: 10,
  RESYNC: 11,
  ERRORED: 12,
  STOPPED: 13,
} as const;
type State = (typeof STATE)[keyof typeof STATE];

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const HTTP_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

// RFC 9110 5.6.2 tchar: "!#$%&'*+-.^_`|~" DIGIT ALPHA
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
// RFC 9110 5.5: field values are VCHAR, obs-text, SP and HTAB; other controls are invalid.
const BAD_VALUE_BYTE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) if (c !== HT) BAD_VALUE_BYTE[c] = 1;
BAD_VALUE_BYTE[0x7f] = 1;
export const isTokenByte = (c: number): boolean => TCHAR[c] === 1;

// Texts parsers decoded, by what they are (see sharedText): the method, the reason phrase, the
// request target, then each selected header's value.
const TEXT_SLOT = { METHOD: 0, REASON: 1, TARGET: 2, FIRST_HEADER: 3 } as const;

interface SelectedName {
  name: SelectedHeaderName;
  bytes: Uint8Array;
  slot: number;
}

// Selected header names by length, as bytes, so a name is matched without building a string.
const SELECTED_BY_LENGTH: SelectedName[][] = [];
SELECTED_HEADERS.forEach((name, i) => {
  (SELECTED_BY_LENGTH[name.length] ??= []).push({ name, bytes: Uint8Array.from(name, (ch) => ch.charCodeAt(0)), slot: TEXT_SLOT.FIRST_HEADER + i });
});

/**
 * Texts parsers decoded, SHARED_WAYS for each TEXT_SLOT, placed by a hash of their bytes (see
 * sharedText). Connections repeat their methods, reason phrases, targets and header values: a
 * message whose text is here already takes the same string, so a flow's facts hold no string
 * of their own to be carried into the old generation and collected there.
 */
const SHARED_WAYS = 64;
/** Longer texts are decoded each time: the cache holds at most this many bytes a way. */
const SHARED_MAX_LENGTH = 256;
const SHARED_TEXT: string[] = new Array<string>((TEXT_SLOT.FIRST_HEADER + SELECTED_HEADERS.length) * SHARED_WAYS).fill('');

const AUTH_SCHEME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** A token68 (RFC 9110 11.2): the opaque credential or challenge of NTLM, Negotiate, Bearer, Basic. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
/** What an Authorization or WWW-Authenticate value the scheme cannot be told from is kept as. */
const UNNAMED_CREDENTIALS = '(credentials)';

/**
 * What is kept of an Authorization or WWW-Authenticate value: its scheme alone ("NTLM", "Basic"),
 * never a credential or a challenge. An Authorization value that is not a scheme followed by more
 * (a raw API key) is kept as UNNAMED_CREDENTIALS. A challenge that carries a token68 (the NTLM or
 * Negotiate server's step of its handshake) is kept as "SCHEME (token)".
 */
function authScheme(name: 'authorization' | 'www-authenticate', value: string): string {
  const parts = value.trim().split(/\s+/);
  const scheme = parts[0] ?? '';
  if (!AUTH_SCHEME.test(scheme) || (name === 'authorization' && parts.length < 2)) return UNNAMED_CREDENTIALS;
  return name === 'www-authenticate' && parts.length === 2 && TOKEN68.test(parts[1]) ? `${scheme} (token)` : scheme;
}

/** The selected header name src[s, e) spells, case-insensitively, or null. */
function matchSelectedName(src: Uint8Array, s: number, e: number): SelectedName | null {
  const candidates = SELECTED_BY_LENGTH[e - s];
  if (!candidates) return null;
  next: for (const cand of candidates) {
    const want = cand.bytes;
    for (let k = 0; k < want.length; k++) {
      let c = src[s + k];
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== want[k]) continue next;
    }
    return cand;
  }
  return null;
}
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** "1.1" for major 1 and minor 1, at [major * 10 + minor]: made once, not per message. */
const VERSION_TEXT = Array.from({ length: 100 }, (_, i) => `${Math.floor(i / 10)}.${i % 10}`);

/** Node's native Latin-1 decoder; it accepts any Uint8Array as `this`, so no view is made per string. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

function latin1(b: Uint8Array, s: number, e: number): string {
  if (e - s <= 0) return '';
  return latin1Slice.call(b, s, e);
}

/** Stands for any header that is not selected (a continuation line may still follow it). */
const OTHER_HEADER = '\0other';

function newHead(kind: HttpMessageKind, streamOffset: number, no: number, tsMicros: number, afterGap: boolean): HttpHead {
  return {
    kind, method: '', target: '', status: 0, reason: '', version: '', versionMajor: 0, versionMinor: 0,
    headers: takeHeaders(), headerCount: 0, contentLength: -1, hasTransferEncoding: false, chunked: false,
    connectionClose: false, connectionKeepAlive: false, connectionUpgrade: false, upgrade: null, keepAlive: false, framing: 'none',
    streamOffset, no, tsMicros, afterGap,
  };
}

/** `head` set as newHead() makes it, with a headers object of its own (the message's facts keep it). */
function resetHead(head: HttpHead, streamOffset: number, no: number, tsMicros: number, afterGap: boolean): HttpHead {
  head.method = '';
  head.target = '';
  head.status = 0;
  head.reason = '';
  head.version = '';
  head.versionMajor = 0;
  head.versionMinor = 0;
  head.headers = takeHeaders();
  head.headerCount = 0;
  head.contentLength = -1;
  head.hasTransferEncoding = false;
  head.chunked = false;
  head.connectionClose = false;
  head.connectionKeepAlive = false;
  head.connectionUpgrade = false;
  head.upgrade = null;
  head.keepAlive = false;
  head.framing = 'none';
  head.streamOffset = streamOffset;
  head.no = no;
  head.tsMicros = tsMicros;
  head.afterGap = afterGap;
  return head;
}

/** Comma-separated tokens, trimmed and lower-cased ("Connection: keep-alive, Upgrade"). */
export function headerTokens(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t) out.push(t);
  }
  return out;
}

/** What String.prototype.trim() strips, by char code. */
function isTrimmedSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Whether value[s, e), trimmed and lower-cased, is `token` (lower-case ASCII). Values are Latin-1: only A-Z lower to ASCII. */
function isToken(value: string, s: number, e: number, token: string): boolean {
  while (s < e && isTrimmedSpace(value.charCodeAt(s))) s++;
  while (e > s && isTrimmedSpace(value.charCodeAt(e - 1))) e--;
  if (e - s !== token.length) return false;
  for (let k = 0; k < token.length; k++) {
    let c = value.charCodeAt(s + k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== token.charCodeAt(k)) return false;
  }
  return true;
}

/** headerTokens(value).includes(token), without building the list. */
export function hasHeaderToken(value: string | null | undefined, token: string): boolean {
  if (!value) return false;
  for (let s = 0; s <= value.length; ) {
    const comma = value.indexOf(',', s);
    const e = comma === -1 ? value.length : comma;
    if (isToken(value, s, e, token)) return true;
    s = e + 1;
  }
  return false;
}

/** Whether the last of headerTokens(value) is `token`, without building the list. */
function lastHeaderTokenIs(value: string, token: string): boolean {
  for (let e = value.length; ; ) {
    const comma = e > 0 ? value.lastIndexOf(',', e - 1) : -1;
    const s = comma + 1;
    let k = s;
    while (k < e && isTrimmedSpace(value.charCodeAt(k))) k++;
    if (k < e) return isToken(value, s, e, token);
    if (comma === -1) return false;
    e = comma;
  }
}

/** Whether the text is 1 to 15 decimal digits (a Content-Length as it almost always comes). */
function isShortDigits(text: string): boolean {
  if (text.length === 0 || text.length > 15) return false;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

const NO_BYTES = new Uint8Array(0);
/** A reset parser keeps a line buffer up to this size (it may have grown to the head limit). */
const SPARE_LINE_BUFFER_BYTES = 1024;

/** The hooks of a detached parser, waiting to be reset for another session: it calls none. */
const NO_HOOKS: HttpParserHooks = {
  onStartLine() {},
  onHeadersComplete: () => HEAD_DECISION.NORMAL,
  onMessageComplete() {},
  onMessageAbort() {},
  onError() {},
};

export class HttpParser {
  private state: State = STATE.MESSAGE_START;
  private head: HttpHead | null = null;
  /**
   * The head object every message of this parser is parsed into (see HttpParserHooks), for as long
   * as the parser lives: a parser goes from session to session (see detach), and a head made for
   * each would live as long as its session, to be collected in the old generation.
   */
  private reusableHead: HttpHead | null = null;
  private decision: HeadDecision = HEAD_DECISION.NORMAL;
  /** Bytes of a line that spans chunks; made on the first such line, grows up to the head limit. */
  private lineBuf = NO_BYTES;
  private lineLen = 0;
  private lineStart = 0;
  private headBytes = 0;
  private methodLen = 0;
  private methodDone = false;
  private pendingName = '';
  private pendingValue = '';
  private pendingKept = false;
  private remaining = 0;
  /** Message start candidates after a gap are validated, not errors, until a start line parses. */
  private probing = false;
  private atLineStart = false;
  private afterGap = false;
  private msgStart = 0;
  private msgNo = 0;
  private msgTs = 0;
  private error: DissectErrorFact | null = null;
  /** The bytes around an error, made when one happens: most streams never need them. */
  private errorData = NO_BYTES;
  private errorDataLen = 0;
  /** Stream offset of the next error data byte; -1 when the data is complete. */
  private errorNextOffset = 0;
  private lineSrcEnd = 0;
  private lineNo = 0;
  private pendingOffset = 0;

  constructor(
    readonly kind: HttpMessageKind,
    readonly dir: Dir,
    private hooks: HttpParserHooks,
  ) {}

  /**
   * Done with its session: lets go of everything that was the session's (its hooks, the headers of
   * its last message, error and pending header), and of a line buffer that grew large. A small line
   * buffer and the head object stay, for the next session (see reset); the head's other fields are
   * set anew before any message is read into it.
   */
  detach(): this {
    this.hooks = NO_HOOKS;
    this.head = null;
    if (this.reusableHead) this.reusableHead.headers = NO_HEADERS;
    this.error = null;
    this.pendingName = '';
    this.pendingValue = '';
    if (this.lineBuf.length > SPARE_LINE_BUFFER_BYTES) this.lineBuf = NO_BYTES;
    return this;
  }

  /**
   * Ready for another stream, owned by `hooks`, as a new parser is; of a detached parser it keeps
   * only the line buffer and the head object, which are filled anew. A parser lives as long as its
   * flow: one made for each flow would be promoted and then collected from the old generation.
   */
  reset(hooks: HttpParserHooks): this {
    this.detach();
    this.hooks = hooks;
    this.state = STATE.MESSAGE_START;
    this.decision = HEAD_DECISION.NORMAL;
    this.lineLen = 0;
    this.lineStart = 0;
    this.headBytes = 0;
    this.methodLen = 0;
    this.methodDone = false;
    this.pendingKept = false;
    this.remaining = 0;
    this.probing = false;
    this.atLineStart = false;
    this.afterGap = false;
    this.msgStart = 0;
    this.msgNo = 0;
    this.msgTs = 0;
    this.errorDataLen = 0;
    this.errorNextOffset = 0;
    this.lineSrcEnd = 0;
    this.lineNo = 0;
    this.pendingOffset = 0;
    return this;
  }

  get paused(): boolean {
    return this.state === STATE.PAUSED;
  }
  get errored(): boolean {
    return this.state === STATE.ERRORED;
  }
  get stopped(): boolean {
    return this.state === STATE.STOPPED || this.state === STATE.ERRORED;
  }
  get resyncing(): boolean {
    return this.state === STATE.RESYNC || this.probing;
  }
  /** True between messages: no byte of a next message seen. */
  get idle(): boolean {
    return this.state === STATE.MESSAGE_START;
  }

  /** Leave the upgrade pause: the other side refused, the same protocol continues. */
  resume(): void {
    if (this.state === STATE.PAUSED) this.state = STATE.MESSAGE_START;
  }

  /** Parse bytes [off, end) whose first byte is at `streamOffset`. Returns the index parsing stopped
   *  at: `end`, or the first byte after an upgrade message when the parser paused. */
  execute(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): number {
    let i = off;
    const base = streamOffset - off; // stream offset of b[x] is base + x
    while (i < end) {
      switch (this.state) {
        case STATE.MESSAGE_START: {
          const c = b[i];
          // RFC 9112 2.2: ignore at least one empty line before a request line.
          if (c === CR || c === LF) {
            i++;
            break;
          }
          this.beginMessage(base + i, no, tsMicros);
          break;
        }
        case STATE.RESYNC: {
          i = this.scanForMessageStart(b, i, end, base, no, tsMicros);
          break;
        }
        case STATE.START_LINE:
        case STATE.HEADER_LINE:
        case STATE.CHUNK_SIZE:
        case STATE.TRAILER_LINE:
          i = this.collectLine(b, i, end, base, no, tsMicros);
          break;
        case STATE.BODY_LENGTH:
        case STATE.CHUNK_DATA: {
          const n = Math.min(this.remaining, end - i);
          i += n;
          this.remaining -= n;
          this.hooks.onBody?.(n, no, tsMicros);
          if (this.remaining === 0) {
            if (this.state === STATE.CHUNK_DATA) this.state = STATE.CHUNK_DATA_CR;
            else this.completeMessage(base + i, no, tsMicros, 'framing');
          }
          break;
        }
        case STATE.CHUNK_DATA_CR: {
          const c = b[i];
          if (c === CR) this.state = STATE.CHUNK_DATA_LF;
          else if (c === LF) this.state = STATE.CHUNK_SIZE;
          else return this.failChunk('HTTP_INVALID_CHUNK_END', `expected CRLF after chunk data, found 0x${c.toString(16)}`, b, i, end, base, no);
          i++;
          break;
        }
        case STATE.CHUNK_DATA_LF: {
          const c = b[i];
          if (c !== LF) return this.failChunk('HTTP_INVALID_CHUNK_END', `expected LF after CR after chunk data, found 0x${c.toString(16)}`, b, i, end, base, no);
          this.state = STATE.CHUNK_SIZE;
          i++;
          break;
        }
        case STATE.BODY_CLOSE:
          this.hooks.onBody?.(end - i, no, tsMicros);
          i = end;
          break;
        case STATE.PAUSED:
          return i;
        case STATE.ERRORED:
          this.captureErrorBytes(b, i, end, base);
          return end;
        case STATE.STOPPED:
          return end;
      }
      const after = this.state as State; // hooks and helpers change the state
      if (after === STATE.PAUSED) return i;
      if (after === STATE.ERRORED) return end;
    }
    return i;
  }

  /** `length` bytes at `streamOffset` were never seen. Returns how parsing deals with it. */
  gap(streamOffset: number, length: number, no: number, tsMicros: number): 'body' | 'resync' | 'ignored' {
    switch (this.state) {
      case STATE.BODY_LENGTH:
      case STATE.CHUNK_DATA:
        // Body bytes of known length: parsing stays in step (Zeek's content_gap inside a body).
        if (length <= this.remaining) {
          this.remaining -= length;
          if (this.remaining === 0) {
            if (this.state === STATE.CHUNK_DATA) this.state = STATE.CHUNK_DATA_CR;
            else this.completeMessage(streamOffset + length, no, tsMicros, 'framing');
          }
          return 'body';
        }
        break;
      case STATE.BODY_CLOSE:
        return 'body';
      case STATE.ERRORED:
      case STATE.STOPPED:
      case STATE.PAUSED:
        return 'ignored';
    }
    this.abortMessage('gap');
    this.state = STATE.RESYNC;
    this.probing = false;
    // A gap may end exactly at a message boundary, so the next byte is a candidate line start.
    this.atLineStart = true;
    this.afterGap = true;
    return 'resync';
  }

  /** A message whose start line began and never ended: where it began, in the stream and in packets. Null otherwise (candidates after a gap included). */
  unfinishedStartLine(): { streamOffset: number; no: number } | null {
    return this.state === STATE.START_LINE && !this.probing ? { streamOffset: this.msgStart, no: this.msgNo } : null;
  }

  /** The direction ended. `closed`: by FIN or RST, which completes a close-delimited body; otherwise
   *  the capture ended and a message in progress stays incomplete. */
  finish(streamOffset: number, no: number, tsMicros: number, closed: boolean): void {
    if (this.state === STATE.BODY_CLOSE && closed) this.completeMessage(streamOffset, no, tsMicros, 'close');
    else if (this.state !== STATE.ERRORED && this.state !== STATE.PAUSED) this.abortMessage('end');
    if (this.state !== STATE.ERRORED) this.state = STATE.STOPPED;
  }

  private beginMessage(streamOffset: number, no: number, tsMicros: number): void {
    this.state = STATE.START_LINE;
    this.msgStart = streamOffset;
    this.msgNo = no;
    this.msgTs = tsMicros;
    this.lineStart = streamOffset;
    this.lineLen = 0;
    this.headBytes = 0;
    this.methodLen = 0;
    this.methodDone = false;
    this.head = null;
    this.pendingName = '';
    this.pendingValue = '';
  }

  private scanForMessageStart(b: Uint8Array, i: number, end: number, base: number, no: number, tsMicros: number): number {
    for (; i < end; i++) {
      const c = b[i];
      if (this.atLineStart && (this.kind === 'response' ? c === HTTP_PREFIX[0] : isTokenByte(c))) {
        this.beginMessage(base + i, no, tsMicros);
        this.probing = true;
        return i;
      }
      this.atLineStart = c === LF;
    }
    return i;
  }

  /** A start line candidate after a gap failed: keep scanning after byte `c`. */
  private rejectProbe(lastByte: number): void {
    this.probing = false;
    this.state = STATE.RESYNC;
    this.atLineStart = lastByte === LF;
  }

  private collectLine(b: Uint8Array, i: number, end: number, base: number, no: number, tsMicros: number): number {
    if (this.state === STATE.HEADER_LINE && this.lineLen === 0) {
      i = this.headerLinesInPlace(b, i, end, base, no);
      if (i === end) return end;
    }
    // Not b.indexOf(LF, i): that would scan past `end` into whatever else the buffer holds.
    let lf = -1;
    for (let k = i; k < end; k++) {
      if (b[k] === LF) {
        lf = k;
        break;
      }
    }
    const stop = lf === -1 ? end : lf + 1;
    const n = stop - i;
    const inHead = this.state !== STATE.CHUNK_SIZE;
    if (this.state === STATE.START_LINE) {
      const bad = this.checkStartLinePrefix(b, i, stop);
      if (bad !== -1) {
        if (this.probing) {
          this.rejectProbe(b[bad]);
          return bad + 1;
        }
        if (this.kind === 'response') {
          return this.failChunk('HTTP_NON_HTTP_RESPONSE', `byte 0x${b[bad].toString(16)} where "HTTP/" was expected`, b, bad, end, base, no);
        }
        return this.failChunk('HTTP_INVALID_METHOD', `byte 0x${b[bad].toString(16)} in the method token`, b, bad, end, base, no);
      }
    }
    if (inHead) {
      if (this.headBytes + n > HTTP_LIMITS.MAX_HEAD_BYTES) {
        if (this.probing) {
          this.rejectProbe(lf === -1 ? 0 : LF);
          return stop;
        }
        const at = i + (HTTP_LIMITS.MAX_HEAD_BYTES - this.headBytes);
        return this.failChunk('HTTP_HEADERS_TOO_LARGE', `message head exceeds ${HTTP_LIMITS.MAX_HEAD_BYTES} bytes`, b, at, end, base, no);
      }
      this.headBytes += n;
    } else if (this.lineLen + n > HTTP_LIMITS.MAX_CHUNK_SIZE_LINE) {
      return this.failChunk('HTTP_INVALID_CHUNK_SIZE', `chunk size line exceeds ${HTTP_LIMITS.MAX_CHUNK_SIZE_LINE} bytes`, b, i, end, base, no);
    }
    if (lf === -1) {
      this.appendLine(b, i, end);
      return end;
    }
    let src = b;
    let s = i;
    let e = lf;
    let srcEnd = stop;
    if (this.lineLen > 0) {
      this.appendLine(b, i, stop);
      src = this.lineBuf;
      s = 0;
      e = this.lineLen - 1;
      srcEnd = this.lineLen;
    }
    if (e > s && src[e - 1] === CR) e--;
    // Stream offset of src[x] is lineBase + x.
    const lineBase = this.lineStart - s;
    this.lineSrcEnd = srcEnd;
    this.lineNo = no;
    this.lineLen = 0;
    this.lineStart = base + stop;
    this.processLine(src, s, e, lineBase, no, tsMicros, base + stop);
    if (this.state === STATE.ERRORED) {
      this.captureErrorBytes(b, stop, end, base);
      return end;
    }
    return stop;
  }

  /**
   * The header lines from b[i] that are well formed and lie whole in this chunk (almost all), each
   * read in one pass: name bytes up to the colon, value bytes up to the line end. Returns the index
   * of the first line left to collectLine's general path (it spans chunks, is empty, folded or
   * malformed, or would overflow the head); `end` after an error.
   */
  private headerLinesInPlace(b: Uint8Array, i: number, end: number, base: number, no: number): number {
    while (i < end) {
      let k = i;
      while (k < end && TCHAR[b[k]] === 1) k++;
      if (k === i || k >= end || b[k] !== COLON) return i;
      const colon = k;
      for (k++; k < end && BAD_VALUE_BYTE[b[k]] === 0; k++);
      if (k >= end) return i;
      const e = k;
      if (b[k] === CR) k++;
      if (k >= end || b[k] !== LF) return i;
      const stop = k + 1;
      if (this.headBytes + (stop - i) > HTTP_LIMITS.MAX_HEAD_BYTES) return i;
      this.headBytes += stop - i;
      const lineBase = this.lineStart - i;
      this.lineSrcEnd = stop;
      this.lineNo = no;
      this.lineStart = base + stop;
      if (this.pendingName) this.commitHeader(this.head!, false);
      if (this.state !== STATE.ERRORED) this.addField(b, i, colon, e, lineBase);
      if (this.state === STATE.ERRORED) {
        this.captureErrorBytes(b, stop, end, base);
        return end;
      }
      i = stop;
    }
    return i;
  }

  private appendLine(b: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (this.lineLen + n > this.lineBuf.length) {
      let size = Math.max(256, this.lineBuf.length * 2);
      while (size < this.lineLen + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.lineBuf.subarray(0, this.lineLen));
      this.lineBuf = grown;
    }
    // A byte loop: lines are short, and set(subarray) would make a view per line.
    const line = this.lineBuf;
    for (let i = s, j = this.lineLen; i < e; i++, j++) line[j] = b[i];
    this.lineLen += n;
  }

  /** Validates start-line bytes as they arrive, so non-HTTP is caught before a line end.
   *  Returns the index of the first bad byte in [s, e), or -1. */
  private checkStartLinePrefix(b: Uint8Array, s: number, e: number): number {
    let pos = this.lineLen;
    for (let i = s; i < e; i++, pos++) {
      const c = b[i];
      if (this.kind === 'response') {
        if (pos >= HTTP_PREFIX.length) return -1;
        if (c !== HTTP_PREFIX[pos]) return i;
      } else {
        if (this.methodDone) return -1;
        if (c === SP && this.methodLen > 0) {
          this.methodDone = true;
          return -1;
        }
        if (!isTokenByte(c) || this.methodLen >= HTTP_LIMITS.MAX_METHOD_LENGTH) return i;
        this.methodLen++;
      }
    }
    return -1;
  }

  private processLine(src: Uint8Array, s: number, e: number, lineBase: number, no: number, tsMicros: number, nextOffset: number): void {
    switch (this.state) {
      case STATE.START_LINE:
        this.parseStartLine(src, s, e, lineBase);
        return;
      case STATE.HEADER_LINE:
        if (s === e) {
          this.endOfHead(no, tsMicros, nextOffset);
          return;
        }
        this.parseHeaderLine(src, s, e, lineBase, false);
        return;
      case STATE.TRAILER_LINE:
        if (s === e) {
          this.completeMessage(nextOffset, no, tsMicros, 'framing');
          return;
        }
        this.parseHeaderLine(src, s, e, lineBase, true);
        return;
      case STATE.CHUNK_SIZE:
        this.parseChunkSize(src, s, e, lineBase);
        return;
    }
  }

  private parseStartLine(src: Uint8Array, s: number, e: number, lineBase: number): void {
    const head = this.reusableHead ? resetHead(this.reusableHead, this.msgStart, this.msgNo, this.msgTs, this.afterGap) : newHead(this.kind, this.msgStart, this.msgNo, this.msgTs, this.afterGap);
    this.reusableHead = head;
    const ok = this.kind === 'request' ? this.parseRequestLine(src, s, e, lineBase, head) : this.parseStatusLine(src, s, e, lineBase, head);
    if (!ok) return;
    if (this.probing) {
      this.probing = false;
      this.hooks.onResync?.(this.msgStart, this.msgNo);
    }
    this.afterGap = false;
    this.head = head;
    this.state = STATE.HEADER_LINE;
    this.hooks.onStartLine(head);
  }

  /** Reads "HTTP/d.d" at `i`; returns false if not there. */
  private readVersion(src: Uint8Array, i: number, e: number, head: HttpHead): boolean {
    if (e - i < 8) return false;
    for (let k = 0; k < 5; k++) if (src[i + k] !== HTTP_PREFIX[k]) return false;
    if (!isDigit(src[i + 5]) || src[i + 6] !== 0x2e || !isDigit(src[i + 7])) return false;
    head.versionMajor = src[i + 5] - 0x30;
    head.versionMinor = src[i + 7] - 0x30;
    head.version = VERSION_TEXT[head.versionMajor * 10 + head.versionMinor];
    return true;
  }

  private lineError(code: HttpErrorCode, detail: string, src: Uint8Array, at: number, lineBase: number): false {
    if (this.probing) {
      this.rejectProbe(LF);
      return false;
    }
    this.failLine(code, detail, src, at, lineBase);
    return false;
  }

  private parseRequestLine(src: Uint8Array, s: number, e: number, lineBase: number, head: HttpHead): boolean {
    let sp1 = s;
    while (sp1 < e && src[sp1] !== SP) sp1++;
    const tStart = sp1 + 1;
    let sp2 = tStart;
    while (sp2 < e && src[sp2] !== SP) sp2++;
    if (sp1 >= e || sp2 >= e || sp2 === tStart) {
      return this.lineError('HTTP_INVALID_REQUEST_LINE', `"${escapeBytes(src, s, Math.min(e, s + 64))}" has no target and version`, src, Math.min(sp2, e), lineBase);
    }
    for (let k = tStart; k < sp2; k++) {
      const c = src[k];
      if (c < 0x21 || c === 0x7f) return this.lineError('HTTP_INVALID_REQUEST_LINE', `byte 0x${c.toString(16)} in the request target`, src, k, lineBase);
    }
    if (!this.readVersion(src, sp2 + 1, e, head) || sp2 + 9 !== e) {
      return this.lineError('HTTP_INVALID_VERSION', `"${escapeBytes(src, sp2 + 1, e)}" is not HTTP/x.y`, src, sp2 + 1, lineBase);
    }
    head.method = sharedText(TEXT_SLOT.METHOD, src, s, sp1);
    head.target = sharedText(TEXT_SLOT.TARGET, src, tStart, sp2);
    return true;
  }

  private parseStatusLine(src: Uint8Array, s: number, e: number, lineBase: number, head: HttpHead): boolean {
    if (!this.readVersion(src, s, e, head)) {
      return this.lineError('HTTP_INVALID_VERSION', `"${escapeBytes(src, s, Math.min(e, s + 16))}" does not start with HTTP/x.y`, src, s, lineBase);
    }
    const c0 = s + 8;
    if (e - c0 < 4 || src[c0] !== SP || !isDigit(src[c0 + 1]) || !isDigit(src[c0 + 2]) || !isDigit(src[c0 + 3]) || (c0 + 4 < e && src[c0 + 4] !== SP)) {
      const at = c0 < e ? c0 : e;
      return this.lineError('HTTP_INVALID_STATUS_LINE', `"${escapeBytes(src, s, Math.min(e, s + 48))}" has no 3-digit status after the version`, src, at, lineBase);
    }
    head.status = (src[c0 + 1] - 0x30) * 100 + (src[c0 + 2] - 0x30) * 10 + (src[c0 + 3] - 0x30);
    head.reason = c0 + 5 <= e ? sharedText(TEXT_SLOT.REASON, src, c0 + 5, e) : '';
    return true;
  }

  private parseHeaderLine(src: Uint8Array, s: number, e: number, lineBase: number, trailer: boolean): void {
    const head = this.head!;
    const first = src[s];
    if (first === SP || first === HT) {
      // obs-fold (RFC 9112 5.2): a continuation of the previous field value, replaced by one space.
      if (!this.pendingName) {
        this.failLine('HTTP_INVALID_HEADER', 'continuation line before any header', src, s, lineBase);
        return;
      }
      const bad = this.findBadValueByte(src, s, e);
      if (bad !== -1) {
        this.failLine('HTTP_INVALID_HEADER_VALUE', `byte 0x${src[bad].toString(16)} in a folded value`, src, bad, lineBase);
        return;
      }
      if (this.pendingKept) {
        const v = trimmedLatin1(src, s, e, -1);
        if (v) this.pendingValue = this.pendingValue ? `${this.pendingValue} ${v}` : v;
      }
      return;
    }
    if (this.pendingName) this.commitHeader(head, trailer);
    if (this.state === STATE.ERRORED) return;
    let colon = s;
    let badName = -1;
    for (; colon < e; colon++) {
      const c = src[colon];
      if (c === COLON) break;
      if (TCHAR[c] !== 1 && badName < 0) badName = colon;
    }
    if (colon >= e) {
      this.failLine('HTTP_INVALID_HEADER', `"${escapeBytes(src, s, Math.min(e, s + 40))}" has no colon`, src, s, lineBase);
      return;
    }
    if (badName >= 0) {
      this.failLine('HTTP_INVALID_HEADER_TOKEN', `byte 0x${src[badName].toString(16)} in header name "${escapeBytes(src, s, colon)}"`, src, badName, lineBase);
      return;
    }
    if (colon === s) {
      this.failLine('HTTP_INVALID_HEADER_TOKEN', 'empty header name', src, s, lineBase);
      return;
    }
    const bad = this.findBadValueByte(src, colon + 1, e);
    if (bad !== -1) {
      this.failLine('HTTP_INVALID_HEADER_VALUE', `byte 0x${src[bad].toString(16)} in the value of "${escapeBytes(src, s, colon)}"`, src, bad, lineBase);
      return;
    }
    this.addField(src, s, colon, e, lineBase);
  }

  /** A validated field line src[s, e) with its colon at `colon`: counted, and its value kept when the name is selected (committed at the next line). */
  private addField(src: Uint8Array, s: number, colon: number, e: number, lineBase: number): void {
    const head = this.head!;
    head.headerCount++;
    if (head.headerCount > HTTP_LIMITS.MAX_HEADERS) {
      this.failLine('HTTP_TOO_MANY_HEADERS', `more than ${HTTP_LIMITS.MAX_HEADERS} header lines`, src, s, lineBase);
      return;
    }
    this.pendingOffset = lineBase + s;
    // Names and values of headers nobody reads are validated above but never decoded.
    const selected = matchSelectedName(src, s, colon);
    this.pendingName = selected?.name ?? OTHER_HEADER;
    this.pendingKept = selected !== null;
    this.pendingValue = selected ? trimmedLatin1(src, colon + 1, e, selected.slot) : '';
  }

  private findBadValueByte(src: Uint8Array, s: number, e: number): number {
    for (let k = s; k < e; k++) if (BAD_VALUE_BYTE[src[k]] === 1) return k;
    return -1;
  }

  private commitHeader(head: HttpHead, trailer: boolean): void {
    const name = this.pendingName;
    const value = this.pendingValue;
    this.pendingName = '';
    this.pendingValue = '';
    if (trailer || !this.pendingKept) return;
    {
      const key = name as SelectedHeaderName;
      const prev = head.headers[key];
      const kept = key === 'authorization' || key === 'www-authenticate' ? authScheme(key, value) : value;
      head.headers[key] = prev === undefined ? kept : `${prev}, ${kept}`;
    }
    switch (name) {
      case 'content-length': {
        // "Content-Length: 5, 5" or repeated equal values are allowed (RFC 9110 8.6); anything else is not.
        if (isShortDigits(value)) {
          this.setContentLength(head, Number(value), value);
          return;
        }
        for (const part of value.split(',')) {
          const t = part.trim();
          if (!/^[0-9]{1,15}$/.test(t)) {
            this.failField('HTTP_INVALID_CONTENT_LENGTH', `Content-Length "${value}"`, `${name}: ${value}`, this.pendingOffset);
            return;
          }
          if (!this.setContentLength(head, Number(t), value)) return;
        }
        break;
      }
      case 'transfer-encoding': {
        head.hasTransferEncoding = true;
        head.chunked = lastHeaderTokenIs(value, 'chunked');
        break;
      }
      case 'connection':
        // A comma-separated list, read in place: every message has one.
        for (let s = 0; s <= value.length; ) {
          const comma = value.indexOf(',', s);
          const e = comma === -1 ? value.length : comma;
          if (isToken(value, s, e, 'close')) head.connectionClose = true;
          else if (isToken(value, s, e, 'keep-alive')) head.connectionKeepAlive = true;
          else if (isToken(value, s, e, 'upgrade')) head.connectionUpgrade = true;
          s = e + 1;
        }
        break;
      case 'upgrade':
        head.upgrade = head.upgrade === null ? value : `${head.upgrade}, ${value}`;
        break;
    }
  }

  /** One Content-Length value `n` of the field `value`; false after an error (it differs from an earlier one). */
  private setContentLength(head: HttpHead, n: number, value: string): boolean {
    if (head.contentLength !== -1 && head.contentLength !== n) {
      this.failField('HTTP_INVALID_CONTENT_LENGTH', `Content-Length ${n} after ${head.contentLength}`, `content-length: ${value}`, this.pendingOffset);
      return false;
    }
    head.contentLength = n;
    return true;
  }

  private endOfHead(no: number, tsMicros: number, nextOffset: number): void {
    const head = this.head!;
    if (this.pendingName) this.commitHeader(head, false);
    if (this.state === STATE.ERRORED) return;
    // RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    head.keepAlive = !head.connectionClose && (head.versionMajor > 1 || (head.versionMajor === 1 && head.versionMinor >= 1) || head.connectionKeepAlive);
    let decision = this.hooks.onHeadersComplete(head, no, tsMicros);
    if (this.kind === 'response' && ((head.status >= 100 && head.status < 200) || head.status === 204 || head.status === 304) && decision === HEAD_DECISION.NORMAL) {
      decision = HEAD_DECISION.SKIP_BODY;
    }
    this.decision = decision;
    if (this.kind === 'request' && head.hasTransferEncoding && !head.chunked) {
      // RFC 9112 6.3 item 4: the server cannot frame this request and must answer 400.
      this.failField('HTTP_INVALID_TRANSFER_ENCODING', `Transfer-Encoding "${head.headers['transfer-encoding'] ?? ''}"`, `transfer-encoding: ${head.headers['transfer-encoding'] ?? ''}`, head.streamOffset);
      return;
    }
    head.framing =
      this.kind === 'response' && decision !== HEAD_DECISION.NORMAL ? 'none'
      : head.chunked ? 'chunked'
      : head.contentLength > 0 ? 'length'
      : this.kind === 'response' && head.contentLength === -1 ? 'close'
      : 'none';
    if (this.kind === 'response' && decision !== HEAD_DECISION.NORMAL) {
      this.completeMessage(nextOffset, no, tsMicros, 'framing');
    } else if (head.chunked) {
      this.state = STATE.CHUNK_SIZE;
    } else if (head.contentLength > 0) {
      this.state = STATE.BODY_LENGTH;
      this.remaining = head.contentLength;
    } else if (this.kind === 'response' && head.contentLength === -1) {
      this.state = STATE.BODY_CLOSE;
    } else {
      this.completeMessage(nextOffset, no, tsMicros, 'framing');
    }
  }

  private parseChunkSize(src: Uint8Array, s: number, e: number, lineBase: number): void {
    let k = s;
    let size = 0;
    while (k < e && k - s < 16) {
      const c = src[k];
      const v = isDigit(c) ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (v < 0) break;
      size = size * 16 + v;
      k++;
    }
    let rest = k;
    while (rest < e && (src[rest] === SP || src[rest] === HT)) rest++;
    if (k === s || (rest < e && src[rest] !== 0x3b) || size > Number.MAX_SAFE_INTEGER) {
      this.failLine('HTTP_INVALID_CHUNK_SIZE', `"${escapeBytes(src, s, Math.min(e, s + 24))}" is not a chunk size`, src, k, lineBase);
      return;
    }
    if (size === 0) {
      this.state = STATE.TRAILER_LINE;
      this.pendingName = '';
    } else {
      this.state = STATE.CHUNK_DATA;
      this.remaining = size;
    }
  }

  private completeMessage(endOffset: number, no: number, tsMicros: number, endedBy: 'framing' | 'close'): void {
    const head = this.head!;
    const upgrade = this.decision === HEAD_DECISION.UPGRADE;
    this.head = null;
    this.decision = HEAD_DECISION.NORMAL;
    this.state = upgrade ? STATE.PAUSED : STATE.MESSAGE_START;
    this.hooks.onMessageComplete(head, endOffset, no, tsMicros, endedBy);
  }

  private abortMessage(why: 'gap' | 'error' | 'end'): void {
    const head = this.head;
    this.head = null;
    this.decision = HEAD_DECISION.NORMAL;
    if (head) this.hooks.onMessageAbort(head, why);
  }

  /** Error at b[at] of the current chunk: returns `end` (the rest is only error data). */
  private failChunk(code: HttpErrorCode, detail: string, b: Uint8Array, at: number, end: number, base: number, no: number): number {
    this.failAt(code, detail, base + at, no);
    this.captureErrorBytes(b, at, end, base);
    return end;
  }

  /** Error at src[at] of the line being processed. */
  private failLine(code: HttpErrorCode, detail: string, src: Uint8Array, at: number, lineBase: number): void {
    this.failAt(code, detail, lineBase + at, this.lineNo);
    this.captureErrorBytes(src, at, this.lineSrcEnd, lineBase);
  }

  /** Error found after the bytes are gone (a header value at commit): the data is the field text. */
  private failField(code: HttpErrorCode, detail: string, field: string, streamOffset: number): void {
    this.failAt(code, detail, streamOffset, this.lineNo);
    const n = Math.min(ERROR_DATA_BYTES, field.length);
    for (let k = 0; k < n; k++) this.errorData[k] = field.charCodeAt(k) & 0xff;
    this.errorDataLen = n;
    this.errorNextOffset = -1;
    this.refreshErrorBytes();
  }

  /** Records the sticky error; its data is filled from stream offset `streamOffset` onwards. */
  private failAt(code: HttpErrorCode, detail: string, streamOffset: number, no: number): void {
    if (this.state === STATE.ERRORED) return;
    if (this.errorData.length === 0) this.errorData = new Uint8Array(ERROR_DATA_BYTES);
    this.errorDataLen = 0;
    this.errorNextOffset = streamOffset;
    this.error = {
      code,
      message: `${HTTP_ERROR[code]}: ${detail}`,
      dir: this.dir,
      streamOffset,
      packet: no,
      bytesText: '',
      bytesHex: '',
    };
    if (this.head) this.abortMessage('error');
    this.probing = false;
    this.state = STATE.ERRORED;
    this.hooks.onError(this.error);
  }

  /** Appends src bytes (stream offset of src[x] = srcBase + x) that continue the error data. */
  private captureErrorBytes(src: Uint8Array, s: number, e: number, srcBase: number): void {
    if (!this.error || this.errorNextOffset < 0 || this.errorDataLen >= ERROR_DATA_BYTES) return;
    const from = this.errorNextOffset - srcBase;
    if (from < s || from >= e) return;
    const n = Math.min(ERROR_DATA_BYTES - this.errorDataLen, e - from);
    this.errorData.set(src.subarray(from, from + n), this.errorDataLen);
    this.errorDataLen += n;
    this.errorNextOffset += n;
    this.refreshErrorBytes();
  }

  private refreshErrorBytes(): void {
    const err = this.error!;
    err.bytesText = escapeBytes(this.errorData, 0, this.errorDataLen);
    err.bytesHex = hexBytes(this.errorData, 0, this.errorDataLen);
  }
}

/** The text of src[s, e): one decoded before for `slot` when it had the same bytes, so no new string is made. */
function sharedText(slot: number, src: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n <= 0) return '';
  if (n > SHARED_MAX_LENGTH) return latin1(src, s, e);
  // The length and three bytes pick the way: values that differ differ in one of them, mostly.
  const way = slot * SHARED_WAYS + ((n * 31 + src[s] * 7 + src[s + (n >> 1)] * 3 + src[e - 1]) & (SHARED_WAYS - 1));
  const known = SHARED_TEXT[way];
  if (known.length === n) {
    let k = 0;
    while (k < n && known.charCodeAt(k) === src[s + k]) k++;
    if (k === n) return known;
  }
  const text = latin1(src, s, e);
  SHARED_TEXT[way] = text;
  return text;
}

/** The text of b[s, e) without the spaces and tabs around it, shared as sharedText() does when `slot` is not -1. */
function trimmedLatin1(b: Uint8Array, s: number, e: number, slot: number): string {
  while (s < e && (b[s] === SP || b[s] === HT)) s++;
  while (e > s && (b[e - 1] === SP || b[e - 1] === HT)) e--;
  return slot === -1 ? latin1(b, s, e) : sharedText(slot, b, s, e);
}
