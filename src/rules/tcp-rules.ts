import type { CopyFacts, FlowFacts, SideFacts } from './facts.js';
import { isFragmentationNeeded, rolesUnproven, ROLES_UNPROVEN_NOTE, sideNamer } from './facts.js';
import { fmtDuration, grouped, ms, plural } from './format.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';
import { MAX_MARKS, TIMER_RESEND_MIN_MICROS } from '../flow/analysis.js';
import { digestFlow, type CaptureRule, type FlowDigest } from './capture-rules.js';
import { isTlsHandshakeOnly } from './tls-rules.js';
import { clientDroppedIdle, closingAlert, IDLE_CLOSE_MIN_MICROS, idleBeforeServerFin } from './idle-closes.js';
import { exchangeCutByClose, unfinishedRequest } from './app-rules.js';
import type { RuleContext } from './rules.js';
import type { Verdict } from './verdict.js';
import type { SideAnalysis, ZeroWindowFacts } from '../flow/analysis.js';
import { endedTooEarly, patienceFor, stoppedWatching, watchEnd, watchOf, whenWatchEnded } from './capture-end.js';
import { DistinctCount } from '../flow/distinct-count.js';
import { PortGroups } from './port-groups.js';
import { MTU_SIZED_SEGMENT, mtuProbedHint, probedPastBlackHole, sentBeforeArrival, type ProbedPastBlackHole, type SentBeforeArrival } from './path-mtu.js';

// Verdicts from the per-segment TCP analysis (FlowFacts.analysis): retransmissions, zero windows,
// requests the server's TCP accepted but its application never answered, idle connections closed
// by one side; and capture-level patterns over many flows: SYN floods, source-port exhaustion and
// listen-queue overflows.

/** A request counts as unanswered after this long without a response byte. */
const NO_RESPONSE_MIN_MICROS = 1_000_000;
/** Idle timeouts people configure (s): proxies, load balancers, servers, NAT and firewalls. */
const COMMON_IDLE_TIMEOUTS_S = [5, 10, 15, 20, 30, 60, 65, 75, 90, 120, 180, 240, 300, 350, 600, 900, 1800, 3600, 7200];
/** Data retransmissions in a row with no new ACK: the peer is gone or the path is down. */
const STALLED_RETRANSMISSIONS = 3;
/**
 * ... and only once the capture watched at least this long after the first of them (and three round
 * trips): Linux's least retransmission timer. Segments marked as retransmissions that come faster
 * than that were not resent by a timer (new data behind a sequence number the analysis saw earlier
 * on the same ports), and an ACK could not have come back yet.
 */
const LEAST_RETRANSMISSION_TIMEOUT_MICROS = 200_000;
/**
 * A resend is told to have come after a timeout only TIMER_RESEND_MIN_MICROS or more after its
 * original and at least this many of the path's round trips after it: an RTO waits a smoothed round
 * trip plus its variance (on Linux at least 200 ms more), while a tail-loss probe fires after two
 * round trips (RFC 8985) and RACK after about one and a quarter.
 */
const TIMEOUT_MIN_ROUND_TRIPS = 2;
/**
 * A zero window that reopened within this long is a reader that fell behind for a moment and caught
 * up (nginx buffering a fast upstream on loopback closes its window for a quarter of a millisecond),
 * not one that stopped reading. Both the closing and the reopening are the receiver's own packets,
 * so the path does not stretch what the capture sees; only a reopening told in answer to the
 * sender's probes comes a round trip late, and then BRIEF_ZERO_WINDOW_RTTS round trips are allowed.
 */
const BRIEF_ZERO_WINDOW_MICROS = 5_000;
const BRIEF_ZERO_WINDOW_RTTS = 3;
/** ... as long as those moments add up to less than this share of the flow's time: more is a reader that is always behind. */
const BRIEF_ZERO_WINDOW_SHARE = 0.1;
/** SYN flood: at least this many half-open connections from this many sources within the window. */
const SYN_FLOOD_MIN_HALF_OPEN = 20;
const SYN_FLOOD_MIN_SOURCES = 10;
const SYN_FLOOD_WINDOW_MICROS = 10_000_000;
/** ... or this many from one source, each from its own source port and each sent once (a flood tool does not retry). */
const SYN_FLOOD_MIN_HALF_OPEN_ONE_SOURCE = 100;
/** Linux retransmits a SYN-ACK after 1 s; one left alone for longer was sent without state (SYN cookie). */
const SYNACK_RETRY_EXPECTED_MICROS = 1_500_000;
/** Port exhaustion: this many connections from one client to one server:port, with 4-tuples reused in TIME_WAIT. */
const PORT_EXHAUSTION_MIN_CONNECTIONS = 10;
const TIME_WAIT_MICROS = 60_000_000;
/**
 * ... at a rate that fills an ephemeral port range with TIME_WAITs: the smallest default range
 * (Windows and macOS, 49152-65535: 16,384 ports; Linux's 32768-60999 has 28,232) within one
 * TIME_WAIT (60 s), about 273 new connections a second. A slower client cannot run out of ports
 * unless its range was narrowed, which the packets do not show; its reused 4-tuples are still
 * reported one by one (port-reuse).
 */
const PORT_EXHAUSTION_MIN_PER_SECOND = 16_384 / (TIME_WAIT_MICROS / 1e6);

function otherSide(who: 'client' | 'server'): 'client' | 'server' {
  return who === 'client' ? 'server' : 'client';
}

/** The copies the capture holds of side `s`'s segments (flow.ts isCopyOfPrevious). */
function copiesOf(f: FlowFacts, s: SideAnalysis): CopyFacts | null {
  return s === f.analysis!.client ? f.clientSide.copies : f.serverSide.copies;
}

/**
 * Side `s`'s data retransmissions, without the segments the capture holds twice or that came after
 * its clock stepped back, and without Fast Open data the peer did not take (see fastOpenRefused).
 */
function dataRetrans(f: FlowFacts, s: SideAnalysis): number {
  return Math.max(0, s.dataRetransmissions - (copiesOf(f, s)?.data ?? 0) - s.dataRetransmissionsBackInTime - s.fastOpenResends);
}

/**
 * The client's SYN carried data (TCP Fast Open, RFC 7413) and the server's SYN-ACK acknowledged the
 * SYN alone, so the client sent that data again after the handshake: nothing was lost on the way.
 */
function fastOpenRefused(f: FlowFacts): Verdict | null {
  const a = f.analysis!;
  const resends = a.client.fastOpenResends;
  if (resends === 0) return null;
  const marks = a.marks.filter((m) => m.from === 'client' && m.kinds.includes('retransmission')).map((m) => m.no);
  return {
    code: 'retransmission',
    severity: 'info',
    summary: `the server did not take the data the client sent on its SYN (TCP Fast Open${f.syns.length ? `, #${f.syns[0].no}` : ''}): its SYN-ACK${f.synAcks.length ? ` #${f.synAcks[0].no}` : ''} acknowledged the SYN alone, and the client sent the data again after the handshake${marks.length ? ` (#${marks[0]})` : ''}; nothing was lost on the way`,
    packets: marks.slice(0, 20),
    facts: { direction: 'client', fastOpenResends: resends, cause: 'fast-open-refused' },
    hint: 'The server has TCP Fast Open off (on Linux, net.ipv4.tcp_fastopen without the server bit 2, or a listener without the TCP_FASTOPEN socket option) or rejected the client\'s cookie (a new server key, a cookie from another server behind the same address), and the client paid one round trip, as without Fast Open. Enable Fast Open on the server if it should be taken; the client drops the cookie and asks for a new one.',
  };
}

/**
 * Of `resender`'s resends, how many are shown unneeded: D-SACKed by `peer`, or proven by the Eifel
 * test. The two are not added up: one resend may have both.
 */
function shownUnneeded(resender: SideAnalysis, peer: SideAnalysis): number {
  return Math.max(peer.dsacks, resender.unneededRetransmissions);
}

/** The sender's plain resends (neither fast nor spurious) by what their time from the original proves. */
interface ResendTiming {
  /** A plausible RTO or more after the original: a retransmission timer fired. */
  timedOut: number;
  /**
   * Sent within a few milliseconds of an ACK of new data, though an RTO's time or more after the
   * original: that ACK sent them (recovery after a loss or a timeout), not a timer.
   */
  onAck: number;
  /**
   * Sooner than any stack's RTO by default: a tail-loss probe, RACK or SACK recovery, a resend cut to
   * a smaller path MTU; the packets do not always tell which.
   */
  early: number;
  /** The longest time from an early one's original to it (µs). */
  earlyLatest: number;
  /** An RTO's time or more, yet within TIMEOUT_MIN_ROUND_TRIPS round trips: either could have sent them. */
  withinRoundTrips: number;
  /** Resends whose original the capture does not hold: no time to go by. */
  noOriginal: number;
  /** Resends past the segments the analysis marks (MAX_MARKS): not timed. */
  unmarked: number;
  /** How long after its original a resend proves a timeout (ms). */
  timeoutMs: number;
}

/**
 * Sorts the `plain` resends of `who` by the time since the bytes each resends were last sent (the
 * mark's rtoMs; a timer restarts on every resend, so a second resend is timed from the first).
 */
function resendTiming(f: FlowFacts, who: 'client' | 'server', plain: number): ResendTiming {
  const a = f.analysis!;
  const sender = who === 'server' ? a.server : a.client;
  // Each is a round trip the path took at least once; the ACK of a resent segment times it from its
  // first sending, so a flow whose data was all resent has no data round trip shorter than a resend.
  const rttMs = Math.min(sender.dataRtt?.minMs ?? Infinity, a.handshake?.rttMs ?? Infinity);
  const timeoutMs = Math.max(ms(TIMER_RESEND_MIN_MICROS), TIMEOUT_MIN_ROUND_TRIPS * (Number.isFinite(rttMs) ? rttMs : 0));
  let timedOut = 0;
  let early = 0;
  let earlyLatestMs = 0;
  let withinRoundTrips = 0;
  let noOriginal = 0;
  let onAck = 0;
  for (const m of a.marks) {
    if (m.from !== who || m.len === 0 || !m.kinds.includes('retransmission')) continue;
    if (m.kinds.includes('fast-retransmission') || m.kinds.includes('spurious-retransmission')) continue;
    if (m.rtoMs === undefined) noOriginal++;
    else if (m.onAck) onAck++;
    else if (m.rtoMs >= timeoutMs) timedOut++;
    else if (m.rtoMs >= ms(TIMER_RESEND_MIN_MICROS)) withinRoundTrips++;
    else {
      early++;
      earlyLatestMs = Math.max(earlyLatestMs, m.rtoMs);
    }
  }
  // The marks include the segments the capture holds twice, which `plain` leaves out: copies come
  // close together, so they are taken off the early ones first, then off the others in turn.
  const counts = [early, withinRoundTrips, noOriginal, onAck, timedOut];
  let excess = early + withinRoundTrips + noOriginal + onAck + timedOut - plain;
  for (let i = 0; i < counts.length && excess > 0; i++) {
    const taken = Math.min(excess, counts[i]);
    counts[i] -= taken;
    excess -= taken;
  }
  [early, withinRoundTrips, noOriginal, onAck, timedOut] = counts;
  const unmarked = Math.max(0, plain - timedOut - onAck - early - withinRoundTrips - noOriginal);
  return { timedOut, onAck, early, earlyLatest: early > 0 ? earlyLatestMs * 1000 : 0, withinRoundTrips, noOriginal, unmarked, timeoutMs };
}

/** The plain resends of `timing` in words, one phrase a kind. */
function resendKinds(timing: ResendTiming): string[] {
  const kinds: string[] = [];
  if (timing.timedOut) kinds.push(`${timing.timedOut} after a timeout`);
  if (timing.onAck) kinds.push(`${timing.onAck} sent on an ACK of new data (loss recovery, not a timeout)`);
  if (timing.early) kinds.push(`${timing.early} early (at most ${fmtDuration(timing.earlyLatest)} after the original, too soon for a retransmission timer)`);
  if (timing.withinRoundTrips) kinds.push(`${timing.withinRoundTrips} within ${TIMEOUT_MIN_ROUND_TRIPS} round trips of the original`);
  if (timing.noOriginal) kinds.push(`${timing.noOriginal} with no original in the capture`);
  if (timing.unmarked) kinds.push(`${timing.unmarked} not timed (past the first ${MAX_MARKS.toLocaleString('en-US')} segments marked)`);
  return kinds;
}

/**
 * "5 retransmissions in a row": the run of resends with no new ACK counts a FIN sent again alone,
 * which the data retransmissions counted before it leave out, so it is named.
 */
function unansweredRunText(sender: SideAnalysis, side: SideFacts): string {
  const run = sender.retransmissionsUnanswered;
  return `${plural(run, 'retransmission')} in a row${side.finResendsUnanswered > 0 ? `, ${side.finResendsUnanswered === 1 ? 'a FIN' : `${side.finResendsUnanswered} FINs`} resent alone among them,` : ''}`;
}

const retransmission: FlowRule = {
  code: 'retransmission',
  needs: SHOWS.RETRANSMITTED,
  evaluate(f, ctx) {
    const a = f.analysis;
    if (!a) return null;
    // SYN retries have their own rules, and a FIN sent again carries no data to speak of. A
    // segment the capture holds twice is counted by the analysis as Wireshark counts it (a
    // retransmission, a duplicate ACK) but was sent once: discounted here, as are the segments
    // repeated after the capture's clock stepped back.
    // The sides by role, or by host:port where nothing proves the roles ("the client stopped acknowledging" may be the server).
    const side = sideNamer(f);
    const c = dataRetrans(f, a.client);
    const s = dataRetrans(f, a.server);
    if (c + s === 0) return fastOpenRefused(f);
    const who: 'client' | 'server' = s >= c ? 'server' : 'client';
    const sender = who === 'server' ? a.server : a.client;
    const senderFacts = who === 'server' ? f.serverSide : f.clientSide;
    const receiver = who === 'server' ? a.client : a.server;
    // A duplicate ACK carrying a D-SACK reports a copy received, not a hole; one of everything the
    // sender had sent leaves no hole to report (a segment or an ACK twice, a probe made it).
    const receiverDupAcks = Math.max(0, receiver.duplicateAck - (copiesOf(f, receiver)?.acks ?? 0) - Math.max(receiver.dsackDuplicateAcks, receiver.duplicateAcksOfAll));
    // The receiver reported each resend as data it already had, or acknowledged each one's original
    // (see SideAnalysis.unneededRetransmissions): none was needed. Said as info only when at most
    // one resend of both sides was not shown unneeded (oneNeeded, below).
    const allDsacked = receiver.dsacks >= dataRetrans(f, sender);
    const allUnneeded = shownUnneeded(sender, receiver) >= dataRetrans(f, sender);
    const kinds: string[] = [];
    const plain = Math.max(0, dataRetrans(f, sender) - sender.fastRetransmission - sender.spuriousRetransmission);
    if (sender.fastRetransmission) kinds.push(`${sender.fastRetransmission} fast`);
    const timing = resendTiming(f, who, plain);
    kinds.push(...resendKinds(timing));
    if (sender.spuriousRetransmission) kinds.push(`${sender.spuriousRetransmission} spurious`);
    const receiverWindow = receiver.zeroWindow > 0 || sender.windowFull > 0;
    const marks = a.marks.filter((m) => m.from === who && m.kinds.some((k) => k.endsWith('retransmission'))).map((m) => m.no);
    // Retransmissions after the peer's RST: the peer had ended the connection, nothing was lost.
    const peerRst = (who === 'server' ? f.clientSide : f.serverSide).rst;
    const afterPeerRst = peerRst !== null ? marks.filter((no) => no > peerRst.no).length : 0;
    // A run of unanswered retransmissions that came after the peer's RST went unanswered because of it.
    const runAfterRst = afterPeerRst > 0 && afterPeerRst >= sender.retransmissionsUnanswered;
    // Unanswered retransmissions say the peer stopped acknowledging only if its ACKs could be seen,
    // and only if the capture went on long enough after the first of them for an ACK to come back.
    const unansweredRun = !runAfterRst && f.visibility.seen === 'both' && sender.retransmissionsUnanswered >= STALLED_RETRANSMISSIONS;
    const since = sender.unansweredSince;
    const tooSoon = unansweredRun && since !== null && endedTooEarly(f, ctx, since.ts, patienceFor(f, LEAST_RETRANSMISSION_TIMEOUT_MICROS));
    const stalled = unansweredRun && !tooSoon;
    const explainedByRst = afterPeerRst > 0 && (afterPeerRst * 2 >= dataRetrans(f, sender) || (runAfterRst && sender.retransmissionsUnanswered >= STALLED_RETRANSMISSIONS));
    const rstNote = afterPeerRst > 0 && !explainedByRst ? `; ${afterPeerRst} of them after ${side(otherSide(who))}'s RST #${peerRst!.no}` : '';
    let cause: string;
    let causeCode: 'peer-reset' | 'capture-ended' | 'path-mtu' | 'path-mtu-discovery' | 'peer-unreachable' | 'spurious' | 'slow-receiver' | 'path-loss';
    let hint: string;
    let blackHole: MtuBlackHole | null;
    let probed: ProbedPastBlackHole | null = null;
    let holeBehindFirstData: SentBeforeArrival | null = null;
    // A router said the path's MTU is smaller before every resend: the sender resent what it could
    // not get through at that size (path MTU discovery, RFC 1191), nothing was lost to congestion.
    const mtuTold = f.icmp.find(isFragmentationNeeded);
    const afterMtuTold = mtuTold ? marks.filter((no) => no > mtuTold.no).length : 0;
    if (explainedByRst) {
      causeCode = 'peer-reset';
      cause = `${side(otherSide(who))} had reset the connection (RST #${peerRst!.no}) and ${afterPeerRst >= dataRetrans(f, sender) ? 'all of them came after it' : `${afterPeerRst} came after it`}; ${side(who)} went on sending to a connection ${side(otherSide(who))} had closed`;
      hint = `${side(otherSide(who), true)} aborted the connection; ${side(who)} did not take the RST (it was lost on the way, dropped by a firewall, or its sequence number fell outside ${side(who)}'s window) and retransmits until its retry limit. Look at why ${side(otherSide(who))} reset (see the reset verdict), and at the path between the two if RSTs do not get through.`;
    } else if (tooSoon) {
      causeCode = 'capture-ended';
      const w = watchOf(f, ctx);
      cause = `${unansweredRunText(sender, senderFacts)} from #${since!.packet} got no ACK, but the capture stopped watching ${fmtDuration(Math.max(0, w.ts - since!.ts))} after the first of them, too soon to tell whether ${side(otherSide(who))} would acknowledge`;
      hint = `A run of segments ${side(who)} sent again, or sent past ${side(otherSide(who))}'s last acknowledgement, with no ACK before ${watchEnd(f)}. An ACK takes at least a round trip and a retransmission timer 200 ms or more, so this proves no loss and no absent peer; capture longer to see the ACKs (or the timeouts that follow).`;
    } else if (stalled && (blackHole = pathMtuBlackHole(f, who, since!)) !== null) {
      causeCode = 'path-mtu';
      const { resends, size, ackedSize, peerAlive } = blackHole;
      cause = `${side(otherSide(who))} stayed reachable (${peerAlive}) yet acknowledged none of the ${plural(resends, 'large segment')} (up to ${size} bytes) resent from #${since!.packet}, ${
        ackedSize > 0 ? `though it had acknowledged smaller ones (up to ${ackedSize} bytes): segments this large do not get through, a path MTU black hole` : `though ${side(who)}'s handshake reached it: most likely a path MTU black hole, segments this large not getting through`
      }`;
      hint = `Packets of ${side(who)}'s full segment size are dropped on the way while smaller ones pass: a link on the path has a smaller MTU (a VPN or tunnel, an overlay network such as VXLAN, PPPoE, a cloud interconnect) and the ICMP "fragmentation needed" (ICMPv6 "packet too big") that would make ${side(who)} send smaller segments does not reach it, most often dropped by a firewall. Let that ICMP through, clamp the MSS where the MTU shrinks (iptables -t mangle ... -j TCPMSS --clamp-mss-to-pmtu), lower the interface MTU, or turn on MTU probing on ${side(who)} (net.ipv4.tcp_mtu_probing=1). From ${side(who)}, ping -M do -s SIZE toward ${side(otherSide(who))} shows the largest packet that passes.`;
    } else if (stalled) {
      causeCode = 'peer-unreachable';
      // "Stopped" only of a peer the capture shows acknowledging at all.
      const peerPackets = (who === 'server' ? f.clientSide : f.serverSide).packets;
      cause =
        peerPackets === 0
          ? `${side(otherSide(who))} acknowledged none of it (${unansweredRunText(sender, senderFacts)} got no ACK, and the capture holds no packet from ${side(otherSide(who))} in this connection)`
          : `${side(otherSide(who))} stopped acknowledging (${unansweredRunText(sender, senderFacts)} got no ACK)`;
      hint = `${side(otherSide(who), true)} (or the path to it) went away mid-connection: a crash or reboot, a network or VPN drop, a NAT/firewall that forgot the connection, or a route change. ${side(who, true)} keeps retransmitting with growing timeouts until it gives up (about 15 minutes on Linux, net.ipv4.tcp_retries2). Check that host and the stateful devices on the path.`;
    } else if (mtuTold && !stalled && afterMtuTold === marks.length) {
      causeCode = 'path-mtu-discovery';
      cause = `path MTU discovery: ${mtuTold.from} answered ${side(who)}'s segments with ICMP ${mtuTold.meaning} (#${mtuTold.no}), and ${side(who)} sent them again to fit, as it should; nothing was lost to congestion`;
      hint = `A link on the path has a smaller MTU than ${side(who)}'s (a VPN, tunnel or PPPoE link) and its router says so; ${side(who)} learns the smaller size after one round trip and keeps it for a while. Nothing to fix unless it happens on every connection; clamping the MSS where the MTU shrinks (iptables -t mangle ... -j TCPMSS --clamp-mss-to-pmtu) saves that round trip.`;
    } else if ((probed = probedPastBlackHole(f, who)) !== null) {
      causeCode = 'path-mtu';
      const { originalPacket, largeResends, size, smallPacket, smallSize, afterMs, ackedSize } = probed;
      cause = `a path MTU black hole that ${side(who)}'s MTU probing got round: ${side(otherSide(who))} acknowledged none of the ${plural(largeResends.length, 'resend')} of #${originalPacket} at ${grouped(size)} bytes (#${largeResends[0]}..#${largeResends[largeResends.length - 1]}), but the resend #${smallPacket} cut to ${grouped(smallSize)} bytes, ${fmtDuration(afterMs * 1000)} after #${originalPacket} was first sent; it never acknowledged a segment over ${grouped(ackedSize)} bytes: segments of ${grouped(size)} did not get through`;
      hint = mtuProbedHint(who, side);
    } else if ((holeBehindFirstData = sentBeforeArrival(f, who)) !== null) {
      // The receiver's view of the same black hole: these resends fill the hole behind the first
      // data, bytes the path dropped at full size. The path-mtu verdict tells it; this is its echo.
      causeCode = 'path-mtu';
      const { holePacket, skippedBytes } = holeBehindFirstData;
      cause = `they fill the ${grouped(skippedBytes)} bytes missing before #${holePacket}, sent at full size and dropped on the path before ${side(who)} cut its segments (see path-mtu)`;
      hint = mtuProbedHint(who, side);
    } else if (allDsacked) {
      causeCode = 'spurious';
      cause = `unneeded: ${side(otherSide(who))} reported each resend as data it already had (${plural(receiver.dsacks, 'D-SACK')}, RFC 2883), so the data arrived and only its ACKs came late or were lost`;
      hint = `Nothing was lost on the way to ${side(otherSide(who))}: its acknowledgements were slow (a busy or sleeping host, delayed ACKs, a radio link) or lost on the way back, and ${side(who)}'s ${timing.timedOut > 0 ? 'retransmission timer' : 'loss detection (a tail-loss probe, RACK or its timer)'} fired first. Look at ${side(otherSide(who))}'s ACK timing and the return path, not at loss.`;
    } else if (allUnneeded) {
      causeCode = 'spurious';
      cause = `unneeded: ${side(otherSide(who))}'s first ACK covering each resend echoed a timestamp older than the resend's, so it was sent before the resend arrived (RFC 3522) and the data had arrived: an ACK came late or segments were reordered, nothing was lost`;
      hint = `Nothing was lost: ${side(otherSide(who))} had the data when ${side(who)} sent it again. Its ACK came late (delayed ACKs, a busy host, a closed window) or segments overtook each other on the way (parallel links, link aggregation, Wi-Fi), and ${side(who)}'s loss detection (its timer, a tail-loss probe or RACK) fired first. Often harmless; if it is frequent, look at ${side(otherSide(who))}'s ACK timing and for reordering on the path (netstat -s: reordering and undo counters).`;
    } else if (sender.spuriousRetransmission > 0 && sender.spuriousRetransmission * 2 >= dataRetrans(f, sender)) {
      causeCode = 'spurious';
      cause = `mostly spurious (the data had already been acknowledged, so ACKs were delayed or lost rather than the data)`;
      hint = 'Data that was already acknowledged was sent again: the sender\'s retransmission timer fired before the ACK arrived (a sudden RTT increase, a delayed-ACK interaction) or the capture holds each packet twice (a capture on both sides of a bridge or a SPAN duplicating frames). Compare the RTT with the RTO, and check the capture setup.';
    } else if (receiverWindow && sender.fastRetransmission === 0 && receiverDupAcks === 0) {
      causeCode = 'slow-receiver';
      cause = `the receiver was slow (its window was ${receiver.zeroWindow ? 'closed, a zero window' : 'full'}) and ${side(who)} ${timing.timedOut > 0 ? 'timed out waiting' : 'sent again while waiting'}`;
      hint = `${side(otherSide(who), true)} does not read fast enough: its receive buffer filled. The retransmissions are a symptom; look at ${side(otherSide(who))} application (CPU, blocking I/O, a slow consumer), and at its receive buffer size.`;
    } else {
      causeCode = 'path-loss';
      const unneeded = Math.min(shownUnneeded(sender, receiver), dataRetrans(f, sender));
      const partly = unneeded > 0 ? `; ${unneeded} of them unneeded (${side(otherSide(who))} already had the data)` : '';
      cause = `${receiverDupAcks > 0 || sender.fastRetransmission > 0 ? `packet loss on the path (${side(otherSide(who))} saw later segments and sent ${plural(receiverDupAcks, 'duplicate ACK')})` : 'packet loss on the path (segments or their ACKs were lost)'}${partly}`;
      hint = 'Segments were lost between the two hosts: a congested or faulty link, a full queue on a router or NIC, Wi-Fi, a policer or shaper dropping bursts. A few retransmissions on a long transfer are normal TCP recovery; many slow the transfer down. Check interface error and drop counters along the path (ip -s link, ethtool -S) and compare with a capture on the other side to see where packets vanish.';
    }
    // The slowest resend of the side the sentence is about (the analysis's is both sides'), called
    // an RTO only if it came as late as one.
    const rto = slowestResendOf(a, who);
    const worst = rto ? `; ${rto.worstMs >= timing.timeoutMs ? 'worst RTO' : 'slowest resend'} ${fmtDuration(rto.worstMs * 1000)} (#${rto.worstPacket} resends #${rto.originalPacket})` : '';
    // One segment sent twice on a connection that otherwise went fine is routine TCP (Linux's
    // tail-loss probe fires after a few ms when an ACK is late): worth a line, not a warning.
    const isolated = !stalled && c + s === 1;
    // Shown unneeded but one, both sides together, and no resend a second late: that one is routine recovery too.
    const needed = Math.max(0, c - shownUnneeded(a.client, a.server)) + Math.max(0, s - shownUnneeded(a.server, a.client));
    const oneNeeded = !stalled && !explainedByRst && !tooSoon && needed <= 1 && (a.rto?.worstMs ?? 0) < ROUTINE_RESEND_MAX_MS;
    // The other side's resends, with its own slowest: a long wait of either side is worth a number.
    const otherResends = who === 'server' ? c : s;
    const otherRto = otherResends > 0 ? slowestResendOf(a, otherSide(who)) : null;
    const otherWorst = otherRto ? ` (${otherRto.worstMs >= timing.timeoutMs ? 'worst RTO' : 'slowest resend'} ${fmtDuration(otherRto.worstMs * 1000)}: #${otherRto.worstPacket} resends #${otherRto.originalPacket})` : '';
    const summary = `${plural(dataRetrans(f, sender), 'retransmission')} by ${side(who)} (${kinds.join(', ')}; ${sender.bytesResent} bytes resent${worst}): ${cause}${rstNote}${otherResends > 0 ? `; ${side(otherSide(who))} retransmitted ${otherResends} too${otherWorst}` : ''}`;
    const unproven = rolesUnproven(f);
    return {
      code: 'retransmission',
      severity: stalled ? 'error' : causeCode === 'path-mtu-discovery' || holeBehindFirstData !== null || (causeCode !== 'path-mtu' && (isolated || oneNeeded)) ? 'info' : 'warning',
      summary: unproven ? `${summary}; ${ROLES_UNPROVEN_NOTE}` : summary,
      packets: marks.slice(0, 20),
      facts: {
        direction: who,
        client: { retransmissions: c, fast: a.client.fastRetransmission, spurious: a.client.spuriousRetransmission, bytesResent: a.client.bytesResent, duplicateAcksReceived: a.server.duplicateAck },
        server: { retransmissions: s, fast: a.server.fastRetransmission, spurious: a.server.spuriousRetransmission, bytesResent: a.server.bytesResent, duplicateAcksReceived: a.client.duplicateAck },
        worstRtoMs: rto?.worstMs ?? null,
        worstRtoPacket: rto?.worstPacket ?? null,
        originalPacket: rto?.originalPacket ?? null,
        stalled,
        retransmissionsAfterPeerRst: afterPeerRst,
        dsacksByReceiver: receiver.dsacks,
        cause: causeCode,
        ...(causeCode === 'path-mtu' && probed ? { mtuProbing: probed } : {}),
      },
      hint,
    };
  },
};

/** One resend no later than this after its original, beside unneeded ones, is routine recovery (info); a later one is a stall worth a warning. */
const ROUTINE_RESEND_MAX_MS = 1_000;

/**
 * The slowest resend `who` sent among the marks (the first of equals), as the analysis's rto holds
 * it for both sides: a resend sent on an ACK of new data is loss recovery, not a timer's, and is
 * left out. Null when none was timed.
 */
function slowestResendOf(a: NonNullable<FlowFacts['analysis']>, who: 'client' | 'server'): { worstMs: number; worstPacket: number; originalPacket: number } | null {
  let best: { worstMs: number; worstPacket: number; originalPacket: number } | null = null;
  for (const m of a.marks) {
    if (m.from !== who || m.rtoMs === undefined || m.rtoOf === undefined || m.onAck) continue;
    if (best === null || m.rtoMs > best.worstMs) best = { worstMs: m.rtoMs, worstPacket: m.no, originalPacket: m.rtoOf };
  }
  return best;
}

/** What shows that a run of unanswered resends met a path MTU black hole (see pathMtuBlackHole). */
interface MtuBlackHole {
  resends: number;
  size: number;
  ackedSize: number;
  /** The peer's packet after the first resend, in words. */
  peerAlive: string;
}

/**
 * The unanswered resends of `who` from `since` are a path MTU black hole when the capture shows all
 * three: every one of them is large (MTU_SIZED_SEGMENT and up); the peer had acknowledged smaller segments
 * of `who` whole, so its receive path works for those; and it went on sending after the first
 * resend (a FIN, data, an ACK), so it was alive and reachable, yet never acknowledged them.
 */
function pathMtuBlackHole(f: FlowFacts, who: 'client' | 'server', since: { packet: number; ts: number }): MtuBlackHole | null {
  const a = f.analysis!;
  const sender = who === 'server' ? a.server : a.client;
  const resends = a.marks.filter((m) => m.from === who && m.no >= since.packet && m.kinds.some((k) => k.endsWith('retransmission')));
  if (resends.length < sender.retransmissionsUnanswered || resends.length === 0) return null;
  // A small segment the side sent last and never got acknowledged was lost too: no size limit shows.
  if (sender.lastSegmentUnacked > 0 && sender.lastSegmentUnacked < MTU_SIZED_SEGMENT) return null;
  const smallest = Math.min(...resends.map((m) => m.len));
  // Without a data segment acknowledged, the handshake is what got through: a weaker proof.
  const ackedSize = sender.largestAckedSegment;
  if (smallest < MTU_SIZED_SEGMENT || ackedSize >= smallest || (ackedSize === 0 && f.handshakeAck === null)) return null;
  const size = Math.max(...resends.map((m) => m.len));
  const peer = who === 'server' ? f.clientSide : f.serverSide;
  if (peer.lastTs <= since.ts) return null;
  const peerAlive =
    peer.fin && peer.fin.ts > since.ts ? `its FIN #${peer.fin.no} came ${fmtDuration(peer.fin.ts - since.ts)} later` : peer.lastData && peer.lastData.ts > since.ts ? `it sent data until #${peer.lastData.no}` : `it sent packets until ${fmtDuration(peer.lastTs - since.ts)} later`;
  return { resends: resends.length, size, ackedSize, peerAlive };
}

/**
 * A window closed only after the side sent its FIN is a socket that is gone (Windows acks a late
 * FIN retransmission with window 0), not a receiver that stopped reading.
 */
function closedAfterFin(f: FlowFacts, who: 'client' | 'server', s: SideAnalysis): boolean {
  const fin = (who === 'client' ? f.clientSide : f.serverSide).fin;
  return fin !== null && fin.no < s.zeroWindowEpisodes!.firstPacket;
}

/**
 * The longest a zero window may stay closed and still be flow control at work (BRIEF_ZERO_WINDOW_MICROS);
 * null when episodes `z` are no such thing: one stayed closed longer, the window was still closed at the
 * end, or together they took BRIEF_ZERO_WINDOW_SHARE or more of the flow's time.
 */
function briefZeroWindowLimit(f: FlowFacts, z: ZeroWindowFacts): number | null {
  const probed = z.probes > 0 ? BRIEF_ZERO_WINDOW_RTTS * (f.analysis?.handshake?.rttMs ?? 0) * 1000 : 0;
  const limit = Math.max(BRIEF_ZERO_WINDOW_MICROS, probed);
  const brief = !z.stillClosed && z.longestMs * 1000 <= limit && z.totalMs * 1000 < BRIEF_ZERO_WINDOW_SHARE * (f.end - f.start);
  return brief ? limit : null;
}

const zeroWindow: FlowRule = {
  code: 'zero-window',
  needs: SHOWS.ZERO_WINDOW,
  evaluate(f) {
    const a = f.analysis;
    if (!a || (a.client.zeroWindow === 0 && a.server.zeroWindow === 0)) return null;
    const candidates: Array<['client' | 'server', SideAnalysis]> = [
      ['client', a.client],
      ['server', a.server],
    ];
    const hit = candidates.filter(([who, s]) => s.zeroWindow > 0 && s.zeroWindowEpisodes && !closedAfterFin(f, who, s)).sort((x, y) => y[1].zeroWindowEpisodes!.longestMs - x[1].zeroWindowEpisodes!.longestMs)[0];
    if (!hit) return null;
    const [who, side] = hit;
    const z = side.zeroWindowEpisodes!;
    // Where nothing proves the roles, each side is named by its host:port. The packets still prove
    // which host stopped reading: a window closed longer than flow control's brief closes is a
    // warning either way; a shorter one (a last ACK with a zero window) says nothing more than info.
    const unproven = rolesUnproven(f);
    const name = sideNamer(f);
    const receiver = name(who);
    const sender = name(otherSide(who));
    const probes = z.probes;
    const ending = z.stillClosed ? `still closed when ${stoppedWatching(f) ? watchEnd(f) : 'the connection ended'}` : `reopened at #${z.reopenedPacket}`;
    // The probes are the other side's packets: not counted when the capture misses them.
    const probesSeen = f.visibility.seen === 'both';
    const briefLimit = briefZeroWindowLimit(f, z);
    const brief = !unproven && briefLimit !== null ? `: flow control, not a stalled reader (each time reopened within ${fmtDuration(briefLimit)})` : '';
    const stalled = briefLimit === null && (!unproven || z.longestMs * 1000 > BRIEF_ZERO_WINDOW_MICROS);
    return {
      code: 'zero-window',
      severity: stalled ? 'warning' : 'info',
      summary: `${receiver} advertised a zero window (#${z.firstPacket}${z.episodes > 1 ? `, ${z.episodes} times` : ''}): closed for ${fmtDuration(z.longestMs * 1000)}, ${ending}${probesSeen ? `; ${sender} sent ${plural(probes, 'zero-window probe')}` : `; ${sender}'s packets are not in the capture`}${brief}${unproven ? `; ${ROLES_UNPROVEN_NOTE}` : ''}`,
      packets: [z.firstPacket, ...(z.reopenedPacket ? [z.reopenedPacket] : [])],
      facts: {
        receiver: unproven ? receiver : who,
        episodes: z.episodes,
        zeroWindowPackets: side.zeroWindow,
        longestClosedMs: z.longestMs,
        totalClosedMs: z.totalMs,
        probes,
        zeroWindowProbes: (who === 'client' ? a.server : a.client).zeroWindowProbe,
        probeAcks: side.zeroWindowProbeAck,
        reopened: !z.stillClosed,
        reopenedPacket: z.reopenedPacket,
      },
      hint: unproven
        ? `The application on ${receiver} did not read what arrived, so its receive buffer filled and ${sender} had to wait. Whether that was a slow client or a stuck server is not known: start the capture before the connection opens to see which side opened it.`
        : briefLimit !== null
        ? `The ${otherSide(who)} sent faster than the ${who} application read, and each time the ${who} caught up within ${fmtDuration(briefLimit)}: TCP flow control doing its job, not an application that stopped reading. It costs throughput only; nothing to do unless the transfer is slower than it should be (then a larger receive buffer on the ${who} helps).`
        : `The ${who}'s receive buffer is full because its application is not reading (stuck, blocked, overloaded, or deliberately paused by flow control). TCP itself is fine: the ${otherSide(who)} waits and probes. Look at the ${who} application at that time (thread dumps, CPU, a slow consumer or disk), not at the network.`,
    };
  },
};

/** The client's bytes are no protocol the dissectors read (HTTP, TLS, WebSocket, a tunnel). */
function isUnreadPayload(f: FlowFacts): boolean {
  return f.app === null || f.app.protocol === 'unknown';
}

const noResponse: FlowRule = {
  code: 'no-response',
  needs: SHOWS.UNANSWERED,
  needsBothSides: true,
  // Which side's bytes asked and which owed the answer.
  needsKnownRoles: true,
  evaluate(f, ctx) {
    const a = f.analysis;
    const u = a?.unanswered;
    if (!a || !u || u.ackedPacket === null || f.clientSide.bytes === 0) return null;
    // The server's sequence numbers moved past the request: it answered, the capture missed it.
    if (u.unseenAnswerPacket !== null) return null;
    // After a WebSocket upgrade either side sends when it likes: silence is not a missing answer.
    if (f.app?.upgradedTo?.toLowerCase() === 'websocket') return null;
    // A TLS client's Finished owes it no answer: bytes that carried only the handshake are no request.
    if (isTlsHandshakeOnly(f, u.requestPacket)) return null;
    // An HTTP request the client never finished asks for no answer yet (request-stalled tells the stall).
    if (unfinishedRequest(f)) return null;
    // A client that went on sending after a second or more of silence, more than once, does not
    // wait for answers: a one-way stream (syslog, metrics, log shipping) when the server never
    // sent a byte, fire-and-forget messages (MQTT QoS 0) when the server answered later ones.
    if (u.silentResumes >= 2 && (f.serverSide.bytes === 0 || u.serverSpokeAfterResume)) return null;
    // Caught mid-stream, in bytes no dissector reads (encrypted records, an unknown protocol), after
    // the server had already sent some: which of the client's messages asks for an answer is unknown
    // (an HTTP/2 SETTINGS acknowledgement or WINDOW_UPDATE, a keep-alive asks for none), so silence
    // after the last one proves no missing answer.
    if (isUnreadPayload(f) && f.syns.length === 0 && f.synAcks.length === 0 && f.serverSide.bytes > 0) return null;
    // A server that closed or reset first is reported by the close rules.
    const serverClose = [f.serverSide.fin, f.serverSide.rst].filter((x): x is { no: number; ts: number } => x !== null && x.ts >= u.requestTs);
    if (serverClose.length > 0 && (u.gaveUpTs === null || serverClose.some((x) => x.ts < u.gaveUpTs!))) return null;
    // Bytes of no protocol tcpwhy reads to a server that never sent one, then an orderly FIN that
    // the server answers with its own: it read to the end and closed, and nothing shows the client
    // waited for an answer (netcat, a one-way message) rather than being done.
    const serverFin = f.serverSide.fin;
    if (isUnreadPayload(f) && f.serverSide.bytes === 0 && !u.gaveUpRst && u.gaveUpTs !== null && serverFin && serverFin.ts >= u.gaveUpTs && serverFin.ts - u.gaveUpTs < patienceFor(f)) return null;
    const watch = watchOf(f, ctx);
    const end = u.gaveUpTs ?? watch.ts;
    const waited = end - u.requestTs;
    if (waited < NO_RESPONSE_MIN_MICROS) return null;
    if (u.gaveUpTs === null && endedTooEarly(f, ctx, u.requestTs)) return null;
    const gaveUp = u.gaveUpPacket !== null;
    const ending = gaveUp ? `the client ${u.gaveUpRst ? 'reset' : 'closed'} the connection (#${u.gaveUpPacket}) after ${fmtDuration(waited)}` : `still unanswered ${fmtDuration(waited)} later ${whenWatchEnded(f, watch)}`;
    return {
      code: 'no-response',
      // Bytes of a protocol tcpwhy does not read may ask for no answer, or for one later than the
      // capture went on: only a client that gave up waiting shows it wanted one.
      severity: gaveUp ? 'error' : 'warning',
      summary: `request #${u.requestPacket} was acknowledged by the server's TCP (#${u.ackedPacket}) but no response byte came back: ${ending}`,
      packets: [u.requestPacket, u.ackedPacket, ...(u.gaveUpPacket !== null ? [u.gaveUpPacket] : [])],
      facts: {
        requestPacket: u.requestPacket,
        ackedPacket: u.ackedPacket,
        waitedMs: ms(waited),
        endedBy: u.gaveUpPacket !== null ? 'client' : null,
        endHow: u.gaveUpPacket !== null ? (u.gaveUpRst ? 'rst' : 'fin') : null,
        serverBytesBefore: f.serverSide.bytes,
      },
      hint: `The server host received the request (its kernel acknowledged the bytes), so the network and the listener are fine: the application accepted the connection and did not answer. ${gaveUp ? 'It is hung, deadlocked, overloaded, or waiting on a backend (database, another service, a lock); the client gave up after its own timeout. Check the server application and its dependencies at that time.' : 'It may be hung or slow, or the protocol may not answer every message (a push or peer-to-peer protocol, a long poll): capture longer to see whether an answer or a timeout follows, and check the server application at that time.'}`,
    };
  },
};

/**
 * no-response from a capture that holds the server's packets only (tcpdump -Q in at the client, a
 * one-way mirror). Its own packets tell the story: an ACK number that moved past its SYN-ACK's took
 * the client's bytes (none of them captured), and a sequence number that never moved past its
 * SYN-ACK's sent none back, up to its last packet. Said only of that span of its own packets, and
 * only when the client sent nothing more than a FIN or one byte after those bytes (a client that
 * went on sending was no waiting one).
 */
const noResponseSeenFromServer: FlowRule = {
  code: 'no-response',
  needs: SHOWS.PEER_UNSEEN,
  evaluate(f) {
    const p = f.peerUnseen;
    if (f.visibility.seen !== 'server-only' || !p || p.seenSide !== 'server' || f.synAcks.length === 0 || f.afterIdle || f.icmp.length > 0) return null;
    const s = f.serverSide;
    if (s.seqBytes > 0 || s.bytes > 0 || s.fin || s.rst || s.sentUnseen) return null;
    // One sequence number alone may be a FIN: no bytes sent. More after the first ones ends the story.
    if (p.acknowledgedAtPacket < 2 || p.acknowledgedBytes - p.acknowledgedAtPacket > 1) return null;
    const waited = s.lastTs - p.ts;
    if (waited < NO_RESPONSE_MIN_MICROS) return null;
    // Nothing follows a FIN: when the server acknowledged more later, the first ones were all bytes.
    const more = p.acknowledgedBytes > p.acknowledgedAtPacket;
    const took = more ? `${p.acknowledgedAtPacket} bytes` : `${p.acknowledgedAtPacket} sequence numbers (bytes, perhaps ending with a FIN)`;
    return {
      code: 'no-response',
      severity: 'warning',
      summary: `the server's TCP acknowledged ${took} from the client (#${p.packet}), then sent no byte back in the ${fmtDuration(waited)} its packets cover, to #${f.lastPacket}: its sequence number never moved past its SYN-ACK #${f.synAcks[0].no}${more ? '; its last packet acknowledges one more, a FIN or a byte the client sent later' : ''}. The capture holds none of the client's packets, so this rests on the server's own`,
      packets: [f.synAcks[0].no, p.packet, f.lastPacket],
      facts: { ackedPacket: p.packet, requestBytes: p.acknowledgedAtPacket, waitedMs: ms(waited), seenFrom: 'server', serverBytesBefore: 0 },
      hint: "The server host received the client's bytes (its kernel acknowledged them), so the network and the listener are fine: the application accepted the connection and did not answer, or the protocol does not answer this message. Check the server application and its dependencies at that time; a capture of both directions would show the request and how the client ended.",
    };
  },
};

function roundTimeout(seconds: number): number | null {
  for (const t of COMMON_IDLE_TIMEOUTS_S) if (Math.abs(seconds - t) <= Math.max(0.05, t * 0.02)) return t;
  return null;
}

/**
 * The closer's closing TLS alert (closingAlert), when it belongs to the close rather than to the
 * data: the last data of the connection, and the quiet before it the flow's longest. The idle then
 * runs from the last other data, of either side, to that alert, and no longer than that quiet (the
 * closer's last other record may have gone out in pieces after it began); null otherwise.
 */
function alertBeforeClose(f: FlowFacts, by: 'client' | 'server'): { alertPacket: number; idleMicros: number; quietMicros: number; named: string } | null {
  const alert = closingAlert(f, by);
  const other = by === 'client' ? f.serverSide : f.clientSide;
  if (!alert || alert.quietFrom === null || (other.lastData !== null && other.lastData.ts >= alert.ts)) return null;
  const dataTs = Math.max(alert.began, other.lastData?.ts ?? 0);
  const quietMicros = alert.ts - alert.quietFrom;
  // TLS 1.3 encrypts its alerts: only the record's size says what it is.
  const named = f.app?.tls?.serverHello?.version === 'TLS 1.3' ? `a record of a TLS alert's size #${alert.no}` : `TLS alert #${alert.no}`;
  return { alertPacket: alert.no, idleMicros: Math.min(alert.ts - dataTs, quietMicros), quietMicros, named };
}

const idleClose: FlowRule = {
  code: 'idle-close',
  // The silence is measured over both sides' data.
  needsBothSides: true,
  // Which side closed its idle end (a server's keep-alive timeout, a client's pool).
  needsKnownRoles: true,
  evaluate(f) {
    const a = f.analysis;
    const c = a?.close;
    // Only a connection that carried data and then fell silent; a request left unanswered is
    // no-response, unless it was sent after the close: then it is the keep-alive race.
    if (!a || !c || c.sinceLastDataMs === null) return null;
    const reusedPacket = a.unanswered !== null && a.unanswered.requestPacket > c.packet ? a.unanswered.requestPacket : null;
    if (a.unanswered && reusedPacket === null) return null;
    // A close in the middle of a request or a response ends an exchange, not an idle connection
    // (response-cut-short and request-stalled tell it).
    if (exchangeCutByClose(f)) return null;
    // A close_notify the closer sent first is part of its close: the idle ends there.
    const alert = alertBeforeClose(f, c.by);
    const idle = alert ? alert.idleMicros : c.sinceLastDataMs * 1000;
    const quiet = alert ? alert.quietMicros : c.idleBeforeMs * 1000;
    if (idle < IDLE_CLOSE_MIN_MICROS || quiet < IDLE_CLOSE_MIN_MICROS / 2) return null;
    const round = roundTimeout(idle / 1e6);
    const how = c.rst ? 'reset' : 'closed';
    const closedBy = `${alert ? `${alert.named}, then ` : ''}${c.rst ? 'RST' : 'FIN'} #${c.packet}`;
    // Closing an idle keep-alive connection with FINs both ways, and no RST after, is ordinary
    // housekeeping: reported, but not as a problem. An RST, or a close the peer did not complete,
    // is the kind a client trips over when it reuses the connection.
    // An RST sent once both FINs were out answers late bytes and unsettles nothing (rst-by-* says it as info).
    const bothFins = f.clientSide.fin && f.serverSide.fin ? Math.max(f.clientSide.fin.ts, f.serverSide.fin.ts) : Infinity;
    const rstBeforeBothFins = [f.clientSide.rst, f.serverSide.rst].some((r) => r !== null && r.ts < bothFins);
    // A client dropping its own idle connection with an RST, nothing in flight, leaves nothing for anyone to trip over.
    const clientDropped = c.rst && c.by === 'client' && reusedPacket === null && f.clientSide.rst !== null && clientDroppedIdle(f, f.clientSide.rst.ts);
    // A server's FIN on an idle keep-alive connection whose client has not closed yet: a pool closes it when it next takes it (half-closed says so).
    const poolKept = !c.rst && c.by === 'server' && reusedPacket === null && f.serverSide.fin !== null && idleBeforeServerFin(f, f.serverSide.fin) !== null;
    const clean = clientDropped || poolKept || (!c.rst && reusedPacket === null && f.state === 'SF' && !rstBeforeBothFins);
    const race = reusedPacket !== null ? `; the ${otherSide(c.by)} then sent #${reusedPacket} on the closed connection (the keep-alive race)` : '';
    return {
      code: 'idle-close',
      severity: clean ? 'info' : 'warning',
      summary: `idle ${fmtDuration(idle)}, then the ${c.by} ${how} the connection (${closedBy})${round ? `: ${round} s is a typical idle timeout` : ''}${race}`,
      packets: alert ? [a.idle!.fromPacket, alert.alertPacket, c.packet] : [c.lastPacketBefore, c.packet].filter((n) => n > 0),
      facts: { closer: c.by, how: c.rst ? 'rst' : 'fin', idleMs: ms(idle), roundTimeoutS: round, lastPacketBefore: alert ? a.idle!.fromPacket : c.lastPacketBefore, cleanClose: clean, reusedAfterClosePacket: reusedPacket, tlsAlertPacket: alert?.alertPacket ?? null },
      hint: round
        ? `${round} s without traffic, then the ${c.by} ${how} the connection: that matches a configured idle timeout (a load balancer such as AWS ELB 60 s, nginx keepalive_timeout 75 s or proxy timeouts, a server keep-alive timeout, a NAT or firewall table). If the connection should stay open, send application or TCP keep-alives more often than ${round} s, or raise that timeout; if the peer reuses the connection later, it must handle the close.`
        : `The ${c.by} closed a connection that had been idle for ${fmtDuration(idle)}: usually a keep-alive or idle timeout on that side (HTTP keep-alive timeout, a pool's idle timeout, a proxy's). Harmless unless the other side tries to reuse the connection at the same moment; then match the client pool's idle timeout to be shorter than the server's.`,
    };
  },
};

/** Flow rules from the TCP analysis, evaluated after the handshake and application rules. */
export const TCP_FLOW_RULES: FlowRule[] = [noResponse, noResponseSeenFromServer, retransmission, zeroWindow, idleClose];

// --- capture-level ---------------------------------------------------------------------------

function isHalfOpen(f: FlowDigest): boolean {
  return f.syns.length > 0 && f.handshakeAck === null && f.clientSide.bytes === 0 && !f.clientSide.rst && !f.serverSide.rst;
}

/** Largest number of times within any window of `span` µs (times sorted). */
function densestWindow<T extends { ts: number }>(items: T[], span: number): { count: number; from: number; to: number } {
  let best = { count: 0, from: 0, to: 0 };
  for (let i = 0, j = 0; j < items.length; j++) {
    while (items[j].ts - items[i].ts > span) i++;
    if (j - i + 1 > best.count) best = { count: j - i + 1, from: i, to: j };
  }
  return best;
}

/** Most flows a capture rule keeps to cite; beyond it the rule counts without keeping. */
const MAX_KEPT_FLOWS = 100_000;
/** Most server endpoints or client/server pairs a rule counts separately. */
const MAX_KEYS = 200_000;

/** A counter per key (server endpoint) that stops taking new keys at MAX_KEYS. */
function bump(counts: Map<string, number>, key: string): void {
  const n = counts.get(key);
  if (n !== undefined) counts.set(key, n + 1);
  else if (counts.size < MAX_KEYS) counts.set(key, 1);
}

/** The smallest `max` packet numbers seen, ascending: what a verdict cites, whatever order flows finish in. */
function keepFirstPackets(list: number[], no: number, max = 20): void {
  if (list.length >= max && no >= list[list.length - 1]) return;
  let i = list.length;
  while (i > 0 && list[i - 1] > no) i--;
  list.splice(i, 0, no);
  if (list.length > max) list.pop();
}

/**
 * Half-open connections from one source that look like a flood tool's rather than a client's
 * failing connections: enough of them, nearly each from its own source port, and at most a
 * quarter retried (a client whose connection fails sends its SYN again).
 */
function oneSourceFlood(flows: HalfOpen[]): boolean {
  if (flows.length < SYN_FLOOD_MIN_HALF_OPEN_ONE_SOURCE) return false;
  const ports = new Set(flows.map((f) => f.clientPort));
  const retried = flows.filter((f) => f.syns > 1).length;
  return ports.size * 10 >= flows.length * 9 && retried * 4 <= flows.length;
}

/** A half-open connection as the syn-flood sample keeps it: flat, a tenth of a flow's digest. */
interface HalfOpen {
  id: number;
  /** The first SYN's time and packet number, and how many SYNs. */
  ts: number;
  synNo: number;
  syns: number;
  server: string;
  clientIp: string;
  clientPort: number;
  synAcks: number;
  firstSynAckTs: number;
  end: number;
}

function halfOpenOf(f: FlowDigest): HalfOpen {
  const s = f.syns[0];
  return { id: f.id, ts: s.ts, synNo: s.no, syns: f.syns.length, server: f.server, clientIp: f.clientIp, clientPort: f.clientPort, synAcks: f.synAcks.length, firstSynAckTs: f.synAcks[0]?.ts ?? 0, end: f.end };
}

/** Half-open connections the syn-flood rule keeps to find a flood's window and cite it; beyond them it only counts. */
export const SYN_FLOOD_SAMPLE = 100_000;
/** Servers whose half-open totals are kept apart. */
const MAX_FLOOD_TARGETS = 4_096;

/** Every half-open connection to one server (or to all), counted whether or not it is in the sample. */
class HalfOpenTotals {
  connections = 0;
  syns = 0;
  synAcked = 0;
  readonly sources = new DistinctCount();
  firstTs = Infinity;
  lastTs = -Infinity;

  add(f: FlowDigest): void {
    this.connections++;
    this.syns += f.syns.length;
    if (f.synAcks.length > 0) this.synAcked++;
    this.sources.add(f.clientIp);
    const ts = f.syns[0].ts;
    if (ts < this.firstTs) this.firstTs = ts;
    if (ts > this.lastTs) this.lastTs = ts;
  }
}

/**
 * Half-open connections to one server from many sources within SYN_FLOOD_WINDOW_MICROS: a SYN flood.
 * Which servers are flooded is found in a sample, the first `sampleSize` half-open connections;
 * the totals (connections, SYNs, distinct sources, window, rate) count them all, and the verdict
 * names the sample when it did not hold them all.
 */
export function synFloodRule(sampleSize = SYN_FLOOD_SAMPLE): CaptureRule {
  return {
    code: 'syn-flood',
    start() {
      // Half-open connections are what a flood is made of; every other flow only adds to a per-server count.
      const half: HalfOpen[] = [];
      const completed = new Map<string, number>();
      const totals = new Map<string, HalfOpenTotals>();
      const all = new HalfOpenTotals();
      const addHalfOpen = (f: FlowDigest) => {
        all.add(f);
        let t = totals.get(f.server);
        if (!t && totals.size < MAX_FLOOD_TARGETS) totals.set(f.server, (t = new HalfOpenTotals()));
        t?.add(f);
        if (half.length < sampleSize) half.push(halfOpenOf(f));
      };
      return {
        observe(f) {
          if (f.handshakeAck !== null) bump(completed, f.server);
          if (isHalfOpen(f)) addHalfOpen(f);
        },
        countAttempt: addHalfOpen,
        retained: () => half.length + completed.size + totals.size,
        verdicts(_c, ctx) {
          if (half.length < SYN_FLOOD_MIN_HALF_OPEN) return [];
          const sampled = all.connections > half.length;
          const sorted = half.sort((x, y) => x.ts - y.ts || x.id - y.id);
          const out: Verdict[] = [];
          const byServer = new Map<string, typeof sorted>();
          for (const h of sorted) {
            let list = byServer.get(h.server);
            if (!list) byServer.set(h.server, (list = []));
            list.push(h);
          }
          const report = (target: string, list: typeof sorted, oneService: boolean) => {
            const w = densestWindow(list, SYN_FLOOD_WINDOW_MICROS);
            if (w.count < SYN_FLOOD_MIN_HALF_OPEN) return;
            const inWindow = list.slice(w.from, w.to + 1);
            const sources = new Set(inWindow.map((h) => h.clientIp));
            if (sources.size < SYN_FLOOD_MIN_SOURCES && !(oneService && oneSourceFlood(inWindow))) return;
            // Clients that send their SYN again are TCP stacks whose connections fail (each flow's
            // syn-timeout says so): a flood tool sends each SYN once, and a spoofed source never retries.
            if (inWindow.filter((h) => h.syns > 1).length * 4 > inWindow.length) return;
            const span = inWindow[inWindow.length - 1].ts - inWindow[0].ts;
            const synAcked = inWindow.filter((h) => h.synAcks > 0);
            // A SYN-ACK that the server never retransmits though no ACK came: it kept no state (SYN cookies).
            const stateless = synAcked.filter((h) => h.synAcks === 1 && Math.max(h.end, ctx.captureEnd) - h.firstSynAckTs >= SYNACK_RETRY_EXPECTED_MICROS);
            const answered = oneService ? (completed.get(target) ?? 0) : 0;
            const cookies = stateless.length > 0 ? `; ${plural(stateless.length, 'SYN-ACK')} never retransmitted: SYN cookies` : '';
            const whom = oneService ? `against ${target}` : `to ${target}`;
            const t = oneService ? totals.get(target) : all;
            let summary: string;
            let counts: Record<string, unknown>;
            if (sampled && t) {
              // The sample holds only the first half-open connections: the totals say how big the flood was.
              const window = t.lastTs - t.firstTs;
              const rate = Math.round(t.syns / Math.max(window / 1e6, 1e-6));
              const sourceCount = `${t.sources.approximate ? 'about ' : ''}${t.sources.count.toLocaleString('en-US')} source${t.sources.count === 1 ? '' : 's'}${t.sources.approximate ? ' (estimated)' : ''}`;
              summary =
                `SYN flood ${whom}: ${t.connections.toLocaleString('en-US')} half-open connections (${t.syns.toLocaleString('en-US')} SYNs) from ${sourceCount} within ${fmtDuration(window)}, ` +
                `${rate.toLocaleString('en-US')} SYNs/s (${t.synAcked.toLocaleString('en-US')} answered with SYN-ACK, ${(t.connections - t.synAcked).toLocaleString('en-US')} unanswered; ${plural(answered, 'connection')} completed)${cookies}; ` +
                `found in a sample of the first ${half.length.toLocaleString('en-US')} half-open connections of the capture, ${w.count.toLocaleString('en-US')} of them in its densest ${fmtDuration(SYN_FLOOD_WINDOW_MICROS)}`;
              counts = {
                halfOpen: t.connections,
                syns: t.syns,
                sources: t.sources.count,
                sourcesApproximate: t.sources.approximate,
                windowMs: ms(window),
                synsPerSecond: rate,
                synAcked: t.synAcked,
                unanswered: t.connections - t.synAcked,
                sample: { size: half.length, halfOpen: w.count, sources: sources.size, windowMs: ms(span) },
              };
            } else {
              summary = `SYN flood ${whom}: ${plural(w.count, 'half-open connection')} from ${sources.size === 1 ? `one source, ${inWindow[0].clientIp}, on ${plural(new Set(inWindow.map((h) => h.clientPort)).size, 'source port')} (a flood tool: each SYN sent once)` : plural(sources.size, 'source')} within ${fmtDuration(span)} (${synAcked.length} answered with SYN-ACK, ${w.count - synAcked.length} unanswered; ${plural(answered, 'connection')} completed)${cookies}`;
              counts = { halfOpen: w.count, sources: sources.size, windowMs: ms(span), synAcked: synAcked.length, unanswered: w.count - synAcked.length };
            }
            out.push({
              code: 'syn-flood',
              severity: 'error',
              summary,
              packets: inWindow.slice(0, 20).map((h) => h.synNo),
              facts: {
                target,
                ...counts,
                completed: answered,
                synCookiesLikely: stateless.length > 0,
                statelessSynAcks: stateless.length,
              },
              hint:
                'Many clients start connections and never finish them: a SYN flood (often from spoofed sources) or a client fleet whose final ACKs are lost. Make sure SYN cookies are on (net.ipv4.tcp_syncookies=1), raise net.ipv4.tcp_max_syn_backlog, filter or rate-limit at the edge (a DDoS scrubbing service, iptables hashlimit / SYNPROXY), and check whether the sources are real (spoofed addresses never answer)' +
                (stateless.length > 0 ? '. SYN-ACKs left without a retransmission show the server answered from SYN cookies: its SYN queue was full.' : '.'),
            });
          };
          let reported = false;
          for (const [server, list] of byServer) {
            const before = out.length;
            report(server, list, true);
            if (out.length > before) reported = true;
          }
          if (!reported) {
            // Spoofed floods often aim at random addresses and ports: look at the capture as a whole.
            const targets = new Set(sorted.map((h) => h.server));
            if (targets.size >= SYN_FLOOD_MIN_SOURCES) report(`${targets.size} different destinations`, sorted, false);
          }
          return out;
        },
      };
    },
  };
}

/** Most client/server pairs followed at once: most pairs of a busy capture are one-off connections. */
const MAX_PORT_GROUPS = 50_000;
/** Groups are looked over for pruning after this many flows. */
const PRUNE_EVERY = 16_384;

const portExhaustion: CaptureRule = {
  code: 'port-exhaustion',
  start() {
    const groups = new PortGroups(MAX_PORT_GROUPS);
    let seen = 0;
    let latest = -Infinity;
    /** After a prune that left the table full, new pairs wait this many flows before the next one. */
    let pruneAgainAt = 0;
    // A group with no reuse that has been quiet for a TIME_WAIT cannot gain one from its past
    // ports: it is dropped, and starts again if the client comes back.
    const prune = () => {
      groups.forgetQuiet(latest - TIME_WAIT_MICROS);
      // Still full: drop the oldest pairs that have neither reuse nor enough connections to count.
      if (groups.size >= MAX_PORT_GROUPS) groups.forgetOldest(PORT_EXHAUSTION_MIN_CONNECTIONS, (MAX_PORT_GROUPS * 3) / 4);
    };
    return {
      observe(f) {
        if (f.syns.length === 0) return;
        if (f.end > latest) latest = f.end;
        if (++seen % PRUNE_EVERY === 0) prune();
        // join, not a template: it makes one flat string, where a template makes a rope of two
        // nodes (64 bytes) besides, which the pair's key would hold as long as the pair is followed.
        const key = [f.clientIp, f.server].join(' ');
        const syn = f.syns[0].ts;
        let g = groups.find(key);
        if (g < 0) {
          if (groups.size >= MAX_PORT_GROUPS && seen >= pruneAgainAt) {
            prune();
            // Every pair counts (reuse or many connections): new ones are not followed for a while,
            // rather than each paying for a look over all the others.
            if (groups.size >= MAX_PORT_GROUPS) pruneAgainAt = seen + PRUNE_EVERY;
          }
          g = groups.add(key, f.clientPort, syn);
          if (g < 0) return;
        }
        groups.connection(g, f.clientPort, syn, f.end - f.start);
        const r = f.reusedAfter;
        // A reset or refused connection leaves no TIME_WAIT: only reuse after a FIN close counts.
        if (r !== null && r.state === 'SF' && syn - r.closedTs <= TIME_WAIT_MICROS) {
          keepFirstPackets(groups.reuse(g, syn - r.closedTs, f.state !== 'SF' && f.state !== 'S1'), f.syns[0].no);
        }
      },
      retained: () => groups.size,
      verdicts() {
        const out: Verdict[] = [];
        for (const g of groups.groups(PORT_EXHAUSTION_MIN_CONNECTIONS)) {
          // Ports cycle: each source port carried at least two connections on average.
          const distinctPorts = g.distinctPorts;
          if (g.connections < 2 * distinctPorts) continue;
          if (g.reused === 0) continue;
          const span = Math.max(g.lastSyn - g.firstSyn, 1);
          const rate = g.connections / (span / 1e6);
          if (rate < PORT_EXHAUSTION_MIN_PER_SECOND) continue;
          const lifetimes = g.lifetimes.sort((x, y) => x - y);
          const medianLife = lifetimes[Math.floor(lifetimes.length / 2)];
          const quickest = g.quickestReuse;
          out.push({
            code: 'port-exhaustion',
            severity: 'warning',
            summary: `${g.clientIp} opened ${plural(g.connections, 'connection')} to ${g.server} in ${fmtDuration(span)} (${Math.round(rate)}/s, median lifetime ${fmtDuration(medianLife)}) from only ${plural(distinctPorts, 'source port')}: ${plural(g.reused, '4-tuple')} reused within TIME_WAIT (quickest ${fmtDuration(quickest)} after the previous close)${g.failedReused ? `; ${g.failedReused} of the reused ones failed` : ''}`,
            packets: g.reusedPackets,
            facts: {
              client: g.clientIp,
              server: g.server,
              connections: g.connections,
              connectionsPerSecond: Math.round(rate * 10) / 10,
              distinctSourcePorts: distinctPorts,
              reusedWithinTimeWait: g.reused,
              quickestReuseMs: ms(quickest),
              failedReused: g.failedReused,
              medianLifetimeMs: ms(medianLife),
            },
            hint: 'The client opens a new short connection per request and cycles through its source ports faster than TIME_WAIT (60 s on Linux) frees them; once the range is used up, connect() fails with EADDRNOTAVAIL, and a reused 4-tuple can be refused or confused by the server. Reuse connections (HTTP keep-alive, a connection pool), widen net.ipv4.ip_local_port_range, enable net.ipv4.tcp_tw_reuse on the client, spread load over more server addresses or ports, and avoid closing from the server side first.',
          });
        }
        return out;
      },
    };
  },
};

/** Three dropped connections whose first SYNs lie within this span of each other are a burst of drops. */
const DROP_BURST_MICROS = 1_000_000;
/** Connections dropped once each that a listener must have lost, in bursts, to be called overflowing. */
const LISTEN_OVERFLOW_MIN_DROPPED = 10;

/** SYNs to server:port that went unanswered, in bursts, while the same listener answered others: its queue overflowed. */
const listenQueueOverflow: CaptureRule = {
  code: 'listen-queue-overflow',
  start() {
    interface Listener {
      /** First SYNs of the connections whose SYNs were dropped while the listener answered others (the first 20). */
      cited: number[];
      droppedCount: number;
      droppedSyns: number;
      neverConnected: number;
      ignoredFinalAcks: number;
      /**
       * First SYN times of the dropped connections by DROP_BURST_MICROS slot, until three lie within
       * DROP_BURST_MICROS of each other (burst); a slot then holds at most two.
       */
      dropTimes: Map<number, number[]>;
      burst: boolean;
      /** A connection's SYN was dropped twice or more. */
      droppedAgain: boolean;
    }
    const listeners = new Map<string, Listener>();
    const answeredFlows = new Map<string, number>();
    // Drop times held over all listeners, at most MAX_KEPT_FLOWS: past that, later drops are not looked at for bursts.
    let heldDropTimes = 0;
    // Dropped-SYN flows wait here until packet time has passed the end of their window, so every
    // answer that falls inside it has been logged. One the log already shows answered others is
    // settled as it ends: a capture that goes on for minutes would see the log forget its answers.
    let pending: FlowDigest[] = [];
    // Pending flows are looked over when their number doubles, so each is looked at O(1) times on average.
    let settleAt = 64;
    // Like bump: past MAX_KEYS listeners in trouble, new ones go uncounted rather than grow the map.
    const listener = (server: string): Listener | undefined => {
      let l = listeners.get(server);
      if (!l && listeners.size < MAX_KEYS) listeners.set(server, (l = { cited: [], droppedCount: 0, droppedSyns: 0, neverConnected: 0, ignoredFinalAcks: 0, dropTimes: new Map(), burst: false, droppedAgain: false }));
      return l;
    };
    // Three first SYNs within DROP_BURST_MICROS lie in the slot of the last one found and the slots
    // either side of it, so looking there as each drop comes finds a burst whatever order the
    // dropped flows are settled in.
    const recordDrop = (l: Listener, ts: number) => {
      if (l.burst || heldDropTimes >= MAX_KEPT_FLOWS) return;
      const slot = Math.floor(ts / DROP_BURST_MICROS);
      const times = l.dropTimes.get(slot);
      if (times) times.push(ts);
      else l.dropTimes.set(slot, [ts]);
      heldDropTimes++;
      const near = [...(l.dropTimes.get(slot - 1) ?? []), ...l.dropTimes.get(slot)!, ...(l.dropTimes.get(slot + 1) ?? [])].sort((a, b) => a - b);
      for (let i = 2; i < near.length; i++) {
        if (near[i] - near[i - 2] > DROP_BURST_MICROS) continue;
        l.burst = true;
        for (const held of l.dropTimes.values()) heldDropTimes -= held.length;
        l.dropTimes.clear();
        return;
      }
    };
    // From the first SYN to the answer that ended the retries, or to the last SYN of a client
    // never answered: a connection served before or after that shows the listener up at another time.
    const windowEnd = (f: FlowDigest) => f.synAcks[0]?.ts ?? f.syns[f.syns.length - 1].ts;
    // Answered by a SYN-ACK on another connection while this one's SYNs were being dropped.
    const othersAnswered = (f: FlowDigest, ctx: RuleContext) => ctx.answers.count(f.server, f.syns[0].ts, windowEnd(f), { synAckOnly: true, exceptPort: f.clientPort, limit: 1 }) > 0;
    /** A flow whose SYNs the listener dropped while it answered others. */
    const countDrop = (f: FlowDigest) => {
      const l = listener(f.server);
      if (!l) return;
      l.droppedCount++;
      keepFirstPackets(l.cited, f.syns[0].no);
      const droppedHere = f.syns.filter((s) => s.ts < (f.synAcks[0]?.ts ?? Infinity)).length - (f.synAcks.length > 0 ? 1 : 0);
      l.droppedSyns += droppedHere;
      if (f.synAcks.length === 0) l.neverConnected++;
      if (droppedHere >= 2) l.droppedAgain = true;
      recordDrop(l, f.syns[0].ts);
    };
    const settle = (f: FlowDigest, ctx: RuleContext) => {
      if (othersAnswered(f, ctx)) countDrop(f);
    };
    const settleDue = (ctx: RuleContext, all: boolean) => {
      if (pending.length === 0) return;
      const still: FlowDigest[] = [];
      for (const f of pending) {
        if (all || windowEnd(f) < ctx.captureEnd) settle(f, ctx);
        else still.push(f);
      }
      pending = still;
      settleAt = Math.max(64, 2 * pending.length);
    };
    return {
      observe(f, ctx) {
        if (f.synAcks.length > 0) bump(answeredFlows, f.server);
        if (f.syns.length === 0) return;
        // The first SYN got no answer (the client had to retry, or gave up).
        const firstAnswer = f.synAcks[0]?.ts ?? (f.serverSide.rst ? f.serverSide.rst.ts : Infinity);
        // Only clients that retried count: a lone unanswered SYN is as likely a probe or a scan.
        const droppedSyn = f.syns.length >= 2 && f.syns[1].ts < firstAnswer;
        const neverAnswered = f.synAcks.length === 0 && f.serverSide.packets === 0 && f.syns.length >= 2;
        // The server re-sent its SYN-ACK although the client ACKed: it dropped the ACK because its accept queue was full.
        const ackIgnored = f.synAcks.length >= 2 && f.handshakeAck !== null && f.synAcks[1].ts > f.handshakeAck.ts;
        if (ackIgnored) {
          const l = listener(f.server);
          if (l) l.ignoredFinalAcks++;
        }
        if (droppedSyn || neverAnswered) {
          if (windowEnd(f) < ctx.captureEnd && othersAnswered(f, ctx)) countDrop(f);
          else if (pending.length < MAX_KEPT_FLOWS) pending.push(digestFlow(f));
        }
        if (pending.length >= settleAt) settleDue(ctx, false);
      },
      retained: () => pending.length + listeners.size + answeredFlows.size + heldDropTimes,
      verdicts(_c, ctx) {
        settleDue(ctx, true);
        const out: Verdict[] = [];
        for (const [server, l] of listeners) {
          if (l.droppedCount === 0) continue;
          const answeredCount = answeredFlows.get(server) ?? 0;
          // A SYN lost now and then is what any lossy path shows, even a few in a second at a busy
          // listener or a third of a quiet one's. A full queue drops the same client's SYN again and
          // again, or drops in bursts many connections, a share no random loss reaches (a quarter
          // of those it answered).
          const manyInBursts = l.burst && l.droppedCount >= LISTEN_OVERFLOW_MIN_DROPPED && l.droppedCount * 4 >= answeredCount;
          if (!l.droppedAgain && !manyInBursts) continue;
          out.push({
            code: 'listen-queue-overflow',
            severity: 'warning',
            summary: `listen queue of ${server} overflowed: ${plural(l.droppedSyns, 'SYN')} from ${plural(l.droppedCount, 'connection')} dropped while it answered other connections' SYNs (${plural(answeredCount, 'connection')} answered in all${l.neverConnected ? `; ${l.neverConnected} of the dropped ones never connected` : ''})${l.ignoredFinalAcks ? `; ${plural(l.ignoredFinalAcks, 'handshake')} whose final ACK the server ignored (SYN-ACK re-sent after the ACK)` : ''}`,
            packets: l.cited,
            facts: {
              listener: server,
              droppedConnections: l.droppedCount,
              droppedSyns: l.droppedSyns,
              neverConnected: l.neverConnected,
              answeredConnections: answeredCount,
              ignoredFinalAcks: l.ignoredFinalAcks,
            },
            hint: 'The listener is up (it answered other SYNs while these were dropped) but its queues are full: the application does not accept() fast enough, or the backlog is too small. Raise the listen backlog (listen(fd, N), e.g. nginx "listen ... backlog=", net.core.somaxconn, net.ipv4.tcp_max_syn_backlog), make the accept loop faster (more workers, no blocking work on the accepting thread), and watch "netstat -s | grep -i listen" (times the listen queue of a socket overflowed, SYNs to LISTEN sockets dropped). net.ipv4.tcp_abort_on_overflow=1 turns the silent drops into RSTs the client sees at once.',
          });
        }
        return out;
      },
    };
  },
};

export const TCP_CAPTURE_RULES: CaptureRule[] = [synFloodRule(), portExhaustion, listenQueueOverflow];
