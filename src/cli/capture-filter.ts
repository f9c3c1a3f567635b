import { CaptureFilter, CaptureFilterError, compileWithTcpdump, type FilterCompiler } from '../capture/capture-filter.js';
import type { BpfProgram } from '../capture/bpf.js';
import { STDIN_PATH } from '../capture/open.js';
import { CliError, EXIT } from './exit.js';

// The capture filter on the command line: `analyze FILE... EXPR`, `flow FILE ID EXPR`,
// `diff GOOD BAD EXPR`, or `--bpf EXPR` on each (words of a trailing expression are joined with
// spaces, as tcpdump joins them).

/** A capture filter given on the command line, compiled at most once per link type for the whole run. */
export class CaptureFilterSpec {
  private readonly programs = new Map<number, BpfProgram>();

  constructor(
    readonly expression: string,
    /** True when the expression came from words after the files (a mistyped file name ends up there). */
    readonly fromFileWords: boolean,
    private readonly compile: FilterCompiler = compileWithTcpdump,
  ) {}

  /** A fresh filter for one reading of a capture (its own first-link-type and per-link-type counts). */
  filter(): CaptureFilter {
    return new CaptureFilter(this.expression, (expression, linkType) => {
      let program = this.programs.get(linkType);
      if (!program) this.programs.set(linkType, (program = this.compile(expression, linkType)));
      return program;
    });
  }

  /** A CaptureFilterError as the command's error: a bad expression is a usage error, a missing tcpdump exit 3. */
  failure(err: CaptureFilterError): CliError {
    if (err.reason === 'no-compiler') return new CliError(err.message, EXIT.INPUT);
    const first = this.expression.split(/\s+/)[0];
    const looksLikeFile = this.fromFileWords && /[/\\]/.test(first) && !/^[\d.:a-f]+\/\d+$/i.test(first);
    return new CliError(looksLikeFile ? `no file named '${first}', and as a capture filter: ${err.message}` : err.message, EXIT.USAGE);
  }
}

/** The capture filter of trailing words and/or --bpf, or null. Both at once is a usage error. */
export function captureFilterOf(words: readonly string[], bpfOption: string | undefined, fromFileWords = false): CaptureFilterSpec | null {
  const trailing = words.join(' ').trim();
  if (trailing !== '' && bpfOption !== undefined) throw new CliError(`give the capture filter once: either after the arguments ('${trailing}') or with --bpf ('${bpfOption}')`, EXIT.USAGE);
  const expression = bpfOption ?? trailing;
  if (expression.trim() === '') return null;
  return new CaptureFilterSpec(expression, trailing !== '' && fromFileWords);
}

/** A word named like a capture file is one, existing or not (its own error then names it). */
const CAPTURE_FILE_NAME = /\.(pcap|pcapng|cap|dmp)$/i;

/**
 * `analyze` arguments: the first is a capture; each next one that is an existing file, named like
 * a capture (x.pcap, x.pcapng, x.cap, x.dmp) or - is one too; from the first that is not, the
 * words are the capture filter.
 */
export function splitFilesAndFilter(args: readonly string[], exists: (path: string) => boolean): { files: string[]; filterWords: string[] } {
  let n = 1;
  while (n < args.length && (args[n] === STDIN_PATH || CAPTURE_FILE_NAME.test(args[n]) || exists(args[n]))) n++;
  return { files: args.slice(0, n), filterWords: args.slice(n) };
}

/** Runs `read`, turning a capture filter's failure into the command's error. */
export function withCaptureFilter<T>(spec: CaptureFilterSpec | null, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (spec && err instanceof CaptureFilterError) throw spec.failure(err);
    throw err;
  }
}
