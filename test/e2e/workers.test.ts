// `analyze --workers N` runs the HTTP, WebSocket and TLS sessions in N-1 dissector threads: the
// report must be the same, byte for byte, as with one thread. Checked on every bundled sample and
// every capture of the public corpora, on a capture whose memory budget stops the payload of the
// flows no dissector reads (the one moment the flow table asks the sessions something), and on a
// capture whose flows end at once by the thousand (the capture's end).
//
// The threads load the built code, so the command is the built one (the test run builds it first).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toPcap, toPcapng, writeTempCapture } from '../helpers/capture.js';
import { conv, type Conversation, type ScriptedPacket } from '../helpers/conversation.js';
import { capturesIn, useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';
import { backToEventLoop } from '../helpers/event-loop.js';
import { workersFor } from '../../src/cli/commands/analyze.js';
import { run as runSource } from '../../src/cli/main.js';

const MAIN = join(process.cwd(), 'dist/cli/main.js');
const corpora = [useCorpus('corpus'), useCorpus('corpus2')];

type Run = (args: string[], io: ReturnType<typeof memoryIo>) => Promise<number>;
let runBuilt: Run | null = null;
async function cli(): Promise<Run> {
  runBuilt ??= ((await import(pathToFileURL(MAIN).href)) as { run: Run }).run;
  return runBuilt;
}

/** What `tcpwhy analyze FILE ARGS --workers N` prints, and its exit code. */
async function analyze(file: string, args: string[], workers: number): Promise<{ code: number; out: string; err: string }> {
  await backToEventLoop();
  const io = memoryIo();
  const code = await (await cli())(['analyze', file, ...args, '--quiet', '--workers', String(workers)], io);
  return { code, out: io.out, err: io.err };
}

async function expectSameWithThreads(file: string, args: string[]): Promise<void> {
  const one = await analyze(file, args, 1);
  expect(await analyze(file, args, 2), `${file} ${args.join(' ')} --workers 2`).toEqual(one);
  expect(await analyze(file, args, 3), `${file} ${args.join(' ')} --workers 3`).toEqual(one);
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

describe('analyze --workers', () => {
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

  it('hands payloads too large for the ring to the thread whole, in order', async () => {
    // Segments of 2.2 and 5 MiB, as a capture of TSO super-packets holds them (IPv6 payload length 0: the length is the capture's).
    const bodies = [2.2, 5].map((mib) => new Uint8Array(Math.round(mib * 1048576)).fill(0x61));
    const c = conv({ client: '[fd00::1]:40000', server: '[fd00::2]:80' })
      .handshake(0)
      .client('PA', 0.005, `POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${bodies[0].length + bodies[1].length}\r\n\r\n`)
      .client('A', 0.01, bodies[0])
      .client('A', 0.02, bodies[1])
      .server('PA', 0.03, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
      .client('FA', 0.04)
      .server('FA', 0.05)
      .client('A', 0.06);
    const frames = c.packets.map((p) => {
      const b = p.frame.bytes;
      if (b.length > 70_000) b[18] = b[19] = 0;
      return { tsMicros: T0 + Math.round(p.t * 1e6), data: b };
    });
    const file = writeTempCapture(toPcapng(frames), 'workers-huge.pcapng');
    const started = Date.now();
    const doc = JSON.parse((await analyze(file, ['--json', '--detail'], 2)).out) as { flows: { history: string; http: { request: { bodyBytes: number; complete: boolean } }[] }[] };
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(doc.flows[0].http[0].request).toMatchObject({ bodyBytes: bodies[0].length + bodies[1].length, complete: true });
    await expectSameWithThreads(file, ['--json', '--detail']);
  }, 60_000);

  it('goes on when a dissector thread fails: its flows are reported without their sessions, later sessions run in the analysing thread', async () => {
    // 20 s of connections: the first ones are judged (5 s after their close) while later ones open.
    const convs = Array.from({ length: 200 }, (_, i) => {
      const t = i * 0.1;
      return conv({ client: `10.3.0.${i + 1}:50000`, server: '10.0.0.80:80' })
        .handshake(t)
        .client('PA', t + 0.001, `GET /item/${i} HTTP/1.1\r\nHost: x\r\n\r\n`)
        .server('PA', t + 0.002, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        .client('FA', t + 0.003)
        .server('FA', t + 0.004)
        .client('A', t + 0.005);
    });
    const file = writeCapture(convs, 'workers-failure.pcap');
    const dist = (path: string) => import(pathToFileURL(join(process.cwd(), 'dist', path)).href);
    const { Analyzer } = (await dist('pipeline.js')) as typeof import('../../src/pipeline.js');
    const { readCaptureFileSync } = (await dist('capture/open.js')) as typeof import('../../src/capture/open.js');
    const analyse = (breakAt: number | null) => {
      const analyzer = new Analyzer({ file, dissectorThreads: breakAt === null ? 0 : 1, keepEvents: false });
      const info = readCaptureFileSync(file, (rec) => {
        // A record of a kind no thread knows stops the thread, as a bug in it would.
        // @ts-expect-error: the analyzer's private threads, reached into to break one
        if (rec.no === breakAt) analyzer.sessionThreads.threads[0].write(99, 0, 0, 0, 0, 0, 0);
        analyzer.onRecord(rec);
      });
      return analyzer.finish(info);
    };
    const one = analyse(null);
    const broken = analyse(700);
    expect(broken.flowCount).toBe(one.flowCount);
    const said = broken.capture.diagnostics.filter((d) => d.message.includes('a dissector thread failed'));
    expect(said).toHaveLength(1);
    expect(said[0].message).toContain('a record of unknown kind 99');
    // The thread fails once it reads that record, and the analysing thread sees it at its next wait for the thread.
    const seenAt = said[0].packet;
    expect(seenAt).toBeGreaterThanOrEqual(700);
    const later = broken.flows.filter((f) => f.firstPacket > seenAt);
    expect(later.length).toBeGreaterThan(50);
    for (const f of later) expect(f.app).toEqual(one.flows.find((o) => o.id === f.id)!.app);
    expect(broken.flows.some((f) => f.app === null)).toBe(true);
    for (const f of broken.flows) if (f.app === null) expect(f.firstPacket).toBeLessThan(seenAt);
  }, 60_000);

  for (const corpus of corpora) {
    corpus.it(`reports every capture of ${corpus.name} as one thread does`, async () => {
      for (const file of capturesIn(corpus.dir)) await expectSameWithThreads(file, ['--json', '--detail']);
    }, 600_000);
  }
});
