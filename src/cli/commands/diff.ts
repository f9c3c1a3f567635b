import { existsSync } from 'node:fs';
import { compareFlows } from '../../diff/diff.js';
import { choosePair, isHealthy, MAX_CANDIDATES, type CandidateCounts } from '../../diff/select.js';
import type { FlowResult } from '../../pipeline.js';
import { renderDiff, renderDiffJson } from '../../report/diff.js';
import { renderDiffHtml } from '../../report/html.js';
import { DEFAULT_MAX_LINES } from '../../report/ladder.js';
import { SEVERITY, type Severity } from '../../rules/verdict.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { parseFlowFilter } from '../filter.js';
import { captureFilterOf } from '../capture-filter.js';
import { refuseStandardInput, useColor, writeHtmlReport, type CliIo } from '../io.js';
import { loadCapture, reportDiagnostics, streamCapture, widthOf, type Reading } from './analyze.js';
import { loadFlowPackets } from './flow.js';

// `tcpwhy diff GOOD BAD`: GOOD and BAD are FILE or FILE#ID.

export interface DiffOptions {
  json?: boolean;
  /** Write the comparison as an HTML page to this file. */
  html?: string;
  filterGood?: string;
  filterBad?: string;
  idleTimeout?: string;
  /** Exit 1 when the BAD flow's own verdicts reach this severity: the failure being compared is still there. */
  failOn?: Severity;
  /** The capture filter (pcap-filter syntax) applied to both captures. */
  bpf?: string;
  quiet?: boolean;
  /** Columns to fit (default: the terminal's, 100 when piped). */
  width?: string;
}

export interface FlowSpec {
  file: string;
  id: number | null;
}

/** "capture.pcap#3" -> file and flow 3; a file whose own name ends in #N wins over the split. */
export function parseFlowSpec(text: string, exists: (path: string) => boolean = existsSync): FlowSpec {
  const m = /^(.+)#([^#]*)$/.exec(text);
  if (!m || exists(text)) return { file: text, id: null };
  const id = Number(m[2]);
  if (!/^\d+$/.test(m[2]) || id < 1) throw new CliError(`'${text}': the flow id after # must be a flow number from the table (1, 2, ...)`, EXIT.USAGE);
  return { file: m[1], id };
}

/** The flows one side may be chosen from: its named flow alone, or the first ones of each kind. */
interface SideCandidates {
  flows: FlowResult[];
  counts: CandidateCounts;
}

/**
 * One side's candidates, gathered as the capture streams by: the flow its spec names (with its
 * dissector events), or else, of the flows passing `filter`, the MAX_CANDIDATES first (by id) of
 * the healthy ones and of the failed ones, with how many there are of each. choosePair looks at no
 * more, so a capture of any length takes no more memory than `analyze`.
 */
function gatherSide(
  spec: FlowSpec,
  filter: string | undefined,
  option: string,
  idleTimeout: string | undefined,
  reading: Reading,
  reported: Set<string>,
): SideCandidates {
  const io = reading.io;
  const pred = filter ? parseFlowFilter(filter) : () => true;
  const healthy: FlowResult[] = [];
  const failed: FlowResult[] = [];
  const counts: CandidateCounts = { all: 0, healthy: 0, failed: 0 };
  let named: FlowResult | null = null;
  const result = streamCapture(
    spec.file,
    idleTimeout,
    (f) => {
      if (!pred(f)) return;
      if (spec.id !== null) {
        if (f.id === spec.id) named = f;
        return;
      }
      counts.all++;
      if (isHealthy(f)) {
        counts.healthy++;
        keepFirst(healthy, f);
      } else {
        counts.failed++;
        keepFirst(failed, f);
      }
    },
    spec.id !== null ? { keepEventsFor: (id) => id === spec.id } : {},
    reading,
  );
  // A file's diagnostics once, before any complaint about its flows (they may be past a corrupt record).
  if (!reported.has(spec.file)) {
    reported.add(spec.file);
    reportDiagnostics(spec.file, result, io);
  }
  if (result.flowCount === 0) throw new CliError(`${spec.file}: no TCP flow to compare`, EXIT.INPUT);
  if (spec.id !== null) {
    const f: FlowResult | null = named;
    if (!f) throw new CliError(`${spec.file}: no flow ${spec.id}${filter ? ` matching ${option} '${filter}'` : ''} (the capture has ${result.flowCount} TCP flows)`, EXIT.USAGE);
    return { flows: [f], counts: { all: 1, healthy: isHealthy(f) ? 1 : 0, failed: isHealthy(f) ? 0 : 1 } };
  }
  if (counts.all === 0) throw new CliError(`${spec.file}: no flow matches ${option} '${filter}' (the capture has ${result.flowCount} TCP flows)`, EXIT.USAGE);
  return { flows: [...firstByIds(healthy), ...firstByIds(failed)].sort(byId), counts };
}

const byId = (a: FlowResult, b: FlowResult) => a.id - b.id;

/** Flows arrive in the order they end: keep the list near MAX_CANDIDATES, lowest ids first. */
function keepFirst(list: FlowResult[], f: FlowResult): void {
  list.push(f);
  if (list.length >= 2 * MAX_CANDIDATES) firstByIds(list);
}

function firstByIds(list: FlowResult[]): FlowResult[] {
  list.sort(byId);
  if (list.length > MAX_CANDIDATES) list.length = MAX_CANDIDATES;
  return list;
}

export function runDiff(goodText: string, badText: string, filterWords: string[], opts: DiffOptions, io: CliIo): ExitCode {
  const reading: Reading = { bpf: captureFilterOf(filterWords, opts.bpf), io, quiet: opts.quiet };
  if (opts.html !== undefined && opts.json) throw new CliError('--html and --json write different reports: give one of them', EXIT.USAGE);
  const goodSpec = parseFlowSpec(goodText);
  const badSpec = parseFlowSpec(badText);
  refuseStandardInput([goodSpec.file, badSpec.file], 'diff reads each capture more than once (flows, then their packets)', 'files');
  const sameFile = goodSpec.file === badSpec.file;
  const reported = new Set<string>();
  const goods = gatherSide(goodSpec, opts.filterGood, '--filter-good', opts.idleTimeout, reading, reported);
  // The same file, no flow ids and the same filter: one pass serves both sides.
  const sameCandidates = sameFile && goodSpec.id === null && badSpec.id === null && opts.filterGood === opts.filterBad;
  const bads = sameCandidates ? goods : gatherSide(badSpec, opts.filterBad, '--filter-bad', opts.idleTimeout, reading, reported);
  let pair = choosePair(goods.flows, bads.flows, sameFile, { goods: goods.counts, bads: bads.counts });
  // A chosen flow not named by id was kept without its dissector events: analyse it again with
  // them (both in one pass when they come from one file).
  const [good, bad] = [pair.good as FlowResult, pair.bad as FlowResult];
  const reload = (file: string, ids: number[]) => loadCapture(file, opts.idleTimeout, ids, {}, reading).flows;
  if (goodSpec.id === null && badSpec.id === null && sameFile) {
    const flows = reload(goodSpec.file, [good.id, bad.id]);
    pair = { ...pair, good: flows.find((f) => f.id === good.id)!, bad: flows.find((f) => f.id === bad.id)! };
  } else {
    if (goodSpec.id === null) pair = { ...pair, good: reload(goodSpec.file, [good.id])[0]! };
    if (badSpec.id === null) pair = { ...pair, bad: reload(badSpec.file, [bad.id])[0]! };
  }
  const [goodPackets, badPackets] = [loadFlowPackets(goodSpec.file, pair.good, reading), loadFlowPackets(badSpec.file, pair.bad, reading)];
  const d = compareFlows(
    { file: goodSpec.file, flow: pair.good, packets: goodPackets.packets, chosen: pair.goodReason, candidates: goods.counts.all },
    { file: badSpec.file, flow: pair.bad, packets: badPackets.packets, chosen: pair.badReason, candidates: bads.counts.all },
  );
  if (opts.html !== undefined) writeHtmlReport(opts.html, renderDiffHtml(d, { maxLines: DEFAULT_MAX_LINES }), `GOOD flow ${d.good.flow.id} against BAD flow ${d.bad.flow.id}`, io);
  else io.stdout(`${opts.json ? renderDiffJson(d) : renderDiff(d, { color: useColor(io), width: widthOf(opts, io) })}\n`);
  const threshold = opts.failOn ? SEVERITY[opts.failOn] : Infinity;
  return pair.bad.verdicts.some((v) => SEVERITY[v.severity] >= threshold) ? EXIT.FINDINGS : EXIT.OK;
}
