import { TCP_FLAG } from '../decode/view.js';
import { annotateFlow, isRetransmissionMark, type JudgedFlow } from './annotate.js';
import { FLOW_PACKET_KIND, type FlowPacket, type Role } from './packets.js';

// Lines two flows up by protocol step rather than by packet: captures taken at different points
// (client side, server side, either leg of a proxy) differ in addresses, ports, ISNs, timing and
// in how many pure ACKs they show, but a working exchange takes the same steps in the same order
// (SYN, SYN-ACK, ACK, request, response, frames, close). The first step that differs in role,
// kind or signature is where the two conversations diverge.

export const STEP = {
  SYN: 'SYN',
  SYN_ACK: 'SYN-ACK',
  ACK: 'ACK',
  REQUEST: 'request',
  RESPONSE: 'response',
  INTERIM: 'interim response',
  HTTP_ERROR: 'HTTP error',
  DATA: 'data',
  WS_FRAME: 'WS frame',
  WS_CLOSE: 'WS close',
  TLS: 'TLS',
  RETRANSMISSION: 'retransmission',
  ZERO_WINDOW: 'zero window',
  ICMP: 'ICMP error',
  FIN: 'FIN',
  RST: 'RST',
} as const;
export type StepKind = (typeof STEP)[keyof typeof STEP];

export const ROLE_NAME = ['client', 'server'] as const;

export interface Step {
  role: Role;
  kind: StepKind;
  /** What must match on the other side: "GET /ws HTTP/1.1", "101", "WS text", "WS close 1000" (no sizes, no addresses). */
  signature: string;
  /** Human text: the dissector's event line, or the step kind. */
  label: string;
  no: number;
  ts: number;
}

/** Event text without byte counts and quoted reasons: "WS text 19 B" -> "WS text". */
function eventSignature(text: string): string {
  if (text.startsWith('TLS encrypted')) return 'TLS encrypted';
  return text
    .replace(/ \(after gap\)$/, '')
    .replace(/ \d+ B$/, '')
    .replace(/ ".*"$/, '')
    .replace(/ \([a-z -]+\)$/i, '');
}

function eventKind(text: string, dir: Role): StepKind {
  if (text.startsWith('HTTP error')) return STEP.HTTP_ERROR;
  if (text.startsWith('TLS ') || text.startsWith('not TLS')) return STEP.TLS;
  if (text.startsWith('WS close')) return STEP.WS_CLOSE;
  if (text.startsWith('WS ')) return STEP.WS_FRAME;
  if (/^1\d\d /.test(text) && !text.startsWith('101')) return STEP.INTERIM;
  if (/^\d{3}\b/.test(text)) return STEP.RESPONSE;
  if (text.startsWith('HTTP ') && dir === 0) return STEP.REQUEST;
  return STEP.DATA;
}

/** The flow's protocol steps in packet order. Pure ACKs and data inside a turn are not steps. */
export function flowSteps(flow: JudgedFlow, packets: readonly FlowPacket[]): Step[] {
  const notes = annotateFlow(flow);
  const steps: Step[] = [];
  const handshakeAckNo = flow.handshakeAck?.no ?? 0;
  let lastDataRole: Role | -1 = -1;
  const lastKind: [StepKind | null, StepKind | null] = [null, null];
  const add = (p: FlowPacket, role: Role, kind: StepKind, signature: string, label: string = kind) => {
    steps.push({ role, kind, signature, label, no: p.no, ts: p.ts });
    lastKind[role] = kind;
  };
  for (const p of packets) {
    if (p.kind === FLOW_PACKET_KIND.ICMP) {
      add(p, p.from, STEP.ICMP, `ICMP ${p.icmpType}/${p.icmpCode}`);
      continue;
    }
    const syn = (p.flags & TCP_FLAG.SYN) !== 0;
    const ack = (p.flags & TCP_FLAG.ACK) !== 0;
    if (syn) add(p, p.from, ack ? STEP.SYN_ACK : STEP.SYN, ack ? STEP.SYN_ACK : STEP.SYN);
    else if (p.no === handshakeAckNo) add(p, p.from, STEP.ACK, STEP.ACK);
    const mark = notes.marks.get(p.no);
    const events = notes.events.get(p.no);
    if (!syn && isRetransmissionMark(mark)) add(p, p.from, STEP.RETRANSMISSION, STEP.RETRANSMISSION);
    else if (events) {
      for (const e of events) {
        const kind = eventKind(e.text, e.dir);
        add(p, e.dir, kind, kind === STEP.DATA ? STEP.DATA : eventSignature(e.text), e.text);
      }
      lastDataRole = p.from;
    } else if (p.len > 0 && !syn && lastDataRole !== p.from) {
      add(p, p.from, STEP.DATA, STEP.DATA, `data ${p.len} B`);
      lastDataRole = p.from;
    }
    if (mark?.kinds.includes('zero-window') && lastKind[p.from] !== STEP.ZERO_WINDOW) add(p, p.from, STEP.ZERO_WINDOW, STEP.ZERO_WINDOW);
    if (p.flags & TCP_FLAG.FIN) add(p, p.from, STEP.FIN, STEP.FIN);
    if (p.flags & TCP_FLAG.RST) add(p, p.from, STEP.RST, STEP.RST);
  }
  return steps;
}

export interface Divergence {
  /** 0-based index into both step lists. */
  index: number;
  /** "client request", "server FIN": the step as GOOD took it (BAD's when GOOD has no step there). */
  step: string;
  good: Step | null;
  bad: Step | null;
}

export function sameStep(a: Step, b: Step): boolean {
  return a.role === b.role && a.kind === b.kind && a.signature === b.signature;
}

/** The first step where the two flows differ; null when they take the same steps. */
export function findDivergence(good: readonly Step[], bad: readonly Step[]): Divergence | null {
  const n = Math.max(good.length, bad.length);
  for (let i = 0; i < n; i++) {
    const g = good[i] ?? null;
    const b = bad[i] ?? null;
    if (g && b && sameStep(g, b)) continue;
    const named = g ?? b;
    return { index: i, step: named ? `${ROLE_NAME[named.role]} ${named.kind}` : '', good: g, bad: b };
  }
  return null;
}
