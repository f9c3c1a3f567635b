// `analyze A B C --workers N` analyses the files N at once, each in a thread of its own: the
// output (report, diagnostics, tcpwhy.log, exit code) must be the same, byte for byte, as one
// thread's. Checked on every bundled sample and every capture of the public corpora in one run
// each, on the ways a run stops early (a file that cannot be read, a capture filter that cannot be
// compiled), and on the bound of the text a file's thread may write before its turn.
//
// The threads load the built code, so the command is the built one (the test run builds it first).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { tcpFrame } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';
import { filesAtOnce } from '../../src/cli/file-threads.js';
import { conv } from '../helpers/conversation.js';
import { capturesIn, useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';
import { backToEventLoop } from '../helpers/event-loop.js';

const DIST = join(process.cwd(), 'dist');
const BIN = join(process.cwd(), 'bin/tcpwhy.js');
const corpora = [useCorpus('corpus'), useCorpus('corpus2')];
const T0 = 1_700_000_000_000_000;

type Run = (args: string[], io: ReturnType<typeof memoryIo>) => Promise<number>;
let runBuilt: Run | null = null;
async function cli(): Promise<Run> {
  runBuilt ??= ((await import(pathToFileURL(join(DIST, 'cli/main.js')).href)) as { run: Run }).run;
  return runBuilt;
}

/**
 * What `tcpwhy analyze ARGS --workers N` prints, and its exit code: stdout, stderr, and both as one
 * terminal shows them (a line of dashes where the stream changes). Zeek logs' #open and #close lines
 * (the time of the run) are left out.
 */
async function analyze(args: string[], workers: number, isTTY = false): Promise<{ code: number; out: string; err: string; both: string }> {
  await backToEventLoop();
  const io = memoryIo(isTTY);
  let both = '';
  let last: 'out' | 'err' | null = null;
  const into = (stream: 'out' | 'err', write: (t: string) => void) => (t: string) => {
    if (last !== stream) both += `\n----- ${stream}\n`;
    last = stream;
    both += t;
    write(t);
  };
  io.stdout = into('out', io.stdout.bind(io));
  io.stderr = into('err', io.stderr.bind(io));
  const code = await (await cli())(['analyze', ...args, '--quiet', '--workers', String(workers)], io);
  const zeekTimes = /^#(open|close)\t.*\n/gm;
  return { code, out: io.out.replace(zeekTimes, ''), err: io.err, both: both.replace(zeekTimes, '') };
}

async function expectSameAtOnce(args: string[], isTTY = false): Promise<{ code: number; out: string; err: string; both: string }> {
  const one = await analyze(args, 1, isTTY);
  expect(await analyze(args, 2, isTTY), `${args.join(' ')} --workers 2`).toEqual(one);
  expect(await analyze(args, 3, isTTY), `${args.join(' ')} --workers 3`).toEqual(one);
  return one;
}

const sample = (name: string) => join(process.cwd(), 'samples', name);

/** `count` keep-alive connections, each asking one item: a capture whose --json --detail --all report is large. */
function manyConnections(count: number, name: string): string {
  const packets = Array.from({ length: count }, (_, i) => {
    const t = i * 0.001;
    return conv({ client: `10.2.${i >> 8}.${i & 255}:50000`, server: '10.0.0.80:80' })
      .handshake(t)
      .client('PA', t + 0.0002, `GET /item/${i} HTTP/1.1\r\nHost: x\r\n\r\n`)
      .server('PA', t + 0.0004, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok').packets;
  })
    .flat()
    .sort((a, b) => a.t - b.t);
  return writeTempCapture(toPcap(packets.map((p) => ({ tsMicros: T0 + Math.round(p.t * 1e6), data: p.frame.bytes }))), name);
}

describe('files analysed at once', () => {
  it('are as many as the threads, at most the files; two streams that may be one take one thread', () => {
    const [a, b, c] = ['refused.pcap', 'half-open.pcap', 'nginx-504.pcap'].map(sample);
    expect(filesAtOnce([a, b, c], 2)).toBe(2);
    expect(filesAtOnce([a, b], 8)).toBe(2);
    expect(filesAtOnce([a, b], 1)).toBe(1);
    expect(filesAtOnce([a], 4)).toBe(1);
    expect(filesAtOnce(['-', a], 2)).toBe(2);
    expect(filesAtOnce(['-', '-'], 2)).toBe(1);
    expect(filesAtOnce(['-', '/dev/stdin', a], 2)).toBe(1);
    expect(filesAtOnce(['/dev/stdin', '/dev/stdin'], 2)).toBe(1);
    // A file that cannot be looked at is its reader's to report.
    expect(filesAtOnce([a, join(process.cwd(), 'no-such-capture.pcap')], 2)).toBe(2);
  });

  it('are analysed in that many threads, each taking several files in turn', async () => {
    // Worker, as every module imports it, counts the file threads started.
    const threads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    const Worker = threads.Worker;
    let started = 0;
    threads.Worker = class extends Worker {
      constructor(...args: ConstructorParameters<typeof Worker>) {
        super(...args);
        if (String(args[0]).endsWith('/file-worker.js')) started++;
      }
    };
    syncBuiltinESMExports();
    try {
      const files = ['refused.pcap', 'half-open.pcap', 'nginx-504.pcap', 'rst-midstream.pcap', 'ws-healthy.pcap'].map(sample);
      const threadsOf = async (args: string[], workers: number) => {
        started = 0;
        expect((await analyze(args, workers)).code).toBe(0);
        return started;
      };
      expect(await threadsOf(files, 1)).toBe(0);
      expect(await threadsOf(files, 2)).toBe(2);
      expect(await threadsOf(files, 3)).toBe(3);
      expect(await threadsOf(files.slice(0, 2), 8)).toBe(2);
      expect(await threadsOf([files[0]], 4)).toBe(0);
    } finally {
      threads.Worker = Worker;
      syncBuiltinESMExports();
    }
  }, 60_000);
});

describe('analyze FILES --workers N', () => {
  it('reports every bundled sample in one run as one thread does, in every format', async () => {
    const samples = capturesIn(join(process.cwd(), 'samples'));
    expect(samples.length).toBeGreaterThan(50);
    // The WebSocket upgrade of nginx-ws-good.pcap is seen again in a copy: the match across files comes back from the threads.
    const files = [...samples, sample('nginx-ws-good.pcap')];
    for (const format of [['--all'], ['--json', '--detail'], ['--format', 'jsonl'], ['--format', 'zeek']]) {
      const one = await expectSameAtOnce([...files, ...format]);
      expect(one.code).toBe(0);
    }
    // A capture filter as words after the files, and a terminal's colours and width.
    expect((await expectSameAtOnce([...files, 'tcp', 'port', '80'])).out).toContain('== ');
    expect((await expectSameAtOnce([...files, '--all'], true)).out).toContain('\u001b[');
    const json = JSON.parse((await analyze([...files, '--json'], 2)).out) as { files: unknown[]; sharedKeys: { flows: { file: string }[] }[] };
    expect(json.files).toHaveLength(files.length);
    expect(json.sharedKeys.some((k) => k.flows.filter((f) => f.file === sample('nginx-ws-good.pcap')).length >= 2)).toBe(true);
  }, 300_000);

  for (const corpus of corpora) {
    corpus.it(`reports every capture of ${corpus.name} in one run as one thread does`, async () => {
      const files = capturesIn(corpus.dir);
      expect(files.length).toBeGreaterThan(50);
      await expectSameAtOnce(files);
    }, 600_000);
  }

  it('stops at a file it cannot read, as one thread does: the files before it reported, none after', async () => {
    const notCapture = writeTempCapture(new TextEncoder().encode('not a capture at all\n'), 'file-threads-not.pcap');
    const missing = join(process.cwd(), 'no-such-capture.pcap');
    for (const bad of [missing, notCapture]) {
      const text = await expectSameAtOnce([sample('refused.pcap'), bad, sample('half-open.pcap')]);
      expect(text.code).toBe(3);
      expect(text.out).toContain('== ');
      expect(text.out).not.toContain('half-open.pcap');
      const json = await expectSameAtOnce([sample('refused.pcap'), bad, sample('half-open.pcap'), '--json']);
      expect((JSON.parse(json.out) as { files: unknown[] }).files).toHaveLength(1);
    }
  }, 60_000);

  it("says a cut file's diagnostics in their place, and exits as one thread does with --fail-on", async () => {
    const whole = readFileSync(sample('bufferbloat.pcap'));
    const cut = writeTempCapture(whole.subarray(0, 3000), 'file-threads-cut.pcap');
    const run = await expectSameAtOnce([sample('refused.pcap'), cut, sample('half-open.pcap'), '--fail-on', 'error']);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/file-threads-cut\.pcap: packet \d+ \(file offset 0x[0-9a-f]+\): the file ends inside this packet/);
    // The diagnostic comes between the cut file's heading and the next file's, as one thread writes it.
    expect(run.both).toMatch(/== .*file-threads-cut\.pcap\n\n----- err\n.*the file ends inside this packet[^]*\n----- out\n[^]*== .*half-open\.pcap/);
  }, 60_000);

  it('refuses a capture filter that cannot be compiled, as one thread does', async () => {
    const run = await expectSameAtOnce([sample('refused.pcap'), sample('half-open.pcap'), '--bpf', 'tcp port ,,']);
    expect(run.code).toBe(2);
    // A word after the files that names no file is taken for a capture filter, and said to be neither.
    const mistyped = await expectSameAtOnce([sample('refused.pcap'), sample('half-open.pcap'), './no-such-dir/capture']);
    expect(mistyped.code).toBe(2);
    expect(mistyped.err).toContain("no file named './no-such-dir/capture', and as a capture filter");
  }, 60_000);

  it("writes tcpwhy.log's rows in the files' order", async () => {
    const logOf = async (workers: number) => {
      const path = writeTempCapture(new Uint8Array(0), `file-threads-verdicts-${workers}.log`);
      expect((await analyze([sample('refused.pcap'), sample('half-open.pcap'), sample('rst-midstream.pcap'), '--format', 'zeek', '--zeek-verdicts', path], workers)).code).toBe(0);
      return readFileSync(path, 'utf8').replace(/^#(open|close)\t.*\n/gm, '');
    };
    const one = await logOf(1);
    expect(one.split('\n').filter((l) => l && !l.startsWith('#')).length).toBeGreaterThanOrEqual(3);
    expect(await logOf(2)).toBe(one);
  }, 60_000);

  it("holds at most its bound of a later file's text until that file's turn", async () => {
    // The second file is a sixth of the first: its thread is done long before the first's report is.
    const first = manyConnections(3000, 'file-threads-first.pcap');
    const second = manyConnections(500, 'file-threads-second.pcap');
    const { analyzeFilesInThreads } = (await import(pathToFileURL(join(DIST, 'cli/file-threads.js')).href)) as typeof import('../../src/cli/file-threads.js');
    const opts = { json: true, detail: true, all: true, quiet: true };
    /** The text of each file, and how much of the second's waited for its turn (written at once, before any later task runs). */
    const runAtOnce = async (aheadChars: number) => {
      const written = ['', ''];
      let waiting = -1;
      await analyzeFilesInThreads(
        [first, second],
        2,
        { opts, terminal: { isTTY: false, env: {} }, captureFilter: null, verdicts: false },
        (i) => {
          if (i === 1) queueMicrotask(() => (waiting = written[1].length));
          const io = memoryIo();
          io.stdout = (t: string) => (written[i] += t);
          return { io, progress: null, verdictLog: null };
        },
        (_, outcome) => expect(outcome.code).toBe(0),
        aheadChars,
      );
      return { written, waiting };
    };
    const unbounded = await runAtOnce(Infinity);
    expect(unbounded.written[1].length).toBeGreaterThan(1_000_000);
    expect(unbounded.waiting).toBe(unbounded.written[1].length);
    const bounded = await runAtOnce(4096);
    // What a thread posts at once is one batch of the report (64 KiB), past the bound.
    expect(bounded.waiting).toBeLessThanOrEqual(4096 + 64 * 1024);
    for (const [i, file] of [first, second].entries()) {
      const alone = await analyze([file, '--json', '--detail', '--all'], 1);
      expect(bounded.written[i] + '\n').toBe(alone.out);
      expect(unbounded.written[i]).toBe(bounded.written[i]);
    }
  }, 120_000);
  // On a real pseudo-terminal: `script` runs tcpwhy with stdout and stderr on a terminal.
  const script = hasTool('script', ['--version']);
  if (!script) console.log('skipped the pseudo-terminal test of test/e2e/file-threads.test.ts: script (util-linux) not installed');
  it.skipIf(!script)("draws the progress line of the file being written, from its thread's reading, and erases it", () => {
    // One flow of full-size segments, 52 MB in about 36,000 packets, read as the file being written; then a small file.
    const payload = new Uint8Array(1400);
    const frames = [tcpFrame({ flags: 'S', seq: 0 }).bytes];
    for (let seq = 1; frames.length * 1470 < 52 * 1024 * 1024; seq += payload.length) frames.push(tcpFrame({ flags: 'A', seq, payload }).bytes);
    const big = writeTempCapture(toPcap(frames, { stepMicros: 10 }), 'file-threads-big.pcap');
    const onTerminal = (workers: number) =>
      spawnSync('script', ['-qec', `${process.execPath} ${BIN} analyze ${big} ${sample('refused.pcap')} --workers ${workers}`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    const shown = onTerminal(2);
    expect(shown.status).toBe(0);
    // A progress text is what lies between two erases (the last erase is followed by the report).
    const lines = [...shown.stdout.matchAll(/\r\u001b\[K([^\r\u001b]*)(?=\r\u001b\[K)/g)].map((m) => m[1]).filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${big}: \\d+ of 5[23] MB \\(\\d+%\\), [\\d,]+ packets/s, \\d+:\\d\\d left$`));
    // After the big file's heading, and erased before its report.
    expect(shown.stdout).toMatch(new RegExp(`== ${big}\\r?\\n\\r\\u001b\\[K${big}: [^]*left\\r\\u001b\\[K${big}: pcap, `));
    // Without the progress, what the terminal shows is one thread's.
    const withoutProgress = (text: string) => text.replace(/\r\u001b\[K[^\r\u001b]*(?=\r\u001b\[K)/g, '').replace(/\r\u001b\[K/g, '');
    expect(withoutProgress(shown.stdout)).toBe(withoutProgress(onTerminal(1).stdout));
  }, 180_000);
});
