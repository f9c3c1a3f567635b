// Several capture files analysed at once (`analyze A B C --workers N`): each file is analysed as it
// would be alone, in a thread of its own (file-worker.ts), and its report, diagnostics and
// tcpwhy.log rows are written here in the files' order, byte for byte as one thread writes them.
// Files are separate analyses, so nothing crosses threads but that text, the progress of the file
// being written, and the flows with a WebSocket key that match upgrades across files.
//
// A file's text is written as it comes while every file before it is done; a later file's waits.
// Its thread stops once OUTPUT_AHEAD_CHARS of its text wait, until its turn: memory stays bounded
// however large a report is.

import { Worker } from 'node:worker_threads';
import type { KeyedFlow } from '../diff/select.js';
import { CliError, type ExitCode } from './exit.js';
import type { CliIo } from './io.js';
import type { ProgressLine } from './progress.js';

/** Text a file's thread may have written ahead of its turn before it waits (characters). */
export const OUTPUT_AHEAD_CHARS = 16 << 20;

/** Words of a file thread's shared control block. */
export const enum FILE_CONTROL {
  /** Characters posted and not yet written out. */
  WAITING = 0,
  WORDS = 1,
}

/** What a file thread is given (workerData). */
export interface FileThreadData {
  file: string;
  /** The analyze options as commander parsed them, less --workers. */
  opts: Record<string, unknown>;
  /** The terminal facts the report depends on (widths, colour). */
  terminal: Pick<CliIo, 'isTTY' | 'columns' | 'stderrIsTTY' | 'stderrColumns' | 'env'>;
  /** The capture filter's expression, and whether it came from words after the files. */
  captureFilter: { expression: string; fromFileWords: boolean } | null;
  /** Keep the flows with a Sec-WebSocket-Key for the match across files. */
  keepKeys: boolean;
  /** Write tcpwhy.log rows (--zeek-verdicts). */
  verdicts: boolean;
  control: SharedArrayBuffer;
  aheadChars: number;
}

/** What a file thread posts. */
export type FileThreadMessage =
  | { text: string; to: 'stdout' | 'stderr' | 'verdicts' }
  | { progress: [bytes: number, totalBytes: number, packets: number, elapsedMs: number] }
  | { done: ExitCode; withKey: KeyedFlow[] | null }
  | { failed: { message: string; stack: string | undefined; exitCode: ExitCode | null } };

/** Where a file's text goes, set when its turn comes. */
export interface FileOutput {
  io: CliIo;
  /** The progress line of its read, when one shows (see progressFor). */
  progress: ProgressLine | null;
  verdictLog: ((s: string) => void) | null;
}

/** The outcome of one file: its exit code and the flows kept for the WebSocket match. */
export interface FileOutcome {
  code: ExitCode;
  withKey: KeyedFlow[] | null;
}

/** One file's analysis in its thread: its messages, queued until its turn, then written as they come. */
class FileRun {
  private readonly queue: FileThreadMessage[] = [];
  private output: FileOutput | null = null;
  private readonly control: Int32Array;
  private settle: ((outcome: FileOutcome) => void) | null = null;
  private reject: ((err: Error) => void) | null = null;
  private ended: FileThreadMessage | null = null;
  private readonly elapsed = { ms: 0 };
  private readonly worker: Worker;

  constructor(data: Omit<FileThreadData, 'control' | 'aheadChars'>, aheadChars: number) {
    const control = new SharedArrayBuffer(FILE_CONTROL.WORDS * 4);
    this.control = new Int32Array(control);
    // The thread's own stdout and stderr are read here rather than piped into the process's: a
    // piped stdout would turn non-blocking (see cli/io.ts). It prints nothing of its own.
    this.worker = new Worker(new URL('./file-worker.js', import.meta.url), { workerData: { ...data, control, aheadChars } satisfies FileThreadData, stdout: true, stderr: true });
    this.worker.on('message', (m: FileThreadMessage) => this.take(m));
    this.worker.on('error', (err) => this.take({ failed: { message: err.message, stack: err.stack, exitCode: null } }));
    this.worker.on('exit', (code) => this.take({ failed: { message: `the thread analysing ${data.file} ended (exit code ${code}) before its report was done`, stack: undefined, exitCode: null } }));
  }

  /** The file's turn: its text so far is written, and the rest as it comes; resolves when it is done. */
  turn(output: FileOutput): Promise<FileOutcome> {
    this.output = output;
    const done = new Promise<FileOutcome>((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
    for (const m of this.queue.splice(0)) this.handle(m);
    return done;
  }

  /** Stops the thread (a file before it failed, so its report is not wanted). */
  cancel(): void {
    this.ended ??= { failed: { message: 'cancelled', stack: undefined, exitCode: null } };
    void this.worker.terminate();
  }

  private take(m: FileThreadMessage): void {
    if (this.ended) return; // the first end counts: the 'exit' after 'done' or 'error' says nothing new
    if ('done' in m || 'failed' in m) this.ended = m;
    if (this.output) this.handle(m);
    else if (!('progress' in m)) this.queue.push(m); // the progress of a read before its turn is past by then
  }

  private handle(m: FileThreadMessage): void {
    const out = this.output!;
    if ('text' in m) {
      if (m.to === 'verdicts') out.verdictLog?.(m.text);
      else {
        const io = out.progress?.io ?? out.io;
        if (m.to === 'stdout') io.stdout(m.text);
        else io.stderr(m.text);
      }
      Atomics.sub(this.control, FILE_CONTROL.WAITING, m.text.length);
      Atomics.notify(this.control, FILE_CONTROL.WAITING);
    } else if ('progress' in m) {
      const [bytes, totalBytes, packets, elapsedMs] = m.progress;
      this.elapsed.ms = elapsedMs;
      out.progress?.update(bytes, totalBytes, packets);
    } else {
      out.progress?.erase();
      void this.worker.terminate();
      if ('done' in m) this.settle!({ code: m.done, withKey: m.withKey });
      else {
        const err = m.failed.exitCode !== null ? new CliError(m.failed.message, m.failed.exitCode) : new Error(m.failed.message);
        if (m.failed.stack && m.failed.exitCode === null) err.stack = m.failed.stack;
        this.reject!(err);
      }
    }
  }

  /** The thread's time reading its file, as its progress line counts it. */
  readonly clock = (): number => this.elapsed.ms;
}

/**
 * Analyses `files` in up to `threads` threads at once and hands each file's outcome to `each` in
 * the files' order, after its text was written through `outputOf(i)`. A file that fails ends the
 * run with its error (after its text), and no later file is written, as in one thread.
 */
export async function analyzeFilesInThreads(
  files: string[],
  threads: number,
  dataOf: (file: string) => Omit<FileThreadData, 'control' | 'aheadChars'>,
  outputOf: (i: number, clock: () => number) => FileOutput,
  each: (i: number, outcome: FileOutcome) => void,
  aheadChars = OUTPUT_AHEAD_CHARS,
): Promise<void> {
  const runs: FileRun[] = [];
  const start = (i: number) => {
    if (i < files.length && runs[i] === undefined) runs[i] = new FileRun(dataOf(files[i]), aheadChars);
  };
  try {
    for (let i = 0; i < Math.min(threads, files.length); i++) start(i);
    for (let i = 0; i < files.length; i++) {
      const run = runs[i];
      const outcome = await run.turn(outputOf(i, run.clock));
      start(i + threads);
      each(i, outcome);
    }
  } finally {
    for (const run of runs) run?.cancel();
  }
}

/** --workers N with several files: the files are analysed N at once, each in one thread. */
export function filesAtOnce(files: readonly string[], workers: number): number {
  return files.length > 1 && workers > 1 ? Math.min(workers, files.length) : 1;
}

