import Table from 'cli-table3';
import type { AnalysisResult, CaptureSummary, FlowResult } from '../pipeline.js';
import { fmtDuration } from '../rules/format.js';
import type { Verdict } from '../rules/verdict.js';

// The default human report: one row per flow, then capture-level verdicts and packet accounting.

export interface TableOptions {
  color: boolean;
  /** Terminal width, to size the verdict column. */
  width?: number;
}

const SEV_MARK = { error: 'ERROR', warning: 'WARN', info: 'info' } as const;

function paint(on: boolean, code: number, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

export function verdictLine(v: Verdict, color: boolean): string {
  const code = v.severity === 'error' ? 31 : v.severity === 'warning' ? 33 : 2;
  return `${paint(color, code, `${SEV_MARK[v.severity]} ${v.code}`)}: ${v.summary}`;
}

/** Rows per cli-table3 table: one table of 100k rows overflows its recursion and its string. */
const ROWS_PER_TABLE = 500;

export function renderTable(result: AnalysisResult, flows: FlowResult[], opts: TableOptions): string {
  let out = '';
  writeTable(result, flows, opts, (s) => (out += s));
  return out.replace(/\n$/, '');
}

/** Writes the report in pieces (a table of at most ROWS_PER_TABLE flows at a time). */
export function writeTable(result: AnalysisResult, flows: FlowResult[], opts: TableOptions, write: (s: string) => void): void {
  const width = Math.max(100, opts.width ?? 160);
  const verdictWidth = Math.max(40, width - 96);
  for (let from = 0; from < flows.length; from += ROWS_PER_TABLE) {
    const table = new Table({
      head: ['flow', 'client -> server', 'state', 'history', 'duration', 'verdicts'],
      style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [] },
      colWidths: [6, 46, 8, 14, 10, verdictWidth],
      wordWrap: true,
    });
    for (const f of flows.slice(from, from + ROWS_PER_TABLE)) {
      const verdicts = f.verdicts.length ? f.verdicts.map((v) => verdictLine(v, opts.color)).join('\n') : '-';
      table.push([String(f.id), `${f.client}\n-> ${f.server}`, f.state, f.history, fmtDuration(f.end - f.start), verdicts]);
    }
    write(`${table.toString()}\n`);
  }
  if (flows.length === 0) write('No TCP flows to show.\n');
  for (const v of result.verdicts) write(`${verdictLine(v, opts.color)}\n`);
  write(`${accountingLine(result.capture, result.flows.length, flows.length)}\n`);
}

export function accountingLine(c: CaptureSummary, totalFlows: number, shownFlows: number): string {
  const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(c.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  const flows = shownFlows === totalFlows ? `${totalFlows} TCP flow${totalFlows === 1 ? '' : 's'}` : `${shownFlows} of ${totalFlows} TCP flows shown`;
  return `${c.file}: ${c.format ?? 'unknown format'}, ${c.packets} packets read = ${c.decoded} decoded + ${skipped} skipped${reasons ? ` (${reasons})` : ''} + ${c.malformed} malformed; ${flows}${c.stoppedEarly ? '; reading stopped early (see diagnostics)' : ''}`;
}
