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
  const stream = new TableFlowStream(opts, write);
  for (const f of flows) stream.flow(f);
  stream.end(result);
}

/** The table report written as flows arrive, ROWS_PER_TABLE rows per table. */
export class TableFlowStream {
  private rows: FlowResult[] = [];
  private shown = 0;

  constructor(private readonly opts: TableOptions, private readonly write: (s: string) => void) {}

  flow(f: FlowResult): void {
    this.rows.push(f);
    this.shown++;
    if (this.rows.length >= ROWS_PER_TABLE) this.flush();
  }

  private flush(): void {
    if (this.rows.length === 0) return;
    const width = Math.max(100, this.opts.width ?? 160);
    const table = new Table({
      head: ['flow', 'client -> server', 'state', 'history', 'duration', 'verdicts'],
      style: { head: this.opts.color ? ['cyan'] : [], border: this.opts.color ? ['grey'] : [] },
      colWidths: [6, 46, 8, 14, 10, Math.max(40, width - 96)],
      wordWrap: true,
    });
    for (const f of this.rows) {
      const verdicts = f.verdicts.length ? f.verdicts.map((v) => verdictLine(v, this.opts.color)).join('\n') : '-';
      table.push([String(f.id), `${f.client}\n-> ${f.server}`, f.state, f.history, fmtDuration(f.end - f.start), verdicts]);
    }
    this.rows = [];
    this.write(`${table.toString()}\n`);
  }

  end(result: AnalysisResult): void {
    this.flush();
    if (this.shown === 0) this.write('No TCP flows to show.\n');
    for (const v of result.verdicts) this.write(`${verdictLine(v, this.opts.color)}\n`);
    this.write(`${accountingLine(result.capture, result.flowCount, this.shown)}\n`);
  }
}

export function accountingLine(c: CaptureSummary, totalFlows: number, shownFlows: number): string {
  const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(c.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  const flows = shownFlows === totalFlows ? `${totalFlows} TCP flow${totalFlows === 1 ? '' : 's'}` : `${shownFlows} of ${totalFlows} TCP flows shown`;
  const fr = c.fragments;
  const fragments =
    fr && fr.reassembled + fr.dropped + fr.incomplete > 0
      ? `; IP fragments: ${fr.reassembled} datagrams reassembled${fr.dropped + fr.incomplete > 0 ? `, ${fr.dropped + fr.incomplete} incomplete` : ''}`
      : '';
  const ll = c.lingerLimit;
  const linger = ll && ll.closedEarly > 0 ? `; ${ll.closedEarly} closed flows finished before their 5 s linger (${ll.latePackets} late packets not added)` : '';
  return `${c.file}: ${c.format ?? 'unknown format'}, ${c.packets} packets read = ${c.decoded} decoded + ${skipped} skipped${reasons ? ` (${reasons})` : ''} + ${c.malformed} malformed${fragments}; ${flows}${linger}${c.stoppedEarly ? '; reading stopped early (see diagnostics)' : ''}`;
}
