import { annotateFlow } from '../diff/annotate.js';
import { ROLE_NAME, type Step } from '../diff/align.js';
import type { DiffSide, FlowDiff } from '../diff/diff.js';
import type { FlowPacket } from '../diff/packets.js';
import type { SharedKey } from '../diff/select.js';
import { compactLine, ladderOrigin } from './ladder.js';
import { wrap } from './wrap.js';

// The `tcpwhy diff` view: which flows were compared, the ranked differences, the divergence point
// with the two ladders side by side around it, and the conclusion. Returns strings only.

export interface DiffRenderOptions {
  color: boolean;
  /** Columns to fit (default 160). Below SIDE_BY_SIDE_WIDTH the two ladders are shown one above the other. */
  width?: number;
  /** Packets shown on each side before and after the divergence. */
  context?: number;
}

export const DIFF_SCHEMA_VERSION = 1;
/** Narrowest width at which the two ladder excerpts are shown side by side. */
const SIDE_BY_SIDE_WIDTH = 120;
const DEFAULT_WIDTH = 160;
/** Where a packet's notes continue when a stacked ladder line wraps: after its number, time and arrow. */
const STACKED_NOTES_AT = 41;

function paint(on: boolean, code: number, s: string): string {
  return on && s ? `\u001b[${code}m${s}\u001b[0m` : s;
}

const show = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

function sideLines(name: string, s: DiffSide, width: number): string[] {
  const head = wrap(`${s.file} flow ${s.flow.id}: ${s.flow.client} -> ${s.flow.server}  ${s.flow.state}  ${s.flow.history}`, width, name.padEnd(5), 5);
  return s.chosen ? [...head, ...wrap(`(${s.chosen})`, width, '     ', 6)] : head;
}

function stepText(s: Step | null): string {
  return s ? `#${s.no} ${ROLE_NAME[s.role]} ${s.label}` : '(nothing: the flow ended)';
}

/** Packets around `no` (the divergence packet) on one side; the index of `no` in the result. */
function around(packets: readonly FlowPacket[], no: number | null, context: number): { list: FlowPacket[]; at: number } {
  let idx = no === null ? packets.length : packets.findIndex((p) => p.no === no);
  if (idx < 0) idx = packets.length;
  const from = Math.max(0, idx - context);
  return { list: packets.slice(from, Math.min(packets.length, idx + context + 1)), at: idx - from };
}

export function renderSideBySide(d: FlowDiff, opts: DiffRenderOptions): string[] {
  const width = opts.width ?? DEFAULT_WIDTH;
  const context = opts.context ?? 4;
  const div = d.divergence;
  if (!div) return [];
  const g = around(d.good.packets, div.good?.no ?? null, context);
  const b = around(d.bad.packets, div.bad?.no ?? null, context);
  const gNotes = annotateFlow(d.good.flow);
  const bNotes = annotateFlow(d.bad.flow);
  const gT0 = ladderOrigin(d.good.flow, d.good.packets);
  const bT0 = ladderOrigin(d.bad.flow, d.bad.packets);
  if (width < SIDE_BY_SIDE_WIDTH) {
    // One ladder above the other, each line as wide as the width allows, the divergence marked '>'.
    const stacked = (name: string, list: FlowPacket[], at: number, notes: typeof gNotes, t0: number): string[] => [
      `${name}:`,
      ...list.flatMap((p, i) => {
        const line = compactLine(p, t0, notes);
        const number = line.length - line.trimStart().length; // the packet number is right-aligned
        return wrap(line, width, `${i === at ? '>' : ' '}${' '.repeat(number)}`, STACKED_NOTES_AT);
      }),
      ...(at >= list.length ? ['> (flow ended)'] : []),
    ];
    return [...stacked('GOOD', g.list, g.at, gNotes, gT0), ...stacked('BAD', b.list, b.at, bNotes, bT0)];
  }
  // Each side as wide as its longest line, within half the width.
  const longest = Math.max(...[...g.list.map((p) => compactLine(p, gT0, gNotes)), ...b.list.map((p) => compactLine(p, bT0, bNotes))].map((l) => l.length), 'GOOD'.length);
  const col = Math.min(Math.floor((width - 3) / 2), longest);
  // Pad the top so that the two divergence packets share a row.
  const lead = Math.max(g.at, b.at);
  const rows = lead + Math.max(g.list.length - g.at, b.list.length - b.at, 1);
  const out = [`${'GOOD'.padEnd(col)} | BAD`, `${'-'.repeat(col)}-+-${'-'.repeat(col)}`];
  for (let r = 0; r < rows; r++) {
    const gi = r - (lead - g.at);
    const bi = r - (lead - b.at);
    const gp = g.list[gi];
    const bp = b.list[bi];
    const left = gp ? compactLine(gp, gT0, gNotes, col) : ''.padEnd(col);
    const right = bp ? compactLine(bp, bT0, bNotes, col).trimEnd() : r === lead ? '(flow ended)' : '';
    const sep = r === lead ? '>' : '|';
    const line = `${r === lead ? paint(opts.color, 1, left) : left} ${sep} ${r === lead ? paint(opts.color, 1, right) : right}`;
    out.push(line.trimEnd());
  }
  return out;
}

export function renderDiff(d: FlowDiff, opts: DiffRenderOptions): string {
  const c = opts.color;
  const width = opts.width ?? DEFAULT_WIDTH;
  const out: string[] = [];
  out.push(...sideLines('GOOD', d.good, width));
  out.push(...sideLines('BAD', d.bad, width));
  if (d.sameWebSocketKey) out.push(...wrap(`Same Sec-WebSocket-Key in both flows (${d.sameWebSocketKey}): one upgrade request traced through a proxy.`, width, '', 2));
  out.push('');
  if (d.differences.length) {
    out.push(paint(c, 1, 'Differences, most decisive first:'));
    // The field column as wide as its longest name, within a third of the width; a longer name takes its own line.
    const fieldWidth = Math.min(32, Math.floor(width / 3), Math.max(...d.differences.map((x) => x.field.length)));
    const valueAt = 2 + 3 + 2 + fieldWidth + 2;
    for (const x of d.differences) {
      const weight = `  ${String(x.weight).padStart(3)}  `;
      let first = `${weight}${x.field.padEnd(fieldWidth)}  `;
      if (x.field.length > fieldWidth) {
        out.push(`${weight}${x.field}`);
        first = ' '.repeat(valueAt);
      }
      out.push(...wrap(`GOOD: ${show(x.good)}`, width, first, valueAt + 6));
      const bad = wrap(`BAD:  ${show(x.bad)}`, width, ' '.repeat(valueAt), valueAt + 6);
      out.push(...bad.map((l, i) => (c ? (i === 0 ? l.slice(0, valueAt + 6) + paint(true, 33, l.slice(valueAt + 6)) : paint(true, 33, l)) : l)));
    }
  } else out.push('No differences in the compared facts.');
  out.push('');
  const div = d.divergence;
  if (div) {
    out.push(...wrap(`First divergence at step ${div.index + 1} (${div.step}):`, width, '', 2).map((l) => paint(c, 1, l)));
    out.push(...wrap(stepText(div.good), width, '  GOOD ', 7));
    out.push(...wrap(stepText(div.bad), width, '  BAD  ', 7));
    out.push('');
    out.push(...renderSideBySide(d, { ...opts, width }));
  } else out.push(...wrap(`No divergence: both flows took the same ${d.goodSteps.length} protocol steps.`, width));
  out.push('');
  const conclusion = wrap(d.conclusion, width, 'Conclusion: ', 2);
  conclusion[0] = `${paint(c, 1, 'Conclusion:')}${conclusion[0].slice('Conclusion:'.length)}`;
  out.push(...conclusion);
  return out.join('\n');
}

export function diffToJson(d: FlowDiff): Record<string, unknown> {
  const side = (s: DiffSide) => ({ file: s.file, flow: s.flow.id, client: s.flow.client, server: s.flow.server, chosen: s.chosen });
  const step = (s: Step | null) => (s ? { packet: s.no, role: ROLE_NAME[s.role], kind: s.kind, label: s.label } : null);
  return {
    schemaVersion: DIFF_SCHEMA_VERSION,
    good: side(d.good),
    bad: side(d.bad),
    differences: d.differences.map((x) => ({ field: x.field, good: x.good, bad: x.bad, weight: x.weight })),
    divergence: d.divergence
      ? { step: d.divergence.step, index: d.divergence.index, goodPacket: d.divergence.good?.no ?? null, badPacket: d.divergence.bad?.no ?? null, good: step(d.divergence.good), bad: step(d.divergence.bad) }
      : null,
    sameWebSocketKey: d.sameWebSocketKey,
    conclusion: d.conclusion,
  };
}

export function renderDiffJson(d: FlowDiff): string {
  return JSON.stringify(diffToJson(d), null, 2);
}

/** `analyze` over several files: flows carrying the same Sec-WebSocket-Key. */
export function renderSharedKeys(shared: readonly SharedKey[], width = DEFAULT_WIDTH): string {
  const out = wrap('Same Sec-WebSocket-Key in several flows (one upgrade request seen on several hops):', width);
  for (const s of shared) out.push(...wrap(`${s.key}: ${s.flows.map((f) => `${f.file} flow ${f.flow} (${f.client} -> ${f.server})`).join(', ')}`, width, '  ', 4));
  return out.join('\n');
}
