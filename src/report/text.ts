import type { AnalysisResult, CaptureSummary, FlowResult } from '../pipeline.js';
import { fmtDuration } from '../rules/format.js';
import { SEVERITY, type Severity, type Verdict } from '../rules/verdict.js';
import { flowVerdictKey, leadRank, primaryProblem, ProblemGrouper, type ProblemGroup } from './groups.js';
import { droppedClauses } from './lines.js';
import { wrap } from './wrap.js';

// The default report, summary first: the capture and its packet accounting, the flows by outcome,
// one line per problem group with its fix, then one compact block per problem flow (most severe
// first, by group, by id). Healthy flows are counted, not listed (unless --all). Nothing is written
// until the capture is read, so per flow only problem flows are kept, as rendered text, and past
// KEEP_ALL of them only the first few of each group.

/** Between two sentences of a hint. */
const SENTENCE_BREAK = /(?<=[.!?])\s+(?=[A-Z])/;

export interface TextReportOptions {
  color: boolean;
  /** Columns to fit (see wrap.ts reportWidth). */
  width: number;
  /** List every flow, healthy ones too (kept as rendered text: memory grows with the flows). */
  all?: boolean;
  /** The flows were chosen by --filter: the flow counts say so. */
  filtered?: boolean;
}

const MARK: Record<Severity, string> = { error: 'ERROR', warning: 'WARN', info: 'info' };
const COLOR: Record<Severity, number> = { error: 31, warning: 33, info: 2 };
/** Width of the severity column of the group lines ('ERROR' and two spaces). */
const GROUP_INDENT = 7;
/** Continuation lines of a flow block. */
const FLOW_INDENT = 4;

/** Problem flows kept whatever their group; past this many, only the first PER_GROUP of each group, and at most MAX_KEPT in all. */
const KEEP_ALL = 200;
const PER_GROUP = 5;
const MAX_KEPT = 500;
/** Groups listed in the summary; the others are counted in one line. */
const MAX_GROUPS_SHOWN = 40;

/** Info verdicts that add nothing under a warning or error of the same flow: the state column already says it. */
const RESTATES_STATE = new Set(['clean-close', 'ws-ok']);

/** How a healthy flow is counted, by its info verdicts, the first that applies. */
const HEALTHY_KINDS: ReadonlyArray<[string, string]> = [
  ['scan-probe', 'scan probes'],
  ['ws-ok', 'WebSocket sessions OK'],
  ['tls-ok', 'TLS sessions OK'],
  ['clean-close', 'closed cleanly'],
  ['capture-ended', 'cut off by the end of the capture'],
  ['lone-rst', 'holding only RSTs'],
  ['midstream', 'already open when the capture started'],
  ['replayed-packets', 'replayed from earlier in the capture'],
];
const OTHER_HEALTHY = 'with notes only';
const NO_VERDICT = 'with no verdict';

interface KeptFlow {
  id: number;
  /** SEVERITY of its worst verdict; -1 for a healthy flow (kept by --all). */
  rank: number;
  /** The group of its worst verdict. */
  key: string;
  text: string;
}

function paint(on: boolean, color: number, s: string): string {
  return on ? `\u001b[${color}m${s}\u001b[0m` : s;
}

/** "1,234" */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${count(n)} ${n === 1 ? word : many}`;
}

/** The summary with any words that only repeat the code ("response cut short: ...") left out. */
function summaryWithoutCode(v: Verdict): string {
  const words = `${v.code.replace(/-/g, ' ')}: `;
  return v.summary.toLowerCase().startsWith(words) ? v.summary.slice(words.length) : v.summary;
}

/** "#1, #2, #3" or "#1, #2, … #9" for a long list (sorted, no repeats). */
function packetList(sorted: readonly number[]): string {
  if (sorted.length <= 4) return sorted.map((n) => `#${n}`).join(', ');
  return `#${sorted[0]}, #${sorted[1]}, … #${sorted[sorted.length - 1]}`;
}

/**
 * One verdict of a flow, as wrapped lines: severity, code, the summary, and its packets when the
 * summary names none; with `allPackets` (the ladder, which marks them), every packet, after the code.
 */
export function verdictLines(v: Verdict, width: number, color: boolean, allPackets = false): string[] {
  const summary = summaryWithoutCode(v);
  const sorted = [...new Set(v.packets)].sort((a, b) => a - b);
  const text = allPackets
    ? `${v.code}${sorted.length ? ` (${sorted.map((n) => `#${n}`).join(', ')})` : ''}  ${summary}`
    : `${v.code}  ${summary}${sorted.length > 0 && !summary.includes('#') ? ` (${packetList(sorted)})` : ''}`;
  const lines = wrap(text, width, `  ${MARK[v.severity]} `, FLOW_INDENT);
  const mark = `  ${MARK[v.severity]} ${v.code}`;
  if (color && lines[0].startsWith(mark)) lines[0] = `  ${paint(true, COLOR[v.severity], `${MARK[v.severity]} ${v.code}`)}${lines[0].slice(mark.length)}`;
  return lines;
}

/** A flow's block: id, addresses, state, history and duration, then its verdicts. */
function flowBlock(f: FlowResult, width: number, color: boolean): string {
  const head = wrap(`${f.client} -> ${f.server}  ${f.state}  ${f.history || '-'}  ${fmtDuration(f.end - f.start)}`, width, `flow ${f.id}  `, FLOW_INDENT);
  const problem = f.verdicts.some((v) => v.severity !== 'info');
  const shown = problem ? f.verdicts.filter((v) => v.severity !== 'info' || !RESTATES_STATE.has(v.code)) : f.verdicts;
  // Most severe first; among equals, in the order that leads a group (what happened, then why).
  const ordered = [...shown].sort((a, b) => SEVERITY[b.severity] - SEVERITY[a.severity] || (a.severity === 'info' ? 0 : leadRank(a.code) - leadRank(b.code)));
  return [...head, ...ordered.flatMap((v) => verdictLines(v, width, color))].join('\n');
}

function healthyKind(f: FlowResult): string {
  if (f.verdicts.length === 0) return NO_VERDICT;
  // Plain loops: this runs for every healthy flow, and a closure per kind would be made each time.
  for (const [code, kind] of HEALTHY_KINDS) {
    for (const v of f.verdicts) if (v.code === code) return kind;
  }
  return OTHER_HEALTHY;
}

/** Wall-clock time of a capture timestamp (µs since the epoch), UTC, to the millisecond. */
function clock(micros: number, withDate: boolean): string {
  const d = new Date(Math.floor(micros / 1000));
  if (Number.isNaN(d.getTime())) return `${(micros / 1e6).toFixed(3)} s`;
  const iso = d.toISOString();
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso.slice(11, 23);
}

/** The capture line: file, format, when and how long, and every packet accounted for. */
function captureLines(c: CaptureSummary, width: number): string[] {
  const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(c.skipped)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([k, n]) => `${k} ${count(n)}`)
    .join(', ');
  const when = c.packets > 0 && c.end >= c.start && c.start > 0 ? `, ${fmtDuration(c.end - c.start)} from ${clock(c.start, true)} UTC` : '';
  const fr = c.fragments;
  const broken = fr ? fr.dropped + fr.incomplete : 0;
  const fragments = fr && fr.reassembled + broken > 0 ? ` IP fragments: ${plural(fr.reassembled, 'datagram')} reassembled${broken > 0 ? `, ${count(broken)} incomplete` : ''}.` : '';
  const ll = c.lingerLimit;
  const linger = ll && ll.closedEarly > 0 ? ` ${plural(ll.closedEarly, 'closed flow')} finished before their 5 s linger (${plural(ll.latePackets, 'late packet')} not added).` : '';
  const stopped = c.stoppedEarly ? ' Reading stopped early (see the messages above).' : '';
  const dropped = c.dropped ? droppedClauses(c.dropped).map((clause) => ` ${clause[0].toUpperCase()}${clause.slice(1)}.`).join('') : '';
  const accounting = `${count(c.packets)} packets read = ${count(c.decoded)} decoded + ${count(skipped)} skipped${reasons ? ` (${reasons})` : ''}${c.captureFilter ? ` + ${count(c.filtered)} filtered (by '${c.captureFilter}')` : ''} + ${count(c.malformed)} malformed.${fragments}${linger}${stopped}${dropped}`;
  return [...wrap(`${c.format ?? 'unknown format'}${when}`, width, `${c.file}: `, 2), ...wrap(accounting, width, '', 2)];
}

/**
 * The report, fed flows as they are judged and written whole at the end (the summary needs every
 * flow). Keeps per flow only what a problem flow's block needs, as text, within bounds.
 */
export class TextReport {
  private readonly grouper = new ProblemGrouper();
  private readonly kept: KeptFlow[] = [];
  private readonly keptByGroup = new Map<string, number>();
  private problemsNotKept = 0;
  private flows = 0;
  private readonly worst = { error: 0, warning: 0 };
  private readonly healthy = new Map<string, number>();

  constructor(
    private readonly opts: TextReportOptions,
    private readonly write: (s: string) => void,
  ) {}

  flow(f: FlowResult): void {
    this.flows++;
    this.grouper.add(f);
    const primary = primaryProblem(f);
    if (!primary) {
      const kind = healthyKind(f);
      this.healthy.set(kind, (this.healthy.get(kind) ?? 0) + 1);
      if (this.opts.all) this.kept.push({ id: f.id, rank: -1, key: '', text: flowBlock(f, this.opts.width, this.opts.color) });
      return;
    }
    this.worst[primary.severity as 'error' | 'warning']++;
    const { key } = flowVerdictKey(f, primary);
    const inGroup = this.keptByGroup.get(key) ?? 0;
    const keep = this.opts.all || this.kept.length < KEEP_ALL || (inGroup < PER_GROUP && this.kept.length < MAX_KEPT);
    if (!keep) {
      this.problemsNotKept++;
      return;
    }
    this.keptByGroup.set(key, inGroup + 1);
    this.kept.push({ id: f.id, rank: SEVERITY[primary.severity], key, text: flowBlock(f, this.opts.width, this.opts.color) });
  }

  end(result: AnalysisResult): void {
    const { width } = this.opts;
    const groups = this.grouper.groups(result.verdicts);
    const out: string[] = [...captureLines(result.capture, width), ...wrap(this.outcomeText(result.flowCount), width, '', 2), ''];
    if (groups.length === 0) out.push('No problems found.', '');
    const hinted = new Map<string, ProblemGroup>();
    for (const g of groups.slice(0, MAX_GROUPS_SHOWN)) out.push(...this.groupLines(g, hinted), '');
    if (groups.length > MAX_GROUPS_SHOWN) out.push(...this.otherGroupLines(groups.slice(MAX_GROUPS_SHOWN)), '');
    const listed = this.orderedFlows(groups);
    const problems = listed.filter((k) => k.rank >= 0);
    const healthy = listed.filter((k) => k.rank < 0);
    if (problems.length === 0 && healthy.length === 0) while (out[out.length - 1] === '') out.pop(); // no blank line at the end
    // The summary in one piece, then the flows block by block: --all may hold very many.
    this.write(`${out.join('\n')}\n`);
    if (problems.length > 0) {
      const total = problems.length + this.problemsNotKept;
      this.write(this.problemsNotKept > 0 ? `Problem flows (the first ${count(problems.length)} of ${count(total)}), most severe first:\n` : 'Problem flows, most severe first:\n');
      for (const k of problems) this.write(`${k.text}\n`);
      if (this.problemsNotKept > 0) {
        const note = `… ${plural(this.problemsNotKept, 'more problem flow')} not shown (past ${count(KEEP_ALL)}, the first ${PER_GROUP} of each group, ${count(MAX_KEPT)} at most); --json lists every flow, --filter picks some.`;
        this.write(`${wrap(note, width).join('\n')}\n`);
      }
    }
    if (healthy.length > 0) {
      this.write(problems.length > 0 ? '\nOther flows:\n' : 'Other flows:\n');
      for (const k of healthy) this.write(`${k.text}\n`);
    }
  }

  /** "16 TCP flows: 9 with errors, 1 with warnings, 6 without problems (4 closed cleanly; 2 TLS sessions OK)." */
  private outcomeText(total: number): string {
    const n = this.flows;
    const head = this.opts.filtered ? `${plural(n, 'TCP flow')} of ${count(total)} match the filter` : plural(n, 'TCP flow');
    if (n === 0) return `${head}.`;
    const parts: string[] = [];
    if (this.worst.error) parts.push(`${count(this.worst.error)} with errors`);
    if (this.worst.warning) parts.push(`${count(this.worst.warning)} with warnings only`);
    const healthyCount = n - this.worst.error - this.worst.warning;
    if (healthyCount) {
      const kinds = [...this.healthy].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([kind, k]) => `${count(k)} ${kind}`);
      parts.push(`${count(healthyCount)} without problems (${kinds.join('; ')})`);
    }
    return `${head}: ${parts.join(', ')}.`;
  }

  /** The groups past MAX_GROUPS_SHOWN, one line per code: how many groups, flows and endpoints. */
  private otherGroupLines(rest: ProblemGroup[]): string[] {
    const byCode = new Map<string, { severity: Severity; groups: number; flows: number }>();
    for (const g of rest) {
      const c = byCode.get(g.code) ?? { severity: g.severity, groups: 0, flows: 0 };
      c.groups++;
      c.flows += g.flows;
      if (SEVERITY[g.severity] > SEVERITY[c.severity]) c.severity = g.severity;
      byCode.set(g.code, c);
    }
    const lines = wrap(`… and ${plural(rest.length, 'more group')} (${plural(rest.reduce((n, g) => n + g.flows, 0), 'flow')}):`, this.opts.width);
    const ordered = [...byCode].sort(([a, x], [b, y]) => SEVERITY[y.severity] - SEVERITY[x.severity] || y.flows - x.flows || (a < b ? -1 : 1));
    for (const [code, c] of ordered) {
      const text = `${code}: ${plural(c.flows, 'flow')} in ${plural(c.groups, 'group')} (one per endpoint)`;
      const line = wrap(text, this.opts.width, MARK[c.severity].padEnd(GROUP_INDENT), GROUP_INDENT);
      if (this.opts.color) line[0] = paint(true, COLOR[c.severity], MARK[c.severity]) + line[0].slice(MARK[c.severity].length);
      lines.push(...line);
    }
    return lines;
  }

  /** A group: severity and title, its codes, flows and times, then each fix (one already given above is referred to). */
  private groupLines(g: ProblemGroup, hinted: Map<string, ProblemGroup>): string[] {
    const { width, color } = this.opts;
    const mark = MARK[g.severity].padEnd(GROUP_INDENT);
    const lines = wrap(g.title, width, mark, GROUP_INDENT);
    if (color) lines[0] = paint(true, COLOR[g.severity], MARK[g.severity]) + lines[0].slice(MARK[g.severity].length);
    const codes = [g.code, ...g.also.map((a) => a.code)].join(', ');
    const more = g.flows > g.flowIds.length ? ', …' : '';
    const flows = g.flowIds.length > 0 ? `; flow${g.flowIds.length === 1 && !more ? '' : 's'} ${g.flowIds.join(', ')}${more}` : '';
    const withDate = g.firstTime !== null && g.lastTime !== null && Math.floor(g.firstTime / 86_400e6) !== Math.floor(g.lastTime / 86_400e6);
    const [from, to] = g.firstTime === null || g.lastTime === null ? [] : [clock(g.firstTime, withDate), clock(g.lastTime, withDate)];
    const times = from === undefined ? '' : from === to ? `; at ${from}` : `; ${from} to ${to}`;
    lines.push(...wrap(`${codes}${flows}${times}`, width, ' '.repeat(GROUP_INDENT), GROUP_INDENT));
    // Each fix once: codes said of the same flows often share their hint, or sentences of it (where
    // the server's address came from), which the group's later fixes leave out.
    const hints = [{ code: g.code, hint: g.hint }, ...g.also].filter((h, i, all) => h.hint && all.findIndex((o) => o.hint === h.hint) === i);
    const saidSentences = new Set<string>();
    for (const [i, h] of hints.entries()) {
      const label = i > 0 ? `Also ${h.code}:` : g.hintFlow !== null ? `Fix for flow ${g.hintFlow} (the others' differ):` : 'Fix:';
      const earlier = hinted.get(h.hint);
      const sentences = h.hint.split(SENTENCE_BREAK);
      const fresh = sentences.filter((x) => !saidSentences.has(x)).join(' ');
      for (const x of sentences) saidSentences.add(x);
      const text = earlier ? `as for ${earlier.code}${earlier.endpoint ? ` ${earlier.role === 'client' ? 'from' : 'at'} ${earlier.endpoint}` : ''} above.` : fresh;
      if (!earlier) hinted.set(h.hint, g);
      lines.push(...wrap(`${label} ${text}`, width, ' '.repeat(GROUP_INDENT), GROUP_INDENT));
    }
    return lines;
  }

  /** Kept flows in report order: most severe first, then by group (in summary order), then by id; healthy ones last, by id. */
  private orderedFlows(groups: ProblemGroup[]): KeptFlow[] {
    const rank = new Map<string, number>();
    groups.forEach((g, i) => {
      rank.set(`${g.code} ${g.endpoint}`, i);
      for (const a of g.also) rank.set(`${a.code} ${g.endpoint}`, i);
    });
    const at = (k: KeptFlow) => rank.get(k.key) ?? groups.length;
    return this.kept.sort((a, b) => b.rank - a.rank || at(a) - at(b) || a.id - b.id);
  }
}
