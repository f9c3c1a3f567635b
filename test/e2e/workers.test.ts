// `analyze --workers N` runs the HTTP, WebSocket and TLS sessions in N-1 dissector threads: the
// report must be the same, byte for byte, as with one thread. Checked on every bundled sample and
// every capture of the public corpora, on a capture whose memory budget stops the payload of the
// flows no dissector reads (the one moment the flow table asks the sessions something), and on a
// capture whose flows end at once by the thousand (the capture's end).
//
// The threads load the built code, so the command is the built one (`npm test` builds first).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv, type Conversation, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';
import { workersFor } from '../../src/cli/commands/analyze.js';
import { run as runSource } from '../../src/cli/main.js';

const MAIN = join(process.cwd(), 'dist/cli/main.js');
const built = existsSync(MAIN);
const corpora = [useCorpus('corpus'), useCorpus('corpus2')];
const CAPTURE = /\.(pcap|pcapng|cap|trace|dmp)(\.gz)?$/i;

type Run = (args: string[], io: ReturnType<typeof memoryIo>) => Promise<number>;
let runBuilt: Run | null = null;
async function cli(): Promise<Run> {
  runBuilt ??= ((await import(pathToFileURL(MAIN).href)) as { run: Run }).run;
  return runBuilt;
}

/** What `tcpwhy analyze FILE ARGS --workers N` prints, and its exit code. */
async function analyze(file: string, args: string[], workers: number): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await (await cli())(['analyze', file, ...args, '--quiet', '--workers', String(workers)], io);
  return { code, out: io.out, err: io.err };
}

async function expectSameWithThreads(file: string, args: string[]): Promise<void> {
  const one = await analyze(file, args, 1);
  expect(await analyze(file, args, 2), `${file} ${args.join(' ')} --workers 2`).toEqual(one);
  expect(await analyze(file, args, 3), `${file} ${args.join(' ')} --workers 3`).toEqual(one);
}

function capturesIn(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) found.push(...capturesIn(join(dir, e.name)));
    else if (CAPTURE.test(e.name)) found.push(join(dir, e.name));
  }
  return found.sort();
}

const T0 = 1_700_000_000_000_000;

function writeCapture(convs: Conversation[], name: string): string {
  const packets: ScriptedPacket[] = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
  return writeTempCapture(toPcap(packets.map((p) => ({ tsMicros: T0 + Math.round(p.t * 1e6), data: p.frame.bytes }))), name);
}

describe('--workers', () => {
  it('takes one thread unless told more', () => {
    expect(workersFor({})).toBe(1);
    expect(workersFor({ workers: '3' })).toBe(3);
  });

  it('refuses a count that is not a whole number from 1 to 64', async () => {
    for (const bad of ['0', '1.5', 'two', '65']) {
      const io = memoryIo();
      expect(await runSource(['analyze', 'samples/refused.pcap', '--workers', bad], io)).toBe(2);
      expect(io.err).toContain(`--workers takes a whole number from 1 to 64, got '${bad}'`);
    }
  });
});

describe.skipIf(!built)('analyze --workers', () => {
  it('reports every bundled sample as one thread does, in --json --detail and in the text report', async () => {
    const samples = capturesIn(join(process.cwd(), 'samples'));
    expect(samples.length).toBeGreaterThan(50);
    for (const file of samples) {
      await expectSameWithThreads(file, ['--json', '--detail']);
      await expectSameWithThreads(file, ['--all']);
    }
  }, 300_000);

  it('stops the payload of the same flows when the memory budget is reached', async () => {
    // SSH connections (no dissector reads them), then more HTTP connections than a 1 MiB budget keeps sessions for, none closing.
    const opened = (i: number, kind: 'ssh' | 'http') => {
      const t = i * 0.01;
      const c = conv({ client: `10.1.${i >> 8}.${i & 255}:40000`, server: kind === 'ssh' ? '10.0.0.22:22' : '10.0.0.80:80' }).handshake(t);
      if (kind === 'ssh') return c.client('PA', t + 0.002, 'SSH-2.0-OpenSSH_9.6\r\n').server('PA', t + 0.003, 'SSH-2.0-OpenSSH_9.2\r\n');
      return c.client('PA', t + 0.002, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n').server('A', t + 0.003);
    };
    const file = writeCapture([...Array.from({ length: 10 }, (_, i) => opened(i, 'ssh')), ...Array.from({ length: 400 }, (_, i) => opened(10 + i, 'http'))], 'workers-memcap.pcap');
    const doc = JSON.parse((await analyze(file, ['--json', '--detail', '--memcap', '1M'], 2)).out) as { capture: { memcap: { payloadStopped: number } } };
    expect(doc.capture.memcap.payloadStopped).toBe(10);
    await expectSameWithThreads(file, ['--json', '--detail', '--memcap', '1M']);
  }, 60_000);

  it('hands a session the gap of a segment the capture missed, as one thread does', async () => {
    // The first response loses its middle segment: the parser meets the gap, and the second exchange is read after it.
    const c = conv({ client: '10.0.0.1:40000', server: '10.0.0.2:80' })
      .handshake(0)
      .client('PA', 0.01, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n')
      .server('A', 0.02, `HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${'a'.repeat(1000)}`);
    c.s.next = (c.s.next + 1000) >>> 0;
    c.server('PA', 0.021, 'b'.repeat(1000))
      .client('A', 0.022)
      .client('PA', 0.03, 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n')
      .server('PA', 0.04, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
      .client('FA', 0.05)
      .server('FA', 0.06)
      .client('A', 0.07);
    const file = writeCapture([c], 'workers-gap.pcap');
    const doc = JSON.parse((await analyze(file, ['--json', '--detail'], 2)).out) as { flows: { http: { response: { status: number; complete: boolean } | null }[] }[] };
    expect(doc.flows[0].http.map((x) => [x.response?.status, x.response?.complete])).toEqual([
      [200, true],
      [404, true],
    ]);
    await expectSameWithThreads(file, ['--json', '--detail']);
  }, 60_000);

  it('gives every flow its own session facts when thousands end at once', async () => {
    // 3,000 keep-alive exchanges still open at the capture's end, each with its own target.
    const convs = Array.from({ length: 3000 }, (_, i) => {
      const t = i * 0.001;
      return conv({ client: `10.2.${i >> 8}.${i & 255}:50000`, server: '10.0.0.80:80' })
        .handshake(t)
        .client('PA', t + 0.0002, `GET /item/${i} HTTP/1.1\r\nHost: x\r\n\r\n`)
        .server('PA', t + 0.0004, `HTTP/1.1 ${i % 7 === 0 ? '503 Service Unavailable' : '200 OK'}\r\nContent-Length: 2\r\n\r\nok`);
    });
    const file = writeCapture(convs, 'workers-open.pcap');
    const doc = JSON.parse((await analyze(file, ['--json', '--detail'], 2)).out) as { flows: { client: string; http: { request: { target: string }; response: { status: number } }[] }[] };
    expect(doc.flows).toHaveLength(3000);
    for (const f of doc.flows) {
      const [, hi, lo] = /^10\.2\.(\d+)\.(\d+):/.exec(f.client)!;
      const i = Number(hi) * 256 + Number(lo);
      expect(f.http[0].request.target).toBe(`/item/${i}`);
      expect(f.http[0].response.status).toBe(i % 7 === 0 ? 503 : 200);
    }
    await expectSameWithThreads(file, ['--json', '--detail']);
  }, 60_000);

  for (const corpus of corpora) {
    corpus.it(`reports every capture of ${corpus.name} as one thread does`, async () => {
      for (const file of capturesIn(corpus.dir)) await expectSameWithThreads(file, ['--json', '--detail']);
    }, 600_000);
  }
});
