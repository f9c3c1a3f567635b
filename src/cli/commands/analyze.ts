import { closeSync, existsSync, openSync } from 'node:fs';
import { readCaptureFileSync, type ReadCaptureOptions } from '../../capture/open.js';
import { CaptureOpenError, type CaptureInfo } from '../../capture/record.js';
import { CaptureFilterError } from '../../capture/capture-filter.js';
import { Analyzer, INTERNAL, analyzeFlows, errorLine, streamFlows, type AnalysisResult, type AnalyzerOptions, type FlowResult } from '../../pipeline.js';
import { findSharedWebSocketKeys, keyedFlow, type KeyedFlow } from '../../diff/select.js';
import { renderSharedKeys } from '../../report/diff.js';
import { JsonFlowStream, JsonLinesStream, SCHEMA_VERSION, writeReport, type FlowReport, type JsonReport } from '../../report/json.js';
import { ZeekFlowStream } from '../../report/zeek.js';
import { TextReport } from '../../report/text.js';
import { MIN_WIDTH, reportWidth } from '../../report/wrap.js';
import { SEVERITY, type Severity } from '../../rules/verdict.js';
import type { SlowThresholds } from '../../rules/timing-rules.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { DEFAULT_MEMCAP_BYTES, MiB, parseSize } from '../../flow/memcap.js';
import { parseFlowFilter, type FlowPredicate } from '../filter.js';
import { isZeekFormat, outputFormatOf, type FormatOptions, type OutputFormat } from '../format.js';
import { TextBatch, useColor, writeAll, type CliIo } from '../io.js';
import { captureFilterOf, splitFilesAndFilter, withCaptureFilter, type CaptureFilterSpec } from '../capture-filter.js';
import { progressFor, type ProgressOf } from '../progress.js';
import { analyzeFilesInThreads, filesAtOnce, type FileSettings } from '../file-threads.js';

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

export interface AnalyzeOptions extends SlowOptions, FormatOptions, MemcapOption {
  onlyProblems?: boolean;
  flow?: string;
  filter?: string;
  failOn?: Severity;
  idleTimeout?: string;
  /** List every flow, healthy ones too. */
  all?: boolean;
  /** Columns to fit (default: the terminal's, 100 when piped). */
  width?: string;
  /** With a Zeek format: also write tcpwhy.log (one row per verdict, keyed by uid) to this file. */
  zeekVerdicts?: string;
  /** The capture filter (pcap-filter syntax), as --bpf gives it. */
  bpf?: string;
  /** No progress line on stderr. */
  quiet?: boolean;
  /** Threads to analyse with (see workersFor). */
  workers?: string;
}

/** How a command reads its captures: the capture filter, and the terminal its progress goes to (none with --quiet). */
export interface Reading {
  bpf: CaptureFilterSpec | null;
  io: CliIo;
  quiet?: boolean;
}

/** Runs one read of `file` with its progress line (when it shows one), erased at the end. */
export function withProgress<T>(file: string, reading: Reading | null, read: (opts: ReadCaptureOptions) => T): T {
  const progress = reading ? progressFor(reading.io, file, reading.quiet) : null;
  try {
    return read(progress ? { onProgress: progress.update } : {});
  } finally {
    progress?.erase();
  }
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
export function loadCapture(
  file: string,
  idleTimeout: string | undefined,
  ids: readonly number[],
  slow: Partial<SlowThresholds> = {},
  reading: Reading | null = null,
  memcapBytes?: number,
): AnalysisResult {
  const idleTimeoutSec = idleTimeoutOf({ idleTimeout });
  const bpf = reading?.bpf ?? null;
  return readable(bpf, () => withProgress(file, reading, (read) => analyzeFlows(file, (id) => ids.includes(id), { idleTimeoutSec, slow, memcapBytes, captureFilter: bpf?.filter() }, read)));
}

/** Analyses `file` handing each flow to `onFlow` as it is judged, keeping none (see streamFlows). */
export function streamCapture(
  file: string,
  idleTimeout: string | undefined,
  onFlow: (flow: FlowResult) => void,
  opts: Partial<AnalyzerOptions> = {},
  reading: Reading | null = null,
): AnalysisResult {
  const idleTimeoutSec = idleTimeoutOf({ idleTimeout });
  const bpf = reading?.bpf ?? null;
  return readable(bpf, () => withProgress(file, reading, (read) => streamFlows(file, onFlow, { keepEvents: false, ...opts, idleTimeoutSec, captureFilter: bpf?.filter() }, read)));
}

/** An unreadable capture is a command-line error (exit 3), and so is a capture filter that cannot be used (exit 2 or 3). */
export function readable<T>(bpf: CaptureFilterSpec | null, run: () => T): T {
  try {
    return withCaptureFilter(bpf, run);
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

/** `analyze` arguments: the captures, then the words of a capture filter, if any (see splitFilesAndFilter). */
export function filesAndCaptureFilter(args: string[], opts: AnalyzeOptions): { files: string[]; bpf: CaptureFilterSpec | null } {
  const { files, filterWords } = splitFilesAndFilter(args, existsSync);
  return { files, bpf: captureFilterOf(filterWords, opts.bpf, true) };
}

export async function runAnalyze(args: string[], opts: AnalyzeOptions, io: CliIo): Promise<ExitCode> {
  const format = outputFormatOf(opts);
  const { files, bpf } = filesAndCaptureFilter(args, opts);
  const pred = opts.filter ? parseFlowFilter(opts.filter) : () => true; // a bad filter is refused before any output
  if (opts.zeekVerdicts && !isZeekFormat(format)) throw new CliError('--zeek-verdicts writes a Zeek log: give --format zeek or --format zeek-json with it', EXIT.USAGE);
  const verdictFile = opts.zeekVerdicts ? openOutput(opts.zeekVerdicts, '--zeek-verdicts') : null;
  const verdictBatch = verdictFile ? new TextBatch(verdictFile.write) : null;
  try {
    return await analyzeFiles(files, bpf, opts, format, pred, io, verdictBatch?.write ?? null);
  } finally {
    verdictBatch?.flush();
    if (verdictFile) closeSync(verdictFile.fd);
  }
}

/** A file tcpwhy writes besides stdout, opened before any analysis so that a bad path is said at once. */
function openOutput(path: string, option: string): { fd: number; write: (s: string) => void } {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new CliError(`${option}: cannot write ${path}: ${(err as Error).message}`, EXIT.USAGE);
  }
  return { fd, write: (s) => writeAll(fd, s) };
}

/** Where tcpwhy.log goes (--zeek-verdicts), null when not asked for. */
type VerdictLog = ((s: string) => void) | null;

/** What the file threads need to analyse each file as this thread would (see file-threads.ts). */
function fileSettings(opts: AnalyzeOptions, bpf: CaptureFilterSpec | null, io: CliIo, verdicts: boolean): FileSettings {
  return {
    // One thread per file: no dissector threads of its own.
    opts: { ...opts, workers: undefined },
    terminal: { isTTY: io.isTTY, columns: io.columns, stderrIsTTY: io.stderrIsTTY, stderrColumns: io.stderrColumns, env: { ...io.env } },
    // Compiled again in each thread, once per link type there.
    captureFilter: bpf ? { expression: bpf.expression, fromFileWords: bpf.fromFileWords } : null,
    verdicts,
  };
}

async function analyzeFiles(files: string[], bpf: CaptureFilterSpec | null, opts: AnalyzeOptions, format: OutputFormat, pred: FlowPredicate, io: CliIo, verdictLog: VerdictLog): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  // Several files in one JSON document: {"schemaVersion", "files": [each file's document], "sharedKeys"}.
  const several = format === 'json' && files.length > 1;
  if (several) io.stdout(`{"schemaVersion":${SCHEMA_VERSION},"files":[`);
  // Of the flows with a Sec-WebSocket-Key, their key and names are kept across files, to find one upgrade seen on several hops.
  const keyed: Array<{ file: string; flows: KeyedFlow[] }> = [];
  /** Where file i's report goes, once the files before it are written: after its heading, or after a comma in one JSON document. */
  const outputOf = (i: number): CliIo => {
    if (files.length > 1 && format === 'table') io.stdout(`\n== ${files[i]}\n`);
    return several && i > 0 ? separatedIo(io, ',') : io;
  };
  const taken = (i: number, c: ExitCode, withKey: KeyedFlow[] | null): void => {
    if (withKey) keyed.push({ file: files[i], flows: withKey });
    if (c > code) code = c;
  };
  try {
    const atOnce = opts.flow === undefined ? filesAtOnce(files, workersFor(opts)) : 1;
    if (atOnce > 1) {
      await analyzeFilesInThreads(
        files,
        atOnce,
        fileSettings(opts, bpf, io, verdictLog !== null),
        (i, clock) => {
          const out = outputOf(i);
          return { io: out, progress: progressFor(out, files[i], opts.quiet, clock), verdictLog };
        },
        (i, outcome) => taken(i, outcome.code, outcome.withKey),
      );
    } else {
      for (const [i, file] of files.entries()) {
        const out = outputOf(i);
        // Keyed flows are kept only when several files are compared.
        const withKey: KeyedFlow[] | null = files.length > 1 ? [] : null;
        const c = opts.flow === undefined ? withCaptureFilter(bpf, () => streamOne(file, opts, format, pred, bpf, out, withKey, verdictLog)) : retainedOne(file, opts, format, bpf, out, withKey, verdictLog);
        taken(i, c, withKey);
      }
    }
  } catch (err) {
    // The files' array is closed before the error ends the run: stdout stays one whole document.
    if (several) io.stdout(`],"sharedKeys":[]}\n`);
    throw err;
  }
  const shared = files.length > 1 ? findSharedWebSocketKeys(keyed) : [];
  if (format === 'json') io.stdout(files.length > 1 ? `],"sharedKeys":${JSON.stringify(shared)}}\n` : '\n');
  else if (format === 'jsonl') {
    if (files.length > 1) io.stdout(`${JSON.stringify({ type: 'sharedKeys', sharedKeys: shared })}\n`);
  } else if (shared.length) io.stdout(`\n${renderSharedKeys(shared, widthOf(opts, io))}\n`);
  return code;
}

/**
 * Analyses one file and writes each flow as soon as it is judged (in the order flows end), keeping
 * nothing per flow (the capture-level rules keep bounded state of their own): memory stays flat
 * however many flows the capture holds.
 */
export function streamOne(
  file: string,
  opts: AnalyzeOptions,
  format: OutputFormat,
  pred: FlowPredicate,
  bpf: CaptureFilterSpec | null,
  terminal: CliIo,
  withKey: KeyedFlow[] | null,
  verdictLog: VerdictLog,
  progressOf: ProgressOf = progressFor,
): ExitCode {
  const idle = idleTimeoutOf(opts);
  const progress = progressOf(terminal, file, opts.quiet);
  // Flows are written while the capture is read: through progress.io, which erases the progress line first.
  const io = progress?.io ?? terminal;
  const batch = new TextBatch((s) => io.stdout(s), io.isTTY ? 0 : undefined);
  const out = flowReport(format, opts, io, batch.write, verdictLog);
  const threshold = opts.failOn ? SEVERITY[opts.failOn] : Infinity;
  let failed = false;
  const captureFilter = bpf?.filter();
  const analyzer = new Analyzer({
    file,
    idleTimeoutSec: idle,
    slow: slowThresholdsOf(opts),
    memcapBytes: memcapOf(opts),
    dissectorThreads: workersFor(opts) - 1,
    keepEvents: false,
    // Only --detail JSON lists every HTTP exchange.
    keepExchanges: opts.detail === true,
    retainFlows: false,
    // Each report writes a flow as it comes; of a flow with a Sec-WebSocket-Key, only its key and names are kept (for several files).
    flowsForgottenWhenHandedOut: true,
    captureFilter,
    onFlowJudged: (f) => {
      if (!pred(f)) return;
      // The text report lists only problem flows anyway, and counts the others.
      if (opts.onlyProblems && !(out instanceof TextReport) && !f.verdicts.some((v) => v.severity !== 'info')) return;
      out.flow(f); // first: a flow that cannot be written counts for nothing
      if (f.verdicts.some((v) => SEVERITY[v.severity] >= threshold)) failed = true;
      const k = withKey && keyedFlow(f);
      if (k) withKey.push(k);
    },
  });
  let info: CaptureInfo;
  // An internal error while reading: what was read is still analysed and reported, then the error ends the run.
  let readFailure: unknown = null;
  try {
    info = readCaptureFileSync(file, analyzer.onRecord, { onProgress: progress?.update });
  } catch (err) {
    if (err instanceof CaptureOpenError) {
      batch.flush(); // nothing was read, so nothing of the report was written
      throw new CliError(err.message, EXIT.INPUT);
    }
    if (err instanceof CaptureFilterError) throw err; // met at the first packet: nothing was written either
    readFailure = err;
    info = interruptedInfo(file, err);
  } finally {
    progress?.erase();
  }
  captureFilter?.checkExpression(info.linkTypes); // a capture without packets: before the report starts
  try {
    const result = analyzer.finish(info);
    batch.flush();
    reportDiagnostics(file, result, io);
    out.end(result);
    batch.flush();
    if (result.verdicts.some((v) => SEVERITY[v.severity] >= threshold)) failed = true;
  } catch (err) {
    // Whatever fails after the report started, the JSON report is closed (table rows need nothing).
    if ('abort' in out) out.abort(file, err);
    batch.flush();
    throw err;
  }
  if (readFailure) throw readFailure;
  return failed ? EXIT.FINDINGS : EXIT.OK;
}

/** What is known of a capture whose reading failed with an internal error: the packets read before it, then an INTERNAL diagnostic. */
function interruptedInfo(file: string, err: unknown): CaptureInfo {
  const message = `${file}: internal error, reading stopped (${errorLine(err)})`;
  return { file, format: null, linkTypes: [], snaplen: 0, packets: 0, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [{ code: INTERNAL, message, packet: -1, offset: -1 }], stoppedEarly: true };
}

/** The report of `format`, written through `write` flow by flow. */
function flowReport(format: OutputFormat, opts: AnalyzeOptions, io: CliIo, write: (s: string) => void, verdictLog: VerdictLog): FlowReport | JsonReport {
  switch (format) {
    case 'zeek':
    case 'zeek-json':
      return new ZeekFlowStream(format, write, verdictLog);
    case 'table':
      return new TextReport({ color: useColor(io), width: widthOf(opts, io), all: opts.all && !opts.onlyProblems, filtered: opts.filter !== undefined }, write);
    case 'json':
      return new JsonFlowStream(write, { detail: opts.detail });
    case 'jsonl':
      return new JsonLinesStream(write, { detail: opts.detail });
  }
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
function retainedOne(file: string, opts: AnalyzeOptions, format: OutputFormat, bpf: CaptureFilterSpec | null, io: CliIo, withKey: KeyedFlow[] | null, verdictLog: VerdictLog): ExitCode {
  const result = loadCapture(file, opts.idleTimeout, [flowIdOf(opts.flow!)], slowThresholdsOf(opts), { bpf, io, quiet: opts.quiet }, memcapOf(opts));
  reportDiagnostics(file, result, io); // before the flow is looked for: it may be past a corrupt record
  const flows = selectFlows(result, opts);
  for (const f of flows) {
    const k = keyedFlow(f);
    if (k) withKey?.push(k);
  }
  const out = flowReport(format, opts, io, (s) => io.stdout(s), verdictLog);
  if ('abort' in out) writeReport(out, result, flows);
  else {
    for (const f of flows) out.flow(f);
    out.end(result);
  }
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

/** --width N, else the terminal's columns, else 100. */
export function widthOf(opts: { width?: string }, io: CliIo): number {
  let option: number | undefined;
  if (opts.width !== undefined) {
    option = Number(opts.width);
    if (!Number.isInteger(option) || option < MIN_WIDTH) throw new CliError(`--width takes a number of columns, ${MIN_WIDTH} or more, got '${opts.width}'`, EXIT.USAGE);
  }
  return reportWidth(option, io.isTTY, io.columns);
}

/** --memcap as bytes (512 MiB when not given). */
export function memcapOf(opts: MemcapOption): number {
  if (opts.memcap === undefined) return DEFAULT_MEMCAP_BYTES;
  const bytes = parseSize(opts.memcap);
  if (bytes === null || bytes < MiB) throw new CliError(`--memcap takes a size of 1 MiB or more (bytes, or with k, M, G: 512M, 2G), got '${opts.memcap}'`, EXIT.USAGE);
  return bytes;
}

/**
 * Threads to analyse with: --workers, else 1. One thread reads, keeps the flows and judges; the
 * others run the dissectors. A second thread does not always pay: every session's facts are copied
 * back to the first, and a flow judged the moment it ends (a reused port, the idle timeout) waits
 * for its session's thread.
 */
export function workersFor(opts: AnalyzeOptions): number {
  if (opts.workers === undefined) return 1;
  const n = Number(opts.workers);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new CliError(`--workers takes a whole number from 1 to 64, got '${opts.workers}'`, EXIT.USAGE);
  return n;
}

function idleTimeoutOf(opts: AnalyzeOptions): number | undefined {
  const idle = opts.idleTimeout !== undefined ? Number(opts.idleTimeout) : undefined;
  if (idle !== undefined && !(idle > 0)) throw new CliError(`--idle-timeout takes seconds > 0, got '${opts.idleTimeout}'`, EXIT.USAGE);
  return idle;
}
