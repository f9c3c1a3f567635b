import { describe, expect, it } from 'vitest';
import type { WriterPacket } from '../../src/capture/writer.js';
import { Analyzer, analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { collectRecords, toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv } from '../helpers/conversation.js';
import { toRecord } from '../helpers/packets.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();

// A capture whose clock steps back: one diagnostic with the count, the largest step, its packet
// and file offset; no timing measured across the step.

const BASE = 1_700_000_000_000_000;
const PCAP_HEADER = 24;
const RECORD_HEADER = 16;

/** A retransmitting HTTP exchange as writer packets (times in seconds from BASE). */
function exchange(): WriterPacket[] {
  const c = conv()
    .handshake(0, 0.001)
    .client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    .server('A', 0.0025)
    .server('PA', 0.01, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    .client('A', 0.011)
    .client('FA', 0.5)
    .server('FA', 0.501)
    .client('A', 0.502);
  return c.packets.map((p) => ({ tsMicros: BASE + Math.round(p.t * 1e6), data: p.frame.bytes }));
}

function fileOffsetOf(packets: WriterPacket[], no: number): number {
  let at = PCAP_HEADER;
  for (let i = 0; i < no - 1; i++) at += RECORD_HEADER + packets[i].data.length;
  return at;
}

/** Every number named ...Ms in a flow's analysis and verdict facts. */
function durations(f: FlowResult): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const walk = (x: unknown, path: string) => {
    if (x === null || typeof x !== 'object') return;
    for (const [k, v] of Object.entries(x)) {
      if (typeof v === 'number' && /Ms$/.test(k)) out.push([`${path}.${k}`, v]);
      else if (Array.isArray(v)) v.forEach((e, i) => walk(e, `${path}.${k}[${i}]`));
      else walk(v, `${path}.${k}`);
    }
  };
  walk(f.analysis, 'analysis');
  f.verdicts.forEach((v) => walk(v.facts, `verdicts.${v.code}`));
  return out;
}

describe('time that runs backwards', () => {
  it('says nothing of a capture in time order', () => {
    const { info } = collectRecords(toPcap(exchange()));
    expect(info.diagnostics).toEqual([]);
  });

  it('names a file holding the same packets twice, the second copy with its clock restarted', () => {
    const once = exchange();
    const twice = [...once, ...once];
    const bytes = toPcap(twice);
    const { info } = collectRecords(bytes, 'twice.pcap');
    const n = once.length;
    expect(info.diagnostics).toEqual([
      {
        code: 'CAPTURE_TIME_BACKWARDS',
        packet: n + 1,
        offset: fileOffsetOf(twice, n + 1),
        message: `twice.pcap: packet ${n + 1} (file offset 0x${fileOffsetOf(twice, n + 1).toString(16)}): time runs backwards once; the largest step goes back 502 ms, from packet ${n} to packet ${n + 1}, where the capture starts over (packets ${n + 1} and ${n + 2} repeat packets 1 and 2, times and bytes): the file holds the same packets twice; retransmission timeouts, think times and durations are not measured across a step back`,
      },
    ]);

    const r = analyzeFile(writeTempCapture(bytes, 'twice.pcap'));
    expect(r.capture.diagnostics.map((d) => d.code)).toEqual(['CAPTURE_TIME_BACKWARDS']);
    // The copy's SYN starts a second flow. Its packets are counted as tshark counts them, but no
    // resend happened: no timeout of 0 ms, no retransmission verdict, no port reuse "before" the
    // first connection ended; the copy is named as such and judged no further.
    expect(r.flows.reduce((n, f) => n + f.analysis!.retransmission, 0)).toBeGreaterThan(0);
    expect(r.flows.map((f) => f.verdicts.map((v) => v.code))).toEqual([['clean-close'], ['replayed-packets']]);
    expect(r.flows[1].verdicts[0].summary).toBe(`all ${n} packets of this flow (#${n + 1}..#${2 * n}) are stamped no later than packets of 10.0.0.1:51000 -> 10.0.0.2:80 already seen: the capture holds that connection again, with its clock stepped back; nothing here to judge`);
    for (const f of r.flows) {
      expect(f.analysis!.rto).toBeNull();
      expect(f.verdicts.map((v) => v.code)).not.toContain('retransmission');
      expect(f.verdicts.map((v) => v.summary).join(' ')).not.toMatch(/RTO 0 ms/);
      expect(f.end).toBeGreaterThanOrEqual(f.start);
      for (const [name, value] of durations(f)) expect(value, name).toBeGreaterThanOrEqual(0);
    }
  });

  it('measures no think time, idle or duration across a clock that jumps back mid-flow', () => {
    const packets = exchange();
    // The server's answer and everything after it stamped 10 s before the request.
    const stepped = packets.map((p, i) => (i >= 5 ? { ...p, tsMicros: p.tsMicros - 10_000_000 } : p));
    const bytes = toPcap(stepped);
    const { info } = collectRecords(bytes, 'stepped.pcap');
    expect(info.diagnostics).toHaveLength(1);
    expect(info.diagnostics[0]).toMatchObject({ code: 'CAPTURE_TIME_BACKWARDS', packet: 6, offset: fileOffsetOf(stepped, 6) });
    expect(info.diagnostics[0].message).toContain('time runs backwards once; the largest step goes back 9.99 s, from packet 5 to packet 6;');
    expect(info.diagnostics[0].message).not.toContain('starts over');

    const r = analyzeFile(writeTempCapture(bytes, 'stepped.pcap'));
    const f = r.flows[0];
    expect(f.analysis!.serverThink).toBeNull();
    expect(f.end).toBeGreaterThanOrEqual(f.start);
    expect(f.verdicts.filter((v) => v.code.startsWith('slow-'))).toEqual([]);
    for (const [name, value] of durations(f)) expect(value, name).toBeGreaterThanOrEqual(0);
  });

  it('replays nothing in a capture whose clock starts at 0 or before 1970', () => {
    // Timestamps zeroed by an anonymiser, or a pcapng if_tsoffset before the epoch: the first
    // packet of a 4-tuple is no step back, however small its time.
    const c = conv()
      .handshake(0, 0.001)
      .client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
      .server('PA', 0.01, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      .client('FA', 0.05)
      .server('FA', 0.051)
      .client('A', 0.052);
    const zeroed = c.packets.map((p) => ({ tsMicros: 0, data: p.frame.bytes }));
    const r = analyzeFile(writeTempCapture(toPcap(zeroed), 'zeroed.pcap'));
    expect(r.flows.map((f) => f.verdicts.map((v) => v.code))).toEqual([['clean-close']]);
    expect(r.flows[0].analysis!.packetsBackInTime).toBe(c.packets.length - 1);

    const before1970 = -1_000_000_000_000;
    const analyzer = new Analyzer({ file: 'old.pcapng' });
    c.packets.forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: before1970 + Math.round(p.t * 1e6) })));
    const old = analyzer.finish({ file: 'old.pcapng', format: 'pcapng', linkTypes: [1], snaplen: 262144, packets: c.packets.length, truncatedPackets: 0, diagnostics: [], stoppedEarly: false });
    expect(old.flows.map((f) => f.verdicts.map((v) => v.code))).toEqual([['clean-close']]);
    expect(old.flows[0].end - old.flows[0].start).toBe(52_000);
  });

  it('counts the steps and calls microsecond steps jitter', () => {
    const packets = exchange();
    const jittered = packets.map((p, i) => (i === 3 || i === 7 ? { ...p, tsMicros: packets[i - 1].tsMicros - 2 } : p));
    const { info } = collectRecords(toPcap(jittered), 'jitter.pcap');
    expect(info.diagnostics).toHaveLength(1);
    expect(info.diagnostics[0].message).toContain('time runs backwards 2 times (first at packet 4); the largest step goes back 0.002 ms');
    expect(info.diagnostics[0].message).toContain('the jitter of several CPUs or interfaces stamping packets, too small to matter');
  });
});

corpus.describe('PPA blaster.pcap: nine packets stored twice', () => {
  it('is one diagnostic at packet 10, and no retransmission with a 0 ms timeout', () => {
    const r = analyzeFile(corpus.path('ppa/ppa1e/blaster.pcap'));
    // capinfos: "Strict time order: False"; tshark: frames 10-18 repeat frames 1-9, times included.
    expect(r.capture.diagnostics.map((d) => [d.code, d.packet, d.offset])).toEqual([['CAPTURE_TIME_BACKWARDS', 10, 0x2f0]]);
    expect(r.capture.diagnostics[0].message).toContain('goes back 5.70 s, from packet 9 to packet 10, where the capture starts over');
    const f = r.flows[0];
    expect(f.analysis!.rto).toBeNull();
    expect(f.verdicts.map((v) => v.code).sort()).toEqual(['midstream', 'rst-by-client']);
    // Caught mid-stream between ports 1793 and 4444, nothing proves which side is the client.
    expect(f.verdicts.find((v) => v.code === 'rst-by-client')?.severity).toBe('info');
  });
});
