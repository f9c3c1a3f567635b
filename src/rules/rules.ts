import type { Verdict } from './verdict.js';
import type { FlowFacts, IcmpFact, PacketRef, SideFacts } from './facts.js';
import { endpointOf, initialTtl, isFragmentationNeeded, rolesUnproven, ROLES_UNPROVEN_NOTE } from './facts.js';
import type { HttpExchangeFacts, HttpResponseFacts } from '../dissect/types.js';
import { hasHeaderToken } from '../dissect/http.js';
import { fmtDuration, ms, plural } from './format.js';
import { APP_RULES, requestAfterServerClose } from './app-rules.js';
import { TCP_FLOW_RULES } from './tcp-rules.js';
import { clientDroppedIdle, idleBeforeServerFin } from './idle-closes.js';
import { scanProbe } from './scan-rules.js';
import { TLS_RULES } from './tls-rules.js';
import type { AnswerLog, AnswersUnknown } from './answer-log.js';
import { unroutableAddress } from './address-rules.js';
import { TIMING_RULES, type SlowThresholds } from './timing-rules.js';
import type { DnsLog } from './dns-log.js';
import type { VisibilityLog } from './visibility.js';
import { addCaptureDrops } from './capture-drops.js';
import { awaitedSynAck, captureEnded, endedTooEarly, endedUnclosed, SYN_PATIENCE_MICROS, watchOf, whenWatchEnded } from './capture-end.js';
import type { CaptureWatch, SentPacket } from './capture-watch.js';
import { retryPatience } from '../flow/table.js';
import { icmpHint, lookupWords, neighbourUnanswered } from './unreachable-rules.js';
import { SHOWS } from './shows.js';

// Verdict rules: one table, each rule a small function over a flow's facts (Zeek's conn_state
// style). Rules are evaluated in order and every rule that applies adds its verdict.

export interface RuleContext {
  /** Time of the last packet in the capture (µs). */
  captureEnd: number;
  /** Addresses whose ARP requests or IPv6 Neighbor Solicitations were never answered, with the evidence. */
  neighboursUnanswered: Map<string, UnansweredLookup>;
  /** ICMP errors quoting a SYN of a connection the capture holds no packet of (capture-level only). */
  icmpAboutUnseenSyns?: IcmpAboutUnseenSyn[];
  /** Per server endpoint (ip:port), the SYNs it answered (SYN-ACK or RST), over the last minutes of packet time. */
  answers: AnswerLog;
  /** Floors of the slow-* verdicts (default DEFAULT_SLOW). */
  slow?: SlowThresholds;
  /** The capture's DNS lookups, when it was read packet by packet (capture-level DNS verdicts). */
  dns?: DnsLog;
  /** Host pairs and hosts whose peers' packets the capture misses, and which hosts received packets. */
  visibility?: VisibilityLog;
  /** How long the capture went on watching each flow (joined recordings, hosts last seen). */
  watch?: CaptureWatch;
  /** Probe-like flows were held back until a scan could no longer count them (probe-hold.ts). */
  probesHeld?: boolean;
}

export interface UnansweredLookup {
  /** ARP who-has (IPv4) or Neighbor Solicitation (IPv6). */
  protocol: 'arp' | 'ndp';
  requests: number;
  firstNo: number;
  lastNo: number;
  firstTs: number;
  lastTs: number;
  /**
   * The capture holds replies to the (first) asker, so it would show this one's. Without any, the
   * lookup counts only when one host asked again and again within seconds, which it does not once answered.
   */
  repliesSeen: boolean;
  /** The capture holds replies to anyone. */
  repliesInCapture: boolean;
  /** The host that made every request, or null when several did. */
  asker: string | null;
}

/** An ICMP error quoting a SYN the capture does not hold: the error (its first one) and the connection it names. */
export interface IcmpAboutUnseenSyn extends IcmpFact {
  /** Errors about the same connection, and the last one's packet number. */
  count: number;
  lastNo: number;
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
}

export interface FlowRule {
  code: string;
  /** When it applies, its verdict is the flow's only one (it explains the flow as a whole). */
  exclusive?: boolean;
  /**
   * It rests on what one side did not send (no answer, no close): said only of flows whose two
   * directions the capture holds (FlowFacts.visibility), since a capture missing one side shows
   * that side as silent.
   */
  needsBothSides?: boolean;
  /**
   * It says which side did what by its role (who owed an answer, who closed, who waited): said only
   * of flows whose packets prove the roles (rolesUnproven), since on a connection caught mid-stream
   * the first packet's guess is as likely wrong.
   */
  needsKnownRoles?: boolean;
  /**
   * What the flow must show for the rule to apply (SHOWS bits, all of them): a flow that lacks one
   * is not asked. Only what evaluate returns null without, so that skipping it changes nothing.
   */
  needs?: number;
  evaluate(f: FlowFacts, ctx: RuleContext): Verdict | null;
}

const REFUSED_HINT =
  'Nothing was listening on that address and port, or a firewall answered for it. Check the port and host (a typo, or DNS pointing at another machine), whether the service is running, whether it is bound to 127.0.0.1 or another interface only, and whether a proxy or load balancer in the path has no backend for it.';

/**
 * Describes a SYN retry schedule without assuming one OS. A schedule is named only from two or
 * more intervals that agree (each about twice the one before) and only as the OS the sender's
 * TTL allows: 1 s doubling from an initial TTL of 64 is Linux, 3 s doubling from 128 is Windows.
 */
export function retrySchedule(intervals: number[], ttl: number | null): string {
  if (intervals.length === 0) return '';
  const s = intervals.map((i) => fmtDuration(i)).join(', ');
  if (intervals.length < 2) return s;
  if (!isBackoff(intervals)) return s;
  const secs = intervals.map((i) => i / 1e6);
  const initial = initialTtl(ttl);
  if (Math.abs(secs[0] - 1) < 0.25) return `${s} (1 s doubling${initial === 64 ? ': Linux' : ''})`;
  if (Math.abs(secs[0] - 3) < 0.5) return `${s} (3 s doubling${initial === 128 ? ': Windows' : ''})`;
  return `${s} (exponential backoff)`;
}

/** Each wait about twice the one before: a TCP retransmission timer backing off. */
function isBackoff(intervals: number[]): boolean {
  return intervals.every((x, k) => k === 0 || (x > intervals[k - 1] * 1.6 && x < intervals[k - 1] * 2.4));
}

/** "retry after 1 s" or "retries after 1 s, 2 s (...)". */
function retriesAfter(intervals: number[], ttl: number | null): string {
  return `${intervals.length === 1 ? 'retry' : 'retries'} after ${retrySchedule(intervals, ttl)}`;
}

function intervalsOf(refs: { ts: number }[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < refs.length; i++) out.push(refs[i].ts - refs[i - 1].ts);
  return out;
}

/**
 * SYNs to the same server:port answered by other flows between this one's first and last SYN: an
 * answer before the first or after the last shows the listener up at another time, not while it
 * ignored these (a firewall rule added, or the host gone, just after a connection it served).
 */
export function answeredMeanwhile(f: FlowFacts, answers: AnswerLog): number {
  if (f.syns.length === 0) return 0;
  return answers.count(f.server, f.syns[0].ts, f.syns[f.syns.length - 1].ts);
}

/** Null when the log holds every answer the server gave between this flow's first and last SYN, else why it may not. */
export function answersUnknownMeanwhile(f: FlowFacts, answers: AnswerLog): AnswersUnknown | null {
  if (f.syns.length === 0) return null;
  return answers.unknownBecause(f.server, f.syns[0].ts, f.syns[f.syns.length - 1].ts);
}

/**
 * Why none counted may not prove none answered, or null: the log held every answer of the flow's
 * SYN window as the flow ended (when that was noted) or holds them now. A log loses answers but
 * never finds them again, so known then or now is known.
 */
function answersUnknownOf(f: FlowFacts, answers: AnswerLog): AnswersUnknown | null {
  const now = answersUnknownMeanwhile(f, answers);
  if (now === null || f.otherSynAnswersUnknown === undefined) return now;
  return f.otherSynAnswersUnknown;
}

/** Windows answers a refused connect by sending the SYN twice more, about 0.5 s apart. */
function refusedRetries(f: FlowFacts, intervals: number[]): string {
  const windows = f.syns.length === 3 && initialTtl(f.clientSide.ttl) === 128 && intervals.every((i) => i >= 300_000 && i <= 1_000_000);
  return `${retriesAfter(intervals, null)}${windows ? `: a Windows client (TTL ${f.clientSide.ttl}), which retries a refused connect twice` : ''}`;
}

/**
 * The server's RST/ACK with sequence number 0 that is all the flow holds: a closed port's answer
 * to a SYN the capture does not hold (its ACK number is that SYN's sequence number + 1), as a
 * capture of one direction (tcpdump -Q in) or one started a moment late shows a refused connect.
 */
function refusalOfUnseenSyn(f: FlowFacts): PacketRef | null {
  const s = f.serverSide;
  if (f.afterIdle || f.syns.length > 0 || f.synAcks.length > 0 || f.clientSide.packets > 0) return null;
  return s.rstAnswersSyn && s.rsts === s.packets ? s.rst : null;
}

const refused: FlowRule = {
  code: 'refused',
  needs: SHOWS.SERVER_RST,
  evaluate(f) {
    const unseenSynRst = refusalOfUnseenSyn(f);
    if (unseenSynRst) {
      return {
        code: 'refused',
        severity: 'error',
        summary: `RST: no listener on ${f.server} (RST #${unseenSynRst.no}, sequence number 0, answers a SYN from ${f.client} that is not in the capture)`,
        packets: [unseenSynRst.no],
        facts: { syns: 0, refused: 1, rsts: f.serverSide.rsts, synPacket: null, rstPacket: unseenSynRst.no, serverTtl: f.serverSide.ttl },
        hint: `ECONNREFUSED. ${REFUSED_HINT}`,
      };
    }
    const rst = f.serverSide.rst;
    if (!rst || f.synAcks.length > 0 || f.syns.length === 0 || f.serverSide.bytes > 0) return null;
    // With retries, the first SYN and its RST; serverSide.rst answers the last retry.
    const earlier = f.refusedBeforeRetry;
    const firstRst = earlier ? earlier.firstRst : rst;
    const syn = earlier ? f.syns[0] : ([...f.syns].reverse().find((s) => s.ts <= rst.ts) ?? f.syns[0]);
    const n = f.syns.length;
    const intervals = intervalsOf(f.syns);
    const refusedCount = (earlier?.count ?? 0) + 1;
    const each = refusedCount >= n ? 'each refused' : `${refusedCount} refused`;
    const extra = n > 1 ? `; ${n} SYNs #${f.syns.map((s) => s.no).join(', #')}, ${each} (${refusedRetries(f, intervals)})` : '';
    // A capture point on both sides of a router holds the SYN twice: the RST answers the copy
    // captured nearer the server (its TTL no higher: it crossed the router), so its time is counted from there.
    const copy = f.clientSide.copies;
    const seenAgain = copy && copy.copyOf === syn.no && copy.firstPacket < firstRst.no && copy.ttlChange <= 0 ? copy : null;
    const answeredAfter = seenAgain ? seenAgain.firstTs : syn.ts;
    const synText = seenAgain ? `SYN #${syn.no}, captured again as #${seenAgain.firstPacket} ${fmtDuration(seenAgain.firstTs - syn.ts)} later,` : `SYN #${syn.no}`;
    return {
      code: 'refused',
      severity: 'error',
      summary: `RST: no listener on ${f.server} (${synText} answered by RST #${firstRst.no} in ${fmtDuration(firstRst.ts - answeredAfter)})${extra}`,
      packets: (n > 1 ? f.syns.map((s) => s.no).concat(firstRst.no) : [syn.no, rst.no]).concat(seenAgain ? [seenAgain.firstPacket] : []).sort((a, b) => a - b),
      facts: { syns: n, refused: refusedCount, rsts: f.serverSide.rsts, intervalsMs: intervals.map(ms), synPacket: syn.no, rstPacket: firstRst.no, answerMs: ms(firstRst.ts - answeredAfter), ...(seenAgain ? { answerFromPacket: seenAgain.firstPacket } : {}), serverTtl: f.serverSide.ttl },
      hint: `ECONNREFUSED. ${REFUSED_HINT}`,
    };
  },
};

/**
 * SYN retries that prove on their own that no SYN-ACK reached the client: at least this many SYNs,
 * each wait about twice the one before. A client that got one would have ACKed it, not resent.
 */
const SYN_RETRIES_PROVE_SILENCE = 4;

function retriedWithBackoff(f: FlowFacts): boolean {
  if (f.syns.length < SYN_RETRIES_PROVE_SILENCE) return false;
  return isBackoff(intervalsOf(f.syns));
}

/**
 * A connecting TCP sends its SYN again within this long when no SYN-ACK came (1 s on Linux and
 * macOS, 3 s on older Windows), with half a second to spare. A SYN not sent again though the
 * capture went on longer was given up by the client.
 */
export const SYN_RETRY_DUE_MICROS = SYN_PATIENCE_MICROS + 500_000;

/** A SYN the client never answered for the syn-timeout rules: no answer, no data, nothing else from either side. */
export function synUnanswered(f: FlowFacts): boolean {
  if (f.syns.length === 0 || f.synAcks.length > 0 || f.serverSide.packets > 0 || f.icmp.length > 0 || f.clientSide.rst) return false;
  return f.clientSide.bytes === 0 && f.handshakeAck === null;
}

/**
 * How long after the last SYN a packet from the server's address still counts as sent while the
 * SYNs went unanswered: the least retransmission timeout (RFC 6298), within which a SYN-ACK to the
 * last SYN was due. Later, a host down when the SYNs came may have started meanwhile.
 */
const SENT_AFTER_LAST_SYN_MICROS = 1_000_000;

/**
 * How long after the last SYN a packet from the server's address is still worth citing beside "host
 * down": it shows the host up by then, if not while the SYNs came.
 */
const SENT_SOON_AFTER_LAST_SYN_MICROS = 30_000_000;

/**
 * The first packet from the server's address (not an RST nor an ICMP message) after its first
 * unanswered SYN, within what the capture watched of the flow (packets up to `watchedTo`) and
 * before any seam of joined captures after it; `by` bounds how long after the last SYN. Null when
 * the capture holds none, and when the client has the server's address (its own packets would count).
 */
function serverSentAfterSyn(f: FlowFacts, ctx: RuleContext, watchedTo: number, by: number): SentPacket | null {
  const sent = f.serverSent;
  if (!sent || f.clientIp === f.serverIp) return null;
  if (sent.packet > Math.min(watchedTo, ctx.watch?.lastBeforeSeamFrom(f.lastPacket) ?? Infinity)) return null;
  const first = f.syns[0];
  const last = f.syns[f.syns.length - 1];
  return sent.ts >= first.ts && sent.ts - last.ts <= by ? sent : null;
}

/** A packet from the server's address while its SYNs went unanswered: at most SENT_AFTER_LAST_SYN_MICROS after the last (see serverSentAfterSyn). */
function serverSentMeanwhile(f: FlowFacts, ctx: RuleContext, watchedTo: number): SentPacket | null {
  return serverSentAfterSyn(f, ctx, watchedTo, SENT_AFTER_LAST_SYN_MICROS);
}

/** The neighbour lookups for the server that went unanswered, when any was answered in the capture (so the capture holds them). */
function lookupUnanswered(f: FlowFacts, ctx: RuleContext) {
  const lookup = ctx.neighboursUnanswered.get(f.serverIp);
  return lookup?.repliesSeen ? lookup : null;
}

/**
 * One SYN, never sent again though the capture went on past the client's first retry: its
 * application gave the attempt up (a connect timeout under a second, a closed socket, Happy
 * Eyeballs dropping the slower address), so how long the server had to answer is unknown.
 */
function abandonedBeforeRetry(f: FlowFacts, ctx: RuleContext): boolean {
  if (f.syns.length !== 1 || f.visibility.seen !== 'both' || lookupUnanswered(f, ctx)) return false;
  // The client's host still sending when the retry was due: one that went quiet (suspended,
  // unplugged, out of the capture's view) sent no retry for another reason.
  return watchOf(f, ctx).ts > f.syns[0].ts + SYN_RETRY_DUE_MICROS && f.clientSentAfterRetryDue === true;
}

const synAbandoned: FlowRule = {
  code: 'syn-abandoned',
  needs: SHOWS.SYN_UNANSWERED,
  evaluate(f, ctx) {
    if (!synUnanswered(f) || !abandonedBeforeRetry(f, ctx)) return null;
    const syn = f.syns[0];
    const watch = watchOf(f, ctx);
    const waited = watch.ts - syn.ts;
    return {
      code: 'syn-abandoned',
      severity: 'warning',
      summary: `SYN #${syn.no} unanswered and never sent again in the ${fmtDuration(waited)} ${watch.until === 'reused' ? `before the client's next connection on the same ports, SYN #${watch.packet}` : 'the capture went on'}: the client gave the attempt up before its TCP's first retry (due within 1 to 3 s), so how long ${f.server} had to answer is not known`,
      packets: [syn.no],
      facts: { synPacket: syn.no, waitedAfterSynMs: ms(waited) },
      hint: 'A connecting TCP resends an unanswered SYN after 1 s (3 s on older Windows); this one never did, so the application ended the attempt first: a connect timeout shorter than a second, a socket closed early (a cancelled request, a peer-to-peer client dropping slow peers), or Happy Eyeballs dropping one address once another connected. A host down or a firewall dropping the SYN would look the same, but so would a server that was about to answer: look for the same client connecting elsewhere at that moment, and raise the connect timeout if this attempt mattered.',
    };
  },
};

const synTimeout: FlowRule = {
  code: 'syn-timeout',
  needs: SHOWS.SYN_UNANSWERED,
  evaluate(f, ctx) {
    if (!synUnanswered(f)) return null;
    // Where the capture misses the server's direction only the client's own back-off can tell.
    const serverUnseen = f.visibility.seen !== 'both';
    if (serverUnseen && (f.visibility.seen !== 'client-only' || f.clientSide.packets !== f.syns.length || !retriedWithBackoff(f))) return null;
    const last = f.syns[f.syns.length - 1];
    const watch = watchOf(f, ctx);
    const end = watch.ts;
    const waited = end - last.ts;
    if (end - f.syns[0].ts < SYN_PATIENCE_MICROS) return null; // the client may still be retrying: capture-ended
    if (abandonedBeforeRetry(f, ctx)) return null; // syn-abandoned
    const intervals = intervalsOf(f.syns);
    const span = last.ts - f.syns[0].ts;
    // Counted as the flow ended and again now: a flow held back is judged after the log forgot its
    // answers, while a capture whose clock steps back (recordings joined) may log some only later.
    const answeredOthers = Math.max(f.otherSynsAnsweredMeanwhile ?? 0, answeredMeanwhile(f, ctx.answers));
    const answersUnknown = answeredOthers > 0 ? null : answersUnknownOf(f, ctx.answers);
    const unanswered = lookupUnanswered(f, ctx);
    // Said only where it is the cause given: a listener that answered others, an unanswered ARP or a missing direction says more.
    const sent = answeredOthers > 0 || unanswered || serverUnseen ? null : serverSentMeanwhile(f, ctx, watch.packet);
    let cause: string;
    let hint: string;
    let sentLater: SentPacket | null = null;
    if (answeredOthers > 0) {
      cause = `listener overloaded: ${f.server} answered ${plural(answeredOthers, 'other SYN')} meanwhile, so the host is up and its accept queue is full or a filter drops these`;
      hint = 'The host is up: its listen (accept) queue is full or a per-source filter drops these SYNs. Raise the listen backlog and net.core.somaxconn, make the application accept() faster, check net.ipv4.tcp_abort_on_overflow and SYN-flood protection, and any per-client rate limits.';
    } else if (unanswered) {
      const { asked, requests } = lookupWords(unanswered, f.serverIp);
      cause = `host down: ${asked} never answered (${requests})`;
      hint = 'No machine on the local segment answers for that address: it is down, unplugged, or the address is wrong. Check the host and its IP, and the subnet mask and gateway of the client.';
    } else if (serverUnseen) {
      cause = `the capture holds none of the server's direction, but the client resent its SYN ${f.syns.length - 1} times with back-off and never acknowledged anything, so no SYN-ACK reached it: host down, a firewall dropping the SYN or its answer, or a wrong IP`;
      hint = 'connect timeout. The capture misses the server\'s packets (one direction only), so it cannot show whether the server answered and the answer was lost on the way back, or never answered: capture on the server side or on a link that carries both directions to tell. Check that the host is up, the security group / iptables rules, and that the IP is right.';
    } else if (sent !== null) {
      const when = sent.ts >= last.ts ? `${fmtDuration(sent.ts - last.ts)} after the last SYN` : 'between them';
      cause = `no answer, though ${f.serverIp} sent other packets meanwhile (#${sent.packet}, ${when}): a firewall dropping SYNs to port ${f.serverPort} or from this client, a listener too busy to answer, or a wrong IP`;
      hint = "Something at that address was sending packets while these SYNs went unanswered: these SYNs are dropped without a word, or what answers at the address is not the server they were meant for. A host or network firewall, security group or NAT port forward with no rule for the port (DROP rather than REJECT: a closed port with no firewall answers with a RST), or one that blocks this client (fail2ban, a rate limit); a NAT, load balancer, proxy or captive portal at that address whose server for this port is down; a listen queue so full that the kernel drops SYNs (other clients' SYNs would go unanswered alike); or a wrong IP that another live host holds. Check the firewall rules for this port on the host and the path, what answers at that address, and ss -lnt on the host (Recv-Q against Send-Q).";
    } else if (answersUnknown !== null) {
      const why = answersUnknown === 'answers' ? 'the capture held more SYN answers than tcpwhy keeps' : 'the capture held answers from more servers than tcpwhy follows';
      cause = `no answer: host down, a firewall dropping the SYN, a wrong IP, or a listener too busy to answer; whether ${f.server} answered other SYNs meanwhile is not known (${why})`;
      hint = 'connect timeout / EINPROGRESS that never completes. Nothing answered these SYNs: the host is down or unreachable, a firewall or security group silently drops the SYN, the address is wrong, or the listen (accept) queue is full. Answers the server gave other clients at the time would tell the last apart, but the capture held too many to keep. Check that the host is up, the security group / iptables rules, that the IP is right, and the listen backlog (ss -lnt: Recv-Q against Send-Q).';
    } else {
      // Later than a SYN-ACK was due, a packet from the address proves less: up by then.
      sentLater = serverSentAfterSyn(f, ctx, watch.packet, SENT_SOON_AFTER_LAST_SYN_MICROS);
      const upBy = sentLater ? `; ${f.serverIp} sent #${sentLater.packet} ${fmtDuration(sentLater.ts - last.ts)} after the last SYN, so something at that address was up by then` : '';
      cause = `no answer at all: host down, a firewall dropping the SYN, or a wrong IP${upBy}`;
      hint = 'connect timeout / EINPROGRESS that never completes. Nothing answered: the host is down or unreachable, a firewall or security group silently drops the SYN (DROP rather than REJECT), the address is wrong (stale DNS), or the route is black-holed. Check the security group / iptables rules on the server and the path, and that the IP is right.';
    }
    return {
      code: 'syn-timeout',
      severity: 'error',
      summary:
        f.syns.length === 1
          ? `SYN unanswered, ${cause} (SYN #${last.no}, not retried in the ${fmtDuration(waited)} ${watch.until === 'reused' ? `before the client's next connection on the same ports, SYN #${watch.packet}` : 'the capture went on'})`
          : `${f.syns.length === 2 ? 'SYN retried once' : 'SYN retries'}, ${cause} (${plural(f.syns.length, 'SYN')} #${f.syns.map((s) => s.no).join(', #')} over ${fmtDuration(span)}; ${retriesAfter(intervals, f.clientSide.ttl)})`,
      packets: f.syns.map((s) => s.no),
      facts: {
        syns: f.syns.length,
        retries: f.syns.length - 1,
        intervalsMs: intervals.map(ms),
        spanMs: ms(span),
        waitedAfterLastSynMs: ms(waited),
        otherSynsAnsweredMeanwhile: answeredOthers,
        listenerOverloaded: answeredOthers > 0,
        ...(answersUnknown === null ? {} : { otherSynAnswersUnknown: answersUnknown }),
        arpUnanswered: Boolean(unanswered),
        ...(sent === null ? {} : { serverSentPacket: sent.packet }),
        ...(sentLater === null ? {} : { serverSentLaterPacket: sentLater.packet }),
      },
      hint,
    };
  },
};

const synRetryThenConnected: FlowRule = {
  code: 'syn-retry-then-connected',
  needs: SHOWS.SYN_RETRIED,
  evaluate(f) {
    // Connected: a SYN-ACK the client never acknowledged ended no retrying (half-open says what it did).
    if (f.syns.length < 2 || f.synAcks.length === 0 || f.handshakeAck === null) return null;
    const synAck = f.synAcks[0];
    // Only SYNs sent before the answer are retries it ended; one sent after it means the client did not take that SYN-ACK.
    const syns = f.syns.filter((s) => s.ts <= synAck.ts);
    if (syns.length < 2) return null;
    const delay = synAck.ts - syns[0].ts;
    const refused = f.refusedBeforeRetry;
    return {
      code: 'syn-retry-then-connected',
      severity: 'warning',
      summary: `SYN retried ${syns.length === 2 ? 'once' : `${syns.length - 1} times`} before the SYN-ACK #${synAck.no}${refused ? ` (${refused.count === 1 ? 'the first try was' : `${refused.count} tries were`} refused, RST #${refused.firstRst.no})` : ''}: connecting took ${fmtDuration(delay)} (${retriesAfter(intervalsOf(syns), f.clientSide.ttl)})`,
      packets: [...syns.map((s) => s.no), synAck.no],
      facts: { syns: syns.length, connectDelayMs: ms(delay), intervalsMs: intervalsOf(syns).map(ms) },
      hint: 'The first SYN (or its SYN-ACK) was lost: packet loss on the path, or the server dropped it because its SYN/accept queue was full. Look for loss on the path and for listen-queue overflows on the server (netstat -s: "times the listen queue of a socket overflowed").',
    };
  },
};

/** A SYN-ACK this soon after a SYN may answer it, however quickly the server answered the first. */
const ANSWER_JITTER_MICROS = 10_000;
/**
 * A first SYN-ACK later than this after the SYN took no round trip but a wait (a queue, a proxy
 * connecting first): answers to the client's repeated SYNs need not come as soon, and which
 * SYN-ACKs answered a SYN and which the server's timer sent, the packets do not tell.
 */
const FIRST_ANSWER_ROUND_TRIP_MAX_MICROS = 1_000_000;

/**
 * A server that has not got the final ACK re-sends its SYN-ACK after its first retransmission
 * timeout (1 s on Linux, 3 s on Windows). One that re-sends only this long after its first, with
 * no earlier re-send and the client's ACK captured before, had the ACK: its retries were skipped.
 */
const DEFERRED_RESEND_MICROS = 6_000_000;

/**
 * The client's final ACK, when the SYN-ACK re-sends are a deferred accept's (Linux TCP_DEFER_ACCEPT:
 * a request whose ACK came without data is kept out of the accept queue, its SYN-ACK retries skipped
 * until the defer period ends, 1+2+4+8+16 = 31 s for nginx's default): the ACK came before the first
 * re-send, with no data from the client in between, and that re-send came late.
 */
function deferredAccept(f: FlowFacts, firstResent: PacketRef): PacketRef | null {
  const ack = f.handshakeAck;
  if (ack === null || ack.ts > firstResent.ts) return null;
  if (f.clientSide.firstData && f.clientSide.firstData.ts < firstResent.ts) return null;
  return firstResent.ts - f.synAcks[0].ts >= DEFERRED_RESEND_MICROS ? ack : null;
}

/** The client's first packet after its first RST, when that is its SYN sent again (see table.ts isRetryAfterClientRst); null otherwise. */
function synSentAgainAfterRst(f: FlowFacts): PacketRef | null {
  const again = f.clientSide.sentAfterRst;
  return again !== null && f.syns.some((s) => s.no === again.no) ? again : null;
}

/** "; the client answered with RST #N and sent its SYN again (#M): it did not take the SYN-ACK", where it did; else empty. */
function synAgainAfterRst(f: FlowFacts): string {
  const again = synSentAgainAfterRst(f);
  if (!again) return '';
  return `; the client's side answered with RST #${f.clientSide.rst!.no} and sent its SYN again (#${again.no}): it did not take the SYN-ACK`;
}

const synAckRetry: FlowRule = {
  code: 'synack-retry',
  needs: SHOWS.SYN_ACK_RESENT,
  needsBothSides: true,
  evaluate(f, ctx) {
    if (f.synAcks.length < 2) return null;
    // A server answers each SYN the client repeats with a SYN-ACK of its own, about as soon as it
    // answered the first: a SYN-ACK that comes that soon after a SYN not yet answered answers it,
    // and is no re-send. (Which of two SYN-ACKs sent at once answered and which the timer sent, the
    // packets do not tell; how many of each they do.)
    const firstDelay = f.syns.length > 0 ? Math.max(0, f.synAcks[0].ts - f.syns[0].ts) : 0;
    const answerWithin = Math.max(4 * firstDelay, ANSWER_JITTER_MICROS);
    let unanswered = 0;
    const resent = f.synAcks.filter((a, k) => {
      while (unanswered < f.syns.length && f.syns[unanswered].ts < a.ts - answerWithin) unanswered++;
      const answersSyn = unanswered < f.syns.length && f.syns[unanswered].ts < a.ts;
      if (answersSyn) unanswered++;
      return k > 0 && !answersSyn;
    });
    if (resent.length === 0) return null;
    const completed = f.handshakeAck !== null;
    const deferred = deferredAccept(f, resent[0]);
    if (deferred) {
      return {
        code: 'synack-retry',
        severity: 'info',
        summary: `server re-sent its SYN-ACK ${plural(resent.length, 'time')} (#${resent.map((s) => s.no).join(', #')}) only ${fmtDuration(resent[0].ts - f.synAcks[0].ts)} after the first, though the client's final ACK #${deferred.no} had come: a deferred accept (TCP_DEFER_ACCEPT) waiting for the client's first byte, which ${f.clientSide.firstData ? `came only at #${f.clientSide.firstData.no}` : 'never came'}`,
        packets: [f.synAcks[0].no, deferred.no, ...resent.map((s) => s.no)],
        facts: { synAcks: f.synAcks.length, intervalsMs: intervalsOf(f.synAcks).map(ms), handshakeCompleted: true, deferredAccept: true },
        hint: "The server's listener defers accept until data arrives (TCP_DEFER_ACCEPT: nginx `listen ... deferred`, HAProxy `defer-accept`): it took the client's ACK but kept the connection from the application, skipping its SYN-ACK retries, and re-sent the SYN-ACK when the defer period ran out. Nothing was lost. The client opened a connection and sent nothing, as browsers do with speculative (preconnect) connections; if a client expects the server to speak first (SMTP, SSH, MySQL), a deferred listener never answers it.",
      };
    }
    const awaited = awaitedSynAck(f);
    const cutShort = !completed && awaited !== null && endedTooEarly(f, ctx, awaited.ts);
    const answering = f.synAcks.length - 1 - resent.length;
    const list = `#${f.synAcks.map((s) => s.no).join(', #')}`;
    const sent =
      answering === 0
        ? `server re-sent its SYN-ACK ${plural(resent.length, 'time')} (${list})`
        : firstDelay <= FIRST_ANSWER_ROUND_TRIP_MAX_MICROS
          ? `server re-sent its SYN-ACK ${plural(resent.length, 'time')} (${list}; ${plural(answering, 'other')} answered the client's repeated SYN)`
          : `server sent its SYN-ACK ${plural(f.synAcks.length, 'time')} (${list}; the first ${fmtDuration(firstDelay)} after the SYN, so up to ${answering} of the others may answer the client's repeated SYNs rather than re-send it)`;
    return {
      code: 'synack-retry',
      severity: 'warning',
      summary: `${sent}: ${completed ? `the client's final ACK was lost or ignored; the handshake completed at #${f.handshakeAck!.no}` : cutShort ? `the capture ended before the client's answer to SYN-ACK #${awaited!.no} was due` : `no final ACK from the client in the capture; the handshake never completed${synAgainAfterRst(f)}`}`,
      packets: f.synAcks.map((s) => s.no),
      facts: { synAcks: f.synAcks.length, intervalsMs: intervalsOf(f.synAcks).map(ms), handshakeCompleted: completed },
      hint: completed
        ? 'The server did not get (or did not accept) the final ACK: its accept queue was full with net.ipv4.tcp_abort_on_overflow=0 (the kernel drops the ACK and retransmits the SYN-ACK), the ACK was lost on the path, or the SYN was spoofed. Check the listen backlog, somaxconn and how fast the application accepts.'
        : "No final ACK came, so the server re-sent its SYN-ACK, as TCP does up to its retry limit: the cause is whatever kept the client from completing the handshake (half-open says what the capture shows of it).",
    };
  },
};

const HALF_OPEN_HINT =
  'The client never sent the final ACK: the SYN-ACK did not reach it (asymmetric routing, a firewall dropping the return path), the client gave up, or the SYN was spoofed (a SYN flood). Check the return path and any stateful firewall between the two.';
const HALF_OPEN_AFTER_GIVE_UP_HINT =
  "The SYN-ACK came only after the client had stopped retrying, so its connect had already timed out: the server, or a NAT or proxy answering for it, took longer to answer than the client waits (an overloaded listener, a slow path or a slow upstream). That the client sent no final ACK is expected; nothing was left to complete. Check why the answer took that long.";
const HALF_OPEN_DROPPED_ON_CLIENT_HINT =
  "The SYN-ACK reached the client's network but not its TCP, which kept waiting: something on the client host drops it before TCP sees it (a host firewall or endpoint security software, iptables INPUT rules). The server and the path worked. Check the client host's firewall.";
const HALF_OPEN_SILENT_CLIENT_HINT =
  "The server and the path worked; the client's host ended the handshake. Either its final ACK never left the host (a host firewall or endpoint security software dropping outgoing packets, iptables OUTPUT rules), or the application had already given up the connect (closed the socket, or dropped an attempt it started alongside others) and the host discarded the late SYN-ACK without a RST, as a host firewall does for a port no socket holds (Windows Firewall by default). Check the client host's firewall and how the application handles its connects.";

const halfOpen: FlowRule = {
  code: 'half-open',
  needs: SHOWS.SYN_ACK_UNACKED,
  needsBothSides: true,
  evaluate(f, ctx) {
    if (f.synAcks.length === 0 || f.handshakeAck || f.clientSide.bytes > 0 || f.clientSide.rst || f.clientSide.fin) return null;
    if (f.syns.length === 0) return null;
    const awaited = awaitedSynAck(f);
    if (awaited && endedTooEarly(f, ctx, awaited.ts)) return null;
    const synAck = f.synAcks[0];
    const before = f.syns.filter((s) => s.ts <= synAck.ts);
    const lastSyn = before[before.length - 1];
    // The answer came after the client had stopped retrying its SYN: its connect had already failed.
    const late = lastSyn && synAck.ts - lastSyn.ts > retryPatience(before) ? lastSyn : null;
    if (late) {
      return {
        code: 'half-open',
        severity: 'error',
        summary: `SYN-ACK #${synAck.no} came ${fmtDuration(synAck.ts - late.ts)} after the client's last SYN #${late.no}, when the client had stopped retrying (${plural(before.length, 'SYN')} over ${fmtDuration(late.ts - before[0].ts)}): the connect had already failed, and the client never completed the handshake`,
        packets: [f.syns[0].no, synAck.no],
        facts: { synAcks: f.synAcks.length, afterClientGaveUp: true },
        hint: HALF_OPEN_AFTER_GIVE_UP_HINT,
      };
    }
    const summary = `SYN-ACK #${synAck.no} sent, the client never completed the handshake`;
    const ttl = f.clientSide.ttl;
    // The client's packets carry the TTL it sent them with: no router lies between it and the
    // capture, so the SYN-ACK the capture holds reached the client's own network, and what kept
    // the handshake from completing happened on the client's host.
    if (ttl === null || initialTtl(ttl) !== ttl) {
      return { code: 'half-open', severity: 'error', summary, packets: [f.syns[0].no, synAck.no], facts: { synAcks: f.synAcks.length, clientLink: false }, hint: HALF_OPEN_HINT };
    }
    const retriedSyn = f.syns.find((s) => s.ts > synAck.ts);
    // A client still waiting sends its SYN again within SYN_PATIENCE_MICROS: only a capture that went on that long shows it did not.
    const noRetry = watchOf(f, ctx).ts - f.syns[f.syns.length - 1].ts >= SYN_PATIENCE_MICROS ? ', no SYN retry' : '';
    return {
      code: 'half-open',
      severity: 'error',
      summary: `${summary}: no router between the capture and the client (its TTL ${ttl} is as sent), so the SYN-ACK reached the client's network, ${retriedSyn ? `and the client sent its SYN again (#${retriedSyn.no}): its TCP never got the SYN-ACK` : `and the client answered it with nothing: no ACK, no RST${noRetry}`}`,
      packets: retriedSyn ? [f.syns[0].no, synAck.no, retriedSyn.no] : [f.syns[0].no, synAck.no],
      facts: { synAcks: f.synAcks.length, clientLink: true, synRetriedAfterSynAck: Boolean(retriedSyn) },
      hint: retriedSyn ? HALF_OPEN_DROPPED_ON_CLIENT_HINT : HALF_OPEN_SILENT_CLIENT_HINT,
    };
  },
};

const icmpUnreachable: FlowRule = {
  code: 'icmp-unreachable',
  needs: SHOWS.ICMP,
  evaluate(f) {
    // "Fragmentation needed" is path MTU discovery at work, not an unreachable host: the sender
    // learns the path's MTU and sends smaller (the retransmission verdict speaks of its resends).
    const errors = f.icmp.filter((i) => !isFragmentationNeeded(i));
    if (errors.length === 0) return null;
    const e = errors[0];
    return {
      code: 'icmp-unreachable',
      severity: 'error',
      summary: `ICMP ${e.meaning} from ${e.from} (#${e.no}) about this connection`,
      packets: errors.map((i) => i.no),
      facts: { type: e.type, code: e.code, meaning: e.meaning, from: e.from, count: errors.length },
      hint: icmpHint(e.meaning, e.from, f.serverIp),
    };
  },
};

/**
 * The flow goes on from one the idle timeout ended: the same connection after a long silence. Said
 * as the idle and who ended it, in place of midstream (the handshake is in the earlier flow).
 */
const idleResumed: FlowRule = {
  code: 'idle-close',
  needs: SHOWS.AFTER_IDLE,
  evaluate(f) {
    const idle = f.afterIdle;
    if (!idle) return null;
    const ends = [
      { who: 'client', how: 'reset', p: f.clientSide.rst },
      { who: 'server', how: 'reset', p: f.serverSide.rst },
      { who: 'client', how: 'closed', p: f.clientSide.fin },
      { who: 'server', how: 'closed', p: f.serverSide.fin },
    ].filter((e): e is { who: string; how: string; p: PacketRef } => e.p !== null);
    const end = ends.sort((a, b) => a.p.ts - b.p.ts)[0];
    // The resetting side's TCP keep-alive probes, with not a packet from the peer: it gave the
    // connection up for want of an answer, not for the idle.
    const probes = end?.how === 'reset' ? (end.who === 'client' ? f.analysis?.client.keepAlive : f.analysis?.server.keepAlive) ?? 0 : 0;
    const peerSilent = (end?.who === 'client' ? f.serverSide.packets : f.clientSide.packets) === 0;
    const unansweredProbes = probes > 0 && peerSilent;
    const peer = end?.who === 'client' ? 'server' : 'client';
    const then = !end
      ? `then it went on (#${f.firstPacket})`
      : unansweredProbes
        ? `then the ${end.who}'s ${plural(probes, 'keep-alive probe')} (from #${f.firstPacket}) got no answer and it reset the connection (RST #${end.p.no}): the ${peer} no longer answered`
        : `then the ${end.who} ${end.how} the connection (${end.how === 'reset' ? 'RST' : 'FIN'} #${end.p.no})`;
    return {
      code: 'idle-close',
      severity: end?.how === 'reset' ? 'warning' : 'info',
      summary: `idle ${fmtDuration(idle.idleMicros)} after the last packet of flow ${idle.flowId}, the same connection (its handshake is there; the idle outlasted the idle timeout), ${then}`,
      packets: end ? [end.p.no] : [f.firstPacket],
      facts: { continuesFlow: idle.flowId, idleMs: ms(idle.idleMicros), closer: end?.who ?? null, how: end ? (end.how === 'reset' ? 'rst' : 'fin') : null, unansweredKeepAlives: unansweredProbes ? probes : 0 },
      hint: unansweredProbes
        ? `The ${end!.who}'s TCP probed the idle connection with keep-alives and, getting no answer, gave it up and reset it: the ${peer}'s host no longer answered for the connection (asleep, gone, or a host firewall dropping the probes), or a NAT or stateful firewall between had forgotten the connection and dropped them. The ${peer} will find the connection dead on its next write. Keep-alives from the ${peer} more often than the shortest NAT or firewall timeout on the path keep the path's state alive.`
        : 'The connection stayed open but silent for longer than the idle timeout (--idle-timeout) and was then used or closed. A NAT, firewall or load balancer on the path may have forgotten it meanwhile (then the peer answers with a RST); send TCP or application keep-alives more often than the shortest idle timeout on the path, or close idle connections from the client.',
    };
  },
};

const midstream: FlowRule = {
  code: 'midstream',
  needs: SHOWS.NO_HANDSHAKE,
  evaluate(f) {
    if (f.syns.length > 0 || f.synAcks.length > 0 || f.afterIdle || refusalOfUnseenSyn(f)) return null;
    return {
      code: 'midstream',
      severity: 'info',
      summary: `connection already open when the capture started (first packet #${f.firstPacket}); client and server ${f.rolesTurned ? `told by the payload of #${f.rolesProvenPacket} (a request or status line, or a TLS hello), not by the first packet` : `guessed${f.history.startsWith('^') ? ' from the ports' : ' from the first packet'}`}`,
      packets: [f.firstPacket],
      facts: f.rolesTurned ? { rolesProvenPacket: f.rolesProvenPacket } : {},
      hint: 'No handshake was captured, so handshake facts are unknown. Start the capture before the connection opens to see it whole.',
    };
  },
};

const cleanClose: FlowRule = {
  code: 'clean-close',
  evaluate(f) {
    if (f.state !== 'SF' || f.clientSide.rst || f.serverSide.rst) return null;
    const c = f.clientSide.fin!;
    const s = f.serverSide.fin!;
    const first = c.ts <= s.ts ? 'client' : 'server';
    // Where nothing proves the roles the host is named: "client" would be the first packet's guess.
    const closer = rolesUnproven(f) ? endpointOf(f, first) : first;
    return {
      code: 'clean-close',
      severity: 'info',
      summary: `closed cleanly: ${closer} sent the first FIN (#${first === 'client' ? c.no : s.no}), both FINs acknowledged`,
      packets: [c.no, s.no],
      facts: { firstFin: first },
      hint: '',
    };
  },
};

const halfClosed: FlowRule = {
  code: 'half-closed',
  needs: SHOWS.ONE_FIN,
  needsBothSides: true,
  // Which side left its socket open.
  needsKnownRoles: true,
  evaluate(f, ctx) {
    const c = f.clientSide.fin;
    const s = f.serverSide.fin;
    if ((c && s) || (!c && !s) || f.clientSide.rst || f.serverSide.rst) return null;
    // Closed with one FIN: the table ends a flow 5 s after a FIN only when the other side had sent
    // nothing yet (a capture begun mid-stream, as Zeek does), so that side's later packets, its
    // own FIN or RST among them, go to the next flow on the same 4-tuple: nothing is left open here.
    if (f.endReason === 'closed') return null;
    const who = c ? 'client' : 'server';
    const fin = (c ?? s)!;
    // The closer acknowledged more than the capture holds of the other side: its FIN, most likely, which the capture missed.
    if ((c ? f.serverSide : f.clientSide).sentUnseen) return null;
    // The capture holds nothing of the other side in this connection: it may have closed before the
    // capture began, or its packets went by another way.
    if ((c ? f.serverSide : f.clientSide).packets === 0) return null;
    if (endedTooEarly(f, ctx, fin.ts)) return null;
    // Measured to when the capture stopped watching the flow, not to the flow's own last packet.
    const watch = watchOf(f, ctx);
    const watched = endedUnclosed(f);
    const waited = watched ? watch.ts - fin.ts : f.end - fin.ts;
    const idle = who === 'server' ? idleBeforeServerFin(f, fin) : null;
    const pooled = idle !== null;
    return {
      code: 'half-closed',
      severity: pooled ? 'info' : 'warning',
      summary: `only the ${who} sent a FIN (#${fin.no}); the ${who === 'client' ? 'server' : 'client'} had not closed its side ${fmtDuration(waited)} later ${watched ? whenWatchEnded(f, watch) : 'when the flow ended'}`,
      packets: [fin.no],
      facts: { closer: who, waitedMs: ms(waited), ...(idle !== null ? { idleBeforeFinMs: ms(idle) } : {}) },
      hint: pooled
        ? 'The server closed the connection after it had been idle (a keep-alive timeout, most often) and the client has not closed its side yet: a connection pool holding it idle closes it when it next takes it or when its own idle timer fires. Many such sockets on the client (ss -tan state close-wait) would show a pool that never lets them go.'
        : who === 'server'
          ? "The client application has not closed its socket after the server's FIN: a response body never read to its end or never closed leaves the socket in CLOSE_WAIT, and many of them exhaust a pool or the process's file descriptors. Or the capture stopped too early."
          : "The server application has not closed its socket after the client's FIN: a missing close() leaves the socket in CLOSE_WAIT, one more for each client if it never closes them. Or the server is still sending after the client's half-close, or the capture stopped too early.",
    };
  },
};

/** How long before `ts` an earlier flow on the 4-tuple was reset, and which: "2.0 s earlier (flow 4, RST #1464)". */
function resetAgo(earlier: NonNullable<FlowFacts['afterReset']>, ts: number): string {
  return `${fmtDuration(ts - earlier.rstTs)} earlier (flow ${earlier.flowId}, RST #${earlier.rstPacket})`;
}

/**
 * The side whose RSTs are all the flow holds: no handshake, no data, no FIN, nothing from the
 * other side. Its roles are a guess from that packet, and no connection of it is in the capture.
 * Not an RST/ACK with sequence number 0: that is a closed port's answer to a SYN the capture
 * missed (a one-sided capture, a filter for RSTs), a refusal `refused` tells. Not a
 * flow resuming an idle connection either: it is that connection, and idle-close says what the RST
 * ended.
 */
function loneRstSender(f: FlowFacts): 'client' | 'server' | null {
  if (f.afterIdle || f.syns.length > 0 || f.synAcks.length > 0) return null;
  const onlyRsts = (s: FlowFacts['clientSide']) => s.packets > 0 && s.rsts === s.packets && !s.rstAnswersSyn;
  if (onlyRsts(f.clientSide) && f.serverSide.packets === 0) return 'client';
  if (onlyRsts(f.serverSide) && f.clientSide.packets === 0) return 'server';
  return null;
}

const loneRst: FlowRule = {
  code: 'lone-rst',
  needs: SHOWS.NO_HANDSHAKE,
  evaluate(f) {
    const who = loneRstSender(f);
    if (!who) return null;
    const side = who === 'client' ? f.clientSide : f.serverSide;
    const [from, to] = who === 'client' ? [f.client, f.server] : [f.server, f.client];
    const rst = side.rst!;
    const earlier = f.afterReset;
    const before = earlier ? `; ${earlier.resetter} had reset this 4-tuple ${resetAgo(earlier, rst.ts)}, so it is a late RST for a connection already gone` : '';
    return {
      code: 'lone-rst',
      severity: 'info',
      summary: `${side.rsts > 1 ? `${side.rsts} RSTs` : 'a lone RST'} (#${rst.no}) from ${from} to ${to}, with no handshake, data or answer in its flow: what it ends, and why, is not in this flow${before}`,
      packets: [rst.no],
      facts: { sender: from, rsts: side.rsts, earlierFlow: earlier?.flowId ?? null },
      hint: 'An RST without its connection: the capture started after the connection opened or missed its packets (a filter, a one-sided tap), or the RST answers a late segment for a socket already closed. Look at the flows on the same 4-tuple before it (an earlier flow that ended or went idle is often the connection it ends), or capture earlier.',
    };
  },
};

/**
 * How long after a client's RST the server's SYN-ACK sent again must come to have been sent after
 * the RST reached it (with twice the handshake's round trip when longer): the shortest
 * retransmission timeout.
 */
const RST_ARRIVED_MICROS = 200_000;

/** When an RST sent at `rst` had surely reached its receiver, wherever the capture was taken. */
function rstArrivedBy(f: FlowFacts, rst: PacketRef): number {
  return rst.ts + Math.max(RST_ARRIVED_MICROS, 2 * (f.analysis?.handshake?.rttMs ?? 0) * 1000);
}

/**
 * A client that resets this soon after completing the handshake, having sent nothing, waited for
 * nothing: a connect-only check (a load balancer's TCP health check, `nc -z`, a connect scan).
 */
const CONNECT_CHECK_MICROS = 10_000;

/** An HTTP request on the flow without a complete response: an exchange the client's RST may cut. */
function httpExchangePending(f: FlowFacts): boolean {
  return f.app?.protocol === 'http' && f.app.http.some((x) => x.request !== null && (x.response === null || !x.response.complete));
}

/**
 * The last HTTP exchange, when its answer came whole, no request was left without a whole answer,
 * and the client sent nothing after that answer began; null otherwise. What the answer said of the
 * connection is the caller's to read.
 */
function lastWholeAnswer(f: FlowFacts): HttpExchangeFacts | null {
  const exchanges = f.app?.protocol === 'http' ? f.app.http : [];
  const last = exchanges[exchanges.length - 1];
  const resp = last?.response;
  if (!resp || !resp.complete || httpExchangePending(f)) return null;
  const clientLast = f.clientSide.lastData;
  return clientLast === null || clientLast.no < resp.packet ? last : null;
}

/** The last HTTP answer, whole (lastWholeAnswer), when it said the connection ends after it (Connection: close, or HTTP/1.0 without keep-alive). */
function closeAnnouncingAnswer(f: FlowFacts): HttpResponseFacts | null {
  const resp = lastWholeAnswer(f)?.response;
  return resp && !resp.keepAlive ? resp : null;
}

/**
 * A client resetting a kept-alive connection this long after the last answer's last byte had it
 * idle in a pool; one resetting sooner may have aborted as the answer came (read the status, left
 * the body unread).
 */
const KEPT_IDLE_MIN_MICROS = 500_000;

/**
 * The last HTTP answer, whole (lastWholeAnswer), when its exchange asked on both sides to keep the
 * connection and every exchange on it had a whole answer, one without a request seen too.
 */
function keptAliveAnswer(f: FlowFacts): HttpResponseFacts | null {
  const last = lastWholeAnswer(f);
  if (!last?.response!.keepAlive || !last.request?.keepAlive) return null;
  return f.app!.http.every((ex) => ex.response?.complete === true) ? last.response : null;
}

/**
 * The server's SYN-ACK sent again (no SYN from the client in between) after the client's one RST
 * had had time to reach it: its retransmission timer was still running, so it had not taken the
 * RST. Only a timer's packet proves that: data or a FIN the server sent before the RST arrived can
 * reach the capture later still, behind a queue. Only for a client that sent one RST: of several,
 * the facts keep the first, and a later one may be the RST that did end the attempt. Not after an
 * idle either: idle-close speaks for that RST.
 */
function rstNotTaken(f: FlowFacts): PacketRef | null {
  const rst = f.clientSide.rst;
  if (!rst || f.clientSide.rsts !== 1 || f.afterIdle) return null;
  const after = rstArrivedBy(f, rst);
  return f.synAcks.find((s) => s.ts >= after && !f.syns.some((y) => y.ts > rst.ts && y.ts <= s.ts)) ?? null;
}

const rstIgnored: FlowRule = {
  code: 'rst-ignored',
  needs: SHOWS.CLIENT_RST,
  evaluate(f) {
    const synAck = rstNotTaken(f);
    if (!synAck) return null;
    const rst = f.clientSide.rst!;
    return {
      code: 'rst-ignored',
      severity: 'warning',
      summary: `the client's RST #${rst.no} did not end the attempt at the server: it sent its SYN-ACK again (#${synAck.no}) ${fmtDuration(synAck.ts - rst.ts)} later`,
      packets: [rst.no, synAck.no],
      facts: { rstPacket: rst.no, synAckPacket: synAck.no, afterMs: ms(synAck.ts - rst.ts) },
      hint: 'The server kept the half-open connection and went on retrying while the client had given it up. An RST is taken only when its sequence number is the one the server expects next (RFC 5961; older stacks take any in the window): this one was out of step (a bug, a device rewriting sequence numbers, a forged RST) or was lost or dropped on the way. Compare its sequence number with the SYN-ACK\'s acknowledgement number, and capture on the server\'s side to see whether it arrived.',
    };
  },
};

/**
 * How long before the RST at `rst` the last data came, for a reset verdict's text: "after the
 * last data #N", or, when one side's data went on past the RST (only a side's first and last data
 * packets are known, so its last before the RST is not), "after the <side>'s last data #N", naming
 * the side by `name`; "while data was flowing" when no side's last data came before it.
 */
function dataBeforeRst(f: FlowFacts, rst: PacketRef, name: (side: 'client' | 'server') => string): { text: string; lastData: PacketRef | null } {
  const lastData = dataUpTo(f.clientSide.lastData, f.serverSide.lastData, rst.ts, 'latest');
  const firstData = dataUpTo(f.clientSide.firstData, f.serverSide.firstData, rst.ts, 'earliest');
  if (!lastData) return { text: firstData ? `while data was flowing (from #${firstData.no})` : 'before any data', lastData: null };
  const whose = lastData === f.clientSide.lastData ? 'client' : 'server';
  const other = whose === 'client' ? f.serverSide : f.clientSide;
  const otherStraddles = other.firstData !== null && other.firstData.ts <= rst.ts && other.lastData !== null && other.lastData.ts > rst.ts;
  return { text: `${fmtDuration(rst.ts - lastData.ts)} after ${otherStraddles ? `${name(whose)}'s` : 'the'} last data #${lastData.no}`, lastData };
}

/** Of the client's and the server's data packet, the latest or earliest at or before `until` (the client's on a tie); null when neither is. */
function dataUpTo(client: PacketRef | null, server: PacketRef | null, until: number, which: 'latest' | 'earliest'): PacketRef | null {
  const c = client !== null && client.ts <= until ? client : null;
  const s = server !== null && server.ts <= until ? server : null;
  if (c === null || s === null) return c ?? s;
  return (which === 'latest' ? s.ts > c.ts : s.ts < c.ts) ? s : c;
}

/**
 * An RST in a connection caught mid-stream whose roles nothing proves: said as info, naming the
 * host:port that sent it, since "reset by the server" would as likely be the client's RST.
 */
function resetInUnprovenRoles(f: FlowFacts, code: 'rst-by-client' | 'rst-by-server'): Verdict {
  const [mine, other, sender, peer] = code === 'rst-by-client' ? [f.clientSide, f.serverSide, f.client, f.server] : [f.serverSide, f.clientSide, f.server, f.client];
  const rst = endingRst(mine)!;
  const ctx: string[] = [];
  if (other.fin && other.fin.ts <= rst.ts) ctx.push(`after ${peer}'s FIN #${other.fin.no}`);
  if (mine.fin && mine.fin.ts <= rst.ts) ctx.push(`after its own FIN #${mine.fin.no}`);
  const { text, lastData } = dataBeforeRst(f, rst, (side) => (side === 'client' ? f.client : f.server));
  ctx.push(text);
  return {
    code,
    severity: 'info',
    summary: `connection reset by ${sender} (RST #${rst.no}, ${ctx.join(', ')}); ${ROLES_UNPROVEN_NOTE}`,
    packets: [rst.no],
    facts: {
      resetter: sender,
      afterFin: Boolean((other.fin && other.fin.ts <= rst.ts) || (mine.fin && mine.fin.ts <= rst.ts)),
      lastDataPacket: lastData?.no ?? null,
      clientBytes: f.clientSide.bytes,
      serverBytes: f.serverSide.bytes,
      earlierFlow: null,
      earlierRstPacket: null,
    },
    hint: `${sender} aborted the connection: its application closed the socket with unread data, timed out, was killed or used SO_LINGER 0, or a middlebox injected the RST. Whether that was the client giving up or the server failing is not known: start the capture before the connection opens to see which side opened it.`,
  };
}

/**
 * The RST of a side that ended its part of the connection: its first, unless it sent on after
 * that one (foreign-rst), then the first after its last other packet unless that one looks like
 * the foreign one (a device that made one RST in its name may have made the rest); otherwise none.
 */
function endingRst(s: FlowFacts['clientSide']): PacketRef | null {
  if (!s.sentAfterRst) return s.rst;
  return s.finalRstLikeFirst ? null : s.finalRst;
}

/**
 * The client's packet after its RST is its SYN sent again, and the RST is not set apart from that
 * SYN: the same TTL, and an IPv4 ID at most a few past the SYN's (or none to compare).
 */
function rstLikeItsSyn(f: FlowFacts): boolean {
  const c = f.clientSide;
  if (synSentAgainAfterRst(f) === null || c.rstTtl !== c.ttl) return false;
  const synId = f.syns[0].ipId;
  if (c.rstIpId === 0 || synId < 0) return true;
  return ((c.rstIpId - synId) & 0xffff) <= RST_ID_STEP_FROM_SYN;
}

/** An RST's IPv4 ID at most this far past the SYN's continues its counter (a few packets between). */
const RST_ID_STEP_FROM_SYN = 64;

/**
 * An RST in a side's name that its TCP did not send: the side went on with the connection after
 * it. A TCP that resets has dropped its connection and sends nothing more on it, so a later
 * SYN-ACK, ACK or data of its own shows the RST came from elsewhere (a firewall, an IPS or a
 * censor injecting it, or an attacker).
 */
const foreignRst: FlowRule = {
  code: 'foreign-rst',
  needs: SHOWS.FOREIGN_RST,
  evaluate(f) {
    if (!f.clientSide.sentAfterRst && !f.serverSide.sentAfterRst) return null;
    const clientFirst = f.clientSide.sentAfterRst !== null && (f.serverSide.sentAfterRst === null || f.clientSide.rst!.ts <= f.serverSide.rst!.ts);
    const [named, receiver, who, peerWho] = clientFirst
      ? [f.clientSide, f.serverSide, 'client', 'server']
      : [f.serverSide, f.clientSide, 'server', 'client'];
    const rst = named.rst!;
    const after = named.sentAfterRst!;
    const sender = clientFirst ? f.client : f.server;
    // On a connection caught mid-stream the roles are a guess: the sender is named by its address alone.
    const guessed = rolesUnproven(f);
    const inName = guessed ? `in the name of ${sender}` : `in the ${who}'s name (${sender})`;
    const sideName = guessed ? sender : `the ${who}`;
    const peerName = guessed ? (clientFirst ? f.server : f.client) : `the ${peerWho}`;
    // The receiver's own packets tell whether it took the RST: a TCP that took it answers the
    // sender's next segment as one holding no connection does; one that ignored it goes on after
    // the RST has had time to arrive (it may have sent before that).
    const arrived = rstArrivedBy(f, rst);
    const answered = receiver.finalRstAnswersStray && receiver.finalRst !== null && receiver.finalRst.ts > after.ts ? receiver.finalRst : null;
    const ignored = !answered && receiver.lastOtherThanRstTs > arrived;
    const outcome = answered
      ? `${peerName} took it: it answered ${sideName}'s next segment with RST #${answered.no}, as a TCP with no connection does`
      : ignored
        ? `${peerName} ignored it and went on`
        : `whether ${peerName} took it the capture does not show`;
    if (clientFirst && rstLikeItsSyn(f)) {
      // The client's SYN sent again proves its attempt went on, but not that another device made the RST.
      return {
        code: 'foreign-rst',
        severity: ignored ? 'info' : 'warning',
        summary: `RST #${rst.no} ${inName} did not end ${sideName}'s attempt: it sent its SYN again ${fmtDuration(after.ts - rst.ts)} later (#${after.no}), as a TCP that never took the SYN-ACK does; the RST's TTL and IP ID are those of its SYN, so what sent the SYNs sent the RST too; ${outcome}`,
        packets: answered ? [rst.no, after.no, answered.no] : [rst.no, after.no],
        facts: { rstPacket: rst.no, namedSender: who, sentAfterPacket: after.no, taken: answered ? true : ignored ? false : null, likeItsSyn: true },
        hint: `A TCP that resets its connection attempt does not send the same SYN again, yet ${sideName} did, and the RST looks like its SYN (the same TTL and IP ID series): one device sent both. A proxy or firewall that opens the connections for the client and rejects the server's answers, or a TCP stack that does not follow RFC 9293. Capture on the client host itself to see which.`,
      };
    }
    return {
      code: 'foreign-rst',
      severity: ignored ? 'info' : 'warning',
      summary: `RST #${rst.no} ${inName} was not sent by its TCP: ${sideName} went on with the connection after it (#${after.no}, ${fmtDuration(after.ts - rst.ts)} later); ${outcome}`,
      packets: answered ? [rst.no, after.no, answered.no] : [rst.no, after.no],
      facts: { rstPacket: rst.no, namedSender: who, sentAfterPacket: after.no, taken: answered ? true : ignored ? false : null },
      hint: `A TCP that sends an RST drops its connection and sends nothing more on it, yet ${sideName} did: this RST was made in its name by something on the path. Firewalls, intrusion prevention systems (a Snort or Suricata reject rule), censorship systems and some load balancers inject RSTs to cut connections; an attacker can forge one. Compare its TTL and IP ID with the other packets of ${sideName} (an injected RST usually differs in one or both), and look for the device on the path that sends it.`,
    };
  },
};

/**
 * Why the RST of a side that had already sent its FIN cut nothing off, or null: its socket was
 * closed, so what matters is whether anything either application still wanted was lost. Null when
 * it may have been (data past what the FIN acknowledged, a request not answered) or when the
 * capture cannot tell.
 * - nothing in flight: the FIN acknowledged all the peer had sent, the peer sent no data after it,
 *   the client's last data had been answered and no HTTP request was pending (the RST answers an
 *   ACK or a keep-alive probe, or aborts a connection with nothing left in it);
 * - TLS alerts alone past what the FIN acknowledged (close_notify; in TLS 1.3 a record of an
 *   alert's size), with every record of the peer read;
 * - the side had closed the WebSocket, and the RST answers the peer's close frame, its last data.
 */
function closedSocketAnswer(f: FlowFacts, who: 'client' | 'server', mine: SideFacts, other: SideFacts): string | null {
  const peer = who === 'client' ? 'server' : 'client';
  const acked = mine.finAckedBytes;
  if (acked === null) return null;
  const clientLast = f.clientSide.lastData;
  const serverLast = f.serverSide.lastData;
  const clientAnswered = clientLast === null || (serverLast !== null && serverLast.no > clientLast.no);
  if (acked >= other.seqBytes && clientAnswered && !httpExchangePending(f)) {
    return `nothing was in flight: its FIN had acknowledged all the ${peer} sent, the ${peer} sent no data after it, and the client's last data had been answered`;
  }
  const tls = f.app?.tls;
  const closing = f.app?.tlsClosing;
  const peerAlert = closing?.lastAlert[peer];
  if (tls && closing && peerAlert && tls.missed[peer] === null && tls.malformed === null && other.seqBytes > acked && closing.otherRecordsEnd[peer] <= acked) {
    return `it answers the ${peer}'s TLS alert #${peerAlert.no} (close_notify or the like), all the ${peer} sent past what the FIN acknowledged: nothing was cut off`;
  }
  const close = f.app?.websocket?.close;
  // The peer's close frame is its last data: the side's own close frame, before its FIN, started the closing handshake.
  if (close && close.packet !== null && close.answerPacket !== null && other.lastData?.no === close.answerPacket) {
    return `the ${who} had closed the WebSocket (close frame #${close.packet}) before its FIN, and the RST answers the ${peer}'s close frame #${close.answerPacket}: nothing was cut off`;
  }
  return null;
}

function rstRule(code: 'rst-by-client' | 'rst-by-server'): FlowRule {
  return {
    code,
    needs: code === 'rst-by-client' ? SHOWS.CLIENT_RST : SHOWS.SERVER_RST,
    evaluate(f) {
      const mine = code === 'rst-by-client' ? f.clientSide : f.serverSide;
      const other = code === 'rst-by-client' ? f.serverSide : f.clientSide;
      // The RST the side's own TCP sent: one it sent on after was not (foreign-rst says so).
      const rst = endingRst(mine);
      // A reset after an idle that outlasted the timeout is told by idle-close; an RST that is all
      // the flow holds, by lone-rst: there is no connection in the capture to say it aborted.
      if (!rst || f.afterIdle || loneRstSender(f) || refusalOfUnseenSyn(f)) return null;
      // A client's RST the server did not take ended nothing: rst-ignored says so.
      if (code === 'rst-by-client' && rstNotTaken(f)) return null;
      const handshakeDone = f.handshakeAck !== null || (f.syns.length === 0 && f.synAcks.length === 0) || f.synAcks.length > 0;
      if (!handshakeDone) return null;
      if (code === 'rst-by-server' && f.synAcks.length === 0 && f.syns.length > 0) return null; // that is `refused`
      if (rolesUnproven(f) && !f.afterReset) return resetInUnprovenRoles(f, code);
      const who = code === 'rst-by-client' ? 'client' : 'server';
      const ctx: string[] = [];
      const otherFinBefore = other.fin && other.fin.ts <= rst.ts;
      const myFinBefore = mine.fin && mine.fin.ts <= rst.ts;
      if (otherFinBefore) ctx.push(`after the ${who === 'client' ? 'server' : 'client'}'s FIN #${other.fin!.no}`);
      if (myFinBefore) ctx.push(`after its own FIN #${mine.fin!.no}`);
      if (mine.sentAfterRst) ctx.push(`the earlier RST #${mine.rst!.no} in its name was not its TCP's (foreign-rst)`);
      const { text, lastData } = dataBeforeRst(f, rst, (side) => `the ${side}`);
      ctx.push(text);
      // Packets on a 4-tuple reset earlier: the RST answers a connection that no longer existed.
      const earlier = f.afterReset;
      if (earlier) {
        const earlierWho = earlier.resetter === f.client ? 'client' : earlier.resetter === f.server ? 'server' : earlier.by;
        const first = f.clientSide.firstData ?? f.serverSide.firstData ?? { no: f.firstPacket, ts: f.start };
        const ago = resetAgo(earlier, first.ts);
        if (first.no === rst.no) ctx.push(`after the ${earlierWho} had reset this 4-tuple ${ago}: a late RST for a connection already gone`);
        else ctx.push(`#${first.no} came on the 4-tuple the ${earlierWho} had reset ${ago}, so the ${who} had no connection for it`);
      }
      // The server's stack resetting a request sent after the server had closed: request-after-close tells it.
      const late = !earlier && who === 'server' && myFinBefore ? requestAfterServerClose(f) : null;
      const lateRequest = late !== null && rst.ts >= (late.ex.timing.requestAt ?? Infinity) ? late.ex.request! : null;
      if (lateRequest) ctx.push(`answering request #${lateRequest.packet}, sent after the server had closed`);
      const unanswered = !earlier && !lateRequest && who === 'server' && f.clientSide.bytes > 0 && f.serverSide.bytes === 0;
      // The server sent nothing but an RST that answers the client's segment as a TCP with no
      // connection for it does: the connection was gone at the server before the client wrote.
      const noConnection = unanswered && f.serverSide.packets === mine.rsts && mine.finalRstAnswersSegment;
      if (noConnection) ctx.push("the server's TCP had no such connection: the RST carries no ACK, and as its sequence number the acknowledgement number of the client's segment before it");
      else if (unanswered) ctx.push('the request got no answer');
      // The server ending its own SYN-ACK retries on a handshake the client never completed (some
      // stacks and NATs reset at their retry limit): no connection existed to abort.
      const embryonic = !earlier && who === 'server' && f.handshakeAck === null && f.synAcks.length > 0 && f.clientSide.bytes === 0 && f.serverSide.bytes === 0;
      if (embryonic) ctx.push(`the handshake never completed: the server gave up its half-open connection after ${plural(f.synAcks.length, 'SYN-ACK')}`);
      // Both sides had sent their FIN, so each had sent all it meant to: the RST only answers bytes
      // that reached a socket its application had already closed, and aborts nothing.
      const afterBothFins = Boolean(otherFinBefore && myFinBefore) && !earlier;
      if (afterBothFins && !unanswered) ctx.push('both sides had already closed');
      // A side that had sent its FIN resets what still arrives when the two closes crossed (the
      // peer's FIN within a round trip of its own) or after the peer had reset first: its stack
      // answering bytes sent to a socket already closed, aborting nothing.
      const rttMicros = (f.analysis?.handshake?.rttMs ?? 0) * 1000;
      const closesCrossed = Boolean(myFinBefore && !otherFinBefore && other.fin && rttMicros > 0 && other.fin.ts - mine.fin!.ts <= rttMicros);
      // The peer's reset had been taken when this side had closed, or when this RST has the form of
      // a TCP's answer to a segment it holds no connection for (finalRstAnswersStray).
      const answersStray = mine.finalRstAnswersStray && mine.finalRst?.no === rst.no;
      const peerResetFirst = Boolean((myFinBefore || answersStray) && other.rst && other.rst.ts < rst.ts);
      // The peer had sent its FIN and later reset what still reached it: its socket was closed
      // whole, so this RST took nothing from it.
      const peerGone = Boolean(otherFinBefore && !myFinBefore && other.rst && other.rst.ts > rst.ts);
      // The peer's own RST had shown it held no connection any more (finalRstAnswersStray).
      const peerDropped = Boolean(!peerResetFirst && other.finalRstAnswersStray && other.finalRst && other.finalRst.ts < rst.ts);
      const closedAlready = (closesCrossed || peerResetFirst || peerGone || peerDropped) && !earlier && !unanswered;
      const peer = who === 'client' ? 'server' : 'client';
      // The side had closed its socket before this RST: did the RST cut anything off?
      const closedSocket = myFinBefore && !earlier && !unanswered && !lateRequest && !afterBothFins && !closedAlready ? closedSocketAnswer(f, who, mine, other) : null;
      // A client's RST that cuts nothing off: it opened the connection only to see it answer and
      // reset it at once, or it reset after the server had closed, with nothing left to send or to
      // receive. HAProxy ends its health checks this way, and clients closing with SO_LINGER 0 do.
      const clientRst = who === 'client' && !earlier && !myFinBefore && !closedAlready;
      // A handshake at the first try: a client that connected only after retries may have given up waiting.
      const connectOnly =
        clientRst &&
        !otherFinBefore &&
        f.syns.length === 1 &&
        f.synAcks.length === 1 &&
        f.handshakeAck !== null &&
        f.clientSide.bytes === 0 &&
        f.serverSide.bytes === 0 &&
        rst.ts - f.handshakeAck.ts <= CONNECT_CHECK_MICROS;
      // The RST itself acknowledges every byte the server sent: none was left unread.
      const rstAckedBytes = mine.sentAfterRst ? mine.finalRstAckedBytes : mine.rstAckedBytes;
      const serverBytesAcked = rstAckedBytes !== null && rstAckedBytes >= f.serverSide.seqBytes;
      const afterServerDone =
        clientRst &&
        Boolean(otherFinBefore) &&
        serverBytesAcked &&
        (f.clientSide.lastData === null || f.clientSide.lastData.ts <= other.fin!.ts) &&
        !httpExchangePending(f);
      if (connectOnly) {
        const ack = f.handshakeAck!;
        ctx.push(`${ack.no === rst.no ? 'as the handshake\'s final ACK' : `${fmtDuration(rst.ts - ack.ts)} after completing the handshake`}: a connect-only check`);
      }
      // The same before the server's FIN, when its answer had said the connection ends after it:
      // HAProxy resets its server connection once such an answer is in, the server closing later.
      const announcedClose = clientRst && !otherFinBefore && serverBytesAcked ? closeAnnouncingAnswer(f) : null;
      // Or when every request had its whole answer and the connection was kept for more: a pool
      // dropping its idle connection with an RST.
      const keptAnswer = clientRst && !otherFinBefore && !announcedClose && clientDroppedIdle(f, rst.ts) ? keptAliveAnswer(f) : null;
      const idleKept = keptAnswer !== null && f.serverSide.lastData !== null && rst.ts - f.serverSide.lastData.ts >= KEPT_IDLE_MIN_MICROS ? keptAnswer : null;
      if (idleKept) ctx.push(`after every request on it had its whole answer (the last #${idleKept.packet}, keeping the connection): the client dropped the idle connection, cutting nothing off`);
      if (afterServerDone) ctx.push('the server had sent all it had and closed: the RST cut nothing off');
      if (announcedClose) {
        const how = hasHeaderToken(announcedClose.headers.connection, 'close') ? 'Connection: close' : `HTTP/${announcedClose.version}`;
        ctx.push(`after the whole answer #${announcedClose.packet}, which announced the close (${how}): the RST cut nothing off`);
      }
      if (closedSocket) ctx.push(closedSocket);
      if (closedAlready) {
        ctx.push(
          peerResetFirst
            ? `${other.sentAfterRst ? `RST #${other.rst!.no} in the ${peer}'s name had come first` : `the ${peer} had reset first (RST #${other.rst!.no})`}: an answer to bytes reaching a closed socket`
            : peerDropped
              ? `the ${peer} held no connection any more: its RST #${other.finalRst!.no} answered a segment as a TCP with none does`
            : peerGone
              ? `the ${peer} had closed its socket: it reset what reached it afterwards (RST #${other.rst!.no})`
              : `the ${peer}'s FIN #${other.fin!.no} crossed it within a round trip: an answer to bytes reaching a closed socket`,
        );
      }
      return {
        code,
        severity: unanswered ? 'error' : afterBothFins || embryonic || closedAlready || closedSocket || lateRequest || connectOnly || afterServerDone || announcedClose || idleKept ? 'info' : 'warning',
        summary: `connection reset by the ${who} (RST #${rst.no}, ${ctx.join(', ')})`,
        packets: [rst.no],
        facts: {
          resetter: who,
          afterFin: Boolean(otherFinBefore || myFinBefore),
          lastDataPacket: lastData?.no ?? null,
          clientBytes: f.clientSide.bytes,
          serverBytes: f.serverSide.bytes,
          earlierFlow: earlier?.flowId ?? null,
          earlierRstPacket: earlier?.rstPacket ?? null,
        },
        hint: connectOnly
          ? 'The client completed the handshake and reset the connection at once without sending a byte: it only checked that the port answers. Load balancers do this for TCP health checks (HAProxy closes its checks with RST to free the port at once), as do `nc -z` and connect scans (nmap -sT). Nothing is wrong unless this client meant to send a request; then it failed right after connect().'
          : afterServerDone
          ? 'The server had sent its whole answer and closed (FIN); the client then reset instead of closing with a FIN of its own, as clients closing with SO_LINGER 0 do and as HAProxy ends its HTTP health checks. Nothing was lost: the server had nothing more to send and the client nothing more to say. The server may log the reset (ECONNRESET) if it still held the socket.'
          : announcedClose
          ? 'The server\'s answer said the connection ends after it and had all arrived; the client then reset instead of closing with a FIN, as HAProxy drops its server connection after such an answer and as clients closing with SO_LINGER 0 do. Nothing was lost: the RST acknowledges every byte the server sent, and the client had nothing more to say. The server may log the reset (ECONNRESET) if it still held the socket.'
          : idleKept
          ? 'The client closed a keep-alive connection it no longer needed with an RST instead of a FIN, as clients closing with SO_LINGER 0 and pools that abort their idle connections do. Nothing was lost: every response had arrived whole, and the client had acknowledged every byte the server sent. The server may log the reset (ECONNRESET).'
          : closedSocket
          ? `The ${who} had closed its socket (its FIN) and then reset: its TCP answered a segment that reached the closed socket (RFC 9293 3.10.7.1), or the ${who} aborted the connection it had half-closed (SO_LINGER 0, or a close with bytes unread). Nothing either application wanted was lost; the ${peer} may log a reset (ECONNRESET) if it still held the socket.`
          : lateRequest
          ? 'The server had closed the connection, so its TCP reset the request that reached the closed socket: nothing was aborted that the server still served. request-after-close says why the client sent it.'
          : embryonic
          ? 'The server reset a handshake the client never completed, at the end of its SYN-ACK retries: nothing was aborted, no application saw a connection. half-open says why the handshake did not complete.'
          : earlier
          ? `The ${earlier.resetter === f.client ? 'client' : 'server'} reset this 4-tuple in flow ${earlier.flowId} and then sent on it again: the peer had already forgotten the connection, so it answered with RST. Scanners do this (a SYN probe reset at once, then data sent statelessly to the port found open); an application does it when it writes on a socket it already aborted. Nothing is wrong with the ${who}.`
          : noConnection
          ? "The server's TCP no longer had this connection when the client wrote on it (ECONNRESET or EPIPE at the client): the server process or host restarted, or the connection was dropped while idle (a server idle timeout, or a NAT or firewall on the way that forgot it and sent the segment to a host without it). The client should treat pooled or long-idle connections as possibly stale: retry idempotent requests on a new connection, and keep its idle timeout below the server's and the path's."
          : who === 'server'
            ? 'The server aborted the connection (ECONNRESET at the client): the application crashed or closed the socket with unread data, SO_LINGER 0, a proxy or load balancer timed out or rejected the request, or a firewall injected the RST. Check the server and proxy logs at that time.'
            : 'The client aborted the connection: it timed out, was killed, or closed the socket with unread data (or SO_LINGER 0). Browsers and HTTP clients do this when they give up or cancel a request; load balancers end their health checks this way once they have read the status (HAProxy).',
      };
    },
  };
}

const portReuse: FlowRule = {
  code: 'port-reuse',
  needs: SHOWS.REUSED,
  evaluate(f) {
    const r = f.reusedAfter;
    if (!r) return null;
    const syn = f.syns[0] ?? { no: f.firstPacket, ts: f.start };
    // A SYN stamped before the previous connection ended came from a clock that stepped back.
    if (syn.ts < r.closedTs) return null;
    return {
      code: 'port-reuse',
      severity: 'warning',
      summary: `4-tuple ${f.client} -> ${f.server} reused ${fmtDuration(syn.ts - r.closedTs)} after flow ${r.flowId} (${r.state}) ended, within TIME_WAIT (60 s)`,
      packets: [syn.no],
      facts: { previousFlow: r.flowId, previousState: r.state, reuseAfterMs: ms(syn.ts - r.closedTs) },
      hint: 'The client cycles through source ports fast enough to reuse one while the previous connection is still in TIME_WAIT; a server in TIME_WAIT may ignore or RST the new SYN. Use keep-alive or a connection pool, widen net.ipv4.ip_local_port_range, or enable net.ipv4.tcp_tw_reuse on the client.',
    };
  },
};

export const FLOW_RULES: FlowRule[] = [
  scanProbe,
  unroutableAddress,
  refused,
  synTimeout,
  synAbandoned,
  synRetryThenConnected,
  synAckRetry,
  halfOpen,
  icmpUnreachable,
  neighbourUnanswered,
  idleResumed,
  midstream,
  loneRst,
  rstIgnored,
  foreignRst,
  rstRule('rst-by-server'),
  rstRule('rst-by-client'),
  portReuse,
  ...APP_RULES,
  ...TLS_RULES,
  ...TCP_FLOW_RULES,
  ...TIMING_RULES,
  cleanClose,
  halfClosed,
  captureEnded,
];

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

export function judgeFlow(f: FlowFacts, ctx: RuleContext, rules: FlowRule[] = FLOW_RULES): Verdict[] {
  // Most flows draw one verdict: the list starts as a literal of it, not as an empty array that the first push grows to sixteen places.
  let out: Verdict[] | null = null;
  const shows = flowShows(f);
  const needs = needsOf(rules);
  for (let i = 0; i < rules.length; i++) {
    if ((shows & needs[i]) !== needs[i]) continue;
    const r = rules[i];
    const v = r.evaluate(f, ctx);
    if (!v) continue;
    if (r.exclusive) return addCaptureDrops(f, [v], ctx);
    if (out === null) out = [v];
    // One verdict per code: when two rules answer the same question (no-response from HTTP and from TCP facts), the earlier one speaks.
    else if (!hasCode(out, v.code)) out.push(v);
  }
  return out === null ? [] : bySeverity(addCaptureDrops(f, out, ctx));
}

/**
 * Each rule list's needs as SHOWS bits, needsBothSides and needsKnownRoles among them, read once: the
 * rules are objects of many shapes, and judgeFlow goes through them for every flow.
 */
const rulesNeeds = new WeakMap<readonly FlowRule[], Int32Array>();

function needsOf(rules: readonly FlowRule[]): Int32Array {
  let needs = rulesNeeds.get(rules);
  if (!needs) {
    needs = Int32Array.from(rules, (r) => (r.needs ?? 0) | (r.needsBothSides ? SHOWS.BOTH_SIDES : 0) | (r.needsKnownRoles ? SHOWS.ROLES_KNOWN : 0));
    rulesNeeds.set(rules, needs);
  }
  return needs;
}

/** The SHOWS bits of `f`: what FlowRule.needs is read against. */
export function flowShows(f: FlowFacts): number {
  const syns = f.syns.length;
  const synAcks = f.synAcks.length;
  const client = f.clientSide;
  const server = f.serverSide;
  let bits = 0;
  if (f.visibility.seen === 'both') bits |= SHOWS.BOTH_SIDES;
  if (!rolesUnproven(f)) bits |= SHOWS.ROLES_KNOWN;
  if (f.scan) bits |= SHOWS.SCAN;
  if (syns > 0 && synAcks === 0) bits |= SHOWS.SYN_UNANSWERED;
  if (syns >= 2) bits |= SHOWS.SYN_RETRIED;
  if (synAcks >= 2) bits |= SHOWS.SYN_ACK_RESENT;
  if (synAcks > 0 && f.handshakeAck === null) bits |= SHOWS.SYN_ACK_UNACKED;
  if (syns === 0 && synAcks === 0) bits |= SHOWS.NO_HANDSHAKE;
  if (client.rst) bits |= SHOWS.CLIENT_RST;
  if (server.rst) bits |= SHOWS.SERVER_RST;
  if (client.sentAfterRst || server.sentAfterRst) bits |= SHOWS.FOREIGN_RST;
  if ((client.fin === null) !== (server.fin === null)) bits |= SHOWS.ONE_FIN;
  if (endedUnclosed(f)) bits |= SHOWS.UNCLOSED;
  if (f.icmp.length > 0) bits |= SHOWS.ICMP;
  if (f.afterIdle) bits |= SHOWS.AFTER_IDLE;
  if (f.reusedAfter) bits |= SHOWS.REUSED;
  if (f.peerUnseen) bits |= SHOWS.PEER_UNSEEN;
  const a = f.analysis;
  if (a) {
    if (a.client.dataRetransmissions > 0 || a.server.dataRetransmissions > 0 || a.client.fastOpenResends > 0) bits |= SHOWS.RETRANSMITTED;
    if (a.client.zeroWindow > 0 || a.server.zeroWindow > 0) bits |= SHOWS.ZERO_WINDOW;
    if (a.unanswered) bits |= SHOWS.UNANSWERED;
    if (a.client.earlyHole || a.server.earlyHole) bits |= SHOWS.EARLY_HOLE;
    if (a.client.queueRise || a.server.queueRise) bits |= SHOWS.QUEUE_RISE;
    if (a.client.heldForAck || a.server.heldForAck) bits |= SHOWS.HELD_FOR_ACK;
  }
  const app = f.app;
  if (app) {
    if (app.protocol === 'http') bits |= SHOWS.HTTP;
    if (app.websocket) bits |= SHOWS.WEBSOCKET;
    if (app.tls) bits |= SHOWS.TLS;
  }
  return bits;
}

function hasCode(verdicts: Verdict[], code: string): boolean {
  for (const v of verdicts) if (v.code === code) return true;
  return false;
}

/** Sorts a flow's few verdicts by severity in place, keeping rule order within one (a stable insertion sort: no comparator closure, no sort buffers). */
function bySeverity(verdicts: Verdict[]): Verdict[] {
  for (let i = 1; i < verdicts.length; i++) {
    const v = verdicts[i];
    const rank = SEVERITY_ORDER[v.severity];
    let j = i;
    while (j > 0 && SEVERITY_ORDER[verdicts[j - 1].severity] > rank) {
      verdicts[j] = verdicts[j - 1];
      j--;
    }
    verdicts[j] = v;
  }
  return verdicts;
}
