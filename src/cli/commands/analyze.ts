import { CaptureOpenError } from '../../capture/record.js';
import { analyzeFile, type AnalysisResult, type FlowResult } from '../../pipeline.js';
import { findSharedWebSocketKeys } from '../../diff/select.js';
import { renderSharedKeys } from '../../report/diff.js';
import { writeJson } from '../../report/json.js';
import { writeTable } from '../../report/table.js';
import { SEVERITY, type Severity } from '../../rules/verdict.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { parseFlowFilter } from '../filter.js';
import { useColor, type CliIo } from '../io.js';

export interface AnalyzeOptions {
  json?: boolean;
  onlyProblems?: boolean;
  flow?: string;
  filter?: string;
  failOn?: Severity;
  idleTimeout?: string;
}

export const FAIL_ON_CHOICES = ['error', 'warning', 'info'] as const;

export function selectFlows(result: AnalysisResult, opts: AnalyzeOptions): FlowResult[] {
  let flows = result.flows;
  if (opts.filter) {
    const pred = parseFlowFilter(opts.filter);
    flows = flows.filter(pred);
  }
  if (opts.flow !== undefined) {
    const id = Number(opts.flow);
    if (!Number.isInteger(id) || id < 1) throw new CliError(`--flow takes a flow id from the table (1, 2, ...), got '${opts.flow}'`, EXIT.USAGE);
    flows = flows.filter((f) => f.id === id);
    if (flows.length === 0) throw new CliError(`${result.capture.file}: no flow ${id} (the capture has ${result.flows.length} TCP flows)`, EXIT.USAGE);
  }
  if (opts.onlyProblems) flows = flows.filter((f) => f.verdicts.some((v) => v.severity !== 'info'));
  return flows;
}

export async function loadCapture(file: string, opts: AnalyzeOptions): Promise<AnalysisResult> {
  try {
    const idle = opts.idleTimeout !== undefined ? Number(opts.idleTimeout) : undefined;
    if (idle !== undefined && !(idle > 0)) throw new CliError(`--idle-timeout takes seconds > 0, got '${opts.idleTimeout}'`, EXIT.USAGE);
    return await analyzeFile(file, { idleTimeoutSec: idle, keepEvents: opts.flow !== undefined });
  } catch (err) {
    if (err instanceof CaptureOpenError) throw new CliError(err.message, EXIT.INPUT);
    throw err;
  }
}

export function exitFor(result: AnalysisResult, flows: FlowResult[], failOn: Severity | undefined): ExitCode {
  if (!failOn) return EXIT.OK;
  const threshold = SEVERITY[failOn];
  const all = [...result.verdicts, ...flows.flatMap((f) => f.verdicts)];
  return all.some((v) => SEVERITY[v.severity] >= threshold) ? EXIT.FINDINGS : EXIT.OK;
}

export async function runAnalyze(files: string[], opts: AnalyzeOptions, io: CliIo): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  if (opts.json && files.length > 1) io.stdout('{"schemaVersion":1,"files":[');
  // Only flows with a Sec-WebSocket-Key are kept across files, to find one upgrade seen on several hops.
  const keyed: Array<{ file: string; flows: FlowResult[] }> = [];
  for (const file of files) {
    const result = await loadCapture(file, opts);
    const flows = selectFlows(result, opts);
    if (files.length > 1) keyed.push({ file, flows: flows.filter((f) => f.app?.websocket?.key) });
    for (const d of result.capture.diagnostics) io.stderr(`${d.message}\n`);
    if (result.capture.diagnosticsDropped) io.stderr(`${file}: ${result.capture.diagnosticsDropped} more diagnostics not shown\n`);
    if (opts.json) {
      if (files.length > 1 && file !== files[0]) io.stdout(',');
      writeJson(result, flows, (s) => io.stdout(s));
    }
    else {
      if (files.length > 1) io.stdout(`\n== ${file}\n`);
      writeTable(result, flows, { color: useColor(io), width: io.columns }, (s) => io.stdout(s));
    }
    const c = exitFor(result, flows, opts.failOn);
    if (c > code) code = c;
  }
  const shared = files.length > 1 ? findSharedWebSocketKeys(keyed) : [];
  if (opts.json) io.stdout(files.length > 1 ? `],"sharedKeys":${JSON.stringify(shared)}}\n` : '\n');
  else if (shared.length) io.stdout(`\n${renderSharedKeys(shared)}\n`);
  return code;
}
