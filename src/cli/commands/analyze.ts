import { readCaptureFile } from '../../capture/open.js';
import { CaptureOpenError, type CaptureInfo } from '../../capture/record.js';
import { Analyzer, INTERNAL, analyzeFlows, errorLine, streamFlows, type AnalysisResult, type AnalyzerOptions, type FlowResult } from '../../pipeline.js';
import { findSharedWebSocketKeys } from '../../diff/select.js';
import { renderSharedKeys } from '../../report/diff.js';
import { JsonFlowStream, writeJson } from '../../report/json.js';
import { TableFlowStream, writeTable } from '../../report/table.js';
import { SEVERITY, type Severity } from '../../rules/verdict.js';
import type { SlowThresholds } from '../../rules/timing-rules.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { DEFAULT_MEMCAP_BYTES, MiB, boundHeapGrowth, parseSize } from '../../flow/memcap.js';
import { parseFlowFilter, type FlowPredicate } from '../filter.js';
import { TextBatch, useColor, type CliIo } from '../io.js';

/** Floors of the slow-* verdicts, in milliseconds as typed. */
export interface SlowOptions {
  slowHandshake?: string;
  slowServer?: string;
  slowClient?: string;
}

/** --memcap SIZE (analyze, live). */
export interface MemcapOption {
  memcap?: string;
}

export interface AnalyzeOptions extends SlowOptions, MemcapOption {
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
    const id = flowIdOf(opts.flow);
    flows = flows.filter((f) => f.id === id);
    if (flows.length === 0) throw new CliError(`${result.capture.file}: no flow ${id} (the capture has ${result.flowCount} TCP flows)`, EXIT.USAGE);
  }
  if (opts.onlyProblems) flows = flows.filter((f) => f.verdicts.some((v) => v.severity !== 'info'));
  return flows;
}

/** A flow id as given on the command line (--flow ID, flow FILE ID). */
export function flowIdOf(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id < 1) throw new CliError(`--flow takes a flow id from the table (1, 2, ...), got '${text}'`, EXIT.USAGE);
  return id;
}

/**
 * Analyses `file` keeping only the flows `ids` names, with their dissector events (for a ladder or
 * a diff). Other flows are judged and dropped as they end, so picking one flow out of a long
 * capture takes no more memory than `analyze`.
 */
export async function loadCapture(file: string, idleTimeout: string | undefined, ids: readonly number[], slow: Partial<SlowThresholds> = {}, memcapBytes?: number): Promise<AnalysisResult> {
  const idleTimeoutSec = idleTimeoutOf({ idleTimeout });
  return readable(() => analyzeFlows(file, (id) => ids.includes(id), { idleTimeoutSec, slow, memcapBytes }));
}

/** Analyses `file` handing each flow to `onFlow` as it is judged, keeping none (see streamFlows). */
export async function streamCapture(
  file: string,
  idleTimeout: string | undefined,
  onFlow: (flow: FlowResult) => void,
  opts: Partial<AnalyzerOptions> = {},
): Promise<AnalysisResult> {
  const idleTimeoutSec = idleTimeoutOf({ idleTimeout });
  return readable(() => streamFlows(file, onFlow, { keepEvents: false, ...opts, idleTimeoutSec }));
}

/** An unreadable capture is a command-line error (exit 3). */
async function readable<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
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
  const pred = opts.filter ? parseFlowFilter(opts.filter) : () => true; // a bad filter is refused before any output
  boundHeapGrowth();
  let code: ExitCode = EXIT.OK;
  const several = opts.json && files.length > 1;
  if (several) io.stdout('{"schemaVersion":1,"files":[');
  // Only flows with a Sec-WebSocket-Key are kept across files, to find one upgrade seen on several hops.
  const keyed: Array<{ file: string; flows: FlowResult[] }> = [];
  let written = 0;
  for (const file of files) {
    if (files.length > 1 && !opts.json) io.stdout(`\n== ${file}\n`);
    // Flows with a Sec-WebSocket-Key are kept only when several files are compared.
    const withKey: FlowResult[] | null = files.length > 1 ? [] : null;
    // Each file's document is preceded by a comma once the first one was written.
    const out = several && written > 0 ? separatedIo(io, ',') : io;
    let c: ExitCode;
    try {
      c = opts.flow === undefined ? await streamOne(file, opts, pred, out, withKey) : await retainedOne(file, opts, out, withKey);
    } catch (err) {
      // The files' array is closed before the error ends the run: stdout stays one whole document.
      if (several) io.stdout(`],"sharedKeys":[]}\n`);
      throw err;
    }
    written++;
    if (withKey) keyed.push({ file, flows: withKey });
    if (c > code) code = c;
  }
  const shared = files.length > 1 ? findSharedWebSocketKeys(keyed) : [];
  if (opts.json) io.stdout(files.length > 1 ? `],"sharedKeys":${JSON.stringify(shared)}}\n` : '\n');
  else if (shared.length) io.stdout(`\n${renderSharedKeys(shared)}\n`);
  return code;
}

/**
 * Analyses one file and writes each flow as soon as it is judged (in the order flows end), keeping
 * nothing per flow (the capture-level rules keep bounded state of their own): memory stays flat
 * however many flows the capture holds.
 */
async function streamOne(file: string, opts: AnalyzeOptions, pred: FlowPredicate, io: CliIo, withKey: FlowResult[] | null): Promise<ExitCode> {
  const idle = idleTimeoutOf(opts);
  const batch = new TextBatch((s) => io.stdout(s), io.isTTY ? 0 : undefined);
  const out = opts.json ? new JsonFlowStream(batch.write) : new TableFlowStream({ color: useColor(io), width: io.columns }, batch.write);
  const threshold = opts.failOn ? SEVERITY[opts.failOn] : Infinity;
  let failed = false;
  const analyzer = new Analyzer({
    file,
    idleTimeoutSec: idle,
    slow: slowThresholdsOf(opts),
    memcapBytes: memcapOf(opts),
    keepEvents: false,
    retainFlows: false,
    onFlowJudged: (f) => {
      if (!pred(f)) return;
      if (opts.onlyProblems && !f.verdicts.some((v) => v.severity !== 'info')) return;
      out.flow(f); // first: a flow that cannot be written counts for nothing
      if (f.verdicts.some((v) => SEVERITY[v.severity] >= threshold)) failed = true;
      if (withKey && f.app?.websocket?.key) withKey.push(f);
    },
  });
  let info: CaptureInfo;
  // An internal error while reading: what was read is still analysed and reported, then the error ends the run.
  let readFailure: unknown = null;
  try {
    info = await readCaptureFile(file, analyzer.onRecord);
  } catch (err) {
    if (err instanceof CaptureOpenError) {
      batch.flush(); // nothing was read, so nothing of the report was written
      throw new CliError(err.message, EXIT.INPUT);
    }
    readFailure = err;
    info = interruptedInfo(file, err);
  }
  try {
    const result = analyzer.finish(info);
    batch.flush();
    reportDiagnostics(file, result, io);
    out.end(result);
    batch.flush();
    if (result.verdicts.some((v) => SEVERITY[v.severity] >= threshold)) failed = true;
  } catch (err) {
    // Whatever fails after the report started, the JSON document is closed (table rows need nothing).
    if (out instanceof JsonFlowStream) out.abort(file, err);
    batch.flush();
    throw err;
  }
  if (readFailure) throw readFailure;
  return failed ? EXIT.FINDINGS : EXIT.OK;
}

/** What is known of a capture whose reading failed with an internal error: the packets read before it, then an INTERNAL diagnostic. */
function interruptedInfo(file: string, err: unknown): CaptureInfo {
  const message = `${file}: internal error, reading stopped: ${errorLine(err)} [${INTERNAL}]`;
  return { file, format: null, linkTypes: [], snaplen: 0, packets: 0, truncatedPackets: 0, diagnostics: [{ code: INTERNAL, message, packet: -1, offset: -1 }], stoppedEarly: true };
}

/** `io` whose first stdout write is preceded by `separator`. */
function separatedIo(io: CliIo, separator: string): CliIo {
  let pending = true;
  return {
    ...io,
    stdout: (s: string) => {
      if (pending && s.length) {
        pending = false;
        io.stdout(separator + s);
      } else io.stdout(s);
    },
  };
}

/** One file analysed whole, flows kept in id order (needed to pick one flow by its id). */
async function retainedOne(file: string, opts: AnalyzeOptions, io: CliIo, withKey: FlowResult[] | null): Promise<ExitCode> {
  const result = await loadCapture(file, opts.idleTimeout, [flowIdOf(opts.flow!)], slowThresholdsOf(opts), memcapOf(opts));
  reportDiagnostics(file, result, io); // before the flow is looked for: it may be past a corrupt record
  const flows = selectFlows(result, opts);
  withKey?.push(...flows.filter((f) => f.app?.websocket?.key));
  if (opts.json) writeJson(result, flows, (s) => io.stdout(s));
  else writeTable(result, flows, { color: useColor(io), width: io.columns }, (s) => io.stdout(s));
  return exitFor(result, flows, opts.failOn);
}

/** The capture's diagnostics on stderr, and how many more were not kept. */
export function reportDiagnostics(file: string, result: AnalysisResult, io: CliIo): void {
  for (const d of result.capture.diagnostics) io.stderr(`${d.message}\n`);
  if (result.capture.diagnosticsDropped) io.stderr(`${file}: ${result.capture.diagnosticsDropped} more diagnostics not shown\n`);
}

/** --slow-handshake, --slow-server, --slow-client (ms, 0 or more) as thresholds in µs; the ones not given keep their defaults. */
export function slowThresholdsOf(opts: SlowOptions): Partial<SlowThresholds> {
  const micros = (text: string | undefined, option: string): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new CliError(`${option} takes milliseconds (0 or more), got '${text}'`, EXIT.USAGE);
    return Math.round(n * 1000);
  };
  const out: Partial<SlowThresholds> = {};
  const handshake = micros(opts.slowHandshake, '--slow-handshake');
  const server = micros(opts.slowServer, '--slow-server');
  const client = micros(opts.slowClient, '--slow-client');
  if (handshake !== undefined) out.handshakeMicros = handshake;
  if (server !== undefined) out.serverMicros = server;
  if (client !== undefined) out.clientMicros = client;
  return out;
}

/** --memcap as bytes (512 MiB when not given). */
export function memcapOf(opts: MemcapOption): number {
  if (opts.memcap === undefined) return DEFAULT_MEMCAP_BYTES;
  const bytes = parseSize(opts.memcap);
  if (bytes === null || bytes < MiB) throw new CliError(`--memcap takes a size of 1 MiB or more (bytes, or with k, M, G: 512M, 2G), got '${opts.memcap}'`, EXIT.USAGE);
  return bytes;
}

function idleTimeoutOf(opts: AnalyzeOptions): number | undefined {
  const idle = opts.idleTimeout !== undefined ? Number(opts.idleTimeout) : undefined;
  if (idle !== undefined && !(idle > 0)) throw new CliError(`--idle-timeout takes seconds > 0, got '${opts.idleTimeout}'`, EXIT.USAGE);
  return idle;
}
