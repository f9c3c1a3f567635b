import { readCaptureFileSync } from '../../capture/open.js';
import { FlowPacketCollector, type FlowLocation } from '../../diff/packets.js';
import { PacketDecoder } from '../../decode/decoder.js';
import { Analyzer, type AnalyzerOptions, type FlowResult } from '../../pipeline.js';
import { flowVerdictKey, isProblem, ProblemGrouper, type ProblemGroup } from '../../report/groups.js';
import { renderAnalyzeHtml, TimelineCollector, type FileReport, type LadderInput, type LadderSvgOptions } from '../../report/html.js';
import { SEVERITY } from '../../rules/verdict.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { parseFlowFilter } from '../filter.js';
import { outputFormatOf } from '../format.js';
import { refuseStandardInput, writeHtmlReport, type CliIo } from '../io.js';
import { exitFor, filesAndCaptureFilter, flowIdOf, memcapOf, readable, reportDiagnostics, slowThresholdsOf, streamCapture, type AnalyzeOptions } from './analyze.js';
import type { CaptureFilterSpec } from '../capture-filter.js';
import { parseMaxLines } from './flow.js';

// `analyze FILE... --html OUT`: the capture is read once for the summary, the groups and the
// timeline (keeping nothing per flow but three numbers), then once more for the few flows whose
// ladders are drawn, with their dissector events and their packets.

/** Ladders drawn per file at most: the first flow of each problem group, most severe groups first. */
const MAX_LADDERS = 20;
/** Groups whose candidate flow is kept; a group first seen beyond them gets no ladder. */
const MAX_CANDIDATE_GROUPS = 5000;

export interface HtmlAnalyzeOptions extends AnalyzeOptions {
  html: string;
  maxLines?: string;
}

/**
 * The flow with the lowest id of each problem group so far (the one whose ladder the report draws),
 * at most MAX_CANDIDATE_GROUPS groups: the flows themselves are not kept otherwise.
 */
class LadderCandidates {
  private readonly byKey = new Map<string, LadderFlow>();

  add(f: FlowResult): void {
    for (const v of f.verdicts) {
      if (!isProblem(v)) continue;
      const { key } = flowVerdictKey(f, v);
      const held = this.byKey.get(key);
      if (held ? f.id < held.id : this.byKey.size < MAX_CANDIDATE_GROUPS) this.byKey.set(key, ladderFlow(f));
    }
  }

  /** The flow to draw for each group of flow verdicts, in the groups' order (most severe first), at most MAX_LADDERS. */
  choose(groups: readonly ProblemGroup[], asked: LadderFlow | null): LadderFlow[] {
    const chosen: LadderFlow[] = asked ? [asked] : [];
    for (const g of groups) {
      if (chosen.length >= MAX_LADDERS) break;
      const f = g.verdict ? undefined : this.byKey.get(g.key);
      if (f && !chosen.includes(f)) chosen.push(f);
    }
    return chosen;
  }
}

/** A flow to draw, as little of it as finding its packets again takes (the judged flow comes from the second reading). */
type LadderFlow = FlowLocation & { id: number };

function ladderFlow(f: FlowResult): LadderFlow {
  return {
    id: f.id,
    clientIp: f.clientIp,
    serverIp: f.serverIp,
    clientPort: f.clientPort,
    serverPort: f.serverPort,
    ipVersion: f.ipVersion,
    firstPacket: f.firstPacket,
    lastPacket: f.lastPacket,
    icmp: f.icmp.map((i) => ({ no: i.no })),
    clientSide: { windowScale: f.clientSide.windowScale },
    serverSide: { windowScale: f.serverSide.windowScale },
  };
}

export function runAnalyzeHtml(args: string[], opts: HtmlAnalyzeOptions, io: CliIo): ExitCode {
  if (opts.detail) throw new CliError('--detail widens the JSON formats (json, jsonl), not the HTML report', EXIT.USAGE);
  const format = outputFormatOf(opts);
  const { files, bpf } = filesAndCaptureFilter(args, opts);
  if (format !== 'table') throw new CliError(`--html and --format ${format} write different reports: give one of them`, EXIT.USAGE);
  if (opts.zeekVerdicts !== undefined) throw new CliError('--zeek-verdicts goes with the Zeek formats, not --html: give one of them', EXIT.USAGE);
  refuseStandardInput(files, '--html reads the capture a second time for the ladders');
  const ladderOpts: LadderSvgOptions = { maxLines: parseMaxLines(opts.maxLines) };
  const pred = opts.filter ? parseFlowFilter(opts.filter) : () => true;
  const only = opts.flow !== undefined ? flowIdOf(opts.flow) : null;
  // Both readings analyse alike, so the second gives the first's flows and ids. Neither keeps every
  // HTTP exchange: the page draws none of them, and the verdicts are the same without.
  const analysis = { slow: slowThresholdsOf(opts), memcapBytes: memcapOf(opts), keepExchanges: false };
  const threshold = opts.failOn ? SEVERITY[opts.failOn] : Infinity;
  let failed = false;
  const reports: FileReport[] = [];
  for (const file of files) {
    const timeline = new TimelineCollector();
    const grouper = new ProblemGrouper();
    const candidates = new LadderCandidates();
    let asked: LadderFlow | null = null;
    let shown = 0;
    let problemFlows = 0;
    const result = streamCapture(
      file,
      opts.idleTimeout,
      (f) => {
        if (!pred(f) || (only !== null && f.id !== only)) return;
        const problem = f.verdicts.some(isProblem);
        if (opts.onlyProblems && !problem) return;
        shown++;
        if (problem) problemFlows++;
        if (f.id === only) asked = ladderFlow(f);
        timeline.add(f);
        grouper.add(f);
        candidates.add(f);
        if (f.verdicts.some((v) => SEVERITY[v.severity] >= threshold)) failed = true;
      },
      analysis,
      { bpf, io, quiet: opts.quiet },
    );
    reportDiagnostics(file, result, io);
    if (only !== null && !asked) throw new CliError(`${file}: no flow ${only} (the capture has ${result.flowCount} TCP flows)`, EXIT.USAGE);
    if (exitFor(result, [], opts.failOn) === EXIT.FINDINGS) failed = true;
    const groups = grouper.groups(result.verdicts.filter(isProblem));
    const ladders = readLadders(file, candidates.choose(groups, asked), opts, analysis, bpf);
    reports.push({ capture: result.capture, verdicts: result.verdicts, flowCount: result.flowCount, shownFlows: shown, groups, timeline, ladders, problemFlows });
  }
  const ladders = reports.reduce((n, r) => n + r.ladders.length, 0);
  const flows = reports.reduce((n, r) => n + r.shownFlows, 0);
  writeHtmlReport(opts.html, renderAnalyzeHtml(reports, ladderOpts), `${flows} flows, ${ladders} ladders`, io);
  return failed ? EXIT.FINDINGS : EXIT.OK;
}

/**
 * Reads `file` once more: the chosen flows judged again with their dissector events (the same
 * analysis gives the same flows and ids) and their packets collected, in one pass.
 */
function readLadders(file: string, chosen: LadderFlow[], opts: AnalyzeOptions, analysis: Pick<AnalyzerOptions, 'slow' | 'memcapBytes' | 'keepExchanges'>, bpf: CaptureFilterSpec | null): LadderInput[] {
  if (!chosen.length) return [];
  const ids = new Set(chosen.map((f) => f.id));
  const judged = new Map<number, FlowResult>();
  const idle = opts.idleTimeout !== undefined ? Number(opts.idleTimeout) : undefined;
  // The same capture filter leaves out the same packets: the same flows, ids and ladders.
  const analyzer = new Analyzer({
    file,
    idleTimeoutSec: idle,
    ...analysis,
    captureFilter: bpf?.filter() ?? null,
    keepEvents: false,
    keepEventsFor: (id) => ids.has(id),
    retainFlows: false,
    onFlowJudged: (f) => {
      if (ids.has(f.id)) judged.set(f.id, f);
    },
  });
  const collectors = chosen.map((f) => new FlowPacketCollector(f));
  // One decoder serves every collector: each record is decoded once for them all.
  const decoder = new PacketDecoder();
  const last = Math.max(...collectors.map((c) => c.lastNo));
  const packetFilter = bpf?.filter() ?? null;
  const info = readable(bpf, () => readCaptureFileSync(file, (rec) => {
    analyzer.onRecord(rec);
    if (rec.no > last || (packetFilter && !packetFilter.accepts(rec))) return;
    const kind = decoder.decode(rec);
    for (const c of collectors) c.onDecoded(rec, kind, decoder.view);
  }));
  analyzer.finish(info);
  // The same analysis gives the same flows: each chosen one is judged again (the guard only keeps a surprise from failing the report).
  return chosen.flatMap((f, i) => {
    const flow = judged.get(f.id);
    return flow ? [{ file, flow, packets: collectors[i].packets, dropped: collectors[i].dropped }] : [];
  });
}
