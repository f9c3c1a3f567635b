// Verdicts that rest on a packet never seen, when the capture's own packet blocks say the capturing
// tool dropped packets after the flow's last one: real captures of the samples, written again as
// pcapng with an epb_dropcount on one packet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { PcapngBuilder } from '../../src/capture/writer.js';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { CaptureLosses } from '../../src/rules/capture-drops.js';
import { collectRecords, writeTempCapture } from '../helpers/capture.js';
import { memoryIo } from '../helpers/io.js';

const sample = (name: string) => join(process.cwd(), 'samples', name);

/**
 * The samples' packets one after the other (each next one half a second after the last packet of
 * the one before), as a pcapng file whose packet `lossBefore` says `lost` packets were dropped just
 * before it.
 */
function joined(name: string, samples: string[], lossBefore = 0, lost = 0): string {
  const b = new PcapngBuilder().section();
  let linkType = -1;
  let no = 0;
  let shift = 0;
  for (const s of samples) {
    const { records } = collectRecords(readFileSync(sample(s)), s);
    if (linkType < 0) b.iface({ linkType: (linkType = records[0].linkType) });
    expect(records[0].linkType).toBe(linkType);
    if (no > 0) shift += 500_000 - records[0].tsMicros;
    for (const r of records) {
      no++;
      b.epb({ tsMicros: r.tsMicros + shift, data: r.data, droppedBefore: no === lossBefore ? lost : undefined });
    }
    shift += records[records.length - 1].tsMicros;
  }
  return writeTempCapture(b.finish(), name);
}

const byPort = (flows: FlowResult[], port: number) => flows.find((f) => f.client.endsWith(`:${port}`))!;
const verdict = (f: FlowResult, code: string) => f.verdicts.find((v) => v.code === code);

describe('verdicts on a packet never seen, after the capture dropped packets', () => {
  // listen-overflow.pcap: SYNs to a full listener. The clients on ports 33310 and 33318 sent their
  // last SYN at #24 and #23, those on 33294 and 33300 theirs at #27 and #29.
  it('are warnings naming the loss for the flows whose last packet came before it, and stay errors for the others', () => {
    const before = analyzeFile(joined('overflow.pcapng', ['listen-overflow.pcap'])).flows;
    for (const port of [33294, 33300, 33310, 33318]) expect(verdict(byPort(before, port), 'syn-timeout')?.severity).toBe('error');

    const { flows, verdicts } = analyzeFile(joined('overflow-loss.pcapng', ['listen-overflow.pcap'], 26, 3));
    for (const port of [33310, 33318]) {
      const f = byPort(flows, port);
      expect(f.captureDrops).toEqual({ packets: 3, firstBefore: 26 });
      const v = verdict(f, 'syn-timeout')!;
      expect(v.severity).toBe('warning');
      expect(v.summary).toMatch(/; the capturing tool says it dropped 3 packets after this flow's last packet, before it ended \(the first just before #26\): what is missing here may be among them$/);
      expect(v.facts.captureDrops).toEqual({ packets: 3, firstBefore: 26 });
      expect(v.hint).toMatch(/capture again, with a larger buffer/);
    }
    // Their SYNs sent again after the loss show that no SYN-ACK came before it.
    for (const port of [33294, 33300]) {
      const f = byPort(flows, port);
      expect(f.captureDrops).toBeUndefined();
      expect(verdict(f, 'syn-timeout')?.severity).toBe('error');
    }
    // The clients that closed after the loss: what they sent since shows what they got.
    for (const port of [33272, 33278]) expect(byPort(flows, port).captureDrops).toBeUndefined();
    expect(verdicts.find((v) => v.code === 'capture-loss')?.facts).toMatchObject({ droppedBeforePackets: 3, firstPacketAfterLoss: 26 });
  });

  it('leave alone a flow that began after the loss', () => {
    const { flows } = analyzeFile(joined('timeout-then-clean.pcapng', ['syn-timeout.pcap', 'http-clean.pcap'], 4, 2));
    const timedOut = flows.find((f) => f.id === 1)!;
    expect(timedOut.captureDrops).toEqual({ packets: 2, firstBefore: 4 });
    expect(verdict(timedOut, 'syn-timeout')?.severity).toBe('warning');
    const clean = flows.find((f) => f.id === 2)!;
    expect(clean.captureDrops).toBeUndefined();
    expect(clean.verdicts.map((v) => v.code)).toEqual(['clean-close']);
  });

  it('leave alone a flow that ended with FINs both ways: nothing more was to come', () => {
    // no-response.pcap: the client gave up after 3 s (FIN #6), the server closed too (FIN #7).
    const { flows } = analyzeFile(joined('no-response-then-clean.pcapng', ['no-response.pcap', 'http-clean.pcap'], 9, 2));
    const f = flows.find((x) => x.id === 1)!;
    expect(f.captureDrops).toBeUndefined();
    expect(verdict(f, 'no-response')?.severity).toBe('error');
  });

  it('hedge a half-open handshake whose final ACK may be among the lost packets', () => {
    const { flows } = analyzeFile(joined('half-open-then-clean.pcapng', ['half-open.pcap', 'http-clean.pcap'], 5, 1));
    const v = verdict(flows.find((x) => x.id === 1)!, 'half-open')!;
    expect(v.severity).toBe('warning');
    expect(v.summary).toMatch(/dropped 1 packet after this flow's last packet, before it ended \(the first just before #5\)/);
  });

  it('are in the JSON document as the schema describes them', async () => {
    const file = joined('overflow-loss-json.pcapng', ['listen-overflow.pcap'], 26, 3);
    const schema = JSON.parse(readFileSync(join(process.cwd(), 'schema/analysis.v2.schema.json'), 'utf8'));
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    ajv.addSchema(schema);
    const validate = ajv.getSchema(`${schema.$id}#/$defs/document`)!;
    for (const detail of [[], ['--detail']]) {
      const io = memoryIo();
      expect(await run(['analyze', file, '--json', ...detail], io)).toBeLessThan(2);
      const doc = JSON.parse(io.out);
      expect(validate(doc) ? [] : validate.errors).toEqual([]);
      expect(doc.flows.filter((f: { captureDrops?: unknown }) => f.captureDrops).map((f: { client: string }) => f.client.split(':')[1]).sort()).toEqual(['33310', '33318']);
    }
  });
});

describe('CaptureLosses', () => {
  it('finds the losses after one packet and before another', () => {
    const l = new CaptureLosses();
    l.add(5, 2);
    l.add(9, 1);
    expect(l.between(4, 10)).toEqual({ packets: 3, firstBefore: 5 });
    expect(l.between(5, 10)).toEqual({ packets: 1, firstBefore: 9 });
    expect(l.between(4, 8)).toEqual({ packets: 2, firstBefore: 5 });
    expect(l.between(4, 5)).toEqual({ packets: 2, firstBefore: 5 });
    expect(l.between(0, 4)).toBeNull();
    expect(l.between(9, 20)).toBeNull();
  });

  it('adds the losses past the ones it keeps apart to the last one, which then stands for all of them', () => {
    const l = new CaptureLosses();
    for (let no = 1; no <= 70_000; no++) l.add(no * 2, 1);
    expect(l.between(0, 200_000)).toEqual({ packets: 70_000, firstBefore: 2 });
    expect(l.between(100, 110)).toEqual({ packets: 5, firstBefore: 102 });
    // Past the 65,536th loss (just before packet 131,072), one point holds the rest.
    expect(l.between(139_000, 139_001)).toEqual({ packets: 70_000 - 65_535, firstBefore: 139_001 });
  });
});
