import type { TlsClosingFacts, TlsFacts } from './tls.js';
// AppFacts: what the dissectors learned about one flow's application bytes. Plain data, JSON-ready;
// rules/ and report/ read it. Packet numbers (`packet`, `no`) are 1-based; times are µs.
import type { Dir } from '../flow/sink.js';
import type { DissectErrorCode, HttpErrorCode, WsErrorCode } from './status.js';

/** Header names kept (lower case). Everything else is counted, not kept. */
export const SELECTED_HEADERS = [
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-accept',
  'content-length',
  'transfer-encoding',
  'user-agent',
  'x-forwarded-for',
  'via',
  'server',
  'location',
  'content-type',
  'keep-alive',
  'expect',
  // Their scheme alone ("NTLM", "Basic", "Negotiate"): credentials and challenges are not kept.
  'authorization',
  'www-authenticate',
] as const;
export type SelectedHeaderName = (typeof SELECTED_HEADERS)[number];
/** Repeated headers are joined with ", " (RFC 9110 5.3); obs-folded lines with one space. */
export type SelectedHeaders = Partial<Record<SelectedHeaderName, string>>;

export type AppProtocol = 'http' | 'websocket' | 'tunnel' | 'tls' | 'unknown';

/** How a response body is delimited (RFC 9112 6.3). */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'close';

export interface HttpRequestFacts {
  method: string;
  target: string;
  version: string;
  headers: SelectedHeaders;
  headerCount: number;
  packet: number;
  streamOffset: number;
  endPacket: number | null;
  bodyBytes: number;
  /** Last byte seen; false when a gap, an error or the end of the stream cut it. */
  complete: boolean;
  /** What this message asks for: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "keep-alive". */
  keepAlive: boolean;
  /** First message after a gap in this direction: its pairing may be off. */
  afterGap: boolean;
}

export interface HttpResponseFacts {
  status: number;
  reason: string;
  version: string;
  headers: SelectedHeaders;
  headerCount: number;
  packet: number;
  streamOffset: number;
  endPacket: number | null;
  bodyBytes: number;
  framing: BodyFraming;
  complete: boolean;
  keepAlive: boolean;
  afterGap: boolean;
}

/** A 1xx other than 101 (100 Continue, 103 Early Hints) before the final response. */
export interface HttpInterimFacts {
  status: number;
  reason: string;
  packet: number;
  at: number;
}

export type CloseAfter = 'request' | 'request-partial' | 'response' | 'response-partial';

export interface HttpExchangeFacts {
  request: HttpRequestFacts | null;
  response: HttpResponseFacts | null;
  interim: HttpInterimFacts[];
  timing: {
    requestAt: number | null;
    requestEndAt: number | null;
    requestEndPacket: number | null;
    responseAt: number | null;
    responseEndAt: number | null;
    responseEndPacket: number | null;
    /** First response byte minus last request byte, in ms. */
    thinkMs: number | null;
  };
  /** Set on the exchange in progress when TCP first closed (FIN or RST from either side). */
  closeAfter: CloseAfter | null;
  /** Present when the request asked "Expect: 100-continue" (RFC 9110 10.1.1) before a body. */
  expectContinue?: ExpectContinueFacts;
  closedBy: 'client' | 'server' | null;
  closeHow: 'fin' | 'rst' | null;
  /** From the last byte of the message named by closeAfter to the close, in ms. */
  closeAfterMs: number | null;
}

/** When a request that asked for "100 Continue" ended its head and began its body. */
export interface ExpectContinueFacts {
  headEndPacket: number;
  headEndAt: number;
  /** The first body byte; null while none came. */
  bodyPacket: number | null;
  bodyAt: number | null;
}

/** Answers that began at or after their request's last byte, and those that took the slow-server floor or more. */
export interface HttpTurnCounts {
  answered: number;
  slow: number;
}

export interface WsFrameCounts {
  text: number;
  binary: number;
  ping: number;
  pong: number;
  close: number;
  continuation: number;
  /** Reserved opcodes. */
  invalid: number;
  /** Frames with RSV1 under permessage-deflate. */
  compressed: number;
  payloadBytes: number;
}

export interface WsErrorFact {
  code: WsErrorCode;
  message: string;
  dir: Dir;
  streamOffset: number;
  packet: number;
}

export interface WsCloseFacts {
  initiator: 'client' | 'server' | null;
  code: number | null;
  reason: string | null;
  answered: boolean;
  packet: number | null;
  answerCode: number | null;
  answerPacket: number | null;
}

/**
 * One side's pings the peer had not answered with a pong when the session ended (RFC 6455 5.5.2),
 * from the first after the peer's last pong.
 */
export interface WsUnansweredPing {
  packet: number;
  at: number;
  /** Pings in that run, and the last of them. */
  count: number;
  lastPacket: number;
  /** Data frames the peer sent after the first of them. */
  peerDataFrames: number;
  /** This side's own close frame after the first of them, if it sent one. */
  closePacket: number | null;
  closeAt: number | null;
}

export type WsTcpClose = 'after-close-frame' | 'without-close-frame' | 'before-close-frame';

export interface WebSocketFacts {
  requestPacket: number;
  requestVersion: string | null;
  key: string | null;
  offeredProtocols: string | null;
  offeredExtensions: string | null;
  /** Response status; null while unanswered or when the answer was not HTTP. */
  status: number | null;
  responsePacket: number | null;
  accept: string | null;
  acceptValid: boolean | null;
  subprotocol: string | null;
  extensions: string | null;
  /** permessage-deflate negotiated: RSV1 frames are compressed and not UTF-8 checked. */
  deflate: boolean;
  /** Both directions switched to frames after a 101. */
  upgraded: boolean;
  /** The upgrade request was answered by bytes that are not HTTP. */
  nonHttpResponse: DissectErrorFact | null;
  frames: { client: WsFrameCounts; server: WsFrameCounts };
  close: WsCloseFacts;
  /** Present only when a ping was left unanswered, by the side that sent it. */
  unansweredPings?: { client: WsUnansweredPing | null; server: WsUnansweredPing | null };
  tcpClose: WsTcpClose | null;
  errors: WsErrorFact[];
  errorsDropped: number;
}

/** A sticky HTTP parse error: the direction stops; bytes are up to 32 from `streamOffset`. */
export interface DissectErrorFact {
  code: HttpErrorCode;
  message: string;
  dir: Dir;
  streamOffset: number;
  packet: number;
  bytesText: string;
  bytesHex: string;
}

export interface GapFact {
  dir: Dir;
  streamOffset: number;
  length: number;
  packet: number;
  /** 'body': the gap fell inside a body of known length and parsing stayed in step. */
  outcome: 'body' | 'resynced' | 'lost' | 'ignored';
  /** Stream offset of the message parsing restarted at ('resynced'). */
  resyncOffset: number | null;
}

export interface AppEvent {
  no: number;
  dir: Dir;
  text: string;
}

export interface CloseFact {
  dir: Dir;
  how: 'fin' | 'rst';
  no: number;
  tsMicros: number;
}

export interface AppFacts {
  protocol: AppProtocol;
  /** Protocol named in the Upgrade header of an accepted 101 or 'CONNECT'. */
  upgradedTo: string | null;
  http: HttpExchangeFacts[];
  /** Exchanges beyond the limit are counted, not kept. */
  httpDropped: number;
  /**
   * Set when `http` keeps only the exchanges the rules and the default reports read (see
   * exchanges.ts): the turns of all the exchanges within the limit, counted.
   */
  httpTurns: HttpTurnCounts | null;
  websocket: WebSocketFacts | null;
  errors: DissectErrorFact[];
  gaps: GapFact[];
  events: AppEvent[];
  eventsDropped: number;
  closes: CloseFact[];
  bytes: { client: number; server: number };
  /** The TLS handshake as seen from outside, when the client's first bytes were a TLS record. */
  tls: TlsFacts | null;
  /** How each side ended that TLS session (not in the JSON report). */
  tlsClosing: TlsClosingFacts | null;
  /** A client request whose start line never ended (no exchange holds it): its first packet and the bytes that came. */
  unfinishedRequestLine: { packet: number; bytes: number } | null;
}

export type { DissectErrorCode };
