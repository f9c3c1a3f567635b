// Entry of a file thread (see file-threads.ts): analyses the capture files it is sent, one at a
// time, each as `analyze` does alone, posting its report's text, diagnostics and tcpwhy.log rows
// for the main thread to write in the files' order.
import { parentPort, workerData } from 'node:worker_threads';
import { CliError } from './exit.js';
import { CaptureFilterSpec, withCaptureFilter } from './capture-filter.js';
import { parseFlowFilter } from './filter.js';
import { outputFormatOf } from './format.js';
import { streamOne, type AnalyzeOptions } from './commands/analyze.js';
import { FILE_CONTROL, type FileThreadData, type FileThreadMessage } from './file-threads.js';
import type { CliIo } from './io.js';
import { readShowsProgress, type Progress, type ProgressOf } from './progress.js';
import type { KeyedFlow } from '../diff/select.js';

const data = workerData as FileThreadData;
const port = parentPort!;
const control = new Int32Array(data.control);
const post = (m: FileThreadMessage): void => port.postMessage(m);
/** Progress is posted a few times per redraw of the main thread's line (at most every 250 ms), so that it is redrawn about as often as in one thread. */
const PROGRESS_POST_MS = 100;

/** Posts text once the main thread has written enough of what came before (see OUTPUT_AHEAD_CHARS). */
function write(to: 'stdout' | 'stderr' | 'verdicts', text: string): void {
  for (let waiting = Atomics.load(control, FILE_CONTROL.WAITING); waiting > data.aheadChars; waiting = Atomics.load(control, FILE_CONTROL.WAITING)) {
    Atomics.wait(control, FILE_CONTROL.WAITING, waiting);
  }
  Atomics.add(control, FILE_CONTROL.WAITING, text.length);
  post({ text, to });
}

const io: CliIo = { ...data.terminal, stdout: (s) => write('stdout', s), stderr: (s) => write('stderr', s) };
const opts = data.opts as AnalyzeOptions;
const bpf = data.captureFilter ? new CaptureFilterSpec(data.captureFilter.expression, data.captureFilter.fromFileWords) : null;
const verdictLog = data.verdicts ? (s: string) => write('verdicts', s) : null;

/** Where a line would show, the main thread draws it, with the time this thread has been reading (posted at most every PROGRESS_POST_MS). */
function progressOf(started: number): ProgressOf {
  let lastPost = -Infinity;
  const progress: Progress = {
    io,
    update: (bytes, totalBytes, packets) => {
      const now = performance.now();
      if (now - lastPost < PROGRESS_POST_MS) return;
      lastPost = now;
      post({ progress: [bytes, totalBytes, packets, now - started] });
    },
    erase: () => {},
  };
  return (terminal, file, quiet) => (readShowsProgress(terminal, file, quiet) ? progress : null);
}

port.on('message', (file: string) => {
  try {
    const withKey: KeyedFlow[] = [];
    // The main thread refused a bad --filter before any file was read.
    const pred = opts.filter ? parseFlowFilter(opts.filter) : () => true;
    const code = withCaptureFilter(bpf, () => streamOne(file, opts, outputFormatOf(opts), pred, bpf, io, withKey, verdictLog, progressOf(performance.now())));
    post({ done: code, withKey });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ failed: { message: e.message, stack: e.stack, exitCode: err instanceof CliError ? err.exitCode : null } });
  }
});
