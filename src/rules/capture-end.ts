import type { FlowFacts } from './facts.js';
import { fmtDuration, ms, plural } from './format.js';
import type { FlowRule, RuleContext } from './rules.js';
import { unansweredHttpRequest } from './app-rules.js';

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

/** How long the capture had to go on after `since` for its silence to count, for this flow. */
export function patienceFor(f: FlowFacts): number {
  const rttMicros = (f.analysis?.handshake?.rttMs ?? 0) * 1000;
  return Math.max(TOO_EARLY_FLOOR_MICROS, TOO_EARLY_RTTS * rttMicros);
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

/** The flow was still open when the capture ended (or the budget finished it), less than its patience after `since`. */
export function endedTooEarly(f: FlowFacts, ctx: RuleContext, since: number): boolean {
  return stoppedWatching(f) && Math.max(f.end, ctx.captureEnd) - since < patienceFor(f);
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
  const http = unansweredHttpRequest(f, ctx.captureEnd);
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
  if (f.synAcks.length === 1 && f.handshakeAck === null && f.clientSide.bytes === 0 && !f.clientSide.rst && !f.clientSide.fin && f.syns.length > 0) {
    const sa = f.synAcks[0];
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
  evaluate(f, ctx) {
    if (!stoppedWatching(f) || f.visibility.seen !== 'both') return null;
    const patience = patienceFor(f);
    const end = Math.max(f.end, ctx.captureEnd);
    const p = pendingAnswers(f, ctx).find((x) => end - x.ts < (x.patience ?? patience));
    if (!p) return null;
    const waited = end - p.ts;
    const needed = p.patience ?? patience;
    return {
      code: 'capture-ended',
      severity: 'info',
      summary: `${watchEnd(f)} ${fmtDuration(waited)} after ${p.what}: too early to judge (an answer could still come; silence counts after ${fmtDuration(needed)})`,
      packets: [p.packet],
      facts: { after: p.what, packet: p.packet, waitedMs: ms(waited), neededMs: ms(needed), ...(p.syns ? { unansweredSyns: p.syns } : {}) },
      hint: 'The capture stopped before the answer was due (tcpdump -c, Ctrl-C, or a file cut short). Capture for longer after the last request to see whether it was answered.',
    };
  },
};
