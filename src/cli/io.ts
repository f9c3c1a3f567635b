import { writeFileSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { STDIN_PATH } from '../capture/open.js';
import { CliError, EXIT } from './exit.js';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is a terminal (colours, widths). */
  isTTY: boolean;
  columns?: number;
  /** True when stderr is a terminal (progress). */
  stderrIsTTY?: boolean;
  stderrColumns?: number;
  env: Record<string, string | undefined>;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to a file descriptor before returning. The analysis runs synchronously, so
 * this is its backpressure: a slow reader at the other end of a pipe (`| jq`, `| less`) makes tcpwhy
 * wait instead of piling the report up in memory. A closed pipe (`| head`) ends tcpwhy quietly.
 */
export function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') Atomics.wait(pause, 0, 0, 2); // non-blocking pipe is full: wait for the reader
      else if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      else throw err;
    }
  }
}

/**
 * The process's own output. `process.stdout` and `process.stderr` are touched only when they are
 * terminals (for their widths): made for a pipe, Node's stream switches the pipe to non-blocking
 * writes, and writeAll would then wait out each full pipe buffer (64 KiB) in steps of 2 ms instead
 * of the kernel waking it as soon as the reader has taken some. Piped into `cat`, `--json --detail`
 * on the 500 k-packet mix took 8.7 s instead of the 5.4 s it takes into a file.
 *
 * `live` cannot keep to this: Node makes process.stderr whenever a socket of the main thread is
 * destroyed (net.Socket compares itself with it), as tcpdump's pipes are once the capture stops.
 * The last lines of a live run may so meet a non-blocking stderr, and stdout under `2>&1`; they
 * are few, and writeAll waits out a full buffer.
 */
export function processIo(): CliIo {
  const stdoutIsTTY = isatty(1);
  const stderrIsTTY = isatty(2);
  return {
    stdout: (t) => writeAll(1, t),
    stderr: (t) => writeAll(2, t),
    isTTY: stdoutIsTTY,
    columns: stdoutIsTTY ? process.stdout.columns : undefined,
    stderrIsTTY,
    stderrColumns: stderrIsTTY ? process.stderr.columns : undefined,
    env: process.env,
  };
}

/**
 * Joins small writes into chunks of about 64 KiB before handing them on: one buffer and one system
 * call per chunk instead of one per flow. Not for a terminal, where each line should show at once.
 */
export class TextBatch {
  private parts: string[] = [];
  private size = 0;

  constructor(
    private readonly sink: (text: string) => void,
    private readonly limit = 64 * 1024,
  ) {}

  readonly write = (text: string): void => {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= this.limit) this.flush();
  };

  flush(): void {
    if (this.size === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    this.sink(text);
  }
}

export function useColor(io: CliIo): boolean {
  return io.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
}

/**
 * For a command that reads its captures more than once (`why`): refuses standard input, which can
 * be read only once, before any of it is read.
 */
export function refuseStandardInput(files: readonly string[], why: string, give = 'a file'): void {
  if (files.includes(STDIN_PATH)) throw new CliError(`${why}: give ${give}, not standard input`, EXIT.USAGE);
}

/** Writes the page to `path` ('-': standard output) and says so on stderr. */
export function writeHtmlReport(path: string, html: string, what: string, io: CliIo): void {
  if (path === STDIN_PATH) {
    io.stdout(html);
    return;
  }
  try {
    writeFileSync(path, html);
  } catch (err) {
    throw new CliError(`cannot write the HTML report to ${path}: ${(err as Error).message}`, EXIT.INPUT);
  }
  io.stderr(`${path}: HTML report written (${what})\n`);
}
