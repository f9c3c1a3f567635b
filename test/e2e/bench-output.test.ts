// The benchmark's 500 k-packet mix (scripts/gen-synthetic.mjs, seed 1) analysed in every report
// format, against the digests of the outputs recorded in test/golden/bench-mix-500k.json. Speed work
// (flow state in columns, lean dissectors, facts built on demand) must leave every byte of the
// reports as it was; a change that is meant to alter them records the new digests with
// `TCPWHY_RECORD_GOLDEN=1 npx vitest run --config test/vitest.config.ts test/e2e/bench-output.test.ts`
// and says in its commit what changed and why. Each report is made in one thread and again with a
// dissector thread (`--workers 2`), which must give the same bytes.
//
// It runs the built command (the test run builds it first) in a child process: an analysis of 500 k
// packets in the test's own thread holds its event loop for as long as it takes, and on a loaded
// machine the test runner gives up waiting for it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a script without type declarations
import { generateSyntheticCapture } from '../../scripts/gen-synthetic.mjs';

const BIN = join(process.cwd(), 'bin/tcpwhy.js');
const GOLDEN = join(process.cwd(), 'test/golden/bench-mix-500k.json');
const RECORD = process.env.TCPWHY_RECORD_GOLDEN === '1';
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-bench-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FORMATS: Record<string, string[]> = {
  text: [],
  json: ['--json'],
  detail: ['--json', '--detail'],
  zeek: ['--format', 'zeek'],
};

interface Golden {
  packets: number;
  /** The text report's first lines: what a reader sees when a digest no longer matches. */
  head: string[];
  /** Verdicts of the compact JSON document, severity and code, counted. */
  verdicts: Record<string, number>;
  sha256: Record<string, string>;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
/** The output without what changes from run to run: the capture's temporary folder, and the time the conn.log was written. */
function stable(out: string, file: string): string {
  return out.replaceAll(file, 'mix500k.pcap').replace(/^#(open|close)\t.*$/gm, '#$1');
}

/** Runs `tcpwhy analyze FILE ARGS` with its output to a file; resolves with the exit code, the output and what it wrote to stderr. */
async function analyze(file: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const outFile = join(dir, 'out');
  const fd = openSync(outFile, 'w');
  const child = spawn(process.execPath, [BIN, 'analyze', file, ...args], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out: readFileSync(outFile, 'utf8'), err };
}

describe('the benchmark mix, 500 k packets', () => {
  it('gives the recorded report in text, --json, --json --detail and --format zeek, in one thread and with a dissector thread', async () => {
    const file = join(dir, 'mix500k.pcap');
    const g = generateSyntheticCapture({ out: file, packets: 500_000 });
    const outputs: Record<string, string> = {};
    for (const [name, args] of Object.entries(FORMATS)) {
      const r = await analyze(file, [...args, '--workers', '1']);
      expect(r.code, r.err).toBe(0);
      outputs[name] = stable(r.out, file);
      const threaded = await analyze(file, [...args, '--workers', '2']);
      expect(threaded.code, threaded.err).toBe(0);
      expect(sha256(stable(threaded.out, file)), `${name} --workers 2`).toBe(sha256(outputs[name]));
    }
    const verdicts: Record<string, number> = {};
    const doc = JSON.parse(outputs.json) as { flows: { verdicts: { severity: string; code: string }[] }[] };
    for (const f of doc.flows) for (const v of f.verdicts) verdicts[`${v.severity} ${v.code}`] = (verdicts[`${v.severity} ${v.code}`] ?? 0) + 1;
    const got: Golden = {
      packets: g.packets,
      head: outputs.text.split('\n').slice(0, 5),
      verdicts: Object.fromEntries(Object.entries(verdicts).sort(([a], [b]) => (a < b ? -1 : 1))),
      sha256: Object.fromEntries(Object.entries(outputs).map(([name, out]) => [name, sha256(out)])),
    };
    if (RECORD) writeFileSync(GOLDEN, `${JSON.stringify(got, null, 2)}\n`);
    const want = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
    // The readable parts first, so that a difference shows what moved before the digests do.
    expect(got.packets).toBe(want.packets);
    expect(got.head).toEqual(want.head);
    expect(got.verdicts).toEqual(want.verdicts);
    expect(got.sha256).toEqual(want.sha256);
  }, 600_000);
});
