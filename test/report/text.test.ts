// The default text report: summary first, problem groups with their fix, problem flows in a fixed
// order, healthy flows counted; every line within the width and no word cut, on a terminal of 80,
// 100 or 160 columns and piped.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { streamFlows, type FlowResult } from '../../src/pipeline.js';
import { groupProblems } from '../../src/report/groups.js';
import { TextReport } from '../../src/report/text.js';
import { PIPED_WIDTH, wrap } from '../../src/report/wrap.js';
import { useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';

const corpus = useCorpus();
const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));
const sample = (name: string) => `${SAMPLES}${name}`;
const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.pcap'));

/** `tcpwhy ARGS` as a command line run on a terminal of `columns` (or piped when null): its stdout. */
async function cli(args: string[], columns: number | null): Promise<string> {
  const io = memoryIo(columns !== null, { NO_COLOR: '1' });
  if (columns !== null) io.columns = columns;
  const code = await run(args, io);
  expect([0, 1], io.err).toContain(code);
  return io.out;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);

/**
 * Every line within `width`, and the text the same words as laid out without a width limit: a word
 * cut in two would show as two words (or a line too long as a failure of the first check).
 */
function expectFits(narrow: string, wide: string, width: number, label: string): void {
  for (const line of narrow.split('\n')) expect(line.length, `${label}: ${width}: ${line}`).toBeLessThanOrEqual(width);
  expect(words(narrow), label).toEqual(words(wide));
}

describe('the text report fits the width', () => {
  it.each(samples)('%s at 80, 100 and 160 columns, on a terminal and piped (100)', async (name) => {
    const wide = await cli(['analyze', sample(name), '--all', '--width', '10000'], null);
    for (const width of [80, 100, 160]) {
      expectFits(await cli(['analyze', sample(name), '--all', '--width', String(width)], null), wide, width, name);
      expectFits(await cli(['analyze', sample(name), '--all'], width), wide, width, `${name} (terminal)`);
    }
    expectFits(await cli(['analyze', sample(name), '--all'], null), wide, PIPED_WIDTH, `${name} (piped)`);
  });

  it('puts an IPv6 address too long for the rest of a line on a line of its own, whole', () => {
    const head = '[2001:470:1f11:81f:c999:d94:aa7c:2e3e]:49185 -> [2001:470:4867:99::21]:57086  SF  ShAdfFa  329 ms';
    const lines = wrap(head, 80, 'flow 2  ', 4);
    expect(lines).toEqual(['flow 2  [2001:470:1f11:81f:c999:d94:aa7c:2e3e]:49185 ->', '    [2001:470:4867:99::21]:57086  SF  ShAdfFa  329 ms']);
    // A word wider than the continuation's room starts at the margin; only one wider than the width is cut.
    expect(wrap('a 123456789012345', 16, '', 4)).toEqual(['a', '123456789012345']);
    expect(wrap('a 12345678901234567', 16, '', 4)).toEqual(['a', '1234567890123456', '7']);
  });

  it('fits the ladder and the diff too, at 80, 100 and 160 columns', async () => {
    for (const args of [
      ['flow', sample('nginx-ws-bad.pcap'), '2'],
      ['flow', sample('lossy-transfer.pcap'), '1', '--max-lines', '30'],
      ['flow', sample('syn-timeout.pcap'), '1'],
      ['diff', sample('nginx-ws-good.pcap'), sample('nginx-ws-bad.pcap')],
      ['diff', sample('http-clean.pcap'), sample('refused.pcap')],
    ]) {
      for (const width of [80, 100, 160]) {
        const out = await cli([...args, '--width', String(width)], null);
        for (const line of out.split('\n')) expect(line.length, `${args.join(' ')} at ${width}: ${line}`).toBeLessThanOrEqual(width);
      }
    }
  });
});

describe('the text report, summary first', () => {
  it('says the capture, the flows by outcome and each problem group with its fix before any flow', async () => {
    const out = await cli(['analyze', sample('listen-overflow.pcap')], null);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^\/.*listen-overflow\.pcap: pcap, 3\.55 s from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$/);
    expect(lines[1]).toBe('38 packets read = 38 decoded + 0 skipped + 0 malformed.');
    expect(lines[2]).toBe('8 TCP flows: 4 with errors, 2 with warnings only, 2 without problems (2 cut off by the end of the');
    const heads = lines.filter((l) => /^(ERROR|WARN|info) /.test(l));
    expect(heads).toEqual([
      'ERROR  4 connections to 10.231.233.222:8080 timed out (SYN never answered)',
      'WARN   listen queue of 10.231.233.222:8080 overflowed: 10 SYNs from 4 connections dropped while it',
      'WARN   2 connections to 10.231.233.222:8080 saw the SYN-ACK re-sent (final ACK lost or accept queue',
    ]);
    const firstFlow = lines.findIndex((l) => /^flow \d+  /.test(l));
    expect(firstFlow).toBeGreaterThan(lines.indexOf(heads[2]));
    // Flows by group (the syn-timeouts, then the SYN-ACK retries), then by id.
    expect([...out.matchAll(/^flow (\d+)  /gm)].map((m) => Number(m[1]))).toEqual([5, 6, 7, 8, 2, 3]);
  });

  it('shows each group fix once, wrapped, with the hint of its flows', async () => {
    const { flows, verdicts } = judged(sample('listen-overflow.pcap'));
    const out = await cli(['analyze', sample('listen-overflow.pcap'), '--width', '80'], null);
    const joined = words(out).join(' ');
    for (const g of groupProblems(flows, verdicts)) {
      expect(joined).toContain(`Fix: ${words(g.hint).join(' ')}`);
      expect(joined.split(words(g.hint).join(' ')).length - 1, g.code).toBe(1);
    }
  });

  it('folds healthy flows into counts and lists them only with --all', async () => {
    const out = await cli(['analyze', sample('nginx-ws-good.pcap')], null);
    expect(out).toContain('2 TCP flows: 2 without problems (2 WebSocket sessions OK).');
    expect(out).toContain('No problems found.');
    expect(out).not.toMatch(/^flow /m);
    const all = await cli(['analyze', sample('nginx-ws-good.pcap'), '--all'], null);
    expect([...all.matchAll(/^flow (\d+)  /gm)].map((m) => Number(m[1]))).toEqual([1, 2]);
    expect(all).toMatch(/^ {2}info ws-ok {2}WebSocket protocol OK/m);
    // --only-problems keeps working, and wins over --all.
    expect(await cli(['analyze', sample('nginx-ws-good.pcap'), '--only-problems', '--all'], null)).toBe(out);
  });

  it('leaves out an info verdict that only repeats the state under an error, keeps one that adds a fact', async () => {
    const out = await cli(['analyze', sample('nginx-ws-bad.pcap')], null);
    const block = blockOf(out, 2);
    expect(block).toMatch(/ERROR ws-upgrade-http10 /);
    expect(block).not.toMatch(/clean-close/);
    const all = await cli(['analyze', sample('listen-overflow.pcap')], null);
    expect(blockOf(all, 2)).toMatch(/^ {2}info capture-ended {2}the capture ended/m);
  });

  it('writes code and summary as one sentence: no colon after the code, no code repeated', async () => {
    for (const name of samples) {
      const out = await cli(['analyze', sample(name), '--all'], null);
      for (const m of out.matchAll(/^ {2}(ERROR|WARN|info) ([a-z0-9-]+)(.*)$/gm)) {
        expect(m[3], `${name}: ${m[0]}`).toMatch(/^ {2}\S/);
        expect(m[3].trim().toLowerCase().startsWith(m[2].replace(/-/g, ' ')), `${name}: ${m[0]}`).toBe(false);
      }
      expect(out, name).not.toMatch(/SYN retries: no answer/);
    }
  });

  it('keeps at most 500 problem flows, the first of each group, and says how many it left out', () => {
    const { flows, verdicts, result } = judged(sample('port-reuse.pcap'));
    const problems = flows.filter((f) => f.verdicts.some((v) => v.severity !== 'info'));
    let out = '';
    const report = new TextReport({ color: false, width: 100 }, (s) => (out += s));
    // The capture's problem flows 30 times over, renumbered: 1,080 problem flows of one group.
    const many: FlowResult[] = [];
    for (let copy = 0; copy < 30; copy++) for (const f of problems) many.push({ ...f, id: many.length + 1 });
    for (const f of many) report.flow(f);
    report.end({ ...result, verdicts, flowCount: many.length });
    const shown = [...out.matchAll(/^flow (\d+)  /gm)].map((m) => Number(m[1]));
    expect(shown).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(out).toContain(`Problem flows (the first 200 of ${many.length.toLocaleString('en-US')}), most severe first:`);
    expect(out).toMatch(new RegExp(`… ${many.length - 200} more problem flows not shown`));
    expect(out).toContain(`WARN   ${many.length.toLocaleString('en-US')} connections from 10.231.184.105 reused a 4-tuple within TIME_WAIT`);
  });
});

corpus.describe('the text report on public captures', () => {
  it('ppa3 synscan: the port scan is the first finding, on the first screen', async () => {
    const out = await cli(['analyze', corpus.path('ppa/ppa3/synscan.pcapng'), '--width', '80'], null);
    const lines = out.split('\n');
    const finding = lines.findIndex((l) => l.startsWith('WARN   172.16.0.8 probed 1000 ports of 64.13.134.52'));
    expect(finding).toBeGreaterThanOrEqual(0);
    expect(finding).toBeLessThan(10);
    expect(lines[3]).toBe('1,994 TCP flows: 1,994 without problems (1,994 scan probes).');
    expect(lines.length).toBeLessThan(24);
  });

  it('http_espn_fail: nine timed-out connections are one line, then the flows in group order', async () => {
    const file = corpus.path('ppa/ppa3/http_espn_fail.pcapng');
    const out = await cli(['analyze', file], null);
    const heads = out.split('\n').filter((l) => /^(ERROR|WARN|info) /.test(l));
    expect(heads).toEqual(['ERROR  9 connections to 203.0.113.94:80 timed out (SYN never answered)']);
    expect(out).toMatch(/^ {7}syn-timeout, unroutable-address; flows 3, 4, 5, 6, 7, …; 20:59:15\.750 to 21:00:50\.343$/m);
    expect([...out.matchAll(/^flow (\d+)  /gm)].map((m) => Number(m[1]))).toEqual([3, 4, 5, 6, 7, 10, 14, 15, 16]);
    // syn-timeout's and unroutable-address's fixes end with the same sentence on where the address came from: said once.
    expect(out.replace(/\s+/g, ' ').split('The address came from no DNS answer in this capture').length - 1).toBe(1);
    const wide = await cli(['analyze', file, '--all', '--width', '10000'], null);
    // Flow 8: the server closed a keep-alive connection idle 15 s that the client still held (its keep-alive probe #523 came later), then its RST
    // answered that probe after its own FIN #498: nothing was in flight, and both verdicts are info.
    expect(wide).toContain('info idle-close  idle 15.2 s, then the server closed the connection (FIN #498): 15 s is a typical idle timeout');
    expect(wide).toContain('info rst-by-server  connection reset by the server (RST #524, after its own FIN #498');
    for (const width of [80, 100, 160]) expectFits(await cli(['analyze', file, '--all', '--width', String(width)], null), wide, width, 'http_espn_fail');
  });

  it('an IPv6 capture at 80 columns: every address whole, every line within the width', async () => {
    const file = corpus.path('zeek/ftp/ipv6.pcap');
    const wide = await cli(['analyze', file, '--all', '--width', '10000'], null);
    const out = await cli(['analyze', file, '--all', '--width', '80'], null);
    expectFits(out, wide, 80, 'ipv6.pcap');
    expect(out).toContain('flow 1  [2001:470:1f11:81f:c999:d94:aa7c:2e3e]:49185 ->\n    [2001:470:4867:99::21]:21  SF');
    const ladder = await cli(['flow', file, '1', '--width', '80'], null);
    for (const line of ladder.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(ladder).toContain('[2001:470:1f11:81f:c999:d94:aa7c:2e3e]:49185');
  });
});

function judged(path: string) {
  const flows: FlowResult[] = [];
  const result = streamFlows(path, (f) => flows.push(f), { keepEvents: false });
  return { flows, verdicts: result.verdicts, result };
}

/** The block of flow `id` in a report. */
function blockOf(out: string, id: number): string {
  const m = new RegExp(`^flow ${id}  [^\\n]*(\\n {2,}[^\\n]*)*`, 'm').exec(out);
  expect(m, `no block of flow ${id}`).not.toBeNull();
  return m![0];
}
