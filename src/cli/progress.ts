import { statSync } from 'node:fs';
import { STDIN_PATH } from '../capture/open.js';
import type { CliIo } from './io.js';

// Progress on stderr while a large capture is read: bytes read of the total, packets per second
// and the time left, on one line redrawn in place a few times a second and erased at the end.
// Only on a terminal (never in a pipe or a log), only for inputs large enough to wait for, and
// never with --quiet.

/** Inputs smaller than this are read in a few seconds: no progress line. */
export const PROGRESS_MIN_BYTES = 50 * 1024 * 1024;
/** The line is redrawn at most this often. */
export const PROGRESS_INTERVAL_MS = 250;

/** Whether reading an input of `totalBytes` (0: unknown, a pipe) shows progress. */
export function showsProgress(io: Pick<CliIo, 'stderrIsTTY'>, quiet: boolean | undefined, totalBytes: number): boolean {
  return !quiet && io.stderrIsTTY === true && totalBytes >= PROGRESS_MIN_BYTES;
}

const GROUPED = new Intl.NumberFormat('en-US');
const MB = 1024 * 1024;

/** "big.pcap: 120 of 800 MB (15%), 310,000 packets/s, 0:42 left". */
export function progressLine(file: string, bytes: number, totalBytes: number, packets: number, elapsedMs: number): string {
  const percent = Math.floor((100 * bytes) / totalBytes);
  const rate = elapsedMs > 0 ? Math.round((packets * 1000) / elapsedMs) : 0;
  const leftMs = bytes > 0 ? ((totalBytes - bytes) * elapsedMs) / bytes : Infinity;
  const left = Number.isFinite(leftMs) ? `, ${clock(leftMs)} left` : '';
  return `${file}: ${GROUPED.format(Math.floor(bytes / MB))} of ${GROUPED.format(Math.ceil(totalBytes / MB))} MB (${percent}%), ${GROUPED.format(rate)} packets/s${left}`;
}

/** 0:42, 12:05, 1:02:03. */
function clock(ms: number): string {
  const s = Math.ceil(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/**
 * The progress line for reading `file`, or null when it shows none (see showsProgress; standard
 * input has no known size).
 */
export function progressFor(io: CliIo, file: string, quiet: boolean | undefined, now?: () => number): ProgressLine | null {
  return readShowsProgress(io, file, quiet) ? new ProgressLine(io, file, now) : null;
}

/** Whether reading `file` shows a progress line (see showsProgress; standard input has no known size). */
export function readShowsProgress(io: Pick<CliIo, 'stderrIsTTY'>, file: string, quiet: boolean | undefined): boolean {
  if (quiet || !io.stderrIsTTY || file === STDIN_PATH) return false;
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    return false; // the reader says what is wrong with the file
  }
  return showsProgress(io, quiet, size);
}

/** What a read reports its progress to: ProgressLine, or a stand-in for it (see file-worker.ts). */
export interface Progress {
  /** What the command writes through while reading. */
  readonly io: CliIo;
  update(bytes: number, totalBytes: number, packets: number): void;
  erase(): void;
}

/** Makes the progress of reading `file`, or null when none shows (progressFor's signature). */
export type ProgressOf = (io: CliIo, file: string, quiet: boolean | undefined) => Progress | null;

/** Moves to the start of the line and erases it. */
const ERASE_LINE = '\r\u001b[K';

/**
 * The progress line of one read. `update` is called as chunks are read; `io` (from guard()) is what
 * the command writes through while reading, so that a report line or a diagnostic never lands
 * after the progress text: the line is erased first and redrawn at the next update.
 */
export class ProgressLine implements Progress {
  private readonly started: number;
  private lastDraw = -Infinity;
  private shown = false;
  readonly io: CliIo;

  constructor(
    private readonly target: CliIo,
    private readonly file: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
    this.io = {
      ...target,
      stdout: (s) => {
        if (target.isTTY) this.erase(); // the same terminal: the report line must not follow the progress text
        target.stdout(s);
      },
      stderr: (s) => {
        this.erase();
        target.stderr(s);
      },
    };
  }

  /** After each chunk read: redraws the line when the last drawing is old enough. */
  readonly update = (bytes: number, totalBytes: number, packets: number): void => {
    const t = this.now();
    if (t - this.lastDraw < PROGRESS_INTERVAL_MS || bytes >= totalBytes) return;
    this.lastDraw = t;
    let line = progressLine(this.file, bytes, totalBytes, packets, t - this.started);
    // A line wider than the terminal wraps, and \r would then erase only its last part.
    const width = this.target.stderrColumns;
    if (width && line.length >= width) line = `${line.slice(0, width - 2)}…`;
    this.target.stderr(`${ERASE_LINE}${line}`);
    this.shown = true;
  };

  /** Erases the line, if drawn (the end of the read, or output about to be written). */
  erase(): void {
    if (!this.shown) return;
    this.shown = false;
    this.target.stderr(ERASE_LINE);
  }
}
