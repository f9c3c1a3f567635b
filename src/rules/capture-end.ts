import type { FlowFacts, PacketRef } from './facts.js';
import { fmtDuration, ms, plural } from './format.js';
import type { FlowRule, RuleContext } from './rules.js';
import { SHOWS } from './shows.js';
import { unansweredHttpRequest } from './app-rules.js';
import { watchUntil, type Watch } from './capture-watch.js';

// A capture that stops (tcpdump -c N, Ctrl-C, a file cut short) right after a SYN, a request or a
// FIN has not waited for the answer: silence that short proves nothing. Until the capture has run
// for at least TOO_EARLY_FLOOR_MICROS, and TOO_EARLY_RTTS round trips of the flow's handshake,
// after the last thing that asked for an answer, the rules that rest on a missing answer
// (syn-timeout, half-open, no-response, half-closed) keep quiet and capture-ended says so instead.

/** The first SYN and SYN-ACK retries come after 1 s (Linux, RFC 6298): less silence than that is no timeout. */
const TOO_EARLY_FLOOR_MICROS = 1_000_000;
/**
 * A client still retrying its SYN has not timed out: the first retry comes 1 s (Linux, macOS) or
 * 3 s (older Windows) after the SYN, the second 3 s after it on Linux. Until the capture has run
 * this long after the first SYN, unanswered SYNs are capture-ended, not syn-timeout.
 */
export const SYN_PATIENCE_MICROS = 3_000_000;
/** An answer takes at least a round trip; three leave room for a delayed ACK and a busy peer. */
const TOO_EARLY_RTTS = 3;

/**
 * How long the capture had to go on after `since` for its silence to count, for this flow: three
 * round trips, and at least `floor` (by default the first SYN retry's second).
 */
export function patienceFor(f: FlowFacts, floor = TOO_EARLY_FLOOR_MICROS): number {
  const rttMicros = (f.analysis?.handshake?.rttMs ?? 0) * 1000;
  return Math.max(floor, TOO_EARLY_RTTS * rttMicros);
}

/**
 * The flow was still open when the analysis stopped watching it: the capture ended, or the memory
 * budget finished it early (judged at that moment, with what was seen of it until then).
 */
export function stoppedWatching(f: FlowFacts): boolean {
  return f.endReason === 'capture-end' || f.endReason === 'memcap';
}

/** What ended the watch, for a summary: 'the capture ended' or 'the flow was finished early (--memcap)'. */
export function watchEnd(f: FlowFacts): string {
  return f.endReason === 'memcap' ? 'the flow was finished early (--memcap)' : 'the capture ended';
}

/** Up to when the capture shows it watched `f`: the file's end, unless a seam of joined captures follows the flow or its hosts went unseen. */
export function watchOf(f: FlowFacts, ctx: RuleContext): Watch {
  const end = Math.max(f.end, ctx.captureEnd);
  // The memory budget finished the flow early: it was watched until then.
  if (f.endReason === 'memcap') return watchUntil('memcap', end, f.lastPacket, f.lastPacket);
  // The client's next connection took the 4-tuple: this one was over then, however long the capture went on.
  const next = f.reusedBy;
  if (next) return watchUntil('reused', Math.max(f.end, next.ts), next.no, next.no);
  return ctx.watch?.of(f, ctx.captureEnd) ?? watchUntil('capture-end', end, f.lastPacket, f.lastPacket);
}

/** No packet of the flow ended it: it was open when the capture ended, went idle, or the memory budget finished it early. */
export function endedUnclosed(f: FlowFacts): boolean {
  return f.endReason === 'capture-end' || f.endReason === 'idle' || f.endReason === 'memcap';
}

/** The flow was still open when the capture stopped watching it, less than `patience` after `since`. */
export function endedTooEarly(f: FlowFacts, ctx: RuleContext, since: number, patience = patienceFor(f)): boolean {
  return endedUnclosed(f) && watchOf(f, ctx).ts - since < patience;
}

/**
 * The SYN-ACK the handshake still waits on the client's answer to: the only one, or the first to
 * come after the client's last SYN. A client that sent its SYN again had not got the SYN-ACKs
 * before it, so only those after it had the time to be answered; re-sends after that one waited a
 * retry timeout.
 */
export function awaitedSynAck(f: FlowFacts): PacketRef | null {
  if (f.synAcks.length === 1) return f.synAcks[0];
  const lastSyn = f.syns[f.syns.length - 1];
  return lastSyn ? (f.synAcks.find((a) => a.ts >= lastSyn.ts) ?? null) : null;
}

/** The seam after a flow, said in a clause: "the file's clock steps back at #104: captures joined". */
function seamClause(w: Watch): string {
  return w.seamBack ? `the file's clock steps back at #${w.seamPacket} (captures joined)` : `then no packet at all for ${fmtDuration(w.seamGap)}, until #${w.seamPacket}`;
}

/** "when the capture ended", or where the capture stopped watching the flow when that came earlier. */
export function whenWatchEnded(f: FlowFacts, w: Watch): string {
  if (w.until === 'seam') return `when the capture of it ended (last packet #${w.packet}; ${seamClause(w)})`;
  if (w.until === 'hosts') return `when the capture last held a packet of ${f.clientIp} or ${f.serverIp} (#${w.packet})`;
  if (w.until === 'idle') return 'when the flow went idle';
  if (w.until === 'memcap') return 'when it was finished early (--memcap)';
  if (w.until === 'reused') return `when the client opened its next connection on the same ports (SYN #${w.packet})`;
  return 'when the capture ended';
}

interface Pending {
  what: string;
  packet: number;
  ts: number;
  /** How long the silence after `ts` must last to count, when not the flow's patience. */
  patience?: number;
  /** Unanswered SYNs, when what waits is the connection itself. */
  syns?: number;
}

/**
 * What the flow was still waiting for an answer to when the capture ended, latest kind first: what
 * no-response, half-closed, half-open and syn-timeout would otherwise have judged.
 */
function pendingAnswers(f: FlowFacts, ctx: RuleContext): Pending[] {
  const out: Pending[] = [];
  if (f.clientSide.rst || f.serverSide.rst) return out;
  const u = f.analysis?.unanswered;
  // An answer the capture missed is no pending one.
  const answeredUnseen = u?.unseenAnswerPacket != null;
  const http = unansweredHttpRequest(f, watchOf(f, ctx).ts);
  if (http && http.endedBy === null && http.ex.timing.requestEndAt !== null && !answeredUnseen) {
    out.push({ what: `request #${http.ex.request!.packet}`, packet: http.ex.request!.packet, ts: http.ex.timing.requestEndAt });
  }
  // Client bytes with no answer yet: acknowledged, or sent on a connection whose handshake names
  // the client (less than a round trip may have passed before the capture stopped).
  if (u && u.gaveUpPacket === null && (u.ackedPacket !== null || f.handshakeAck !== null) && !answeredUnseen && !f.serverSide.fin && f.app?.upgradedTo?.toLowerCase() !== 'websocket') {
    out.push({ what: `request #${u.requestPacket}`, packet: u.requestPacket, ts: u.requestTs });
  }
  const c = f.clientSide.fin;
  const s = f.serverSide.fin;
  if ((c === null) !== (s === null)) {
    const fin = (c ?? s)!;
    out.push({ what: `the ${c ? 'client' : 'server'}'s FIN #${fin.no}`, packet: fin.no, ts: fin.ts });
  }
  const sa = awaitedSynAck(f);
  if (sa && f.handshakeAck === null && f.clientSide.bytes === 0 && !f.clientSide.rst && !f.clientSide.fin && f.syns.length > 0) {
    out.push({ what: `SYN-ACK #${sa.no}`, packet: sa.no, ts: sa.ts });
  }
  if (f.syns.length > 0 && f.synAcks.length === 0 && f.serverSide.packets === 0 && f.icmp.length === 0 && f.clientSide.bytes === 0) {
    const first = f.syns[0];
    const what = f.syns.length === 1 ? `SYN #${first.no}` : `SYN #${first.no} (retried ${plural(f.syns.length - 1, 'time')}, last #${f.syns[f.syns.length - 1].no})`;
    out.push({ what, packet: first.no, ts: first.ts, patience: SYN_PATIENCE_MICROS, syns: f.syns.length });
  }
  return out;
}

export const captureEnded: FlowRule = {
  code: 'capture-ended',
  needs: SHOWS.UNCLOSED,
  evaluate(f, ctx) {
    if (!endedUnclosed(f) || f.visibility.seen !== 'both') return null;
    const patience = patienceFor(f);
    const fileEnd = Math.max(f.end, ctx.captureEnd);
    const watched = watchOf(f, ctx);
    // A flow that went idle was watched for the whole idle timeout: not cut short.
    if (watched.until === 'idle') return null;
    const p = pendingAnswers(f, ctx).find((x) => watched.ts - x.ts < (x.patience ?? patience));
    if (!p) return null;
    const needed = p.patience ?? patience;
    // The file's own end is named when it alone came too early; else where the capture stopped watching the flow.
    const w: Watch = watched.until === 'hosts' && fileEnd - p.ts < needed ? { ...watched, ts: fileEnd, until: 'capture-end' } : watched;
    const waited = w.ts - p.ts;
    const stopped =
      w.until === 'seam'
        ? `the capture of this flow ended ${fmtDuration(waited)} after ${p.what}${w.packet !== p.packet ? ` (last packet #${w.packet})` : ''}; ${seamClause(w)}`
        : w.until === 'hosts'
          ? `the capture holds no packet of ${f.clientIp} or ${f.serverIp} after ${w.packet === p.packet ? p.what : `#${w.packet}, ${fmtDuration(waited)} after ${p.what}`}, though the file goes on to #${w.lastFilePacket}`
          : w.until === 'memcap'
            ? `the flow was finished early (--memcap) ${fmtDuration(waited)} after ${p.what}`
            : `the capture ended ${fmtDuration(waited)} after ${p.what}`;
    return {
      code: 'capture-ended',
      severity: 'info',
      summary: `${stopped}: too early to judge (an answer could still come; silence counts after ${fmtDuration(needed)})`,
      packets: w.until === 'capture-end' ? [p.packet] : [p.packet, w.until === 'seam' ? w.seamPacket : w.packet],
      facts: { after: p.what, packet: p.packet, waitedMs: ms(waited), neededMs: ms(needed), watchedUntil: w.until, ...(w.until === 'seam' ? { seamPacket: w.seamPacket } : {}), ...(p.syns ? { unansweredSyns: p.syns } : {}) },
      hint:
        w.until === 'capture-end'
          ? 'The capture stopped before the answer was due (tcpdump -c, Ctrl-C, or a file cut short). Capture for longer after the last request to see whether it was answered.'
          : w.until === 'memcap'
            ? 'The memory budget (--memcap) finished this flow before the answer was due, judging it with what was seen so far. Give a larger --memcap to follow it to its end.'
            : w.until === 'seam'
            ? 'The file joins several captures, and the one holding this flow stopped before the answer was due: what came after it is not in the file. Capture for longer after the last request to see whether it was answered.'
            : 'The file goes on, but with no packet from or to either host: the capture stopped seeing them (captures of other places joined on, a filter, a mirror moved) before the answer was due. Capture for longer where both hosts are seen.',
    };
  },
};
