import { annotateFlow } from '../diff/annotate.js';
import { ROLE_NAME, type Step } from '../diff/align.js';
import type { DiffSide, FlowDiff } from '../diff/diff.js';
import type { FlowPacket } from '../diff/packets.js';
import type { SharedKey } from '../diff/select.js';
import { compactLine, ladderOrigin } from './ladder.js';

// The `tcpwhy diff` view: which flows were compared, the ranked differences, the divergence point
// with the two ladders side by side around it, and the conclusion. Returns strings only.

export interface DiffRenderOptions {
  color: boolean;
  width?: number;
  /** Packets shown on each side before and after the divergence. */
  context?: number;
}

export const DIFF_SCHEMA_VERSION = 1;

function paint(on: boolean, code: number, s: string): string {
  return on && s ? `\u001b[${code}m${s}\u001b[0m` : s;
}

const show = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

function sideLine(name: string, s: DiffSide): string {
  return `${name.padEnd(5)}${s.file} flow ${s.flow.id}: ${s.flow.client} -> ${s.flow.server}  ${s.flow.state}  ${s.flow.history}${s.chosen ? `\n     (${s.chosen})` : ''}`;
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
  const width = Math.max(120, opts.width ?? 160);
  const col = Math.floor((width - 3) / 2);
  const context = opts.context ?? 4;
  const div = d.divergence;
  if (!div) return [];
  const g = around(d.good.packets, div.good?.no ?? null, context);
  const b = around(d.bad.packets, div.bad?.no ?? null, context);
  // Pad the top so that the two divergence packets share a row.
  const lead = Math.max(g.at, b.at);
  const rows = lead + Math.max(g.list.length - g.at, b.list.length - b.at, 1);
  const gNotes = annotateFlow(d.good.flow);
  const bNotes = annotateFlow(d.bad.flow);
  const gT0 = ladderOrigin(d.good.flow, d.good.packets);
  const bT0 = ladderOrigin(d.bad.flow, d.bad.packets);
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
  const out: string[] = [];
  out.push(sideLine('GOOD', d.good));
  out.push(sideLine('BAD', d.bad));
  if (d.sameWebSocketKey) out.push(`Same Sec-WebSocket-Key in both flows (${d.sameWebSocketKey}): one upgrade request traced through a proxy.`);
  out.push('');
  if (d.differences.length) {
    out.push(paint(c, 1, 'Differences, most decisive first:'));
    const fieldWidth = Math.min(32, Math.max(...d.differences.map((x) => x.field.length)));
    for (const x of d.differences) {
      out.push(`  ${String(x.weight).padStart(3)}  ${x.field.padEnd(fieldWidth)}  GOOD: ${show(x.good)}`);
      out.push(`       ${''.padEnd(fieldWidth)}  BAD:  ${paint(c, 33, show(x.bad))}`);
    }
  } else out.push('No differences in the compared facts.');
  out.push('');
  const div = d.divergence;
  if (div) {
    out.push(paint(c, 1, `First divergence at step ${div.index + 1} (${div.step}):`));
    out.push(`  GOOD ${stepText(div.good)}`);
    out.push(`  BAD  ${stepText(div.bad)}`);
    out.push('');
    out.push(...renderSideBySide(d, opts));
  } else out.push(`No divergence: both flows took the same ${d.goodSteps.length} protocol steps.`);
  out.push('');
  out.push(`${paint(c, 1, 'Conclusion:')} ${d.conclusion}`);
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
export function renderSharedKeys(shared: readonly SharedKey[]): string {
  const out = ['Same Sec-WebSocket-Key in several flows (one upgrade request seen on several hops):'];
  for (const s of shared) out.push(`  ${s.key}: ${s.flows.map((f) => `${f.file} flow ${f.flow} (${f.client} -> ${f.server})`).join(', ')}`);
  return out.join('\n');
}
