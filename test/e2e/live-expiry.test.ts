// How `tcpwhy live` decides flows while no packet arrives: Analyzer.expireFlows on a wall-clock
// tick, with each flow judged as it is finished (onFlowJudged). Scripted conversations stand in
// for the capture so that the clock can be moved precisely.
import { describe, expect, it } from 'vitest';
import { Analyzer, type FlowResult } from '../../src/pipeline.js';
import { conv, type Conversation } from '../helpers/conversation.js';
import { arpFrame, toRecord } from '../helpers/packets.js';

const BASE_MICROS = 1_700_000_000_000_000;
const at = (s: number) => BASE_MICROS + Math.round(s * 1e6);

function liveAnalyzer(opts: { idleTimeoutSec?: number } = {}) {
  const judged: FlowResult[] = [];
  // As `tcpwhy live` runs it: each flow judged when it ends, none held back for a scan that may follow, none kept once judged.
  const analyzer = new Analyzer({ file: 'live:test', holdProbes: false, retainFlows: false, keepEvents: false, onFlowJudged: (f) => judged.push(f), ...opts });
  let no = 0;
  const feed = (...convs: Conversation[]) => {
    for (const p of convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t)) analyzer.onRecord(toRecord(p.frame, { no: ++no, tsMicros: at(p.t) }));
  };
  return { analyzer, judged, feed };
}

const codes = (f: FlowResult) => f.verdicts.map((v) => v.code);

describe('live flow decisions on a clock tick', () => {
  it('judges a refused connect once the 5 s close linger has passed, not before', () => {
    const { analyzer, judged, feed } = liveAnalyzer();
    feed(conv({ client: '10.0.0.1:51000', server: '10.0.0.2:8080' }).client('S', 0).server('RA', 0.0001));
    analyzer.expireFlows(at(4.9));
    expect(judged).toEqual([]);
    analyzer.expireFlows(at(5.1));
    expect(judged.map(codes)).toEqual([['refused']]);
    expect(analyzer.openFlows).toBe(0);
  });

  it('judges an unanswered SYN once the client stopped retrying (2.5x its last backoff)', () => {
    const { analyzer, judged, feed } = liveAnalyzer();
    // Retries carry the first SYN's sequence number, as a real retransmission does.
    const c = conv({ client: '10.0.0.1:51001', server: '10.0.0.9:443', clientIsn: 0xffff_fff0 });
    feed(c.client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 }));
    analyzer.expireFlows(at(3 + 4.9)); // next Linux retry would come 4 s after the last one
    expect(judged).toEqual([]);
    analyzer.expireFlows(at(3 + 5.1));
    expect(judged).toHaveLength(1);
    expect(judged[0].endReason).toBe('attempt-timeout');
    expect(codes(judged[0])).toEqual(['syn-timeout']);
    expect(judged[0].verdicts[0].summary).toMatch(/3 SYNs .* over 3\.00 s; retries after 1\.00 s, 2\.00 s \(1 s doubling: Linux\)/);
  });

  it('does not let one quiet long-lived flow hold back a flow that closed after it', () => {
    const { analyzer, judged, feed } = liveAnalyzer();
    const quiet = conv({ client: '10.0.0.1:52000', server: '10.0.0.2:22' }).handshake(0);
    const short = conv({ client: '10.0.0.1:52001', server: '10.0.0.2:80' })
      .handshake(1)
      .client('PA', 1.01, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
      .server('PA', 1.02, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
      .client('FA', 1.03)
      .server('FA', 1.04)
      .client('A', 1.05);
    feed(quiet, short);
    analyzer.expireFlows(at(7));
    expect(judged.map((f) => f.server)).toEqual(['10.0.0.2:80']);
    expect(codes(judged[0])).toContain('clean-close');
    expect(analyzer.openFlows).toBe(1);
  });

  it('finishes idle flows on the clock, and counts them at the end without keeping them', () => {
    const { analyzer, judged, feed } = liveAnalyzer({ idleTimeoutSec: 10 });
    const convs = Array.from({ length: 12 }, (_, i) => conv({ client: `10.0.0.1:${40000 + i}`, server: '10.0.0.2:6379' }).handshake(i * 0.1));
    feed(...convs);
    analyzer.expireFlows(at(1.1 + 9.9));
    expect(judged.length).toBeLessThan(12);
    analyzer.expireFlows(at(1.2 + 10));
    expect(judged).toHaveLength(12);
    expect(judged.every((f) => f.endReason === 'idle')).toBe(true);
    const result = analyzer.finish({ file: 'live:test', format: 'live', linkTypes: [1], snaplen: 0, packets: 36, truncatedPackets: 0, diagnostics: [], stoppedEarly: false });
    expect(result.flowCount).toBe(12);
    expect(result.flows).toEqual([]);
  });
  it('sees an ARP request turn unanswered 1 s after it was sent, between two flows judged in turn', () => {
    const { analyzer, judged } = liveAnalyzer();
    let no = 0;
    const send = (frame: ReturnType<typeof arpFrame>, t: number) => analyzer.onRecord(toRecord(frame, { no: ++no, tsMicros: at(t) }));
    // The answers of the gateway and of 10.0.0.3 show that this capture point sees 10.0.0.1's ARP replies.
    send(arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.254' }), 0.1);
    send(arpFrame({ op: 'reply', senderIp: '10.0.0.254', targetIp: '10.0.0.1', senderMac: '02:00:00:00:00:fe', targetMac: '02:00:00:00:00:01' }), 0.1001);
    send(arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.3' }), 0.4);
    send(arpFrame({ op: 'reply', senderIp: '10.0.0.3', targetIp: '10.0.0.1', senderMac: '02:00:00:00:00:03', targetMac: '02:00:00:00:00:01' }), 0.4001);
    const refused = conv({ client: '10.0.0.1:51010', server: '10.0.0.3:80' }).client('S', 0.5).server('RA', 0.5001);
    for (const p of refused.packets) send(p.frame, p.t);
    send(arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.2' }), 5.5);
    // The refused flow is judged 5 s after its close, 0.2 s after the one ARP request: not unanswered yet.
    analyzer.expireFlows(at(5.7));
    expect(judged.map(codes)).toEqual([['refused']]);
    const toSilent = conv({ client: '10.0.0.1:51011', server: '10.0.0.2:80', clientIsn: 7 });
    toSilent.client('S', 5.8).client('S', 6.8, '', { seq: 7 });
    for (const p of toSilent.packets) send(p.frame, p.t);
    // Judged 1 s and more after the request, with no new ARP packet in between.
    analyzer.expireFlows(at(20));
    expect(judged).toHaveLength(2);
    expect(codes(judged[1])).toContain('arp-unanswered');
  });
});
