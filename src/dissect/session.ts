// AppSession: the StreamSink for one flow. It recognises HTTP by the client's first bytes (a method
// token and a space, whatever the port), runs one HttpParser per direction, pairs responses with
// requests in order, and after a 101 hands both streams to WebSocket frame parsers at the exact
// byte the HTTP head ended (llhttp's pause + undici's onUpgrade). A stream that is not HTTP costs a
// byte count and nothing more.
//
// Client bytes that arrive after an Upgrade/CONNECT request and before its answer are held (up to
// PENDING_LIMIT_BYTES), then replayed into WebSocket frames (101) or back into HTTP (refused).
import type { Dir, SinkFactory, SinkFlow, StreamSink } from '../flow/sink.js';
import { recycleLeanExchanges, takeLeanExchanges, type LeanExchanges } from './exchanges.js';
import { HEAD_DECISION, HttpParser, hasHeaderToken, headerTokens, isTokenByte, type HeadDecision, type HttpHead, type HttpParserHooks } from './http.js';
import type { WsErrorCode } from './status.js';
import { NO_CLOSES, NO_ERRORS, NO_EVENTS, NO_EXCHANGES, NO_GAPS, NO_INTERIM, Spares, takeAppFacts, takeClose, takeExchange, takeExchangeList, takeRequestFacts, takeResponseFacts } from './recycle.js';
import { TlsTracker, looksLikeTlsRecord } from './tls.js';
import type {
  AppEvent,
  AppFacts,
  DissectErrorFact,
  GapFact,
  HttpExchangeFacts,
  HttpRequestFacts,
  HttpResponseFacts,
  WebSocketFacts,
  WsFrameCounts,
} from './types.js';
import {
  CLOSE_CODE_NAME,
  OPCODE,
  OPCODE_NAME,
  WebSocketFrameParser,
  computeAccept,
  isValidKey,
  newFrameCounts,
  type WsFrameStart,
  type WsParserHooks,
} from './websocket.js';

export const SESSION_LIMITS = {
  MAX_EVENTS: 2000,
  MAX_EXCHANGES: 1000,
  /** A lean session keeps every exchange up to this many while its stream is read, then (or once it ended) only those the rules read (see exchanges.ts). */
  LEAN_FROM_EXCHANGES: 8,
  MAX_ERRORS: 16,
  MAX_WS_ERRORS: 64,
  MAX_GAPS: 64,
  /** Client bytes held while an upgrade is unanswered. */
  PENDING_LIMIT_BYTES: 64 * 1024,
  /** The method token must end within this many client bytes for the flow to count as HTTP. */
  DETECT_BYTES: 40,
} as const;

/** What a direction's bytes go to. */
const MODE = {
  DETECT: 0,
  HTTP: 1,
  /** Client only: an Upgrade/CONNECT request awaits its answer; bytes are held. */
  PENDING_UPGRADE: 2,
  WEBSOCKET: 3,
  /** CONNECT tunnel or a non-WebSocket upgrade: bytes are counted only. */
  OPAQUE: 4,
  OFF: 5,
  /** Both directions: TLS records (see tls.ts). */
  TLS: 6,
} as const;
type Mode = (typeof MODE)[keyof typeof MODE];

interface HeldChunk {
  bytes: Uint8Array | null; // null: a gap of `length` bytes, described by `gap`
  gap: GapFact | null;
  length: number;
  streamOffset: number;
  no: number;
  tsMicros: number;
}

const TLS_HANDSHAKE_TYPE = Uint8Array.of(22);
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const role = (dir: Dir) => (dir === 0 ? 'client' : 'server');

/**
 * HTTP parsers of sessions that ended, detached from them, and reset when a new HTTP session takes
 * one (see HttpParser.reset).
 */
const spareRequestParsers = new Spares<HttpParser>(32);
const spareResponseParsers = new Spares<HttpParser>(32);
/** WebSocket frame parsers of sessions that ended, detached from them, begun anew by the next WebSocket. */
const spareWsParsers = new Spares<WebSocketFrameParser>(32);

function takeWsParser(dir: Dir, hooks: WsParserHooks, deflate: boolean, counts: WsFrameCounts | undefined): WebSocketFrameParser {
  return spareWsParsers.take()?.begin(dir, hooks, deflate, counts) ?? new WebSocketFrameParser(dir, hooks, deflate, counts);
}

/** The held chunks of a session that holds none (see hold()); never written. */
const NO_HELD: HeldChunk[] = Object.freeze([]) as unknown as HeldChunk[];

/** Sessions that ended without an error, to be begun anew for another flow (see recycleSession). */
const spareSessions = new Spares<AppSession>(64);

/**
 * A session as `new AppSession(recordEvents, leanSlowFloorMicros)` makes it: a spare one when
 * there is one. A session lives as long as its flow, long enough to be promoted to the old
 * generation; a spare one was promoted long ago.
 */
export function takeSession(recordEvents: boolean, leanSlowFloorMicros: number | null): AppSession {
  return spareSessions.take()?.begin(recordEvents, leanSlowFloorMicros) ?? new AppSession(recordEvents, leanSlowFloorMicros);
}

/**
 * A session that ended (onEnd) and that nothing else calls: it is begun anew when taken. Until
 * then it still refers to the facts of its last stream, which stay as they were.
 */
export function recycleSession(session: AppSession): void {
  spareSessions.keep(session);
}

export class AppSession implements StreamSink {
  facts!: AppFacts;
  private recordEvents!: boolean;
  private leanSlowFloorMicros!: number | null;
  // Per-direction state is kept in pairs of fields rather than in small arrays: each packet reads
  // it, and an array is one more object to allocate and to fetch.
  private clientMode!: Mode;
  private serverMode!: Mode;
  private detectBuf!: Uint8Array | null;
  private detectLen!: number;
  private detectTokenLen!: number;
  private detectOffset!: number;
  private detectNo!: number;
  private detectTs!: number;
  private request!: HttpParser | null;
  private response!: HttpParser | null;
  private wsClient!: WebSocketFrameParser | null;
  private wsServer!: WebSocketFrameParser | null;
  private tls!: TlsTracker | null;
  /** The client's first segment was the single byte 22: TLS if the next byte is 3. */
  private tlsByteHeld!: boolean;
  /** Exchanges numbered so far (from 0), at most MAX_EXCHANGES. */
  private exchanges!: number;
  /** Set when only the exchanges the rules read are kept (see exchanges.ts). */
  private lean!: LeanExchanges | null;
  /** Number of the exchange of the request being parsed, -1 when the exchange list was full. */
  private requestSlot!: number;
  /** Number of the exchange of the next final response (may exceed the list's limit). */
  private responseSlot!: number;
  private responseIsInterim!: boolean;
  /** The response parser's head, read when the parser pauses after it (valid until its next message). */
  private lastResponseHead!: HttpHead | null;
  private upgradeSlot!: number;
  private resumeClient!: boolean;
  private held!: HeldChunk[];
  private heldBytes!: number;
  /** Stream offset after the last byte delivered or skipped, per direction. */
  private clientEnd!: number;
  private serverEnd!: number;
  private lastNo!: number;
  /** Bit 1 << dir: that direction is finished. */
  private finishedDirs!: number;
  /** A gap that sent the direction's parser looking for the next message, until it finds one. */
  private clientOpenGap!: GapFact | null;
  private serverOpenGap!: GapFact | null;
  private closeFramesSeen!: number;
  private tcpClosedBeforeCloseFrame!: boolean;
  private ended!: boolean;
  // The parsers' hooks, made once: they serve each stream the session is begun for.
  private readonly requestHooks: HttpParserHooks;
  private readonly responseHooks: HttpParserHooks;
  private readonly wsHooks: WsParserHooks;

  /**
   * `recordEvents`: keep the per-packet event texts the ladder and the diff show. A plain analysis
   * never prints them, so it neither builds nor keeps them. `leanSlowFloorMicros`: keep only the
   * HTTP exchanges the rules and the default reports read, counting turns against this slow-server
   * floor; null keeps every exchange (up to the limit), as --detail, flow and diff show them.
   */
  constructor(recordEvents = true, leanSlowFloorMicros: number | null = null) {
    this.requestHooks = new AppSession.RequestHooks(this);
    this.responseHooks = new AppSession.ResponseHooks(this);
    this.wsHooks = new AppSession.WsHooks(this);
    this.begin(recordEvents, leanSlowFloorMicros);
  }

  /** Ready for a new stream with new facts, as the constructor leaves it (the arguments are the constructor's). */
  begin(recordEvents: boolean, leanSlowFloorMicros: number | null): this {
    this.facts = takeAppFacts();
    this.recordEvents = recordEvents;
    this.leanSlowFloorMicros = leanSlowFloorMicros;
    this.clientMode = MODE.DETECT;
    this.serverMode = MODE.DETECT;
    this.detectBuf = null;
    this.detectLen = 0;
    this.detectTokenLen = 0;
    this.detectOffset = 0;
    this.detectNo = 0;
    this.detectTs = 0;
    this.request = null;
    this.response = null;
    this.wsClient = null;
    this.wsServer = null;
    this.tls = null;
    this.tlsByteHeld = false;
    this.exchanges = 0;
    this.lean = null;
    this.requestSlot = 0;
    this.responseSlot = 0;
    this.responseIsInterim = false;
    this.lastResponseHead = null;
    this.upgradeSlot = -1;
    this.resumeClient = false;
    this.held = NO_HELD;
    this.heldBytes = 0;
    this.clientEnd = 0;
    this.serverEnd = 0;
    this.lastNo = 0;
    this.finishedDirs = 0;
    this.clientOpenGap = null;
    this.serverOpenGap = null;
    this.closeFramesSeen = 0;
    this.tcpClosedBeforeCloseFrame = false;
    this.ended = false;
    return this;
  }

  /** A direction is HTTP, WebSocket or TLS, or still being recognised: the payload is read. */
  readsPayload(): boolean {
    const opaque = (m: Mode) => m === MODE.OFF || m === MODE.OPAQUE;
    return !(opaque(this.clientMode) && opaque(this.serverMode));
  }

  // ---- StreamSink ----

  onData(dir: Dir, bytes: Uint8Array, off: number, end: number, streamOffset: number, no: number, tsMicros: number): void {
    if (end <= off) return;
    this.lastNo = no;
    if (dir === 0) {
      this.clientEnd = streamOffset + (end - off);
      this.facts.bytes.client += end - off;
      this.clientData(bytes, off, end, streamOffset, no, tsMicros);
    } else {
      this.serverEnd = streamOffset + (end - off);
      this.facts.bytes.server += end - off;
      this.serverData(bytes, off, end, streamOffset, no, tsMicros);
    }
  }

  onGap(dir: Dir, streamOffset: number, length: number, no: number, tsMicros: number): void {
    this.lastNo = no;
    if (dir === 0) this.clientEnd = streamOffset + length;
    else this.serverEnd = streamOffset + length;
    const gap: GapFact = { dir, streamOffset, length, packet: no, outcome: 'ignored', resyncOffset: null };
    this.recordGap(gap);
    this.applyGap(dir, gap, streamOffset, length, no, tsMicros);
  }

  onClose(dir: Dir, how: 'fin' | 'rst', no: number, tsMicros: number): void {
    this.lastNo = no;
    // A retransmitted FIN (or a second RST) says nothing new.
    const closes = this.facts.closes;
    for (let i = 0; i < closes.length; i++) if (closes[i].dir === dir && closes[i].how === how) return;
    // A list of the exact size: a session sees one close or two, and push() or a spread would make room for 16 more.
    const close = takeClose(dir, how, no, tsMicros);
    this.facts.closes = closes.length === 0 ? [close] : closes.concat(close);
    this.finishDirection(dir, no, tsMicros, how === 'fin');
    if (this.facts.closes.length === 1) this.noteFirstClose(dir, how, tsMicros);
    if (this.facts.websocket?.upgraded && this.facts.websocket.tcpClose === null && !this.tcpClosedBeforeCloseFrame) {
      if (this.closeFramesSeen > 0) this.facts.websocket.tcpClose = 'after-close-frame';
      else this.tcpClosedBeforeCloseFrame = true;
    }
  }

  onEnd(tsMicros: number): void {
    if (this.ended) return;
    this.ended = true;
    this.finishDirection(0, this.lastNo, tsMicros, false);
    this.finishDirection(1, this.lastNo, tsMicros, false);
    markLost(this.clientOpenGap);
    markLost(this.serverOpenGap);
    const ws = this.facts.websocket;
    if (ws?.upgraded && ws.tcpClose === null && this.tcpClosedBeforeCloseFrame) ws.tcpClose = 'without-close-frame';
    const clientPings = this.wsClient?.unansweredPing ?? null;
    const serverPings = this.wsServer?.unansweredPing ?? null;
    if (ws && (clientPings || serverPings)) ws.unansweredPings = { client: clientPings, server: serverPings };
    // Nothing changes the exchanges any more: a lean session keeps only those read, however few
    // (a closed flow lingers 5 s with its facts before it is judged).
    if (this.leanSlowFloorMicros !== null && !this.lean && this.exchanges > 1) this.goLean(this.leanSlowFloorMicros);
    if (this.lean) {
      this.lean.settleAll(this.wsRequestPacket());
      recycleLeanExchanges(this.lean);
      this.lean = null;
    }
    // Only the facts outlive the stream: a flow lingers a few seconds after its close.
    this.releaseParsers();
    if (this.wsClient) spareWsParsers.keep(this.wsClient.detach());
    if (this.wsServer) spareWsParsers.keep(this.wsServer.detach());
    this.wsClient = this.wsServer = null;
    this.tls = null;
    this.held = NO_HELD;
    this.heldBytes = 0;
    this.lastResponseHead = null;
    this.detectBuf = null;
  }

  // ---- client / server dispatch ----

  private clientData(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    switch (this.clientMode) {
      case MODE.DETECT:
        this.detectClient(b, off, end, streamOffset, no, ts);
        return;
      case MODE.HTTP:
        this.runRequestParser(b, off, end, streamOffset, no, ts);
        return;
      case MODE.PENDING_UPGRADE:
        this.hold(b, off, end, streamOffset, no, ts);
        return;
      case MODE.WEBSOCKET:
        this.wsClient!.execute(b, off, end, streamOffset, no, ts);
        return;
      case MODE.TLS:
        this.tls!.feed(0, b, off, end, streamOffset, no, ts);
        return;
    }
  }

  private serverData(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    switch (this.serverMode) {
      case MODE.DETECT:
        // HTTP servers do not speak first (SMTP, SSH and MySQL do), but a capture that starts
        // mid-connection may show a response first: accept one that starts with "HTTP/".
        if (this.detectLen === 0 && startsWithHttpVersion(b, off, end)) {
          this.startHttp();
          this.serverData(b, off, end, streamOffset, no, ts);
        } else {
          this.giveUp();
        }
        return;
      case MODE.HTTP: {
        const resp = this.response!;
        const stop = resp.execute(b, off, end, streamOffset, no, ts);
        if (resp.paused) this.switchProtocols(b, stop, end, streamOffset + (stop - off), no, ts);
        if (this.resumeClient) this.releaseHeldAsHttp();
        return;
      }
      case MODE.WEBSOCKET:
        this.wsServer!.execute(b, off, end, streamOffset, no, ts);
        return;
      case MODE.TLS:
        this.tls!.feed(1, b, off, end, streamOffset, no, ts);
        return;
    }
  }

  /**
   * The flow is HTTP when the client's first bytes are a method token and a space. The bytes are
   * looked at where they lie, and copied aside only when the segment ends before the answer.
   */
  private detectClient(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    const prevLen = this.detectLen;
    // A TLS record: its type byte (22) and the version's major byte (3). A segment may end between them.
    if (this.tlsByteHeld) {
      this.tlsByteHeld = false;
      if (b[off] !== 3) return this.giveUp();
      this.startTls();
      this.tls!.feed(0, TLS_HANDSHAKE_TYPE, 0, 1, streamOffset - 1, this.detectNo, this.detectTs);
      this.clientData(b, off, end, streamOffset, no, ts);
      return;
    }
    if (prevLen === 0 && looksLikeTlsRecord(b, off, end)) {
      this.startTls();
      this.clientData(b, off, end, streamOffset, no, ts);
      return;
    }
    if (prevLen === 0 && end - off === 1 && b[off] === TLS_HANDSHAKE_TYPE[0]) {
      this.tlsByteHeld = true;
      this.detectNo = no;
      this.detectTs = ts;
      return;
    }
    if (prevLen === 0) {
      this.detectOffset = streamOffset;
      this.detectNo = no;
      this.detectTs = ts;
    }
    let len = prevLen;
    for (let i = off; i < end; i++) {
      const c = b[i];
      if (len >= SESSION_LIMITS.DETECT_BYTES) return this.giveUp();
      len++;
      if (this.detectTokenLen === 0 && (c === CR || c === LF)) continue;
      if (c === SP && this.detectTokenLen > 0) {
        const held = this.detectBuf;
        this.startHttp();
        if (prevLen > 0 && held) this.runRequestParser(held, 0, prevLen, this.detectOffset, this.detectNo, this.detectTs);
        this.clientData(b, off, end, streamOffset, no, ts);
        return;
      }
      if (!isTokenByte(c)) return this.giveUp();
      this.detectTokenLen++;
    }
    const buf = (this.detectBuf ??= new Uint8Array(SESSION_LIMITS.DETECT_BYTES));
    for (let i = off, j = prevLen; i < end; i++, j++) buf[j] = b[i];
    this.detectLen = len;
  }

  private giveUp(): void {
    this.clientMode = MODE.OFF;
    this.serverMode = MODE.OFF;
    this.facts.protocol = 'unknown';
    this.detectBuf = null;
  }

  private startTls(): void {
    this.facts.protocol = 'tls';
    this.clientMode = MODE.TLS;
    this.serverMode = MODE.TLS;
    this.tls = new TlsTracker(this.recordEvents ? (no, dir, text) => this.eventWanted() && this.event(no, dir, text) : null);
    this.facts.tls = this.tls.facts;
    this.facts.tlsClosing = this.tls.closing;
    this.detectBuf = null;
  }

  private startHttp(): void {
    this.facts.protocol = 'http';
    this.clientMode = MODE.HTTP;
    this.serverMode = MODE.HTTP;
    this.request = spareRequestParsers.take()?.reset(this.requestHooks) ?? new HttpParser('request', 0, this.requestHooks);
    this.response = spareResponseParsers.take()?.reset(this.responseHooks) ?? new HttpParser('response', 1, this.responseHooks);
    this.detectBuf = null;
  }

  /** The HTTP parsers are done with: they go to the next HTTP sessions (see spareRequestParsers). */
  private releaseParsers(): void {
    if (this.request) spareRequestParsers.keep(this.request.detach());
    if (this.response) spareResponseParsers.keep(this.response.detach());
    this.request = this.response = null;
  }

  private runRequestParser(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    const req = this.request!;
    const stop = req.execute(b, off, end, streamOffset, no, ts);
    if (req.paused && this.clientMode === MODE.HTTP) {
      this.clientMode = MODE.PENDING_UPGRADE;
      if (stop < end) this.hold(b, stop, end, streamOffset + (stop - off), no, ts);
    }
  }

  private hold(b: Uint8Array, off: number, end: number, streamOffset: number, no: number, ts: number): void {
    const n = end - off;
    if (this.heldBytes + n > SESSION_LIMITS.PENDING_LIMIT_BYTES) {
      // Over the limit the bytes are dropped and replayed as a gap, so the loss is reported.
      const last = this.held[this.held.length - 1];
      if (last && last.bytes === null && last.streamOffset + last.length === streamOffset) {
        last.length += n;
        if (last.gap) last.gap.length += n;
        return;
      }
      const gap: GapFact = { dir: 0, streamOffset, length: n, packet: no, outcome: 'ignored', resyncOffset: null };
      this.recordGap(gap);
      this.holdChunk({ bytes: null, gap, length: n, streamOffset, no, tsMicros: ts });
      return;
    }
    this.holdChunk({ bytes: b.slice(off, end), gap: null, length: n, streamOffset, no, tsMicros: ts });
    this.heldBytes += n;
  }

  private holdChunk(chunk: HeldChunk): void {
    if (this.held === NO_HELD) this.held = [chunk];
    else this.held.push(chunk);
  }

  /** The upgrade was refused: the held client bytes are HTTP after all. */
  private releaseHeldAsHttp(): void {
    this.resumeClient = false;
    if (this.clientMode !== MODE.PENDING_UPGRADE) return;
    this.clientMode = MODE.HTTP;
    this.request!.resume();
    this.upgradeSlot = -1;
    const held = this.takeHeld();
    for (const h of held) {
      if (this.clientMode !== MODE.HTTP) {
        if (h.bytes) this.clientData(h.bytes, 0, h.length, h.streamOffset, h.no, h.tsMicros);
        continue;
      }
      if (h.bytes) this.runRequestParser(h.bytes, 0, h.length, h.streamOffset, h.no, h.tsMicros);
      else this.onGapReplay(0, h);
    }
  }

  private takeHeld(): HeldChunk[] {
    const held = this.held;
    this.held = NO_HELD;
    this.heldBytes = 0;
    return held;
  }

  private onGapReplay(dir: Dir, h: HeldChunk): void {
    const fact = h.gap ?? { dir, streamOffset: h.streamOffset, length: h.length, packet: h.no, outcome: 'ignored' as const, resyncOffset: null };
    this.applyGap(dir, fact, h.streamOffset, h.length, h.no, h.tsMicros);
  }

  /** The response parser paused after a 101 or a CONNECT 2xx: b[stop..end) is the next protocol. */
  private switchProtocols(b: Uint8Array, stop: number, end: number, streamOffset: number, no: number, ts: number): void {
    const head = this.lastResponseHead!;
    const ws = this.facts.websocket;
    const wantsWebSocket = head.status === 101 && (hasHeaderToken(head.upgrade, 'websocket') || (ws !== null && ws.status === 101));
    this.facts.upgradedTo = head.status === 101 ? (head.upgrade ?? '') : 'CONNECT';
    const held = this.takeHeld();
    if (wantsWebSocket) {
      this.facts.protocol = 'websocket';
      const deflate = ws?.deflate ?? false;
      if (ws) ws.upgraded = true;
      this.wsClient = takeWsParser(0, this.wsHooks, deflate, ws?.frames.client);
      this.wsServer = takeWsParser(1, this.wsHooks, deflate, ws?.frames.server);
      this.clientMode = MODE.WEBSOCKET;
      this.serverMode = MODE.WEBSOCKET;
      // Held client bytes were sent before this server chunk arrived.
      for (const h of held) {
        if (h.bytes) this.wsClient.execute(h.bytes, 0, h.length, h.streamOffset, h.no, h.tsMicros);
        else this.onGapReplay(0, h);
      }
      if (stop < end) this.wsServer.execute(b, stop, end, streamOffset, no, ts);
    } else {
      this.facts.protocol = 'tunnel';
      this.clientMode = MODE.OPAQUE;
      this.serverMode = MODE.OPAQUE;
    }
    // Neither direction speaks HTTP again: the parsers go (a WebSocket may stay open for hours).
    this.releaseParsers();
    this.lastResponseHead = null;
  }

  private applyGap(dir: Dir, gap: GapFact, streamOffset: number, length: number, no: number, ts: number): void {
    switch (dir === 0 ? this.clientMode : this.serverMode) {
      case MODE.DETECT:
        // Whatever preceded is lost; detection starts over on the bytes after the gap.
        if (dir === 0) {
          this.detectLen = 0;
          this.detectTokenLen = 0;
        }
        gap.outcome = 'lost';
        return;
      case MODE.HTTP: {
        const parser = dir === 0 ? this.request! : this.response!;
        const result = parser.gap(streamOffset, length, no, ts);
        if (result === 'body') gap.outcome = 'body';
        else if (result === 'resync') {
          if (dir === 0) this.clientOpenGap = gap;
          else this.serverOpenGap = gap;
        }
        return;
      }
      case MODE.PENDING_UPGRADE:
        this.holdChunk({ bytes: null, gap, length, streamOffset, no, tsMicros: ts });
        return;
      case MODE.WEBSOCKET: {
        const parser = dir === 0 ? this.wsClient! : this.wsServer!;
        gap.outcome = parser.gap(length) ? 'body' : 'lost';
        return;
      }
      case MODE.TLS:
        this.tls!.lost(dir, no);
        gap.outcome = 'lost';
        return;
    }
  }

  private finishDirection(dir: Dir, no: number, ts: number, closed: boolean): void {
    if (this.finishedDirs & (1 << dir)) return;
    this.finishedDirs |= 1 << dir;
    switch (dir === 0 ? this.clientMode : this.serverMode) {
      case MODE.HTTP: {
        const parser = dir === 0 ? this.request! : this.response!;
        const line = dir === 0 ? parser.unfinishedStartLine() : null;
        if (line) this.facts.unfinishedRequestLine = { packet: line.no, bytes: this.clientEnd - line.streamOffset };
        parser.finish(dir === 0 ? this.clientEnd : this.serverEnd, no, ts, closed);
        break;
      }
      case MODE.WEBSOCKET:
        (dir === 0 ? this.wsClient! : this.wsServer!).finish(no, closed);
        break;
    }
    markLost(dir === 0 ? this.clientOpenGap : this.serverOpenGap);
  }

  /** Names the exchange in progress when TCP first closed, and what of it had been seen. */
  private noteFirstClose(dir: Dir, how: 'fin' | 'rst', ts: number): void {
    const ex = this.exchangeNumbered(this.exchanges - 1);
    if (!ex) return;
    ex.closedBy = role(dir);
    ex.closeHow = how;
    if (ex.response) {
      ex.closeAfter = ex.response.complete ? 'response' : 'response-partial';
      if (ex.response.complete && ex.timing.responseEndAt !== null) ex.closeAfterMs = round3((ts - ex.timing.responseEndAt) / 1000);
    } else if (ex.request) {
      ex.closeAfter = ex.request.complete ? 'request' : 'request-partial';
      if (ex.request.complete && ex.timing.requestEndAt !== null) ex.closeAfterMs = round3((ts - ex.timing.requestEndAt) / 1000);
    }
  }

  // ---- facts helpers ----

  /**
   * Whether to build a per-packet event now: only when this session keeps events (for a ladder) and
   * has room for one; a full list counts the event as dropped. Callers ask first so that a plain
   * analysis never builds the text.
   */
  private eventWanted(): boolean {
    if (!this.recordEvents) return false;
    if (this.facts.events.length < SESSION_LIMITS.MAX_EVENTS) return true;
    this.facts.eventsDropped++;
    return false;
  }

  private event(no: number, dir: Dir, text: string): void {
    const e = { no, dir, text } satisfies AppEvent;
    if (this.facts.events === NO_EVENTS) this.facts.events = [e];
    else this.facts.events.push(e);
  }

  private exchangeAt(slot: number, createForResponse: boolean): HttpExchangeFacts | null {
    if (slot < this.exchanges) return this.exchangeNumbered(slot);
    if (!createForResponse) return null;
    if (this.exchanges >= SESSION_LIMITS.MAX_EXCHANGES) {
      // Past the limit, a response to a request already counted is not counted again.
      if (slot >= this.exchanges + this.facts.httpDropped) this.facts.httpDropped++;
      return null;
    }
    return this.addExchange();
  }

  private addExchange(): HttpExchangeFacts {
    // Most connections carry a few exchanges: keeping them all costs less than sorting them out.
    if (this.leanSlowFloorMicros !== null && !this.lean && this.exchanges === SESSION_LIMITS.LEAN_FROM_EXCHANGES) this.goLean(this.leanSlowFloorMicros);
    const ex = takeExchange();
    if (this.lean) this.lean.add(ex, this.exchanges);
    else {
      if (this.facts.http === NO_EXCHANGES) this.facts.http = takeExchangeList();
      this.facts.http.push(ex);
    }
    this.exchanges++;
    return ex;
  }

  /** From here on only the exchanges the rules and the default reports read are kept, the others counted (see exchanges.ts). */
  private goLean(slowFloorMicros: number): void {
    this.facts.httpTurns = { answered: 0, slow: 0 };
    this.lean = takeLeanExchanges(this.facts.http, this.facts.httpTurns, slowFloorMicros);
  }

  /** The exchange numbered `n`; null when there is none or a lean list dropped it. */
  private exchangeNumbered(n: number): HttpExchangeFacts | null {
    if (n < 0) return null;
    return this.lean ? this.lean.at(n) : (this.facts.http[n] ?? null);
  }

  private wsRequestPacket(): number {
    return this.facts.websocket?.requestPacket ?? -1;
  }

  /** The response or the request moved on: exchanges behind both may be settled (lean lists only). */
  private settleExchanges(): void {
    this.lean?.settle(this.responseSlot, this.requestSlot, this.wsRequestPacket());
  }

  private resolveGap(dir: Dir, streamOffset: number): void {
    const g = dir === 0 ? this.clientOpenGap : this.serverOpenGap;
    if (!g) return;
    g.outcome = 'resynced';
    g.resyncOffset = streamOffset;
    if (dir === 0) this.clientOpenGap = null;
    else this.serverOpenGap = null;
  }

  private recordGap(gap: GapFact): void {
    if (this.facts.gaps === NO_GAPS) this.facts.gaps = [gap];
    else if (this.facts.gaps.length < SESSION_LIMITS.MAX_GAPS) this.facts.gaps.push(gap);
  }

  private recordError(err: DissectErrorFact): void {
    if (this.facts.errors === NO_ERRORS) this.facts.errors = [err];
    else if (this.facts.errors.length < SESSION_LIMITS.MAX_ERRORS) this.facts.errors.push(err);
    if (this.eventWanted()) this.event(err.packet, err.dir, `HTTP error ${err.code}`);
  }

  private wsError(code: WsErrorCode, message: string, dir: Dir, streamOffset: number, packet: number): void {
    const ws = this.facts.websocket;
    if (!ws) return;
    if (ws.errors.length < SESSION_LIMITS.MAX_WS_ERRORS) ws.errors.push({ code, message, dir, streamOffset, packet });
    else ws.errorsDropped++;
  }

  // ---- parser hooks ----
  // Each parser gets one small object that forwards to the methods below, rather than an object of
  // closures per parser: an HTTP session would otherwise carry some twenty closures.

  /** The request parser's hooks. */
  private static readonly RequestHooks = class implements HttpParserHooks {
    constructor(private readonly s: AppSession) {}

    onStartLine(head: HttpHead): void {
      this.s.requestStartLine(head);
    }
    onHeadersComplete(head: HttpHead, no: number, tsMicros: number): HeadDecision {
      return this.s.requestHeadersComplete(head, no, tsMicros);
    }
    onBody(n: number, no: number, tsMicros: number): void {
      this.s.requestBody(n, no, tsMicros);
    }
    onMessageComplete(_head: HttpHead, _end: number, no: number, ts: number): void {
      this.s.requestMessageComplete(no, ts);
    }
    onMessageAbort(): void {}
    onError(err: DissectErrorFact): void {
      this.s.recordError(err);
    }
    onResync(streamOffset: number): void {
      this.s.resolveGap(0, streamOffset);
    }
  };

  /** The response parser's hooks. */
  private static readonly ResponseHooks = class implements HttpParserHooks {
    constructor(private readonly s: AppSession) {}

    onStartLine(head: HttpHead): void {
      this.s.responseStartLine(head);
    }
    onHeadersComplete(head: HttpHead): HeadDecision {
      return this.s.responseHeadersComplete(head);
    }
    onBody(n: number): void {
      this.s.responseBody(n);
    }
    onMessageComplete(head: HttpHead, _end: number, no: number, ts: number): void {
      this.s.responseMessageComplete(head, no, ts);
    }
    onMessageAbort(head: HttpHead): void {
      this.s.responseMessageAbort(head);
    }
    onError(err: DissectErrorFact): void {
      this.s.responseError(err);
    }
    onResync(streamOffset: number): void {
      this.s.resolveGap(1, streamOffset);
    }
  };

  /** Both WebSocket frame parsers' hooks. */
  private static readonly WsHooks = class implements WsParserHooks {
    constructor(private readonly s: AppSession) {}

    onFrame(dir: Dir, f: WsFrameStart): void {
      this.s.wsFrame(dir, f);
    }
    onClose(dir: Dir, f: WsFrameStart, code: number | null, reason: string | null): void {
      this.s.wsClose(dir, f, code, reason);
    }
    onError(code: WsErrorCode, message: string, dir: Dir, streamOffset: number, no: number): void {
      this.s.wsError(code, message, dir, streamOffset, no);
    }
  };

  private requestStartLine(head: HttpHead): void {
    let ex: HttpExchangeFacts | null = null;
    if (this.exchanges < SESSION_LIMITS.MAX_EXCHANGES) {
      ex = this.addExchange();
      this.requestSlot = this.exchanges - 1;
    } else {
      this.facts.httpDropped++;
      this.requestSlot = -1;
    }
    this.settleExchanges();
    if (ex) {
      ex.request = requestFacts(head, takeRequestFacts());
      ex.timing.requestAt = head.tsMicros;
    }
    if (this.eventWanted()) this.event(head.no, 0, `HTTP ${head.method} ${clip(head.target, 80)} HTTP/${head.version}${head.afterGap ? ' (after gap)' : ''}`);
    if (head.afterGap) this.resolveGap(0, head.streamOffset);
  }

  /** The exchange of the request being parsed, null when the exchange list was full. */
  private currentRequest(): HttpExchangeFacts | null {
    return this.exchangeNumbered(this.requestSlot);
  }

  private requestHeadersComplete(head: HttpHead, no: number, tsMicros: number): HeadDecision {
    const ex = this.currentRequest();
    if (ex?.request) {
      ex.request.headers = head.headers;
      ex.request.headerCount = head.headerCount;
      ex.request.keepAlive = head.keepAlive;
      // The client may hold its body until the server says "100 Continue" (RFC 9110 10.1.1).
      if (hasHeaderToken(head.headers.expect, '100-continue')) ex.expectContinue = { headEndPacket: no, headEndAt: tsMicros, bodyPacket: null, bodyAt: null };
    }
    if (hasHeaderToken(head.upgrade, 'websocket')) this.beginWebSocketHandshake(head);
    // llhttp pauses on any Upgrade request and on CONNECT: what follows may be another protocol.
    if (head.upgrade !== null || head.method === 'CONNECT') {
      this.upgradeSlot = this.requestSlot;
      return HEAD_DECISION.UPGRADE;
    }
    return HEAD_DECISION.NORMAL;
  }

  private requestBody(n: number, no: number, tsMicros: number): void {
    const ex = this.currentRequest();
    if (!ex?.request) return;
    ex.request.bodyBytes += n;
    const expect = ex.expectContinue;
    if (expect && expect.bodyPacket === null && n > 0) {
      expect.bodyPacket = no;
      expect.bodyAt = tsMicros;
    }
  }

  private requestMessageComplete(no: number, ts: number): void {
    const ex = this.currentRequest();
    if (!ex?.request) return;
    ex.request.complete = true;
    ex.request.endPacket = no;
    ex.timing.requestEndAt = ts;
    ex.timing.requestEndPacket = no;
  }

  private responseStartLine(head: HttpHead): void {
    this.lastResponseHead = head;
    this.responseIsInterim = head.status >= 100 && head.status < 200 && head.status !== 101;
    const ex = this.exchangeAt(this.responseSlot, true);
    if (head.afterGap) this.resolveGap(1, head.streamOffset);
    if (this.eventWanted()) this.event(head.no, 1, `${head.status} ${clip(head.reason, 60)}${head.afterGap ? ' (after gap)' : ''}`.trimEnd());
    if (!ex) return;
    if (this.responseIsInterim) {
      const interim = { status: head.status, reason: head.reason, packet: head.no, at: head.tsMicros };
      if (ex.interim === NO_INTERIM) ex.interim = [interim];
      else ex.interim.push(interim);
      return;
    }
    ex.response = responseFacts(head, takeResponseFacts());
    ex.timing.responseAt = head.tsMicros;
    if (ex.timing.requestEndAt !== null) ex.timing.thinkMs = round3((head.tsMicros - ex.timing.requestEndAt) / 1000);
  }

  private responseHeadersComplete(head: HttpHead): HeadDecision {
    const ex = this.exchangeAt(this.responseSlot, false);
    if (ex?.response && !this.responseIsInterim) {
      ex.response.headers = head.headers;
      ex.response.headerCount = head.headerCount;
      ex.response.keepAlive = head.keepAlive;
    }
    if (this.responseIsInterim) return HEAD_DECISION.SKIP_BODY;
    const method = ex?.request?.method ?? '';
    const isUpgradeAnswer = this.upgradeSlot >= 0 && this.upgradeSlot === this.responseSlot;
    if (isUpgradeAnswer && this.facts.websocket && ex?.request) this.endWebSocketHandshake(head);
    if (head.status === 101 || (method === 'CONNECT' && head.status >= 200 && head.status < 300)) return HEAD_DECISION.UPGRADE;
    if (method === 'HEAD') return HEAD_DECISION.SKIP_BODY;
    return HEAD_DECISION.NORMAL;
  }

  private responseBody(n: number): void {
    const ex = this.exchangeAt(this.responseSlot, false);
    if (ex?.response) ex.response.bodyBytes += n;
  }

  private responseMessageComplete(head: HttpHead, no: number, ts: number): void {
    if (this.responseIsInterim) return;
    const slot = this.responseSlot++;
    const ex = this.exchangeAt(slot, false);
    if (ex?.response) {
      ex.response.complete = true;
      ex.response.endPacket = no;
      ex.response.framing = head.framing;
      ex.timing.responseEndAt = ts;
      ex.timing.responseEndPacket = no;
    }
    const answersUpgrade = slot === this.upgradeSlot;
    if (answersUpgrade && !(head.status === 101 || (ex?.request?.method === 'CONNECT' && head.status >= 200 && head.status < 300))) {
      this.resumeClient = true;
    }
    this.settleExchanges();
  }

  private responseMessageAbort(head: HttpHead): void {
    if (this.responseIsInterim) return;
    const ex = this.exchangeAt(this.responseSlot, false);
    if (ex?.response) ex.response.framing = head.framing;
    this.responseSlot++;
    this.settleExchanges();
  }

  private responseError(err: DissectErrorFact): void {
    this.recordError(err);
    const ws = this.facts.websocket;
    if (err.code === 'HTTP_NON_HTTP_RESPONSE' && ws && ws.status === null && this.upgradeSlot >= 0 && this.upgradeSlot === this.responseSlot) {
      ws.nonHttpResponse = err;
    }
  }

  // ---- WebSocket handshake and frames ----

  private beginWebSocketHandshake(head: HttpHead): void {
    const h = head.headers;
    const ws: WebSocketFacts = {
      requestPacket: head.no,
      requestVersion: h['sec-websocket-version'] ?? null,
      key: h['sec-websocket-key'] ?? null,
      offeredProtocols: h['sec-websocket-protocol'] ?? null,
      offeredExtensions: h['sec-websocket-extensions'] ?? null,
      status: null,
      responsePacket: null,
      accept: null,
      acceptValid: null,
      subprotocol: null,
      extensions: null,
      deflate: false,
      upgraded: false,
      nonHttpResponse: null,
      frames: { client: newFrameCounts(), server: newFrameCounts() },
      close: { initiator: null, code: null, reason: null, answered: false, packet: null, answerCode: null, answerPacket: null },
      tcpClose: null,
      errors: [],
      errorsDropped: 0,
    };
    this.facts.websocket = ws;
    const at = head.streamOffset;
    if (head.method !== 'GET') this.wsError('WS_HANDSHAKE_NOT_GET', `method ${head.method}`, 0, at, head.no);
    if (!head.connectionUpgrade) this.wsError('WS_HANDSHAKE_NO_CONNECTION_UPGRADE', `Connection: ${h.connection ?? '(absent)'}`, 0, at, head.no);
    if (ws.key === null || !isValidKey(ws.key)) this.wsError('WS_HANDSHAKE_BAD_KEY', `Sec-WebSocket-Key: ${ws.key ?? '(absent)'}`, 0, at, head.no);
    if (ws.requestVersion !== '13') this.wsError('WS_HANDSHAKE_BAD_VERSION', `Sec-WebSocket-Version: ${ws.requestVersion ?? '(absent)'}`, 0, at, head.no);
  }

  private endWebSocketHandshake(head: HttpHead): void {
    const ws = this.facts.websocket!;
    const h = head.headers;
    ws.status = head.status;
    ws.responsePacket = head.no;
    if (head.status !== 101) return;
    const at = head.streamOffset;
    ws.accept = h['sec-websocket-accept'] ?? null;
    ws.subprotocol = h['sec-websocket-protocol'] ?? null;
    ws.extensions = h['sec-websocket-extensions'] ?? null;
    if (!hasHeaderToken(head.upgrade, 'websocket') || !head.connectionUpgrade) {
      this.wsError('WS_HANDSHAKE_BAD_UPGRADE_RESPONSE', `Upgrade: ${head.upgrade ?? '(absent)'}, Connection: ${h.connection ?? '(absent)'}`, 1, at, head.no);
    }
    if (ws.accept === null) {
      ws.acceptValid = ws.key === null ? null : false;
      this.wsError('WS_HANDSHAKE_MISSING_ACCEPT', 'no Sec-WebSocket-Accept', 1, at, head.no);
    } else if (ws.key !== null) {
      const expected = computeAccept(ws.key);
      ws.acceptValid = ws.accept === expected;
      if (!ws.acceptValid) this.wsError('WS_HANDSHAKE_BAD_ACCEPT', `got ${ws.accept}, expected ${expected}`, 1, at, head.no);
    }
    if (ws.subprotocol !== null && !headerTokens(ws.offeredProtocols ?? '').includes(ws.subprotocol.trim().toLowerCase())) {
      this.wsError('WS_HANDSHAKE_UNOFFERED_PROTOCOL', `server chose "${ws.subprotocol}", offered "${ws.offeredProtocols ?? ''}"`, 1, at, head.no);
    }
    const offered = new Set(extensionNames(ws.offeredExtensions));
    for (const name of extensionNames(ws.extensions)) {
      if (!offered.has(name)) this.wsError('WS_HANDSHAKE_UNOFFERED_EXTENSION', `server chose "${name}"`, 1, at, head.no);
      if (name === 'permessage-deflate') ws.deflate = true;
    }
  }

  private wsFrame(dir: Dir, f: WsFrameStart): void {
    this.notePingPong(dir, f);
    // A close is described when its payload (code, reason) is complete.
    if (f.opcode === OPCODE.CLOSE || !this.eventWanted()) return;
    const name = OPCODE_NAME[f.opcode] ?? `opcode 0x${f.opcode.toString(16)}`;
    let text = `WS ${name} ${f.length} B`;
    if (f.opcode === OPCODE.CONTINUATION) text += f.fin ? ' (last fragment)' : ' (fragment)';
    else if (!f.fin && (f.opcode === OPCODE.TEXT || f.opcode === OPCODE.BINARY)) text += ' (first fragment)';
    if (f.compressed) text += ' compressed';
    this.event(f.no, dir, text);
  }

  /**
   * Keeps each side's run of pings the peer has not answered. A pong answers all of them: a peer
   * may answer only the latest ping (RFC 6455 5.5.3). The peer's data frames after the first ping
   * are counted (its application was running).
   */
  private notePingPong(dir: Dir, f: WsFrameStart): void {
    const own = dir === 0 ? this.wsClient : this.wsServer;
    const peer = dir === 0 ? this.wsServer : this.wsClient;
    if (!own || !peer) return;
    if (f.opcode === OPCODE.PING) {
      const wait = own.unansweredPing;
      if (!wait) own.unansweredPing = { packet: f.no, at: f.tsMicros, count: 1, lastPacket: f.no, peerDataFrames: 0, closePacket: null, closeAt: null };
      else if (wait.closePacket === null) {
        wait.count++;
        wait.lastPacket = f.no;
      }
    } else if (f.opcode === OPCODE.PONG) {
      peer.unansweredPing = null;
    } else if (f.opcode === OPCODE.TEXT || f.opcode === OPCODE.BINARY) {
      if (peer.unansweredPing) peer.unansweredPing.peerDataFrames++;
    }
  }

  private wsClose(dir: Dir, f: WsFrameStart, code: number | null, reason: string | null): void {
    const wait = (dir === 0 ? this.wsClient : this.wsServer)?.unansweredPing;
    if (wait && wait.closePacket === null) {
      wait.closePacket = f.no;
      wait.closeAt = f.tsMicros;
    }
    const ws = this.facts.websocket;
    if (this.eventWanted()) {
      const described = code === null ? 'WS close (no code)' : `WS close ${code} (${CLOSE_CODE_NAME[code] ?? 'unassigned'})${reason ? ` "${clip(reason, 60)}"` : ''}`;
      this.event(f.no, dir, described);
    }
    this.closeFramesSeen++;
    if (!ws) return;
    const c = ws.close;
    if (c.initiator === null) {
      c.initiator = role(dir);
      c.code = code;
      c.reason = reason;
      c.packet = f.no;
    } else if (c.initiator !== role(dir) && !c.answered) {
      c.answered = true;
      c.answerCode = code;
      c.answerPacket = f.no;
    }
    if (this.tcpClosedBeforeCloseFrame && ws.tcpClose === null) ws.tcpClose = 'before-close-frame';
  }
}

export class AppSinkFactory implements SinkFactory {
  /**
   * `recordEvents` says, per flow id, whether its session keeps per-packet events (for a ladder);
   * `leanSlowFloorMicros`, when not null, that sessions keep only the HTTP exchanges rules read.
   */
  constructor(
    private readonly recordEvents: (flowId: number) => boolean = () => true,
    private readonly leanSlowFloorMicros: number | null = null,
  ) {}

  create(flow: SinkFlow): AppSession {
    return takeSession(this.recordEvents(flow.id), this.leanSlowFloorMicros);
  }
}

/** The request's facts, in `into` when given (an object nothing else refers to). */
function requestFacts(head: HttpHead, into: HttpRequestFacts | null): HttpRequestFacts {
  const target = clip(head.target, 2048);
  // Built whole, so the object is made once at its final size rather than grown field by field.
  if (!into) {
    return { method: head.method, target, version: head.version, headers: head.headers, headerCount: 0, packet: head.no, streamOffset: head.streamOffset, endPacket: null, bodyBytes: 0, complete: false, keepAlive: false, afterGap: head.afterGap };
  }
  const r = into;
  r.method = head.method;
  r.target = target;
  r.version = head.version;
  r.headers = head.headers;
  r.headerCount = 0;
  r.packet = head.no;
  r.streamOffset = head.streamOffset;
  r.endPacket = null;
  r.bodyBytes = 0;
  r.complete = false;
  r.keepAlive = false;
  r.afterGap = head.afterGap;
  return r;
}

/** The response's facts, in `into` when given (an object nothing else refers to). */
function responseFacts(head: HttpHead, into: HttpResponseFacts | null): HttpResponseFacts {
  if (!into) {
    return { status: head.status, reason: head.reason, version: head.version, headers: head.headers, headerCount: 0, packet: head.no, streamOffset: head.streamOffset, endPacket: null, bodyBytes: 0, framing: 'none', complete: false, keepAlive: false, afterGap: head.afterGap };
  }
  const r = into;
  r.status = head.status;
  r.reason = head.reason;
  r.version = head.version;
  r.headers = head.headers;
  r.headerCount = 0;
  r.packet = head.no;
  r.streamOffset = head.streamOffset;
  r.endPacket = null;
  r.bodyBytes = 0;
  r.framing = 'none';
  r.complete = false;
  r.keepAlive = false;
  r.afterGap = head.afterGap;
  return r;
}

/** A gap parsing never got past is lost. */
function markLost(gap: GapFact | null): void {
  if (gap && gap.outcome === 'ignored') gap.outcome = 'lost';
}

function startsWithHttpVersion(b: Uint8Array, off: number, end: number): boolean {
  if (end - off < 5) return false;
  return b[off] === 0x48 && b[off + 1] === 0x54 && b[off + 2] === 0x54 && b[off + 3] === 0x50 && b[off + 4] === 0x2f;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** "permessage-deflate; client_max_window_bits, x-foo" -> ["permessage-deflate", "x-foo"] */
function extensionNames(value: string | null): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((e) => e.split(';')[0].trim().toLowerCase())
    .filter((e) => e.length > 0);
}
