import { readFlowPackets, type FlowPackets } from '../../diff/packets.js';
import type { FlowResult } from '../../pipeline.js';
import { flowToJson, HintTable, SCHEMA_VERSION } from '../../report/json.js';
import { renderFlowHtml } from '../../report/html.js';
import { DEFAULT_MAX_LINES, renderLadder } from '../../report/ladder.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { refuseStandardInput, useColor, writeHtmlReport, type CliIo } from '../io.js';
import { captureFilterOf } from '../capture-filter.js';
import { exitFor, filesAndCaptureFilter, flowIdOf, loadCapture, readable, reportDiagnostics, selectFlows, slowThresholdsOf, widthOf, withProgress, type AnalyzeOptions, type Reading, type SlowOptions } from './analyze.js';

// `tcpwhy flow FILE ID`: the ladder of one flow (also `tcpwhy analyze FILE --flow ID`).

export interface FlowCommandOptions extends SlowOptions {
  maxLines?: string;
  json?: boolean;
  /** Write the ladder as an HTML page to this file. */
  html?: string;
  idleTimeout?: string;
  failOn?: AnalyzeOptions['failOn'];
  bpf?: string;
  quiet?: boolean;
  width?: string;
}

export function parseMaxLines(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_LINES;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--max-lines takes a whole number of lines (0: all), got '${text}'`, EXIT.USAGE);
  return n;
}

/** Why a ladder refuses standard input: it reads the flows, then the flow's packets. */
const LADDER_READS_TWICE = 'the ladder reads the capture a second time';

/** `analyze FILE... --flow ID` without --json: the ladder of that flow in each file. */
export function runAnalyzeLadder(args: string[], opts: AnalyzeOptions & { maxLines?: string }, io: CliIo): ExitCode {
  const maxLines = parseMaxLines(opts.maxLines);
  const { files, bpf } = filesAndCaptureFilter(args, opts);
  refuseStandardInput(files, LADDER_READS_TWICE);
  const reading: Reading = { bpf, io, quiet: opts.quiet };
  let code: ExitCode = EXIT.OK;
  for (const file of files) {
    const result = loadCapture(file, opts.idleTimeout, [flowIdOf(opts.flow!)], slowThresholdsOf(opts), reading);
    reportDiagnostics(file, result, io);
    const flows = selectFlows(result, opts);
    if (files.length > 1) io.stdout(`\n== ${file}\n`);
    for (const flow of flows) io.stdout(`${ladderText(file, flow, maxLines, reading, widthOf(opts, io))}\n`);
    if (flows.length === 0) io.stdout('No TCP flows to show.\n');
    const c = exitFor(result, flows, opts.failOn);
    if (c > code) code = c;
  }
  return code;
}

/** Reads the flow's packets again from `file` (the analysis keeps summaries only); never standard input, which its callers refuse. */
export function loadFlowPackets(file: string, flow: FlowResult, reading: Reading): FlowPackets {
  const { bpf } = reading;
  return readable(bpf, () => withProgress(file, reading, (read) => readFlowPackets(file, flow, undefined, bpf?.filter() ?? null, read)));
}

function ladderText(file: string, flow: FlowResult, maxLines: number, reading: Reading, width: number): string {
  const { packets, dropped } = loadFlowPackets(file, flow, reading);
  return renderLadder(flow, packets, { color: useColor(reading.io), maxLines, file, dropped, width });
}

export function runFlow(file: string, idText: string, filterWords: string[], opts: FlowCommandOptions, io: CliIo): ExitCode {
  refuseStandardInput([file], LADDER_READS_TWICE);
  const maxLines = parseMaxLines(opts.maxLines);
  const width = widthOf(opts, io);
  const reading: Reading = { bpf: captureFilterOf(filterWords, opts.bpf), io, quiet: opts.quiet };
  const result = loadCapture(file, opts.idleTimeout, [flowIdOf(idText)], slowThresholdsOf(opts), reading);
  reportDiagnostics(file, result, io);
  const [flow] = selectFlows(result, { flow: idText });
  const { packets, dropped } = loadFlowPackets(file, flow, reading);
  if (opts.html !== undefined) {
    if (opts.json) throw new CliError('--html and --json write different reports: give one of them', EXIT.USAGE);
    writeHtmlReport(opts.html, renderFlowHtml(result.capture, { file, flow, packets, dropped }, { maxLines }), `flow ${flow.id}, ${packets.length} packets`, io);
  } else if (opts.json) {
    const hints = new HintTable();
    const doc = {
      schemaVersion: SCHEMA_VERSION,
      file,
      flow: flowToJson(flow, { detail: true }, hints),
      hints,
      packets: packets.map((p) => ({
        no: p.no,
        time: p.ts / 1e6,
        from: p.from === 0 ? 'client' : 'server',
        kind: p.kind === 0 ? 'tcp' : 'icmp',
        flags: p.flags,
        seq: p.relSeq,
        ack: p.relAck,
        len: p.len,
        window: p.window,
      })),
      packetsDropped: dropped,
    };
    io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  } else io.stdout(`${renderLadder(flow, packets, { color: useColor(io), maxLines, file, dropped, width })}\n`);
  return exitFor(result, [flow], opts.failOn);
}
