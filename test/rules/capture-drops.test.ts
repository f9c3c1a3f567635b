// Verdicts on something awaited to the end of watching, when the capture's own packet blocks say
// the capturing tool dropped packets after the flow's last one: real captures of the samples,
// written again as pcapng with an epb_dropcount on one packet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { PcapngBuilder } from '../../src/capture/writer.js';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { CaptureLosses } from '../../src/rules/capture-drops.js';
import { FLOW_RULES, judgeFlow, type FlowRule, type RuleContext } from '../../src/rules/rules.js';
import { collectRecords, type CollectedRecord, writeTempCapture } from '../helpers/capture.js';
import { memoryIo } from '../helpers/io.js';

const records = (name: string) => collectRecords(readFileSync(join(process.cwd(), 'samples', name)), name).records;

interface Part {
  /** The sample's packets (the first `take` of them, when given), on interface `iface` (default 0). */
  sample: string;
  take?: number;
  iface?: number;
  /** Seconds after the last packet of the part before (default 0.5). */
  gap?: number;
}

/**
 * The parts' packets one after the other, as a pcapng file of two Ethernet interfaces whose packet
 * `lossBefore` (counted over the whole file) says `lost` packets of its interface were dropped since
 * that interface's previous packet; `more` adds such counts on other packets.
 */
function joined(name: string, parts: Part[], lossBefore = 0, lost = 0, more: Record<number, number> = {}): string {
  const losses: Record<number, number> = { ...more, [lossBefore]: lost };
  const b = new PcapngBuilder().section();
  b.iface({ linkType: 1 });
  b.iface({ linkType: 1 });
  let no = 0;
  let lastTs = 0;
  for (const part of parts) {
    const recs: CollectedRecord[] = records(part.sample).slice(0, part.take);
    const shift = no === 0 ? 0 : lastTs + Math.round((part.gap ?? 0.5) * 1e6) - recs[0].tsMicros;
    for (const r of recs) {
      expect(r.linkType).toBe(1);
      no++;
      lastTs = r.tsMicros + shift;
      b.epb({ tsMicros: lastTs, data: r.data, interfaceId: part.iface ?? 0, droppedBefore: losses[no] });
    }
  }
  return writeTempCapture(b.finish(), name);
}

const RANK = { error: 0, warning: 1, info: 2 } as const;
const sortedBySeverity = (vs: FlowResult['verdicts']) => vs.map((v) => v.severity).sort((a, b) => RANK[a] - RANK[b]);
const byPort = (flows: FlowResult[], port: number) => flows.find((f) => f.client.endsWith(`:${port}`))!;
const verdict = (f: FlowResult, code: string) => f.verdicts.find((v) => v.code === code);

describe('verdicts on something awaited to the end, after the capture dropped packets', () => {
  // listen-overflow.pcap: SYNs to a full listener. The clients on ports 33310 and 33318 sent their
  // last SYN at #24 and #23, those on 33294 and 33300 theirs at #27 and #29.
  it('are warnings naming the loss for the flows whose last packet came before it, and stay errors for the others', () => {
    const before = analyzeFile(joined('overflow.pcapng', [{ sample: 'listen-overflow.pcap' }])).flows;
    for (const port of [33294, 33300, 33310, 33318]) expect(verdict(byPort(before, port), 'syn-timeout')?.severity).toBe('error');

    const { flows, verdicts } = analyzeFile(joined('overflow-loss.pcapng', [{ sample: 'listen-overflow.pcap' }], 26, 3));
    for (const port of [33310, 33318]) {
      const f = byPort(flows, port);
      expect(f.captureDrops).toMatchObject({ packets: 3, firstAfter: 25, firstBefore: 26 });
      const v = verdict(f, 'syn-timeout')!;
      expect(v.severity).toBe('warning');
      expect(v.summary).toMatch(/; the capturing tool says it dropped 3 packets after this flow's last packet \(the first just before #26\): what never came may be among them$/);
      expect(v.facts.captureDrops).toEqual({ packets: 3, firstAfter: 25, firstBefore: 26 });
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
    // Hedged before they are sorted: the most severe still first.
    for (const f of flows) expect(f.verdicts.map((v) => v.severity)).toEqual(sortedBySeverity(f.verdicts));
    expect(verdicts.find((v) => v.code === 'capture-loss')?.facts).toMatchObject({ droppedBeforePackets: 3, firstPacketAfterLoss: 26 });
  });

  it('need as many lost packets as could hide what never came: a SYN-ACK and the ACK it draws, a final ACK alone', () => {
    const oneLost = analyzeFile(joined('overflow-one-lost.pcapng', [{ sample: 'listen-overflow.pcap' }], 26, 1)).flows;
    const f = byPort(oneLost, 33310);
    expect(f.captureDrops).toMatchObject({ packets: 1, firstAfter: 25, firstBefore: 26 });
    expect(verdict(f, 'syn-timeout')?.severity).toBe('error');
    expect(verdict(f, 'syn-timeout')?.facts.captureDrops).toBeUndefined();

    // half-open.pcap: a SYN, then the server's SYN-ACK three times, and no final ACK: the SYN-ACK
    // retries say the same of the client's ACK.
    const { flows } = analyzeFile(joined('half-open-then-clean.pcapng', [{ sample: 'half-open.pcap' }, { sample: 'http-clean.pcap' }, { sample: 'refused.pcap', gap: 2 }], 5, 1));
    const halfOpen = flows.find((x) => x.id === 1)!;
    expect(verdict(halfOpen, 'half-open')?.severity).toBe('warning');
    for (const code of ['half-open', 'synack-retry']) expect(verdict(halfOpen, code)?.summary).toMatch(/dropped 1 packet after this flow's last packet \(the first just before #5\)/);
  });

  it('need one lost packet when the ACK it would draw could not be in the capture', () => {
    // The capture ends 0.2 s after the loss, before a delayed ACK was due: syn-timeout.pcap, then one SYN of refused.pcap.
    const atEnd = analyzeFile(joined('loss-at-end.pcapng', [{ sample: 'syn-timeout.pcap' }, { sample: 'refused.pcap', take: 1, gap: 0.2 }], 4, 1)).flows.find((x) => x.id === 1)!;
    expect(verdict(atEnd, 'syn-timeout')).toMatchObject({ severity: 'warning', facts: { captureDrops: { packets: 1, firstAfter: 3, firstBefore: 4 } } });
    // A second later, the client's ACK to a SYN-ACK the loss took would be in the capture.
    const later = analyzeFile(joined('loss-then-more.pcapng', [{ sample: 'syn-timeout.pcap' }, { sample: 'refused.pcap', gap: 0.2 }, { sample: 'http-clean.pcap', gap: 1 }], 4, 1)).flows.find((x) => x.id === 1)!;
    expect(verdict(later, 'syn-timeout')?.severity).toBe('error');
    // The capture holds the server's side only: the client's ACK to a lost response is never in it.
    const serverSide = analyzeFile(joined('server-side-loss.pcapng', [{ sample: 'no-response-server-side.pcap' }, { sample: 'http-clean.pcap', gap: 2 }, { sample: 'refused.pcap', gap: 2 }], 4, 1)).flows.find((x) => x.id === 1)!;
    expect(verdict(serverSide, 'no-response')?.summary).toMatch(/dropped 1 packet after this flow's last packet \(the first just before #4\): what never came may be among them$/);
  });

  it("leave alone a syn-abandoned: a client whose retry the capture lost would have sent the next one", () => {
    const n = records('syn-abandoned.pcap').length;
    const { flows } = analyzeFile(joined('abandoned-loss.pcapng', [{ sample: 'syn-abandoned.pcap' }, { sample: 'http-clean.pcap' }], n + 1, 3));
    const abandoned = flows.find((f) => f.verdicts.some((v) => v.code === 'syn-abandoned'))!;
    expect(abandoned.captureDrops).toMatchObject({ packets: 3 });
    expect(verdict(abandoned, 'syn-abandoned')?.summary).not.toMatch(/dropped/);
  });

  it('leave alone a wait a packet of the flow ended: the client that gave up on its request, a server that closed', () => {
    // no-response.pcap up to the client's FIN #6 after 3 s: its acknowledgement number shows no response byte had come.
    const gaveUp = analyzeFile(joined('no-response-fin.pcapng', [{ sample: 'no-response.pcap', take: 6 }, { sample: 'http-clean.pcap' }], 7, 4)).flows.find((x) => x.id === 1)!;
    expect(gaveUp.captureDrops).toMatchObject({ packets: 4, firstAfter: 6, firstBefore: 7 });
    expect(verdict(gaveUp, 'no-response')).toMatchObject({ severity: 'error', facts: { endedBy: 'client' } });
    expect(verdict(gaveUp, 'no-response')?.summary).not.toMatch(/dropped/);
    // tls-client-cert-rejected.pcap up to the server's FIN #9: its sequence number shows the server sent no Finished.
    const rejected = analyzeFile(joined('cert-rejected-fin.pcapng', [{ sample: 'tls-client-cert-rejected.pcap', take: 9 }, { sample: 'http-clean.pcap' }], 10, 4)).flows.find((x) => x.id === 1)!;
    expect(rejected.captureDrops).toMatchObject({ packets: 4, firstAfter: 9, firstBefore: 10 });
    expect(verdict(rejected, 'tls-handshake-abandoned')).toMatchObject({ severity: 'error' });
    expect(verdict(rejected, 'tls-handshake-abandoned')?.summary).not.toMatch(/dropped/);
  });

  it('leave alone a flow that ended with FINs both ways: nothing more was to come', () => {
    const { flows } = analyzeFile(joined('no-response-then-clean.pcapng', [{ sample: 'no-response.pcap' }, { sample: 'http-clean.pcap' }], 9, 2));
    const f = flows.find((x) => x.id === 1)!;
    expect(f.captureDrops).toBeUndefined();
    expect(verdict(f, 'no-response')?.severity).toBe('error');
  });

  it('leave alone a flow that began after the loss, and one the table had ended before it', () => {
    const { flows } = analyzeFile(joined('timeout-then-clean.pcapng', [{ sample: 'syn-timeout.pcap' }, { sample: 'http-clean.pcap' }], 4, 2));
    expect(verdict(flows.find((f) => f.id === 1)!, 'syn-timeout')?.severity).toBe('warning');
    const clean = flows.find((f) => f.id === 2)!;
    expect(clean.captureDrops).toBeUndefined();
    expect(clean.verdicts.map((v) => v.code)).toEqual(['clean-close']);

    // 70 s after its last SYN, past the minute a SYN-ACK may still come in, the attempt was over before the loss.
    const late = analyzeFile(joined('timeout-then-late-loss.pcapng', [{ sample: 'syn-timeout.pcap' }, { sample: 'http-clean.pcap', gap: 70 }], 5, 2)).flows;
    const timedOut = late.find((f) => f.id === 1)!;
    expect(timedOut.endReason).toBe('attempt-timeout');
    expect(timedOut.captureDrops).toBeUndefined();
    expect(verdict(timedOut, 'syn-timeout')?.severity).toBe('error');
  });

  it("count a loss only if it began before the table's timer for the flow ran out, however late a TCP packet made the table end it", () => {
    // DNS lookups every 10 s after the attempt (dns-refused.pcap, 4 packets), then a refused SYN that ends it.
    const parts: Part[] = [{ sample: 'syn-timeout.pcap' }, ...Array.from({ length: 8 }, () => ({ sample: 'dns-refused.pcap', gap: 10 })), { sample: 'refused.pcap', gap: 1 }];
    // Lost between the lookups at about 73 s and 83 s: after the minute a SYN-ACK may come in.
    const late = analyzeFile(joined('timeout-dns-late.pcapng', parts, 3 + 7 * 4 + 1, 2)).flows.find((f) => f.id === 1)!;
    expect(late.endReason).toBe('attempt-timeout');
    expect(late.captureDrops).toBeUndefined();
    expect(verdict(late, 'syn-timeout')?.severity).toBe('error');
    // Lost between the lookups at about 13 s and 23 s: within it.
    const within = analyzeFile(joined('timeout-dns-within.pcapng', parts, 3 + 4 + 1, 2)).flows.find((f) => f.id === 1)!;
    expect(within.captureDrops).toMatchObject({ packets: 2, firstAfter: 7, firstBefore: 8 });
    expect(verdict(within, 'syn-timeout')?.severity).toBe('warning');
  });

  it('say a loss counted on another interface may have come before the flow\'s last packet', () => {
    // A refused SYN on interface 1 (#1), syn-timeout.pcap on interface 0 (#3 to #5), 1 packet lost
    // just before #6, then interface 1's next packet (#8) saying 5 were lost since #1.
    const file = joined('straddle.pcapng', [{ sample: 'refused.pcap', iface: 1 }, { sample: 'syn-timeout.pcap' }, { sample: 'http-clean.pcap', take: 2 }, { sample: 'refused.pcap', take: 1, iface: 1, gap: 0.1 }, { sample: 'http-clean.pcap', gap: 1 }], 6, 1, { 8: 5 });
    const f = analyzeFile(file).flows.find((x) => x.client.endsWith(':48078'))!;
    expect(f.captureDrops).toMatchObject({ packets: 6, firstAfter: 5, firstBefore: 6, mayPrecede: true });
    expect(verdict(f, 'syn-timeout')?.summary).toMatch(/dropped 6 packets that may have come after this flow's last packet \(the first just before #6\)/);
  });

  it("place a loss between its interface's packets, however many of another interface came between", () => {
    // The SYNs of syn-timeout.pcap on interface 1, then a whole HTTP exchange on interface 0, then
    // interface 1's next packet (a refused SYN) saying 2 of its packets were lost since #3.
    const file = joined('two-interfaces.pcapng', [{ sample: 'syn-timeout.pcap', iface: 1 }, { sample: 'http-clean.pcap' }, { sample: 'refused.pcap', take: 1, iface: 1 }], 14, 2);
    const { flows } = analyzeFile(file);
    const timedOut = flows.find((f) => f.id === 1)!;
    expect(timedOut.captureDrops).toMatchObject({ packets: 2, firstAfter: 3, firstBefore: 14 });
    expect(verdict(timedOut, 'syn-timeout')).toMatchObject({ severity: 'warning', facts: { captureDrops: { packets: 2, firstAfter: 3, firstBefore: 14 } } });
    expect(verdict(timedOut, 'syn-timeout')?.summary).toMatch(/dropped 2 packets after this flow's last packet \(the first between #3 and #14\)/);
  });

  it('are in the JSON document as the schema describes them', async () => {
    const file = joined('overflow-loss-json.pcapng', [{ sample: 'listen-overflow.pcap' }], 26, 3);
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

describe('a hedged verdict among others', () => {
  it('is sorted by its new severity, after the errors', () => {
    const { flows } = analyzeFile(joined('order.pcapng', [{ sample: 'syn-timeout.pcap' }, { sample: 'http-clean.pcap' }], 4, 2));
    const f = flows.find((x) => x.id === 1)!;
    const other: FlowRule = { code: 'other-error', evaluate: () => ({ code: 'other-error', severity: 'error', summary: '', packets: [], facts: {}, hint: '' }) };
    const timeout = FLOW_RULES.find((r) => r.code === 'syn-timeout')!;
    const ctx: RuleContext = { captureEnd: f.end + 1_000_000, neighboursUnanswered: new Map(), answers: new AnswerLog() };
    expect(judgeFlow(f, ctx, [timeout, other]).map((v) => [v.code, v.severity])).toEqual([
      ['other-error', 'error'],
      ['syn-timeout', 'warning'],
    ]);
  });
});

describe('CaptureLosses', () => {
  it("finds the losses counted on packets after a flow's last one, begun before a time", () => {
    const l = new CaptureLosses();
    l.add(4, 40, 5, 50, 2);
    l.add(3, 30, 9, 90, 1);
    l.add(10, 100, 11, 110, 4);
    expect(l.after(4, Infinity)).toEqual({ packets: 7, atLeast: false, firstAfter: 4, firstBefore: 5, firstAfterTs: 40, mayPrecede: true, lastTs: 110 });
    expect(l.after(5, Infinity)).toEqual({ packets: 5, atLeast: false, firstAfter: 3, firstBefore: 9, firstAfterTs: 30, mayPrecede: true, lastTs: 110 });
    expect(l.after(9, Infinity)).toMatchObject({ packets: 4, firstAfter: 10, mayPrecede: false });
    // Begun at or after time 100: not counted.
    expect(l.after(4, 100)).toMatchObject({ packets: 3, lastTs: 90 });
    expect(l.after(9, 100)).toBeNull();
    expect(l.after(11, Infinity)).toBeNull();
    expect(new CaptureLosses().after(0, Infinity)).toBeNull();
  });

  it('reads 64 losses after a flow at most, and then says the count is a floor', () => {
    const l = new CaptureLosses();
    for (let no = 1; no <= 100; no++) l.add(no * 2 - 1, no, no * 2, no, 1);
    expect(l.after(0, Infinity)).toMatchObject({ packets: 64, atLeast: true, firstBefore: 2 });
    expect(l.after(100, Infinity)).toMatchObject({ packets: 50, atLeast: false, firstBefore: 102 });
  });

  it('forgets the older half of its losses when full: a flow older than the forgotten ones gets none, the others their own', () => {
    const l = new CaptureLosses();
    for (let no = 1; no <= 70_000; no++) l.add(no * 2 - 1, no, no * 2, no, 1);
    // 65,536 kept, then the older 32,768 forgotten, the newest of them counted on packet 65,536.
    expect(l.after(0, Infinity)).toBeNull();
    expect(l.after(65_535, Infinity)).toBeNull();
    expect(l.after(65_536, Infinity)).toMatchObject({ packets: 64, atLeast: true, firstAfter: 65_537, firstBefore: 65_538 });
    expect(l.after(139_990, Infinity)).toMatchObject({ packets: 5, atLeast: false, firstAfter: 139_991, firstBefore: 139_992, lastTs: 70_000 });
    expect(l.after(140_000, Infinity)).toBeNull();
  });
});
