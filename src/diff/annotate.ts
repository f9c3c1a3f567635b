import type { AppEvent } from '../dissect/types.js';
import type { FlowFacts } from '../rules/facts.js';
import type { Verdict } from '../rules/verdict.js';

// What the analysis knows about single packets of a flow, looked up by packet number: the
// per-segment TCP marks (retransmission, dup ACK #n, zero window ...), the dissectors' events
// (request and status lines, WebSocket frames) and the verdicts resting on the packet.

/** A flow with its verdicts: pipeline's FlowResult, seen from here. */
export type JudgedFlow = FlowFacts & { verdicts: Verdict[] };

export interface PacketMark {
  kinds: string[];
  dupAckNo?: number;
  rtoMs?: number;
  rtoOf?: number;
}

export interface PacketAnnotations {
  marks: Map<number, PacketMark>;
  events: Map<number, AppEvent[]>;
  verdicts: Map<number, Verdict[]>;
}

const MARK_TEXT: Record<string, string> = {
  retransmission: 'retransmission',
  'fast-retransmission': 'fast retransmission',
  'spurious-retransmission': 'spurious retransmission',
  'out-of-order': 'out of order',
  'lost-segment': 'previous segment not captured',
  'ack-lost-segment': 'ACKed unseen segment',
  'zero-window': 'zero window',
  'zero-window-probe': 'zero-window probe',
  'zero-window-probe-ack': 'zero-window probe ACK',
  'window-full': 'window full',
  'window-update': 'window update',
  'keep-alive': 'keep-alive',
  'keep-alive-ack': 'keep-alive ACK',
  'reused-ports': 'ports reused',
};

/**
 * Reads FlowFacts.analysis.marks defensively: the per-segment analysis is optional and its shape
 * may grow, so only `no`, `kinds` and the optional numbers are relied on.
 */
export function readMarks(flow: FlowFacts): Map<number, PacketMark> {
  const out = new Map<number, PacketMark>();
  const analysis = (flow as { analysis?: unknown }).analysis;
  if (!analysis || typeof analysis !== 'object') return out;
  const marks = (analysis as { marks?: unknown }).marks;
  if (!Array.isArray(marks)) return out;
  for (const m of marks) {
    if (!m || typeof m !== 'object') continue;
    const r = m as Record<string, unknown>;
    if (typeof r.no !== 'number' || !Array.isArray(r.kinds)) continue;
    out.set(r.no, {
      kinds: r.kinds.filter((k): k is string => typeof k === 'string'),
      dupAckNo: typeof r.dupAckNo === 'number' ? r.dupAckNo : undefined,
      rtoMs: typeof r.rtoMs === 'number' ? r.rtoMs : undefined,
      rtoOf: typeof r.rtoOf === 'number' ? r.rtoOf : undefined,
    });
  }
  return out;
}

export function annotateFlow(flow: JudgedFlow): PacketAnnotations {
  const events = new Map<number, AppEvent[]>();
  for (const e of flow.app?.events ?? []) {
    const list = events.get(e.no);
    if (list) list.push(e);
    else events.set(e.no, [e]);
  }
  const verdicts = new Map<number, Verdict[]>();
  for (const v of flow.verdicts) {
    for (const no of new Set(v.packets)) {
      const list = verdicts.get(no);
      if (list) list.push(v);
      else verdicts.set(no, [v]);
    }
  }
  return { marks: readMarks(flow), events, verdicts };
}

/** "retransmission of #128 after 8.0 ms", "dup ACK #2", "zero window". */
export function markTexts(mark: PacketMark | undefined): string[] {
  if (!mark) return [];
  return mark.kinds.map((k) => {
    if (k === 'duplicate-ack') return mark.dupAckNo ? `dup ACK #${mark.dupAckNo}` : 'dup ACK';
    const text = MARK_TEXT[k] ?? k.replace(/-/g, ' ');
    if (k === 'retransmission' && mark.rtoOf) return `${text} of #${mark.rtoOf}${mark.rtoMs !== undefined ? ` after ${formatMs(mark.rtoMs)}` : ''}`;
    return text;
  });
}

function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms >= 10 ? Math.round(ms) : Number(ms.toFixed(ms < 1 ? 3 : 1))} ms`;
}

/** True when the mark says the segment was sent again. */
export function isRetransmissionMark(mark: PacketMark | undefined): boolean {
  return !!mark && mark.kinds.some((k) => k === 'retransmission' || k === 'fast-retransmission' || k === 'spurious-retransmission');
}
