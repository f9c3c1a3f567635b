import { TCP_FLAG } from '../decode/view.js';
import { annotateFlow, markTexts, type JudgedFlow, type PacketAnnotations } from '../diff/annotate.js';
import { FLOW_PACKET_KIND, type FlowPacket } from '../diff/packets.js';
import { icmpMeaning } from '../rules/facts.js';
import { fmtDuration } from '../rules/format.js';
import type { Verdict } from '../rules/verdict.js';
import { verdictLines } from './text.js';
import { wrap } from './wrap.js';

// The per-flow ladder: a terminal sequence diagram, client on the left, server on the right, one
// line per packet with its number, time since the first SYN, delta, flags, relative seq/ack,
// length, window and what the analysis said about it; verdicts marked at the packets they rest on.

export interface LadderOptions {
  color: boolean;
  /** Packet lines at most (0: all). Folded packets are summarised in one line per run. */
  maxLines?: number;
  /** Capture file name for the header. */
  file?: string;
  /** Packets of the flow not kept by the reader (over its limit). */
  dropped?: number;
  /**
   * Columns to fit: narrower than WIDE_LADDER, the delta column goes, the arrows shorten and the
   * packet details wrap under themselves. Unset: the wide layout, lines as long as they need.
   */
  width?: number;
}

/** Width from which the ladder keeps its full layout (delta column, long arrows, aligned details). */
const WIDE_LADDER = 150;
const NARROW_ARROW_WIDTH = 20;
const NBSP = '\u00a0';

export const DEFAULT_MAX_LINES = 200;
/** Silences at least this long get their own line: they are usually the story (timeouts, retries). */
export const IDLE_FOLD_MICROS = 1_000_000;
const ARROW_WIDTH = 30;

const ANSI = { red: 31, green: 32, yellow: 33, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
function paint(on: boolean, code: number, s: string): string {
  return on && s ? `\u001b[${code}m${s}\u001b[0m` : s;
}

const SEV_MARK = { error: 'ERROR', warning: 'WARN', info: 'info' } as const;
const SEV_COLOR = { error: ANSI.red, warning: ANSI.yellow, info: ANSI.dim } as const;

/** "SYN", "SYN,ACK", "PSH,ACK", "FIN,ACK", "RST,ACK" (Wireshark's order). */
export function flagsText(flags: number): string {
  const names: string[] = [];
  if (flags & TCP_FLAG.CWR) names.push('CWR');
  if (flags & TCP_FLAG.ECE) names.push('ECE');
  if (flags & TCP_FLAG.URG) names.push('URG');
  if (flags & TCP_FLAG.FIN) names.push('FIN');
  if (flags & TCP_FLAG.SYN) names.push('SYN');
  if (flags & TCP_FLAG.RST) names.push('RST');
  if (flags & TCP_FLAG.PSH) names.push('PSH');
  if (flags & TCP_FLAG.ACK) names.push('ACK');
  return names.join(',') || 'none';
}

/** Seconds with µs, as Wireshark's time column: "0.000011", "59.981230". */
export function secondsText(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const a = Math.abs(Math.round(micros));
  return `${sign}${Math.floor(a / 1e6)}.${String(a % 1e6).padStart(6, '0')}`;
}

function arrow(label: string, toServer: boolean, width: number): string {
  const inner = ` ${label} `;
  const dashes = Math.max(2, width - inner.length - 1);
  const left = Math.floor(dashes / 2);
  const right = dashes - left;
  return toServer ? `${'-'.repeat(left)}${inner}${'-'.repeat(right)}>` : `<${'-'.repeat(left)}${inner}${'-'.repeat(right)}`;
}

function arrowColor(p: FlowPacket): number {
  if (p.kind === FLOW_PACKET_KIND.ICMP || p.flags & TCP_FLAG.RST) return ANSI.red;
  if (p.flags & TCP_FLAG.SYN) return ANSI.green;
  if (p.flags & TCP_FLAG.FIN) return ANSI.yellow;
  return p.from === 0 ? ANSI.cyan : ANSI.magenta;
}

export function arrowLabel(p: FlowPacket): string {
  if (p.kind === FLOW_PACKET_KIND.ICMP) return `ICMP ${p.icmpType}/${p.icmpCode}`;
  return p.len > 0 ? `${flagsText(p.flags)} ${p.len}` : flagsText(p.flags);
}

export function detailText(p: FlowPacket, aligned = true): string {
  if (p.kind === FLOW_PACKET_KIND.ICMP) return `${icmpMeaning(p.icmpVersion === 6 ? 6 : 4, p.icmpType, p.icmpCode)} (ttl ${p.ttl})`;
  const ack = p.flags & TCP_FLAG.ACK ? `ack=${p.relAck}` : '';
  const pad = (s: string, n: number) => (aligned ? s.padEnd(n) : s);
  let text = [pad(`seq=${p.relSeq}`, 12), pad(ack, 12), pad(`win=${p.window}`, 11), pad(`len=${p.len}`, 8)].filter((x) => aligned || x).join(' ');
  if (p.flags & TCP_FLAG.SYN) {
    const opts = [p.mss >= 0 ? `mss=${p.mss}` : '', p.wscale >= 0 ? `ws=${p.wscale}` : '', p.sackPermitted ? 'sack' : '', p.timestamps ? 'ts' : '', `ttl=${p.ttl}`].filter(Boolean);
    text += ` ${opts.join(' ')}`;
  }
  return text;
}

/** Notes for one packet: dissector events, TCP marks. */
export function packetNotes(p: FlowPacket, notes: PacketAnnotations): string[] {
  return [...(notes.events.get(p.no) ?? []).map((e) => e.text), ...markTexts(notes.marks.get(p.no))];
}

/** Time origin: the first SYN, else the first packet. */
export function ladderOrigin(flow: JudgedFlow, packets: readonly FlowPacket[]): number {
  return flow.syns[0]?.ts ?? packets[0]?.ts ?? flow.start;
}

/** Which packet lines to keep under maxLines: verdict packets first, then the head and the tail. */
/** One step of a ladder: a shown packet with the time since the packet before it, or a run of packets folded away. */
export type LadderStep = { kind: 'fold'; run: readonly FlowPacket[] } | { kind: 'packet'; p: FlowPacket; gap: number | null };

/** The ladder's steps in order, for the text and the SVG ladder alike: `keep` (chooseShown) says which packets are shown. */
export function* ladderSteps(packets: readonly FlowPacket[], keep: readonly boolean[]): Generator<LadderStep> {
  let prevTs: number | null = null;
  for (let i = 0; i < packets.length; ) {
    if (!keep[i]) {
      let j = i;
      while (j < packets.length && !keep[j]) j++;
      const run = packets.slice(i, j);
      yield { kind: 'fold', run };
      prevTs = run[run.length - 1].ts;
      i = j;
      continue;
    }
    const p = packets[i];
    yield { kind: 'packet', p, gap: prevTs === null ? null : p.ts - prevTs };
    prevTs = p.ts;
    i++;
  }
}

export function chooseShown(packets: readonly FlowPacket[], notes: PacketAnnotations, maxLines: number): boolean[] {
  const n = packets.length;
  const keep = new Array<boolean>(n).fill(maxLines <= 0 || n <= maxLines);
  if (maxLines <= 0 || n <= maxLines) return keep;
  let budget = maxLines;
  // Verdict packets, then packets with an app event (request, status line, close frame), up to a
  // quarter of the budget each: they are what the reader came for.
  const pick = (want: (p: FlowPacket) => boolean) => {
    const floor = budget - Math.floor(maxLines / 4);
    for (let i = 0; i < n && budget > floor; i++) {
      if (!keep[i] && want(packets[i])) {
        keep[i] = true;
        budget--;
      }
    }
  };
  pick((p) => notes.verdicts.has(p.no));
  pick((p) => notes.events.has(p.no));
  const head = Math.ceil(budget / 2);
  for (let i = 0, taken = 0; i < n && taken < head; i++) if (!keep[i]) (keep[i] = true), taken++;
  for (let i = n - 1, taken = 0; i >= 0 && taken < budget - head; i--) if (!keep[i]) (keep[i] = true), taken++;
  return keep;
}

export function foldSummary(run: readonly FlowPacket[], notes: PacketAnnotations): string {
  const client = run.filter((p) => p.from === 0).length;
  const bytes = run.reduce((s, p) => s + p.len, 0);
  const kinds = new Map<string, number>();
  for (const p of run) for (const k of notes.marks.get(p.no)?.kinds ?? []) kinds.set(k, (kinds.get(k) ?? 0) + 1);
  const events = run.reduce((s, p) => s + (notes.events.get(p.no)?.length ?? 0), 0);
  const parts = [`${client} from the client, ${run.length - client} from the server`, `${bytes} payload bytes`];
  if (events) parts.push(`${events} app ${events === 1 ? 'event' : 'events'}`);
  for (const [k, c] of kinds) parts.push(`${c} ${k}`);
  return `... ${run.length} ${run.length === 1 ? 'packet' : 'packets'} folded (#${run[0].no}..#${run[run.length - 1].no}: ${parts.join(', ')}) ...`;
}

export function renderLadder(flow: JudgedFlow, packets: readonly FlowPacket[], opts: LadderOptions): string {
  const c = opts.color;
  const width = opts.width ?? Infinity;
  const wide = width >= WIDE_LADDER;
  const arrowWidth = wide ? ARROW_WIDTH : NARROW_ARROW_WIDTH;
  const notes = annotateFlow(flow);
  const out: string[] = [];
  const t0 = ladderOrigin(flow, packets);
  const origin = flow.syns.length ? `the first SYN (#${flow.syns[0].no})` : `the first packet${packets[0] ? ` (#${packets[0].no})` : ''}`;
  const title = wrap(`${flow.client} -> ${flow.server}  ${flow.state}  ${flow.history}  packets #${flow.firstPacket}..#${flow.lastPacket}${opts.file ? ` of ${opts.file}` : ''}`, width, `flow ${flow.id}: `, 4);
  title[0] = paint(c, ANSI.bold, title[0]);
  out.push(...title);
  const scaled = flow.clientSide.windowScale !== null && flow.serverSide.windowScale !== null;
  out.push(
    ...wrap(
      `time: seconds since ${origin}; seq/ack relative to each side's ISN; win ${scaled ? `scaled (client x${2 ** (flow.clientSide.windowScale ?? 0)}, server x${2 ** (flow.serverSide.windowScale ?? 0)})` : 'as sent (no window scaling)'}${flow.rolesGuessed ? '; roles guessed (no SYN from the client seen)' : ''}`,
      width,
      '',
      4,
    ),
  );
  const gutter = wide ? 6 + 1 + 10 + 1 + 10 + 2 : 6 + 1 + 10 + 2;
  /** Where a packet line's details start, and where they continue when wrapped. */
  const detailsAt = gutter + arrowWidth + 4;
  const columns = `${'no'.padStart(6)} ${'time'.padStart(10)}${wide ? ` ${'delta'.padStart(10)}` : ''}  `;
  const sides = `${`client ${flow.client}`.padEnd(arrowWidth + 2)}  server ${flow.server}`;
  out.push(columns.length + sides.length <= width ? `${columns}${sides}` : `${columns}client ${flow.client}`, ...(columns.length + sides.length <= width ? [] : [`${' '.repeat(columns.length)}server ${flow.server}`]));

  const maxLines = opts.maxLines ?? DEFAULT_MAX_LINES;
  const keep = chooseShown(packets, notes, maxLines);
  let folded = 0;
  for (const step of ladderSteps(packets, keep)) {
    if (step.kind === 'fold') {
      folded += step.run.length;
      out.push(...wrap(foldSummary(step.run, notes), width, ' '.repeat(gutter), gutter + 4).map((l) => paint(c, ANSI.dim, l)));
      continue;
    }
    const { p, gap } = step;
    if (gap !== null && gap >= IDLE_FOLD_MICROS) {
      out.push(paint(c, ANSI.dim, `${' '.repeat(gutter)}:${`... ${fmtDuration(gap)} idle ...`.padStart(Math.floor(arrowWidth / 2) + 8).padEnd(arrowWidth)}:`));
    }
    const delta = gap === null ? '' : `+${secondsText(gap)}`;
    const a = arrow(arrowLabel(p), p.from === 0, arrowWidth);
    const noteText = packetNotes(p, notes).join('; ');
    // A mark is never split across lines: its spaces are no-break ones while the line wraps.
    const marks = (notes.verdicts.get(p.no) ?? []).map((v) => `<=${NBSP}${SEV_MARK[v.severity]}${NBSP}${v.code}`).join(' ');
    const head = `${String(p.no).padStart(6)} ${secondsText(p.ts - t0).padStart(10)}${wide ? ` ${delta.padStart(10)}` : ''}  |${paint(c, arrowColor(p), a)}|  `;
    const plainHead = `${String(p.no).padStart(6)} ${secondsText(p.ts - t0).padStart(10)}${wide ? ` ${delta.padStart(10)}` : ''}  |${a}|  `;
    const tail = `${detailText(p, wide)}${noteText ? `  ${noteText}` : ''}${marks ? `  ${marks}` : ''}`.trimEnd();
    const lines = wrap(tail, width, plainHead, detailsAt).map((l) => l.replaceAll(NBSP, ' '));
    lines[0] = head + lines[0].slice(plainHead.length);
    out.push(...lines.map((l) => (c ? colorNotes(l, noteText, notes.verdicts.get(p.no)) : l)));
  }
  if (packets.length === 0) out.push(...wrap('(no packet of this flow found when reading the capture again)', width, ' '.repeat(gutter), gutter));
  if (folded) out.push(...wrap(`${folded} of ${packets.length} packets folded to stay within --max-lines ${maxLines} (--max-lines 0 shows all).`, width));
  if (opts.dropped) out.push(...wrap(`${opts.dropped} more packets of this flow were not kept (reader limit).`, width));
  if (flow.verdicts.length) {
    out.push('verdicts:');
    for (const v of flow.verdicts) out.push(...verdictLines(v, width, c, true));
  } else out.push('verdicts: none');
  return out.join('\n');
}

/** A packet line with its notes in yellow and its verdict marks in their severity's colour (on a terminal). */
function colorNotes(line: string, noteText: string, verdicts: Verdict[] | undefined): string {
  let out = line;
  if (noteText) out = out.replace(noteText, paint(true, ANSI.yellow, noteText));
  if (verdicts) for (const v of verdicts) out = out.replace(`<= ${SEV_MARK[v.severity]} ${v.code}`, paint(true, SEV_COLOR[v.severity], `<= ${SEV_MARK[v.severity]} ${v.code}`));
  return out;
}

/**
 * One narrow line for the side-by-side view: "#9 +0.000412 C --PSH,ACK 226--> S  HTTP GET /ws HTTP/1.0",
 * cut to `width` and padded to it; whole when no width is given.
 */
export function compactLine(p: FlowPacket, t0: number, notes: PacketAnnotations, width?: number): string {
  const a = arrow(arrowLabel(p), p.from === 0, 22);
  const note = packetNotes(p, notes).join('; ');
  const text = `${`#${p.no}`.padStart(6)} ${secondsText(p.ts - t0).padStart(9)} C${a}S ${note}`.trimEnd();
  if (width === undefined) return text;
  return text.length > width ? `${text.slice(0, width - 1)}~` : text.padEnd(width);
}
