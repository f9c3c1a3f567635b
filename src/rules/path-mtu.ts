import { sideNamer, type FlowFacts, type SideNamer } from './facts.js';
import type { SideAnalysis } from '../flow/analysis.js';
import { fmtDuration, grouped, ms } from './format.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';

// A path MTU black hole that the sender got round: a link on the path drops packets larger than
// its MTU, the ICMP "fragmentation needed" that should tell the sender never reaches it, and the
// sender's MTU probing (RFC 4821; Linux net.ipv4.tcp_mtu_probing) shrinks its segments after its
// retransmission timer fired on full-size ones. The connection goes on, seconds late. A capture at
// the sender shows the large resends go unacknowledged and a smaller one get through; one at the
// receiver shows the first data arrive late, below the MSS, with a hole right behind it.

/** Segments this large and up are the ones a smaller MTU on the path drops (IPv6's minimum MTU, 1,280, less headers). */
export const MTU_SIZED_SEGMENT = 1_200;
/**
 * Segments this far under both MSS values were cut by the sender, not by the MSS: TCP options take
 * at most 40 bytes of a segment the MSS allows.
 */
const BELOW_MSS_BYTES = 64;
/** Two data segments this close together left the sender in one burst. */
const SAME_BURST_MICROS = 10_000;
/** MTU probing shrinks segments only after a retransmission timeout, 200 ms at the least (Linux). */
const LEAST_RETRANSMISSION_TIMEOUT_MICROS = 200_000;

function sideOf(f: FlowFacts, who: 'client' | 'server'): SideAnalysis {
  return who === 'client' ? f.analysis!.client : f.analysis!.server;
}

/** The sender's view: large resends of one segment that got no ACK, then a smaller resend of it that did. */
export interface ProbedPastBlackHole {
  /** The segment first sent (the original all the resends repeat). */
  originalPacket: number;
  /** The large resends, all of `size` bytes. */
  largeResends: number[];
  size: number;
  /** The smaller resend, `smallSize` bytes, sent `afterMs` after the original. */
  smallPacket: number;
  smallSize: number;
  afterMs: number;
  /** The largest segment of the sender the peer acknowledged whole. */
  ackedSize: number;
}

/**
 * Two or more resends of the same segment at a size of MTU_SIZED_SEGMENT or more, then a smaller
 * resend of it; the peer acknowledged segments as large as the smaller one and never one of the
 * larger size, so size decided what got through. Each resend names the transmission before it
 * (its rtoOf), so the resends of one segment are a chain back to the original.
 */
export function probedPastBlackHole(f: FlowFacts, who: 'client' | 'server'): ProbedPastBlackHole | null {
  const a = f.analysis;
  if (!a) return null;
  const ackedSize = sideOf(f, who).largestAckedSegment;
  // A resend is timed from the last earlier copy of its bytes: the first large one from the
  // original, each later one from the resend before it, so the times add up along the run.
  let large: typeof a.marks = [];
  let sinceOriginalMs = 0;
  for (const m of a.marks) {
    if (m.from !== who || !m.kinds.includes('retransmission')) continue;
    if (m.rtoOf === undefined || m.rtoMs === undefined) {
      large = [];
      continue;
    }
    if (large.length > 0 && m.rtoOf !== large[large.length - 1].no) large = [];
    if (large.length === 0) sinceOriginalMs = 0;
    sinceOriginalMs += m.rtoMs;
    if (m.len >= MTU_SIZED_SEGMENT && (large.length === 0 || m.len === large[0].len)) {
      large.push(m);
      continue;
    }
    if (large.length >= 2 && m.len < large[0].len && ackedSize >= m.len && ackedSize < large[0].len) {
      const afterMs = Math.round(sinceOriginalMs * 1000) / 1000;
      return { originalPacket: large[0].rtoOf!, largeResends: large.map((r) => r.no), size: large[0].len, smallPacket: m.no, smallSize: m.len, afterMs, ackedSize };
    }
    large = [];
  }
  return null;
}

/** The receiver's view: the side's first data, and the segment right behind it that skipped bytes sent before it. */
export interface SentBeforeArrival {
  firstPacket: number;
  holePacket: number;
  skippedBytes: number;
  /** Segment size of both (the first and the one behind the hole), and the smaller MSS of the two ends (null: unknown). */
  segmentSize: number;
  mss: number | null;
  /**
   * The first data and the hole came in segments cut well below both ends' MSS and below
   * MTU_SIZED_SEGMENT, and the hole does not end on their grid: its bytes had been cut to another size.
   */
  belowMss: boolean;
}

/**
 * `who`'s first data segment came with a hole of two segments or more right behind it, in the same
 * burst, that the peer asked for (duplicate ACKs): those bytes had left `who`
 * before the segment behind the hole, and the path lost them. The first data itself was then no
 * first transmission either (a sender sends new data in order), so the time it took to arrive was
 * partly the path's, however long the sender's application seems to have taken.
 */
export function sentBeforeArrival(f: FlowFacts, who: 'client' | 'server'): SentBeforeArrival | null {
  const a = f.analysis;
  const sender = a ? sideOf(f, who) : null;
  const hole = sender?.earlyHole;
  const first = (who === 'client' ? f.clientSide : f.serverSide).firstData;
  if (!a || !sender || !hole || !first) return null;
  if (hole.afterFirstMs * 1000 > SAME_BURST_MICROS || hole.skippedBytes < 2 * Math.max(hole.len, hole.firstLen)) return null;
  const peer = who === 'client' ? a.server : a.client;
  // The peer missed them too (it asked for them again): the path lost them, not only the capture.
  if (peer.duplicateAck === 0) return null;
  const mssOf = [f.clientSide.mss, f.serverSide.mss];
  const mss = mssOf[0] !== null && mssOf[1] !== null ? Math.min(mssOf[0], mssOf[1]) : null;
  // A hole a whole number of those segments long fits a sender writing that size all along (an
  // application's records, TCP_NODELAY) whose segments right behind its first were lost: nothing
  // shows they were sent earlier at a larger size.
  const recut = hole.skippedBytes % hole.len !== 0;
  const belowMss = hole.len === hole.firstLen && hole.len < MTU_SIZED_SEGMENT && mss !== null && hole.len <= mss - BELOW_MSS_BYTES && recut;
  return { firstPacket: first.no, holePacket: hole.packet, skippedBytes: hole.skippedBytes, segmentSize: hole.len, mss, belowMss };
}

export function mtuProbedHint(who: 'client' | 'server', side: SideNamer): string {
  const peer = who === 'client' ? 'server' : 'client';
  return `Packets of ${side(who)}'s full segment size are dropped on the way while smaller ones pass: a link on the path has a smaller MTU (a VPN or tunnel, an overlay network such as VXLAN, PPPoE, a cloud interconnect) and the ICMP "fragmentation needed" (ICMPv6 "packet too big") that should make ${side(who)} send smaller segments does not reach it, most often dropped by a firewall. ${side(who, true)}'s MTU probing found a size that passes only after retransmission timeouts, and every new connection on this path pays that wait again. Let that ICMP through, clamp the MSS where the MTU shrinks (iptables -t mangle ... -j TCPMSS --clamp-mss-to-pmtu), or lower the interface MTU. From ${side(who)}, ping -M do -s SIZE toward ${side(peer)} shows the largest packet that passes.`;
}

/** How long `who`'s first data came after what it answered (the request, or the handshake for a client), with that packet; null when unknown. */
function firstDataWait(f: FlowFacts, who: 'client' | 'server'): { micros: number; after: string } | null {
  const first = (who === 'client' ? f.clientSide : f.serverSide).firstData;
  if (!first) return null;
  if (who === 'server') {
    const think = f.analysis?.serverThink;
    return think && think.firstPacket === first.no ? { micros: think.firstMs * 1000, after: `the request #${think.first.requestPacket}` } : null;
  }
  const ack = f.handshakeAck;
  return ack && ack.ts <= first.ts ? { micros: first.ts - ack.ts, after: `the handshake #${ack.no}` } : null;
}

/**
 * The receiver's view of a black hole the sender's MTU probing got round (see sentBeforeArrival):
 * the sender's first data came a retransmission timeout or more late, cut well below both ends'
 * MSS, with a hole right behind it of bytes it had sent before. The sender's view is the
 * retransmission verdict (probedPastBlackHole), where the resends themselves are in the capture.
 */
export const pathMtuProbed: FlowRule = {
  code: 'path-mtu',
  needs: SHOWS.EARLY_HOLE,
  evaluate(f) {
    for (const who of ['server', 'client'] as const) {
      const early = sentBeforeArrival(f, who);
      const wait = early?.belowMss ? firstDataWait(f, who) : null;
      if (!early || !wait || wait.micros < LEAST_RETRANSMISSION_TIMEOUT_MICROS) continue;
      const peer = who === 'client' ? 'server' : 'client';
      return {
        code: 'path-mtu',
        severity: 'warning',
        summary: `the ${who}'s first data (#${early.firstPacket}) came ${fmtDuration(wait.micros)} after ${wait.after} in ${grouped(early.segmentSize)}-byte segments, well under the MSS of ${grouped(early.mss!)} both ends announced, and the segment right behind it (#${early.holePacket}) starts ${grouped(early.skippedBytes)} bytes further on: the ${who} had sent those bytes before and the ${peer} never got them. A sender cuts its segments below the MSS when full-size ones go unacknowledged (MTU probing, after retransmission timeouts): most likely a path MTU black hole that the ${who}'s MTU probing got round, and the wait was on the path, not in the ${who} application`,
        packets: [early.firstPacket, early.holePacket],
        facts: {
          sender: who,
          firstDataPacket: early.firstPacket,
          holePacket: early.holePacket,
          skippedBytes: early.skippedBytes,
          segmentSize: early.segmentSize,
          mss: early.mss,
          waitedMs: ms(wait.micros),
        },
        hint: mtuProbedHint(who, sideNamer(f)),
      };
    }
    return null;
  },
};
