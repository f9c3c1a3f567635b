import { DECODED, TCP_FLAG, type PacketView } from '../decode/view.js';
import { formatAddr, sameAddr } from '../decode/addr.js';
import { ARP_OP } from '../decode/arp.js';
import { NDP_TYPE, isMulticast, isUnspecified } from '../decode/ndp.js';
import { EP } from './endpoint.js';
import { tcpChecksumOk } from '../decode/checksum.js';
import { detachFlowAnalysis, releaseFlowAnalysis } from './analysis.js';
import { CLOSE_DELAY_MICROS, Flow, FlowRows, NO_ICMP_ERRORS, processSegment, type IcmpErrorFact, type SegmentContext } from './flow.js';
import { TupleIndex } from './tuple-index.js';
import { PROVEN_ROLE, roleShownByPayload } from './role-evidence.js';
import { connState } from './conn-state.js';
import { IdleEnded, RecentCloses } from './recent-closes.js';
import type { TupleRing } from './tuple-ring.js';
import { ReassemblyBudget } from './reassembly.js';
import type { MemoryBudget, Sheddable } from './memcap.js';
import type { Dir, SinkFactory, StreamSink } from './sink.js';

/**
 * Ports Zeek treats as likely servers (its analyzers' registered ports). Used only to orient a
 * connection whose first packet is not a plain SYN.
 */
const LIKELY_SERVER_PORTS = new Set([
  21, 22, 23, 25, 53, 80, 81, 88, 110, 111, 135, 139, 143, 179, 389, 443, 445, 465, 502, 513, 514, 543, 544, 563, 587, 631,
  636, 749, 873, 989, 990, 992, 993, 994, 995, 1080, 1194, 1433, 1521, 1723, 1812, 1883, 2049, 2082, 2083, 2181, 2375, 2376,
  2404, 3128, 3268, 3306, 3389, 4369, 5000, 5060, 5061, 5222, 5269, 5432, 5555, 5672, 5900, 5984, 6379, 6443, 6666, 6667,
  6668, 6669, 8000, 8008, 8080, 8081, 8088, 8443, 8888, 9000, 9092, 9200, 9418, 11211, 15672, 20000, 27017,
]);

/** A port services commonly listen on (Zeek's likely_server_ports, with some more), by which a connection without a handshake is oriented. */
export function isLikelyServerPort(port: number): boolean {
  return LIKELY_SERVER_PORTS.has(port);
}

/** Linux keeps a closed 4-tuple in TIME_WAIT for 60 s (2 MSL); a SYN on it sooner is port reuse. */
export const TIME_WAIT_MICROS = 60_000_000;

export interface FlowTableOptions {
  /** Flows idle this long (packet time) are finished, like Zeek's tcp_inactivity_timeout. */
  idleTimeoutMicros?: number;
  /** Most flows kept open at once; the least recently active one is finished early beyond it. */
  maxFlows?: number;
  /**
   * Most closed flows kept through the 5 s close linger at once. A busy server closes tens of
   * thousands of connections a second; beyond this bound the longest-lingering one is finished
   * early, so memory follows the connection rate only up to a point.
   */
  maxLingeringFlows?: number;
  /**
   * Most closes remembered for port reuse within TIME_WAIT (default 200,000). Beyond it the oldest
   * is forgotten first.
   */
  maxRememberedCloses?: number;
  maxBufferedBytesTotal?: number;
  maxBufferedBytesPerDirection?: number;
  sinkFactory?: SinkFactory | null;
  /**
   * Called once per flow when it is finished (closed and lingered, expired, evicted or at capture
   * end). The flow object serves a later flow after the call: keep what is needed of it, not it.
   */
  onFlowDone: (flow: Flow, reason: FlowEndReason) => void;
  /** Drop segments with a wrong TCP checksum, as Zeek does unless run with -C (history 'C'). */
  verifyChecksums?: boolean;
  /** Called when the responder answers a SYN (SYN-ACK, or RST before any SYN-ACK), at packet time. */
  onSynAnswered?: (flow: Flow, ts: number, synAck: boolean) => void;
  /** Called when a SYN opens a new flow (a connection attempt), at packet time. */
  onAttempt?: (flow: Flow, ts: number) => void;
  /** Called at the first packet of each side of a flow, at packet time. */
  onSideSeen?: (flow: Flow, dir: Dir) => void;
  /** Called when a side's ACKs prove the capture misses the other side's packets (once per flow), at packet time. */
  onPeerUnseen?: (flow: Flow, dir: Dir, no: number) => void;
  /** Called when a packet acknowledges data sent longer before it than any TCP delays an ACK (SegmentContext.onHeldAnswer), at packet time. */
  onHeldAnswer?: SegmentContext['onHeldAnswer'];
  /** Called for table-level problems (limits hit). */
  onDiagnostic?: (code: string, message: string, no: number) => void;
  /** The memory budget: it sheds load through the Sheddable methods when near its shares. */
  memcap?: MemoryBudget | null;
  /**
   * Park unanswered SYN attempts until their next packet (Flow.park): those quiet for a second, and
   * those whose SYN was just sent again (default true; false keeps every attempt in a slot, for tests
   * that compare the two).
   */
  parkAttempts?: boolean;
}

/**
 * Why a flow ended. 'memcap': finished early by the memory budget; 'counted': an unanswered SYN
 * attempt the budget counts per service instead of keeping as a flow (not reported as one).
 */
export type FlowEndReason = 'closed' | 'idle' | 'evicted' | 'reused' | 'attempt-timeout' | 'capture-end' | 'memcap' | 'counted';

/** An address asked for on the link (ARP who-has, or an IPv6 Neighbor Solicitation) and whether it was answered. */
export interface NeighbourTarget {
  requests: number;
  firstNo: number;
  firstTs: number;
  lastNo: number;
  lastTs: number;
  answered: boolean;
  /** Who asked first, and whether every request came from it. */
  asker: number | string;
  oneAsker: boolean;
}

/** Address lookups on the link, by target address, with the hosts replies were seen going to. */
export class NeighbourLookups<K extends number | string> {
  readonly targets = new Map<K, NeighbourTarget>();
  /**
   * Replies seen, to anyone. They are unicast: a capture point that holds none at all (a mirror
   * of broadcasts only) cannot tell an unanswered request from one answered out of its sight.
   */
  replies = 0;
  /**
   * For each host replies went to, the host that replied, or null once two or more had. A capture
   * on one host of a switched segment holds every host's requests (broadcast, multicast) but only
   * the replies that host sends or gets: replies from one host to the asker may be the capture
   * host's own, and prove nothing about the asker's other requests.
   */
  private readonly repliers = new Map<number | string, number | string | null>();

  asked(target: K, asker: number | string, no: number, ts: number): void {
    let t = this.targets.get(target);
    if (!t) {
      if (this.targets.size >= MAX_NEIGHBOUR_TARGETS) return;
      t = { requests: 0, firstNo: no, firstTs: ts, lastNo: no, lastTs: ts, answered: false, asker, oneAsker: true };
      this.targets.set(target, t);
    }
    t.requests++;
    t.lastNo = no;
    t.lastTs = ts;
    if (asker !== t.asker) t.oneAsker = false;
  }

  /**
   * `target` answered, to its asker `to` (a reply) or to all (an announcement, `to` null, which
   * proves it is there but not that replies are seen).
   */
  answered(target: K, to: number | string | null): void {
    if (to !== null) {
      this.replies++;
      const replier = this.repliers.get(to);
      if (replier === undefined) {
        if (this.repliers.size < MAX_NEIGHBOUR_TARGETS) this.repliers.set(to, target);
      } else if (replier !== target) this.repliers.set(to, null);
    }
    const t = this.targets.get(target);
    if (t) t.answered = true;
  }

  /** The capture holds replies to `asker` from two hosts or more, so it would hold the reply to any of its requests. */
  seesRepliesTo(asker: number | string): boolean {
    return this.repliers.get(asker) === null;
  }
}

const MAX_NEIGHBOUR_TARGETS = 4096;

function icmpErrorFact(v: PacketView, no: number, ts: number): IcmpErrorFact {
  return { no, ts, version: v.ipVersion === 6 ? 6 : 4, type: v.icmpType, code: v.icmpCode, from: Uint32Array.from(v.src) };
}

/** Whether `closes` remembers a flow of the ICMP error's quoted 4-tuple. */
function quotedIn(closes: TupleRing, hash: number, v: PacketView): boolean {
  const slot = closes.find(hash);
  return slot >= 0 && closes.is(slot, v.quotedSrc, v.quotedSrcPort, v.quotedDst, v.quotedDstPort);
}
/** Errors about SYNs the capture does not hold, kept for the capture-level verdict (one per connection). */
const MAX_UNSEEN_SYN_ERRORS = 64;

/**
 * An ICMP error quoting a SYN of a connection the capture holds no packet of: a capture of one
 * direction (tcpdump -Q in) during a rejected connect holds only the error.
 */
export interface UnseenSynError extends IcmpErrorFact {
  quotedVersion: 4 | 6;
  client: Uint32Array;
  clientPort: number;
  server: Uint32Array;
  serverPort: number;
  /** Errors about the same connection, and the last one's packet number. */
  count: number;
  lastNo: number;
}
const DEFAULT_MAX_RECENT_CLOSED = 200_000;
/**
 * Closed flows waiting out the close linger at once. Each holds its numbers and its dissector's
 * final facts (some 7 KB). On the 500 k-packet benchmark mix, closing 2,700 connections a second,
 * 2,048 of them still linger 0.75 s, longer than a final ACK or a first retransmitted FIN takes
 * (0.22 s at the 2 M mix's 9,200 a second), and took 42 MiB and a tenth of the CPU less than 8,192;
 * neither mix had a late packet left out.
 */
const DEFAULT_MAX_LINGERING = 2_048;
/** Most flows ended by the idle timeout remembered at once (oldest forgotten first), to join what comes after the idle. */
const MAX_IDLE_ENDED = 65_536;
/** Zeek's TOO_LARGE_SEQ_DELTA: a packet this close to where a side's numbers stopped continues them. */
const SEQ_CONTINUES = 1_048_576;

export class FlowTable implements Sheddable {
  private readonly index = new TupleIndex<Flow>();
  /** The open flows' numbers (endpoints, timing), a row each. */
  private readonly rows = new FlowRows();
  private oldest: Flow | null = null;
  private newest: Flow | null = null;
  private count = 0;
  private nextId = 1;
  private readonly recentlyClosed: RecentCloses;
  /** Flows with a handshake ended by the idle timeout while open: their packets after the idle continue them. */
  private readonly idleEnded = new IdleEnded(MAX_IDLE_ENDED);
  /** Closed flows in close order; slots before closedHead are emptied so finished flows can be collected. */
  private closedQueue: (Flow | null)[] = [];
  private closedHead = 0;
  /**
   * Open flows that are still unanswered SYN attempts (see sweepAttempts). A flow leaves as soon as
   * anything answers it or it is finished, so the list never holds a finished flow alive.
   */
  private readonly attempts: Flow[] = [];
  /** Of the attempts, those holding a rare row (see countAttemptRareRow). */
  private rareRowAttempts = 0;
  private nextAttemptSweep = 0;
  /** The sweep's scratch list of given-up attempts still waiting for a late SYN-ACK. */
  private readonly givenUpWaiting: Flow[] = [];
  /** ARP, by IPv4 address as u32. */
  readonly arp = new NeighbourLookups<number>();
  /** IPv6 neighbour discovery, by address text (NDP packets are few; TCP never gets here). */
  readonly ndp = new NeighbourLookups<string>();
  /** Bumped whenever either lookup changes, so readers can cache what they derive from them. */
  neighbourChanges = 0;
  readonly budget: ReassemblyBudget;
  private readonly idleTimeout: number;
  private readonly maxFlows: number;
  private readonly ctx: SegmentContext;
  private evictionReported = false;
  private readonly maxLingering: number;
  private readonly parkAttempts: boolean;
  /** Attempts parked now (see Flow.park). */
  parkedAttempts = 0;
  /** Closed flows finished before their linger ended, and later packets of theirs counted but not attributed. */
  closedEarly = 0;
  lateAfterEarlyClose = 0;
  /** Flows currently open, and the most ever open at once. */
  peakFlows = 0;
  lastTs = 0;
  lastNo = 0;
  /** ICMP errors about no flow the table holds that quote a SYN of a connection the capture holds nothing of. */
  readonly unseenSynErrors: UnseenSynError[] = [];

  constructor(private readonly opts: FlowTableOptions) {
    this.idleTimeout = opts.idleTimeoutMicros ?? 300_000_000;
    this.maxFlows = opts.maxFlows ?? 1_000_000;
    this.maxLingering = opts.maxLingeringFlows ?? DEFAULT_MAX_LINGERING;
    this.parkAttempts = opts.parkAttempts ?? true;
    this.recentlyClosed = new RecentCloses(opts.maxRememberedCloses ?? DEFAULT_MAX_RECENT_CLOSED, TIME_WAIT_MICROS);
    this.budget = new ReassemblyBudget(opts.memcap?.reassemblyBytes ?? opts.maxBufferedBytesTotal ?? 256 * 1024 * 1024, opts.maxBufferedBytesPerDirection ?? 4 * 1024 * 1024);
    const factory = opts.sinkFactory ?? null;
    this.ctx = {
      budget: this.budget,
      onLimit: (flow, no) =>
        opts.onDiagnostic?.('REASSEMBLY_LIMIT', `flow ${flow.id}: reassembly buffer limit reached at packet ${no}; the flow's payload analysis is partial`, no),
      createSink: (flow): StreamSink | null => (factory ? factory.create({ id: flow.id, slot: flow.slot, clientPort: flow.origPort, serverPort: flow.respPort }) : null),
      onSideSeen: opts.onSideSeen,
      onPeerUnseen: opts.onPeerUnseen,
      onHeldAnswer: opts.onHeldAnswer,
    };
  }

  get openFlows(): number {
    return this.count;
  }

  /** Open flows that are still unanswered SYN attempts. */
  get openAttempts(): number {
    return this.attempts.length;
  }

  /** Flows holding a rare row (columns.ts RareRow), open or lingering. */
  get rareRows(): number {
    return this.rows.rareColumns.live;
  }

  /** Open unanswered SYN attempts holding a rare row. */
  get openAttemptsWithRareRow(): number {
    return this.rareRowAttempts;
  }

  /** Feed one decoded packet (any kind). `bytes` is the record's buffer the view's offsets point into. */
  packet(v: PacketView, bytes: Uint8Array, no: number, ts: number): void {
    this.lastNo = no;
    if (ts > this.lastTs) this.lastTs = ts;
    this.opts.memcap?.onPacket(this, no);
    if (v.kind === DECODED.TCP && (v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === (TCP_FLAG.SYN | TCP_FLAG.ACK)) this.keepAnsweredAttempt(v, ts);
    this.expireIdle(ts);
    if (v.kind === DECODED.TCP) this.tcp(v, bytes, no, ts);
    else if (v.kind === DECODED.ICMP_ERROR) this.icmpError(v, no, ts);
    else if (v.kind === DECODED.ARP) this.arpPacket(v, no, ts);
    else if (v.kind === DECODED.NDP) this.ndpPacket(v, no, ts);
  }

  private tcp(v: PacketView, bytes: Uint8Array, no: number, ts: number): void {
    const hash = tupleHash(v.src, v.srcPort, v.dst, v.dstPort);
    let flow = this.find(hash, v.src, v.srcPort, v.dst, v.dstPort);
    let dir: Dir = 0;
    if (flow) {
      dir = this.foundDir;
      if (flow.ignoredRstTs !== 0 && zeekSplitAfterIgnoredRst(flow, v, dir, ts)) flow.zeekConnections++;
      if (flow.removeAfterTs !== 0 && ts > flow.removeAfterTs) {
        this.finish(flow, 'closed');
        flow = null;
      } else if (attemptExpired(flow, v, ts)) {
        // Zeek's attempt timer ends the attempt, but an answer to its SYN is the same connection.
        if (answersSyn(flow, v, dir)) flow.zeekConnections++;
        else {
          this.finish(flow, 'attempt-timeout');
          flow = null;
        }
      } else if (isRetryOfRefusedSyn(flow, v, dir)) {
        flow.zeekConnections++;
        reopenAfterRefusal(flow);
      } else if (isRetryAfterClientRst(flow, v, dir)) {
        flow.zeekConnections++;
        reopenAfterClientRst(flow);
      } else if (isReuse(flow, v)) {
        flow.reusedByNo = no;
        flow.reusedByTs = ts;
        this.finish(flow, 'reused');
        flow = null;
      }
    }
    if (!flow) {
      if ((v.flags & TCP_FLAG.SYN) === 0 && this.isLateForEarlyClosed(hash, v, ts)) {
        this.lateAfterEarlyClose++;
        return;
      }
      const idle = (v.flags & TCP_FLAG.SYN) === 0 ? this.idleEndedContinued(hash, v) : -1;
      if (idle >= 0) {
        // The same connection after an idle longer than the timeout: its roles are known from its handshake.
        const r = this.idleEnded;
        flow = this.create(hash, v, no, ts, r.is(idle, v.src, v.srcPort, v.dst, v.dstPort) ? 0 : 1);
        flow.resumesFlowId = r.flowId(idle);
        flow.resumesAfterTs = r.endedTs(idle);
        r.forget(idle);
      } else flow = this.create(hash, v, no, ts);
      dir = flow.isOrig(v.src, v.srcPort) ? 0 : 1;
    }
    if (flow.seekingRoles && v.payloadLen > 0 && (v.flags & TCP_FLAG.RST) === 0) dir = orientByPayload(flow, dir, v, bytes, no);
    flow.lastNo = no;
    flow.lastTs = ts;
    this.touch(flow);
    const wasOpen = flow.removeAfterTs === 0;
    if (this.opts.verifyChecksums && !tcpChecksumOk(bytes, v)) {
      // Zeek discards the segment and notes 'C' in the history (scaled 1, 10, 100, ...).
      const e = flow.endpoint(dir);
      e.checksumErrors++;
      e.checksumThresh = flow.history.scaled('C', dir === 0, e.checksumErrors, e.checksumThresh);
      if (flow.attemptSlot >= 0) this.countAttemptRareRow(flow);
      return;
    }
    processSegment(flow, dir, v, bytes, no, ts, this.ctx);
    if (flow.attemptSlot >= 0) {
      if (!isAttempt(flow)) this.dropAttempt(flow);
      else this.countAttemptRareRow(flow);
    }
    if (wasOpen && flow.removeAfterTs !== 0) {
      this.closedQueue.push(flow);
      flow.closedQueued++;
      this.endStreams(flow);
      if (this.closedQueue.length - this.closedHead > this.maxLingering) this.finishLongestLingering(no);
    }
    if (dir === 1 && this.opts.onSynAnswered) {
      const f = v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST);
      if (f === (TCP_FLAG.SYN | TCP_FLAG.ACK)) this.opts.onSynAnswered(flow, ts, true);
      else if ((f & TCP_FLAG.RST) !== 0 && flow.synAcks.length === 0 && flow.syns.length > 0) this.opts.onSynAnswered(flow, ts, false);
    }
    // A SYN sent again went unanswered for a retry interval (1 s at least): the attempt waits parked.
    if (this.parkAttempts && dir === 0 && flow.attemptSlot >= 0 && flow.syns.length >= 2 && (v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN && flow.parkable) this.park(flow);
  }

  /**
   * A flow with a handshake that the idle timeout ended on this 4-tuple, whose sender's sequence
   * numbers this packet continues: its slot in idleEnded, else -1.
   */
  private idleEndedContinued(hash: number, v: PacketView): number {
    const r = this.idleEnded;
    const slot = r.find(hash);
    if (slot < 0) return -1;
    const fromOrig = r.is(slot, v.src, v.srcPort, v.dst, v.dstPort);
    if (!fromOrig && !r.is(slot, v.dst, v.dstPort, v.src, v.srcPort)) return -1;
    const side = fromOrig ? 0 : 1;
    const delta = ((v.seq >>> 0) - r.nextSeq(slot, side)) | 0;
    return delta <= SEQ_CONTINUES && delta >= -SEQ_CONTINUES ? slot : -1;
  }

  /** `srcRole`: 0 when the packet's sender is known to be the originator, 1 the responder, -1 to guess. */
  private create(hash: number, v: PacketView, no: number, ts: number, srcRole: -1 | 0 | 1 = -1): Flow {
    this.opts.memcap?.beforeNewFlow(this, (v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN, no);
    if (this.count >= this.maxFlows && this.oldest) {
      if (!this.evictionReported) {
        this.evictionReported = true;
        this.opts.onDiagnostic?.('FLOW_TABLE_FULL', `more than ${this.maxFlows} flows open at once at packet ${no}: the least recently active flows are finished early`, no);
      }
      this.finish(this.oldest, 'evicted');
    }
    const flow = this.rows.newFlow(this.nextId++);
    flow.hash = hash;
    flow.ipVersion = v.ipVersion === 6 ? 6 : 4;
    flow.firstNo = no;
    flow.startTs = ts;
    // Zeek's WantConnection: a connection that does not start with a plain SYN is oriented by
    // likely server ports; the flip shows as '^' in the history.
    const syn = (v.flags & TCP_FLAG.SYN) !== 0;
    const ack = (v.flags & TCP_FLAG.ACK) !== 0;
    let flip = syn && ack; // a SYN-ACK names its sender the responder
    // So does an RST/ACK with sequence number 0: a closed port's answer to a SYN (RFC 9293 3.10.7.1).
    const answersSyn = (v.flags & TCP_FLAG.RST) !== 0 && ack && v.seq === 0;
    if (srcRole >= 0) flip = srcRole === 1;
    else if (answersSyn) flip = true;
    else if (!syn) {
      if (LIKELY_SERVER_PORTS.has(v.srcPort)) {
        flip = LIKELY_SERVER_PORTS.has(v.dstPort) ? !syn && v.srcPort < v.dstPort : true;
      }
    }
    // Without a SYN or a SYN-ACK the roles are a guess until a first payload proves them.
    flow.seekingRoles = srcRole < 0 && !syn && !answersSyn;
    if (flip) {
      flow.setAddrs(v.dst, v.src);
      flow.origPort = v.dstPort;
      flow.respPort = v.srcPort;
      flow.flipped = true;
      flow.history.addRaw('^');
    } else {
      flow.setAddrs(v.src, v.dst);
      flow.origPort = v.srcPort;
      flow.respPort = v.dstPort;
    }
    if (syn && !ack) {
      this.opts.onAttempt?.(flow, ts);
      flow.attemptSlot = this.attempts.length;
      this.attempts.push(flow);
      const recent = this.recentlyClosed;
      const slot = recent.find(hash);
      if (slot >= 0 && recent.is(slot, v.src, v.srcPort, v.dst, v.dstPort)) {
        const closedTs = recent.closedTs(slot);
        const state = recent.state(slot);
        // Only a close with FINs both ways leaves a side in TIME_WAIT; a reset or refused
        // connection, or an attempt never answered, leaves the 4-tuple free at once.
        // A SYN stamped before that close is the capture's clock going back (packets held twice), not a reuse.
        if (ts >= closedTs && ts - closedTs <= TIME_WAIT_MICROS && state === 'SF') flow.reusedAfter = { flowId: recent.flowId(slot), closedTs, state };
        recent.forget(slot);
      }
    }
    this.index.add(flow);
    this.count++;
    if (this.count > this.peakFlows) this.peakFlows = this.count;
    return flow;
  }

  /** Which way the packet of the last successful find() went: 0 from the originator, 1 from the responder. */
  private foundDir: Dir = 0;

  find(hash: number, src: Uint32Array, sport: number, dst: Uint32Array, dport: number): Flow | null {
    const index = this.index;
    for (let i = index.first(hash), h = index.hashAt(i); h >= 0; i = index.next(i), h = index.hashAt(i)) {
      if (h !== hash) continue;
      const f = index.itemAt(i);
      if (f.isOrig(src, sport) && f.isResp(dst, dport)) this.foundDir = 0;
      else if (f.isOrig(dst, dport) && f.isResp(src, sport)) this.foundDir = 1;
      else continue;
      if (f.parked !== null) this.unpark(f);
      return f;
    }
    return null;
  }

  /** Parks the attempt (see Flow.park). */
  private park(f: Flow): void {
    if (f.park(this.rows)) this.parkedAttempts++;
  }

  /** A parked attempt takes a slot again: a packet of its 4-tuple came, or it is finished. */
  private unpark(f: Flow): void {
    f.unpark(this.rows);
    this.parkedAttempts--;
  }

  private icmpError(v: PacketView, no: number, ts: number): void {
    const hash = tupleHash(v.quotedSrc, v.quotedSrcPort, v.quotedDst, v.quotedDstPort);
    const flow = this.find(hash, v.quotedSrc, v.quotedSrcPort, v.quotedDst, v.quotedDstPort);
    if (!flow) {
      if (v.quotedFlags >= 0 && (v.quotedFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === TCP_FLAG.SYN && !this.closedBefore(hash, v)) this.unseenSynError(v, no, ts);
      return;
    }
    const error = icmpErrorFact(v, no, ts);
    if (flow.icmpErrors === NO_ICMP_ERRORS) flow.icmpErrors = [error];
    else if (flow.icmpErrors.length < 16) flow.icmpErrors.push(error);
    flow.lastTs = ts;
  }

  /** Whether a flow of the quoted 4-tuple was in the capture and has already ended (closed, reset, or idle). */
  private closedBefore(hash: number, v: PacketView): boolean {
    return quotedIn(this.recentlyClosed, hash, v) || quotedIn(this.idleEnded, hash, v);
  }

  private unseenSynError(v: PacketView, no: number, ts: number): void {
    for (const e of this.unseenSynErrors) {
      if (e.clientPort === v.quotedSrcPort && e.serverPort === v.quotedDstPort && sameAddr(e.client, v.quotedSrc) && sameAddr(e.server, v.quotedDst)) {
        e.count++;
        e.lastNo = no;
        return;
      }
    }
    if (this.unseenSynErrors.length >= MAX_UNSEEN_SYN_ERRORS) return;
    this.unseenSynErrors.push({
      ...icmpErrorFact(v, no, ts),
      quotedVersion: v.quotedIpVersion === 6 ? 6 : 4,
      client: Uint32Array.from(v.quotedSrc),
      clientPort: v.quotedSrcPort,
      server: Uint32Array.from(v.quotedDst),
      serverPort: v.quotedDstPort,
      count: 1,
      lastNo: no,
    });
  }

  private arpPacket(v: PacketView, no: number, ts: number): void {
    this.neighbourChanges++;
    if (v.arpOp === ARP_OP.REQUEST) {
      if (v.arpSenderIp === v.arpTargetIp) return; // gratuitous ARP announces, it asks nothing
      // A probe from 0.0.0.0 checks that no one else holds the address (RFC 5227): silence is its success.
      if (v.arpSenderIp === 0) return;
      this.arp.asked(v.arpTargetIp, v.arpSenderIp, no, ts);
    } else if (v.arpOp === ARP_OP.REPLY) {
      this.arp.answered(v.arpSenderIp, v.arpTargetIp);
    }
  }

  private ndpPacket(v: PacketView, no: number, ts: number): void {
    this.neighbourChanges++;
    if (v.ndpType === NDP_TYPE.SOLICITATION) {
      // From :: it is a duplicate-address probe (RFC 4862 5.4), whose success is silence; sent
      // unicast it confirms a neighbour already known (RFC 4861 7.3.3). Only multicast asks who has the address.
      if (isUnspecified(v.src) || !isMulticast(v.dst)) return;
      this.ndp.asked(formatAddr(v.ndpTarget, 6), formatAddr(v.src, 6), no, ts);
    } else {
      // An advertisement without the Solicited flag announces to all: it shows the host, not that the capture sees replies.
      this.ndp.answered(formatAddr(v.ndpTarget, 6), v.ndpSolicited ? formatAddr(v.dst, 6) : null);
    }
  }

  /**
   * Live capture's wall-clock tick, when no packet drives expiry: finishes every open flow that is
   * closed and past its linger, idle past the timeout, or a SYN attempt its client has given up
   * (at once, not after the wait for a late SYN-ACK: a live capture reports as it goes).
   * Walks all open flows, so one quiet long-lived flow does not hold back the ones behind it.
   */
  expireAt(nowMicros: number): void {
    let f = this.oldest;
    while (f) {
      const next = f.newer;
      if (f.removeAfterTs !== 0 && nowMicros > f.removeAfterTs) this.finish(f, 'closed');
      else if (nowMicros - f.lastTs >= this.idleTimeout) this.finish(f, 'idle');
      else if (attemptGivenUp(f, nowMicros)) this.finish(f, 'attempt-timeout');
      f = next;
    }
  }

  // --- what the memory budget may do (Sheddable) ---

  get bufferedBytes(): number {
    return this.budget.buffered;
  }

  shedLongestIdle(): boolean {
    const f = this.oldest;
    if (!f) return false;
    if (f.removeAfterTs !== 0) {
      // Closed and lingering: all its payload is in, so finishing it now loses nothing but late packets (counted).
      this.closedEarly++;
      this.finish(f, 'closed', true);
    } else if (isAttempt(f)) this.finish(f, 'counted');
    else {
      this.opts.memcap!.finishedEarly(f.id);
      this.finish(f, 'memcap');
    }
    return true;
  }

  countLongestIdleAttempt(): boolean {
    if (this.attempts.length === 0) return false;
    // Attempts are mostly the flows idle longest; the attempts list itself is in no order.
    let f = this.oldest;
    for (let i = 0; f && i < 64 && !isAttempt(f); i++) f = f.newer;
    this.finish(f && isAttempt(f) ? f : this.attempts[0], 'counted');
    return true;
  }

  stopOpaquePayload(onStopped: (flowId: number) => void): void {
    for (let f = this.oldest; f; f = f.newer) {
      if (!f.reassembler || !f.sink || f.sink.readsPayload?.() !== false) continue;
      closeReassembly(f);
      onStopped(f.id);
    }
  }

  /**
   * When the timer that ended a flow for `reason` ran out, its last packet at `lastTs`: the idle
   * timeout, or the time a SYN-ACK may still come after the attempt's last SYN. The timers run as
   * TCP packets come, so the flow may end later. Infinity when no timer ended it.
   */
  timerEnd(f: Flow, reason: FlowEndReason, lastTs: number): number {
    if (reason === 'idle') return lastTs + this.idleTimeout;
    return reason === 'attempt-timeout' ? f.lastSynTs + LATE_SYN_ACK_MICROS : Infinity;
  }

  /** Finish every flow (end of capture). */
  finishAll(): void {
    // An attempt the sweep found given up was waiting only for a late SYN-ACK.
    while (this.oldest) this.finish(this.oldest, this.oldest.givenUpSeen && attemptGivenUp(this.oldest, this.lastTs) ? 'attempt-timeout' : 'capture-end');
  }

  /**
   * A SYN-ACK acknowledging an open attempt's SYN is that connection however late it is stamped
   * (a broken clock can stamp one packet years ahead): the attempt does not go idle under it.
   */
  private keepAnsweredAttempt(v: PacketView, ts: number): void {
    const flow = this.find(tupleHash(v.src, v.srcPort, v.dst, v.dstPort), v.src, v.srcPort, v.dst, v.dstPort);
    if (flow && flow.synAcks.length === 0 && answersSyn(flow, v, this.foundDir)) {
      flow.lastTs = ts;
      this.touch(flow);
    }
  }

  private expireIdle(ts: number): void {
    // Closed flows go 5 s after their close (Zeek's close delay), whatever older idle flows remain.
    while (this.closedHead < this.closedQueue.length && ts > this.closedQueue[this.closedHead]!.removeAfterTs) {
      const f = this.takeClosed();
      // A flow reopened meanwhile (a refused SYN retried) is queued again when it next closes.
      if (!f.finished && f.removeAfterTs !== 0) this.finish(f, 'closed');
      else if (f.finished && f.closedQueued === 0) this.rows.free(f);
    }
    let f = this.oldest;
    while (f && ts - f.lastTs >= this.idleTimeout) {
      const next = f.newer;
      this.finish(f, 'idle');
      f = next;
    }
    if (ts >= this.nextAttemptSweep) this.sweepAttempts(ts);
  }

  /**
   * Finishes the SYN attempts their clients have given up on (attemptGivenUp) once no SYN-ACK to
   * them can still come (LATE_SYN_ACK_MICROS after the last SYN): a late SYN-ACK joins its attempt,
   * which is then a connection, whether the flows are judged as they end or at the capture's end.
   * Without this, every unanswered SYN would stay open for the whole idle timeout (5 min): a capture
   * with a steady rate of failed connects would hold minutes of them. Beyond MAX_GIVEN_UP_HELD
   * given-up attempts waiting (a flood), the ones given up longest are finished first. Runs once
   * per second of packet time over the open attempts alone (answered and finished flows have
   * already left the list).
   */
  private sweepAttempts(ts: number): void {
    this.nextAttemptSweep = ts + ATTEMPT_SWEEP_MICROS;
    const list = this.attempts;
    const waiting = this.givenUpWaiting;
    // Backwards: finishing a flow moves the last attempt into its slot, which has been looked at.
    for (let i = list.length - 1; i >= 0; i--) {
      const f = list[i];
      f.givenUpSeen = attemptGivenUp(f, ts);
      if (f.givenUpSeen && ts - f.lastSynTs > LATE_SYN_ACK_MICROS) {
        this.finish(f, 'attempt-timeout');
        continue;
      }
      if (f.givenUpSeen) waiting.push(f);
      if (this.parkAttempts && f.parked === null && ts - f.lastTs >= PARK_ATTEMPTS_AFTER_MICROS && f.parkable) this.park(f);
    }
    if (waiting.length > MAX_GIVEN_UP_HELD) {
      waiting.sort((a, b) => a.lastSynTs - b.lastSynTs);
      for (let i = 0; i < waiting.length - MAX_GIVEN_UP_HELD; i++) this.finish(waiting[i], 'attempt-timeout');
    }
    waiting.length = 0;
  }

  /** Takes the flow out of the attempts list: the last one moves into its slot. */
  private dropAttempt(f: Flow): void {
    const list = this.attempts;
    const last = list.pop()!;
    if (last !== f) {
      list[f.attemptSlot] = last;
      last.attemptSlot = f.attemptSlot;
    }
    f.attemptSlot = -1;
    if (f.attemptCountedRare) {
      f.attemptCountedRare = false;
      this.rareRowAttempts--;
    }
  }

  /** An open attempt that took a rare row (the capture held its SYN twice, say) is counted once, until it leaves the attempts list. */
  private countAttemptRareRow(f: Flow): void {
    if (f.attemptCountedRare || !f.holdsRareRow) return;
    f.attemptCountedRare = true;
    this.rareRowAttempts++;
  }

  /** Past the lingering bound: the flow closed longest ago is finished now instead of at its linger's end. */
  private finishLongestLingering(no: number): void {
    while (this.closedHead < this.closedQueue.length) {
      const f = this.takeClosed();
      if (f.finished && f.closedQueued === 0) this.rows.free(f);
      if (f.finished || f.removeAfterTs === 0) continue;
      if (this.closedEarly++ === 0) {
        this.opts.onDiagnostic?.(
          'LINGER_LIMIT',
          `more than ${this.maxLingering.toLocaleString('en-US')} connections closed within 5 s of each other at packet ${no}: from here a closed connection is reported at once, so a late packet of it (a last ACK, a retransmitted FIN) is counted but not added to it`,
          no,
        );
      }
      this.finish(f, 'closed', true);
      return;
    }
  }

  /**
   * Takes the head of the closed-flow queue. Its slot is emptied so a finished flow can be
   * collected, and the emptied prefix is cut off once it is the larger part of the queue.
   */
  private takeClosed(): Flow {
    const f = this.closedQueue[this.closedHead]!;
    this.closedQueue[this.closedHead++] = null;
    f.closedQueued--;
    if (this.closedHead > 4096 && this.closedHead * 2 > this.closedQueue.length) {
      this.closedQueue = this.closedQueue.slice(this.closedHead);
      this.closedHead = 0;
    }
    return f;
  }

  /** A non-SYN packet of a flow finished early, within the linger it would have had: not a new connection. */
  private isLateForEarlyClosed(hash: number, v: PacketView, ts: number): boolean {
    const r = this.recentlyClosed;
    const slot = r.find(hash);
    if (slot < 0) return false;
    const lingerUntil = r.lingerUntil(slot);
    if (lingerUntil === 0 || ts > lingerUntil) return false;
    return r.is(slot, v.src, v.srcPort, v.dst, v.dstPort) || r.is(slot, v.dst, v.dstPort, v.src, v.srcPort);
  }

  private touch(f: Flow): void {
    if (this.newest === f) return;
    // unlink
    if (f.older) f.older.newer = f.newer;
    if (f.newer) f.newer.older = f.older;
    if (this.oldest === f) this.oldest = f.newer;
    // append
    f.older = this.newest;
    f.newer = null;
    if (this.newest) this.newest.newer = f;
    this.newest = f;
    if (!this.oldest) this.oldest = f;
  }

  /**
   * The close completed: no payload can follow, so the dissector gets its end now and the
   * reassembly and per-segment buffers are freed while the flow lingers for late ACKs. The ended
   * sink is let go too (its facts are final, and kept by whoever made it): with neither reassembler
   * nor sink, a late segment reaches no dissector.
   */
  private endStreams(f: Flow): void {
    if (closeReassembly(f)) {
      f.sink!.onEnd(f.lastTs);
      f.sink = null;
    }
    releaseFlowAnalysis(f, true);
  }

  private finish(f: Flow, reason: FlowEndReason, beforeLingerEnd = false): void {
    if (f.parked !== null) this.unpark(f);
    f.finished = true;
    if (f.attemptSlot >= 0) this.dropAttempt(f);
    // unlink from LRU
    if (f.older) f.older.newer = f.newer;
    if (f.newer) f.newer.older = f.older;
    if (this.oldest === f) this.oldest = f.newer;
    if (this.newest === f) this.newest = f.older;
    f.older = f.newer = null;
    this.index.remove(f);
    this.count--;
    try {
      closeReassembly(f);
      f.sink?.onEnd(f.lastTs);
    } catch (err) {
      // A dissector's bug at the end of one flow must not lose the flow, nor stop the others finishing.
      this.opts.onDiagnostic?.('INTERNAL', `flow ${f.id}: internal error ending its payload analysis, which may be partial: ${(err as Error)?.message ?? String(err)}`, f.lastNo);
    }
    releaseFlowAnalysis(f);
    if (f.orig.didClose || f.resp.didClose || f.orig.state === EP.RESET || f.resp.state === EP.RESET) {
      const state = connState(f.orig, f.resp, f.history.text);
      this.recentlyClosed.add(f.hash, f.id, f.lastTs, beforeLingerEnd ? f.removeAfterTs : 0, state, f, f.origPort, f.respPort, this.lastTs);
    }
    if (reason === 'idle' && f.syns.length > 0) {
      this.idleEnded.add(f.hash, f.id, f.lastTs, f, f.origPort, f.respPort, f.orig.lastSeq, f.resp.lastSeq);
    }
    this.opts.onFlowDone(f, reason);
    // Reported: its rows of numbers go back to the pools for the next flow.
    detachFlowAnalysis(f, this.ctx);
    this.rows.release(f);
    if (f.closedQueued === 0) this.rows.free(f);
  }
}

/**
 * Hands the dissector what the flow's reassemblers still hold (bytes buffered beyond a gap, and the gap),
 * then frees them. Returns whether there were reassemblers to close.
 */
function closeReassembly(f: Flow): boolean {
  const r = f.reassembler;
  f.reassembler = null;
  if (!r || !f.sink) return false;
  r[0].close(f.sink, f.lastNo, f.lastTs);
  r[1].close(f.sink, f.lastNo, f.lastTs);
  r[0].release();
  r[1].release();
  return true;
}

/** An unanswered SYN is taken as given up after this long when no retry came (Windows retries after 3 s, Linux after 1 s). */
const ATTEMPT_GIVE_UP_SINGLE_MICROS = 3_500_000;
/** ... or after this many times the last retry interval (retries back off by doubling). */
const ATTEMPT_GIVE_UP_FACTOR = 2.5;
/**
 * A SYN-ACK answering a SYN comes no later than this after it: the SYN and its answer each live at
 * most one MSL in the network (the 2 MSL of TIME_WAIT). A given-up attempt waits this long after
 * its last SYN before it is judged, so that a late SYN-ACK still joins it.
 */
const LATE_SYN_ACK_MICROS = TIME_WAIT_MICROS;
/** Given-up attempts waiting for a late SYN-ACK at once (a SYN flood holds no more than this many). */
const MAX_GIVEN_UP_HELD = 4_096;
/** Packet time between two looks over the open attempts. */
const ATTEMPT_SWEEP_MICROS = 1_000_000;
/**
 * An unanswered attempt quiet this long is parked: most SYN-ACKs come within a round trip, and a
 * client retries after 1 s (Linux) or 3 s (Windows), so most attempts parked stay so until a retry,
 * which parks the attempt again once it is read.
 */
const PARK_ATTEMPTS_AFTER_MICROS = 1_000_000;

/** Only SYNs so far, none answered: a connection attempt. */
function isAttempt(f: Flow): boolean {
  // Only an attempt is parked, and any packet of its 4-tuple takes it out of the parking.
  if (f.parked !== null) return true;
  return f.syns.length > 0 && f.synAcks.length === 0 && f.resp.state === EP.INACTIVE && f.orig.state === EP.SYN_SENT;
}

/** A SYN attempt whose client evidently stopped retrying: no retry within 2.5x its last backoff (at least 3.5 s). */
function attemptGivenUp(f: Flow, now: number): boolean {
  if (!isAttempt(f)) return false;
  const lastTs = f.lastSynTs;
  if (f.lastTs !== lastTs) return false; // something else came after the last SYN
  return now - lastTs > patienceAfter(f.synCount, lastTs, f.prevSynTs);
}

/**
 * How long after the last of `syns` its client would have retried again: 2.5x its last backoff,
 * at least 3.5 s. Silence longer than this shows the client gave up.
 */
export function retryPatience(syns: readonly { ts: number }[]): number {
  const count = syns.length;
  return patienceAfter(count, syns[count - 1]?.ts ?? 0, count >= 2 ? syns[count - 2].ts : 0);
}

/** retryPatience of `count` SYNs, the last two sent at `lastTs` and `beforeTs`. */
function patienceAfter(count: number, lastTs: number, beforeTs: number): number {
  const wait = count >= 2 ? ATTEMPT_GIVE_UP_FACTOR * (lastTs - beforeTs) : ATTEMPT_GIVE_UP_SINGLE_MICROS;
  return Math.max(wait, ATTEMPT_GIVE_UP_SINGLE_MICROS);
}

/**
 * The first payload of a side of a connection joined mid-stream, looked at before anything reads
 * it: a request line or a ClientHello proves its sender the client, a status line or a ServerHello
 * the server. A proof against the guess turns the roles while no payload has been read yet (the
 * dissector then sees each side as what it is); later it can only leave the guess standing, and
 * the rules treat the roles as unproven. Returns the packet's direction after any turn.
 */
function orientByPayload(flow: Flow, dir: Dir, v: PacketView, bytes: Uint8Array, no: number): Dir {
  const other = dir === 0 ? 1 : 0;
  if (flow.endpoint(dir).firstDataNo !== 0) return dir;
  const role = roleShownByPayload(bytes, v.payloadOff, v.payloadOff + v.payloadCaptured);
  if (role === PROVEN_ROLE.NONE) {
    if (flow.endpoint(other).firstDataNo !== 0) flow.seekingRoles = false;
    return dir;
  }
  flow.seekingRoles = false;
  if (role === dir) {
    flow.rolesProvenNo = no;
    return dir;
  }
  if (flow.sinkTried || flow.orig.finCount + flow.resp.finCount + flow.orig.rstCount + flow.resp.rstCount > 0) return dir;
  flow.turnRoles();
  flow.rolesProvenNo = no;
  return other;
}
/**
 * Zeek's attempt timer: a connection whose responder never answered is dropped 5 s after the first
 * SYN, so later packets start a new (partial) connection. SYN retransmissions with the same ISN are
 * kept in the flow instead, so that a connect timeout shows all its retries in one place.
 */
function attemptExpired(flow: Flow, v: PacketView, ts: number): boolean {
  if (flow.attemptDeadline === 0 || ts <= flow.attemptDeadline) return false;
  const o = flow.orig.state;
  if ((o !== EP.SYN_SENT && o !== EP.SYN_ACK_SENT) || flow.resp.state !== EP.INACTIVE) return false;
  const synRetry = (v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN && v.seq >>> 0 === flow.orig.startSeq;
  return !synRetry;
}

/** A SYN-ACK from the responder acknowledging the flow's SYN (ack = ISN + 1). */
function answersSyn(flow: Flow, v: PacketView, dir: Dir): boolean {
  return dir === 1 && (v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === (TCP_FLAG.SYN | TCP_FLAG.ACK) && flow.syns.length > 0 && v.ack >>> 0 === ((flow.orig.startSeq + 1) >>> 0);
}

/**
 * The client sends its SYN again, same ISN, after the server refused it with a RST: Windows retries
 * a refused connect twice, 0.5 s apart. One connect() call, so one flow (Zeek logs each try).
 * A refused attempt leaves no state on either side, so this is no reuse of the 4-tuple.
 */
function isRetryOfRefusedSyn(flow: Flow, v: PacketView, dir: Dir): boolean {
  return isSameSynAgain(flow, v, dir) && flow.synAcks.length === 0 && flow.orig.state === EP.SYN_SENT && flow.resp.state === EP.RESET;
}

/** The client's SYN, alone, with the flow's ISN: the same connect() trying again. */
function isSameSynAgain(flow: Flow, v: PacketView, dir: Dir): boolean {
  return dir === 0 && (v.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST | TCP_FLAG.FIN)) === TCP_FLAG.SYN && v.seq >>> 0 === flow.orig.startSeq;
}

/**
 * The refused attempt goes on: the refusal is kept on the flow (how many, the first RST) and the
 * responder is as before its RST, so the retry can be refused again or answered (the server may
 * have started listening meanwhile), as Zeek would see it in a new connection.
 */
function reopenAfterRefusal(flow: Flow): void {
  const r = flow.resp;
  if (flow.refusals++ === 0) {
    flow.firstRefusalNo = r.firstRstNo;
    flow.firstRefusalTs = r.firstRstTs;
  }
  r.state = EP.INACTIVE;
  r.prevState = EP.INACTIVE;
  r.didClose = false;
  r.firstRstNo = 0;
  r.firstRstTs = 0;
  r.finalRstNo = 0;
  flow.removeAfterTs = 0;
}

/**
 * The client sends its SYN again, same ISN, after an RST in its name ended a handshake the server
 * had answered and the client never completed: its TCP never took the SYN-ACK, so that RST was not
 * its TCP's (a TCP that resets its attempt does not retry it; one answering an unacceptable segment
 * keeps its state, see Endpoint.firstRstKeepsConnection). The same connect() goes on, so one flow
 * (Zeek logs two). An attempt no SYN-ACK answered yet is left as it was: a new flow.
 */
function isRetryAfterClientRst(flow: Flow, v: PacketView, dir: Dir): boolean {
  if (!isSameSynAgain(flow, v, dir)) return false;
  const c = flow.orig;
  const s = flow.resp;
  return (
    c.state === EP.RESET &&
    !c.firstRstKeepsConnection &&
    flow.syns.length > 0 &&
    flow.synAcks.length > 0 &&
    flow.handshakeAckNo === 0 &&
    c.firstDataNo === 0 &&
    s.firstDataNo === 0 &&
    s.firstRstNo === 0 &&
    s.firstFinNo === 0 &&
    c.firstFinNo === 0
  );
}

/**
 * The client's side goes back to where its RST found it, and later RSTs in its name close nothing
 * while the handshake is unfinished; the RSTs stay on record (the rules judge them: foreign-rst).
 */
function reopenAfterClientRst(flow: Flow): void {
  const c = flow.orig;
  c.state = c.prevState;
  c.didClose = false;
  flow.removeAfterTs = 0;
  flow.clientRstsForeign = true;
}

/**
 * After an RST in the client's name that closed nothing here (Flow.clientRstsForeign), Zeek has
 * closed its connection: the client's same SYN again starts a new one (its IsReuse), and so does
 * any packet once its reset delay (5 s) is over. Reads and clears Flow.ignoredRstTs.
 */
function zeekSplitAfterIgnoredRst(flow: Flow, v: PacketView, dir: Dir, ts: number): boolean {
  // A SYN with a new ISN is a new connection here too (isReuse), not this one's.
  const synAgain = isSameSynAgain(flow, v, dir);
  const after = ts - flow.ignoredRstTs;
  flow.ignoredRstTs = 0;
  return synAgain || after > CLOSE_DELAY_MICROS;
}

/** Zeek's IsReuse: a SYN with a new initial sequence number on a known 4-tuple starts a new connection. */
function isReuse(flow: Flow, v: PacketView): boolean {
  if ((v.flags & TCP_FLAG.SYN) === 0) return false;
  let connOrig = flow.orig;
  if ((v.flags & TCP_FLAG.ACK) !== 0) {
    if (flow.orig.state !== EP.INACTIVE) return false; // only half connections are reused by a SYN-ACK
    connOrig = flow.resp;
  }
  if (!flow.isClosed) {
    const seq = v.seq >>> 0;
    if (seq === connOrig.startSeq) return false;
    // SYN and SYN-ACK seen in reverse order: the state machine flips the roles, it is not reuse.
    if ((v.flags & TCP_FLAG.ACK) === 0 && connOrig.state === EP.SYN_ACK_SENT && flow.resp.state === EP.INACTIVE && seq === flow.resp.startSeq) return false;
  }
  return true;
}

/** Symmetric numeric 4-tuple hash: the same for both directions (gopacket's FastHash property). */
export function tupleHash(src: Uint32Array, sport: number, dst: Uint32Array, dport: number): number {
  const a = endpointHash(src, sport);
  const b = endpointHash(dst, dport);
  // Same value both ways: order the two endpoint hashes, then mix them (murmur3's finaliser).
  // (A plain symmetric mix such as (a + b) ^ a * b collides about fifty times more often on
  // addresses that differ in few bits.)
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ hi;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}

function endpointHash(w: Uint32Array, port: number): number {
  let x = Math.imul(port ^ 0x9e3779b9, 0x85ebca6b);
  x = Math.imul(x ^ w[3], 0xc2b2ae35);
  x ^= x >>> 15;
  x = Math.imul(x ^ w[2], 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x ^ w[1], 0xc2b2ae35);
  x = Math.imul(x ^ w[0], 0x27d4eb2f);
  return x ^ (x >>> 16);
}
