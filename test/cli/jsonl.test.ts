// --format jsonl streams: a line per flow as the flow ends, then one summary line, so a capture of
// any size goes through in constant memory. And the compact JSON stays small on the benchmark mix.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a script without type declarations
import { generateSyntheticCapture } from '../../scripts/gen-synthetic.mjs';
import { run } from '../../src/cli/main.js';
import { memoryIo } from '../helpers/io.js';

const BIN = join(process.cwd(), 'bin/tcpwhy.js');
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The benchmark's flow mix (scripts/gen-synthetic.mjs), 30,000 packets, about 1,900 flows: as the
 * benchmark runs it (about 200 open at once, over 5 s), or 20 at a time over 75 s, so that flows
 * end all along the capture.
 */
function benchmarkMix(concurrency?: number): string {
  const file = join(dir, `mix-${concurrency ?? 'default'}.pcap`);
  if (!existsSync(file)) generateSyntheticCapture({ out: file, packets: 30_000, ...(concurrency ? { concurrency } : {}) });
  return file;
}

type Line = { type: string; id?: number; verdicts?: { severity: string; code: string; hint?: string }[]; counts?: { flows: number }; hints?: Record<string, string> };

describe('--format jsonl', () => {
  it('writes flow lines while the capture is still being read from a pipe, then the summary', async () => {
    const bytes = readFileSync(benchmarkMix(20));
    const child = spawn(process.execPath, [BIN, 'analyze', '-', '--format', 'jsonl'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Half the capture: the flows that ended more than 5 s (the close linger) before its last packet are out.
    const cut = Math.floor(bytes.length / 2);
    child.stdin.write(bytes.subarray(0, cut));
    const deadline = Date.now() + 30_000;
    while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const before = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    expect(before.length, `nothing written before the end of the input: ${err}`).toBeGreaterThan(0);
    expect(before.every((l) => l.type === 'flow')).toBe(true);
    expect(child.exitCode).toBeNull(); // still reading: the rest of the capture was not sent yet
    child.stdin.end(bytes.subarray(cut));
    expect(await exited, err).toBe(0);
    const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    const summary = lines[lines.length - 1];
    expect(summary.type).toBe('summary');
    expect(lines.slice(0, -1).every((l) => l.type === 'flow')).toBe(true);
    expect(summary.counts!.flows).toBe(lines.length - 1);
    // The lines written early are the first lines of the whole output, unchanged.
    expect(lines.slice(0, before.length)).toEqual(before);
  });
});

describe('compact JSON', () => {
  it('takes at most 600 bytes per healthy flow on the benchmark mix, and writes each hint once', async () => {
    const io = memoryIo();
    expect(await run(['analyze', benchmarkMix(), '--json'], io)).toBe(0);
    const doc = JSON.parse(io.out) as { flows: Line[]; verdicts: { code: string }[]; hints: Record<string, string> };
    // A flow as written: its line in the document, with the indent and the comma.
    const lineBytes = (f: Line) => Buffer.byteLength(JSON.stringify(f)) + 6;
    const healthy = doc.flows.filter((f) => f.verdicts!.every((v) => v.severity === 'info'));
    expect(healthy.length).toBeGreaterThan(doc.flows.length / 2);
    const mean = healthy.reduce((n, f) => n + lineBytes(f), 0) / healthy.length;
    expect(mean).toBeLessThanOrEqual(600);
    // --detail holds everything: many times the compact flow.
    const detail = memoryIo();
    await run(['analyze', benchmarkMix(), '--json', '--detail'], detail);
    expect(detail.out.length).toBeGreaterThan(5 * io.out.length);
    // A hint is in the map, or in a verdict whose hint differs from its code's: never both.
    const verdicts = doc.flows.flatMap((f) => f.verdicts!);
    for (const v of verdicts) if (v.hint !== undefined) expect(v.hint).not.toBe(doc.hints[v.code] ?? '');
    // Only codes that occur, in a flow or in the capture-level verdicts.
    const codes = new Set([...verdicts, ...doc.verdicts].map((v) => v.code));
    expect(Object.keys(doc.hints).filter((code) => !codes.has(code))).toEqual([]);
    expect(Object.keys(doc.hints).length).toBeGreaterThan(5);
    expect(verdicts.filter((v) => v.hint !== undefined).length).toBeLessThan(verdicts.length / 10);
  });
});
