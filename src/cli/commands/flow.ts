import { CaptureOpenError } from '../../capture/record.js';
import { STDIN_PATH } from '../../capture/open.js';
import { readFlowPackets, type FlowPackets } from '../../diff/packets.js';
import type { FlowResult } from '../../pipeline.js';
import { flowToJson } from '../../report/json.js';
import { DEFAULT_MAX_LINES, renderLadder } from '../../report/ladder.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { useColor, type CliIo } from '../io.js';
import { exitFor, flowIdOf, loadCapture, reportDiagnostics, selectFlows, slowThresholdsOf, widthOf, type AnalyzeOptions, type SlowOptions } from './analyze.js';

// `tcpwhy flow FILE ID`: the ladder of one flow (also `tcpwhy analyze FILE --flow ID`).

export interface FlowCommandOptions extends SlowOptions {
  maxLines?: string;
  json?: boolean;
  idleTimeout?: string;
  failOn?: AnalyzeOptions['failOn'];
  width?: string;
}

export function parseMaxLines(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_LINES;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--max-lines takes a whole number of lines (0: all), got '${text}'`, EXIT.USAGE);
  return n;
}

/** `analyze FILE... --flow ID` without --json: the ladder of that flow in each file. */
export async function runAnalyzeLadder(files: string[], opts: AnalyzeOptions & { maxLines?: string }, io: CliIo): Promise<ExitCode> {
  const maxLines = parseMaxLines(opts.maxLines);
  let code: ExitCode = EXIT.OK;
  for (const file of files) {
    const result = await loadCapture(file, opts.idleTimeout, [flowIdOf(opts.flow!)], slowThresholdsOf(opts));
    reportDiagnostics(file, result, io);
    const flows = selectFlows(result, opts);
    if (files.length > 1) io.stdout(`\n== ${file}\n`);
    for (const flow of flows) io.stdout(`${await ladderText(file, flow, maxLines, io, widthOf(opts, io))}\n`);
    if (flows.length === 0) io.stdout('No TCP flows to show.\n');
    const c = exitFor(result, flows, opts.failOn);
    if (c > code) code = c;
  }
  return code;
}

/** Reads the flow's packets again from `file` (the analysis keeps summaries only). */
export async function loadFlowPackets(file: string, flow: FlowResult): Promise<FlowPackets> {
  if (file === STDIN_PATH) throw new CliError('the ladder reads the capture a second time: give a file, not standard input', EXIT.USAGE);
  try {
    return await readFlowPackets(file, flow);
  } catch (err) {
    if (err instanceof CaptureOpenError) throw new CliError(err.message, EXIT.INPUT);
    throw err;
  }
}

export async function ladderText(file: string, flow: FlowResult, maxLines: number, io: CliIo, width: number): Promise<string> {
  const { packets, dropped } = await loadFlowPackets(file, flow);
  return renderLadder(flow, packets, { color: useColor(io), maxLines, file, dropped, width });
}

export async function runFlow(file: string, idText: string, opts: FlowCommandOptions, io: CliIo): Promise<ExitCode> {
  const maxLines = parseMaxLines(opts.maxLines);
  const width = widthOf(opts, io);
  const result = await loadCapture(file, opts.idleTimeout, [flowIdOf(idText)], slowThresholdsOf(opts));
  reportDiagnostics(file, result, io);
  const [flow] = selectFlows(result, { flow: idText });
  const { packets, dropped } = await loadFlowPackets(file, flow);
  if (opts.json) {
    const doc = {
      schemaVersion: 1,
      file,
      flow: flowToJson(flow),
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
