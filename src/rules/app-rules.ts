import { createHash } from 'node:crypto';
import type { AppFacts, CloseFact, HttpExchangeFacts, WebSocketFacts, WsUnansweredPing } from '../dissect/types.js';
import { hasHeaderToken } from '../dissect/http.js';
import type { FlowFacts, PacketRef, SideFacts } from './facts.js';
import { endedTooEarly, patienceFor, watchOf, whenWatchEnded } from './capture-end.js';
import { bytesText, fmtDuration, grouped, ms, plural } from './format.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';

// HTTP and WebSocket verdicts, from the dissectors' AppFacts. Each rule looks at one question
// (was the upgrade accepted, was the accept right, how did it end) so a failed session carries
// the one verdict that explains it, and a clean session only info verdicts.

/** "At once": a server close this soon after the 101, with no frame in between, is not an idle timeout. */
const FIN_AFTER_101_WINDOW_MICROS = 1_000_000;

/**
 * A WebSocket closed without a close frame after this long with no byte either way was most likely
 * closed by an idle timer: a proxy's timeout for a silent tunnel (nginx proxy_read_timeout, HAProxy
 * timeout tunnel) fires on silence, and is set as low as 1 s.
 */
const WS_IDLE_CLOSE_MICROS = 1_000_000;

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A pong or a close answer comes back within a round trip and the peer's scheduling: a side that
 * waited this long (and three round trips) before ending the session waited for one.
 */
const WS_ANSWER_PATIENCE_MICROS = 200_000;

/** RFC 6455 7.4.1 and the IANA registry; 1005/1006/1015 never go on the wire. */
export const WS_CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  1000: 'Normal Closure',
  1001: 'Going Away',
  1002: 'Protocol Error',
  1003: 'Unsupported Data',
  1005: 'No Status Received',
  1006: 'Abnormal Closure',
  1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation',
  1009: 'Message Too Big',
  1010: 'Mandatory Extension',
  1011: 'Internal Error',
  1012: 'Service Restart',
  1013: 'Try Again Later',
  1014: 'Bad Gateway',
  1015: 'TLS Handshake',
};

const WS_CLOSE_CODE_HINTS: Readonly<Record<number, string>> = {
  1001: 'The endpoint went away: a page navigated off, or the server is shutting down or restarting.',
  1002: 'The peer saw a frame that breaks RFC 6455 (a framing bug in one of the two implementations, or a proxy that mangles frames).',
  1003: 'The peer got a message type it does not accept (binary to a text-only endpoint, or the reverse).',
  1007: 'A text message or close reason was not valid UTF-8, or a message did not match what the peer expects.',
  1008: 'The peer refused a message on policy grounds: authentication expired, origin or rate-limit rules.',
  1009: 'A message exceeded the peer\'s size limit (ws maxPayload, nginx/proxy buffers): raise the limit or split the message.',
  1010: 'The client needed an extension the server did not negotiate.',
  1011: 'The server hit an unexpected condition while handling the session (an exception or a failing dependency): the close reason and the server log say which.',
  1012: 'The server is restarting: reconnect with backoff.',
  1013: 'The server is overloaded or rate limiting: reconnect later with backoff.',
  1014: 'A gateway or proxy got an invalid answer from the upstream server.',
};

/** Proxies and load balancers that answer 502/503/504 for their upstream, by Server header. */
const PROXY_SERVER = /nginx|openresty|envoy|haproxy|traefik|caddy|varnish|squid|cloudflare|awselb|elb|akamai|apache|istio|kong|tengine/i;

// ---- fact helpers ----

function wsOf(f: FlowFacts): WebSocketFacts | null {
  return f.app?.websocket ?? null;
}

/** The exchange that carried the WebSocket upgrade request. */
function upgradeExchange(app: AppFacts, ws: WebSocketFacts): HttpExchangeFacts | null {
  return app.http.find((ex) => ex.request?.packet === ws.requestPacket) ?? app.http[0] ?? null;
}

function firstCloseBy(app: AppFacts, dir: 0 | 1): CloseFact | null {
  return app.closes.find((c) => c.dir === dir) ?? null;
}

function firstClose(app: AppFacts): CloseFact | null {
  return app.closes[0] ?? null;
}

function requestLine(ex: HttpExchangeFacts): string {
  const r = ex.request!;
  return `${r.method} ${r.target} HTTP/${r.version}`;
}

function closeName(code: number | null): string {
  if (code === null) return 'no status code (1005)';
  const name = WS_CLOSE_CODE_NAMES[code];
  if (name) return `${code} (${name})`;
  if (code >= 4000 && code <= 4999) return `${code} (application-defined)`;
  if (code >= 3000 && code <= 3999) return `${code} (registered by a library or framework)`;
  return String(code);
}

/** Who a server is, for the sentence "the server (or a proxy)". */
function serverIdentity(ex: HttpExchangeFacts | null): { server: string | null; via: string | null; proxy: boolean } {
  const h = ex?.response?.headers ?? {};
  const server = h.server ?? null;
  const via = h.via ?? null;
  return { server, via, proxy: via !== null || (server !== null && PROXY_SERVER.test(server)) };
}

export function expectedWebSocketAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** True when the flow's server closed (FIN or RST) right after an accepted 101, before sending any frame. */
function serverClosedAfter101(f: FlowFacts): { close: CloseFact; delay: number; ex: HttpExchangeFacts } | null {
  const app = f.app;
  const ws = wsOf(f);
  if (!app || !ws || ws.status !== 101) return null;
  const ex = upgradeExchange(app, ws);
  const at = ex?.timing.responseEndAt ?? ex?.timing.responseAt ?? null;
  if (!ex || at === null) return null;
  const first = firstClose(app);
  if (!first || first.dir !== 1) return null;
  const sf = ws.frames.server;
  const serverFrames = sf.text + sf.binary + sf.ping + sf.pong + sf.close + sf.continuation + sf.invalid;
  if (serverFrames > 0) return null;
  const delay = first.tsMicros - at;
  if (delay < 0 || delay > FIN_AFTER_101_WINDOW_MICROS) return null;
  return { close: first, delay, ex };
}

const HTTP10_FIX =
  'A WebSocket upgrade needs HTTP/1.1: an HTTP/1.0 request means no keep-alive, so servers such as Swoole answer 101 and close at once. If a proxy sent it, make it speak HTTP/1.1 upstream: in nginx add `proxy_http_version 1.1;` next to `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";` (nginx speaks HTTP/1.0 to upstreams by default); check load balancer tiers that downgrade to HTTP/1.0 the same way.';

// ---- WebSocket rules ----

const wsUpgradeHttp10: FlowRule = {
  code: 'ws-upgrade-http10',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const app = f.app;
    const ws = wsOf(f);
    if (!app || !ws) return null;
    const ex = upgradeExchange(app, ws);
    if (!ex?.request || ex.request.version !== '1.0') return null;
    const via = ex.request.headers['x-forwarded-for'] ?? ex.request.headers.via ?? null;
    return {
      code: 'ws-upgrade-http10',
      severity: 'error',
      summary: `WebSocket upgrade request #${ex.request.packet} is HTTP/1.0 ("${requestLine(ex)}"): no keep-alive, so the server may close right after the 101${via ? `; it came through a proxy (${ex.request.headers.via ? 'Via' : 'X-Forwarded-For'}: ${via})` : ''}`,
      packets: [ex.request.packet],
      facts: {
        requestPacket: ex.request.packet,
        method: ex.request.method,
        target: ex.request.target,
        httpVersion: ex.request.version,
        connection: ex.request.headers.connection ?? null,
        forwardedFor: ex.request.headers['x-forwarded-for'] ?? null,
        via: ex.request.headers.via ?? null,
        status: ws.status,
      },
      hint: HTTP10_FIX,
    };
  },
};

const wsFinAfter101: FlowRule = {
  code: 'ws-fin-after-101',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const hit = serverClosedAfter101(f);
    if (!hit) return null;
    const { close, delay, ex } = hit;
    const version = ex.request?.version ?? null;
    const who = serverIdentity(ex);
    const what = close.how === 'fin' ? 'FIN' : 'RST';
    const cause =
      version === '1.0'
        ? `: the upgrade request was HTTP/1.0`
        : who.proxy
          ? `: ${who.server ?? 'the proxy'} relayed its upstream's close (look at the proxy-to-backend leg)`
          : '';
    const hint =
      version === '1.0'
        ? HTTP10_FIX
        : who.proxy
          ? `The upgrade itself was HTTP/${version ?? '1.1'}, so the close came from behind ${who.server ?? 'the proxy'}: its upstream accepted and closed at once. The usual cause is a proxy that speaks HTTP/1.0 upstream (nginx without \`proxy_http_version 1.1;\`, some load balancer tiers), so the backend sees no keep-alive; otherwise the backend closed on purpose (authentication, no handler for the path). Check the proxy-to-backend leg in a capture taken on the proxy.`
          : 'The server accepted the upgrade and closed at once: it has no WebSocket handler for this path, rejected the session after the handshake (authentication, origin, limits), or crashed. A proxy in front that speaks HTTP/1.0 upstream (nginx without `proxy_http_version 1.1;`) causes the same. Check the server log at this time.';
    return {
      code: 'ws-fin-after-101',
      severity: 'error',
      summary: `server ${what} ${fmtDuration(delay)} after 101 Switching Protocols (#${ex.response!.packet} -> ${what} #${close.no}), before any WebSocket frame${cause}`,
      packets: [ex.request?.packet ?? ex.response!.packet, ex.response!.packet, close.no],
      facts: {
        delayMs: ms(delay),
        closedBy: 'server',
        how: close.how,
        closePacket: close.no,
        responsePacket: ex.response!.packet,
        requestPacket: ex.request?.packet ?? null,
        requestHttpVersion: version,
        server: who.server,
        via: who.via,
        serverIsProxy: who.proxy,
      },
      hint,
    };
  },
};

function rejectionHint(status: number, proxy: boolean, server: string | null): string {
  const behind = proxy ? `${server ?? 'The proxy'} answered for its upstream: ` : '';
  if (status === 200 || (status >= 300 && status < 400))
    return `${behind}The server ignored the Upgrade header and served plain HTTP${status >= 300 ? ' (a redirect: WebSocket clients do not follow redirects; fix the URL, ws:// vs wss://, the trailing slash)' : ''}. Either the path is not a WebSocket endpoint, or a proxy dropped the hop-by-hop Upgrade/Connection headers: in nginx set \`proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";\`.`;
  if (status === 400) return `${behind}The server refused the handshake as malformed: a missing or rewritten Upgrade/Connection header (a proxy that strips them), a bad Sec-WebSocket-Key, or a framework rejecting the request (Socket.IO without its transport parameter, a missing subprotocol).`;
  if (status === 401 || status === 403) return `${behind}The server refused the upgrade: authentication (missing token or cookie) or an Origin check (allowed origins, CORS/CSRF settings) failed.`;
  if (status === 404) return `${behind}Nothing handles WebSocket on that path: check the URL path, the route or the proxy location block that should forward it, and that no proxy in front drops the Upgrade header (the request then reaches an ordinary HTTP handler).`;
  if (status === 426) return `${behind}Upgrade Required: the server wants another Sec-WebSocket-Version (13) or TLS (wss://).`;
  if (status >= 500) return `${behind}The server${proxy ? ' or its upstream' : ''} failed while handling the upgrade: ${status === 502 ? 'the upstream refused, reset or closed the connection' : status === 503 ? 'no healthy upstream, or overloaded' : status === 504 ? 'the upstream did not answer in time' : 'check its log'}.`;
  return `${behind}The server does not accept a WebSocket upgrade here: the path does not speak WebSocket, or a proxy swallowed the Upgrade header.`;
}

const wsUpgradeRejected: FlowRule = {
  code: 'ws-upgrade-rejected',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const app = f.app;
    const ws = wsOf(f);
    if (!app || !ws || ws.status === null || ws.status === 101) return null;
    const ex = upgradeExchange(app, ws);
    const resp = ex?.response;
    if (!ex || !resp) return null;
    const who = serverIdentity(ex);
    const waited = ex.timing.requestEndAt !== null && ex.timing.responseAt !== null ? ex.timing.responseAt - ex.timing.requestEndAt : null;
    return {
      code: 'ws-upgrade-rejected',
      severity: 'error',
      summary: `Unexpected response code: ${resp.status} (${resp.status} ${resp.reason} #${resp.packet} to the WebSocket upgrade "${requestLine(ex)}" #${ex.request!.packet}${who.server ? `, Server: ${who.server}` : ''}${waited !== null && resp.status >= 500 ? `, after ${fmtDuration(waited)}` : ''})`,
      packets: [ex.request!.packet, resp.packet],
      facts: {
        status: resp.status,
        reason: resp.reason,
        method: ex.request!.method,
        target: ex.request!.target,
        requestPacket: ex.request!.packet,
        responsePacket: resp.packet,
        server: who.server,
        via: who.via,
        serverIsProxy: who.proxy,
        location: resp.headers.location ?? null,
        waitedMs: waited === null ? null : ms(waited),
      },
      hint: rejectionHint(resp.status, who.proxy, who.server),
    };
  },
};

/** Names a protocol from its first bytes, for "another protocol on that port". */
export function guessProtocol(text: string, hex: string): string | null {
  if (text.startsWith('SSH-')) return 'SSH';
  if (/^16030[0-4]/.test(hex)) return 'TLS';
  if (/^1503/.test(hex)) return 'TLS (alert)';
  if (text.startsWith('220')) return 'SMTP or FTP';
  if (text.startsWith('+OK')) return 'POP3';
  if (text.startsWith('* OK')) return 'IMAP';
  if (text.startsWith('-ERR') || text.startsWith('+PONG')) return 'Redis';
  if (text.startsWith('RFB ')) return 'VNC';
  if (/^4a00000a/.test(hex) || /^[0-9a-f]{6}000a/.test(hex)) return 'MySQL';
  if (text.startsWith('PRI * HTTP/2') || /^000012040000000000/.test(hex)) return 'HTTP/2';
  return null;
}

const wsNonHttpResponse: FlowRule = {
  code: 'ws-non-http-response',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const app = f.app;
    const ws = wsOf(f);
    const err = ws?.nonHttpResponse;
    if (!app || !ws || !err) return null;
    const guess = guessProtocol(err.bytesText, err.bytesHex);
    return {
      code: 'ws-non-http-response',
      severity: 'error',
      summary: `WebSocket upgrade #${ws.requestPacket} answered with bytes that are not HTTP (#${err.packet}: "${err.bytesText}")${guess ? `: looks like ${guess}` : ''}`,
      packets: [ws.requestPacket, err.packet],
      facts: { requestPacket: ws.requestPacket, responsePacket: err.packet, firstBytes: err.bytesText, firstBytesHex: err.bytesHex, guessedProtocol: guess },
      hint: `Another protocol answers on ${f.server}${guess ? ` (${guess})` : ''}: the client has the wrong port, or the port is shared or forwarded to another service. Browsers report ERR_INVALID_HTTP_RESPONSE. ${guess === 'TLS' ? 'A TLS server answered a plain request: use wss://. ' : ''}Check the URL's port and what listens on it (ss -ltnp).`,
    };
  },
};

const wsBadAccept: FlowRule = {
  code: 'ws-bad-accept',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const ws = wsOf(f);
    if (!ws || ws.status !== 101) return null;
    const err = ws.errors.find((e) => e.code === 'WS_HANDSHAKE_BAD_ACCEPT' || e.code === 'WS_HANDSHAKE_MISSING_ACCEPT');
    if (!err) return null;
    const expected = ws.key ? expectedWebSocketAccept(ws.key) : null;
    const missing = err.code === 'WS_HANDSHAKE_MISSING_ACCEPT';
    const clientClose = f.app ? firstCloseBy(f.app, 0) : null;
    return {
      code: 'ws-bad-accept',
      severity: 'error',
      summary: missing
        ? `101 #${ws.responsePacket} has no Sec-WebSocket-Accept: the client must fail the connection`
        : `Sec-WebSocket-Accept in 101 #${ws.responsePacket} does not match the key: got ${ws.accept}, expected ${expected} for key ${ws.key}${clientClose ? `; the client closed (${clientClose.how.toUpperCase()} #${clientClose.no})` : ''}`,
      packets: [ws.requestPacket, ws.responsePacket ?? err.packet],
      facts: { key: ws.key, accept: ws.accept, expectedAccept: expected, requestPacket: ws.requestPacket, responsePacket: ws.responsePacket, clientClosePacket: clientClose?.no ?? null },
      hint: "Browsers say \"Error during WebSocket handshake: Incorrect 'Sec-WebSocket-Accept' header value\" and ws says \"Invalid Sec-WebSocket-Accept header\". The server computes the accept wrongly (a hand-written handshake: wrong GUID, hex instead of base64 of the SHA-1, a trimmed or re-encoded key), or something between rewrote the key or replayed a cached 101. Use a maintained WebSocket library on the server and check that no proxy or cache touches the handshake headers.",
    };
  },
};

const wsProtocolError: FlowRule = {
  code: 'ws-protocol-error',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const ws = wsOf(f);
    if (!ws || !ws.upgraded) return null;
    const err = ws.errors.find((e) => e.code !== 'WS_HANDSHAKE_BAD_ACCEPT' && e.code !== 'WS_HANDSHAKE_MISSING_ACCEPT');
    if (!err) return null;
    const who = err.dir === 0 ? 'client' : 'server';
    const more = ws.errors.length - 1 + ws.errorsDropped;
    return {
      code: 'ws-protocol-error',
      severity: 'error',
      summary: `WebSocket ${who} broke the protocol at #${err.packet}: ${err.message} [${err.code}]${more > 0 ? ` (+${plural(more, 'more error')})` : ''}`,
      packets: [err.packet],
      facts: { code: err.code, message: err.message, by: who, packet: err.packet, streamOffset: err.streamOffset, errors: ws.errors.length + ws.errorsDropped },
      hint: `The ${who}'s WebSocket implementation (or a proxy that rewrites the stream) produced a frame RFC 6455 forbids; the peer must fail the connection with close code 1002 (1007 for bad UTF-8). Update or fix that implementation.`,
    };
  },
};

/** How a side ended a WebSocket session: its close frame, or its FIN or RST. */
interface WsEnding {
  packet: number;
  at: number;
  how: 'close-frame' | 'fin' | 'rst';
}

/**
 * The peer's TCP acknowledged every byte `by` sent, and the capture holds every byte the peer sent
 * (so a frame the peer sent cannot hide in bytes it missed), and nothing held the peer's answer
 * back: `by` never shut its window nor had the peer fill it, and the peer's last bytes were
 * acknowledged (an answer queued behind data a slow reader had not taken, or still on the way,
 * is no answer withheld). What an unanswered ping or close needs before the peer is said not to have answered.
 */
function peerGotAllAndSentAllSeen(f: FlowFacts, by: 'client' | 'server'): boolean {
  if (f.visibility.seen !== 'both' || f.syns.length === 0 || f.synAcks.length === 0) return false;
  const own = by === 'client' ? f.analysis?.client : f.analysis?.server;
  const peer = by === 'client' ? f.analysis?.server : f.analysis?.client;
  const peerSide = by === 'client' ? f.serverSide : f.clientSide;
  const peerDir = by === 'client' ? 1 : 0;
  if (!own || !peer || own.lastSegmentUnacked !== 0) return false;
  if (own.zeroWindow > 0 || peer.windowFull > 0 || peer.lastSegmentUnacked !== 0) return false;
  return peerSide.missedBytes === 0 && bytesNotCaptured(peerSide) === 0 && !f.app!.gaps.some((g) => g.dir === peerDir);
}

/** The peer sent a packet after `at`: it was alive then, so its silence is not a pong lost on the way. */
function peerSpokeAfter(f: FlowFacts, by: 'client' | 'server', at: number): boolean {
  return (by === 'client' ? f.serverSide : f.clientSide).lastTs > at;
}

/** A side's pings the peer never answered with a pong, and how that side ended the session after waiting for one. */
interface PingGiveUp {
  by: 'client' | 'server';
  pings: WsUnansweredPing;
  end: WsEnding;
  waited: number;
}

/**
 * The side that pinged, got no pong however long it waited (at least WS_ANSWER_PATIENCE_MICROS and
 * three round trips), and then ended the session itself before the peer did, with a FIN or an RST
 * or a close frame with a code other than 1000, 1001 or none: a heartbeat that found the peer
 * unresponsive. Only when the ping reached the peer (its
 * TCP acknowledged it) and the capture holds every byte the peer sent.
 */
function pingGiveUp(f: FlowFacts): PingGiveUp | null {
  const app = f.app;
  const ws = wsOf(f);
  if (!app || !ws?.upgraded || !ws.unansweredPings) return null;
  for (const by of ['server', 'client'] as const) {
    const pings = ws.unansweredPings[by];
    if (!pings) continue;
    const dir = by === 'client' ? 0 : 1;
    const tcpClose = firstCloseBy(app, dir);
    let end: WsEnding | null = pings.closePacket !== null ? { packet: pings.closePacket, at: pings.closeAt!, how: 'close-frame' } : null;
    if (tcpClose && (!end || tcpClose.tsMicros < end.at)) end = { packet: tcpClose.no, at: tcpClose.tsMicros, how: tcpClose.how };
    if (!end) continue;
    // A normal close (1000, 1001, no code) is the application finishing, not a heartbeat giving up:
    // a tunnel that pings a peer that never pongs, and closes when its traffic ends.
    if (end.how === 'close-frame' && isOrdinaryCode(ws.close.code)) continue;
    // A peer that ended the session first (its close frame, FIN or RST) was leaving, not ignoring the ping.
    const peerClose = firstCloseBy(app, dir === 0 ? 1 : 0);
    if (peerClose && peerClose.tsMicros <= end.at) continue;
    if (ws.close.initiator !== null && ws.close.initiator !== by && ws.close.packet! < end.packet) continue;
    const waited = end.at - pings.at;
    if (waited < patienceFor(f, WS_ANSWER_PATIENCE_MICROS)) continue;
    if (!peerGotAllAndSentAllSeen(f, by)) continue;
    return { by, pings, end, waited };
  }
  return null;
}

function endingText(end: WsEnding): string {
  return end.how === 'close-frame' ? `sent a close frame (#${end.packet})` : end.how === 'fin' ? `closed the connection (FIN #${end.packet}) without a close frame` : `reset the connection (RST #${end.packet})`;
}

const wsPingUnanswered: FlowRule = {
  code: 'ws-ping-unanswered',
  needs: SHOWS.WEBSOCKET,
  needsBothSides: true,
  evaluate(f) {
    const hit = pingGiveUp(f);
    if (!hit) return null;
    const { by, pings, end, waited } = hit;
    const peer = by === 'client' ? 'server' : 'client';
    const which = pings.count === 1 ? `ping #${pings.packet}` : `${pings.count} pings (#${pings.packet} to #${pings.lastPacket})`;
    const running = pings.peerDataFrames > 0;
    const provenSilent = peerSpokeAfter(f, by, end.at);
    return {
      code: 'ws-ping-unanswered',
      severity: 'warning',
      summary: `WebSocket ${which} from the ${by} got no pong: the ${peer}'s TCP acknowledged ${pings.count === 1 ? 'it' : 'them'}${running ? ` and the ${peer} sent ${plural(pings.peerDataFrames, 'data frame')} after, but no pong` : ''}; the ${by} waited ${fmtDuration(waited)}, then ${endingText(end)}`,
      packets: [pings.packet, end.packet],
      facts: {
        pingedBy: by,
        pingPacket: pings.packet,
        pings: pings.count,
        lastPingPacket: pings.lastPacket,
        peerDataFramesAfter: pings.peerDataFrames,
        waitedMs: ms(waited),
        endedWith: end.how,
        endPacket: end.packet,
      },
      hint: `A WebSocket endpoint must answer a ping with a pong as soon as it can (RFC 6455 5.5.2, 5.5.3). The ping reached the ${peer} (its TCP acknowledged it), and ${
        running
          ? `its application was running (it sent data after the ping), so its WebSocket code does not answer pings: a hand-written ${peer}, or a library that hands pings to the application, which must send the pong itself`
          : `no pong came: the ${peer}'s application was hung or blocked (a busy event loop, a long synchronous task), or its WebSocket code does not answer pings (a hand-written ${peer}, or a library that hands pings to the application, which must send the pong itself)`
      }${provenSilent ? '' : `, or its pong was lost on the way (nothing the ${peer} sent after shows which)`}. The ${by}'s heartbeat then counted the ${peer} dead and ended the session, as a heartbeat should. If the ${peer} is a proxy (this may be its leg to ${peer === 'client' ? 'the backend' : 'its upstream'}), the pong is missing from its other leg too: look there. Make the ${peer} answer pings (a library that does it by itself, or a ping handler that sends the pong), or find what blocked it.`,
    };
  },
};

/** The close frame the peer never answered, and the initiator's TCP close after waiting for the answer. */
interface CloseGiveUp {
  by: 'client' | 'server';
  closePacket: number;
  tcpClose: CloseFact;
  waited: number;
}

/**
 * A side sent a close frame and nothing after it, the peer's TCP acknowledged it and the peer sent
 * no close frame of its own (RFC 6455 5.5.1: it must, as soon as practical), and the side closed
 * TCP itself after waiting at least WS_ANSWER_PATIENCE_MICROS (and three round trips), before the peer
 * closed: a close timeout that fired on a peer that did not answer.
 */
function closeGiveUp(f: FlowFacts): CloseGiveUp | null {
  const app = f.app;
  const ws = wsOf(f);
  const c = ws?.close;
  if (!app || !ws?.upgraded || !c || c.initiator === null || c.answered || c.packet === null) return null;
  const by = c.initiator;
  const own = by === 'client' ? f.clientSide : f.serverSide;
  // The close frame was the initiator's last data: its time is that packet's.
  if (own.lastData?.no !== c.packet) return null;
  const tcpClose = firstClose(app);
  if (!tcpClose || tcpClose.dir !== (by === 'client' ? 0 : 1)) return null;
  const waited = tcpClose.tsMicros - own.lastData.ts;
  if (waited < patienceFor(f, WS_ANSWER_PATIENCE_MICROS)) return null;
  if (!peerGotAllAndSentAllSeen(f, by)) return null;
  return { by, closePacket: c.packet, tcpClose, waited };
}

const wsCloseUnanswered: FlowRule = {
  code: 'ws-close-unanswered',
  needs: SHOWS.WEBSOCKET,
  needsBothSides: true,
  evaluate(f) {
    const hit = closeGiveUp(f);
    if (!hit) return null;
    // An unanswered ping came first: that verdict says why the peer answered nothing.
    if (pingGiveUp(f)) return null;
    const { by, closePacket, tcpClose, waited } = hit;
    const peer = by === 'client' ? 'server' : 'client';
    const c = wsOf(f)!.close;
    return {
      code: 'ws-close-unanswered',
      severity: 'warning',
      summary: `WebSocket close frame #${closePacket} from the ${by}, ${closeName(c.code)}, got no close frame back: the ${peer}'s TCP acknowledged it; the ${by} waited ${fmtDuration(waited)}, then ${tcpClose.how === 'fin' ? 'closed' : 'reset'} the connection (${tcpClose.how === 'fin' ? 'FIN' : 'RST'} #${tcpClose.no})`,
      packets: [closePacket, tcpClose.no],
      facts: { closedBy: by, closePacket, code: c.code, waitedMs: ms(waited), tcpClosePacket: tcpClose.no, tcpCloseHow: tcpClose.how },
      hint: `A WebSocket endpoint that receives a close frame must send one back as soon as it can (RFC 6455 5.5.1), and the close handshake ends only then (7.1.1). The ${peer} got this close (its TCP acknowledged it) and never answered: its application was hung or had stopped reading the socket, or its WebSocket code does not answer a close (a hand-written ${peer}). The ${by} waited for the answer (its close timeout) and then dropped the connection, so every close costs that wait, and the ${peer}, if it was still running, reports 1006 (Abnormal Closure). If the ${peer} is a proxy (this may be its leg to ${peer === 'client' ? 'the backend' : 'its upstream'}), look at its other leg. Make the ${peer} answer the close (a maintained WebSocket library does), or find what blocked it.`,
    };
  },
};

const wsNoCloseFrame: FlowRule = {
  code: 'ws-no-close-frame',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const app = f.app;
    const ws = wsOf(f);
    if (!app || !ws || !ws.upgraded || ws.tcpClose !== 'without-close-frame') return null;
    // Those verdicts already say why no close handshake happened.
    if (serverClosedAfter101(f) || ws.acceptValid === false) return null;
    const close = firstClose(app);
    if (!close) return null;
    // The side that closed had pinged and got no pong: ws-ping-unanswered says why it closed.
    if (pingGiveUp(f)?.end.packet === close.no) return null;
    const who = close.dir === 0 ? 'client' : 'server';
    const what = close.how === 'fin' ? 'closed (FIN' : 'reset (RST';
    const frames = ws.frames.client.text + ws.frames.client.binary + ws.frames.server.text + ws.frames.server.binary;
    // The silence before the close, from the last byte either way (ACKs carry none): what an idle timer counts.
    const lastData = [f.clientSide.lastData, f.serverSide.lastData].filter((d): d is PacketRef => d !== null && d.ts <= close.tsMicros).sort((a, b) => b.ts - a.ts)[0];
    const silence = lastData ? close.tsMicros - lastData.ts : null;
    const afterSilence = silence !== null && silence >= WS_IDLE_CLOSE_MICROS;
    return {
      code: 'ws-no-close-frame',
      severity: 'warning',
      summary: `WebSocket ended without a close frame: the ${who} ${what} #${close.no}) after ${plural(frames, 'data frame')}${afterSilence ? `, ${fmtDuration(silence)} after the last byte either way (#${lastData.no})` : ''}; the peer reports 1006 (Abnormal Closure)`,
      packets: [close.no],
      facts: { closedBy: who, how: close.how, closePacket: close.no, dataFrames: frames, ...(afterSilence ? { silentMs: ms(silence) } : {}) },
      hint:
        who === 'server'
          ? 'The server (or a proxy in between) dropped the connection without the close handshake: a crash or restart, an idle timeout (nginx proxy_read_timeout defaults to 60 s: send pings), or a load balancer cutting long connections.'
          : afterSilence
            ? `The client dropped a session that had carried nothing either way for ${fmtDuration(silence)}: most likely an idle timeout. When the client is a proxy (this may be its leg to the backend), that is its timeout for a silent tunnel (nginx proxy_read_timeout, HAProxy timeout tunnel), and it closes its own client's leg at the same moment; otherwise the client application's own idle timeout. Send pings more often than that, or raise the timeout.`
            : 'The client dropped the connection without the close handshake: the page or process went away, the network changed, or the code called terminate() instead of close().',
    };
  },
};

/**
 * A close that ends a healthy session: 1000, 1001, or no status at all (RFC 6455 7.1.5: a close
 * frame may carry no code, which the peer reports as 1005). The answer counts too.
 */
function isOrdinaryClose(c: WebSocketFacts['close']): boolean {
  return isOrdinaryCode(c.code) && (!c.answered || isOrdinaryCode(c.answerCode));
}

function isOrdinaryCode(code: number | null): boolean {
  return code === null || code === 1000 || code === 1001;
}

const wsClose: FlowRule = {
  code: 'ws-close',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const ws = wsOf(f);
    if (!ws || !ws.upgraded || ws.close.packet === null) return null;
    const c = ws.close;
    const normal = isOrdinaryClose(c);
    const answer = c.answered ? `answered #${c.answerPacket}${c.answerCode !== c.code ? ` with ${closeName(c.answerCode)}` : ''}` : 'never answered';
    return {
      code: 'ws-close',
      severity: normal ? 'info' : 'warning',
      summary: `WebSocket closed by the ${c.initiator} with ${closeName(c.code)}${c.reason ? ` "${c.reason}"` : ''} (close #${c.packet}, ${answer})`,
      packets: c.answerPacket !== null ? [c.packet!, c.answerPacket] : [c.packet!],
      facts: { code: c.code, codeName: c.code !== null ? (WS_CLOSE_CODE_NAMES[c.code] ?? null) : null, reason: c.reason, initiator: c.initiator, answered: c.answered, answerCode: c.answerCode, closePacket: c.packet, answerPacket: c.answerPacket },
      hint: normal ? '' : closeHint(c) ?? `The ${c.initiator} ended the session with this code: its meaning is defined by the application (4000-4999) or library (3000-3999); the reason text says more.`,
    };
  },
};

/** The hint for the code that made a close abnormal: the initiator's, else the answer's. */
function closeHint(c: WebSocketFacts['close']): string | undefined {
  const code = c.code !== null && c.code !== 1000 && c.code !== 1001 ? c.code : c.answerCode;
  return code !== null ? WS_CLOSE_CODE_HINTS[code] : undefined;
}

const wsOk: FlowRule = {
  code: 'ws-ok',
  needs: SHOWS.WEBSOCKET,
  evaluate(f) {
    const ws = wsOf(f);
    if (!ws || !ws.upgraded || ws.acceptValid !== true || ws.errors.length > 0 || ws.errorsDropped > 0) return null;
    if (!ws.close.answered || ws.tcpClose !== 'after-close-frame' || f.clientSide.rst || f.serverSide.rst) return null;
    // A session closed with 1011 or an application code is not OK, however clean the handshake.
    if (!isOrdinaryClose(ws.close)) return null;
    const fc = ws.frames.client;
    const fs = ws.frames.server;
    return {
      code: 'ws-ok',
      severity: 'info',
      summary: `WebSocket protocol OK: upgrade #${ws.requestPacket} -> 101 #${ws.responsePacket}, ${plural(fc.text + fc.binary, 'data frame')} from the client and ${fs.text + fs.binary} from the server, close handshake ${closeName(ws.close.code)} #${ws.close.packet}/#${ws.close.answerPacket}`,
      packets: [ws.requestPacket, ws.responsePacket!, ws.close.packet!, ws.close.answerPacket!],
      facts: {
        subprotocol: ws.subprotocol,
        extensions: ws.extensions,
        deflate: ws.deflate,
        clientFrames: fc.text + fc.binary + fc.ping + fc.pong + fc.close + fc.continuation,
        serverFrames: fs.text + fs.binary + fs.ping + fs.pong + fs.close + fs.continuation,
        payloadBytes: { client: fc.payloadBytes, server: fs.payloadBytes },
        closeCode: ws.close.code,
      },
      hint: '',
    };
  },
};

// ---- HTTP rules ----

/** The exchange that is a rejected WebSocket upgrade: ws-upgrade-rejected speaks for it. */
function isRejectedUpgrade(f: FlowFacts, ex: HttpExchangeFacts): boolean {
  const ws = wsOf(f);
  return ws !== null && ws.status !== null && ws.status !== 101 && ex.request?.packet === ws.requestPacket;
}

/** How far past a whole-second setting a proxy's timeout may be seen to fire and still be named as that setting. */
const LATE_TIMER_SHARE = 0.2;

/** Names the proxy timeout a 504 most likely hit, from how long the request waited. */
function proxyTimeoutName(server: string | null, waitedMicros: number): string {
  const s = waitedMicros / 1e6;
  // A timer fires at its setting or after it, never before: the setting is the wait rounded down.
  // The wait also holds the request's way to the proxy and the proxy's scheduling, which a busy
  // host stretches by a tenth or more; settings are mostly whole seconds, so a wait up to a fifth
  // past one is taken for it (1.12 s: about 1 s).
  const whole = Math.floor(s);
  const rounded = s >= 10 || (whole >= 1 && s - whole <= whole * LATE_TIMER_SHARE) ? whole : Math.floor(s * 10) / 10;
  const isNginx = server !== null && /nginx|openresty|tengine/i.test(server);
  const knob = isNginx ? 'proxy_read_timeout' : 'the proxy\'s upstream read timeout';
  if (isNginx && Math.abs(s - 60) < 2) return `${knob} at its default of 60 s (or proxy_connect_timeout, also 60 s, if the upstream never accepted)`;
  return `${knob}, set to about ${rounded} s${isNginx ? ' (or proxy_connect_timeout if the upstream never accepted the connection)' : ''}`;
}

function httpErrorHint(status: number, proxy: boolean, server: string | null, waited: number | null): string {
  if (status === 504) {
    return proxy && waited !== null
      ? `The proxy gave up waiting for its upstream after ${fmtDuration(waited)}: that is ${proxyTimeoutName(server, waited)}. The backend is too slow or hung for this request (look at the proxy-to-backend leg: it shows the request unanswered). Make the backend answer faster, or raise the timeout if the wait is expected.`
      : 'A gateway timed out waiting for its upstream: the backend is slow or hung. Check the backend and the gateway\'s timeouts.';
  }
  if (status === 502) return 'The proxy got no valid answer from its upstream: the backend refused or reset the connection, closed it before answering (a crash, a keep-alive race), or sent something that is not HTTP. The proxy error log names which ("connect() failed", "upstream prematurely closed connection").';
  if (status === 503) return 'Service unavailable: no healthy upstream, maintenance mode, or the server is shedding load (rate or connection limits). A Retry-After header may say when to retry.';
  if (status >= 500) return 'The server failed while handling the request: its log at this time has the error.';
  if (status === 401 || status === 403) return 'The server refused the request: missing or expired credentials, or an access rule (IP allow-list, Origin check).';
  if (status === 404) return 'Nothing serves that path on this server: check the URL and the routes (or the proxy location that forwards it).';
  if (status === 408) return 'The server timed out waiting for the rest of the request: a slow client, or a request body that never finished.';
  if (status === 413) return 'The request body exceeds the server\'s limit (nginx client_max_body_size, default 1 MB).';
  if (status === 429) return 'Rate limited: slow down and honour Retry-After.';
  return 'The server rejected the request: the status and reason say why; its log has details.';
}

/**
 * A 401 that is a step of authentication, not a failure: the client's next request on the
 * connection asks for the same resource again with credentials, and this one either had none (a
 * browser's first request to a Basic or Digest realm) or got the server's token of a handshake
 * (NTLM and Negotiate always take one). A 401 to credentials already sent stays a failure, and so
 * does one the client did not answer. How the request with credentials fared is its own exchange's.
 */
function challengeAnswered(exchanges: HttpExchangeFacts[], i: number): boolean {
  const ex = exchanges[i];
  const next = exchanges[i + 1]?.request;
  if (ex.response?.status !== 401 || !ex.request || !next || next.headers.authorization === undefined) return false;
  if (next.method !== ex.request.method || next.target !== ex.request.target) return false;
  return ex.request.headers.authorization === undefined || (ex.response.headers['www-authenticate']?.includes('(token)') ?? false);
}

/** An exchange answered with a 4xx or 5xx (the failure list is built only for a connection that has one). */
function isErrorStatus(ex: HttpExchangeFacts): boolean {
  return ex.request !== null && ex.response !== null && ex.response.status >= 400;
}

const httpError: FlowRule = {
  code: 'http-error',
  evaluate(f) {
    const app = f.app;
    if (!app) return null;
    if (!app.http.some(isErrorStatus)) return null;
    const failed = app.http.filter((ex, i) => ex.request && ex.response && ex.response.status >= 400 && !isRejectedUpgrade(f, ex) && !challengeAnswered(app.http, i));
    if (failed.length === 0) return null;
    const worst = failed.find((ex) => ex.response!.status >= 500) ?? failed[0];
    const req = worst.request!;
    const resp = worst.response!;
    const who = serverIdentity(worst);
    const waited = worst.timing.requestEndAt !== null && worst.timing.responseAt !== null ? worst.timing.responseAt - worst.timing.requestEndAt : null;
    const gateway = resp.status === 502 || resp.status === 503 || resp.status === 504;
    const waitText = gateway && waited !== null ? ` after the request waited ${fmtDuration(waited)}` : '';
    const timeoutText = resp.status === 504 && who.proxy && waited !== null ? ` (${proxyTimeoutName(who.server, waited).split(',')[0]})` : '';
    // The request carried credentials that answered the server's challenge: the login went through its steps.
    const at = app.http.indexOf(worst);
    const challenge = at > 0 && challengeAnswered(app.http, at - 1) ? app.http[at - 1].response! : null;
    const credentials = challenge ? `, with ${req.headers.authorization} credentials answering the 401 challenge #${challenge.packet}` : '';
    return {
      code: 'http-error',
      severity: resp.status >= 500 ? 'error' : 'warning',
      summary: `HTTP ${resp.status} ${resp.reason} to "${req.method} ${req.target}" (request #${req.packet}${credentials}, response #${resp.packet}${who.server ? `, Server: ${who.server}` : ''})${waitText}${timeoutText}${failed.length > 1 ? `; ${plural(failed.length, 'error response')} on this connection` : ''}`,
      packets: [req.packet, resp.packet],
      facts: {
        status: resp.status,
        reason: resp.reason,
        method: req.method,
        target: req.target,
        host: req.headers.host ?? null,
        requestPacket: req.packet,
        responsePacket: resp.packet,
        server: who.server,
        via: who.via,
        fromProxy: who.proxy,
        waitedMs: waited === null ? null : ms(waited),
        errorResponses: failed.length,
        statuses: failed.map((ex) => ex.response!.status),
        challengePacket: challenge?.packet ?? null,
      },
      hint:
        challenge && (resp.status === 401 || resp.status === 403)
          ? `The client answered the server's challenge with ${req.headers.authorization} credentials and the server still refused: they are wrong or expired, the account lacks the right to this resource, or the login failed at the server (its security log says which).`
          : httpErrorHint(resp.status, who.proxy, who.server, waited),
    };
  },
};

/**
 * The HTTP request on `f` that never got a response, with how long it waited; null when every
 * request was answered (or the answer was not HTTP: ws-non-http-response speaks for that).
 * capture-ended and proxy-client-gave-up ask it too.
 */
export function unansweredHttpRequest(f: FlowFacts, watchedUntil: number): { ex: HttpExchangeFacts; waited: number; endedBy: CloseFact | null } | null {
  const app = f.app;
  if (!app || app.protocol !== 'http') return null;
  if (app.errors.some((e) => e.dir === 1)) return null;
  const ex = app.http.find((x) => x.request && x.request.complete && !x.response);
  if (!ex || ex.timing.requestEndAt === null) return null;
  const after = ex.timing.requestEndAt;
  const endedBy = app.closes.find((c) => c.tsMicros >= after) ?? null;
  const end = endedBy ? endedBy.tsMicros : Math.max(f.end, watchedUntil);
  return { ex, waited: end - after, endedBy };
}

/** A TCP stack sends unacknowledged bytes again within this long (Linux's first RTO is 1 s at most, 200 ms at least). */
const RETRANSMIT_DUE_MICROS = 3_000_000;

/**
 * The client's request, sent from packet `requestPacket` on, got no ACK in the capture, yet the client
 * did not send it again in the `waited` microseconds since: its TCP got the server's ACK, which the
 * capture missed. What else the server sent, the capture may have missed too: its silence proves nothing.
 */
function serverAckUnseen(f: FlowFacts, requestPacket: number, waited: number): boolean {
  const u = f.analysis?.unanswered;
  return !!u && u.ackedPacket === null && u.requestPacket >= requestPacket && f.clientSide.lastData?.no === u.requestPacket && waited >= RETRANSMIT_DUE_MICROS;
}

/**
 * The server's TCP acknowledged none of the request's last bytes (its last packet `requestEndPacket`)
 * and the client sent them again: the request never reached the server as far as the capture shows,
 * so nothing shows a server that took it (retransmission tells why it went unanswered).
 */
function requestResentUnacked(f: FlowFacts, requestEndPacket: number): boolean {
  const u = f.analysis?.unanswered;
  return !!u && u.ackedPacket === null && u.requestPacket === requestEndPacket && f.analysis!.client.retransmissionsUnanswered > 0;
}

/** An HTTP request sent on a connection the server had already closed (see requestAfterServerClose). */
export interface RequestAfterClose {
  ex: HttpExchangeFacts;
  fin: PacketRef;
  /** How the capture proves the server closed first: its FIN came before the request, or crossed it without acknowledging any of it. */
  proof: 'order' | 'ack';
  /** The latest answered exchange before it: the connection was kept alive for reuse. */
  previous: HttpExchangeFacts | null;
}

/**
 * The first HTTP request the server had closed the connection before receiving: complete, and its
 * FIN is in the capture before the request, or after it, and acknowledges none of the request's
 * bytes in either case (the two crossed). Nothing on that connection could answer it, whatever the
 * server's health: a client reusing a kept-alive connection as the server's idle timeout closed it
 * (the keep-alive race), or sending on a connection the server closed before its first request.
 * Null when an earlier request went unanswered: the server then had a request it did not answer,
 * which no-response tells.
 */
export function requestAfterServerClose(f: FlowFacts): RequestAfterClose | null {
  const app = f.app;
  const fin = f.serverSide.fin;
  if (!app || app.protocol !== 'http' || !fin) return null;
  const acked = f.serverSide.finAckedBytes;
  let previous: HttpExchangeFacts | null = null;
  for (const ex of app.http) {
    const req = ex.request;
    if (req && !ex.response) {
      // A request pipelined before the previous answer came: that answer may have announced the close.
      if (!req.complete || (previous && previous.response!.packet > req.packet)) return null;
      // The FIN acknowledges bytes of the request: the server had it (a capture that missed the first copy shows it later).
      if (acked !== null && acked > req.streamOffset) return null;
      return req.packet > fin.no ? { ex, fin, proof: 'order', previous } : acked !== null ? { ex, fin, proof: 'ack', previous } : null;
    }
    if (ex.response) previous = ex;
  }
  return null;
}

const requestAfterClose: FlowRule = {
  code: 'request-after-close',
  needs: SHOWS.HTTP,
  needsBothSides: true,
  evaluate(f) {
    const hit = requestAfterServerClose(f);
    if (!hit) return null;
    const { ex, fin, proof, previous } = hit;
    const req = ex.request!;
    const requestAt = ex.timing.requestAt ?? fin.ts;
    const rst = f.serverSide.rst && f.serverSide.rst.ts >= requestAt ? f.serverSide.rst : null;
    const answered = previous?.response ?? null;
    // The response before announced the close (Connection: close, or HTTP/1.0 without keep-alive):
    // the client should not have sent another request (RFC 9112 9.6).
    const announced = answered !== null && !answered.keepAlive;
    const idle = answered && f.serverSide.lastData && f.serverSide.lastData.ts <= fin.ts ? fin.ts - f.serverSide.lastData.ts : null;
    const closed =
      proof === 'order'
        ? `${fmtDuration(requestAt - fin.ts)} after the server had closed the connection (FIN #${fin.no}${announced ? `, as response #${answered.packet} announced` : idle !== null ? `, idle ${fmtDuration(idle)} after response #${answered!.packet}` : ''})`
        : `as the server closed the connection: its FIN #${fin.no} acknowledges none of the request, so the two crossed${idle !== null ? ` (idle ${fmtDuration(idle)} after response #${answered!.packet})` : ''}`;
    const what = announced ? 'a request on a connection the server said it would close' : previous ? 'the keep-alive race' : 'a connection closed before its first request';
    return {
      code: 'request-after-close',
      severity: 'error',
      summary: `HTTP request "${req.method} ${req.target}" #${req.packet} was sent ${closed}${rst ? `; the server's TCP reset it (RST #${rst.no})` : ''}: ${what}`,
      packets: [fin.no, req.packet, ...(rst ? [rst.no] : [])],
      facts: {
        method: req.method,
        target: req.target,
        requestPacket: req.packet,
        finPacket: fin.no,
        proof,
        sinceFinMs: proof === 'order' ? ms(requestAt - fin.ts) : null,
        resetPacket: rst?.no ?? null,
        previousResponsePacket: answered?.packet ?? null,
        idleBeforeFinMs: idle !== null ? ms(idle) : null,
        closeAnnounced: announced,
      },
      hint: announced
        ? `The server's response #${answered.packet} said the connection would close (${answered.version === '1.0' ? 'HTTP/1.0 without keep-alive' : 'Connection: close'}), and it did; the request came on the connection after it. A client must not send one once it has read that response (RFC 9112 9.6): a client or client-library bug, unless the request left before that response reached the client (a capture away from the client can show them in either order). Either way, it belongs on a new connection, where a client should retry it.`
        : previous
          ? `The server closed a keep-alive connection it had kept idle${idle !== null ? ` for ${fmtDuration(idle)} (its keep-alive timeout, or a proxy's)` : ''}, and the client, whose pool still held it as reusable, sent its next request on it: the request failed at the client (ECONNRESET, "socket hang up", EPIPE) though the server is healthy. Make the client's idle timeout shorter than the server's (a Node server behind a load balancer: keepAliveTimeout above the balancer's idle timeout, such as AWS ALB's 60 s; an nginx upstream pool: keepalive_timeout below the backend's), and retry idempotent requests that fail on a reused connection.`
          : `The server closed the connection before any request came: a timeout for the first request (nginx client_header_timeout, 60 s by default; Node's headersTimeout and requestTimeout) on a connection a client or a pool opened ahead of use and kept idle too long, or a server at its connection limit closing what it accepted. The client then sent on the closed connection and the request failed. Open connections closer to their use, or retry on a new one.`,
    };
  },
};

/**
 * The server waited at least this long for the rest of a request before closing: a timeout, not a
 * refusal of what had come, which follows the bytes at once.
 */
const REQUEST_TIMEOUT_FLOOR_MICROS = 200_000;

const STALL_SERVER_CLOSED_HINT = `The client stopped sending in the middle of its request. The server had every byte it sent (its FIN acknowledges them all), waited, and closed: its timeout for the rest of the request (nginx client_header_timeout and client_body_timeout, 60 s by default, log 408 and send nothing; HAProxy's timeout http-request and Node's headersTimeout and requestTimeout answer 408; Apache's RequestReadTimeout). Look at the client: a link that stalled or died mid-upload, a Content-Length larger than the body it sent, a proxy holding the rest, or a deliberately slow client (slowloris).`;
const STALL_CLIENT_CLOSED_HINT = `The client stopped sending in the middle of its request, then gave up on it and closed the connection itself. The server had every byte it sent (its TCP acknowledged them) and was waiting for the rest: it could not answer a request that never ended. Look at the client: where its request comes from (an upload source or pipe that stalled, a proxy holding the rest), a Content-Length larger than the body it had, or its own timeout firing while it was still sending. A server that should not wait this long for the rest needs a shorter timeout for it (nginx client_body_timeout, HAProxy timeout http-request, Node's requestTimeout).`;

/** Bytes a side's own sequence numbers span (a later segment, its FIN or RST) that the capture does not hold. */
function bytesNotCaptured(side: SideFacts): number {
  return Math.max(0, side.seqBytes - side.bytes);
}

/** The client's last HTTP request, stopped part way: its first packet, how far it got, and facts for a verdict. */
interface UnfinishedRequest {
  packet: number;
  what: string;
  facts: Record<string, unknown>;
}

/**
 * The client's last HTTP request when it stopped part way (in its request line, its headers or its
 * body) and the capture holds every byte the client sent: a byte it missed (a drop, a snap length)
 * leaves a request that only looks unfinished. Null too for a client waiting for "100 Continue"
 * before its body (RFC 9110 10.1.1): it is doing as told, and the server owes it an answer.
 */
export function unfinishedRequest(f: FlowFacts): UnfinishedRequest | null {
  const app = f.app;
  if (!app || app.protocol !== 'http') return null;
  // The client's own sequence numbers (a FIN, an RST) past the bytes captured are bytes missed too.
  if (f.clientSide.missedBytes > 0 || bytesNotCaptured(f.clientSide) > 0 || app.gaps.some((g) => g.dir === 0)) return null;
  const line = app.unfinishedRequestLine;
  if (line) return { packet: line.packet, what: `HTTP request #${line.packet} stopped after ${bytesText(line.bytes)} of its request line`, facts: { stage: 'request-line', requestPacket: line.packet, bytes: line.bytes } };
  const last = app.http.length > 0 ? app.http[app.http.length - 1] : null;
  const req = last?.request;
  if (!req || req.complete || last.response || req.afterGap) return null;
  // headerCount is set once the head ends: a request with a body has at least a Content-Length or Transfer-Encoding.
  const headComplete = req.headerCount > 0;
  if (headComplete && req.bodyBytes === 0 && hasHeaderToken(req.headers.expect, '100-continue')) return null;
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const announced = chunked ? null : contentLength(req.headers['content-length']);
  const what = `HTTP request "${req.method} ${req.target}" #${req.packet} stopped ${
    !headComplete ? 'in its headers' : announced !== null ? `after ${grouped(req.bodyBytes)} of the ${bytesText(announced)} of body its Content-Length announced` : `after ${bytesText(req.bodyBytes)} of its chunked body`
  }`;
  return { packet: req.packet, what, facts: { stage: headComplete ? 'body' : 'headers', requestPacket: req.packet, method: req.method, target: req.target, bodyBytes: req.bodyBytes, contentLength: announced } };
}

/** How a request the client left unfinished ended: who closed, and with which packet. */
interface StallEnd {
  by: 'server' | 'client';
  close: PacketRef;
  how: 'fin' | 'rst';
}

/**
 * Who closed after the client's last byte, when the capture shows the server had every byte the
 * client sent: the server, with a FIN that acknowledges them all, or the client, after the server's
 * TCP had acknowledged its last byte. Null otherwise (the rest may have been on its way).
 */
function stallEnd(f: FlowFacts, lastData: PacketRef): StallEnd | null {
  const fin = f.serverSide.fin;
  const { fin: clientFin, rst: clientRst } = f.clientSide;
  const clientClose = clientFin && (!clientRst || clientFin.ts <= clientRst.ts) ? clientFin : clientRst;
  if (fin && lastData.ts <= fin.ts && !(clientClose && clientClose.ts < fin.ts)) {
    const acked = f.serverSide.finAckedBytes;
    return acked !== null && acked >= f.clientSide.seqBytes ? { by: 'server', close: fin, how: 'fin' } : null;
  }
  if (!clientClose || clientClose.ts < lastData.ts || (fin && fin.ts <= clientClose.ts) || (f.serverSide.rst && f.serverSide.rst.ts <= clientClose.ts)) return null;
  const u = f.analysis?.unanswered;
  const lastAcked = u && u.requestPacket === lastData.no && u.ackedPacket !== null && u.ackedTs !== null && u.ackedTs <= clientClose.ts;
  return lastAcked ? { by: 'client', close: clientClose, how: clientClose === clientFin ? 'fin' : 'rst' } : null;
}

/**
 * The client's last HTTP request stopped part way (in its request line, its headers or its body),
 * the server had every byte the client had sent, and nothing more came for at least
 * REQUEST_TIMEOUT_FLOOR_MICROS before a close: the server's, with no answer (its timeout for the
 * rest of the request), or the client's own (it gave up on a request it never finished, while the
 * server waited for the rest).
 */
const requestStalled: FlowRule = {
  code: 'request-stalled',
  needs: SHOWS.HTTP,
  needsBothSides: true,
  evaluate(f) {
    const app = f.app;
    const lastData = f.clientSide.lastData;
    if (!app || app.protocol !== 'http' || !lastData) return null;
    const end = stallEnd(f, lastData);
    if (!end || end.close.ts - lastData.ts < REQUEST_TIMEOUT_FLOOR_MICROS) return null;
    const close = end.close;
    if ((f.analysis?.server.zeroWindow ?? 0) > 0) return null;
    const unfinished = unfinishedRequest(f);
    if (!unfinished) return null;
    const { packet, what, facts } = unfinished;
    // A 408 Request Timeout is the server saying so (Node, HAProxy); it pairs with no request when
    // the request line never ended. Anything else the server sent once the request began (an answer
    // the dissector could not pair, an error in another protocol) is not silence.
    const timeoutEx = app.http.find((x) => x.request === null && x.response?.status === 408 && x.response.packet > lastData.no) ?? null;
    const timeout = timeoutEx?.response ?? null;
    // A client that closed after a 408 closed on the server's word: the server ended it, not the client.
    if (timeout && end.by === 'client') return null;
    // The answer to a request pipelined ahead of this one may follow it; a server that said it
    // would close after that answer closed by choice, not for want of the rest.
    const answered = lastCompleteAnswer(app.http);
    if (answered && !answered.response!.keepAlive) return null;
    const answeredThrough = answered ? answered.response!.endPacket! : 0;
    const lastServerData = f.serverSide.lastData;
    if (lastServerData && lastServerData.no > packet && lastServerData.no > answeredThrough && (timeout === null || lastServerData.no > (timeout.endPacket ?? timeout.packet))) return null;
    // The server waits for the rest of a request once it has answered the ones before it.
    const gaveUpAt = timeoutEx?.timing.responseAt ?? end.close.ts;
    const answeredLater = answered !== null && answered.timing.responseEndAt! > lastData.ts;
    const waited = gaveUpAt - (answeredLater ? answered.timing.responseEndAt! : lastData.ts);
    if (waited < REQUEST_TIMEOUT_FLOOR_MICROS) return null;
    const silent = gaveUpAt - lastData.ts;
    const closeRef = `${end.how === 'fin' ? 'FIN' : 'RST'} #${close.no}`;
    const ending =
      end.by === 'client'
        ? `the client ${end.how === 'fin' ? 'closed' : 'reset'} the connection itself (${closeRef}) while the server waited for the rest`
        : `the server ${timeout ? `answered 408 ${timeout.reason} (#${timeout.packet}) and closed the connection (${closeRef})` : `closed the connection (${closeRef}) without an answer`}`;
    return {
      code: 'request-stalled',
      severity: 'warning',
      summary: `${what}: nothing more came from the client for ${fmtDuration(silent)} (last byte #${lastData.no})${answeredLater ? `, ${fmtDuration(waited)} of it after the server had answered the request before it (#${answered.response!.packet})` : ''}, then ${ending}`,
      packets: [packet, lastData.no, close.no],
      facts: {
        ...facts,
        lastClientPacket: lastData.no,
        closedBy: end.by,
        closePacket: close.no,
        waitedMs: ms(silent),
        ...(answeredLater ? { answeredBeforePacket: answered.response!.packet, waitedAfterAnswerMs: ms(waited) } : {}),
      },
      hint: end.by === 'client' ? STALL_CLIENT_CLOSED_HINT : STALL_SERVER_CLOSED_HINT,
    };
  },
};

/** The exchange whose request had the last complete answer, null when none did. */
function lastCompleteAnswer(exchanges: HttpExchangeFacts[]): HttpExchangeFacts | null {
  for (let i = exchanges.length - 1; i >= 0; i--) {
    const x = exchanges[i];
    if (x.request && x.response?.complete && x.response.endPacket !== null && x.timing.responseEndAt !== null) return x;
  }
  return null;
}

const httpNoResponse: FlowRule = {
  code: 'no-response',
  needs: SHOWS.HTTP,
  needsBothSides: true,
  evaluate(f, ctx) {
    const watch = watchOf(f, ctx);
    const hit = unansweredHttpRequest(f, watch.ts);
    if (!hit) return null;
    // A request sent on a 4-tuple reset earlier and answered by an RST: no connection to answer on (rst-by-server says so).
    if (f.afterReset && f.serverSide.rst) return null;
    const { ex, waited, endedBy } = hit;
    const req = ex.request!;
    // Sent after the server had closed: request-after-close says why nothing answered.
    if (requestAfterServerClose(f)?.ex === ex) return null;
    if (endedBy === null && ex.timing.requestEndAt !== null && endedTooEarly(f, ctx, ex.timing.requestEndAt)) return null;
    // The answer may be in bytes the capture missed: the server's sequence numbers moved on, or a
    // gap in what it sent after the request. Not when the client closed without acknowledging them.
    const lost = answerLostOnTheWay(f);
    if (f.analysis?.unanswered?.unseenAnswerPacket != null && !lost) return null;
    if (f.app?.gaps.some((g) => g.dir === 1 && g.packet >= req.packet)) return null;
    if (endedBy === null && serverAckUnseen(f, req.packet, waited)) return null;
    if (req.endPacket !== null && requestResentUnacked(f, req.endPacket)) return null;
    const who = endedBy ? (endedBy.dir === 0 ? 'client' : 'server') : null;
    // A client that closed sooner than an answer could be expected (a second, and three round
    // trips) ended the exchange itself: nothing shows the server would not have answered.
    const clientLeftSoon = who === 'client' && waited < patienceFor(f);
    const ending = endedBy
      ? `the ${who} ${endedBy.how === 'fin' ? 'closed (FIN' : 'reset (RST'} #${endedBy.no}) after ${fmtDuration(waited)}${clientLeftSoon ? ', sooner than an answer could be expected' : ''}`
      : `still unanswered ${fmtDuration(waited)} later ${whenWatchEnded(f, watch)}`;
    const acked = f.serverSide.packets > 0 && f.handshakeAck !== null;
    return {
      code: 'no-response',
      severity: clientLeftSoon ? 'warning' : 'error',
      summary: `HTTP request "${req.method} ${req.target}"${req.headers['sec-websocket-key'] !== undefined ? ' (a WebSocket upgrade)' : ''} #${req.packet} got no response: ${ending}${
        lost
          ? `; the server had answered (its sequence numbers show ${grouped(lost.unseenBytes)} bytes sent by #${lost.revealedBy}) but the client acknowledged none of them: most likely lost on the way`
          : f.serverSide.bytes === 0 && f.serverSide.missedBytes === 0
            ? '; the server sent no application byte'
            : ''
      }`,
      packets: endedBy ? [req.packet, endedBy.no] : [req.packet],
      facts: {
        method: req.method,
        target: req.target,
        httpVersion: req.version,
        host: req.headers.host ?? null,
        requestPacket: req.packet,
        waitedMs: ms(waited),
        endedBy: who,
        endHow: endedBy?.how ?? null,
        endPacket: endedBy?.no ?? null,
        serverBytes: f.serverSide.bytes,
        serverPackets: f.serverSide.packets,
        connected: acked,
      },
      hint: lost
        ? `The server answered, but the answer reached neither the client nor this capture: it was lost between them. Full-size segments lost while small packets pass are most often a path MTU black hole (a tunnel or VPN with a smaller MTU, and the ICMP "fragmentation needed" that would tell the server filtered on the way); otherwise loss on the path. A capture at the server shows the answer leaving and being resent (the retransmission verdict names a black hole there).`
        : clientLeftSoon
        ? `The client closed ${fmtDuration(waited)} after its request, before a server could be expected to answer (an answer takes a round trip and the server's work): the client ended the exchange, not the server. A client with a very short timeout, one that sends and does not wait (a probe, a scanner, an exploit attempt), or one cancelled by its application. Look at the client's side.`
        : who === 'client'
          ? `The client gave up after ${fmtDuration(waited)}: its timeout is about that long. If the server is a proxy (nginx), it logs this request as 499 (the client closed the connection before the response). If the client is a proxy (this may be the proxy-to-backend leg), that is its upstream read timeout (nginx proxy_read_timeout) and it answered its own client with 504. The server accepted the request and never answered: it is hung, deadlocked, or waiting on something slow (a database, a lock). Check the server at that time.`
          : who === 'server'
            ? // The keep-alive race needs an idle connection: not the first request of a new one.
              `The server closed the connection without answering: it crashed while handling the request, or rejected it silently (${f.app!.http.indexOf(ex) === 0 ? 'a request size limit, a filter or a web application firewall refusing it' : 'a request size limit, a keep-alive race where it closed an idle connection just as the request arrived'}).`
            : 'The server took the request and never answered while the capture ran: it is hung or very slow. Capture longer, and check the server and what it waits on.',
    };
  },
};

/**
 * The server's sequence numbers show an answer the capture never held, and they show it only after
 * the client had closed acknowledging none of it: the answer did not reach the client either (or
 * crossed its close). Null otherwise, as when the client's ACKs show it got bytes the capture missed.
 */
function answerLostOnTheWay(f: FlowFacts): { revealedBy: number; unseenBytes: number } | null {
  const u = f.analysis?.unanswered;
  if (!u || u.unseenAnswerPacket === null || u.gaveUpPacket === null || u.unseenAnswerPacket < u.gaveUpPacket) return null;
  // A client that resets after its FIN answers bytes that reached its closed socket: the answer arrived.
  const rst = f.clientSide.rst;
  if (rst && rst.ts > u.gaveUpTs!) return null;
  const unseenBytes = bytesNotCaptured(f.serverSide);
  return f.visibility.seen === 'both' && unseenBytes > 0 ? { revealedBy: u.unseenAnswerPacket, unseenBytes } : null;
}

/** "100000" or a repeated "100000, 100000" (RFC 9110 8.6); null when absent or not one number. */
function contentLength(value: string | undefined): number | null {
  if (value === undefined) return null;
  const parts = value.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+$/.test(p) && p === parts[0])) return null;
  return Number(parts[0]);
}

/**
 * The close that cut a response: the server's FIN or RST, or a client RST (the client gave up);
 * a client FIN is a half-close that leaves the server free to finish.
 */
function closeCutting(app: AppFacts, after: number): CloseFact | null {
  return app.closes.find((c) => c.tsMicros >= after && (c.dir === 1 || c.how === 'rst')) ?? null;
}

/**
 * A response whose body stopped short of what its framing announced (Content-Length, or chunked
 * without the last chunk) when TCP closed. Said only when the capture holds every byte the server
 * sent up to the close: no gap, no segment the capture missed, and the close itself seen.
 */
/** The last exchange with a response, if any. */
function lastAnswered(exchanges: HttpExchangeFacts[]): HttpExchangeFacts | undefined {
  for (let i = exchanges.length - 1; i >= 0; i--) if (exchanges[i].response !== null) return exchanges[i];
  return undefined;
}

/**
 * The HTTP exchange that was part way through a request or a response when TCP first closed, or
 * null. A body delimited by the close is not cut by the server's close: that close ends it.
 */
export function exchangeCutByClose(f: FlowFacts): HttpExchangeFacts | null {
  if (f.app?.protocol !== 'http') return null;
  const ex = f.app.http.find((x) => x.closeAfter === 'request-partial' || x.closeAfter === 'response-partial') ?? null;
  if (ex?.closeAfter === 'response-partial' && ex.response!.framing === 'close' && ex.closedBy === 'server') return null;
  return ex;
}

/**
 * The client's FIN that ended a wait for the rest of a response: the first close, after
 * patienceFor(f) or more without a server byte, and acknowledging exactly the server bytes the
 * capture holds (so what the capture shows of the body is what the client had: a capture on the
 * server's side may hold bytes that never reached the client). Null otherwise.
 */
function clientGaveUpWaiting(f: FlowFacts, app: AppFacts, after: number): CloseFact | null {
  const first = app.closes.find((c) => c.tsMicros >= after) ?? null;
  const lastServerData = f.serverSide.lastData;
  if (!first || first.dir !== 0 || first.how !== 'fin' || !lastServerData || lastServerData.ts > first.tsMicros) return null;
  if (first.tsMicros - lastServerData.ts < patienceFor(f)) return null;
  const held = f.serverSide.bytes - (f.analysis?.server.bytesResent ?? 0);
  return f.clientSide.finAckedBytes === held ? first : null;
}

const responseCutShort: FlowRule = {
  code: 'response-cut-short',
  needs: SHOWS.HTTP,
  evaluate(f) {
    const app = f.app;
    if (!app || app.protocol !== 'http') return null;
    const ex = lastAnswered(app.http);
    const resp = ex?.response;
    if (!ex || !resp || resp.complete || (resp.framing !== 'length' && resp.framing !== 'chunked')) return null;
    if (app.gaps.some((g) => g.dir === 1) || app.errors.some((e) => e.dir === 1)) return null;
    // The client's FIN acknowledging only bytes the capture holds shows what it had when it gave up,
    // whatever the server sent that never arrived; otherwise the capture must hold every server byte.
    const gaveUp = clientGaveUpWaiting(f, app, ex.timing.responseAt ?? 0);
    const unseenServerBytes = f.serverSide.missedBytes > 0 || (f.analysis !== null && (f.analysis.lostSegment > 0 || f.analysis.ackLostSegment > 0));
    if (unseenServerBytes && !gaveUp) return null;
    const close = closeCutting(app, ex.timing.responseAt ?? 0) ?? gaveUp;
    if (!close) return null;
    const waited = close === gaveUp ? close.tsMicros - f.serverSide.lastData!.ts : null;
    const announced = resp.framing === 'length' ? contentLength(resp.headers['content-length']) : null;
    if (resp.framing === 'length' && (announced === null || resp.bodyBytes >= announced)) return null;
    // The client's FIN came first and the server sent nothing after it: the server closed because
    // the client did, so the client ended the transfer.
    const clientFin = app.closes.find((c) => c.dir === 0 && c.how === 'fin' && c.tsMicros >= (ex.timing.responseAt ?? 0) && c.tsMicros <= close.tsMicros);
    const followedClient = close.dir === 1 && clientFin !== undefined && (f.serverSide.lastData?.ts ?? 0) <= clientFin.tsMicros;
    const by = close.dir === 1 && !followedClient ? 'server' : 'client';
    const what = close.how === 'rst' ? 'RST' : 'FIN';
    const then = followedClient
      ? `FIN from the client (#${clientFin.no}), then ${what} from the server (#${close.no}) after it`
      : waited !== null
        ? `FIN from the client (#${close.no}) after waiting ${fmtDuration(waited)} for the rest`
        : `${what} from the ${by} (#${close.no})`;
    const got = announced !== null ? `${grouped(resp.bodyBytes)} of ${grouped(announced)} body bytes` : `${plural(resp.bodyBytes, 'body byte')} of a chunked body, without the last chunk`;
    const req = ex.request;
    return {
      code: 'response-cut-short',
      severity: by === 'server' ? 'error' : 'warning',
      summary: `response cut short: ${got}, then ${then}; ${resp.status} ${resp.reason} #${resp.packet}${req ? ` to "${req.method} ${req.target}" #${req.packet}` : ''}`,
      packets: [...(req ? [req.packet] : []), resp.packet, close.no],
      facts: {
        status: resp.status,
        framing: resp.framing,
        bodyBytes: resp.bodyBytes,
        contentLength: announced,
        missingBytes: announced !== null ? announced - resp.bodyBytes : null,
        closedBy: by,
        how: close.how,
        closePacket: close.no,
        responsePacket: resp.packet,
        requestPacket: req?.packet ?? null,
        ...(waited !== null ? { waitedMs: ms(waited) } : {}),
      },
      hint:
        waited !== null
          ? `The client waited ${fmtDuration(waited)} for the rest of the body and gave up (its read timeout): nothing more had reached it. The server stalled while writing, or its bytes were lost on the way${unseenServerBytes ? ' (the server\'s sequence numbers show bytes it sent that never arrived: see the retransmission verdict)' : ''}. Check the server at that time and the path between the two.`
          : by === 'server'
          ? `The server (or a proxy in front of it) ended the connection in the middle of the body: the client sees a truncated download (curl: "transfer closed with ${announced !== null ? `${grouped(announced - resp.bodyBytes)} bytes remaining to read` : 'outstanding read data remaining'}", browsers: ERR_CONTENT_LENGTH_MISMATCH or ERR_INCOMPLETE_CHUNKED_ENCODING). The application crashed or was killed while writing, hit a write timeout (nginx send_timeout, proxy_read_timeout mid-body), or a proxy gave up on a slow upstream. Check the server and proxy logs at that time.`
          : `The client ${followedClient ? 'closed its side' : 'reset the connection'} before the body was complete${followedClient ? ', and the server closed when it saw that' : ''}: the user cancelled, the client timed out reading, or it had read all it wanted. Look at the client's timeout and whether it meant to stop.`,
    };
  },
};

/** A request that waited for a "100 Continue" that never came, and how long. */
interface ExpectWait {
  ex: HttpExchangeFacts;
  waited: number;
}

/** No waits (most flows): shared, never written. */
const NO_WAITS: ExpectWait[] = Object.freeze([]) as unknown as ExpectWait[];

/**
 * The requests that asked for "100 Continue" (RFC 9110 10.1.1) and held their body until the
 * client's own timeout let it go: no 100 came, nor a final answer, before the body, nor any other
 * server byte the capture could have missed, and the client waited WS_ANSWER_PATIENCE_MICROS (and
 * three round trips) or more. Nothing is said when the client resent bytes (its head may have been
 * lost, and the server never had it) or the capture lacks bytes of either side.
 */
function expectWaits(f: FlowFacts): ExpectWait[] {
  const app = f.app;
  if (!app || app.protocol !== 'http' || f.visibility.seen !== 'both') return NO_WAITS;
  if (!app.http.some((x) => x.expectContinue?.bodyAt != null)) return NO_WAITS;
  if (app.gaps.length > 0 || app.errors.some((e) => e.dir === 1)) return NO_WAITS;
  if (f.clientSide.missedBytes > 0 || f.serverSide.missedBytes > 0 || bytesNotCaptured(f.serverSide) > 0) return NO_WAITS;
  if ((f.analysis?.client.retransmission ?? 1) > 0) return NO_WAITS;
  const patience = patienceFor(f, WS_ANSWER_PATIENCE_MICROS);
  const waits: ExpectWait[] = [];
  for (const ex of app.http) {
    const expect = ex.expectContinue;
    if (!expect || expect.bodyPacket === null || expect.bodyAt === null) continue;
    const waited = expect.bodyAt - expect.headEndAt;
    if (waited < patience) continue;
    // Any server byte in between (a 100, another 1xx, a final answer, an earlier request's answer) is not silence.
    const between = (no: number) => no > expect.headEndPacket && no < expect.bodyPacket!;
    if (app.http.some((x) => (x.response && between(x.response.packet)) || x.interim.some((i) => between(i.packet)))) continue;
    waits.push({ ex, waited });
  }
  return waits;
}

const expectContinueUnanswered: FlowRule = {
  code: 'expect-continue-unanswered',
  needs: SHOWS.HTTP,
  needsBothSides: true,
  evaluate(f) {
    const waits = expectWaits(f);
    if (waits.length === 0) return null;
    const { ex, waited } = waits[0];
    const req = ex.request!;
    const expect = ex.expectContinue!;
    const resp = ex.response;
    const answerAfterBody = resp && ex.timing.responseAt !== null ? ex.timing.responseAt - expect.bodyAt! : null;
    // A 100 that came after the body: the server answers Expect, too slowly for the client's timer.
    const late = ex.interim.find((i) => i.status === 100 && i.packet > expect.bodyPacket!) ?? null;
    const who = serverIdentity(ex);
    return {
      code: 'expect-continue-unanswered',
      severity: 'warning',
      summary: `HTTP request "${req.method} ${req.target}" #${req.packet} sent "Expect: 100-continue" and held its body, but no 100 Continue came${late ? ' in time' : ''}: the client waited ${fmtDuration(waited)}, then sent the body anyway (#${expect.bodyPacket})${
        late ? `; the 100 Continue came ${fmtDuration(late.at - expect.headEndAt)} after the head (#${late.packet})` : ''
      }${resp && answerAfterBody !== null ? `; the answer, ${resp.status} ${resp.reason} (#${resp.packet}), came ${fmtDuration(answerAfterBody)} after the body` : ''}${
        waits.length > 1 ? `; ${plural(waits.length - 1, 'other request')} on this connection waited the same way` : ''
      }`,
      packets: [req.packet, expect.bodyPacket!, ...(resp ? [resp.packet] : [])],
      facts: {
        method: req.method,
        target: req.target,
        requestPacket: req.packet,
        headEndPacket: expect.headEndPacket,
        bodyPacket: expect.bodyPacket,
        waitedMs: ms(waited),
        responsePacket: resp?.packet ?? null,
        status: resp?.status ?? null,
        server: who.server,
        requestsWaiting: waits.length,
        lateContinuePacket: late?.packet ?? null,
      },
      hint: late
        ? `The client announced its body with "Expect: 100-continue" (RFC 9110 10.1.1) and held it until the server answered "100 Continue" or a final status. The server does answer Expect, but its 100 came after the client's own timer had run out (curl: 1 s by default, --expect100-timeout; Go: Transport.ExpectContinueTimeout; .NET: Expect100ContinueTimeout), so every such request pays that wait: the server takes long to decide whether to take the body (an authentication or quota check, a backend or a proxy's upstream it asks first). Make that decision faster, raise the client's timeout above it, or have the client not ask: curl -H 'Expect:'.`
        : `The client announced its body with "Expect: 100-continue" (RFC 9110 10.1.1) and held it until the server answered "100 Continue" or a final status. No answer came, so the client sent the body when its own timer ran out (curl: 1 s by default, --expect100-timeout; Go: Transport.ExpectContinueTimeout; .NET: Expect100ContinueTimeout): every such request pays that wait. The server ignores Expect (a hand-written server, a framework that reads the body without sending 100 first; Node's http server sends it by itself unless a 'checkContinue' listener is set, which must call res.writeContinue()); a proxy that passes Expect on (HAProxy) leaves the answer to its backend: look at the proxy-to-backend leg. Make the server answer 100 Continue, or have the client not ask: curl -H 'Expect:' (libcurl: an "Expect:" line in CURLOPT_HTTPHEADER), or a shorter timeout.`,
    };
  },
};

/** Application-layer rules, in the order they are evaluated. */
export const APP_RULES: FlowRule[] = [
  wsNonHttpResponse,
  wsUpgradeRejected,
  wsUpgradeHttp10,
  wsBadAccept,
  wsFinAfter101,
  wsProtocolError,
  wsPingUnanswered,
  wsCloseUnanswered,
  wsNoCloseFrame,
  wsClose,
  wsOk,
  httpError,
  responseCutShort,
  requestAfterClose,
  requestStalled,
  httpNoResponse,
  expectContinueUnanswered,
];
