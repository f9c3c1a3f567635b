import { ZEEK_FORMATS, type ZeekFormat } from '../report/zeek.js';
import { CliError, EXIT } from './exit.js';

/**
 * The report formats, a closed set: `table` is the text report; `json` one document; `jsonl` one line
 * per flow as it ends, then a summary line; `zeek` and `zeek-json` Zeek's conn.log as TSV or JSON
 * lines. A value outside the list is a usage error that lists it.
 */
export const OUTPUT_FORMATS = ['table', 'json', 'jsonl', ...ZEEK_FORMATS] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function isZeekFormat(format: OutputFormat): format is ZeekFormat {
  return (ZEEK_FORMATS as readonly string[]).includes(format);
}

/** The formats written as JSON, which `--detail` widens. */
const JSON_FORMATS: readonly OutputFormat[] = ['json', 'jsonl'];

export interface FormatOptions {
  format?: OutputFormat;
  /** Shorthand for `--format json` (on live, whose JSON streams, `--format jsonl`). */
  json?: boolean;
  detail?: boolean;
}

/** The format asked for: --format, --json as its shorthand (`jsonMeans`), else the table. */
export function outputFormatOf(opts: FormatOptions, jsonMeans: OutputFormat = 'json'): OutputFormat {
  if (opts.json && opts.format !== undefined && opts.format !== jsonMeans) {
    throw new CliError(`--json means --format ${jsonMeans}: it cannot go with --format ${opts.format}`, EXIT.USAGE);
  }
  const format = opts.format ?? (opts.json ? jsonMeans : 'table');
  if (opts.detail && !JSON_FORMATS.includes(format)) {
    throw new CliError(`--detail widens the JSON formats (${JSON_FORMATS.join(', ')}), not --format ${format}`, EXIT.USAGE);
  }
  return format;
}
