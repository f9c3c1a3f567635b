// Several capture files analysed at once (`analyze A B C --workers N`): N threads (file-worker.ts)
// each analyse one file at a time, as it would be analysed alone, taking the next file not yet
// started when done; each file's report, diagnostics and tcpwhy.log rows are written here in the
// files' order, byte for byte as one thread writes them. Files are separate analyses, so nothing
// crosses threads but that text, the threads' progress (drawn for the file being written), and the
// flows with a WebSocket key that match upgrades across files.
//
// A file's text is written as it comes while every file before it is done; a later file's waits.
// A thread stops once OUTPUT_AHEAD_CHARS of its text wait, until their turn: memory stays bounded
// however large a report is. The file being written always goes on (its text is written as it
// comes), so a thread that waits always gets to go on.

import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { STDIN_PATH } from '../capture/open.js';
import type { KeyedFlow } from '../diff/select.js';
import { CliError, type ExitCode } from './exit.js';
import type { CliIo } from './io.js';
import type { ProgressLine } from './progress.js';

/** Text a file thread may have written ahead of its turn before it waits (characters). */
export const OUTPUT_AHEAD_CHARS = 16 << 20;

/** Words of a file thread's shared control block. */
export const enum FILE_CONTROL {
  /** Characters posted and not yet written out. */
  WAITING = 0,
  WORDS = 1,
}

/** What every file of a run is analysed with. */
export interface FileSettings {
  /** The analyze options as commander parsed them, less --workers. */
  opts: Record<string, unknown>;
  /** The terminal facts the report depends on (widths, colour, whether a progress line shows). */
  terminal: Pick<CliIo, 'isTTY' | 'columns' | 'stderrIsTTY' | 'stderrColumns' | 'env'>;
  /** The capture filter's expression, and whether it came from words after the files. */
  captureFilter: { expression: string; fromFileWords: boolean } | null;
  /** Write tcpwhy.log rows (--zeek-verdicts). */
  verdicts: boolean;
}

/** What a file thread is given (workerData); each file then comes as a message of its name. */
export interface FileThreadData extends FileSettings {
  control: SharedArrayBuffer;
  aheadChars: number;
}

/** What a file thread posts about the file it analyses. */
export type FileThreadMessage =
  | { text: string; to: 'stdout' | 'stderr' | 'verdicts' }
  | { progress: [bytes: number, totalBytes: number, packets: number, elapsedMs: number] }
  | { done: ExitCode; withKey: KeyedFlow[] }
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
  withKey: KeyedFlow[];
}

/** One file's analysis: what its thread posts, queued until the file's turn, then written as it comes. */
class FileRun {
  private readonly queue: FileThreadMessage[] = [];
  private output: FileOutput | null = null;
  private settle: ((outcome: FileOutcome) => void) | null = null;
  private reject: ((err: Error) => void) | null = null;
  private ended = false;
  private readonly elapsed = { ms: 0 };

  constructor(
    readonly file: string,
    /** The control block of the thread analysing the file. */
    private readonly control: Int32Array,
  ) {}

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

  take(m: FileThreadMessage): void {
    if (this.ended) return;
    if ('done' in m || 'failed' in m) this.ended = true;
    if (!this.output) {
      if (!('progress' in m)) this.queue.push(m); // the progress of a read before its turn is past by then
      return;
    }
    try {
      this.handle(m);
    } catch (err) {
      // Writing failed (a full disk, a file size limit): the run ends on it, as in one thread.
      this.ended = true;
      this.reject!(err as Error);
    }
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
      if ('done' in m) this.settle!({ code: m.done, withKey: m.withKey });
      else {
        const err = m.failed.exitCode !== null ? new CliError(m.failed.message, m.failed.exitCode) : new Error(m.failed.message);
        if (m.failed.stack && m.failed.exitCode === null) err.stack = m.failed.stack;
        this.reject!(err);
      }
    }
  }

  /** How long the file's thread has been analysing it, as its progress line counts. */
  readonly clock = (): number => this.elapsed.ms;
}

/** A thread analysing files one after the other. */
class FileThread {
  private readonly control: Int32Array;
  private readonly worker: Worker;
  /** The file it analyses now. */
  private run: FileRun | null = null;

  constructor(
    settings: FileSettings,
    aheadChars: number,
    /** Called when the thread is free for another file. */
    private readonly onFree: (thread: FileThread) => void,
  ) {
    const control = new SharedArrayBuffer(FILE_CONTROL.WORDS * 4);
    this.control = new Int32Array(control);
    // The thread's own stdout and stderr stay unread streams rather than being piped into the
    // process's: a piped stdout would turn non-blocking (see cli/io.ts). It prints nothing of its
    // own; a warning Node might print there is dropped.
    this.worker = new Worker(new URL('./file-worker.js', import.meta.url), { workerData: { ...settings, control, aheadChars } satisfies FileThreadData, stdout: true, stderr: true });
    this.worker.on('message', (m: FileThreadMessage) => {
      const run = this.run;
      if (!run) return; // posted before the thread was stopped
      if ('done' in m || 'failed' in m) this.run = null;
      run.take(m);
      if (this.run === null) this.onFree(this);
    });
    // A thread that stops (an error outside any file's analysis, running out of memory) fails the file it had.
    const stopped = (message: string, stack?: string) => {
      const run = this.run;
      this.run = null;
      run?.take({ failed: { message, stack, exitCode: null } });
    };
    this.worker.on('error', (err) => stopped(err.message, err.stack));
    this.worker.on('exit', (code) => stopped(`the thread analysing ${this.run?.file} ended (exit code ${code}) before its report was done`));
  }

  /** Starts analysing the file of `run`; returns `run`. */
  analyse(run: FileRun): FileRun {
    this.run = run;
    this.worker.postMessage(run.file);
    return run;
  }

  newRun(file: string): FileRun {
    return new FileRun(file, this.control);
  }

  /** Ends the thread: a thread listened to keeps the process alive. */
  stop(): void {
    this.run = null;
    void this.worker.terminate();
  }
}

/**
 * Analyses `files` in `threads` threads and hands each file's outcome to `each` in the files'
 * order, after its text was written through `outputOf(i)`. A file that fails ends the run with its
 * error (after its text), and no later file is written, as in one thread.
 */
export async function analyzeFilesInThreads(
  files: string[],
  threads: number,
  settings: FileSettings,
  outputOf: (i: number, clock: () => number) => FileOutput,
  each: (i: number, outcome: FileOutcome) => void,
  aheadChars = OUTPUT_AHEAD_CHARS,
): Promise<void> {
  const runs: FileRun[] = [];
  const next = (thread: FileThread) => {
    if (runs.length < files.length) runs.push(thread.analyse(thread.newRun(files[runs.length])));
  };
  const pool = Array.from({ length: Math.min(threads, files.length) }, () => new FileThread(settings, aheadChars, next));
  try {
    for (const thread of pool) next(thread);
    for (let i = 0; i < files.length; i++) {
      // Every file before i is done, so i was given to the first thread they freed.
      const run = runs[i];
      each(i, await run.turn(outputOf(i, run.clock)));
    }
  } finally {
    for (const thread of pool) thread.stop();
  }
}

/**
 * --workers N with several files: how many are analysed at once. Two inputs that are streams
 * (standard input, /dev/stdin, a pipe, a device) may be one stream, which one thread reads as one
 * thread does, all of it first and then nothing: such runs take one thread.
 */
export function filesAtOnce(files: readonly string[], workers: number): number {
  if (files.length < 2 || workers < 2) return 1;
  if (files.filter(isStream).length > 1) return 1;
  return Math.min(workers, files.length);
}

/** The input is not a regular file (one that cannot be looked at is left for its reader to say so). */
function isStream(file: string): boolean {
  if (file === STDIN_PATH) return true;
  try {
    return !statSync(file).isFile();
  } catch {
    return false;
  }
}
