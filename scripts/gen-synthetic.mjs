#!/usr/bin/env node
// Writes a deterministic synthetic Ethernet/IPv4/TCP capture (classic pcap, µs) for the benchmark.
//
//   node scripts/gen-synthetic.mjs --out big.pcap [--packets 2000000] [--seed 1] [--concurrency N] [--stats big.json]
//   node scripts/gen-synthetic.mjs --out flood.pcap --hostile syn-flood|open-flows [--packets N]
//
// Thousands of flows are open at once and interleaved in time, as on a busy link, so the analyser's
// flow table and reassembly see the pressure of a real capture instead of one flow after another.
// Each slot of the "open flows" pool runs one flow after another; a binary heap picks the slot whose
// next packet is due first. A flow is scripted in full when it starts (seq/ack/window/timing per
// packet, both ends simulated), so writing a packet is only a copy into one reused output buffer.
//
// The capture point sits on the client side of the path: client packets are seen when sent, server
// packets when they arrive, so a server reaction appears one RTT after the client packet it answers.
// Frames from the server side are padded to the 60-byte Ethernet minimum, as received frames are.

import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 };
const { FIN, SYN, RST, PSH, ACK } = TCP_FLAG;
const CLIENT = 0;
const SERVER = 1;

/** Flow kinds and their share of new flows (per mille). */
export const FLOW_MIX = /** @type {const} */ ({
  http: 635,
  ws: 120,
  refused: 50,
  synTimeout: 40,
  synRetryConnected: 30,
  retransmission: 65,
  reset: 40,
  zeroWindow: 20,
});

const MSS = 1460;
// Zero-window flows use a receive buffer of exactly four segments, so the fourth one fills it.
const ZW_SEGMENT = 1408;
const ZW_RCVBUF = 4 * ZW_SEGMENT; // 5632 = 44 << 7
const WSCALE = 7;
const CLIENT_WIN = 502; // 64256 >> 7
const SERVER_WIN = 509;
const SYN_WIN = [64240, 65160];
const DELAYED_ACK_US = 40_000;
const MIN_RTO_US = 200_000;
const START_EPOCH_US = 1_700_000_000 * 1_000_000;
const RAMP_US = 200_000; // the first flow of every slot starts within this window

// One scripted packet = K int32 columns.
const K = 8;
const COL_T = 0; // µs from flow start
const COL_META = 1; // dir | flags << 1 | optKind << 9
const COL_SEQ = 2;
const COL_ACK = 3;
const COL_WIN = 4;
const COL_OFF = 5; // payload offset in the arena
const COL_LEN = 6;
const COL_TAG = 7;
const OPT_NONE = 0;
const OPT_SYN = 1; // MSS 1460, NOP, WS 7, NOP, NOP, SACK_PERM: 12 bytes
const TAG_DATA_RETRANS = 1;
const TAG_SYN_RETRANS = 2;

const OUT_BUFFER_BYTES = 8 << 20;
const MAX_RECORD_BYTES = 16 + 14 + 20 + 32 + MSS + 64;

// --- deterministic random numbers (mulberry32) ---------------------------------------------------

let rngState = 1;
function rand() {
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const randLog = (lo, hi) => Math.round(lo * Math.pow(hi / lo, rand()));
const randU32 = () => Math.floor(rand() * 4294967296) >>> 0;
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
function randBytes(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}
const WORDS = ['alpha', 'bravo', 'cache', 'delta', 'edge', 'frame', 'gamma', 'host', 'index', 'json', 'kilo', 'lima', 'metric', 'node', 'order', 'price', 'queue', 'route', 'shard', 'token', 'user', 'value', 'window', 'zone'];
function randText(n) {
  let s = '';
  while (s.length < n) s += pick(WORDS) + (rand() < 0.2 ? '\n' : ' ');
  return s.slice(0, n);
}

// --- payload arena: every payload byte comes from here ---------------------------------------------

class Arena {
  parts = [];
  length = 0;
  add(buf) {
    const off = this.length;
    this.parts.push(buf);
    this.length += buf.length;
    return { off, len: buf.length };
  }
  seal() {
    this.bytes = Buffer.concat(this.parts, this.length);
    this.parts = [];
    return this.bytes;
  }
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DATE_HEADER = 'Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n';

/** `terse`: an application server that sends no Server/Date headers and relies on HTTP/1.1 keep-alive. */
function httpResponse(status, reason, body, connection, extra = '', terse = false) {
  const noBody = status === 204 || status === 304;
  const head =
    `HTTP/1.1 ${status} ${reason}\r\n${terse ? '' : `Server: nginx/1.22.1\r\n${DATE_HEADER}`}` +
    (noBody ? '' : `Content-Type: ${body.startsWith('{') ? 'application/json' : 'text/html'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`) +
    extra +
    (terse && connection === 'keep-alive' ? '' : `Connection: ${connection}\r\n`) +
    '\r\n';
  return Buffer.from(noBody ? head : head + body);
}

function jsonBody(n) {
  const head = `{"id":${randInt(1, 99999)},"items":"`;
  const text = randText(Math.max(0, n - head.length - 2)).replace(/\n/g, ' ');
  return head + text + '"}';
}

/** A WebSocket frame (RFC 6455 §5.2); client frames carry a mask key. */
function wsFrame(fin, opcode, payload, masked) {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : 2; // 64-bit lengths are never needed here
  const head = Buffer.alloc(2 + lenBytes + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = (masked ? 0x80 : 0) | (len < 126 ? len : 126);
  if (lenBytes) head.writeUInt16BE(len, 2);
  const body = Buffer.from(payload);
  if (masked) {
    const key = randBytes(4);
    key.copy(head, 2 + lenBytes);
    for (let i = 0; i < len; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([head, body]);
}
const closePayload = (code, reason = '') => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

function buildPayloads() {
  const arena = new Arena();
  const P = {};

  const hosts = Array.from({ length: 16 }, (_, i) => `svc${i + 1}.bench.test`);
  const paths = ['/api/v1/orders/', '/api/v1/users/', '/static/js/app.', '/img/thumb/', '/search?q=', '/api/v2/cart/', '/feed/page/'];
  P.request = [];
  for (let i = 0; i < 64; i++) {
    const post = rand() < 0.1;
    const path = pick(paths) + randInt(1, 999999) + (rand() < 0.3 ? `?page=${randInt(1, 40)}` : '');
    let req = `${post ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: ${pick(hosts)}\r\n${rand() < 0.5 ? 'Accept: */*\r\n' : ''}`;
    if (rand() < 0.15) req += `Cookie: sid=${randBytes(12).toString('hex')}\r\n`;
    if (post) {
      const body = jsonBody(randInt(20, 150));
      req += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    } else req += '\r\n';
    P.request.push(arena.add(Buffer.from(req)));
  }
  P.download = [];
  for (let i = 0; i < 8; i++) {
    P.download.push(arena.add(Buffer.from(`GET /download/archive-${randInt(1, 9999)}.tar.gz HTTP/1.1\r\nHost: ${pick(hosts)}\r\nUser-Agent: bench-client/1.4\r\nAccept: */*\r\n\r\n`)));
  }

  // Responses: index i of `keepAlive` and `close` differ only in the Connection header.
  P.responseKeepAlive = [];
  P.responseClose = [];
  for (let i = 0; i < 96; i++) {
    const r = rand();
    let status = 200, reason = 'OK', body = '', extra = '';
    if (r < 0.12) { status = 304; reason = 'Not Modified'; extra = `ETag: "${randBytes(6).toString('hex')}"\r\n`; }
    else if (r < 0.18) { status = 204; reason = 'No Content'; }
    else if (r < 0.22) { status = 404; reason = 'Not Found'; body = '<html><body><h1>404 Not Found</h1></body></html>'; }
    else if (r < 0.25) { status = 302; reason = 'Found'; body = ''; extra = `Location: /login?next=${randInt(1, 9999)}\r\n`; }
    else if (r < 0.29) { status = pick([500, 502, 503]); reason = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status]; body = '{"error":"upstream failed"}'; }
    else {
      const s = rand();
      body = jsonBody(s < 0.85 ? randLog(16, 90) : s < 0.97 ? randLog(90, 700) : randLog(700, 3000));
    }
    const terse = rand() < 0.5;
    P.responseKeepAlive.push(arena.add(httpResponse(status, reason, body, 'keep-alive', extra, terse)));
    P.responseClose.push(arena.add(httpResponse(status, reason, body, 'close', extra, terse)));
  }

  // Large downloads for reset flows: header + the first three segments of a much longer body.
  P.partialDownload = [];
  for (let i = 0; i < 8; i++) {
    const head = `HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n${DATE_HEADER}Content-Type: application/octet-stream\r\nContent-Length: ${randInt(50_000, 2_000_000)}\r\nConnection: keep-alive\r\n\r\n`;
    P.partialDownload.push(arena.add(Buffer.concat([Buffer.from(head), Buffer.from(randText(3 * MSS))])));
  }
  // Downloads for zero-window flows: 1 or 2 full receive buffers plus a tail.
  P.zwDownload = [[], []];
  for (let episodes = 1; episodes <= 2; episodes++) {
    for (let i = 0; i < 6; i++) {
      const total = episodes * ZW_RCVBUF + randInt(300, ZW_SEGMENT);
      const headFor = (len) => `HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n${DATE_HEADER}Content-Type: application/octet-stream\r\nContent-Length: ${len}\r\nConnection: keep-alive\r\n\r\n`;
      const bodyLen = total - Buffer.byteLength(headFor(total)); // digits of the length stay the same
      P.zwDownload[episodes - 1].push(arena.add(Buffer.concat([Buffer.from(headFor(bodyLen)), Buffer.from(randText(bodyLen))])));
    }
  }

  // WebSocket upgrade: request i goes with 101 response i (valid Sec-WebSocket-Accept).
  P.wsUpgrade = [];
  P.ws101 = [];
  for (let i = 0; i < 32; i++) {
    const key = randBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    P.wsUpgrade.push(arena.add(Buffer.from(`GET /ws/chat?room=${randInt(1, 500)} HTTP/1.1\r\nHost: ${pick(hosts)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://${pick(hosts)}\r\n\r\n`)));
    P.ws101.push(arena.add(Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nServer: nginx/1.22.1\r\n${DATE_HEADER}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)));
  }
  const textMsg = () => Buffer.from(JSON.stringify({ op: pick(['say', 'move', 'sub', 'ack']), seq: randInt(1, 1e6), text: randText(randLog(4, 90)).replace(/\n/g, ' ') }));
  P.wsClientText = [], P.wsClientBinary = [], P.wsServerText = [], P.wsServerBinary = [];
  P.wsServerTwoFrames = [], P.wsPing = [], P.wsPong = [], P.wsClientFragments = [];
  for (let i = 0; i < 32; i++) {
    P.wsClientText.push(arena.add(wsFrame(true, 1, textMsg(), true)));
    P.wsServerText.push(arena.add(wsFrame(true, 1, textMsg(), false)));
    P.wsClientBinary.push(arena.add(wsFrame(true, 2, randBytes(randInt(126, 400)), true)));
    P.wsServerBinary.push(arena.add(wsFrame(true, 2, randBytes(randInt(126, 600)), false)));
    P.wsServerTwoFrames.push(arena.add(Buffer.concat([wsFrame(true, 1, textMsg(), false), wsFrame(true, 1, textMsg(), false)])));
    const pingData = randBytes(randInt(4, 8));
    P.wsPing.push(arena.add(wsFrame(true, 9, pingData, false)));
    P.wsPong.push(arena.add(wsFrame(true, 10, pingData, true)));
    const whole = textMsg();
    const cut = Math.max(1, whole.length >> 1);
    P.wsClientFragments.push([arena.add(wsFrame(false, 1, whole.subarray(0, cut), true)), arena.add(wsFrame(true, 0, whole.subarray(cut), true))]);
  }
  P.wsClientClose = [], P.wsServerClose = [];
  for (let i = 0; i < 8; i++) {
    P.wsClientClose.push(arena.add(wsFrame(true, 8, closePayload(pick([1000, 1000, 1001])), true)));
    P.wsServerClose.push(arena.add(wsFrame(true, 8, closePayload(pick([1000, 1000, 1001]), rand() < 0.5 ? 'bye' : ''), false)));
  }
  return { arena: arena.seal(), P };
}

// --- flow scripting -------------------------------------------------------------------------------

/** Simulates both TCP ends of one flow and records the packets the capture point sees. */
class FlowScript {
  steps = new Int32Array(K * 256);
  n = 0;
  lastAt = 0;
  nextSeq = [0, 0];
  win = [CLIENT_WIN, SERVER_WIN];
  /** Capture-time delay before a side's reaction is seen: 0 for the client, one RTT for the server. */
  lag = [0, 0];
  pendingAckAt = [-1, -1];
  unackedBytes = [0, 0];
  // Per side: (capture time, cumulative seq delivered in order), so an ACK carries what its sender had received.
  histT = [new Float64Array(32), new Float64Array(32)];
  histSeq = [new Float64Array(32), new Float64Array(32)];
  histN = [0, 0];
  rtt = 0;

  reset(rtt, isnClient, isnServer) {
    this.n = 0;
    this.lastAt = 0;
    this.rtt = rtt;
    this.lag[SERVER] = rtt;
    this.nextSeq[CLIENT] = isnClient;
    this.nextSeq[SERVER] = isnServer;
    this.win[CLIENT] = CLIENT_WIN;
    this.win[SERVER] = SERVER_WIN;
    this.pendingAckAt[0] = this.pendingAckAt[1] = -1;
    this.unackedBytes[0] = this.unackedBytes[1] = 0;
    this.histN[0] = this.histN[1] = 0;
  }

  push(at, dir, flags, seq, ack, win, payload, optKind, tag) {
    if (at < this.lastAt) at = this.lastAt;
    this.lastAt = at;
    if ((this.n + 1) * K > this.steps.length) {
      const bigger = new Int32Array(this.steps.length * 2);
      bigger.set(this.steps);
      this.steps = bigger;
    }
    const b = this.n++ * K;
    const s = this.steps;
    s[b + COL_T] = at;
    s[b + COL_META] = dir | (flags << 1) | (optKind << 9);
    s[b + COL_SEQ] = seq | 0;
    s[b + COL_ACK] = ack | 0;
    s[b + COL_WIN] = win;
    s[b + COL_OFF] = payload ? payload.off : 0;
    s[b + COL_LEN] = payload ? payload.len : 0;
    s[b + COL_TAG] = tag;
  }

  recordDelivered(dir, at) {
    const i = this.histN[dir]++ & 31;
    this.histT[dir][i] = at;
    this.histSeq[dir][i] = this.nextSeq[dir];
  }

  /** ACK number `dir` sends at capture time `at`: what the other side had delivered in order by then. */
  ackFor(dir, at) {
    const other = dir ^ 1;
    const cutoff = at - this.lag[dir];
    const n = this.histN[other];
    const T = this.histT[other], Q = this.histSeq[other];
    for (let k = n - 1; k >= 0 && k >= n - 32; k--) {
      if (T[k & 31] <= cutoff) return Q[k & 31];
    }
    return Q[Math.max(0, n - 32) & 31];
  }

  /** Emits due delayed/quick ACKs in time order before anything later. */
  flushAcks(at) {
    for (;;) {
      const c = this.pendingAckAt[CLIENT], s = this.pendingAckAt[SERVER];
      let who = -1;
      if (c >= 0 && c <= at) who = CLIENT;
      if (s >= 0 && s <= at && (who < 0 || s < c)) who = SERVER;
      if (who < 0) return;
      const t = this.pendingAckAt[who];
      this.pendingAckAt[who] = -1;
      this.unackedBytes[who] = 0;
      this.push(t, who, ACK, this.nextSeq[who], this.ackFor(who, t), this.win[who], null, OPT_NONE, 0);
    }
  }

  /** `receiver` got data seen at `at`: ACK after two full segments, otherwise after the delayed-ACK timer. */
  expectAck(receiver, at, len, immediate = false) {
    this.unackedBytes[receiver] += len;
    const quick = immediate || this.unackedBytes[receiver] >= 2 * 1400;
    const due = at + this.lag[receiver] + (quick ? randInt(5, 10) : DELAYED_ACK_US);
    if (this.pendingAckAt[receiver] < 0 || due < this.pendingAckAt[receiver]) this.pendingAckAt[receiver] = due;
  }

  /**
   * Sends the next segment from `dir`. `captured` false: lost before the capture point (never seen);
   * `delivered` false: lost after it, or out of order, so the receiver's cumulative ACK does not move.
   */
  send(at, dir, flags, payload = null, { optKind = OPT_NONE, tag = 0, captured = true, delivered = true } = NO_OPTS) {
    this.flushAcks(at);
    const seq = this.nextSeq[dir];
    const ack = flags & ACK ? this.ackFor(dir, at) : 0;
    const win = flags & SYN ? SYN_WIN[dir] : this.win[dir];
    if (captured) this.push(at, dir, flags, seq, ack, win, payload, optKind, tag);
    if (flags & ACK && ack === this.nextSeq[dir ^ 1]) {
      this.pendingAckAt[dir] = -1; // the ACK rode on this segment
      this.unackedBytes[dir] = 0;
    }
    const len = payload ? payload.len : 0;
    this.nextSeq[dir] = (seq + len + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
    if (delivered) {
      this.recordDelivered(dir, at);
      if (len > 0) this.expectAck(dir ^ 1, at, len);
    }
    return seq;
  }

  /** Re-sends bytes already sent from `seq`; afterwards everything sent so far counts as delivered. */
  resend(at, dir, flags, seq, payload, tag = TAG_DATA_RETRANS) {
    this.flushAcks(at);
    this.push(at, dir, flags, seq, this.ackFor(dir, at), this.win[dir], payload, OPT_NONE, tag);
    this.recordDelivered(dir, at);
    this.expectAck(dir ^ 1, at, payload.len, true);
  }

  finish() {
    this.flushAcks(Infinity);
    return this.steps.slice(0, this.n * K);
  }
}
const NO_OPTS = {};

// --- flow kinds ------------------------------------------------------------------------------------

/** Counts that a reader of the capture can check against (tshark, the analyser). */
function newStats() {
  return {
    flows: Object.fromEntries(Object.keys(FLOW_MIX).map((k) => [k, 0])),
    httpRequests: 0,
    httpResponses: 0,
    httpResponsesBehindLostSegment: 0,
    wsFrames: 0,
    wsMaskedFrames: 0,
    wsCloseFrames: 0,
    zeroWindowEpisodes: 0,
    plantedDataRetransmissions: 0,
    plantedSynRetransmissions: 0,
    flowsWithIsnNearWrap: 0,
  };
}

function makeFlowBuilders(P, stats) {
  const f = new FlowScript();
  const segGap = () => randInt(12, 120);
  const serverTime = () => (rand() < 0.75 ? randLog(80, 25_000) : randLog(25_000, 300_000));
  const thinkTime = () => randLog(2_000, 400_000);

  function handshake(at) {
    f.send(at, CLIENT, SYN, null, { optKind: OPT_SYN });
    const synAckAt = at + f.rtt;
    f.send(synAckAt, SERVER, SYN | ACK, null, { optKind: OPT_SYN });
    const ackAt = synAckAt + randInt(15, 60);
    f.send(ackAt, CLIENT, ACK);
    return ackAt;
  }

  function sendStream(at, dir, msg, segment = MSS, opts) {
    let t = at;
    for (let o = 0; o < msg.len; o += segment) {
      const len = Math.min(segment, msg.len - o);
      const last = o + len >= msg.len;
      f.send(t, dir, ACK | (last ? PSH : 0), { off: msg.off + o, len }, opts);
      if (!last) t += segGap();
    }
    return t;
  }

  function exchange(at, request, response) {
    f.send(at, CLIENT, PSH | ACK, request);
    stats.httpRequests++;
    const end = sendStream(at + f.rtt + serverTime(), SERVER, response);
    stats.httpResponses++;
    return end;
  }

  /** FIN from `first`; the other side answers FIN+ACK (3 packets) or ACK, then FIN (4 packets). */
  function teardown(at, first, fourWay) {
    const other = first ^ 1;
    f.send(at, first, FIN | ACK);
    let t = at + f.lag[other] + randInt(20, 200);
    if (fourWay) {
      f.send(t, other, ACK);
      t += randLog(50, 5_000);
    }
    f.send(t, other, FIN | ACK);
    const end = t + f.lag[first] + randInt(15, 60);
    f.send(end, first, ACK);
    return end;
  }

  function httpExchanges(at, count, serverCloses) {
    let t = at;
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      const idx = Math.floor(rand() * P.responseKeepAlive.length);
      t = exchange(t + (i === 0 ? randInt(10, 300) : thinkTime()), pick(P.request), last && serverCloses ? P.responseClose[idx] : P.responseKeepAlive[idx]);
    }
    return t;
  }

  function closeHttp(t, serverCloses) {
    // After "Connection: close" the server closes at once; otherwise the client closes when done.
    return serverCloses ? teardown(t + randInt(30, 300), SERVER, rand() < 0.4) : teardown(t + thinkTime(), CLIENT, rand() < 0.4);
  }

  const build = {
    http() {
      const serverCloses = rand() < 0.35;
      const t = httpExchanges(handshake(0), randInt(1, 6), serverCloses);
      closeHttp(t, serverCloses);
    },

    synRetryConnected() {
      // The first SYN (or its SYN+ACK) is lost; the client retransmits after the 1 s initial RTO.
      f.send(0, CLIENT, SYN, null, { optKind: OPT_SYN });
      const isn = (f.nextSeq[CLIENT] - 1) >>> 0;
      const retryAt = 1_000_000 + randInt(0, 3_000);
      f.push(retryAt, CLIENT, SYN, isn, 0, SYN_WIN[CLIENT], null, OPT_SYN, TAG_SYN_RETRANS);
      f.recordDelivered(CLIENT, retryAt);
      stats.plantedSynRetransmissions++;
      const synAckAt = retryAt + f.rtt;
      f.send(synAckAt, SERVER, SYN | ACK, null, { optKind: OPT_SYN });
      const ackAt = synAckAt + randInt(15, 60);
      f.send(ackAt, CLIENT, ACK);
      const serverCloses = rand() < 0.35;
      closeHttp(httpExchanges(ackAt, randInt(1, 3), serverCloses), serverCloses);
    },

    refused() {
      f.send(0, CLIENT, SYN, null, { optKind: OPT_SYN });
      // A closed port answers with RST+ACK, seq 0, acking the SYN.
      f.push(f.rtt, SERVER, RST | ACK, 0, f.nextSeq[CLIENT], 0, null, OPT_NONE, 0);
    },

    synTimeout() {
      // Linux: initial RTO 1 s, doubling: SYNs at 0, 1, 3 and 7 s, then the connect fails.
      f.send(0, CLIENT, SYN, null, { optKind: OPT_SYN });
      const isn = (f.nextSeq[CLIENT] - 1) >>> 0;
      for (const at of [1_000_000, 3_000_000, 7_000_000]) {
        f.push(at + randInt(0, 3_000), CLIENT, SYN, isn, 0, SYN_WIN[CLIENT], null, OPT_SYN, TAG_SYN_RETRANS);
        stats.plantedSynRetransmissions++;
      }
    },

    retransmission() {
      let t = handshake(0);
      if (rand() < 0.5) t = exchange(t + randInt(10, 300), pick(P.request), pick(P.responseKeepAlive));
      t += thinkTime();
      if (rand() < 0.8) {
        // The request is lost after the capture point; the client resends it after the RTO.
        const request = pick(P.request);
        const seq = f.send(t, CLIENT, PSH | ACK, request, { delivered: false });
        stats.httpRequests++;
        const resendAt = t + MIN_RTO_US + f.rtt;
        f.resend(resendAt, CLIENT, PSH | ACK, seq, request);
        stats.plantedDataRetransmissions++;
        t = sendStream(resendAt + f.rtt + serverTime(), SERVER, pick(P.responseKeepAlive));
        stats.httpResponses++;
      } else {
        // The first response segment is lost before the capture point: the later ones arrive out of
        // order and each draws a duplicate ACK, then the server resends the hole after its RTO.
        f.send(t, CLIENT, PSH | ACK, pick(P.request));
        stats.httpRequests++;
        const response = pick(P.zwDownload[0]);
        const first = { off: response.off, len: ZW_SEGMENT };
        const lossAt = t + f.rtt + serverTime();
        const holeSeq = f.send(lossAt, SERVER, ACK, first, { captured: false, delivered: false });
        let at = lossAt;
        for (let o = ZW_SEGMENT; o < response.len; o += ZW_SEGMENT) {
          at += segGap();
          const len = Math.min(ZW_SEGMENT, response.len - o);
          f.send(at, SERVER, ACK | (o + len >= response.len ? PSH : 0), { off: response.off + o, len }, { delivered: false });
          f.expectAck(CLIENT, at, 0, true);
        }
        t = lossAt + MIN_RTO_US + f.rtt;
        f.resend(t, SERVER, ACK, holeSeq, first);
        stats.plantedDataRetransmissions++;
        // Its header sits in the lost segment, so a reader counts it only if it reassembles out of order.
        stats.httpResponsesBehindLostSegment++;
      }
      teardown(t + thinkTime(), CLIENT, rand() < 0.4);
    },

    reset() {
      let t = handshake(0);
      f.send(t + randInt(10, 300), CLIENT, PSH | ACK, pick(P.download));
      stats.httpRequests++;
      const response = pick(P.partialDownload);
      const segments = rand() < 0.75 ? 1 : randInt(2, 3);
      t = sendStream(t + f.rtt + serverTime(), SERVER, { off: response.off, len: segments * MSS });
      const at = t + randLog(200, 80_000);
      f.flushAcks(at);
      if (rand() < 0.6) {
        // The client gives up on the download (user abort): RST+ACK from the client.
        f.push(at, CLIENT, RST | ACK, f.nextSeq[CLIENT], f.ackFor(CLIENT, at), f.win[CLIENT], null, OPT_NONE, 0);
      } else {
        // The server process dies mid-response: its kernel resets the connection.
        f.push(at, SERVER, RST | ACK, f.nextSeq[SERVER], f.ackFor(SERVER, at), f.win[SERVER], null, OPT_NONE, 0);
      }
    },

    zeroWindow() {
      // The client application stops reading; its 5632-byte receive buffer fills and it advertises
      // window 0. The server probes (Linux: seq = snd_una - 1, no data) until the window reopens.
      let t = handshake(0);
      const full = ZW_RCVBUF >> WSCALE;
      f.win[CLIENT] = full;
      f.send(t + randInt(10, 300), CLIENT, PSH | ACK, pick(P.download));
      stats.httpRequests++;
      const episodes = rand() < 0.75 ? 1 : 2;
      const response = pick(P.zwDownload[episodes - 1]);
      let sent = 0;
      t += f.rtt + serverTime();
      for (let e = 0; e < episodes; e++) {
        for (let i = 0; i < 4; i++) {
          if (i > 0) t += segGap();
          f.send(t, SERVER, ACK | (i === 3 ? PSH : 0), { off: response.off + sent, len: ZW_SEGMENT });
          sent += ZW_SEGMENT;
          // Unread data shrinks the advertised window: half full after two segments, zero after four.
          if (i === 1) f.win[CLIENT] = (ZW_RCVBUF - 2 * ZW_SEGMENT) >> WSCALE;
          if (i === 3) f.win[CLIENT] = 0;
          if (i % 2 === 1) f.expectAck(CLIENT, t, 0, true);
        }
        stats.zeroWindowEpisodes++;
        t += 20;
        const stallUntil = t + randLog(300_000, 1_500_000);
        let probeGap = MIN_RTO_US + f.rtt;
        for (;;) {
          const probeAt = t + probeGap;
          if (probeAt >= stallUntil) break;
          f.flushAcks(probeAt);
          f.push(probeAt, SERVER, ACK, (f.nextSeq[SERVER] - 1) >>> 0, f.ackFor(SERVER, probeAt), f.win[SERVER], null, OPT_NONE, 0);
          f.push(probeAt + randInt(5, 15), CLIENT, ACK, f.nextSeq[CLIENT], f.ackFor(CLIENT, probeAt), 0, null, OPT_NONE, 0);
          t = probeAt;
          probeGap *= 2;
        }
        // The application reads everything: window update.
        f.flushAcks(stallUntil);
        f.win[CLIENT] = full;
        f.send(stallUntil, CLIENT, ACK);
        t = stallUntil + f.rtt;
      }
      t = sendStream(t, SERVER, { off: response.off + sent, len: response.len - sent }, ZW_SEGMENT);
      stats.httpResponses++;
      teardown(t + thinkTime(), CLIENT, rand() < 0.4);
    },

    ws() {
      const t0 = handshake(0);
      const i = Math.floor(rand() * P.wsUpgrade.length);
      let t = exchange(t0 + randInt(10, 300), P.wsUpgrade[i], P.ws101[i]);
      const clientFrame = (at, msg, frames = 1) => {
        f.send(at, CLIENT, PSH | ACK, msg);
        stats.wsFrames += frames;
        stats.wsMaskedFrames += frames;
      };
      const serverFrame = (at, msg, frames = 1) => {
        f.send(at, SERVER, PSH | ACK, msg);
        stats.wsFrames += frames;
      };
      const messages = randInt(4, 20);
      for (let m = 0; m < messages; m++) {
        t += randLog(200, 300_000);
        const r = rand();
        if (r < 0.3) clientFrame(t, pick(P.wsClientText));
        else if (r < 0.4) clientFrame(t, pick(P.wsClientBinary));
        else if (r < 0.65) serverFrame(t, pick(P.wsServerText));
        else if (r < 0.75) serverFrame(t, pick(P.wsServerBinary));
        else if (r < 0.83) serverFrame(t, pick(P.wsServerTwoFrames), 2);
        else if (r < 0.92) {
          const k = Math.floor(rand() * P.wsPing.length);
          serverFrame(t, P.wsPing[k]);
          t += randInt(30, 300);
          clientFrame(t, P.wsPong[k]);
        } else {
          const [a, b] = pick(P.wsClientFragments);
          clientFrame(t, a);
          t += randInt(20, 2_000);
          clientFrame(t, b);
        }
      }
      t += randLog(1_000, 300_000);
      // RFC 6455 §7.1.1: the server closes the TCP connection first, after the close handshake.
      if (rand() < 0.7) {
        clientFrame(t, pick(P.wsClientClose));
        t += f.rtt + randInt(50, 500);
        serverFrame(t, pick(P.wsServerClose));
      } else {
        serverFrame(t, pick(P.wsServerClose));
        t += randInt(30, 300);
        clientFrame(t, pick(P.wsClientClose));
        t += f.rtt + randInt(50, 500);
      }
      stats.wsCloseFrames += 2;
      teardown(t + randInt(20, 200), SERVER, rand() < 0.3);
    },
  };

  const kinds = Object.keys(FLOW_MIX);
  const cumulative = [];
  let sum = 0;
  for (const k of kinds) cumulative.push((sum += FLOW_MIX[k]));

  /** Scripts a new flow of a random kind; returns its packets as K-column rows. */
  return function scriptFlow() {
    const r = rand() * sum;
    let kind = 0;
    while (cumulative[kind] <= r) kind++;
    // 12% of ISNs sit just below 2^32 so that sequence numbers wrap within the first few kilobytes.
    const isn = () => (rand() < 0.12 ? (4294967296 - randInt(1, 4_000)) >>> 0 : randU32());
    const isnClient = isn(), isnServer = isn();
    if (isnClient > 0xffff0000 || isnServer > 0xffff0000) stats.flowsWithIsnNearWrap++;
    f.reset(randLog(150, 60_000), isnClient, isnServer);
    build[kinds[kind]]();
    stats.flows[kinds[kind]]++;
    return { kind: kinds[kind], script: f.finish() };
  };
}

// --- packet writer ---------------------------------------------------------------------------------

const SYN_OPTIONS = [0x02, 0x04, MSS >> 8, MSS & 0xff, 0x01, 0x03, 0x03, WSCALE, 0x01, 0x01, 0x04, 0x02];
const GATEWAY_MAC = [0x02, 0x00, 0x5e, 0x00, 0x00, 0xfe];

function sum16(b, from, to, acc) {
  let i = from;
  for (; i + 1 < to; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < to) acc += b[i] << 8;
  return acc;
}
const fold = (acc) => {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536);
  return ~acc & 0xffff;
};

/** Flows open at once in big files: enough that more than 10,000 are open on average. */
export const MAX_CONCURRENCY = 10_500;
/** Fewer open flows for small files, so that their first flows alone do not overshoot the packet count. */
export const defaultConcurrency = (packets) => Math.max(16, Math.min(MAX_CONCURRENCY, Math.floor(packets / 150)));

/**
 * Generates the capture. Returns the generator's own counts (packets, flows by kind, planted
 * retransmissions, ...) so that a reader's figures can be checked against them.
 */
export function generateSyntheticCapture({ out, packets = 2_000_000, seed = 1, concurrency = defaultConcurrency(packets) }) {
  const started = process.hrtime.bigint();
  rngState = seed | 0;
  const { arena, P } = buildPayloads();
  const stats = newStats();
  const scriptFlow = makeFlowBuilders(P, stats);

  const fd = openSync(out, 'w');
  const buf = Buffer.allocUnsafe(OUT_BUFFER_BYTES);
  let pos = 0;
  let fileBytes = 0;
  const flush = () => {
    let done = 0;
    while (done < pos) done += writeSync(fd, buf, done, pos - done);
    fileBytes += pos;
    pos = 0;
  };

  pos = writePcapHeader(buf);

  // Per-slot flow state.
  const scripts = new Array(concurrency);
  const stepOf = new Int32Array(concurrency);
  const flowStart = new Float64Array(concurrency);
  const dueAt = new Float64Array(concurrency);
  const clientIp = new Uint32Array(concurrency);
  const serverIp = new Uint32Array(concurrency);
  const clientPort = new Uint16Array(concurrency);
  const serverPort = new Uint16Array(concurrency);
  const serverTtl = new Uint8Array(concurrency);
  const ipId = new Uint16Array(concurrency * 2);

  const CLIENTS = 50_000;
  const SERVERS = 2_000;
  const DOWN_HOSTS = 24;
  const CLOSED_PORTS = [81, 5432, 8081, 9000];
  const PORTS = 28_232; // 32768..60999, the Linux ephemeral range
  let flowCount = 0;
  let scheduled = 0;

  function startFlow(slot, at) {
    const { kind, script } = scriptFlow();
    // Every flow gets its own 4-tuple: a client index (a permutation of the flow number) and the
    // next port of that client, so no tuple is ever reused within one capture.
    const n = flowCount++;
    const client = (n * 7919) % CLIENTS;
    const round = Math.floor(n / CLIENTS);
    clientIp[slot] = (0x0a100000 + 1 + client) >>> 0; // 10.16.0.0/16
    clientPort[slot] = 32768 + ((round * 1237 + client * 31) % PORTS);
    const server = Math.floor(rand() * SERVERS);
    if (kind === 'synTimeout') {
      // Unanswered SYNs go to a few hosts that are down, as they would on a real network.
      serverIp[slot] = (0xc613ff00 + 1 + (server % DOWN_HOSTS)) >>> 0; // 198.19.255.1..
      serverPort[slot] = server % 2 ? 80 : 8080;
    } else {
      serverIp[slot] = (0xc6120000 + 1 + server) >>> 0; // 198.18.0.0/15 (RFC 2544)
      // Refused connections go to a port nothing listens on, on an otherwise live server.
      serverPort[slot] = kind === 'refused' ? CLOSED_PORTS[server % CLOSED_PORTS.length] : server % 10 === 0 ? 8080 : 80;
    }
    serverTtl[slot] = randInt(44, 60);
    ipId[slot * 2] = randInt(0, 65535);
    ipId[slot * 2 + 1] = randInt(0, 65535);
    scripts[slot] = script;
    stepOf[slot] = 0;
    flowStart[slot] = at;
    dueAt[slot] = at;
    scheduled += script.length / K;
  }

  // Binary min-heap of slots by the due time of their next packet.
  const heap = new Int32Array(concurrency);
  let heapSize = 0;
  const siftDown = (i) => {
    const slot = heap[i];
    const key = dueAt[slot];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= heapSize) break;
      if (c + 1 < heapSize && dueAt[heap[c + 1]] < dueAt[heap[c]]) c++;
      if (dueAt[heap[c]] >= key) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = slot;
  };
  for (let slot = 0; slot < concurrency; slot++) {
    startFlow(slot, Math.floor(rand() * RAMP_US));
    heap[heapSize++] = slot;
  }
  for (let i = (heapSize >> 1) - 1; i >= 0; i--) siftDown(i);

  const counts = { syn: 0, synAck: 0, rst: 0, fin: 0, dataRetransmissions: 0, synRetransmissions: 0 };
  let written = 0;
  let lastT = -1;
  let open = 0;
  let openSum = 0;
  let openMax = 0;
  let frameBytes = 0;

  while (heapSize > 0) {
    const slot = heap[0];
    const s = scripts[slot];
    const step = stepOf[slot];
    const b = step * K;
    // Timestamps strictly increase; packets due in the same µs are spread one µs apart.
    let T = flowStart[slot] + s[b + COL_T];
    if (T <= lastT) T = lastT + 1;
    lastT = T;
    if (step === 0) open++;

    const meta = s[b + COL_META];
    const dir = meta & 1;
    const flags = (meta >> 1) & 0xff;
    const optLen = meta >> 9 === OPT_SYN ? 12 : 0;
    const payOff = s[b + COL_OFF];
    const payLen = s[b + COL_LEN];
    const tcpLen = 20 + optLen;
    const ipLen = 20 + tcpLen + payLen;
    let frameLen = 14 + ipLen;
    if (dir === SERVER && frameLen < 60) frameLen = 60;
    if (pos + MAX_RECORD_BYTES > OUT_BUFFER_BYTES) flush();

    // Record header (little-endian, µs).
    const T0 = START_EPOCH_US + T;
    const sec = Math.floor(T0 / 1e6);
    const usec = T0 - sec * 1e6;
    let p = pos;
    buf[p] = sec; buf[p + 1] = sec >>> 8; buf[p + 2] = sec >>> 16; buf[p + 3] = sec >>> 24;
    buf[p + 4] = usec; buf[p + 5] = usec >>> 8; buf[p + 6] = usec >>> 16; buf[p + 7] = usec >>> 24;
    buf[p + 8] = frameLen; buf[p + 9] = frameLen >>> 8; buf[p + 10] = 0; buf[p + 11] = 0;
    buf[p + 12] = frameLen; buf[p + 13] = frameLen >>> 8; buf[p + 14] = 0; buf[p + 15] = 0;
    p += 16;
    const frame = p;

    // Ethernet: the client-side host MAC is derived from its address.
    const cIp = clientIp[slot];
    const sIp = serverIp[slot];
    const hostMacAt = dir === CLIENT ? p + 6 : p;
    const gwMacAt = dir === CLIENT ? p : p + 6;
    for (let i = 0; i < 6; i++) buf[gwMacAt + i] = GATEWAY_MAC[i];
    buf[hostMacAt] = 0x02; buf[hostMacAt + 1] = 0x00;
    buf[hostMacAt + 2] = cIp >>> 24; buf[hostMacAt + 3] = cIp >>> 16; buf[hostMacAt + 4] = cIp >>> 8; buf[hostMacAt + 5] = cIp;
    buf[p + 12] = 0x08; buf[p + 13] = 0x00;
    p += 14;

    // IPv4, DF set.
    const ip = p;
    const src = dir === CLIENT ? cIp : sIp;
    const dst = dir === CLIENT ? sIp : cIp;
    const id = ipId[slot * 2 + dir]++;
    buf[p] = 0x45; buf[p + 1] = 0;
    buf[p + 2] = ipLen >>> 8; buf[p + 3] = ipLen;
    buf[p + 4] = id >>> 8; buf[p + 5] = id;
    buf[p + 6] = 0x40; buf[p + 7] = 0;
    buf[p + 8] = dir === CLIENT ? 64 : serverTtl[slot]; buf[p + 9] = 6;
    buf[p + 10] = 0; buf[p + 11] = 0;
    buf[p + 12] = src >>> 24; buf[p + 13] = src >>> 16; buf[p + 14] = src >>> 8; buf[p + 15] = src;
    buf[p + 16] = dst >>> 24; buf[p + 17] = dst >>> 16; buf[p + 18] = dst >>> 8; buf[p + 19] = dst;
    const ipSum = fold(sum16(buf, ip, ip + 20, 0));
    buf[p + 10] = ipSum >>> 8; buf[p + 11] = ipSum;
    p += 20;

    // TCP.
    const tcp = p;
    const sport = dir === CLIENT ? clientPort[slot] : serverPort[slot];
    const dport = dir === CLIENT ? serverPort[slot] : clientPort[slot];
    const seq = s[b + COL_SEQ];
    const ack = s[b + COL_ACK];
    const win = s[b + COL_WIN];
    buf[p] = sport >>> 8; buf[p + 1] = sport; buf[p + 2] = dport >>> 8; buf[p + 3] = dport;
    buf[p + 4] = seq >>> 24; buf[p + 5] = seq >>> 16; buf[p + 6] = seq >>> 8; buf[p + 7] = seq;
    buf[p + 8] = ack >>> 24; buf[p + 9] = ack >>> 16; buf[p + 10] = ack >>> 8; buf[p + 11] = ack;
    buf[p + 12] = (tcpLen >> 2) << 4; buf[p + 13] = flags;
    buf[p + 14] = win >>> 8; buf[p + 15] = win;
    buf[p + 16] = 0; buf[p + 17] = 0; buf[p + 18] = 0; buf[p + 19] = 0;
    p += 20;
    if (optLen) {
      for (let i = 0; i < 12; i++) buf[p + i] = SYN_OPTIONS[i];
      p += 12;
    }
    if (payLen) {
      arena.copy(buf, p, payOff, payOff + payLen);
      p += payLen;
    }
    const tcpSegLen = tcpLen + payLen;
    let acc = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tcpSegLen;
    const tcpSum = fold(sum16(buf, tcp, p, acc));
    buf[tcp + 16] = tcpSum >>> 8; buf[tcp + 17] = tcpSum;
    while (p < frame + frameLen) buf[p++] = 0; // Ethernet padding, beyond the IPv4 total length
    pos = p;
    frameBytes += frameLen;

    if (flags & SYN) flags & ACK ? counts.synAck++ : counts.syn++;
    if (flags & RST) counts.rst++;
    if (flags & FIN) counts.fin++;
    const tag = s[b + COL_TAG];
    if (tag === TAG_DATA_RETRANS) counts.dataRetransmissions++;
    else if (tag === TAG_SYN_RETRANS) counts.synRetransmissions++;

    written++;
    openSum += open;
    if (open > openMax) openMax = open;

    if ((step + 1) * K < s.length) {
      stepOf[slot] = step + 1;
      dueAt[slot] = flowStart[slot] + s[b + K + COL_T];
      siftDown(0);
    } else {
      open--;
      if (scheduled < packets) {
        startFlow(slot, flowStart[slot] + s[b + COL_T] + randInt(1, 2_000));
      } else {
        heap[0] = heap[--heapSize];
      }
      if (heapSize > 0) siftDown(0);
    }
  }
  flush();
  closeSync(fd);

  return {
    file: out,
    seed,
    concurrency,
    packets: written,
    fileBytes,
    averageFrameBytes: +(frameBytes / written).toFixed(1),
    averageRecordBytes: +(fileBytes / written).toFixed(1),
    spanSeconds: +(lastT / 1e6).toFixed(3),
    conversations: flowCount,
    openFlows: { mean: Math.round(openSum / written), max: openMax },
    ...counts,
    ...stats,
    generateSeconds: +(Number(process.hrtime.bigint() - started) / 1e9).toFixed(3),
  };
}

// --- hostile captures: a spoofed SYN flood, and flows that all stay open ------------------------------

/** One TCP packet written as a pcap record at buf[pos]; returns the position after it. */
function writeTcpRecord(buf, pos, tUs, src, dst, sport, dport, seq, ack, flags, win, payload, ipId, ttl) {
  const optLen = flags & SYN ? 12 : 0;
  const tcpLen = 20 + optLen;
  const payLen = payload ? payload.length : 0;
  const ipLen = 20 + tcpLen + payLen;
  const frameLen = Math.max(60, 14 + ipLen);
  const T0 = START_EPOCH_US + tUs;
  const sec = Math.floor(T0 / 1e6);
  buf.writeUInt32LE(sec >>> 0, pos);
  buf.writeUInt32LE(T0 - sec * 1e6, pos + 4);
  buf.writeUInt32LE(frameLen, pos + 8);
  buf.writeUInt32LE(frameLen, pos + 12);
  let p = pos + 16;
  const frame = p;
  for (let i = 0; i < 6; i++) buf[p + i] = GATEWAY_MAC[i];
  buf[p + 6] = 0x02; buf[p + 7] = 0x00; buf.writeUInt32BE(src >>> 0, p + 8);
  buf[p + 12] = 0x08; buf[p + 13] = 0x00;
  p += 14;
  const ip = p;
  buf[p] = 0x45; buf[p + 1] = 0; buf.writeUInt16BE(ipLen, p + 2); buf.writeUInt16BE(ipId & 0xffff, p + 4);
  buf[p + 6] = 0x40; buf[p + 7] = 0; buf[p + 8] = ttl; buf[p + 9] = 6; buf[p + 10] = 0; buf[p + 11] = 0;
  buf.writeUInt32BE(src >>> 0, p + 12); buf.writeUInt32BE(dst >>> 0, p + 16);
  const ipSum = fold(sum16(buf, ip, ip + 20, 0));
  buf.writeUInt16BE(ipSum, ip + 10);
  p += 20;
  const tcp = p;
  buf.writeUInt16BE(sport, p); buf.writeUInt16BE(dport, p + 2);
  buf.writeUInt32BE(seq >>> 0, p + 4); buf.writeUInt32BE(ack >>> 0, p + 8);
  buf[p + 12] = (tcpLen >> 2) << 4; buf[p + 13] = flags; buf.writeUInt16BE(win, p + 14);
  buf[p + 16] = 0; buf[p + 17] = 0; buf[p + 18] = 0; buf[p + 19] = 0;
  p += 20;
  if (optLen) for (let i = 0; i < 12; i++) buf[p++] = SYN_OPTIONS[i];
  if (payLen) p += payload.copy(buf, p);
  const acc = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tcpLen + payLen;
  buf.writeUInt16BE(fold(sum16(buf, tcp, p, acc)), tcp + 16);
  while (p < frame + frameLen) buf[p++] = 0;
  return p;
}

/**
 * One Ethernet/IPv4 record at `tUs` carrying `body` (a UDP datagram or an ICMP message, its own
 * checksum already set) as protocol `proto`; returns where the next record starts.
 */
function writeIpv4Record(buf, pos, tUs, src, dst, proto, body, ipId, ttl) {
  const ipLen = 20 + body.length;
  const frameLen = Math.max(60, 14 + ipLen);
  const T0 = START_EPOCH_US + tUs;
  const sec = Math.floor(T0 / 1e6);
  buf.writeUInt32LE(sec >>> 0, pos);
  buf.writeUInt32LE(T0 - sec * 1e6, pos + 4);
  buf.writeUInt32LE(frameLen, pos + 8);
  buf.writeUInt32LE(frameLen, pos + 12);
  let p = pos + 16;
  const frame = p;
  for (let i = 0; i < 6; i++) buf[p + i] = GATEWAY_MAC[i];
  buf[p + 6] = 0x02; buf[p + 7] = 0x00; buf.writeUInt32BE(src >>> 0, p + 8);
  buf[p + 12] = 0x08; buf[p + 13] = 0x00;
  p += 14;
  ipv4Header(buf, p, ipLen, src, dst, proto, ipId, ttl);
  p += 20;
  p += body.copy(buf, p);
  while (p < frame + frameLen) buf[p++] = 0;
  return p;
}

/** An IPv4 header without options at buf[at], its checksum set. */
function ipv4Header(buf, at, ipLen, src, dst, proto, ipId, ttl) {
  buf[at] = 0x45; buf[at + 1] = 0; buf.writeUInt16BE(ipLen, at + 2); buf.writeUInt16BE(ipId & 0xffff, at + 4);
  buf[at + 6] = 0x40; buf[at + 7] = 0; buf[at + 8] = ttl; buf[at + 9] = proto; buf[at + 10] = 0; buf[at + 11] = 0;
  buf.writeUInt32BE(src >>> 0, at + 12); buf.writeUInt32BE(dst >>> 0, at + 16);
  buf.writeUInt16BE(fold(sum16(buf, at, at + 20, 0)), at + 10);
}

/** A UDP datagram (header and payload) from sport to dport, its checksum over the IPv4 pseudo-header set. */
function udpDatagram(src, dst, sport, dport, payload) {
  const d = Buffer.alloc(8 + payload.length);
  d.writeUInt16BE(sport, 0); d.writeUInt16BE(dport, 2); d.writeUInt16BE(d.length, 4);
  payload.copy(d, 8);
  const acc = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + d.length;
  d.writeUInt16BE(fold(sum16(d, 0, d.length, acc)) || 0xffff, 6);
  return d;
}

/** ICMP port unreachable quoting the IPv4 datagram (header and `datagram`) that src sent to dst, as Linux quotes it: whole. */
function icmpPortUnreachable(src, dst, datagram, ipId) {
  const m = Buffer.alloc(8 + 20 + datagram.length);
  m[0] = 3; m[1] = 3;
  ipv4Header(m, 8, 20 + datagram.length, src, dst, 17, ipId, 64);
  datagram.copy(m, 28);
  m.writeUInt16BE(fold(sum16(m, 0, m.length, 0)), 2);
  return m;
}

/** A DNS query for `name` (type A, recursion desired) with ID `id`; with `address`, its answer (one A record, TTL 60). */
function dnsMessage(id, name, address = null) {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  const head = [id >> 8, id & 0xff, address === null ? 0x01 : 0x81, address === null ? 0x00 : 0x80, 0, 1, 0, address === null ? 0 : 1, 0, 0, 0, 0];
  const question = [...labels, 0, 0, 1, 0, 1];
  const answer = address === null ? [] : [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
  return Buffer.from([...head, ...question, ...answer]);
}

/** The pcap file header (µs magic, v2.4, snaplen 262144, LINKTYPE_ETHERNET), little-endian, at buf[0]; returns its length. */
function writePcapHeader(buf) {
  buf.writeUInt32LE(0xa1b2c3d4, 0);
  buf.writeUInt16LE(2, 4);
  buf.writeUInt16LE(4, 6);
  buf.writeInt32LE(0, 8);
  buf.writeUInt32LE(0, 12);
  buf.writeUInt32LE(262144, 16);
  buf.writeUInt32LE(1, 20);
  return 24;
}

/**
 * Writes a pcap whose records come from `emit(write)`, calling write(...args after buf, pos of
 * `writeRecord`: writeTcpRecord, or writeIpv4Record for UDP and ICMP).
 */
function writeCapture(out, emit, writeRecord = writeTcpRecord) {
  const fd = openSync(out, 'w');
  const buf = Buffer.allocUnsafe(OUT_BUFFER_BYTES);
  let pos = writePcapHeader(buf);
  let fileBytes = 0;
  let packets = 0;
  const flush = () => {
    let done = 0;
    while (done < pos) done += writeSync(fd, buf, done, pos - done);
    fileBytes += pos;
    pos = 0;
  };
  emit((...args) => {
    if (pos + MAX_RECORD_BYTES > OUT_BUFFER_BYTES) flush();
    pos = writeRecord(buf, pos, ...args);
    packets++;
  });
  flush();
  closeSync(fd);
  return { packets, fileBytes };
}

/**
 * A spoofed SYN flood: `syns` SYNs to one web server over `seconds`, each from its own source
 * address (100.64.0.0/10, a bijection of the SYN's number, so all distinct) and port, none answered.
 * With `resendAfterUs`, each SYN is sent again that long after it, with the same sequence number, as
 * a client's retransmission; with `resendAsCopy` too, the second one keeps the IP ID, as a copy the
 * capture holds twice (a capture point on both sides of a router).
 */
export function generateSynFlood({ out, syns = 1_000_000, seconds = 10, seed = 1, resendAfterUs = 0, resendAsCopy = false }) {
  rngState = seed | 0;
  const target = 0xc6120050; // 198.18.0.80
  const stepUs = (seconds * 1e6) / syns;
  const source = (n) => (0x64400000 + (Math.imul(n, 2654435761) & 0x3fffff)) >>> 0; // odd multiplier: distinct mod 2^22
  const isns = resendAfterUs > 0 ? new Uint32Array(syns) : null;
  const result = writeCapture(out, (write) => {
    // A resend leaves with the next IP ID: a copy the capture holds twice would keep the ID.
    const sendSyn = (n, isn, t, ipId) => write(t, source(n), target, 1024 + (n % 64000), 80, isn, 0, SYN, 64240, null, ipId, 64);
    let resent = 0;
    const resendUntil = (t) => {
      for (; isns && resent < syns && Math.floor(resent * stepUs) + resendAfterUs <= t; resent++) sendSyn(resent, isns[resent], Math.floor(resent * stepUs) + resendAfterUs, (resent + (resendAsCopy ? 0 : 1)) & 0xffff);
    };
    for (let n = 0; n < syns; n++) {
      const t = Math.floor(n * stepUs);
      resendUntil(t);
      const isn = (rand() * 4294967296) >>> 0;
      if (isns) isns[n] = isn;
      sendSyn(n, isn, t, n);
    }
    resendUntil(Infinity);
  });
  return { file: out, kind: 'syn-flood', ...result, syns, sources: syns, target: '198.18.0.80:80', spanSeconds: seconds };
}

/**
 * A database that went down with its clients still connecting: `flows` connections to
 * 198.18.0.80:5432, each a SYN and the RST-ACK a host with nothing listening answers, one every
 * 50 µs from 60,000 clients in turn (each from its next port), so every connection ends with a
 * reset and no 4-tuple repeats.
 */
export function generateRefused({ out, flows = 1_000_000, seed = 1 }) {
  rngState = seed | 0;
  const server = 0xc6120050;
  const client = (n) => (0x0a100000 + 1 + (n % 60_000)) >>> 0;
  const cport = (n) => 20_000 + Math.floor(n / 60_000);
  const result = writeCapture(out, (write) => {
    for (let n = 0; n < flows; n++) {
      const t = n * 50;
      const isn = (rand() * 4294967296) >>> 0;
      write(t, client(n), server, cport(n), 5432, isn, 0, SYN, 64240, null, n, 64);
      write(t + 20, server, client(n), 5432, cport(n), 0, (isn + 1) >>> 0, RST | ACK, 0, null, 0, 64);
    }
  });
  return { file: out, kind: 'refused', ...result, flows, spanSeconds: (flows * 50) / 1e6 };
}

/**
 * DNS lookups: `lookups` queries for distinct names from 60,000 clients in turn, one every 100 µs,
 * to 10.0.0.53:53, each answered 20 µs later: with `resolverDown` by the host's ICMP port
 * unreachable (a resolver that is down), else by one A record (a busy resolver).
 */
export function generateDnsLookups({ out, lookups = 500_000, seed = 1, resolverDown = false }) {
  rngState = seed | 0;
  const resolver = 0x0a000035;
  const result = writeCapture(
    out,
    (write) => {
      for (let n = 0; n < lookups; n++) {
        const client = (0x0a100000 + 1 + (n % 60_000)) >>> 0;
        const port = 20_000 + (n % 40_000);
        const id = randInt(0, 65535);
        const name = `host${n}.example.com`;
        const query = udpDatagram(client, resolver, port, 53, dnsMessage(id, name));
        write(n * 100, client, resolver, 17, query, n, 64);
        if (resolverDown) write(n * 100 + 20, resolver, client, 1, icmpPortUnreachable(client, resolver, query, n), n, 64);
        else write(n * 100 + 20, resolver, client, 17, udpDatagram(resolver, client, 53, port, dnsMessage(id, name, (0xc6120000 + (n & 0xffff)) >>> 0)), n, 64);
      }
    },
    writeIpv4Record,
  );
  return { file: out, kind: resolverDown ? 'dns-down' : 'dns-busy', ...result, lookups, spanSeconds: (lookups * 100) / 1e6 };
}

/**
 * The hostile captures by name, each made from the packet count asked for (null: its default; for
 * syn-flood, the count is of SYNs).
 */
const HOSTILE = {
  'syn-flood': (out, n, seed) => generateSynFlood({ out, syns: n ?? 1_000_000, seed }),
  'open-flows': (out, n, seed) => generateOpenFlows({ out, flows: Math.floor((n ?? 2_000_000) / 4), seed }),
  refused: (out, n, seed) => generateRefused({ out, flows: Math.floor((n ?? 2_000_000) / 2), seed }),
  'dns-down': (out, n, seed) => generateDnsLookups({ out, lookups: Math.floor((n ?? 2_000_000) / 2), seed, resolverDown: true }),
  'dns-busy': (out, n, seed) => generateDnsLookups({ out, lookups: Math.floor((n ?? 2_000_000) / 2), seed }),
};
export const HOSTILE_KINDS = Object.keys(HOSTILE);

/** Generates the hostile capture `kind` into `out` (see HOSTILE); null when there is no such kind. */
export function generateHostile(kind, { out, packets = null, seed = 1 }) {
  return Object.hasOwn(HOSTILE, kind) ? HOSTILE[kind](out, packets, seed) : null;
}

/**
 * Flows that all stay open: each a handshake, a GET and the first segment of a large response,
 * never finished. Flow n starts 20 µs after flow n-1; its four packets go out in turn with those of
 * the three flows before it, so the capture is in time order and every flow is open at its end.
 */
export function generateOpenFlows({ out, flows = 500_000, seed = 1 }) {
  rngState = seed | 0;
  const server = 0xc6120050;
  const get = Buffer.from('GET /download/big.bin HTTP/1.1\r\nHost: files.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n');
  const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n');
  const response = Buffer.concat([head, Buffer.alloc(1200, 0x5a)]);
  const client = (n) => (0x0a100000 + 1 + (n % 60_000)) >>> 0;
  const cport = (n) => 20_000 + Math.floor(n / 60_000);
  const isn = (n, side) => Math.imul(n * 2 + side + 1, 2246822519) >>> 0;
  const result = writeCapture(out, (write) => {
    for (let tick = 0; tick < flows + 3; tick++) {
      const t = tick * 20;
      let n = tick;
      if (n < flows) write(t, client(n), server, cport(n), 80, isn(n, 0), 0, SYN, 64240, null, n, 64);
      n = tick - 1;
      if (n >= 0 && n < flows) write(t + 5, server, client(n), 80, cport(n), isn(n, 1), isn(n, 0) + 1, SYN | ACK, 65160, null, n, 56);
      n = tick - 2;
      if (n >= 0 && n < flows) write(t + 10, client(n), server, cport(n), 80, isn(n, 0) + 1, isn(n, 1) + 1, PSH | ACK, 502, get, n + 1, 64);
      n = tick - 3;
      if (n >= 0 && n < flows) write(t + 15, server, client(n), 80, cport(n), isn(n, 1) + 1, isn(n, 0) + 1 + get.length, PSH | ACK, 509, response, n + 1, 56);
    }
  });
  return { file: out, kind: 'open-flows', ...result, flows, spanSeconds: ((flows + 3) * 20) / 1e6 };
}

// --- long flows: few connections, many packets each ---------------------------------------------------

/**
 * Long-lived connections, all open at once: half HTTP/1.1 keep-alive (request, one-segment answer,
 * the client's ACK, over and over), half bulk downloads (one GET, then full-sized segments acknowledged
 * every second one, as delayed ACK does). Each flow is a handshake, its exchanges and a FIN from each
 * side; the flows take turns packet by packet, 10 µs apart, so the capture is in time order.
 */
export function generateLongFlows({ out, flows = 200, packetsPerFlow = 5_000, seed = 1 }) {
  rngState = seed | 0;
  const server = 0xc6120050;
  const request = (n, i) => Buffer.from(`GET /api/items/${n}/${i} HTTP/1.1\r\nHost: api.example\r\nAccept: application/json\r\n\r\n`);
  const answer = httpResponse(200, 'OK', jsonBody(600), 'keep-alive');
  const bulkGet = Buffer.from('GET /download/big.bin HTTP/1.1\r\nHost: files.example\r\nAccept: */*\r\n\r\n');
  const segment = Buffer.alloc(MSS, 0x5a);
  const HANDSHAKE = 3;
  const CLOSE = 4;
  // Exchanges of three packets each between the opening (a bulk flow's GET adds one) and the close.
  const cycles = (bulk) => Math.max(1, Math.floor((packetsPerFlow - HANDSHAKE - CLOSE - (bulk ? 1 : 0)) / 3));
  // The head and the body fill the bulk flow's segments exactly: Content-Length is what the head leaves.
  const bulkBytes = 2 * cycles(true) * MSS;
  const headWith = (length) => Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`);
  const bulkHead = () => headWith(bulkBytes - headWith(bulkBytes).length);
  const state = Array.from({ length: flows }, (_, n) => {
    const bulk = n % 2 === 1;
    return { n, bulk, step: 0, cseq: randU32(), sseq: randU32(), ipId: randInt(1, 60_000), head: bulk ? bulkHead() : null, steps: HANDSHAKE + (bulk ? 1 : 0) + 3 * cycles(bulk) + CLOSE };
  });
  const client = (n) => (0x0a200000 + 1 + n) >>> 0;
  const result = writeCapture(out, (write) => {
    let t = 0;
    let open = flows;
    while (open > 0) {
      for (const f of state) {
        if (f.step >= f.steps) continue;
        t += 10;
        const c = client(f.n);
        const cport = 30_000 + f.n;
        const fromClient = (seqAdd, flags, win, payload) => {
          write(t, c, server, cport, 80, f.cseq, f.sseq, flags, win, payload, f.ipId++, 64);
          f.cseq = (f.cseq + seqAdd) >>> 0;
        };
        const fromServer = (seqAdd, flags, win, payload) => {
          write(t, server, c, 80, cport, f.sseq, f.cseq, flags, win, payload, f.ipId++, 56);
          f.sseq = (f.sseq + seqAdd) >>> 0;
        };
        const s = f.step++;
        const body = s - HANDSHAKE - (f.bulk ? 1 : 0);
        const closing = s - (f.steps - CLOSE);
        if (s === 0) {
          write(t, c, server, cport, 80, f.cseq, 0, SYN, SYN_WIN[0], null, f.ipId++, 64);
          f.cseq = (f.cseq + 1) >>> 0;
        } else if (s === 1) {
          write(t, server, c, 80, cport, f.sseq, f.cseq, SYN | ACK, SYN_WIN[1], null, f.ipId++, 56);
          f.sseq = (f.sseq + 1) >>> 0;
        } else if (s === 2) fromClient(0, ACK, CLIENT_WIN, null);
        else if (closing >= 0) {
          if (closing === 0) fromClient(1, FIN | ACK, CLIENT_WIN, null);
          else if (closing === 1) fromServer(0, ACK, SERVER_WIN, null);
          else if (closing === 2) fromServer(1, FIN | ACK, SERVER_WIN, null);
          else fromClient(0, ACK, CLIENT_WIN, null);
        } else if (body < 0) fromClient(bulkGet.length, PSH | ACK, CLIENT_WIN, bulkGet);
        else if (f.bulk) {
          // Two full segments (the first carries the response head), then the client's ACK of both.
          const k = body % 3;
          if (k === 2) fromClient(0, ACK, CLIENT_WIN, null);
          else {
            const payload = body === 0 ? Buffer.concat([f.head, segment.subarray(0, MSS - f.head.length)]) : segment;
            fromServer(payload.length, k === 1 ? PSH | ACK : ACK, SERVER_WIN, payload);
          }
        } else {
          const k = body % 3;
          if (k === 0) {
            const r = request(f.n, (body / 3) | 0);
            fromClient(r.length, PSH | ACK, CLIENT_WIN, r);
          } else if (k === 1) fromServer(answer.length, PSH | ACK, SERVER_WIN, answer);
          else fromClient(0, ACK, CLIENT_WIN, null);
        }
        if (f.step === f.steps) open--;
      }
    }
  });
  return { file: out, kind: 'long-flows', ...result, flows, spanSeconds: result.packets * 10 / 1e6 };
}

/** Accepts 2000000, 2_000_000, 2,000,000, 2e6, 2M, 500k. */
export function parseCount(text) {
  const m = /^([\d.,_e+]+)\s*([kKmM]?)$/.exec(String(text).trim());
  const n = m ? Number(m[1].replace(/[,_]/g, '')) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1) : NaN;
  if (!Number.isFinite(n) || n < 1) throw new Error(`not a positive count: ${text}`);
  return Math.round(n);
}

function main() {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string', default: '2000000' },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string' },
      stats: { type: 'string' },
      hostile: { type: 'string' },
      'long-flows': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.out) {
    process.stdout.write(
      'usage: node scripts/gen-synthetic.mjs --out FILE [--packets N] [--seed S] [--concurrency N] [--stats FILE.json]\n' +
        '  --concurrency: flows open at once (default: packets / 150, at most 10,500).\n' +
        '  Writes a deterministic synthetic Ethernet/IPv4/TCP pcap (HTTP keep-alive, WebSocket, refused,\n' +
        '  SYN timeouts and retries, retransmissions, resets, zero-window episodes).\n' +
        '  --hostile syn-flood: --packets SYNs (default 1 M) from as many spoofed sources over 10 s.\n' +
        '  --hostile open-flows: --packets / 4 flows (default 500 k) that all stay open, 4 packets each.\n' +
        '  --hostile refused: --packets / 2 connections (default 1 M) refused by one server (SYN, RST-ACK).\n' +
        '  --hostile dns-down, dns-busy: --packets / 2 DNS lookups (default 1 M) of distinct names, each\n' +
        '  answered by ICMP port unreachable (a resolver that is down) or by an A record.\n' +
        '  --long-flows: --packets / 5,000 flows (default 400) of 5,000 packets, all open at once: HTTP\n' +
        '  keep-alive and bulk downloads.\n',
    );
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  if (values['long-flows']) {
    const result = generateLongFlows({ out: values.out, flows: Math.max(1, Math.round(parseCount(values.packets) / 5_000)), seed: Number(values.seed) });
    if (values.stats) writeFileSync(values.stats, JSON.stringify(result, null, 2) + '\n');
    process.stderr.write(`${result.file}: ${result.packets} packets, ${result.fileBytes} bytes (${result.flows} long flows)\n`);
    return;
  }
  if (values.hostile) {
    const result = generateHostile(values.hostile, { out: values.out, packets: values.packets === '2000000' ? null : parseCount(values.packets), seed: Number(values.seed) });
    if (!result) {
      process.stderr.write(`--hostile: one of ${HOSTILE_KINDS.join(', ')}, not ${values.hostile}\n`);
      process.exitCode = 2;
      return;
    }
    if (values.stats) writeFileSync(values.stats, JSON.stringify(result, null, 2) + '\n');
    process.stderr.write(`${result.file}: ${result.packets} packets, ${result.fileBytes} bytes (${values.hostile})\n`);
    return;
  }
  const result = generateSyntheticCapture({
    out: values.out,
    packets: parseCount(values.packets),
    seed: Number(values.seed),
    ...(values.concurrency ? { concurrency: parseCount(values.concurrency) } : {}),
  });
  if (values.stats) writeFileSync(values.stats, JSON.stringify(result, null, 2) + '\n');
  process.stderr.write(
    `${result.file}: ${result.packets} packets, ${result.fileBytes} bytes (${result.averageRecordBytes} B/packet), ` +
      `${result.conversations} flows, open flows mean ${result.openFlows.mean} / max ${result.openFlows.max}, ` +
      `span ${result.spanSeconds} s, generated in ${result.generateSeconds} s\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
