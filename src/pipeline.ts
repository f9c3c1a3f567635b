import type { CaptureFilter } from './capture/capture-filter.js';
import { readCaptureFileSync, type ReadCaptureOptions } from './capture/open.js';
import type { CaptureDiagnostic, CaptureDrops, CaptureInfo, PacketRecord } from './capture/record.js';
import { formatAddr, formatIpv4 } from './decode/addr.js';
import { PacketDecoder } from './decode/decoder.js';
import { MALFORMED, SKIP_REASON } from './decode/status.js';
import { DECODED, TCP_FLAG, type DecodedKind, type PacketView } from './decode/view.js';
import { DnsOverTcp } from './dissect/dns.js';
import { DNS_READ, DnsLog } from './rules/dns-log.js';
import { addDnsOrigin } from './rules/dns-rules.js';
import { CaptureLosses, endedOpen } from './rules/capture-drops.js';
import type { Flow } from './flow/flow.js';
import type { SinkFactory, SinkFlow } from './flow/sink.js';
import { FlowTable, type FlowEndReason, type NeighbourLookups } from './flow/table.js';
import { DEFAULT_MEMCAP_BYTES, MemoryBudget, formatSize, type MemcapMark, type MemcapSummary } from './flow/memcap.js';
import { recycleAppFacts } from './dissect/recycle.js';
import { AppSinkFactory } from './dissect/session.js';
import { SessionThreads } from './dissect/session-threads.js';
import { GuardedSession, type SessionError } from './dissect/guarded-session.js';
import type { AppFacts } from './dissect/types.js';
import { buildFlowFacts, icmpMeaning, isDestinationUnreachable, type FlowFacts } from './rules/facts.js';
import { CaptureJudge } from './rules/capture-rules.js';
import { AnswerLog } from './rules/answer-log.js';
import { HeldAnswers, LateSynAcks } from './rules/held-answers.js';
import { ProbeLog, craftedKind } from './rules/probe-log.js';
import { ResetLog } from './rules/reset-log.js';
import { VisibilityLog } from './rules/visibility.js';
import { CaptureWatch } from './rules/capture-watch.js';
import { ProbeHold } from './rules/probe-hold.js';
import { isProbeLike } from './rules/scan-rules.js';
import { answeredMeanwhile, answersUnknownMeanwhile, judgeFlow, synUnanswered, SYN_RETRY_DUE_MICROS, type IcmpAboutUnseenSyn, type RuleContext } from './rules/rules.js';
import { DEFAULT_SLOW, type SlowThresholds } from './rules/timing-rules.js';
import type { Verdict } from './rules/verdict.js';

// Composition root: capture reader -> decoder -> flow table (state, reassembly) -> dissectors ->
// verdict rules. One Analyzer per capture; it is fed records and finished once.

export interface FlowResult extends FlowFacts {
  verdicts: Verdict[];
}

export interface CaptureSummary {
  file: string;
  format: string | null;
  linkTypes: number[];
  snaplen: number;
  packets: number;
  decoded: number;
  skipped: Record<string, number>;
  /** Packets the capture filter left out (0 without one). */
  filtered: number;
  /** The capture filter's pcap-filter expression, or null. */
  captureFilter: string | null;
  malformed: number;
  truncatedPackets: number;
  truncatedBelowSnaplen: number;
  /** TCP packets whose payload the record cut (the rest of them are whole however short the record). */
  payloadCutPackets: number;
  /** Records cut inside the TCP header: malformed, nothing of them analysed. */
  headerCutPackets: number;
  /**
   * Fragmented IP datagrams: reassembled (decoded at their last fragment; the others count as
   * skipped 'ip-fragment'), dropped (incomplete in time, cut by the snap length, or over a bound)
   * and still incomplete at the end.
   */
  fragments: { reassembled: number; dropped: number; incomplete: number };
  /** Malformed packets by code. */
  malformedByCode: Record<string, number>;
  diagnostics: CaptureDiagnostic[];
  /** Diagnostics beyond the ones kept. */
  diagnosticsDropped: number;
  stoppedEarly: boolean;
  /** The packets the capturing tool says it dropped; null when the file says nothing of drops (see CaptureDrops). */
  dropped: CaptureDrops | null;
  start: number;
  end: number;
  peakOpenFlows: number;
  /**
   * Closed flows finished before Zeek's 5 s close linger ended because too many were lingering
   * (see maxLingeringFlows), and the later packets of theirs that were counted but not added to them.
   */
  lingerLimit: { closedEarly: number; latePackets: number };
  /** The memory budget and the load it shed (see flow/memcap.ts). */
  memcap: MemcapSummary;
}

export interface AnalysisResult {
  capture: CaptureSummary;
  /** Judged flows in id order (empty when the analyzer did not retain them: see retainFlows). */
  flows: FlowResult[];
  /** Capture-level verdicts. */
  verdicts: Verdict[];
  /** TCP flows in the capture. */
  flowCount: number;
}

export interface AnalyzerOptions {
  /** File name used in messages. */
  file: string;
  /** Dissect HTTP/WebSocket (default true). */
  dissect?: boolean;
  idleTimeoutSec?: number;
  maxFlows?: number;
  /** Called as each flow is finished, with its facts (verdicts need the whole capture: see finish()). */
  onFlowDone?: (facts: FlowFacts) => void;
  /** Drop segments with wrong TCP checksums, as Zeek does by default (off: captures on the sending host carry offloaded checksums). */
  verifyChecksums?: boolean;
  /**
   * Keep the dissectors' per-packet annotations (AppFacts.events) of finished flows; they are only
   * needed for a ladder timeline, and dropping them keeps memory per flow small (default true).
   */
  keepEvents?: boolean;
  /** When given, events are recorded only for the flows it accepts (by flow id), whatever keepEvents says. */
  keepEventsFor?: (flowId: number) => boolean;
  /**
   * Keep every HTTP exchange of a connection (up to 1,000) in AppFacts.http, as --detail JSON, flow
   * and diff show them (default true). When false, a connection keeps only the exchanges the
   * rules and the default reports read, and counts the others (AppFacts.httpTurns): the verdicts are
   * the same.
   */
  keepExchanges?: boolean;
  /** Keep at most this many diagnostics (the rest are counted). */
  maxDiagnostics?: number;
  /**
   * Run the HTTP, WebSocket and TLS sessions in this many worker threads (see
   * dissect/session-threads.ts); 0, the default, runs them in this thread. The results are the same.
   */
  dissectorThreads?: number;
  /**
   * Judge each flow as soon as it is finished, with the context known so far, and pass it here.
   * finish() still judges every kept flow (retainFlows) again with the whole capture's context.
   */
  onFlowJudged?: (flow: FlowResult) => void;
  /**
   * Keep finished flows for finish() (default true). When false, each flow is judged as it ends and
   * handed to onFlowJudged; the capture-level rules keep only bounded state of their own, so memory does not
   * grow with the flows' HTTP exchanges and analysis (`tcpwhy analyze` streams its report this way).
   */
  retainFlows?: boolean;
  /**
   * onFlowJudged keeps no object of the flows it is handed once it returns (their verdicts' texts
   * and numbers aside): their payload facts are then filled anew by later flows rather than left to
   * the collector (see dissect/recycle.ts). Only without retainFlows; default false.
   */
  flowsForgottenWhenHandedOut?: boolean;
  /** Most closed flows lingering at once before the longest-lingering one is finished early (default 2,048). */
  maxLingeringFlows?: number;
  /** Most closes remembered for port-reuse detection within TIME_WAIT (default 200,000). */
  maxRememberedCloses?: number;
  /** Most SYN answers kept, over all servers, for "answered other SYNs meanwhile" (default 1,048,576). */
  maxAnswersKept?: number;
  /** Unanswered SYN attempts give their flow slot up while they wait for their next packet (flow/table.ts; default true). */
  parkAttempts?: boolean;
  /** Floors of the slow-* verdicts; the ones not given keep their defaults. */
  slow?: Partial<SlowThresholds>;
  /** Keep only the packets this capture filter accepts (the others are counted as filtered). */
  captureFilter?: CaptureFilter | null;
  /** The memory budget in bytes (default 512 MiB): see flow/memcap.ts for what is shed near it. */
  memcapBytes?: number;
  /**
   * Hold probe-like flows back from onFlowJudged until the scan that may count them shows or can no
   * longer (up to an hour of packet time; default true). A live capture judges them at once.
   */
  holdProbes?: boolean;
}

const DEFAULT_MAX_DIAGNOSTICS = 200;
/** Stands in `sessions` for a session that runs in a dissector thread. */
const IN_THREAD = Symbol('in a dissector thread');
const DNS_PORT = 53;
/** A flow's two addresses, copied out to mark who received a packet (see onSideSeen). */
const ADDRS = new Int32Array(8);

export class Analyzer {
  private readonly decoder = new PacketDecoder();
  private readonly table: FlowTable;
  private readonly facts: FlowFacts[] = [];
  /** The capture-level rules, fed each flow as it finishes. */
  private readonly captureJudge = new CaptureJudge();
  /** The losses the capture's packet blocks count (rules/capture-drops.ts). */
  private readonly losses = new CaptureLosses();
  private flowsStreamed = 0;
  private readonly skipped: Record<string, number> = Object.create(null);
  private readonly malformedByCode: Record<string, number> = Object.create(null);
  private readonly diagnostics: CaptureDiagnostic[] = [];
  private diagnosticsDropped = 0;
  private readonly maxDiagnostics: number;
  private packets = 0;
  private decoded = 0;
  private filtered = 0;
  private malformed = 0;
  private payloadCutPackets = 0;
  private headerCutPackets = 0;
  private start = 0;
  private end = 0;
  /**
   * The dissector sessions, by their flow's row slot (a slot serves one open flow at a time),
   * until their flows are reported; sessionFlowIds says which flow each slot's session is of. A
   * GuardedSession lets its session go at the end and keeps only the facts and any error, while
   * the flow lingers for late packets, none of which reaches the dissector any more; IN_THREAD
   * stands for a session that runs in a dissector thread.
   * Arrays indexed by slot rather than a map by flow id: a map's table would be rebuilt as flows
   * come and go, and the collector would carry each rebuilt table into the old generation.
   */
  private readonly sessions: (GuardedSession | typeof IN_THREAD | null)[] = [];
  private readonly sessionFlowIds: number[] = [];
  private openSessions = 0;
  private readonly sessionThreads: SessionThreads | null = null;
  /** Per server, when it answered SYNs, kept as flows finish (the live per-flow context). */
  private readonly answers: AnswerLog;
  private readonly heldAnswers = new HeldAnswers();
  private readonly lateSynAcks = new LateSynAcks();
  /** Per client, the connection attempts it made, to tell scan probes from failed connections. */
  private readonly probes = new ProbeLog();
  /** 4-tuples whose flows ended with a reset, to tie later packets on them to that flow. */
  private readonly resets = new ResetLog();
  private readonly unansweredNeighbours = new UnansweredNeighbours();
  /** DNS lookups over UDP and TCP port 53: where addresses came from, and lookups that failed. */
  private readonly dns = new DnsLog();
  /** Which conversations the capture sees only one side of, as proven at packet time. */
  private readonly visibility = new VisibilityLog();
  /** How long the capture went on watching each flow: where its clock steps back, when it last saw each host. */
  private readonly watch: CaptureWatch;
  /** Probe-like flows waiting for the scan that may count them (null: judged at once, as a live capture does). */
  private readonly probeHold: ProbeHold | null;
  /** Flows that ended before a forward leap in time not yet known to be a seam or a quiet spell (see CaptureWatch). */
  private leapHeld: FlowFacts[] = [];
  /** Latest wall-clock time given to expireFlows. */
  private clock = 0;
  private readonly slow: SlowThresholds;
  private readonly memcap: MemoryBudget;

  constructor(private readonly opts: AnalyzerOptions) {
    const slow = opts.slow ?? {};
    this.slow = {
      handshakeMicros: slow.handshakeMicros ?? DEFAULT_SLOW.handshakeMicros,
      serverMicros: slow.serverMicros ?? DEFAULT_SLOW.serverMicros,
      clientMicros: slow.clientMicros ?? DEFAULT_SLOW.clientMicros,
    };
    this.maxDiagnostics = opts.maxDiagnostics ?? DEFAULT_MAX_DIAGNOSTICS;
    this.memcap = new MemoryBudget(opts.memcapBytes ?? DEFAULT_MEMCAP_BYTES, () => this.openSessions);
    this.answers = new AnswerLog(opts.maxAnswersKept);
    let sinkFactory: SinkFactory | null = null;
    if (opts.dissect !== false) {
      const keep = opts.keepEvents !== false;
      const recordEvents = opts.keepEventsFor ?? (() => keep);
      const leanSlowFloorMicros = opts.keepExchanges === false ? this.slow.serverMicros : null;
      const apps = new AppSinkFactory(recordEvents, leanSlowFloorMicros);
      const threads = (opts.dissectorThreads ?? 0) > 0 ? new SessionThreads(opts.dissectorThreads!, leanSlowFloorMicros, (reason) => this.threadFailed(reason)) : null;
      this.sessionThreads = threads;
      sinkFactory = {
        create: (flow) => {
          // DNS over TCP is read here: its messages are placed by the packet being decoded.
          const dns = flow.serverPort === DNS_PORT || flow.clientPort === DNS_PORT;
          const inThread = dns ? null : threads?.create(flow, recordEvents(flow.id));
          if (inThread) {
            this.keepSession(flow, IN_THREAD);
            return inThread;
          }
          const s = new GuardedSession(apps.create(flow));
          this.keepSession(flow, s);
          return dns ? new DnsOverTcp(s, (dir, message, no, ts) => this.dnsOverTcp(flow, dir, message, no, ts)) : s;
        },
      };
    }
    const idleTimeoutMicros = (opts.idleTimeoutSec ?? 300) * 1e6;
    this.watch = new CaptureWatch(idleTimeoutMicros);
    this.probeHold = opts.holdProbes === false ? null : new ProbeHold();
    this.table = new FlowTable({
      idleTimeoutMicros,
      maxFlows: opts.maxFlows,
      maxLingeringFlows: opts.maxLingeringFlows,
      maxRememberedCloses: opts.maxRememberedCloses,
      parkAttempts: opts.parkAttempts,
      verifyChecksums: opts.verifyChecksums,
      memcap: this.memcap,
      sinkFactory,
      onFlowDone: (flow, reason) => this.flowDone(flow, reason),
      onSynAnswered: (flow, ts, synAck) => {
        this.answers.record(flow.serverText(), ts, flow.origPort, synAck);
        if (synAck && flow.synAcks.length === 1) {
          this.probes.answered(flow.clientKey(), flow.serverKey(), flow.respPort);
          if (flow.syns.length === 1 && ts - flow.syns.ts(0) >= this.slow.handshakeMicros) this.lateSynAcks.record(flow, flow.id, flow.synAcks.no(0), ts, flow.syns.ts(0));
        }
      },
      onAttempt: (flow, ts) => {
        this.probes.attempt(flow.clientKey(), flow.serverKey(), flow.respPort, ts);
        // The SYN that opened the flow is the packet being read.
        this.watch.synTo(this.decoder.view.dst, flow.firstNo);
      },
      onSideSeen: (flow, dir) => {
        flow.copyAddrsTo(ADDRS, 0);
        // Words 0-3 are the client's address, 4-7 the server's: the packet went to the other side.
        this.visibility.markReceived(ADDRS, dir === 0 ? 4 : 0, dir === 0 ? 0 : 4);
      },
      onHeldAnswer: (flow, v, no, ts, heldMicros, dataNo) => this.heldAnswers.record(v.src, v.dst, flow.id, no, ts, heldMicros, dataNo),
      onPeerUnseen: (flow, dir, no) => {
        const [seen, unseen] = dir === 0 ? [flow.clientIpText(), flow.serverIpText()] : [flow.serverIpText(), flow.clientIpText()];
        this.visibility.recordProof(seen, unseen, { flow: flow.id, packet: no });
      },
      onDiagnostic: (code, message, no) => this.diagnose({ code, message: `${opts.file}: ${message}`, packet: no, offset: -1 }),
    });
  }

  /**
   * Feed one record; never throws (a bug at one packet is reported and analysis goes on), except a
   * CaptureFilterError when the capture filter cannot be compiled for the capture's first link type.
   */
  readonly onRecord = (rec: PacketRecord): void => {
    this.packets++;
    // Read once: the record keeps its time unboxed, and each read handed to a call would box it anew.
    const ts = rec.tsMicros;
    // Packets filtered out still show how long the capture ran (a flow cut by the end of the
    // capture is not one whose later packets the filter left out).
    if (this.start === 0 || ts < this.start) this.start = ts;
    if (ts > this.end) this.end = ts;
    this.watch.clock(rec.no, ts);
    if (rec.droppedBefore > 0) this.losses.add(rec.droppedSincePacket, rec.droppedSinceTs, rec.no, ts, rec.droppedBefore);
    const filter = this.opts.captureFilter;
    if (filter && !filter.accepts(rec)) {
      this.filtered++;
      return;
    }
    try {
      const kind = this.decoder.decode(rec);
      const v = this.decoder.view;
      if (v.ipVersion !== 0) {
        this.watch.hosts(v.src, v.dst, rec.no, ts, v.ipVersion === 4 ? v.ipId : 0, provesSenderUp(kind, v));
      }
      if (this.leapHeld.length > 0) this.releaseAfterLeap();
      if (kind === DECODED.DNS) {
        // A DNS message is a decoded packet; port-53 bytes that are not one, or that the snap length cut before its question ended, are skipped.
        const read = this.dns.udpPacket(v, rec.no, ts);
        if (read === DNS_READ.READ) this.decoded++;
        else {
          const reason = read === DNS_READ.CUT ? SKIP_REASON.DNS_CUT : SKIP_REASON.DNS_INVALID;
          this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
        }
        return;
      }
      if (kind === DECODED.SKIPPED) {
        this.skipped[v.skipReason] = (this.skipped[v.skipReason] ?? 0) + 1;
        return;
      }
      if (kind === DECODED.MALFORMED) {
        this.malformed++;
        this.malformedByCode[v.malformedCode] = (this.malformedByCode[v.malformedCode] ?? 0) + 1;
        if (v.malformedCode === MALFORMED.TCP_TRUNCATED && rec.caplen < rec.origLen) this.headerCutPackets++;
        this.diagnose({
          code: v.malformedCode,
          message: `${this.opts.file}: packet ${rec.no} (file offset 0x${rec.fileOffset.toString(16)}, byte ${v.malformedAt} of the packet): ${v.malformedDetail}`,
          packet: rec.no,
          offset: rec.fileOffset,
        });
        return;
      }
      if (kind === DECODED.ICMP_ERROR && v.quotedDns) {
        // About a DNS query, not a TCP flow: the lookup waiting on it learns its server is unreachable.
        // A time exceeded or a too-big packet says nothing of the server, so it is only counted.
        const quoted = v.quotedIpVersion === 6 ? 6 : 4;
        const version = v.ipVersion === 6 ? 6 : 4;
        if (isDestinationUnreachable({ version, type: v.icmpType, code: v.icmpCode })) {
          this.dns.unreachable(formatAddr(v.quotedSrc, quoted), v.quotedSrcPort, formatAddr(v.quotedDst, quoted), v.quotedDnsId, { no: rec.no, from: formatAddr(v.src, version), meaning: icmpMeaning(version, v.icmpType, v.icmpCode) });
        }
        this.decoded++;
        return;
      }
      if (kind === DECODED.TCP) {
        if (v.payloadCaptured < v.payloadLen) this.payloadCutPackets++;
        const crafted = craftedKind(v.flags);
        // Rare (scanners only): the keys are made here rather than kept per packet.
        if (crafted >= 0) this.probes.craftedProbe(addrKey(v.src, v.ipVersion), addrKey(v.dst, v.ipVersion), v.dstPort, crafted, rec.no, ts);
      }
      this.table.packet(v, v.bytes, rec.no, ts);
      // Counted once the packet went through: one that fails on the way counts as malformed only.
      this.decoded++;
    } catch (err) {
      this.malformed++;
      this.malformedByCode[INTERNAL] = (this.malformedByCode[INTERNAL] ?? 0) + 1;
      this.diagnose({
        code: INTERNAL,
        message: `${this.opts.file}: packet ${rec.no} (file offset 0x${rec.fileOffset.toString(16)}): internal error, packet skipped (${errorLine(err)})`,
        packet: rec.no,
        offset: rec.fileOffset,
      });
    }
  };

  /**
   * A message read from a TCP port-53 stream. Reassembly hands bytes over while the packet that
   * completed them is being decoded, so the decoder's view holds that packet's addresses; a message
   * completed at any other moment (the flow's end) cannot be placed and is only counted.
   */
  private dnsOverTcp(flow: { clientPort: number; serverPort: number }, dir: 0 | 1, message: Parameters<DnsLog['tcpMessage']>[0], no: number, ts: number): void {
    const v = this.decoder.view;
    const fromPort = dir === 0 ? flow.clientPort : flow.serverPort;
    const toPort = dir === 0 ? flow.serverPort : flow.clientPort;
    if (v.kind !== DECODED.TCP || v.srcPort !== fromPort || v.dstPort !== toPort) {
      this.dns.unplacedMessage();
      return;
    }
    const version = v.ipVersion === 6 ? 6 : 4;
    this.dns.tcpMessage(message, formatAddr(v.src, version), v.srcPort, formatAddr(v.dst, version), v.dstPort, no, ts);
  }

  /** The flow's verdicts, with the DNS origin of its address on those about a failed connection. */
  private judge(facts: FlowFacts, ctx: RuleContext): Verdict[] {
    return addDnsOrigin(facts, judgeFlow(facts, ctx));
  }

  private diagnose(d: CaptureDiagnostic): void {
    if (this.diagnostics.length < this.maxDiagnostics) this.diagnostics.push(d);
    else this.diagnosticsDropped++;
  }

  /**
   * A finished flow, judged and handed out. A flow that hits an internal error on the way is not
   * counted and not reported, but named in a diagnostic: flowCount always equals the flows handed
   * out (streamed) or kept, and the packet that finished the flow is not blamed for it.
   */
  private flowDone(flow: Flow, reason: FlowEndReason): void {
    const mark = this.memcap.takeMark(flow.id);
    try {
      const app = this.takeSessionFacts(flow);
      if (reason === 'counted') this.countAttempt(flow);
      else this.reportFlow(flow, reason, app, mark);
    } catch (err) {
      this.flowFailed(flow.id, flow.firstNo, err);
    }
  }

  private keepSession(flow: SinkFlow, session: GuardedSession | typeof IN_THREAD): void {
    while (this.sessions.length <= flow.slot) {
      this.sessions.push(null);
      this.sessionFlowIds.push(-1);
    }
    this.sessions[flow.slot] = session;
    this.sessionFlowIds[flow.slot] = flow.id;
    this.openSessions++;
  }

  /** The facts of the flow's session, handed over once; null when it had none. */
  private takeSessionFacts(flow: Flow): AppFacts | null {
    if (this.sessionFlowIds[flow.slot] !== flow.id) return null;
    const session = this.sessions[flow.slot]!;
    this.sessions[flow.slot] = null;
    this.sessionFlowIds[flow.slot] = -1;
    this.openSessions--;
    if (session === IN_THREAD) return this.factsFromThread(flow);
    if (session.error) this.sessionFailed(flow, session.error);
    return session.facts;
  }

  /** The facts of a session that ran in a dissector thread, waiting for them if need be; null when the thread failed first. */
  private factsFromThread(flow: Flow): AppFacts | null {
    const ended = this.sessionThreads!.take(flow.slot, flow.id);
    if (!ended) return null;
    if (ended.error) this.sessionFailed(flow, ended.error);
    return ended.facts;
  }

  /** A dissector met an internal error: said as the flow is reported, whichever thread ran it. */
  private sessionFailed(flow: Flow, error: SessionError): void {
    this.diagnose({
      code: INTERNAL,
      message: `${this.opts.file}: flow ${flow.id}: internal error in its payload analysis at packet ${error.packet}, which may be partial from there (${error.message})`,
      packet: error.packet,
      offset: -1,
    });
  }

  /** A dissector thread failed: said once per thread, at the packet the analysis had reached. */
  private threadFailed(reason: string): void {
    this.diagnose({
      code: INTERNAL,
      message: `${this.opts.file}: packet ${this.packets}: a dissector thread failed (${reason}); the flows whose HTTP, WebSocket and TLS sessions it held are reported without them, and later sessions run in the analysing thread`,
      packet: this.packets,
      offset: -1,
    });
  }

  private flowFailed(id: number, firstPacket: number, err: unknown): void {
    this.diagnose({
      code: INTERNAL,
      message: `${this.opts.file}: flow ${id} (first packet ${firstPacket}): internal error, flow not reported (${errorLine(err)})`,
      packet: firstPacket,
      offset: -1,
    });
  }

  /**
   * An unanswered SYN attempt the memory budget counts instead of keeping: summed per service, and
   * handed to the capture rules as the half-open connection it is (the syn-flood totals).
   */
  private countAttempt(flow: Flow): void {
    const syns = flow.syns.packets();
    const server = flow.serverText();
    this.memcap.countAttempt({ service: server, source: flow.clientKey(), syns: syns.length, firstNo: flow.firstNo, firstTs: flow.startTs, lastTs: flow.lastTs });
    this.captureJudge.countAttempt({
      id: flow.id,
      server,
      clientIp: flow.clientIpText(),
      clientPort: flow.origPort,
      state: 'S0',
      start: flow.startTs,
      end: flow.lastTs,
      syns,
      synAcks: [],
      handshakeAck: null,
      reusedAfter: null,
      clientSide: { bytes: 0, rst: null },
      serverSide: { rst: null, packets: 0 },
    });
  }

  private reportFlow(flow: Flow, reason: FlowEndReason, app: AppFacts | null, mark: MemcapMark | null): void {
    const facts = buildFlowFacts(flow, reason, app);
    if (mark) facts.memcap = mark;
    // The losses counted by now after its last packet, begun before the table's timer for the flow
    // ran out. A quiet interface counts its losses only with its next packet, which may come later;
    // a flow the idle timeout ended is judged before its continuation (afterIdle) shows what its
    // hosts had.
    if (endedOpen(facts)) {
      const drops = this.losses.after(facts.lastPacket, this.table.timerEnd(flow, reason, facts.end));
      if (drops) facts.captureDrops = drops;
    }
    // Decided once, as the flow ends, so streamed and kept flows get the same verdicts.
    if (facts.syns.length === 0 && facts.synAcks.length === 0) facts.afterReset = this.resets.before(flow, facts.client, facts.server, facts.start);
    if (facts.syns.length === 1 && facts.synAcks.length === 0) {
      facts.clientSentAfterRetryDue = this.filtered > 0 ? null : this.watch.hostSentAfter(facts.clientIp, facts.syns[0].ts + SYN_RETRY_DUE_MICROS);
    }
    if (synUnanswered(facts)) {
      facts.otherSynsAnsweredMeanwhile = answeredMeanwhile(facts, this.answers);
      facts.otherSynAnswersUnknown = answersUnknownMeanwhile(facts, this.answers);
      facts.serverSent = this.watch.sentAfter(facts.serverIp, facts.syns[0].no);
    }
    // Looked up as the flow ends, as the answers above are: the held answers' log keeps the latest
    // only. Only for a handshake as slow as slow-handshake judges: the look-up walks the log.
    if (facts.syns.length === 1 && facts.synAcks.length > 0) {
      const took = facts.synAcks[0].ts - facts.syns[0].ts;
      if (took >= this.slow.handshakeMicros) {
        facts.heldWithSynAck = this.heldAnswers.arrivedWith(flow, facts.synAcks[0].ts, took);
        facts.releasedWithSynAck = this.lateSynAcks.releasedWith(flow, flow.id, facts.synAcks[0].ts, facts.syns[0].ts);
      }
    }
    const clientRst = facts.clientSide.rst;
    const serverRst = facts.serverSide.rst;
    const rst = clientRst && (!serverRst || clientRst.ts <= serverRst.ts) ? clientRst : serverRst;
    if (rst) this.resets.record(flow, { flowId: facts.id, by: rst === clientRst ? 'client' : 'server', rstPacket: rst.no, rstTs: rst.ts });
    if (isProbeLike(facts)) facts.scan = this.probes.scanOf(flow.clientKey(), flow.serverKey(), facts.serverPort, facts.clientIp, facts.serverIp, facts.start, facts.syns.length, facts.handshakeAck === null && !facts.clientSide.rst && !facts.serverSide.rst);
    // Decided as the flow ends too: the answers before its first SYN have all been read by then.
    if (facts.syns.length > 0 && facts.serverPort !== DNS_PORT) {
      const origin = this.dns.originOf(facts.clientIp, facts.serverIp, facts.syns[0].ts);
      if (origin) facts.dns = origin;
    }
    const retain = this.opts.retainFlows !== false;
    const ctx = this.flowContext();
    facts.visibility = this.visibility.of(facts);
    this.visibility.confirm(facts);
    this.captureJudge.observe(facts, ctx);
    this.opts.onFlowDone?.(facts);
    if (retain) this.facts.push(facts);
    // How long the capture watched the flow depends on whether the leap after it is a seam: judged once that is known (a few packets on).
    if (this.watch.undecidedAfter(facts.lastPacket)) this.leapHeld.push(facts);
    else this.release(facts, ctx);
  }

  /** Hands out the flows held for a leap once the watch has decided it. */
  private releaseAfterLeap(): void {
    if (this.watch.undecidedAfter(this.leapHeld[0].lastPacket)) return;
    const held = this.leapHeld;
    this.leapHeld = [];
    const ctx = this.flowContext();
    for (const facts of held) {
      try {
        this.release(facts, ctx);
      } catch (err) {
        this.flowFailed(facts.id, facts.firstPacket, err);
      }
    }
  }

  /** A judged flow handed out, or held back for the scan that may count it. */
  private release(facts: FlowFacts, ctx: RuleContext): void {
    // A probe whose scan has not shown yet waits for it; the scan's probes held so far are judged with it.
    const probes = this.probeHold;
    if (!probes) return this.handOutOne(facts, ctx);
    if (facts.scan) this.handOut(probes.claim(facts.scan, facts.syns[0]?.ts ?? facts.start), ctx);
    if (!facts.scan && isProbeLike(facts)) this.handOut(probes.hold(facts), ctx);
    else this.handOutOne(facts, ctx);
    this.handOut(probes.expire(ctx.captureEnd), ctx);
  }

  /** The rules' context as of the latest packet. SYN answers are recorded at packet time, so the context around a flow's SYNs is complete. */
  private flowContext(): RuleContext {
    const captureEnd = Math.max(this.end, this.clock);
    return { captureEnd, neighboursUnanswered: this.unansweredNeighbours.at(this.table, captureEnd), answers: this.answers, slow: this.slow, dns: this.dns, visibility: this.visibility, watch: this.watch, probesHeld: this.probeHold !== null };
  }

  /** Judged flows handed to onFlowJudged. */
  private handOut(flows: FlowFacts[], ctx: RuleContext): void {
    for (let i = 0; i < flows.length; i++) this.handOutOne(flows[i], ctx);
  }

  /** A judged flow handed to onFlowJudged. */
  private handOutOne(facts: FlowFacts, ctx: RuleContext): void {
    const retain = this.opts.retainFlows !== false;
    if (this.opts.onFlowJudged) {
      try {
        const verdicts = this.judge(facts, ctx);
        // Kept facts are judged again by finish() and must stay as built; streamed ones are not kept,
        // so they become the result themselves rather than be copied field by field.
        if (retain) this.opts.onFlowJudged({ ...facts, verdicts });
        else {
          const result = facts as FlowResult;
          result.verdicts = verdicts;
          this.opts.onFlowJudged(result);
          if (facts.app && this.opts.flowsForgottenWhenHandedOut) {
            recycleAppFacts(facts.app);
            facts.app = null;
          }
        }
      } catch (err) {
        this.flowFailed(facts.id, facts.firstPacket, err);
        return;
      }
    }
    // Counted only once handed out whole.
    if (!retain) this.flowsStreamed++;
  }

  /**
   * Live capture's clock tick (wall-clock µs): finishes the flows a packet would finish if one came
   * now: closed ones whose close linger (5 s, Zeek's tcp_close_delay) has passed, idle ones, and
   * SYN attempts the client has evidently given up (no retry within 2.5x its last backoff). Unlike
   * the packet-driven expiry it walks every open flow, so one quiet long-lived flow does not hold
   * back the verdicts of flows that closed after it.
   */
  expireFlows(nowMicros: number): void {
    if (nowMicros > this.clock) this.clock = nowMicros;
    this.table.expireAt(nowMicros);
  }

  /** The capture-level diagnostic that says what the memory budget shed, if it shed anything. */
  private diagnoseMemcap(m: MemcapSummary): void {
    if (m.reachedAtPacket === null) return;
    const parts: string[] = [];
    if (m.payloadStopped) parts.push(`${m.payloadStopped.toLocaleString('en-US')} flows' payload no longer reassembled (not HTTP, WebSocket, TLS or DNS)`);
    if (m.attemptsCounted) parts.push(`${m.attemptsCounted.toLocaleString('en-US')} unanswered SYN attempts counted per service instead of kept as flows (capture.memcap.countedAttempts)`);
    if (m.flowsFinishedEarly) parts.push(`${m.flowsFinishedEarly.toLocaleString('en-US')} flows finished early, idle longest first, judged with what was seen of them (marked 'memcap')`);
    this.diagnose({
      code: 'MEMCAP',
      message: `${this.opts.file}: memory budget (--memcap ${formatSize(m.limitBytes)}) reached at packet ${m.reachedAtPacket}: ${parts.join('; ')} [MEMCAP]`,
      packet: m.reachedAtPacket,
      offset: -1,
    });
  }

  /** Flows currently open. */
  get openFlows(): number {
    return this.table.openFlows;
  }

  /** Flows holding a rare row (flow/columns.ts RareRow): what scripts/calibrate-memcap.mjs reports. */
  get rareRows(): number {
    return this.table.rareRows;
  }

  /** Open SYN attempts parked while they wait (flow/table.ts): what scripts/calibrate-memcap.mjs reports. */
  get parkedAttempts(): number {
    return this.table.parkedAttempts;
  }

  /** Finish every flow and judge them. `info` comes from the capture reader. */
  finish(info: CaptureInfo): AnalysisResult {
    // No packet is left to show the capture ran through a leap: it is a seam.
    this.watch.settle();
    if (this.leapHeld.length > 0) this.releaseAfterLeap();
    this.table.finishAll();
    this.sessionThreads?.stop();
    if (this.probeHold) this.handOut(this.probeHold.drain(), this.flowContext());
    for (const d of info.diagnostics) this.diagnose(d);
    const filter = this.opts.captureFilter;
    if (filter) {
      filter.checkExpression(info.linkTypes);
      for (const u of filter.uncompiled) {
        this.diagnose({
          code: CAPTURE_FILTER_NOT_APPLICABLE,
          message: `${info.file}: packet ${u.firstPacket}: libpcap cannot apply the capture filter to the link type of this packet's interface, so the ${u.packets} packets of that link type were left out (${u.message})`,
          packet: u.firstPacket,
          offset: -1,
        });
      }
    }
    const capture: CaptureSummary = {
      file: info.file,
      format: info.format,
      linkTypes: info.linkTypes,
      snaplen: info.snaplen,
      packets: this.packets,
      decoded: this.decoded,
      skipped: { ...this.skipped },
      filtered: this.filtered,
      captureFilter: filter ? filter.expression : null,
      malformed: this.malformed,
      truncatedPackets: info.truncatedPackets,
      truncatedBelowSnaplen: info.truncatedBelowSnaplen,
      payloadCutPackets: this.payloadCutPackets,
      headerCutPackets: this.headerCutPackets,
      fragments: {
        reassembled: this.decoder.defrag?.reassembled ?? 0,
        dropped: this.decoder.defrag?.dropped ?? 0,
        incomplete: this.decoder.defrag?.pendingCount ?? 0,
      },
      malformedByCode: { ...this.malformedByCode },
      diagnostics: this.diagnostics,
      diagnosticsDropped: this.diagnosticsDropped,
      stoppedEarly: info.stoppedEarly,
      dropped: info.dropped ?? null,
      start: this.start,
      end: this.end,
      peakOpenFlows: this.table.peakFlows,
      lingerLimit: { closedEarly: this.table.closedEarly, latePackets: this.table.lateAfterEarlyClose },
      memcap: this.memcap.summary(),
    };
    this.diagnoseMemcap(capture.memcap);
    const facts = this.facts.sort((a, b) => a.id - b.id);
    const ctx: RuleContext = { captureEnd: this.end, neighboursUnanswered: this.unansweredNeighbours.at(this.table, this.end), icmpAboutUnseenSyns: unseenSynErrors(this.table), answers: this.answers, slow: this.slow, dns: this.dns, visibility: this.visibility, watch: this.watch, probesHeld: this.probeHold !== null };
    let verdicts: Verdict[] = [];
    try {
      verdicts = this.captureJudge.verdicts(capture, ctx);
    } catch (err) {
      this.diagnose({ code: INTERNAL, message: `${this.opts.file}: internal error, capture-level verdicts not reported (${errorLine(err)})`, packet: -1, offset: -1 });
    }
    // Without retention the flows were judged and handed out as they ended; only the count remains.
    // Kept flows are judged again knowing the whole capture, their visibility too.
    const flows: FlowResult[] = [];
    if (this.opts.retainFlows !== false) {
      for (const f of facts) {
        try {
          f.visibility = this.visibility.of(f);
          flows.push({ ...f, verdicts: this.judge(f, ctx) });
        } catch (err) {
          this.flowFailed(f.id, f.firstPacket, err);
        }
      }
    }
    capture.diagnosticsDropped = this.diagnosticsDropped;
    return { capture, flows, verdicts, flowCount: flows.length + this.flowsStreamed };
  }
}

/** The diagnostic code of a link type the capture filter could not be compiled for (pcapng with several). */
export const CAPTURE_FILTER_NOT_APPLICABLE = 'CAPTURE_FILTER_NOT_APPLICABLE';

/** The diagnostic code of a bug met while analysing a packet or a flow. */
export const INTERNAL = 'INTERNAL';

/** An error's message and the line that threw it, for a one-line diagnostic. */
export function errorLine(err: unknown): string {
  return (err as Error)?.stack?.split('\n').slice(0, 2).map((l) => l.trim()).join(' ') ?? String(err);
}

/**
 * Whether the packet shows something at its source address up: anything a host sends of its own
 * accord. Not a TCP RST nor any ICMP or ICMPv6 message (an error, or neighbour discovery), which a
 * firewall or router in front of the address sends in its name; nor a malformed packet.
 */
function provesSenderUp(kind: DecodedKind, v: PacketView): boolean {
  if (kind === DECODED.TCP) return (v.flags & TCP_FLAG.RST) === 0;
  if (kind === DECODED.MALFORMED || kind === DECODED.ICMP_ERROR || kind === DECODED.NDP) return false;
  return kind !== DECODED.SKIPPED || (v.skipReason !== SKIP_REASON.ICMP && v.skipReason !== SKIP_REASON.ICMPV6);
}

/** An address as the probe log keys it (as Flow.clientKey does). */
function addrKey(a: Uint32Array, version: number): number | string {
  return version === 4 ? a[3] >>> 0 : formatAddr(a, 6);
}

/** An unanswered lookup counts once it was asked twice, or once this long passed since it was asked. */
const NEIGHBOUR_PATIENCE_MICROS = 1_000_000;
/**
 * Where the capture holds no reply at all, a lookup counts only when one host asked this many
 * times, each within REPEAT_WITHIN_MICROS of the last on average: a host that got its answer does
 * not ask again at once (Linux asks 3 times 1 s apart, then gives up with EHOSTUNREACH).
 */
const REPEATED_REQUESTS = 3;
const REPEAT_WITHIN_MICROS = 3_000_000;

/**
 * The ARP and NDP targets never answered as of `captureEnd`. Rebuilt only when the lookups changed
 * or `captureEnd` passed the moment a single request turns into an unanswered one: flows are judged
 * one by one as they end, and most captures hold no ARP or NDP at all.
 */
class UnansweredNeighbours {
  private map: RuleContext['neighboursUnanswered'] = new Map();
  private changes = -1;
  private validUntil = -Infinity;

  at(table: FlowTable, captureEnd: number): RuleContext['neighboursUnanswered'] {
    if (table.neighbourChanges === this.changes && captureEnd < this.validUntil) return this.map;
    const map: RuleContext['neighboursUnanswered'] = new Map();
    let validUntil = Infinity;
    const add = <K extends number | string>(protocol: 'arp' | 'ndp', lookups: NeighbourLookups<K>, text: (k: K) => string, askerText: (a: number | string) => string) => {
      for (const [target, t] of lookups.targets) {
        if (t.answered) continue;
        const repliesSeen = lookups.seesRepliesTo(t.asker);
        if (repliesSeen) {
          // One unanswered request right before the capture ended proves nothing.
          if (t.requests < 2 && captureEnd - t.lastTs < NEIGHBOUR_PATIENCE_MICROS) {
            validUntil = Math.min(validUntil, t.lastTs + NEIGHBOUR_PATIENCE_MICROS);
            continue;
          }
        } else if (!t.oneAsker || t.requests < REPEATED_REQUESTS || t.lastTs - t.firstTs > REPEAT_WITHIN_MICROS * (t.requests - 1)) continue;
        map.set(text(target), { protocol, requests: t.requests, firstNo: t.firstNo, lastNo: t.lastNo, firstTs: t.firstTs, lastTs: t.lastTs, repliesSeen, repliesInCapture: lookups.replies > 0, asker: t.oneAsker ? askerText(t.asker) : null });
      }
    };
    add('arp', table.arp, formatIpv4, (a) => formatIpv4(a as number));
    add('ndp', table.ndp, (k) => k, (a) => a as string);
    this.map = map;
    this.changes = table.neighbourChanges;
    this.validUntil = validUntil;
    return map;
  }
}

/** The ICMP errors about SYNs the capture does not hold, as the capture-level rule reads them. */
function unseenSynErrors(table: FlowTable): IcmpAboutUnseenSyn[] {
  return table.unseenSynErrors.map((e) => ({
    no: e.no,
    lastNo: e.lastNo,
    count: e.count,
    ts: e.ts,
    type: e.type,
    code: e.code,
    version: e.version,
    from: formatAddr(e.from, e.version),
    meaning: icmpMeaning(e.version, e.type, e.code),
    client: formatAddr(e.client, e.quotedVersion),
    clientPort: e.clientPort,
    server: formatAddr(e.server, e.quotedVersion),
    serverPort: e.serverPort,
  }));
}

/** Reads and analyses one capture file ('-' for standard input). Throws CaptureOpenError if unreadable. */
export function analyzeFile(path: string, opts: Partial<AnalyzerOptions> = {}, read: ReadCaptureOptions = {}): AnalysisResult {
  const analyzer = new Analyzer({ ...opts, file: path });
  const info = readCaptureFileSync(path, analyzer.onRecord, read);
  return analyzer.finish(info);
}

/**
 * Analyses a file handing each flow to `onFlow` as it is judged (as `analyze` reports it) and
 * keeping none: memory follows the open flows, not the length of the capture. The result's flows
 * are empty; flowCount counts them all.
 */
export function streamFlows(path: string, onFlow: (flow: FlowResult) => void, opts: Partial<AnalyzerOptions> = {}, read: ReadCaptureOptions = {}): AnalysisResult {
  return analyzeFile(path, { ...opts, retainFlows: false, onFlowJudged: onFlow }, read);
}

/**
 * Analyses a file keeping only the flows `wanted` accepts, with their dissector events (what a
 * ladder or a diff needs) unless opts.keepEvents is false. The result's flows are the kept ones, in
 * id order; flowCount counts them all.
 */
export function analyzeFlows(path: string, wanted: (flowId: number) => boolean, opts: Partial<AnalyzerOptions> = {}, read: ReadCaptureOptions = {}): AnalysisResult {
  const kept: FlowResult[] = [];
  const events = opts.keepEvents !== false;
  const result = streamFlows(
    path,
    (f) => {
      if (wanted(f.id)) kept.push(f);
    },
    { ...opts, keepEventsFor: (id) => events && wanted(id) },
    read,
  );
  return { ...result, flows: kept.sort((a, b) => a.id - b.id) };
}
