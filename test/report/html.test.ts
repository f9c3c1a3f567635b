import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { readFlowPackets } from '../../src/diff/packets.js';
import { analyzeFile } from '../../src/pipeline.js';
import { escapeHtml, MAX_BARS } from '../../src/report/html.js';
import { HOSTILE, writeHostileCapture } from '../helpers/hostile.js';
import { memoryIo } from '../helpers/io.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-html-'));
let pages = 0;

/** Runs tcpwhy with `--html OUT` appended and returns the exit code, the page and what was printed. */
async function html(args: string[]): Promise<{ code: number; page: string; out: string; err: string }> {
  const out = join(dir, `page-${++pages}.html`);
  const io = memoryIo();
  const code = await run([...args, '--html', out], io);
  return { code, page: code <= 1 ? readFileSync(out, 'utf8') : '', out: io.out, err: io.err };
}

/** The page loads nothing and runs nothing: no script, no external reference, a policy forbidding both. */
function expectSelfContained(page: string): void {
  expect(page).toMatch(/^<!doctype html>/);
  expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  expect(page).not.toMatch(/<(script|img|iframe|link|object|embed|foreignObject|image|use)\b/i);
  // In any tag: no event handler, no source, no link out of the page.
  expect(page).not.toMatch(/<[a-z][^>]*\s(on[a-z]+|src|xlink:href)=/i);
  expect(page).not.toMatch(/href="(?!#)|url\(|@import/i);
  expect(page).toContain('@media (prefers-color-scheme: dark)');
}

/** The packet numbers drawn in each ladder of the page, in order. */
function ladders(page: string): number[][] {
  return [...page.matchAll(/<svg class="ladder"[\s\S]*?<\/svg>/g)].map((m) => [...m[0].matchAll(/<g class="pkt[^"]*" data-no="(\d+)">/g)].map((n) => Number(n[1])));
}

function packetNumbers(file: string, id: number): number[] {
  const result = analyzeFile(file);
  const flow = result.flows.find((f) => f.id === id)!;
  return readFlowPackets(file, flow).packets.map((p) => p.no);
}

describe('analyze --html', () => {
  it('writes one self-contained page with the groups, their fixes, the timeline and a ladder per problem group', async () => {
    const file = sample('nginx-ws-bad.pcap');
    const r = await html(['analyze', file]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toContain('HTML report written (2 flows, 2 ladders)');
    expectSelfContained(r.page);
    const result = analyzeFile(file);
    // Every warning and error of the capture is in a group row, with its fix.
    for (const f of result.flows)
      for (const v of f.verdicts.filter((x) => x.severity !== 'info')) {
        expect(r.page).toContain(`<code class="code">${v.code}</code>`);
        expect(r.page).toContain(escapeHtml(v.hint));
        expect(r.page).toContain(escapeHtml(v.summary));
      }
    // In the groups' order; here one group each.
    expect(ladders(r.page)).toHaveLength(2);
    expect(ladders(r.page)).toEqual(expect.arrayContaining([packetNumbers(file, 1), packetNumbers(file, 2)]));
    expect(r.page).toContain('<svg class="timeline"');
    expect(r.page.match(/<rect class="bar o-error"/g)).toHaveLength(2);
  });

  it('marks each verdict at the packets it rests on', async () => {
    const file = sample('syn-timeout.pcap');
    const r = await html(['analyze', file]);
    const [flow] = analyzeFile(file).flows;
    const [v] = flow.verdicts;
    expect(v.code).toBe('syn-timeout');
    for (const no of v.packets) expect(r.page).toMatch(new RegExp(`<g class="pkt k-syn has-verdict sev-error" data-no="${no}">.*?<g class="vm sev-error">.*?ERROR syn-timeout</text>`));
    // Silences of a second or more are folded into a band with their length.
    expect(r.page).toMatch(/<g class="idle">.*?1\.01 s idle</);
  });

  it('keeps the timeline bounded on a capture of many flows: intervals, not one bar per flow', async () => {
    const file = sample('port-scan.pcap');
    const result = analyzeFile(file);
    expect(result.flowCount).toBeGreaterThan(MAX_BARS);
    const r = await html(['analyze', file]);
    const timeline = /<svg class="timeline"[\s\S]*?<\/svg>/.exec(r.page)![0];
    expect((timeline.match(/<rect class="bar/g) ?? []).length).toBeLessThanOrEqual(3 * 120);
    const started = [...timeline.matchAll(/: (\d+) flows started/g)].reduce((s, m) => s + Number(m[1]), 0);
    expect(started).toBe(result.flowCount);
  });

  it('draws the flow asked with --flow, healthy or not', async () => {
    const file = sample('ws-healthy.pcap');
    const r = await html(['analyze', file, '--flow', '1']);
    expect(r.code).toBe(0);
    expect(ladders(r.page)).toEqual([packetNumbers(file, 1)]);
    expect(r.page).toContain('WS close 1000 (normal) &quot;done&quot;');
  });

  it('refuses --json, another --format or --zeek-verdicts beside it and standard input (read twice), and says why', async () => {
    const both = memoryIo();
    expect(await run(['analyze', sample('refused.pcap'), '--json', '--html', join(dir, 'x.html')], both)).toBe(2);
    expect(both.err).toContain('--html and --format json');
    const zeek = memoryIo();
    expect(await run(['analyze', sample('refused.pcap'), '--format', 'zeek', '--html', join(dir, 'z.html')], zeek)).toBe(2);
    expect(zeek.err).toContain('--html and --format zeek');
    const detail = memoryIo();
    expect(await run(['analyze', sample('refused.pcap'), '--detail', '--html', join(dir, 'd.html')], detail)).toBe(2);
    expect(detail.err).toContain('--detail widens the JSON formats (json, jsonl), not the HTML report');
    const verdicts = memoryIo();
    expect(await run(['analyze', sample('refused.pcap'), '--zeek-verdicts', join(dir, 'v.log'), '--html', join(dir, 'v.html')], verdicts)).toBe(2);
    expect(verdicts.err).toContain('--zeek-verdicts goes with the Zeek formats, not --html');
    expect(existsSync(join(dir, 'v.log')) || existsSync(join(dir, 'v.html'))).toBe(false);
    const stdin = memoryIo();
    expect(await run(['analyze', '-', '--html', join(dir, 'y.html')], stdin)).toBe(2);
    expect(stdin.err).toContain('give a file, not standard input');
    const nowhere = memoryIo();
    const missing = join(dir, 'no-such-folder', 'report.html');
    expect(await run(['analyze', sample('refused.pcap'), '--html', missing], nowhere)).toBe(3);
    expect(nowhere.err).toContain(`cannot write the HTML report to ${missing}: ENOENT`);
  });

  it('writes the page to standard output with --html -', async () => {
    const io = memoryIo();
    expect(await run(['analyze', sample('refused.pcap'), '--html', '-'], io)).toBe(0);
    expectSelfContained(io.out);
    expect(io.err).toBe('');
  });

  it('exits 1 under --fail-on as analyze does', async () => {
    expect((await html(['analyze', sample('refused.pcap'), '--fail-on', 'error'])).code).toBe(1);
    expect((await html(['analyze', sample('http-clean.pcap'), '--fail-on', 'error'])).code).toBe(0);
  });
});

describe('flow --html and diff --html', () => {
  it('flow --html draws every packet of the flow with its TLS annotations', async () => {
    const file = sample('tls-unknown-ca.pcap');
    const r = await html(['flow', file, '1']);
    expect(r.code).toBe(0);
    expectSelfContained(r.page);
    expect(ladders(r.page)).toEqual([packetNumbers(file, 1)]);
    expect(r.page).toMatch(/data-no="4">.*?TLS ClientHello SNI localhost/);
  });

  it('diff --html puts the two ladders side by side and highlights the first divergence in each', async () => {
    const good = sample('ws-healthy.pcap');
    const bad = sample('ws-http10-fin.pcap');
    const r = await html(['diff', good, bad]);
    expect(r.code).toBe(0);
    expectSelfContained(r.page);
    expect(ladders(r.page)).toEqual([packetNumbers(good, 1), packetNumbers(bad, 1)]);
    // The text diff names the divergence: step 4, the client's request, #4 on both sides.
    const text = memoryIo();
    await run(['diff', good, bad], text);
    const [, step, goodNo, badNo] = /First divergence at step (\d+) \(client request\):\n {2}GOOD #(\d+) .*\n {2}BAD {2}#(\d+)/.exec(text.out)!;
    expect(r.page).toContain(`First divergence at step ${step} (client request)`);
    const marked = [...r.page.matchAll(/<g class="pkt [^"]*\bdiverge" data-no="(\d+)">/g)].map((m) => m[1]);
    expect(marked).toEqual([goodNo, badNo]);
    expect(r.page).toContain('<div class="pair">');
  });
});

describe('what came off the wire is text, never markup', () => {
  const file = writeHostileCapture();

  it('escapes the request target, headers, WebSocket close reason and SNI in every page', async () => {
    const analyze = await html(['analyze', file]);
    const flow = await html(['flow', file, '1']);
    const diff = await html(['diff', `${file}#1`, `${file}#2`]);
    for (const r of [analyze, flow, diff]) {
      expect(r.code).toBe(0);
      expectSelfContained(r.page);
    }
    // The words are all there, as text.
    expect(analyze.page).toContain(`SNI ${escapeHtml(HOSTILE.sni)}`);
    expect(flow.page).toContain(`HTTP GET ${escapeHtml(HOSTILE.target)} HTTP/1.1`);
    expect(flow.page).toContain(`WS close 1000 (normal) &quot;${escapeHtml(HOSTILE.reason)}&quot;`);
    expect(diff.page).toContain(escapeHtml(HOSTILE.server));
    expect(escapeHtml(HOSTILE.target)).toBe('/&lt;script&gt;alert(1)&lt;/script&gt;?q=&quot;x&quot;&amp;y=&#39;z&#39;');
  });
});
