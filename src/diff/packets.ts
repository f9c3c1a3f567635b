import type { CaptureFilter } from '../capture/capture-filter.js';
import { readCaptureFileSync, type ReadCaptureOptions } from '../capture/open.js';
import type { PacketRecord } from '../capture/record.js';
import { parseAddr, sameAddr } from '../decode/addr.js';
import { PacketDecoder } from '../decode/decoder.js';
import { DECODED, TCP_FLAG, type DecodedKind, type PacketView } from '../decode/view.js';
import type { FlowFacts } from '../rules/facts.js';

// The analysis keeps per-flow summaries only, so memory stays bounded however long the capture is.
// The ladder and the diff alignment need the flow's packets one by one: they read the capture a
// second time and keep the packets of one flow, matched by its 4-tuple and its first..last packet
// numbers (the same 4-tuple can carry several flows one after the other).

export const FLOW_PACKET_KIND = { TCP: 0, ICMP: 1 } as const;
export type FlowPacketKind = (typeof FLOW_PACKET_KIND)[keyof typeof FLOW_PACKET_KIND];

/** 0: sent by the client (the flow's originator), 1: by the server. */
export type Role = 0 | 1;

export interface FlowPacket {
  no: number;
  /** Capture timestamp, integer µs since the epoch. */
  ts: number;
  kind: FlowPacketKind;
  /** Sender's role; for an ICMP error, the side it was sent to is the other one (the quoted sender). */
  from: Role;
  flags: number;
  /** Sequence and acknowledgement numbers relative to each side's ISN (as Wireshark shows them). */
  relSeq: number;
  relAck: number;
  /** Payload length claimed by the IP header. */
  len: number;
  /** Window in bytes: the raw field shifted by the sender's window scale once both sides offered one. */
  window: number;
  ttl: number;
  mss: number;
  wscale: number;
  sackPermitted: boolean;
  timestamps: boolean;
  icmpType: number;
  icmpCode: number;
  icmpVersion: 0 | 4 | 6;
}

export interface FlowPackets {
  packets: FlowPacket[];
  /** Packets of the flow beyond maxPackets, counted only. */
  dropped: number;
}

export const DEFAULT_MAX_FLOW_PACKETS = 200_000;

/** What finding a flow's packets again takes: its endpoints, packet range, ICMP errors and window scales. */
export type FlowLocation = Pick<FlowFacts, 'clientIp' | 'serverIp' | 'clientPort' | 'serverPort' | 'ipVersion' | 'firstPacket' | 'lastPacket'> & {
  icmp: ReadonlyArray<{ no: number }>;
  clientSide: { windowScale: number | null };
  serverSide: { windowScale: number | null };
};

/** Matches decoded packets to one flow and turns them into FlowPackets (push-style, so tests can feed records). */
export class FlowPacketCollector {
  readonly packets: FlowPacket[] = [];
  dropped = 0;
  private readonly decoder = new PacketDecoder();
  private readonly clientAddr: Uint32Array;
  private readonly serverAddr: Uint32Array;
  private readonly icmpPackets: Set<number>;
  /** Base sequence number per role; NaN until known. */
  private readonly base = [Number.NaN, Number.NaN];
  private readonly sawSyn = [false, false];
  private readonly windowShift: [number, number];
  /** The last packet that may belong to the flow: later records are not looked at. */
  readonly lastNo: number;

  constructor(
    private readonly flow: FlowLocation,
    private readonly maxPackets = DEFAULT_MAX_FLOW_PACKETS,
  ) {
    this.clientAddr = parseAddr(flow.clientIp).words;
    this.serverAddr = parseAddr(flow.serverIp).words;
    this.icmpPackets = new Set(flow.icmp.map((i) => i.no));
    // ICMP errors about the flow are not counted in its first..last range.
    this.lastNo = flow.icmp.reduce((m, i) => Math.max(m, i.no), flow.lastPacket);
    const scaled = flow.clientSide.windowScale !== null && flow.serverSide.windowScale !== null;
    this.windowShift = scaled ? [flow.clientSide.windowScale ?? 0, flow.serverSide.windowScale ?? 0] : [0, 0];
  }

  readonly onRecord = (rec: PacketRecord): void => {
    if (rec.no > this.lastNo) return;
    // Earlier packets are decoded too: one may be a fragment of a datagram the flow's first packet completes.
    const kind = this.decoder.decode(rec);
    this.onDecoded(rec, kind, this.decoder.view);
  };

  /** onRecord for a record already decoded (one decoder, fed every record, serving several collectors). */
  onDecoded(rec: PacketRecord, kind: DecodedKind, v: PacketView): void {
    if (rec.no < this.flow.firstPacket || rec.no > this.lastNo) return;
    if (kind === DECODED.TCP) {
      if (v.ipVersion !== this.flow.ipVersion) return;
      const from = this.roleOf(v.src, v.srcPort, v.dst, v.dstPort);
      if (from < 0) return;
      this.addTcp(rec, v, from as Role);
    } else if (kind === DECODED.ICMP_ERROR && this.icmpPackets.has(rec.no)) {
      const quotedFrom = this.roleOf(v.quotedSrc, v.quotedSrcPort, v.quotedDst, v.quotedDstPort);
      this.push({
        ...emptyPacket(rec.no, rec.tsMicros, quotedFrom === 0 ? 1 : 0),
        kind: FLOW_PACKET_KIND.ICMP,
        ttl: v.ttl,
        icmpType: v.icmpType,
        icmpCode: v.icmpCode,
        icmpVersion: v.quotedIpVersion,
      });
    }
  }

  private roleOf(src: Uint32Array, srcPort: number, dst: Uint32Array, dstPort: number): -1 | Role {
    const f = this.flow;
    if (srcPort === f.clientPort && dstPort === f.serverPort && sameAddr(src, this.clientAddr) && sameAddr(dst, this.serverAddr)) return 0;
    if (srcPort === f.serverPort && dstPort === f.clientPort && sameAddr(src, this.serverAddr) && sameAddr(dst, this.clientAddr)) return 1;
    return -1;
  }

  private addTcp(rec: PacketRecord, v: PacketView, from: Role): void {
    const other = from === 0 ? 1 : 0;
    const syn = (v.flags & TCP_FLAG.SYN) !== 0;
    const hasAck = (v.flags & TCP_FLAG.ACK) !== 0;
    // A SYN fixes the ISN; otherwise the first number seen (or the peer's ACK of it) stands in.
    if (syn && (Number.isNaN(this.base[from]) || !this.sawSyn[from])) {
      this.base[from] = v.seq;
      this.sawSyn[from] = true;
    } else if (Number.isNaN(this.base[from])) this.base[from] = v.seq;
    if (hasAck && Number.isNaN(this.base[other])) this.base[other] = v.ack;
    const shift = syn ? 0 : this.windowShift[from];
    this.push({
      ...emptyPacket(rec.no, rec.tsMicros, from),
      flags: v.flags,
      relSeq: (v.seq - this.base[from]) >>> 0,
      relAck: hasAck ? (v.ack - this.base[other]) >>> 0 : 0,
      len: v.payloadLen,
      window: v.window * 2 ** shift,
      ttl: v.ttl,
      mss: v.mss,
      wscale: v.wscale,
      sackPermitted: v.sackPermitted,
      timestamps: v.hasTimestamps,
    });
  }

  private push(p: FlowPacket): void {
    if (this.packets.length < this.maxPackets) this.packets.push(p);
    else this.dropped++;
  }
}

function emptyPacket(no: number, ts: number, from: Role): FlowPacket {
  return { no, ts, kind: FLOW_PACKET_KIND.TCP, from, flags: 0, relSeq: 0, relAck: 0, len: 0, window: 0, ttl: 0, mss: -1, wscale: -1, sackPermitted: false, timestamps: false, icmpType: 0, icmpCode: 0, icmpVersion: 0 };
}

/**
 * Reads `file` again and returns the packets of `flow` (from an analysis of the same file).
 * Throws CaptureOpenError when the file cannot be read; standard input cannot be read twice.
 */
export function readFlowPackets(
  file: string,
  flow: FlowFacts,
  maxPackets = DEFAULT_MAX_FLOW_PACKETS,
  captureFilter: CaptureFilter | null = null,
  read: ReadCaptureOptions = {},
): FlowPackets {
  const collector = new FlowPacketCollector(flow, maxPackets);
  // The packets the analysis saw: the same capture filter leaves out the same ones.
  const onRecord = captureFilter
    ? (rec: PacketRecord) => {
        if (captureFilter.accepts(rec)) collector.onRecord(rec);
      }
    : collector.onRecord;
  readCaptureFileSync(file, onRecord, read);
  return { packets: collector.packets, dropped: collector.dropped };
}
