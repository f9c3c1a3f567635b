// The capturing tool's drop count in the reports: the text capture line (analyze and live
// wording), the HTML page's accounting line, the JSON against its schema, and capture-loss read
// before the errors it casts doubt on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { CaptureDrops } from '../../src/capture/record.js';
import { PcapngBuilder } from '../../src/capture/writer.js';
import { run } from '../../src/cli/main.js';
import { accountingLine, droppedClauses } from '../../src/report/lines.js';
import { analyzeFile } from '../../src/pipeline.js';
import { writeTempCapture } from '../helpers/capture.js';
import { useCorpus } from '../helpers/corpus.js';
import { conv } from '../helpers/conversation.js';
import { memoryIo } from '../helpers/io.js';

const T0 = 1_700_000_000_000_000;
const corpus2 = useCorpus('corpus2');
const drops = (d: Partial<CaptureDrops>): CaptureDrops => ({ packets: 0, inStatistics: 0, beforePackets: 0, firstAfterLoss: 0, source: 'file', interfaces: 1, counted: 1, largerCapture: null, ...d });

/** Two requests to a server, the second with no answer in the file, and the interface statistics given. */
function capture(name: string, statistics: { droppedByInterface?: number } | null): string {
  const answered = conv({ client: '10.9.0.1:40001', server: '10.9.0.2:8080' }).handshake(0).client('PA', 0.01, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  answered.server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').client('FA', 0.03).server('FA', 0.031).client('A', 0.032);
  const unanswered = conv({ client: '10.9.0.1:40002', server: '10.9.0.2:8080' }).handshake(0.1).client('PA', 0.11, 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  unanswered.server('A', 0.111);
  const packets = [...answered.packets, ...unanswered.packets].sort((a, b) => a.t - b.t);
  const b = new PcapngBuilder().section();
  b.iface({ linkType: packets[0].frame.linkType });
  for (const p of packets) b.epb({ tsMicros: T0 + Math.round(p.t * 1e6), data: p.frame.bytes });
  // More packets after the request, so that the capture ran long enough to judge it.
  const last = packets[packets.length - 1];
  for (let i = 1; i <= 10; i++) b.epb({ tsMicros: T0 + Math.round((last.t + i) * 1e6), data: answered.packets[0].frame.bytes });
  if (statistics) b.isb(0, T0 + 20_000_000, statistics);
  return writeTempCapture(b.finish(), name);
}

describe('the drop count in the reports', () => {
  it('words each source and combination of counts', () => {
    expect(droppedClauses(drops({ packets: 1, inStatistics: 1 }))).toEqual([
      "the capturing tool dropped 1 packet by its own count (in the file's interface statistics): a verdict that rests on a packet never seen may be wrong (capture-loss)",
    ]);
    expect(droppedClauses(drops({ packets: 1_500, inStatistics: 1_500, beforePackets: 20, firstAfterLoss: 7, interfaces: 3, counted: 2 }))).toEqual([
      "the capturing tool dropped 1,500 packets by its own count on 2 of 3 interfaces (1,500 in the file's interface statistics, 20 on its packet blocks, the first loss just before packet 7, which may count the same losses: the larger per interface is taken): a verdict that rests on a packet never seen may be wrong (capture-loss)",
    ]);
    expect(droppedClauses(drops({ packets: 20, beforePackets: 20, firstAfterLoss: 7 }))).toEqual([
      'the capturing tool dropped 20 packets by its own count (on its packet blocks, the first loss just before packet 7): a verdict that rests on a packet never seen may be wrong (capture-loss)',
    ]);
    expect(droppedClauses(drops({ packets: 414, inStatistics: 414, source: 'live' }))).toEqual([
      "the capturing tool dropped 414 packets by its own count (libpcap's count of the packets the kernel could not hand over): a verdict that rests on a packet never seen may be wrong (capture-loss)",
    ]);
    expect(droppedClauses(drops({}))).toEqual(['the capturing tool counted no packet dropped']);
    expect(droppedClauses(drops({ interfaces: 2, counted: 1 }))).toEqual(['the capturing tool counted no packet dropped on 1 of 2 interfaces']);
    expect(droppedClauses(drops({ counted: 0, largerCapture: { interfaces: 1, received: 85_309, held: 9, dropped: 0 } }))).toEqual([
      "the file's interface statistics describe a larger capture than it holds (85,309 packets received, 9 here): it was cut from that capture, whose count of 0 dropped is left out",
    ]);
    expect(droppedClauses(drops({ source: 'live' }))).toEqual([]);
  });


  it('puts capture-loss first, before the error it casts doubt on, in text; the HTML accounting line and the JSON carry the count', async () => {
    const file = capture('drops-report.pcapng', { droppedByInterface: 300 });
    const io = memoryIo();
    expect(await run(['analyze', '--width', '300', file], io)).toBe(0);
    const lines = io.out.split('\n');
    expect(lines[1]).toMatch(/ The capturing tool dropped 300 packets by its own count \(in the file's interface statistics\): a verdict that rests on a packet never seen may be wrong \(capture-loss\)\.$/);
    const groups = lines.filter((l) => /^(ERROR|WARN|INFO) /.test(l));
    expect(groups[0]).toMatch(/^WARN +the capturing tool dropped 300 packets by its own count, against \d+ kept: /);
    expect(groups[1]).toMatch(/^ERROR +1 connection to 10\.9\.0\.2:8080 left a request unanswered/);

    const result = analyzeFile(file);
    expect(accountingLine(result.capture, result.flows.length, result.flows.length)).toMatch(/; the capturing tool dropped 300 packets by its own count \(in the file's interface statistics\): a verdict/);

    const json = memoryIo();
    await run(['analyze', '--json', file], json);
    const doc = JSON.parse(json.out);
    expect(doc.capture.dropped).toEqual({ packets: 300, inStatistics: 300, beforePackets: 0, firstAfterLoss: 0, source: 'file', interfaces: 1, counted: 1, largerCapture: null });
    const schema = JSON.parse(readFileSync(join(process.cwd(), 'schema/analysis.v2.schema.json'), 'utf8'));
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.addSchema(schema).getSchema(`${schema.$id}#/$defs/document`)!;
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
  });

  it('says a count of none, and nothing where the file has no count', async () => {
    for (const [name, stats, said] of [
      ['none-dropped.pcapng', { droppedByInterface: 0 }, true],
      ['no-count.pcapng', null, false],
    ] as const) {
      const io = memoryIo();
      await run(['analyze', '--width', '300', capture(name, stats)], io);
      expect(io.out.split('\n')[1].endsWith(' The capturing tool counted no packet dropped.')).toBe(said);
      expect(io.out).not.toContain('capture-loss');
    }
  });

  corpus2.it("keeps apart the statistics of the capture an excerpt was cut from (nDPI's tls_1.3_unidirectional_server.pcapng), and says a count that covers one interface of two (fpcap's pcapng-example.pcapng)", async () => {
    const excerpt = analyzeFile(corpus2.path('ndpi/tls_1.3_unidirectional_server.pcapng'));
    expect(excerpt.capture.dropped).toMatchObject({ packets: 0, interfaces: 1, counted: 0, largerCapture: { interfaces: 1, received: 85_309, held: 9, dropped: 0 } });
    expect(excerpt.verdicts.some((v) => v.code === 'capture-loss')).toBe(false);
    const io = memoryIo();
    await run(['analyze', '--width', '300', corpus2.path('ndpi/tls_1.3_unidirectional_server.pcapng')], io);
    expect(io.out.split('\n')[1]).toMatch(/ The file's interface statistics describe a larger capture than it holds \(85,309 packets received, 9 here\): it was cut from that capture, whose count of 0 dropped is left out\.$/);
    expect(analyzeFile(corpus2.path('fpcap/pcapng-example.pcapng')).capture.dropped).toMatchObject({ packets: 0, interfaces: 2, counted: 1, largerCapture: null });
  });
});
