// The flow table is drawn by TextTable, which must draw exactly what cli-table3 draws for the same
// rows (fixed colWidths, wordWrap, no colour): checked on every bundled sample's flows and on cells
// made to hit the wrapping and cutting rules, with cli-table3 itself as the reference.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { renderTable, verdictLine } from '../../src/report/table.js';
import { displayWidth, fit, TextTable, wrapCell } from '../../src/report/text-table.js';
import { fmtDuration } from '../../src/rules/format.js';

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));
const HEADER = ['flow', 'client -> server', 'state', 'history', 'duration', 'verdicts'];
const widthsFor = (terminal: number) => [6, 46, 8, 14, 10, Math.max(40, terminal - 96)];

function withCliTable3(widths: number[], rows: string[][]): string {
  const table = new Table({ head: HEADER, style: { head: [], border: [] }, colWidths: widths, wordWrap: true });
  for (const r of rows) table.push(r);
  return table.toString();
}

function withTextTable(widths: number[], rows: string[][]): string {
  const t = new TextTable(widths);
  return [t.top(HEADER), ...rows.map((r) => t.next(r)), t.bottom()].join('\n');
}

const rowOf = (f: FlowResult) => [
  String(f.id),
  `${f.client}\n-> ${f.server}`,
  f.state,
  f.history,
  fmtDuration(f.end - f.start),
  f.verdicts.length ? f.verdicts.map((v) => verdictLine(v, false)).join('\n') : '-',
];

const stripAnsi = (s: string) => s.replace(/\u001b\[\d+m/g, '');

describe('TextTable draws what cli-table3 draws', () => {
  it('for the flows of every bundled sample, at three terminal widths', async () => {
    const rows: string[][] = [];
    for (const name of readdirSync(SAMPLES).filter((n) => n.endsWith('.pcap')).sort()) {
      for (const f of (await analyzeFile(`${SAMPLES}${name}`)).flows) rows.push(rowOf(f));
    }
    expect(rows.length).toBeGreaterThan(40);
    for (const terminal of [100, 160, 220]) {
      expect(withTextTable(widthsFor(terminal), rows)).toBe(withCliTable3(widthsFor(terminal), rows));
    }
  });

  it('for cells that wrap, cut, hold runs of spaces, empty paragraphs or wide characters', () => {
    const long = 'x'.repeat(70);
    const rows = [
      ['1', 'a\n\nb', '', 'ShADadFf', '0.1 ms', `ERROR no-response: GET /${long} got no answer`],
      ['22', '  leading and   inner   spaces', 'SF', 'h'.repeat(20), '12.5 s', 'one\ntwo words here\n\nthree'],
      ['333333', 'café → 服务器:443', 'OTH', '^hADad', '-', `${'word '.repeat(30)}end`],
      ['4', long, 'S0', 'S', '3.0 s', '-'],
    ];
    for (const terminal of [100, 160]) {
      expect(withTextTable(widthsFor(terminal), rows)).toBe(withCliTable3(widthsFor(terminal), rows));
    }
  });
});

describe('TextTable pieces', () => {
  it('measures and cuts by terminal columns', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('服务器')).toBe(6);
    expect(displayWidth('e\u0301')).toBe(1); // e and a combining acute accent
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('服务器', 4)).toBe('服… '); // 3 columns, padded to 4
    expect(fit('ab', 4)).toBe('ab  ');
  });

  it('wraps at whitespace and tells where each paragraph starts', () => {
    const starts: number[] = [];
    expect(wrapCell('alpha beta gamma\ndelta', 11, starts)).toEqual(['alpha beta', 'gamma', 'delta']);
    expect(starts).toEqual([0, 2]);
  });
});

describe('the flow table in colour', () => {
  it('colours borders, header and each verdict mark, and reads the same once colours are stripped', async () => {
    const result = await analyzeFile(`${SAMPLES}ws-http10-fin.pcap`);
    const coloured = renderTable(result, result.flows, { color: true, width: 120 });
    const bare = renderTable(result, result.flows, { color: false, width: 120 });
    expect(stripAnsi(coloured)).toBe(bare);
    expect(coloured).toContain('\u001b[31mERROR ws-fin-after-101\u001b[0m:');
    expect(coloured).toContain('\u001b[36m flow \u001b[39m');
    expect(coloured).toContain('\u001b[90m│\u001b[39m');
  });
});
