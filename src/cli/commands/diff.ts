import { existsSync } from 'node:fs';
import { compareFlows } from '../../diff/diff.js';
import { choosePair } from '../../diff/select.js';
import type { AnalysisResult, FlowResult } from '../../pipeline.js';
import { renderDiff, renderDiffJson } from '../../report/diff.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { parseFlowFilter } from '../filter.js';
import { useColor, type CliIo } from '../io.js';
import { loadCapture } from './analyze.js';
import { loadFlowPackets } from './flow.js';

// `tcpwhy diff GOOD BAD`: GOOD and BAD are FILE or FILE#ID.

export interface DiffOptions {
  json?: boolean;
  filterGood?: string;
  filterBad?: string;
  idleTimeout?: string;
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

function candidates(result: AnalysisResult, spec: FlowSpec, filter: string | undefined, option: string): FlowResult[] {
  if (result.flowCount === 0) throw new CliError(`${spec.file}: no TCP flow to compare`, EXIT.INPUT);
  let flows = result.flows;
  if (filter) flows = flows.filter(parseFlowFilter(filter));
  if (spec.id !== null) {
    const id = spec.id;
    const f = flows.find((x) => x.id === id);
    if (!f) throw new CliError(`${spec.file}: no flow ${id}${filter ? ` matching ${option} '${filter}'` : ''} (the capture has ${result.flowCount} TCP flows)`, EXIT.USAGE);
    return [f];
  }
  if (flows.length === 0) throw new CliError(`${spec.file}: no flow matches ${option} '${filter}' (the capture has ${result.flowCount} TCP flows)`, EXIT.USAGE);
  return flows;
}

export async function runDiff(goodText: string, badText: string, opts: DiffOptions, io: CliIo): Promise<ExitCode> {
  const goodSpec = parseFlowSpec(goodText);
  const badSpec = parseFlowSpec(badText);
  const sameFile = goodSpec.file === badSpec.file;
  // With both ids given only those two flows are kept. Otherwise every flow is a candidate: they are
  // kept without their dissector events, and the chosen pair is analysed again with them.
  const both = goodSpec.id !== null && badSpec.id !== null;
  const idsIn = (file: string) => (both ? [goodSpec, badSpec].filter((s) => s.file === file).map((s) => s.id!) : null);
  const goodResult = await loadCapture(goodSpec.file, opts.idleTimeout, idsIn(goodSpec.file), both);
  const badResult = sameFile ? goodResult : await loadCapture(badSpec.file, opts.idleTimeout, idsIn(badSpec.file), both);
  const goods = candidates(goodResult, goodSpec, opts.filterGood, '--filter-good');
  const bads = candidates(badResult, badSpec, opts.filterBad, '--filter-bad');
  let pair = choosePair(goods, bads, sameFile);
  if (!both) {
    const [goodId, badId] = [pair.good.id, pair.bad.id];
    const withEvents = async (file: string) => loadCapture(file, opts.idleTimeout, sameFile ? [goodId, badId] : [file === goodSpec.file ? goodId : badId]);
    const goodAgain = await withEvents(goodSpec.file);
    const badAgain = sameFile ? goodAgain : await withEvents(badSpec.file);
    pair = { ...pair, good: goodAgain.flows.find((f) => f.id === goodId)!, bad: badAgain.flows.find((f) => f.id === badId)! };
  }
  const [goodPackets, badPackets] = [await loadFlowPackets(goodSpec.file, pair.good), await loadFlowPackets(badSpec.file, pair.bad)];
  const d = compareFlows(
    { file: goodSpec.file, flow: pair.good, packets: goodPackets.packets, chosen: pair.goodReason, candidates: goods.length },
    { file: badSpec.file, flow: pair.bad, packets: badPackets.packets, chosen: pair.badReason, candidates: bads.length },
  );
  io.stdout(`${opts.json ? renderDiffJson(d) : renderDiff(d, { color: useColor(io), width: io.columns })}\n`);
  return EXIT.OK;
}
