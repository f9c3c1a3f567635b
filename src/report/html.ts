import { TCP_FLAG } from '../decode/view.js';
import { ROLE_NAME, type Step } from '../diff/align.js';
import { annotateFlow, type JudgedFlow } from '../diff/annotate.js';
import type { DiffSide, FlowDiff } from '../diff/diff.js';
import { FLOW_PACKET_KIND, type FlowPacket } from '../diff/packets.js';
import type { CaptureSummary } from '../pipeline.js';
import { fmtDuration } from '../rules/format.js';
import { SEVERITY, type Severity, type Verdict } from '../rules/verdict.js';
import { arrowLabel, chooseShown, detailText, foldSummary, IDLE_FOLD_MICROS, ladderOrigin, ladderSteps, packetNotes, secondsText } from './ladder.js';
import type { ProblemGroup } from './groups.js';
import { accountingLine } from './lines.js';

// The HTML report: one self-contained page (inline CSS and SVG, no script, no request of any kind:
// its Content-Security-Policy forbids them) with the summary, the problem groups and their fixes, a
// timeline of the flows and each problem flow's ladder drawn as an SVG sequence diagram. Every
// string that came off the wire (HTTP lines and headers, WebSocket text, SNI, addresses) goes
// through escapeHtml.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content or a quoted attribute; control characters (not valid in HTML text) become U+FFFD. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}
const esc = escapeHtml;

const SEV_MARK = { error: 'ERROR', warning: 'WARN', info: 'info' } as const;

/** A flow's outcome in the timeline: its worst verdict, 'ok' when none is a warning or an error. */
export type Outcome = 'error' | 'warning' | 'ok';
function outcomeOf(verdicts: readonly Verdict[]): Outcome {
  let worst = -1;
  for (const v of verdicts) worst = Math.max(worst, SEVERITY[v.severity]);
  return worst >= SEVERITY.error ? 'error' : worst >= SEVERITY.warning ? 'warning' : 'ok';
}
const OUTCOMES: readonly Outcome[] = ['error', 'warning', 'ok'];

// ---------------------------------------------------------------------------------------------
// Ladder: the packets of one flow as a sequence diagram.

interface LadderGeometry {
  clientX: number;
  serverX: number;
}
const WIDE: LadderGeometry = { clientX: 200, serverX: 540 };
const NARROW: LadderGeometry = { clientX: 150, serverX: 400 };
const TOP = 46;
const ROW = 26;
/** How far an arrow falls between its two lanes: packets travel downwards, in time. */
const DROP = 10;
const BAND = 26;
const FOLD_TEXT_X = 12;
/** Width of one character of the 12px monospace text, to size pills and the picture. */
const CHAR_W = 7.3;
/** Extra room between two packets grows with the time between them (log scale), up to this. */
const MAX_GAP_PX = 24;

export interface LadderSvgOptions {
  /** Packet rows at most (0: all); the others are folded as in the text ladder. */
  maxLines: number;
  /** A packet to mark as the point of interest (the diff's first divergence). */
  highlight?: number | null;
  narrow?: boolean;
}

export interface LadderPicture {
  svg: string;
  folded: number;
}

function gapPx(micros: number): number {
  return Math.round(Math.min(MAX_GAP_PX, 6 * Math.log10(1 + micros / 100)));
}

function arrowClass(p: FlowPacket): string {
  if (p.kind === FLOW_PACKET_KIND.ICMP) return 'k-icmp';
  if (p.flags & TCP_FLAG.RST) return 'k-rst';
  if (p.flags & TCP_FLAG.SYN) return 'k-syn';
  if (p.flags & TCP_FLAG.FIN) return 'k-fin';
  return p.from === 0 ? 'k-c2s' : 'k-s2c';
}

const num = (n: number) => String(Math.round(n * 10) / 10);

function textEl(cls: string, x: number, y: number, text: string, anchor?: 'middle' | 'end'): string {
  return `<text class="${cls}" x="${num(x)}" y="${num(y)}"${anchor ? ` text-anchor="${anchor}"` : ''}>${esc(text)}</text>`;
}

/** A horizontal band across the diagram: folded packets or a folded silence. */
function band(cls: string, y: number, width: number, g: LadderGeometry, text: string): string {
  // A silence is short and centred between the lanes; a fold summary is long and starts at the left.
  const label = cls === 'idle' ? textEl('band-text', (g.clientX + g.serverX) / 2, y + BAND / 2 + 2, text, 'middle') : textEl('band-text', FOLD_TEXT_X, y + BAND / 2 + 2, text);
  return `<g class="${cls}"><rect x="4" y="${y}" width="${width - 8}" height="${BAND - 4}" rx="3"/>${label}</g>`;
}

function verdictPill(v: Verdict, x: number, y: number): { svg: string; width: number } {
  const text = `${SEV_MARK[v.severity]} ${v.code}`;
  const width = text.length * CHAR_W + 10;
  return { svg: `<g class="vm sev-${v.severity}"><rect x="${num(x)}" y="${y - 12}" width="${num(width)}" height="17" rx="8"/>${textEl('vm-text', x + 5, y, text)}</g>`, width };
}

/** The flow's ladder as an SVG sequence diagram: client lane left, server lane right, one sloped arrow per packet. */
function ladderSvg(flow: JudgedFlow, packets: readonly FlowPacket[], opts: LadderSvgOptions): LadderPicture {
  const g = opts.narrow ? NARROW : WIDE;
  const notes = annotateFlow(flow);
  const keep = chooseShown(packets, notes, opts.maxLines);
  const t0 = ladderOrigin(flow, packets);
  const rows: string[] = [];
  const bands: Array<{ cls: string; y: number; text: string }> = [];
  let y = TOP;
  let right = g.serverX + 40;
  let folded = 0;
  for (const step of ladderSteps(packets, keep)) {
    if (step.kind === 'fold') {
      folded += step.run.length;
      const text = foldSummary(step.run, notes);
      bands.push({ cls: 'fold', y, text });
      right = Math.max(right, FOLD_TEXT_X + text.length * CHAR_W + 12);
      y += BAND;
      continue;
    }
    const { p, gap } = step;
    if (gap !== null) {
      if (gap >= IDLE_FOLD_MICROS) {
        bands.push({ cls: 'idle', y, text: `${fmtDuration(gap)} idle` });
        y += BAND;
      } else y += gapPx(gap);
    }
    const rowY = y + ROW / 2;
    const fromX = p.from === 0 ? g.clientX : g.serverX;
    const toX = p.from === 0 ? g.serverX : g.clientX;
    const y1 = rowY - DROP / 2 - 2;
    const y2 = y1 + DROP;
    const dir = toX > fromX ? 1 : -1;
    const head = `${num(toX)},${num(y2)} ${num(toX - dir * 9)},${num(y2 - 5.5)} ${num(toX - dir * 7)},${num(y2 + 2.5)}`;
    const delta = gap === null ? '' : ` +${secondsText(gap)}`;
    const verdicts = notes.verdicts.get(p.no) ?? [];
    const highlighted = opts.highlight === p.no;
    const cls = ['pkt', arrowClass(p), verdicts.length ? `has-verdict sev-${worstSeverity(verdicts)}` : '', highlighted ? 'diverge' : ''].filter(Boolean).join(' ');
    const parts = [`<g class="${cls}" data-no="${p.no}"><title>${esc(`#${p.no} ${secondsText(p.ts - t0)}${delta}  ${detailText(p).replace(/\s+/g, ' ').trim()}`)}</title>`];
    if (verdicts.length || highlighted) parts.push(`<rect class="row-mark" x="2" y="${y}" width="100%" height="${ROW}"/>`);
    parts.push(textEl('no', 8, rowY + 4, `#${p.no}`), textEl('t', 60, rowY + 4, secondsText(p.ts - t0)));
    parts.push(`<line class="arrow" x1="${fromX}" y1="${num(y1)}" x2="${num(toX - dir * 2)}" y2="${num(y2)}"/><polygon class="head" points="${head}"/>`);
    parts.push(textEl('lbl', (fromX + toX) / 2, (y1 + y2) / 2 - 5, arrowLabel(p), 'middle'));
    let x = g.serverX + 16;
    for (const v of verdicts) {
      const pill = verdictPill(v, x, rowY + 4);
      parts.push(pill.svg);
      x += pill.width + 6;
    }
    const note = packetNotes(p, notes).join('; ');
    if (note) {
      parts.push(textEl('note', x, rowY + 4, note));
      x += note.length * CHAR_W;
    }
    right = Math.max(right, x + 12);
    parts.push('</g>');
    rows.push(parts.join(''));
    y += ROW;
  }
  if (packets.length === 0) {
    bands.push({ cls: 'fold', y, text: 'no packet of this flow found when reading the capture again' });
    y += BAND;
  }
  const width = Math.ceil(right);
  const height = y + 12;
  const header = [
    textEl('col', 8, 18, 'no'),
    textEl('col', 60, 18, 'time (s)'),
    textEl('lane-name', g.clientX, 18, 'client', 'middle'),
    textEl('lane-addr', g.clientX, 34, flow.client, 'middle'),
    textEl('lane-name', g.serverX, 18, 'server', 'middle'),
    textEl('lane-addr', g.serverX, 34, flow.server, 'middle'),
    `<line class="lane" x1="${g.clientX}" y1="${TOP - 6}" x2="${g.clientX}" y2="${y}"/>`,
    `<line class="lane" x1="${g.serverX}" y1="${TOP - 6}" x2="${g.serverX}" y2="${y}"/>`,
  ];
  const svg = [
    `<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`ladder of flow ${flow.id}: ${flow.client} to ${flow.server}`)}">`,
    ...header,
    ...bands.map((b) => band(b.cls, b.y, width, g, b.text)),
    ...rows,
    '</svg>',
  ].join('');
  return { svg, folded };
}

function worstSeverity(vs: readonly Verdict[]): Severity {
  return vs.reduce<Severity>((w, v) => (SEVERITY[v.severity] > SEVERITY[w] ? v.severity : w), 'info');
}

function verdictList(vs: readonly Verdict[], cls = 'verdicts'): string {
  if (!vs.length) return '<p class="muted">No verdict.</p>';
  const items = vs.map(
    (v) =>
      `<li class="verdict sev-${v.severity}"><span class="sev">${SEV_MARK[v.severity]}</span> <code class="code">${esc(v.code)}</code> <span class="pkts">${esc(v.packets.map((n) => `#${n}`).join(', '))}</span><div class="summary">${esc(v.summary)}</div>${v.hint && v.severity !== 'info' ? `<div class="hint"><b>Fix:</b> ${esc(v.hint)}</div>` : ''}</li>`,
  );
  return `<ul class="${cls}">${items.join('')}</ul>`;
}

/** Everything an HTML ladder section needs: the judged flow (with its dissector events) and its packets read again. */
export interface LadderInput {
  file: string;
  flow: JudgedFlow;
  packets: readonly FlowPacket[];
  dropped: number;
}

function flowAnchor(fileIndex: number, flowId: number): string {
  return `f${fileIndex}-flow-${flowId}`;
}

/** One flow: its header line, its verdicts with their fixes, its ladder. */
function flowSection(l: LadderInput, anchor: string, opts: LadderSvgOptions): string {
  const f = l.flow;
  const pic = ladderSvg(f, l.packets, opts);
  const origin = f.syns.length ? `the first SYN (#${f.syns[0].no})` : 'the first packet';
  const notes: string[] = [];
  if (pic.folded) notes.push(`${pic.folded} of ${l.packets.length} packets folded to stay within --max-lines ${opts.maxLines} (--max-lines 0 shows all).`);
  if (l.dropped) notes.push(`${l.dropped} more packets of this flow were not kept (reader limit).`);
  return [
    `<section class="flow" id="${anchor}">`,
    `<h3>flow ${f.id}: ${esc(f.client)} → ${esc(f.server)} <span class="tag">${esc(f.state)}</span> <span class="tag">${esc(f.history)}</span></h3>`,
    `<p class="muted">packets #${f.firstPacket}..#${f.lastPacket} of ${esc(l.file)}, ${esc(fmtDuration(f.end - f.start))}; time in seconds since ${origin}; hover an arrow for seq, ack, window and options.</p>`,
    verdictList(f.verdicts),
    `<div class="ladder-wrap">${pic.svg}</div>`,
    ...notes.map((n) => `<p class="muted">${esc(n)}</p>`),
    '</section>',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Timeline: every flow of the capture by time, coloured by outcome; buckets beyond MAX_BARS flows.

/** Up to this many flows the timeline draws one bar each; beyond, flows started per time bucket. */
export const MAX_BARS = 150;
const BUCKETS = 120;

interface TimelineFlow {
  id: number;
  start: number;
  end: number;
  outcome: Outcome;
  text: string;
}

/** Collects what the timeline needs as flows stream by: three numbers per flow, details for the first MAX_BARS. */
export class TimelineCollector {
  private starts = new Float64Array(1024);
  private outcomes = new Uint8Array(1024);
  count = 0;
  first = Infinity;
  last = -Infinity;
  readonly byOutcome: Record<Outcome, number> = { error: 0, warning: 0, ok: 0 };
  private details: TimelineFlow[] | null = [];

  add(f: JudgedFlow): void {
    const outcome = outcomeOf(f.verdicts);
    if (this.count === this.starts.length) {
      const starts = new Float64Array(this.count * 2);
      starts.set(this.starts);
      this.starts = starts;
      const outcomes = new Uint8Array(this.count * 2);
      outcomes.set(this.outcomes);
      this.outcomes = outcomes;
    }
    this.starts[this.count] = f.start;
    this.outcomes[this.count] = OUTCOMES.indexOf(outcome);
    this.count++;
    this.byOutcome[outcome]++;
    this.first = Math.min(this.first, f.start);
    this.last = Math.max(this.last, f.end);
    if (this.details && this.count > MAX_BARS) this.details = null;
    else if (this.details) {
      const codes = f.verdicts.filter((v) => v.severity !== 'info').map((v) => `${SEV_MARK[v.severity]} ${v.code}`);
      const text = `flow ${f.id}: ${f.client} -> ${f.server}, ${f.state}, ${fmtDuration(f.end - f.start)}${codes.length ? `: ${codes.join(', ')}` : ''}`;
      this.details.push({ id: f.id, start: f.start, end: f.end, outcome, text });
    }
  }

  /** The timeline as SVG; `link` gives the anchor of a flow whose ladder is on the page. */
  svg(link: (id: number) => string | null): string {
    if (this.count === 0) return '<p class="muted">No TCP flow.</p>';
    const span = Math.max(1, this.last - this.first);
    const left = 64;
    const plot = 820;
    const x = (t: number) => left + ((t - this.first) / span) * plot;
    const parts: string[] = [];
    let height: number;
    let caption: string;
    if (this.details) {
      const flows = [...this.details].sort((a, b) => a.start - b.start || a.id - b.id);
      const rowH = flows.length <= 40 ? 16 : 7;
      flows.forEach((f, i) => {
        const y = 8 + i * rowH;
        const w = Math.max(2, x(f.end) - x(f.start));
        const rect = `<rect class="bar o-${f.outcome}" x="${num(x(f.start))}" y="${y}" width="${num(w)}" height="${rowH - 2}"><title>${esc(f.text)}</title></rect>`;
        const anchor = link(f.id);
        if (rowH >= 16) parts.push(textEl('tl-id', left - 6, y + rowH - 5, String(f.id), 'end'));
        parts.push(anchor ? `<a href="#${anchor}">${rect}</a>` : rect);
      });
      height = 8 + flows.length * rowH;
      caption = 'one bar per flow, from its first to its last packet';
    } else {
      const counts = OUTCOMES.map(() => new Uint32Array(BUCKETS));
      for (let i = 0; i < this.count; i++) {
        const b = Math.min(BUCKETS - 1, Math.floor(((this.starts[i] - this.first) / span) * BUCKETS));
        counts[this.outcomes[i]][b]++;
      }
      let max = 1;
      for (let b = 0; b < BUCKETS; b++) max = Math.max(max, counts[0][b] + counts[1][b] + counts[2][b]);
      const plotH = 140;
      const bw = plot / BUCKETS;
      for (let b = 0; b < BUCKETS; b++) {
        const total = counts[0][b] + counts[1][b] + counts[2][b];
        if (!total) continue;
        let top = 8 + plotH;
        const bars: string[] = [];
        OUTCOMES.forEach((o, k) => {
          const h = (counts[k][b] / max) * plotH;
          if (!counts[k][b]) return;
          top -= h;
          bars.push(`<rect class="bar o-${o}" x="${num(left + b * bw)}" y="${num(top)}" width="${num(Math.max(1, bw - 1))}" height="${num(Math.max(1, h))}"/>`);
        });
        const from = fmtDuration((b * span) / BUCKETS);
        const to = fmtDuration(((b + 1) * span) / BUCKETS);
        parts.push(`<g><title>${esc(`+${from} .. +${to}: ${total} flows started (${counts[0][b]} with errors, ${counts[1][b]} with warnings, ${counts[2][b]} with no problem found)`)}</title>${bars.join('')}</g>`);
      }
      parts.push(textEl('tl-id', left - 6, 18, String(max), 'end'), textEl('tl-id', left - 6, 8 + plotH, '0', 'end'));
      height = 8 + plotH;
      caption = `flows started in each of ${BUCKETS} intervals of ${fmtDuration(span / BUCKETS)}, stacked by outcome`;
    }
    const axisY = height + 6;
    for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
      const tx = left + frac * plot;
      parts.push(`<line class="tick" x1="${num(tx)}" y1="${axisY - 3}" x2="${num(tx)}" y2="${axisY + 2}"/>`);
      parts.push(textEl('tl-id', tx, axisY + 16, `+${fmtDuration(frac * span)}`, frac === 0 ? undefined : frac === 1 ? 'end' : 'middle'));
    }
    const totalH = axisY + 24;
    const width = left + plot + 16;
    return [
      `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalH}" viewBox="0 0 ${width} ${totalH}" role="img" aria-label="timeline of ${this.count} flows">`,
      `<line class="axis" x1="${left}" y1="${axisY - 2}" x2="${left + plot}" y2="${axisY - 2}"/>`,
      ...parts,
      '</svg>',
      `<p class="muted legend">${OUTCOMES.map((o) => `<span class="key o-${o}"></span>${o === 'ok' ? 'no problem found' : o === 'error' ? 'with errors' : 'with warnings'}: ${this.byOutcome[o]}`).join(' &nbsp; ')} &nbsp;(${esc(caption)}; time since the first flow started)</p>`,
    ].join('');
  }
}

// ---------------------------------------------------------------------------------------------
// Pages.

export interface FileReport {
  capture: CaptureSummary;
  /** Capture-level verdicts. */
  verdicts: Verdict[];
  flowCount: number;
  shownFlows: number;
  groups: ProblemGroup[];
  timeline: TimelineCollector;
  ladders: LadderInput[];
  /** Problem flows (warning or error) shown, of which `ladders` draws some. */
  problemFlows: number;
}

/** Group rows at most: a capture of many servers can have thousands of small groups. */
const MAX_GROUP_ROWS = 100;

function groupsTable(r: FileReport, fileIndex: number, drawn: Set<number>): string {
  if (!r.groups.length) return '<p class="muted">No warning or error.</p>';
  const origin = r.timeline.first;
  const since = (t: number) => `+${fmtDuration(Math.max(0, t - origin))}`;
  const shownFixes = new Set<string>();
  const rows = r.groups.slice(0, MAX_GROUP_ROWS).map((g) => {
    const ids = g.flowIds.map((id) => (drawn.has(id) ? `<a href="#${flowAnchor(fileIndex, id)}">${id}</a>` : String(id)));
    const more = g.flows > ids.length && ids.length ? `, ${g.flows - ids.length} more` : '';
    const when = g.firstTime === null || g.lastTime === null ? '' : g.firstTime === g.lastTime ? since(g.firstTime) : `${since(g.firstTime)} .. ${since(g.lastTime)}`;
    const also = g.also.length ? `<div class="also">also ${g.also.map((a) => `<span class="sev-${a.severity}"><span class="sev">${SEV_MARK[a.severity]}</span> <code class="code">${esc(a.code)}</code></span>`).join(', ')}</div>` : '';
    const fixes = [g.hint, ...g.also.map((a) => a.hint)].filter((h, i, all) => h && all.indexOf(h) === i);
    // A fix already given in a row above is folded: many groups of one code share it.
    const fixCells = fixes.map((h) => {
      if (!shownFixes.has(h)) {
        shownFixes.add(h);
        return `<div>${esc(h)}</div>`;
      }
      return `<details><summary>same fix as above</summary>${esc(h)}</details>`;
    });
    return `<tr class="group sev-${g.severity}"><td><span class="sev">${SEV_MARK[g.severity]}</span> <code class="code">${esc(g.code)}</code>${also}</td><td class="what">${esc(g.title)}</td><td class="n">${g.flows}</td><td class="when">${esc(when)}</td><td>${ids.join(', ')}${more}</td><td class="hint">${fixCells.join('')}</td></tr>`;
  });
  const rest = r.groups.slice(MAX_GROUP_ROWS);
  const more = rest.length ? `<p class="muted">${rest.length} smaller groups not listed.</p>` : '';
  return `<table class="groups"><thead><tr><th>problem</th><th>what</th><th>flows</th><th>when</th><th>flow ids</th><th>fix</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more}`;
}

function fileSection(r: FileReport, fileIndex: number, opts: LadderSvgOptions): string {
  const drawn = new Set(r.ladders.map((l) => l.flow.id));
  const t = r.timeline;
  const parts = [
    `<section class="file"><h2>${esc(r.capture.file)}</h2>`,
    `<p class="accounting">${esc(accountingLine(r.capture, r.flowCount, r.shownFlows))}</p>`,
    `<div class="cards">${[
      ['flows', r.shownFlows, ''],
      ['with errors', t.byOutcome.error, 'o-error'],
      ['with warnings', t.byOutcome.warning, 'o-warning'],
      ['no problem found', t.byOutcome.ok, 'o-ok'],
    ]
      .map(([label, n, cls]) => `<div class="card ${cls}"><div class="big">${n}</div>${label}</div>`)
      .join('')}</div>`,
  ];
  const captureInfo = r.verdicts.filter((v) => v.severity === 'info');
  if (captureInfo.length) parts.push('<h3>Capture notes</h3>', verdictList(captureInfo, 'verdicts capture'));
  parts.push('<h3>Timeline</h3>', `<div class="ladder-wrap">${t.svg((id) => (drawn.has(id) ? flowAnchor(fileIndex, id) : null))}</div>`);
  parts.push('<h3>Problem groups</h3>', groupsTable(r, fileIndex, drawn));
  if (r.ladders.length) {
    const of = r.problemFlows > r.ladders.length ? ` (${r.ladders.length} of ${r.problemFlows} problem flows: the lowest flow id of each group; tcpwhy flow ${r.capture.file} ID draws any other)` : '';
    parts.push(`<h3>Ladders${esc(of)}</h3>`, ...r.ladders.map((l) => flowSection(l, flowAnchor(fileIndex, l.flow.id), opts)));
  }
  parts.push('</section>');
  return parts.join('\n');
}

export function renderAnalyzeHtml(reports: readonly FileReport[], opts: LadderSvgOptions): string {
  const title = `tcpwhy: ${reports.map((r) => r.capture.file).join(', ')}`;
  return page(title, [`<h1>${esc(title)}</h1>`, ...reports.map((r, i) => fileSection(r, i, opts))]);
}

export function renderFlowHtml(capture: CaptureSummary, l: LadderInput, opts: LadderSvgOptions): string {
  const title = `tcpwhy: ${capture.file} flow ${l.flow.id}`;
  return page(title, [`<h1>${esc(title)}</h1>`, flowSection(l, flowAnchor(0, l.flow.id), opts)]);
}

function stepText(s: Step | null): string {
  return s ? `#${s.no} ${ROLE_NAME[s.role]} ${s.label}` : '(nothing: the flow ended)';
}

const show = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

export function renderDiffHtml(d: FlowDiff, opts: LadderSvgOptions): string {
  const title = `tcpwhy diff: ${d.good.file} flow ${d.good.flow.id} against ${d.bad.file} flow ${d.bad.flow.id}`;
  const side = (name: string, s: DiffSide) => `<p><b>${name}</b> ${esc(`${s.file} flow ${s.flow.id}: ${s.flow.client} -> ${s.flow.server}  ${s.flow.state}  ${s.flow.history}`)}${s.chosen ? `<br><span class="muted">${esc(s.chosen)}</span>` : ''}</p>`;
  const parts = [`<h1>${esc(title)}</h1>`, side('GOOD', d.good), side('BAD', d.bad)];
  if (d.sameWebSocketKey) parts.push(`<p>${esc(`Same Sec-WebSocket-Key in both flows (${d.sameWebSocketKey}): one upgrade request traced through a proxy.`)}</p>`);
  parts.push(`<p class="conclusion"><b>Conclusion:</b> ${esc(d.conclusion)}</p>`);
  if (d.differences.length) {
    const rows = d.differences.map((x) => `<tr><td class="n">${x.weight}</td><td><code>${esc(x.field)}</code></td><td>${esc(show(x.good))}</td><td class="bad">${esc(show(x.bad))}</td></tr>`);
    parts.push('<h3>Differences, most decisive first</h3>', `<table class="diffs"><thead><tr><th>weight</th><th>field</th><th>GOOD</th><th>BAD</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);
  } else parts.push('<p>No differences in the compared facts.</p>');
  const div = d.divergence;
  if (div) parts.push(`<h3 class="divergence">First divergence at step ${div.index + 1} (${esc(div.step)})</h3>`, `<p>GOOD ${esc(stepText(div.good))}<br>BAD ${esc(stepText(div.bad))}</p>`);
  else parts.push(`<p>No divergence: both flows took the same ${d.goodSteps.length} protocol steps.</p>`);
  const ladder = (name: string, s: DiffSide, no: number | null) =>
    `<div><h3>${name}</h3>${flowSection({ file: s.file, flow: s.flow, packets: s.packets, dropped: 0 }, `${name.toLowerCase()}-flow-${s.flow.id}`, { ...opts, narrow: true, highlight: no })}</div>`;
  parts.push(`<div class="pair">${ladder('GOOD', d.good, div?.good?.no ?? null)}${ladder('BAD', d.bad, div?.bad?.no ?? null)}</div>`);
  return page(title, parts);
}

function page(title: string, body: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // Nothing may load or run: the page is a document to attach to a ticket, and it quotes strangers' bytes.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="color-scheme" content="light dark">`,
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    ...body,
    '<footer class="muted">Written by tcpwhy. Verdicts rest on the packets they cite; hover a packet arrow for its header fields.</footer>',
    '</body></html>',
    '',
  ].join('\n');
}

const CSS = `
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--panel:#f6f8fa;--err:#cf222e;--warn:#9a6700;--ok:#1a7f37;--info:#656d76;
--syn:#1a7f37;--fin:#bc4c00;--rst:#cf222e;--c2s:#0969da;--s2c:#8250df;--icmp:#cf222e;--err-bg:#ffebe9;--warn-bg:#fff8c5;--info-bg:#eef1f4;--hl:#ddf4ff}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--panel:#161b22;--err:#ff7b72;--warn:#d29922;--ok:#3fb950;--info:#8d96a0;
--syn:#3fb950;--fin:#f0883e;--rst:#ff7b72;--c2s:#58a6ff;--s2c:#bc8cff;--icmp:#ff7b72;--err-bg:#3c1618;--warn-bg:#3a2d0c;--info-bg:#21262d;--hl:#0c2d6b}}
html{color-scheme:light dark}
body{background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1400px;padding:0 20px}
h1{font-size:20px;margin:0 0 12px;word-break:break-all}h2{font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px;word-break:break-all}h3{font-size:15px;margin:20px 0 8px}
code,.accounting,svg text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:var(--muted)}.accounting{font-size:12px;color:var(--muted)}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:110px}
.card .big{font-size:22px;font-weight:600}.card.o-error .big{color:var(--err)}.card.o-warning .big{color:var(--warn)}.card.o-ok .big{color:var(--ok)}
ul.verdicts{list-style:none;padding:0;margin:8px 0}li.verdict{border-left:4px solid var(--info);background:var(--panel);padding:6px 10px;margin:4px 0;border-radius:0 4px 4px 0}
li.verdict.sev-error{border-color:var(--err)}li.verdict.sev-warning{border-color:var(--warn)}
.sev{font-weight:700;font-size:12px}.sev-error .sev{color:var(--err)}.sev-warning .sev{color:var(--warn)}.sev-info .sev{color:var(--info)}
.pkts{color:var(--muted);font-size:12px}.hint{color:var(--muted);margin-top:2px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}th{background:var(--panel)}
td.n{text-align:right}td.bad{color:var(--err)}td.hint{color:var(--muted);width:42%}td.hint summary{cursor:pointer}td.what{width:28%}.groups code,.groups .sev,td.when{white-space:nowrap}
.ladder-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:6px;background:var(--bg);padding:4px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:16px}.pair>div{min-width:0}
.conclusion{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 12px}
section.flow{margin-bottom:28px}.tag{font-size:12px;background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:0 5px;font-weight:400}
footer{margin-top:40px;font-size:12px}
svg text{font-size:12px;fill:var(--fg)}svg .no,svg .t,svg .col,svg .tl-id{fill:var(--muted)}svg .lane-name{font-weight:700}svg .lane-addr{fill:var(--muted)}
svg .lane{stroke:var(--line);stroke-width:2}svg .axis,svg .tick{stroke:var(--muted)}
.pkt .arrow{stroke-width:1.6}.pkt .lbl{font-size:11px}
.k-syn .arrow{stroke:var(--syn)}.k-syn .head{fill:var(--syn)}.k-fin .arrow{stroke:var(--fin)}.k-fin .head{fill:var(--fin)}
.k-rst .arrow{stroke:var(--rst)}.k-rst .head{fill:var(--rst)}.k-icmp .arrow{stroke:var(--icmp);stroke-dasharray:5 3}.k-icmp .head{fill:var(--icmp)}
.k-c2s .arrow{stroke:var(--c2s)}.k-c2s .head{fill:var(--c2s)}.k-s2c .arrow{stroke:var(--s2c)}.k-s2c .head{fill:var(--s2c)}
.pkt .note{fill:var(--warn)}.row-mark{fill:transparent}.has-verdict.sev-error .row-mark{fill:var(--err-bg)}.has-verdict.sev-warning .row-mark{fill:var(--warn-bg)}
.pkt.diverge .row-mark{fill:var(--hl);stroke:var(--c2s);stroke-width:1.5}
.vm rect{fill:var(--info-bg);stroke:var(--info)}.vm.sev-error rect{stroke:var(--err)}.vm.sev-warning rect{stroke:var(--warn)}
.vm .vm-text{font-size:11px;font-weight:700}.vm.sev-error .vm-text{fill:var(--err)}.vm.sev-warning .vm-text{fill:var(--warn)}.vm.sev-info .vm-text{fill:var(--info)}
.fold rect,.idle rect{fill:var(--panel);stroke:var(--line);stroke-dasharray:4 3}.band-text{fill:var(--muted)}
.bar.o-error,.key.o-error{fill:var(--err);background:var(--err)}.bar.o-warning,.key.o-warning{fill:var(--warn);background:var(--warn)}.bar.o-ok,.key.o-ok{fill:var(--ok);background:var(--ok)}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
`.trim();
