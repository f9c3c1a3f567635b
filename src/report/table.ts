import type { AnalysisResult, CaptureSummary, FlowResult } from '../pipeline.js';
import { fmtDuration } from '../rules/format.js';
import type { Verdict } from '../rules/verdict.js';
import { TextTable } from './text-table.js';

// The default human report: one row per flow, then capture-level verdicts and packet accounting.

export interface TableOptions {
  color: boolean;
  /** Terminal width, to size the verdict column. */
  width?: number;
}

const SEV_MARK = { error: 'ERROR', warning: 'WARN', info: 'info' } as const;
const SEV_COLOR = { error: 31, warning: 33, info: 2 } as const;

function paint(on: boolean, code: number, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

export function verdictLine(v: Verdict, color: boolean): string {
  return `${paint(color, SEV_COLOR[v.severity], `${SEV_MARK[v.severity]} ${v.code}`)}: ${v.summary}`;
}

/** A header row again every this many flows, so a long report stays readable as it scrolls. */
const ROWS_PER_TABLE = 500;
const HEADER = ['flow', 'client -> server', 'state', 'history', 'duration', 'verdicts'];
const CYAN = (s: string) => `\u001b[36m${s}\u001b[39m`;
const GREY = (s: string) => `\u001b[90m${s}\u001b[39m`;

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

/** The table report written as flows arrive: each flow's row as soon as it is judged. */
export class TableFlowStream {
  private readonly table: TextTable;
  private inTable = 0;
  private shown = 0;

  constructor(
    private readonly opts: TableOptions,
    private readonly write: (s: string) => void,
  ) {
    const width = Math.max(100, opts.width ?? 160);
    this.table = new TextTable([6, 46, 8, 14, 10, Math.max(40, width - 96)], opts.color ? { head: CYAN, border: GREY } : {});
  }

  flow(f: FlowResult): void {
    if (this.inTable === ROWS_PER_TABLE) this.closeTable();
    if (this.inTable === 0) this.write(`${this.table.top(HEADER)}\n`);
    this.inTable++;
    this.shown++;
    // Verdicts are wrapped as plain text; their severity and code are coloured afterwards, on the
    // line each verdict starts.
    const verdicts = f.verdicts.length ? f.verdicts.map((v) => verdictLine(v, false)).join('\n') : '-';
    const cells = [String(f.id), `${f.client}\n-> ${f.server}`, f.state, f.history, fmtDuration(f.end - f.start), verdicts];
    const paintVerdict = (line: string, column: number, paragraph: number): string => {
      if (column !== 5 || paragraph < 0 || !f.verdicts.length) return line;
      const v = f.verdicts[paragraph];
      const mark = `${SEV_MARK[v.severity]} ${v.code}`;
      return line.startsWith(mark) ? paint(true, SEV_COLOR[v.severity], mark) + line.slice(mark.length) : line;
    };
    this.write(`${this.table.next(cells, this.opts.color ? paintVerdict : undefined)}\n`);
  }

  private closeTable(): void {
    if (this.inTable === 0) return;
    this.write(`${this.table.bottom()}\n`);
    this.inTable = 0;
  }

  end(result: AnalysisResult): void {
    this.closeTable();
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
  return `${c.file}: ${c.format ?? 'unknown format'}, ${c.packets} packets read = ${c.decoded} decoded + ${skipped} skipped${reasons ? ` (${reasons})` : ''}${c.captureFilter ? ` + ${c.filtered} filtered (by '${c.captureFilter}')` : ''} + ${c.malformed} malformed${fragments}; ${flows}${linger}${c.stoppedEarly ? '; reading stopped early (see diagnostics)' : ''}`;
}
