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

export function renderTable(result: AnalysisResult, flows: FlowResult[], opts: TableOptions): string {
  const out: string[] = [];
  const width = Math.max(100, opts.width ?? 160);
  const verdictWidth = Math.max(40, width - 96);
  const table = new Table({
    head: ['flow', 'client -> server', 'state', 'history', 'duration', 'verdicts'],
    style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [] },
    colWidths: [6, 46, 8, 14, 10, verdictWidth],
    wordWrap: true,
  });
  for (const f of flows) {
    const verdicts = f.verdicts.length ? f.verdicts.map((v) => verdictLine(v, opts.color)).join('\n') : '-';
    table.push([String(f.id), `${f.client}\n-> ${f.server}`, f.state, f.history, fmtDuration(f.end - f.start), verdicts]);
  }
  if (flows.length) out.push(table.toString());
  else out.push('No TCP flows to show.');
  for (const v of result.verdicts) out.push(verdictLine(v, opts.color));
  out.push(accountingLine(result.capture, result.flows.length, flows.length));
  return out.join('\n');
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
