import type { ScanMark } from './probe-log.js';
import type { AnswersUnknown } from './answer-log.js';
import type { SentPacket } from './capture-watch.js';
import type { HeldWithSynAck, ReleasedWithSynAck } from './held-answers.js';
import type { EarlierReset } from './reset-log.js';
import type { DnsOrigin } from './dns-log.js';
import type { CaptureDropsFact } from './capture-drops.js';
import { formatAddr } from '../decode/addr.js';
import type { AppFacts } from '../dissect/types.js';
import { connState, type ConnState } from '../flow/conn-state.js';
import { EP, type Endpoint } from '../flow/endpoint.js';
import type { Flow } from '../flow/flow.js';
import { latestTimestamp, summarizeTcpAnalysis, type TcpAnalysisFacts } from '../flow/analysis.js';
import { isLikelyServerPort, type FlowEndReason } from '../flow/table.js';
import type { MemcapMark } from '../flow/memcap.js';
import type { SideTiming } from '../flow/timing.js';
import type { HandshakePacket } from '../flow/handshake-log.js';

// FlowFacts: the read-only summary of one finished flow that rules, reports and diff consume.
// Times are integer microseconds since the epoch; durations in the JSON are seconds or ms as named.

const EP_NAMES = ['INACTIVE', 'SYN_SENT', 'SYN_ACK_SENT', 'PARTIAL', 'ESTABLISHED', 'CLOSED', 'RESET'] as const;

export interface PacketRef {
  no: number;
  ts: number;
}

export interface SideFacts {
  packets: number;
  bytes: number;
  /** Bytes the side's sequence numbers span, SYN and FIN left out (Zeek's orig_bytes / resp_bytes): counts bytes the capture missed, not retransmissions. */
  seqBytes: number;
  ipBytes: number;
  missedBytes: number;
  firstData: PacketRef | null;
  lastData: PacketRef | null;
  fin: PacketRef | null;
  /**
   * Bytes of the peer's stream the first FIN acknowledged, counted from the peer's SYN: the peer's
   * bytes this side had received when it closed. Null when the capture holds no SYN of the peer or
   * the FIN carried no ACK.
   */
  finAckedBytes: number | null;
  rst: PacketRef | null;
  /** The same for the first RST: the peer's bytes it acknowledged, counted from the peer's SYN; null when unknown. */
  rstAckedBytes: number | null;
  /** The first RST carried an ACK and sequence number 0, as a closed port answers a SYN. */
  rstAnswersSyn: boolean;
  /** FINs this side sent again alone in its last run of retransmissions the peer left unacknowledged. */
  finResendsUnanswered: number;
  /** IPv4 ID of the first RST (0: none, IPv6, or the ID 0 a stack sends with DF), and its TTL (-1: none). */
  rstIpId: number;
  rstTtl: number;
  /** RST segments this side sent. */
  rsts: number;
  /** This side's first packet other than an RST after its first RST: proof that RST was not its TCP's. */
  sentAfterRst: PacketRef | null;
  /** The first RST after this side's last other packet: the one that ended its part (null when its last packet is no RST). */
  finalRst: PacketRef | null;
  /** The peer's bytes that RST acknowledged, counted as for rstAckedBytes. */
  finalRstAckedBytes: number | null;
  /** That RST answers the peer's last segment as a TCP holding no connection for it does (no ACK, the segment's acknowledgement as its sequence number). */
  finalRstAnswersSegment: boolean;
  /** It answers so a segment the peer sent after its own RST. */
  finalRstAnswersStray: boolean;
  /** That RST looks like the side's first RST rather than its own packets (IPv4 ID series, or TTL). */
  finalRstLikeFirst: boolean;
  /** When this side last sent a packet other than an RST (0: never). */
  lastOtherThanRstTs: number;
  /** The peer acknowledged sequence numbers past the last this side was seen sending: bytes or a FIN the capture missed. */
  sentUnseen: boolean;
  /** The peer acknowledged every sequence number this side was seen sending, by the flow's end. */
  ackedWhole: boolean;
  state: string;
  mss: number | null;
  windowScale: number | null;
  sackPermitted: boolean;
  timestamps: boolean;
  ttl: number | null;
  synWindow: number | null;
  lastTs: number;
  /** Segments this side's capture holds twice (see flow.ts isCopyOfPrevious); null when none. */
  copies: CopyFacts | null;
}

export interface CopyFacts {
  packets: number;
  /** Copies that carried payload, and bare ACKs: what retransmission and duplicate-ACK counts include. */
  data: number;
  acks: number;
  firstPacket: number;
  firstTs: number;
  /** The packet the first copy repeats. */
  copyOf: number;
  maxGapMicros: number;
  /** TTL of the first copy minus its original's: -1 when the copy crossed a router after the original was captured. */
  ttlChange: number;
}

/**
 * Which directions of a conversation the capture holds: 'both' unless packets prove one side's
 * packets are missing, with that proof: this flow's packet, another flow's between the same two
 * hosts, or one of its host's flows when the capture holds no packet sent to that host.
 */
export interface Visibility {
  seen: 'both' | 'client-only' | 'server-only';
  proof: { by: 'flow' | 'host-pair' | 'host'; flow: number; packet: number } | null;
}

/** This flow's own proof that the capture misses the other side's packets (none of which it holds). */
export interface PeerUnseenFacts {
  /** The side whose packets the capture holds. */
  seenSide: 'client' | 'server';
  /** Its first packet that proves the other side sent something, that packet's time, and how much it acknowledged then. */
  packet: number;
  ts: number;
  acknowledgedAtPacket: number;
  /** Bytes (and FIN) of the other side it acknowledged by its last packet, none of them captured. */
  acknowledgedBytes: number;
  /** The client completed a handshake whose SYN-ACK the capture does not hold. */
  synAckUnseen: boolean;
}

export interface IcmpFact {
  no: number;
  ts: number;
  type: number;
  code: number;
  version: 4 | 6;
  from: string;
  meaning: string;
}

export interface FlowFacts {
  id: number;
  client: string;
  server: string;
  clientIp: string;
  serverIp: string;
  clientPort: number;
  serverPort: number;
  ipVersion: 4 | 6;
  state: ConnState;
  history: string;
  /** Rows Zeek's conn.log has for this flow (more than one where Zeek splits one connection: see Flow.zeekConnections). */
  zeekConnections: number;
  firstPacket: number;
  lastPacket: number;
  start: number;
  end: number;
  /** The last packet that came while a side had not closed yet (Zeek's last_time: conn.log's duration ends there, not at the final ACK). */
  lastOpen: number;
  /** Roles guessed (no SYN seen) or flipped. */
  rolesGuessed: boolean;
  /** The packet whose payload proved the roles of a connection caught mid-stream (a request or status line, a TLS hello), or null. */
  rolesProvenPacket: number | null;
  /** That packet proved the first guess wrong: the roles were turned before any payload was read. */
  rolesTurned: boolean;
  syns: HandshakePacket[];
  synAcks: HandshakePacket[];
  /** The originator's ACK completing the handshake. */
  handshakeAck: PacketRef | null;
  clientSide: SideFacts;
  serverSide: SideFacts;
  icmp: IcmpFact[];
  reusedAfter: { flowId: number; closedTs: number; state: string } | null;
  /** The SYN with a new ISN that ended this flow by starting the next connection on its 4-tuple (endReason 'reused'). */
  reusedBy: PacketRef | null;
  /** For a flow without a handshake: the RST that ended an earlier flow on the same 4-tuple (see rules/reset-log.ts). */
  afterReset?: EarlierReset | null;
  /**
   * For a lone unanswered SYN: whether the client's host sent any packet after its first SYN retry
   * was due (rules.ts SYN_RETRY_DUE_MICROS), as far as the capture had been read when the flow
   * ended; null when the capture filter had left packets out by then.
   */
  clientSentAfterRetryDue?: boolean | null;
  /**
   * For SYNs never answered: the SYNs to the same server:port that other connections had answered
   * (SYN-ACK or RST) between this flow's first and last SYN, counted as the flow ended. A flow held
   * back for a scan is judged minutes later, when the answer log no longer reaches back to its SYNs.
   */
  otherSynsAnsweredMeanwhile?: number;
  /**
   * For SYNs never answered: a packet from the server's address after the first SYN that shows
   * something there up, the earliest the capture watch kept (rules/capture-watch.ts sentAfter), as
   * the flow ended; null when it kept none.
   */
  serverSent?: SentPacket | null;
  /** As the flow ended, null when the answer log held every answer of the server between its first and last SYN, else why it may not (see AnswerLog.unknownBecause). */
  otherSynAnswersUnknown?: AnswersUnknown | null;
  /**
   * For a SYN-ACK as late as a slow handshake: the server's held ACK on another connection that came
   * with it (rules/held-answers.ts), looked up as the flow ended; null when none.
   */
  heldWithSynAck?: HeldWithSynAck | null;
  /**
   * For a SYN-ACK as late as a slow handshake: the late SYN-ACKs of other connections from the same
   * server that came with it, answering SYNs sent at other times (rules/held-answers.ts), looked
   * up as the flow ended; null when none.
   */
  releasedWithSynAck?: ReleasedWithSynAck | null;
  /** The client's SYNs the server refused before the client sent the same SYN again, and the first RST; serverSide.rst is after the last retry. */
  refusedBeforeRetry: { count: number; firstRst: PacketRef } | null;
  /** The flow the idle timeout ended that this one continues (same 4-tuple, sequence numbers going on), and the idle between them. */
  afterIdle: { flowId: number; lastTs: number; idleMicros: number } | null;
  /** The scan this flow was a probe of, decided as it ended (see rules/probe-log.ts). */
  scan?: ScanMark | null;
  /** Where the server address came from (rules/dns-log.ts), when the capture can tell. */
  dns?: DnsOrigin | null;
  /** How the memory budget touched the flow (payload no longer reassembled, finished early), if it did. */
  memcap?: MemcapMark | null;
  /** The packets the capturing tool says it dropped after the flow's last packet and before the flow ended, if it said so (rules/capture-drops.ts). */
  captureDrops?: CaptureDropsFact | null;
  endReason: FlowEndReason;
  partial: boolean;
  app: AppFacts | null;
  /** Per-segment TCP analysis (retransmissions, windows, timing), when computed. */
  analysis: TcpAnalysisFacts | null;
  peerUnseen: PeerUnseenFacts | null;
  /** Set by the analysis with what the whole capture shows (rules/visibility.ts); from peerUnseen alone until then. */
  visibility: Visibility;
}

function ref(no: number, ts: number): PacketRef | null {
  return no ? { no, ts } : null;
}

/**
 * Bytes of `peer`'s stream past `streamStart` (the sequence number after its SYN) that `ack`
 * acknowledges; null for either unknown or an ACK below it. The ACK is placed beside the
 * highest one the peer received, whose unwrapped offset is known, so that it is read right past
 * 4 GiB too.
 */
function ackedFrom(ack: number, peer: Endpoint, streamStart: number | null): number | null {
  if (ack < 0 || streamStart === null) return null;
  const pastStart = peer.ackSeqOffset + ((ack - peer.ackSeq) | 0);
  const d = pastStart - ((streamStart - peer.startSeq) | 0);
  return d >= 0 ? d : null;
}

/** `peerStreamStart`: the sequence number after the peer's SYN, null when none was captured; `timing`: the side's timing. */
function side(e: Endpoint, peer: Endpoint, peerStreamStart: number | null, timing: SideTiming): SideFacts {
  return {
    packets: e.packets,
    bytes: e.payloadBytes,
    seqBytes: e.size(peer),
    ipBytes: e.ipBytes,
    missedBytes: e.missedBytes,
    firstData: ref(e.firstDataNo, e.firstDataTs),
    lastData: ref(e.lastDataNo, e.lastDataTs),
    fin: ref(e.firstFinNo, e.firstFinTs),
    finAckedBytes: e.firstFinNo ? ackedFrom(e.firstFinAck, peer, peerStreamStart) : null,
    rst: ref(e.firstRstNo, e.firstRstTs),
    rstAckedBytes: e.firstRstNo ? ackedFrom(e.firstRstAck, peer, peerStreamStart) : null,
    rstAnswersSyn: e.firstRstAnswersSyn,
    finResendsUnanswered: timing.finResendsSinceProgress,
    rstIpId: e.firstRstNo ? e.firstRstIpId : 0,
    rstTtl: e.firstRstNo ? e.firstRstTtl : -1,
    rsts: e.rstCount,
    sentAfterRst: ref(e.sentAfterRstNo, e.sentAfterRstTs),
    finalRst: ref(e.finalRstNo, e.finalRstTs),
    finalRstAckedBytes: e.finalRstNo ? ackedFrom(e.finalRstAck, peer, peerStreamStart) : null,
    finalRstAnswersSegment: e.finalRstNo !== 0 && e.finalRstAnswersSegment,
    finalRstAnswersStray: e.finalRstNo !== 0 && e.finalRstAnswersStray,
    finalRstLikeFirst: e.finalRstNo !== 0 && e.finalRstLikeFirst,
    lastOtherThanRstTs: e.lastOtherThanRstTs,
    sentUnseen: ((e.ackSeq - e.lastSeq) | 0) > 0,
    ackedWhole: e.packets > 0 && ((e.ackSeq - e.lastSeq) | 0) >= 0,
    state: EP_NAMES[e.state],
    mss: e.mss >= 0 ? e.mss : null,
    windowScale: e.windowScale >= 0 && e.synWindow >= 0 ? e.windowScale : null,
    sackPermitted: e.sackPermitted,
    timestamps: e.timestamps,
    ttl: e.ttl >= 0 ? e.ttl : null,
    synWindow: e.synWindow >= 0 ? e.synWindow : null,
    lastTs: e.lastTs,
    copies:
      e.copies === 0
        ? null
        : { packets: e.copies, data: e.dataCopies, acks: e.ackCopies, firstPacket: e.firstCopyNo, firstTs: e.firstCopyTs, copyOf: e.firstCopyOfNo, maxGapMicros: e.copyMaxGap, ttlChange: e.copyTtlChange },
  };
}

/** The flow's own proof that the capture misses one side, if that side's packets are still all missing. */
function peerUnseenOf(flow: Flow): PeerUnseenFacts | null {
  if (flow.peerUnseenNo === 0) return null;
  const seen = flow.peerUnseenDir === 0 ? flow.orig : flow.resp;
  const unseen = flow.peerUnseenDir === 0 ? flow.resp : flow.orig;
  if (unseen.packets > 0) return null;
  return {
    seenSide: flow.peerUnseenDir === 0 ? 'client' : 'server',
    packet: flow.peerUnseenNo,
    ts: flow.peerUnseenTs,
    acknowledgedAtPacket: flow.peerUnseenAcked,
    acknowledgedBytes: seen.ackedPeerBytes,
    synAckUnseen: flow.peerUnseenDir === 0 && flow.syns.length > 0 && flow.synAcks.length === 0,
  };
}

/** A flow the capture sees both sides of, with nothing to prove: every such flow shares it (see VisibilityLog.of). */
const SEEN_BOTH: Visibility = Object.freeze({ seen: 'both', proof: null });

/** Said by a verdict that names a host:port where it would name a role (see rolesUnproven). */
export const ROLES_UNPROVEN_NOTE = 'which side is the client is a guess: the capture began after the handshake and no packet proves it';

/** A side's host:port. */
export function endpointOf(f: Pick<FlowFacts, 'client' | 'server'>, side: 'client' | 'server'): string {
  return side === 'client' ? f.client : f.server;
}

/** Names a side of a flow in a verdict's text: see sideNamer. */
export type SideNamer = (side: 'client' | 'server', startsSentence?: boolean) => string;

/**
 * How a verdict names the sides of `f`: "the client" and "the server" (capitalised to start a
 * sentence), or each side's host:port where nothing proves the roles (see rolesUnproven), as a
 * role would then be a guess.
 */
export function sideNamer(f: FlowFacts): SideNamer {
  if (rolesUnproven(f)) return (side) => endpointOf(f, side);
  return (side, startsSentence = false) => `${startsSentence ? 'The' : 'the'} ${side}`;
}

/** The lowest port of the common ephemeral ranges (Linux 32768-60999, IANA and Windows 49152-65535). */
export const EPHEMERAL_PORTS_FROM = 32_768;

/**
 * A connection caught mid-stream whose roles nothing proves: no handshake, no payload that only a
 * client or only a server sends, and ports that do not bear out the guess (a service port below
 * 32768 and the client's above, or a well-known service port the client's is not). Which side is
 * the client is then the first packet's guess, and no verdict may blame a side by its role.
 */
export function rolesUnproven(f: Pick<FlowFacts, 'clientPort' | 'serverPort' | 'syns' | 'synAcks' | 'afterIdle' | 'rolesProvenPacket'>): boolean {
  if (f.rolesProvenPacket !== null || f.syns.length > 0 || f.synAcks.length > 0 || f.afterIdle !== null) return false;
  const byEphemeral = f.serverPort < EPHEMERAL_PORTS_FROM && f.clientPort >= EPHEMERAL_PORTS_FROM;
  const byServicePort = isLikelyServerPort(f.serverPort) && !isLikelyServerPort(f.clientPort);
  return !byEphemeral && !byServicePort;
}

/** The ICMP errors of a flow that drew none (most): shared, never written. */
const NO_ICMP: IcmpFact[] = Object.freeze([]) as unknown as IcmpFact[];

function icmpFacts(flow: Flow): IcmpFact[] {
  if (flow.icmpErrors.length === 0) return NO_ICMP;
  return flow.icmpErrors.map((e) => ({ no: e.no, ts: e.ts, type: e.type, code: e.code, version: e.version, from: formatAddr(e.from, e.version), meaning: icmpMeaning(e.version, e.type, e.code) }));
}

export function buildFlowFacts(flow: Flow, endReason: FlowEndReason, app: AppFacts | null): FlowFacts {
  const v = flow.ipVersion;
  const peerUnseen = peerUnseenOf(flow);
  return {
    id: flow.id,
    client: flow.clientText(),
    server: flow.serverText(),
    clientIp: flow.clientIpText(),
    serverIp: flow.serverIpText(),
    clientPort: flow.origPort,
    serverPort: flow.respPort,
    ipVersion: v,
    state: connState(flow.orig, flow.resp, flow.history.text),
    history: flow.history.text,
    zeekConnections: flow.zeekConnections,
    firstPacket: flow.firstNo,
    lastPacket: flow.lastNo,
    start: flow.startTs,
    // Never before the start: a capture's clock can step back.
    end: Math.max(flow.startTs, latestTimestamp(flow)),
    lastOpen: Math.max(flow.startTs, flow.lastOpenTs),
    rolesGuessed: flow.flipped || flow.syns.length === 0,
    rolesProvenPacket: flow.rolesProvenNo || null,
    rolesTurned: flow.rolesTurned,
    syns: flow.syns.packets(),
    synAcks: flow.synAcks.packets(),
    handshakeAck: ref(flow.handshakeAckNo, flow.handshakeAckTs),
    clientSide: side(flow.orig, flow.resp, flow.synAcks.length > 0 ? (flow.synAcks.lastSeq() + 1) >>> 0 : null, flow.timing.side[0]),
    serverSide: side(flow.resp, flow.orig, flow.syns.length > 0 ? (flow.syns.lastSeq() + 1) >>> 0 : null, flow.timing.side[1]),
    icmp: icmpFacts(flow),
    reusedAfter: flow.reusedAfter,
    reusedBy: ref(flow.reusedByNo, flow.reusedByTs),
    refusedBeforeRetry: flow.refusals ? { count: flow.refusals, firstRst: { no: flow.firstRefusalNo, ts: flow.firstRefusalTs } } : null,
    afterIdle: flow.resumesFlowId ? { flowId: flow.resumesFlowId, lastTs: flow.resumesAfterTs, idleMicros: flow.startTs - flow.resumesAfterTs } : null,
    endReason,
    partial: flow.partial,
    app,
    analysis: summarizeTcpAnalysis(flow),
    peerUnseen,
    visibility: peerUnseen
      ? { seen: peerUnseen.seenSide === 'client' ? 'client-only' : 'server-only', proof: { by: 'flow', flow: flow.id, packet: peerUnseen.packet } }
      : SEEN_BOTH,
  };
}

/** ICMP "fragmentation needed (DF set)" or ICMPv6 "packet too big": a router on the path telling the sender its MTU (RFC 1191, RFC 8201). */
/** The initial TTL a sender most likely used: 64 (Linux, macOS), 128 (Windows) or 255 (network gear). */
export function initialTtl(ttl: number | null): 64 | 128 | 255 | null {
  if (ttl === null || ttl <= 0) return null;
  return ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

export function isFragmentationNeeded(e: Pick<IcmpFact, 'version' | 'type' | 'code'>): boolean {
  return e.version === 4 ? e.type === 3 && e.code === 4 : e.type === 2;
}

/** ICMP destination unreachable (ICMPv6 type 1) other than fragmentation needed: the host, its port or the way to it is closed, not only too narrow. */
export function isDestinationUnreachable(e: Pick<IcmpFact, 'version' | 'type' | 'code'>): boolean {
  return (e.version === 4 ? e.type === 3 : e.type === 1) && !isFragmentationNeeded(e);
}

export function icmpMeaning(version: 4 | 6, type: number, code: number): string {
  if (version === 4) {
    if (type === 11) return code === 0 ? 'TTL exceeded in transit' : 'fragment reassembly time exceeded';
    if (type === 3) {
      const names: Record<number, string> = {
        0: 'network unreachable',
        1: 'host unreachable',
        2: 'protocol unreachable',
        3: 'port unreachable',
        4: 'fragmentation needed (DF set)',
        5: 'source route failed',
        6: 'destination network unknown',
        7: 'destination host unknown',
        9: 'network administratively prohibited',
        10: 'host administratively prohibited',
        11: 'network unreachable for TOS',
        12: 'host unreachable for TOS',
        13: 'communication administratively prohibited',
      };
      return names[code] ?? `destination unreachable (code ${code})`;
    }
  } else {
    if (type === 3) return code === 0 ? 'hop limit exceeded in transit' : 'fragment reassembly time exceeded';
    if (type === 2) return 'packet too big';
    if (type === 1) {
      const names: Record<number, string> = {
        0: 'no route to destination',
        1: 'communication administratively prohibited',
        2: 'beyond scope of source address',
        3: 'address unreachable',
        4: 'port unreachable',
        5: 'source address failed ingress/egress policy',
        6: 'reject route to destination',
      };
      return names[code] ?? `destination unreachable (code ${code})`;
    }
  }
  return `ICMP type ${type} code ${code}`;
}

export { EP };
