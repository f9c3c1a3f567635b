import type { AppFacts, HttpExchangeFacts } from '../dissect/types.js';
import type { ThinkTurn } from '../flow/analysis.js';
import type { FlowFacts, PacketRef } from './facts.js';
import { fmtDuration, grouped, ms, plural } from './format.js';
import type { FlowRule, RuleContext } from './rules.js';
import { SHOWS } from './shows.js';
import { pathMtuProbed, sentBeforeArrival } from './path-mtu.js';
import { bufferbloat } from './bufferbloat.js';
import { patienceFor } from './capture-end.js';

// Slowness, and whose it is: a handshake answered late (the server, or the path when every round
// trip is as slow), a server that acknowledged a request at once and answered it late (the
// application), a client that connected and then waited to send its request. Each is judged
// against the flow's own round-trip time, above an absolute floor the command line can move.

/** Absolute floors (µs): below them nothing is called slow, whatever the round-trip time. */
export interface SlowThresholds {
  /** SYN to SYN-ACK. */
  handshakeMicros: number;
  /** Last request byte to first response byte. */
  serverMicros: number;
  /** Handshake completed to the client's first request byte. */
  clientMicros: number;
}

/**
 * Defaults. A SYN-ACK takes one round trip: 500 ms is above any terrestrial path (the longest are
 * about 350 ms), below a geostationary satellite hop (about 600 ms). A response within a second
 * is not what anyone opens a capture about; a client that needs more than a second to send the
 * request it connected for is waiting on something else.
 */
export const DEFAULT_SLOW: SlowThresholds = { handshakeMicros: 500_000, serverMicros: 1_000_000, clientMicros: 1_000_000 };

/** A server is slow only when its answer also took this many round trips of the path. */
const SERVER_RTT_FACTOR = 10;
/**
 * A SYN-ACK this many times slower than the round trips after it was slow at the server's end; one
 * within the smaller factor of them took as long as any round trip on the path.
 */
const HANDSHAKE_VS_PATH_SERVER = 3;
const HANDSHAKE_VS_PATH_NETWORK = 1.5;
/** Other connections whose late SYN-ACKs must come with this one's to read it as a release. */
const RELEASED_WITH_MIN_CONNECTIONS = 2;
/** An ACK this much quicker than the handshake's round trip came from a device on the way (below it, host processing blurs the two). */
const ON_THE_WAY_MIN_MICROS = 1000;
/** An ACK may wait this long for data to ride on (RFC 1122's delayed-ACK limit): still "at once". */
const DELAYED_ACK_MICROS = 500_000;

type Side = 'server' | 'network' | 'server-or-network';

function thresholds(ctx: RuleContext): SlowThresholds {
  return ctx.slow ?? DEFAULT_SLOW;
}

/** The one SYN the first SYN-ACK answered, when the handshake was plain (no retry, no RST before it). */
function plainHandshake(f: FlowFacts): { syn: PacketRef; synAck: PacketRef } | null {
  const synAck = f.synAcks[0];
  if (!synAck || f.syns.length !== 1) return null;
  const syn = f.syns[0];
  if (syn.ts > synAck.ts) return null;
  if (f.serverSide.rst && f.serverSide.rst.ts < synAck.ts) return null;
  return { syn, synAck };
}

/** Round trip from the capture point to the server and back, measured after the handshake (µs). */
function pathRttAfterHandshake(f: FlowFacts): { micros: number; packet: number } | null {
  const d = f.analysis?.client.dataRtt;
  return d ? { micros: d.minMs * 1000, packet: d.packet } : null;
}

const slowHandshake: FlowRule = {
  code: 'slow-handshake',
  evaluate(f, ctx) {
    const hs = plainHandshake(f);
    if (!hs) return null;
    const took = hs.synAck.ts - hs.syn.ts;
    const floor = thresholds(ctx).handshakeMicros;
    if (took < floor) return null;
    // A handshake ACK stamped before the SYN-ACK it answers shows the SYN-ACK's stamp is wrong (a
    // clock fault on one packet or one interface): there is no handshake time to measure.
    if (f.handshakeAck && f.handshakeAck.ts < hs.synAck.ts) return null;
    const path = pathRttAfterHandshake(f);
    let side: Side;
    let why: string;
    // An ACK within a millisecond measures no path beyond whatever sent it: the server, or a NAT or
    // proxy beside the capture point that answers for it and may itself have waited on a path.
    const answeredBeside = path !== null && path.micros < ON_THE_WAY_MIN_MICROS;
    // The server's answer on another connection, held at least as long as the SYN waited, arriving
    // with the SYN-ACK: the other connection waited too, so the path (either way) or the server host
    // stalled. It speaks where the server's end would be blamed (so on any path under a millisecond
    // while the handshake floor is 3 ms or more), or nothing could be.
    const serverCouldBeBlamed = !path || took >= HANDSHAKE_VS_PATH_SERVER * path.micros;
    const stall = f.heldWithSynAck ?? null;
    const stalled = stall !== null && serverCouldBeBlamed;
    // Late SYN-ACKs of at least two other connections, answering SYNs sent at other times, within
    // 2 ms: they waited different times and were let go together. A listener answers each SYN as it
    // comes (or drops it, and the client sends it again); two partners rather than one keep a chance
    // meeting of two slow answers from reading as one release.
    const burst = stalled ? null : (f.releasedWithSynAck ?? null);
    const released = burst !== null && burst.connections >= RELEASED_WITH_MIN_CONNECTIONS && serverCouldBeBlamed;
    if (stalled) {
      side = 'server-or-network';
      const apart = stall.ts - hs.synAck.ts;
      const when = apart === 0 ? '' : `, ${short(Math.abs(apart))} ${apart < 0 ? 'before' : 'after'} it`;
      why = `the path or the server host as a whole stalled, not the server's SYN queue: ${stall.connections === 1 ? "the server's ACK on another connection" : `the server's ACKs on ${stall.connections} other connections`} came with the SYN-ACK (#${stall.packet}${when}), acknowledging data sent ${fmtDuration(stall.heldMicros)} before (#${stall.dataPacket})`;
    } else if (released) {
      side = 'server-or-network';
      const packets = `${burst.packets.map((no) => `#${no}`).join(', ')}${burst.packets.length < burst.connections ? ', …' : ''}`;
      why = `it and the SYN-ACKs of ${burst.connections} other connections (${packets}) came within 2 ms, though their SYNs were sent over ${fmtDuration(burst.synSpanMicros)}: they were held and let go together, most likely on the path or by the server host as a whole, not by a listener answering each SYN as it comes`;
    } else if (!path) {
      side = 'server-or-network';
      why = 'no later round trip to compare with, so the server and the path cannot be told apart';
    } else if (answeredBeside) {
      side = 'server';
      why = `the server's end: data was acknowledged within ${short(path.micros)} (#${path.packet}), so the server, or a device in front of it (a NAT or proxy that answers for it, and may itself have waited on a path beyond it), is within a millisecond of the capture point, and the SYN waited there`;
    } else if (took >= HANDSHAKE_VS_PATH_SERVER * path.micros) {
      side = 'server';
      why = `the server's end: data was acknowledged within ${short(path.micros)} (#${path.packet}), so the path is fast and the SYN waited at the server or a device in front of it`;
    } else if (took <= HANDSHAKE_VS_PATH_NETWORK * path.micros) {
      side = 'network';
      why = `the network: every round trip on this path is slow (data was acknowledged after ${short(path.micros)} at best, #${path.packet})`;
    } else {
      side = 'server-or-network';
      why = `slower than the round trips after it (data acknowledged within ${short(path.micros)}, #${path.packet}) but not by enough to clear the path`;
    }
    const ack = f.handshakeAck;
    return {
      code: 'slow-handshake',
      severity: 'warning',
      summary: `SYN-ACK #${hs.synAck.no} came ${fmtDuration(took)} after the SYN #${hs.syn.no}: ${why}`,
      packets: [hs.syn.no, hs.synAck.no],
      facts: {
        synToSynAckMs: ms(took),
        synAckToAckMs: ack ? ms(ack.ts - hs.synAck.ts) : null,
        pathRttMs: path ? ms(path.micros) : null,
        pathRttPacket: path?.packet ?? null,
        thresholdMs: ms(floor),
        responsible: side,
        ...(stalled ? { heldAnswer: { packet: stall.packet, dataPacket: stall.dataPacket, heldMs: ms(stall.heldMicros), connections: stall.connections } } : {}),
        ...(released ? { releasedWith: { packets: burst.packets, connections: burst.connections, synSpanMs: ms(burst.synSpanMicros) } } : {}),
      },
      hint:
        side === 'network'
          ? 'The whole path is slow, not the server: a long or congested route, a saturated link with deep buffers (bufferbloat), a VPN or proxy detour, a satellite hop. Compare with a ping or traceroute from the same client, and look for queueing on the path.'
          : side === 'server'
            ? `The SYN reached the server's side but the SYN-ACK took long: the server's SYN or accept queue is overflowing (SYN cookies, a listen backlog too small), the host is starved of CPU, or a load balancer, SYN proxy or firewall in front of it inspects new connections slowly.${answeredBeside ? " A NAT or proxy that answers for the server (a VM's NAT, a transparent proxy, a load balancer that connects to its backend first) sends the SYN-ACK only once its own connection is up: then capture beyond it to see where that wait went." : ''} Check the listen queue (ss -lnt, netstat -s: SYNs to LISTEN sockets dropped) and the devices in front of the server.`
            : stalled
              ? "Another connection to the server waited as long at the same time, so the handshake was not slow on its own: look at what stalled rather than at the listener. That is the path, one way or both (a Wi-Fi link in power save, roaming or retrying, a link that flapped, a middlebox that buffered), or the server host as a whole (a VM descheduled, a long stop-the-world pause). A held answer does not tell whether the data or its ACK waited; the other flows between the same hosts at that moment show which way, and how wide the stall was."
              : released
                ? "Other SYNs to the server, sent at other times, were answered in the same instant, so the handshake was not slow on its own: look at what held them rather than at the listener. Most often that is the path, one way or both (a Wi-Fi link in power save, roaming or retrying, a link that flapped, a middlebox that buffered), or the server host as a whole (a VM descheduled, a long stop-the-world pause); also a device in front of the server that holds new connections and lets them through together (a firewall waiting on a lookup, a NAT or proxy that answers only once its own connection is up), or an older Linux listener (before 4.4) that resends every pending SYN-ACK on one 200 ms timer, after the first SYN-ACKs were lost. Answers let go together do not tell whether the SYNs or their answers waited; the other flows between the same hosts at that moment show which way, and how wide the stall was."
              : 'Either the path or the server answered the SYN slowly; nothing later in this flow tells which. A capture of a connection that carries data, or a ping to the server, separates the two.',
    };
  },
};

/** A request and its answer, as the dissectors paired them. */
interface Turn {
  /** The HTTP request, or null for the TLS ClientHello. */
  http: { method: string; target: string } | null;
  requestPacket: number;
  requestTs: number;
  responsePacket: number;
  responseTs: number;
}

/** Every flow's turns are looked at; only a slow one is named, so the text is made then. */
function turnName(t: Turn): string {
  if (!t.http) return 'TLS ClientHello';
  const target = t.http.target;
  return `request ${t.http.method} ${target.length > 60 ? `${target.slice(0, 57)}...` : target}`;
}

const NO_TURNS: readonly Turn[] = [];

/** The TLS handshake's turn when its answer took `atLeast` µs or more. */
function tlsTurn(app: AppFacts, atLeast: number): Turn | null {
  const tls = app.tls;
  if (!tls?.clientHello || !tls.serverHello || tls.serverHello.ts - tls.clientHello.ts < Math.max(0, atLeast)) return null;
  return { http: null, requestPacket: tls.clientHello.no, requestTs: tls.clientHello.ts, responsePacket: tls.serverHello.no, responseTs: tls.serverHello.ts };
}

/**
 * The turns whose answer took `atLeast` µs or more, of the exchanges listed (a lean list holds the
 * slowest over the slow-server floor: see turnCount); nothing is allocated for a flow without one.
 */
function turnsOf(f: FlowFacts, atLeast: number): readonly Turn[] {
  const app = f.app;
  if (!app) return NO_TURNS;
  let out: Turn[] | null = null;
  const tls = tlsTurn(app, atLeast);
  if (tls) out = [tls];
  for (const ex of app.http) {
    const t = ex.timing;
    if (!ex.request || !ex.response || t.requestEndAt === null || t.requestEndPacket === null || t.responseAt === null || t.responseAt - t.requestEndAt < Math.max(0, atLeast)) continue;
    (out ??= []).push({ http: ex.request, requestPacket: t.requestEndPacket, requestTs: t.requestEndAt, responsePacket: ex.response.packet, responseTs: t.responseAt });
  }
  return out ?? NO_TURNS;
}

/**
 * How many turns took `atLeast` µs or more: 0 (every answer) or the slow-server floor the flow was
 * dissected with, where the dissector counted the exchanges it did not keep.
 */
function turnCount(f: FlowFacts, atLeast: number): number {
  const app = f.app;
  const counted = app?.httpTurns;
  if (!app || !counted) return turnsOf(f, atLeast).length;
  return (tlsTurn(app, atLeast) ? 1 : 0) + (atLeast <= 0 ? counted.answered : counted.slow);
}

/** The TCP analysis of the same turn (it follows the first and the slowest one): the server's ACK of the request. */
function ackOf(f: FlowFacts, turn: Turn): ThinkTurn | null {
  const think = f.analysis?.serverThink;
  if (!think) return null;
  if (think.maxPacket === turn.responsePacket) return think.max;
  if (think.firstPacket === turn.responsePacket) return think.first;
  return null;
}

/** A duration for a summary; under 10 µs the clock's resolution, not a time, is what shows. */
function short(micros: number): string {
  return micros < 10 ? 'under 0.01 ms' : fmtDuration(micros);
}

const slowServer: FlowRule = {
  code: 'slow-server',
  // Which side waited on which.
  needsKnownRoles: true,
  evaluate(f, ctx) {
    const floor = thresholds(ctx).serverMicros;
    const slow = turnsOf(f, floor);
    if (slow.length === 0) return null;
    const worst = slow.reduce((a, b) => (b.responseTs - b.requestTs > a.responseTs - a.requestTs ? b : a));
    const waited = worst.responseTs - worst.requestTs;
    // The request must have reached the server's TCP well before the answer: an ACK of it came
    // first, within a round trip and a delayed-ACK wait. Without one the request itself may have
    // been late (loss, a slow path) and the application cannot be blamed.
    const ack = ackOf(f, worst);
    if (!ack || ack.ackPacket === null || ack.ackDelayMs === null) return null;
    // The answer's first bytes came with a hole behind them that the path made: they had been sent
    // before and lost, so the wait for them was not the application's alone (the retransmission
    // verdict tells the loss).
    if (worst.responsePacket === f.serverSide.firstData?.no && sentBeforeArrival(f, 'server')) return null;
    const ackDelay = ack.ackDelayMs * 1000;
    // The path's round trip: the handshake's SYN to SYN-ACK (it must reach the server), else the
    // quickest ACK of data, else this ACK itself.
    const hs = plainHandshake(f);
    const path = pathRttAfterHandshake(f);
    const rtt = hs ? hs.synAck.ts - hs.syn.ts : Math.min(ackDelay, path ? path.micros : Infinity);
    if (ackDelay > rtt + DELAYED_ACK_MICROS) return null;
    if (waited < SERVER_RTT_FACTOR * rtt) return null;
    // An ACK quicker than half a round trip cannot come from the server: a proxy, NAT or TCP
    // accelerator between the capture point and the server acknowledged for it.
    const ackedOnTheWay = ackDelay < rtt / 2 && rtt - ackDelay >= ON_THE_WAY_MIN_MICROS;
    const acked = ackedOnTheWay
      ? `though the request was acknowledged after ${short(ackDelay)} (#${ack.ackPacket}, by a proxy or NAT on the way: the handshake took ${short(rtt)})`
      : `though its TCP acknowledged it after ${short(ackDelay)} (#${ack.ackPacket}) on a path of ${short(rtt)}`;
    const tls = worst.http === null;
    const slowAnswers = turnCount(f, floor);
    const others = slowAnswers > 1 ? `; ${plural(slowAnswers - 1, 'other answer')} also took over ${fmtDuration(floor)}` : '';
    return {
      code: 'slow-server',
      severity: 'warning',
      summary: `the server answered the ${turnName(worst)} (#${worst.requestPacket}) after ${fmtDuration(waited)} (#${worst.responsePacket}), ${acked}: the ${tls ? 'TLS server' : 'application'} took about ${fmtDuration(waited - rtt)}${others}`,
      packets: [worst.requestPacket, ack.ackPacket, worst.responsePacket],
      facts: {
        requestPacket: worst.requestPacket,
        ackPacket: ack.ackPacket,
        responsePacket: worst.responsePacket,
        waitedMs: ms(waited),
        ackDelayMs: ack.ackDelayMs,
        pathRttMs: ms(rtt),
        ackedOnTheWay,
        serverTimeMs: ms(waited - rtt),
        slowAnswers,
        answers: turnCount(f, 0),
        thresholdMs: ms(Math.max(floor, SERVER_RTT_FACTOR * rtt)),
        responsible: 'server',
      },
      hint: tls
        ? 'The network delivered the ClientHello at once, and the server took long to send its ServerHello: an overloaded TLS terminator, slow key or certificate operations (an HSM, OCSP stapling fetched on demand), or an SNI lookup waiting on a backend. Check the TLS server or load balancer at that time.'
        : 'The network delivered the request at once (the server\'s TCP acknowledged it), and the application took long to answer: it was busy, waiting on a backend (a database, another service, a lock) or queueing requests. Check the server\'s logs for this request and its dependencies at that time.',
    };
  },
};

const slowClient: FlowRule = {
  code: 'slow-client',
  evaluate(f, ctx) {
    // Only where the client's first bytes are a request it connected to make (HTTP, TLS): in other
    // protocols a client may open a connection ahead of use, or wait for the server to speak.
    const protocol = f.app?.protocol;
    if (protocol !== 'http' && protocol !== 'websocket' && protocol !== 'tunnel' && protocol !== 'tls') return null;
    const ack = f.handshakeAck;
    const first = f.clientSide.firstData;
    if (!ack || !first || f.synAcks.length === 0) return null;
    const serverFirst = f.serverSide.firstData;
    if (serverFirst && serverFirst.ts <= first.ts) return null;
    const waited = first.ts - ack.ts;
    const floor = thresholds(ctx).clientMicros;
    if (waited < floor) return null;
    // The first request bytes had been sent before and lost on the path (see slowServer).
    if (sentBeforeArrival(f, 'client')) return null;
    return {
      code: 'slow-client',
      severity: 'warning',
      summary: `the client completed the handshake (#${ack.no}) and sent its first request byte ${fmtDuration(waited)} later (#${first.no}): the wait was on the client`,
      packets: [ack.no, first.no],
      facts: { handshakeAckPacket: ack.no, firstDataPacket: first.no, waitedMs: ms(waited), thresholdMs: ms(floor), responsible: 'client' },
      hint: 'Both packets come from the client, so no network delay is inside this wait: the client application connected and then was not ready to write (busy, paused, waiting on a lock, a file or another lookup), or it opened the connection ahead of need (a browser preconnect, a pool warming up), which is harmless. If users wait, profile the client between connect() and its first write.',
    };
  },
};

/** Segments a sender may put on the wire before its first ACK comes back (RFC 6928's initial window). */
const INITIAL_WINDOW_SEGMENTS = 10;
/** An MSS for a side that announced none (RFC 9293's default). */
const DEFAULT_MSS = 536;

/** The request whose bytes took longest to arrive, from its first byte (or its body, after a wait for "100 Continue") to its last. */
function longestRequest(app: AppFacts): { ex: HttpExchangeFacts; from: number; took: number } | null {
  let best: { ex: HttpExchangeFacts; from: number; took: number } | null = null;
  for (const ex of app.http) {
    const t = ex.timing;
    if (!ex.request?.complete || t.requestAt === null || t.requestEndAt === null) continue;
    const from = ex.expectContinue?.bodyAt ?? t.requestAt;
    if (!best || t.requestEndAt - from > best.took) best = { ex, from, took: t.requestEndAt - from };
  }
  return best;
}

/**
 * An HTTP request that took the slow-client floor (and three round trips) or more to arrive though all the bytes the client
 * sent on the connection fit in its first flight (ten segments, and the server's SYN-ACK window), with
 * the server's window never shut, no client byte resent and none missed: TCP could have sent the
 * whole request at once, so the client application sent it slowly. Any answer's wait is measured
 * from the request's last byte (slow-server), so the server is not charged with this.
 */
const slowRequest: FlowRule = {
  code: 'slow-request',
  needs: SHOWS.HTTP,
  evaluate(f, ctx) {
    const app = f.app;
    const a = f.analysis;
    if (!app || app.protocol !== 'http' || !a || f.visibility.seen !== 'both' || f.synAcks.length === 0) return null;
    const hit = longestRequest(app);
    const floor = thresholds(ctx).clientMicros;
    // Three round trips too: on a slow path one or two are TCP's own (Nagle holds a body written
    // after the head until the head's ACK comes back).
    if (!hit || hit.took < patienceFor(f, floor)) return null;
    const mss = Math.min(f.serverSide.mss ?? DEFAULT_MSS, f.clientSide.mss ?? DEFAULT_MSS);
    const clientBytes = f.clientSide.bytes;
    if (clientBytes > INITIAL_WINDOW_SEGMENTS * mss || clientBytes > (f.serverSide.synWindow ?? 0)) return null;
    if (a.server.zeroWindow > 0 || a.client.retransmission > 0 || f.clientSide.missedBytes > 0 || app.gaps.some((g) => g.dir === 0)) return null;
    const { ex, took } = hit;
    const req = ex.request!;
    const resp = ex.response;
    const answeredAfter = resp && ex.timing.responseAt !== null ? ex.timing.responseAt - ex.timing.requestEndAt! : null;
    const bodyFirst = ex.expectContinue?.bodyPacket ?? null;
    return {
      code: 'slow-request',
      severity: 'warning',
      summary: `the client took ${fmtDuration(took)} to send ${bodyFirst !== null ? 'the body of ' : ''}its request ${req.method} ${req.target} (#${bodyFirst ?? req.packet} to #${ex.timing.requestEndPacket}), though the ${grouped(clientBytes)} bytes it sent on this connection fit in one flight: the wait was on the client${
        resp && answeredAfter !== null ? `; the server answered ${fmtDuration(answeredAfter)} after the last byte (#${resp.packet})` : ''
      }`,
      packets: [bodyFirst ?? req.packet, ex.timing.requestEndPacket!, ...(resp ? [resp.packet] : [])],
      facts: {
        requestPacket: req.packet,
        lastRequestPacket: ex.timing.requestEndPacket,
        tookMs: ms(took),
        clientBytes,
        answeredAfterMs: answeredAfter === null ? null : ms(answeredAfter),
        responsePacket: resp?.packet ?? null,
        thresholdMs: ms(floor),
        responsible: 'client',
      },
      hint: "TCP could have sent the whole request at once (it fit in the client's first flight and the server's window stayed open), so its pieces left slowly because the client wrote them slowly: a person typing it (telnet, nc), a body streamed from a slow source (a file being written, a pipe, another request) or computed as it went, or a client paused between writes. The server is not slow here: its answer is timed from the request's last byte. Build the request and its body before sending, or look at what the client reads them from.",
    };
  },
};

/**
 * A flow made only of packets stamped no later than packets its 4-tuple already carried: the capture holds
 * an earlier connection again with its clock stepped back (a SYN among the copies starts a flow of
 * its own). It is that connection's copy, so it is the flow's only verdict.
 */
const replayedFlow: FlowRule = {
  code: 'replayed-packets',
  exclusive: true,
  evaluate(f) {
    const back = f.analysis?.packetsBackInTime ?? 0;
    const packets = f.clientSide.packets + f.serverSide.packets;
    if (back === 0 || back < packets) return null;
    return {
      code: 'replayed-packets',
      severity: 'info',
      summary: `all ${plural(packets, 'packet')} of this flow (#${f.firstPacket}..#${f.lastPacket}) are stamped no later than packets of ${f.client} -> ${f.server} already seen: the capture holds that connection again, with its clock stepped back; nothing here to judge`,
      packets: [f.firstPacket],
      facts: { packets, firstPacket: f.firstPacket },
      hint: 'The file repeats packets with earlier timestamps (captures merged twice, or the same packets captured on two interfaces and written with different clocks). Judge the first copy of the connection; the capture diagnostic CAPTURE_TIME_BACKWARDS says where the clock steps back.',
    };
  },
};

/** Slowness rules and the flows a stepped-back clock replays, evaluated after the TCP analysis rules. */
/**
 * Nagle's algorithm meeting delayed ACKs: small segments of one side that left only when the peer's
 * late, bare ACK of the previous one came (see noteHeldSegment in flow/analysis.ts). Each costs the
 * peer's delayed-ACK wait, 40 ms on Linux and up to 200 ms on Windows, on every message written in
 * pieces. A pattern that cost the connection a tenth of a second or more is a warning; less is a line.
 */
const NAGLE_PATTERN_SEGMENTS = 3;
const NAGLE_PATTERN_MS = 100;
const nagleDelay: FlowRule = {
  code: 'nagle-delay',
  needs: SHOWS.HELD_FOR_ACK,
  // Which side waited on which.
  needsKnownRoles: true,
  evaluate(f) {
    const a = f.analysis;
    if (!a) return null;
    const who = (a.client.heldForAck?.totalMs ?? 0) >= (a.server.heldForAck?.totalMs ?? 0) ? 'client' : 'server';
    const held = (who === 'client' ? a.client : a.server).heldForAck;
    if (!held) return null;
    const peer = who === 'client' ? 'server' : 'client';
    const ackWait = held.longestMs;
    return {
      code: 'nagle-delay',
      severity: held.segments >= NAGLE_PATTERN_SEGMENTS && held.totalMs >= NAGLE_PATTERN_MS ? 'warning' : 'info',
      summary: `${held.segments === 1 ? 'once' : `${held.segments} times`} the ${who}'s next small segment waited for the ${peer}'s late ACK of its last one (${held.segments === 1 ? '' : 'longest '}${fmtDuration(ackWait * 1000)}: #${held.afterPacket}, then the bare ACK #${held.ackPacket}, then #${held.packet} at once${held.segments === 1 ? '' : `; ${fmtDuration(held.totalMs * 1000)} in all`}): Nagle's algorithm on the ${who} meeting delayed ACKs on the ${peer}`,
      packets: [held.afterPacket, held.ackPacket, held.packet],
      facts: { side: who, segments: held.segments, totalMs: held.totalMs, longestMs: held.longestMs, afterPacket: held.afterPacket, ackPacket: held.ackPacket, packet: held.packet },
      hint: `The ${who} writes a message in pieces (a header, then a body) on a socket with Nagle's algorithm on: its TCP holds a small piece while an earlier one is unacknowledged, and the ${peer}, with nothing to send back until the message is whole, delays its ACK (40 ms on Linux, up to 200 ms on Windows). Every such message waits that long. Set TCP_NODELAY on the ${who}'s socket (Node and Go set it by default; Python, Java and C sockets do not), or write each message in one call (one buffer, writev, or TCP_CORK and uncork).`,
    };
  },
};

export const TIMING_RULES: FlowRule[] = [replayedFlow, slowHandshake, slowServer, slowClient, slowRequest, pathMtuProbed, bufferbloat, nagleDelay];
