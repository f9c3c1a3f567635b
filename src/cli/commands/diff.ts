import { existsSync } from 'node:fs';
import { compareFlows } from '../../diff/diff.js';
import { choosePair } from '../../diff/select.js';
import type { AnalysisResult, FlowResult } from '../../pipeline.js';
import { renderDiff, renderDiffJson } from '../../report/diff.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { parseFlowFilter } from '../filter.js';
import { useColor, type CliIo } from '../io.js';
import { analyzeForLadder, loadFlowPackets } from './flow.js';

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
  if (result.flows.length === 0) throw new CliError(`${spec.file}: no TCP flow to compare`, EXIT.INPUT);
  let flows = result.flows;
  if (filter) flows = flows.filter(parseFlowFilter(filter));
  if (spec.id !== null) {
    const id = spec.id;
    const f = flows.find((x) => x.id === id);
    if (!f) throw new CliError(`${spec.file}: no flow ${id}${filter ? ` matching ${option} '${filter}'` : ''} (the capture has ${result.flows.length} TCP flows)`, EXIT.USAGE);
    return [f];
  }
  if (flows.length === 0) throw new CliError(`${spec.file}: no flow matches ${option} '${filter}' (the capture has ${result.flows.length} TCP flows)`, EXIT.USAGE);
  return flows;
}

export async function runDiff(goodText: string, badText: string, opts: DiffOptions, io: CliIo): Promise<ExitCode> {
  const goodSpec = parseFlowSpec(goodText);
  const badSpec = parseFlowSpec(badText);
  const goodResult = await analyzeForLadder(goodSpec.file, opts.idleTimeout);
  const badResult = goodSpec.file === badSpec.file ? goodResult : await analyzeForLadder(badSpec.file, opts.idleTimeout);
  const goods = candidates(goodResult, goodSpec, opts.filterGood, '--filter-good');
  const bads = candidates(badResult, badSpec, opts.filterBad, '--filter-bad');
  const pair = choosePair(goods, bads, goodSpec.file === badSpec.file);
  const [goodPackets, badPackets] = [await loadFlowPackets(goodSpec.file, pair.good), await loadFlowPackets(badSpec.file, pair.bad)];
  const d = compareFlows(
    { file: goodSpec.file, flow: pair.good, packets: goodPackets.packets, chosen: pair.goodReason, candidates: goods.length },
    { file: badSpec.file, flow: pair.bad, packets: badPackets.packets, chosen: pair.badReason, candidates: bads.length },
  );
  io.stdout(`${opts.json ? renderDiffJson(d) : renderDiff(d, { color: useColor(io), width: io.columns })}\n`);
  return EXIT.OK;
}
