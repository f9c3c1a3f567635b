import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeFile, type AnalysisResult, type FlowResult } from '../../src/pipeline.js';
import { collectRecords, toPcap, writeTempCapture } from '../helpers/capture.js';
import { analyzeFrames, conv, type Conversation, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { hasTool } from '../helpers/tools.js';

// What the capture can see: one-sided captures, bytes the capture missed, and captures that end
// before an answer was due. Scripted edge cases, then public captures that showed each problem.

const corpus = useCorpus();
const corpus2 = useCorpus('corpus2');

const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
const REQUEST = 'GET / HTTP/1.1\r\nHost: app\r\n\r\n';

/** Packets of `c` without those `drop` picks (by index), as a capture missing them would hold. */
function without(c: Conversation, drop: Set<number>): ScriptedPacket[] {
  return c.packets.filter((_, i) => !drop.has(i));
}

/** Calls `send` and remembers the index of the packet it added. */
function mark(c: Conversation, set: Set<number>, send: () => void): void {
  send();
  set.add(c.packets.length - 1);
}

const codesOf = (f: FlowResult) => f.verdicts.map((v) => v.code).sort();
const flowBetween = (r: AnalysisResult, client: string) => r.flows.find((f) => f.client === client)!;

/**
 * An answered request from `client` to `server` starting at `t`, with the SYN-ACK and the response
 * in `missed` (by index): leave those out and only the client's direction is captured.
 */
function clientOnlyExchange(client: string, server: string, t: number): { c: Conversation; missed: Set<number> } {
  const c = conv({ client, server });
  const missed = new Set<number>();
  c.client('S', t);
  mark(c, missed, () => c.server('SA', t + 0.01));
  c.client('A', t + 0.02).client('PA', t + 0.03, REQUEST);
  mark(c, missed, () => c.server('PA', t + 0.05, RESPONSE));
  c.client('A', t + 0.06);
  return { c, missed };
}

describe('one-sided captures (scripted)', () => {
  it('marks a flow whose server packets are missing but acknowledged client-only, and says no-response and half-closed of it no more', () => {
    const { c, missed } = clientOnlyExchange('10.0.0.3:40000', '10.0.0.4:80', 0);
    c.client('FA', 5);
    mark(c, missed, () => c.server('FA', 5.01));
    c.client('A', 5.02);
    const r = analyzeFrames(without(c, missed));
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f.visibility).toEqual({ seen: 'client-only', proof: { by: 'flow', flow: 1, packet: 2 } });
    expect(f.peerUnseen).toMatchObject({ seenSide: 'client', synAckUnseen: true, acknowledgedBytes: RESPONSE.length + 1 });
    expect(codesOf(f)).toEqual([]);
    const v = r.verdicts.find((x) => x.code === 'one-sided-capture')!;
    expect(v.severity).toBe('warning');
    expect(v.summary).toContain('10.0.0.3 (from 10.0.0.4) acknowledged packets from 1 peer that the capture does not hold');
    expect(v.facts).toMatchObject({ oneDirectionOnly: true, flows: 1 });
  });

  it('marks only the one-sided conversation of a capture that sees the others both ways; a silent peer alone proves nothing', () => {
    // A two-sided exchange, a one-sided one, a lone SYN from the one-sided host (its peers' packets
    // never reach the capture), and three SYNs from a host that does receive packets.
    const twoSided = conv({ client: '10.0.0.1:41000', server: '10.0.0.2:80' }).handshake(0).client('PA', 0.01, REQUEST).server('PA', 0.02, RESPONSE).client('A', 0.03);
    const oneSided = clientOnlyExchange('10.0.0.3:42000', '10.0.0.4:80', 0.1);
    const loneFromOneSided = conv({ client: '10.0.0.3:42001', server: '10.0.0.5:443' }).client('S', 0.2);
    const unanswered = conv({ client: '10.0.0.1:41001', server: '10.0.0.6:443' }).client('S', 0.3).client('S', 1.3, '', { seq: 0xffff_fff0 }).client('S', 3.3, '', { seq: 0xffff_fff0 });
    const later = conv({ client: '10.0.0.1:41002', server: '10.0.0.2:80' }).handshake(10);
    const all = [...twoSided.packets, ...without(oneSided.c, oneSided.missed), ...loneFromOneSided.packets, ...unanswered.packets, ...later.packets].sort((a, b) => a.t - b.t);
    const r = analyzeFrames(all);
    expect(flowBetween(r, '10.0.0.1:41000').visibility.seen).toBe('both');
    expect(flowBetween(r, '10.0.0.3:42000').visibility.seen).toBe('client-only');
    // No packet sent to 10.0.0.3 is in the capture and its other conversation proves answers were missed.
    const lone = flowBetween(r, '10.0.0.3:42001');
    expect(lone.visibility).toMatchObject({ seen: 'client-only', proof: { by: 'host' } });
    expect(codesOf(lone)).toEqual([]);
    // 10.0.0.1 receives packets: its SYNs that got no answer are a real syn-timeout.
    const timedOut = flowBetween(r, '10.0.0.1:41001');
    expect(timedOut.visibility.seen).toBe('both');
    expect(codesOf(timedOut)).toEqual(['syn-timeout']);
    expect(r.verdicts.find((v) => v.code === 'one-sided-capture')!.facts).toMatchObject({ hostCount: 1, flows: 1 });
  });

  it('asymmetric routing: a host that receives from other peers keeps its syn-timeout, and the cause named is another path', () => {
    const oneSided = clientOnlyExchange('10.0.0.3:42000', '10.0.0.4:80', 0);
    const seenBothWays = conv({ client: '10.0.0.3:42001', server: '10.0.0.2:80' }).handshake(0.1).client('PA', 0.11, REQUEST).server('PA', 0.12, RESPONSE).client('A', 0.13);
    const syns = conv({ client: '10.0.0.3:42002', server: '10.0.0.5:443' }).client('S', 0.2).client('S', 1.2, '', { seq: 0xffff_fff0 }).client('S', 3.2, '', { seq: 0xffff_fff0 });
    const later = conv({ client: '10.0.0.3:42003', server: '10.0.0.2:80' }).handshake(10);
    const r = analyzeFrames([...without(oneSided.c, oneSided.missed), ...seenBothWays.packets, ...syns.packets, ...later.packets].sort((a, b) => a.t - b.t));
    expect(flowBetween(r, '10.0.0.3:42000').visibility.seen).toBe('client-only');
    const timedOut = flowBetween(r, '10.0.0.3:42002');
    expect(timedOut.visibility.seen).toBe('both');
    expect(codesOf(timedOut)).toEqual(['syn-timeout']);
    const v = r.verdicts.find((x) => x.code === 'one-sided-capture')!;
    expect(v.facts).toMatchObject({ oneDirectionOnly: false });
    expect(v.summary).toContain('the capture holds other packets sent to these hosts');
  });

  it('counts the unseen peers of a host up to 100 and then says "over"', () => {
    // 130 one-sided flows from one host: 120 peers, the first ten of them twice.
    const packets: ScriptedPacket[] = [];
    for (let i = 0; i < 130; i++) {
      const peer = i % 120;
      const c = conv({ client: `10.0.0.3:${20000 + i}`, server: `10.1.${peer >> 8}.${peer & 0xff}:80` });
      const server = new Set<number>();
      c.client('S', i);
      mark(c, server, () => c.server('SA', i + 0.01));
      c.client('A', i + 0.02);
      packets.push(...without(c, server));
    }
    const r = analyzeFrames(packets);
    const v = r.verdicts.find((x) => x.code === 'one-sided-capture')!;
    const host = (v.facts.hosts as { ip: string; peers: string[]; peerCount: number; peersCapped: boolean; flows: number }[])[0];
    expect(host).toMatchObject({ ip: '10.0.0.3', peerCount: 100, peersCapped: true, flows: 130 });
    expect(host.peers).toHaveLength(100);
    expect(v.summary).toContain('10.0.0.3 (from 10.1.0.0, 10.1.0.1, 10.1.0.2, 10.1.0.3 and over 96 more) acknowledged packets from over 100 peers');
  });

  it('keeps syn-timeout and no-response in a capture that holds both directions', () => {
    const syns = conv({ client: '10.0.0.1:41001', server: '10.0.0.6:443' }).client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    const hang = conv({ client: '10.0.0.1:41003', server: '10.0.0.2:80' }).handshake(0).client('PA', 0.01, REQUEST).server('A', 0.02).server('A', 10);
    const r = analyzeFrames([...syns.packets, ...hang.packets].sort((a, b) => a.t - b.t));
    expect(codesOf(flowBetween(r, '10.0.0.1:41001'))).toEqual(['syn-timeout']);
    expect(codesOf(flowBetween(r, '10.0.0.1:41003'))).toEqual(['no-response']);
    expect(r.verdicts.map((v) => v.code)).not.toContain('one-sided-capture');
    expect(r.flows.every((f) => f.visibility.seen === 'both')).toBe(true);
  });
});

describe('bytes the capture missed (scripted)', () => {
  it('counts a response the capture missed but the client acknowledged, and does not call it no-response', () => {
    const c = conv().handshake(0).client('PA', 0.01, REQUEST);
    const missing = new Set<number>();
    mark(c, missing, () => c.server('PA', 0.05, RESPONSE));
    c.client('A', 0.06).server('FA', 10).client('FA', 10.01).server('A', 10.02);
    const r = analyzeFrames(without(c, missing));
    const f = r.flows[0];
    expect(f.serverSide.missedBytes).toBe(RESPONSE.length);
    expect(f.clientSide.missedBytes).toBe(0);
    expect(f.history).toContain('g');
    expect(f.visibility.seen).toBe('both');
    expect(codesOf(f)).toEqual(['clean-close']);
  });

  it('a server FIN past bytes never captured is an answer even before any ACK covers them', () => {
    const c = conv().handshake(0).client('PA', 0.01, REQUEST).server('A', 0.02);
    const missing = new Set<number>();
    mark(c, missing, () => c.server('PA', 0.05, RESPONSE));
    c.server('FA', 10);
    const f = analyzeFrames(without(c, missing)).flows[0];
    expect(f.history).toBe('ShADaf');
    expect(f.analysis!.unanswered).toMatchObject({ requestPacket: 4, ackedPacket: 5, unseenAnswerPacket: 6 });
    // The capture ends on that FIN, so the only thing left to say is that it ended.
    expect(f.verdicts.map((v) => [v.code, v.packets])).toEqual([['capture-ended', [6]]]);
    // The same request whose server only acknowledged it and then kept quiet is a no-response.
    const silent = analyzeFrames(conv().handshake(0).client('PA', 0.01, REQUEST).server('A', 0.02).server('A', 10).packets).flows[0];
    expect(silent.analysis!.unanswered!.unseenAnswerPacket).toBeNull();
    expect(silent.verdicts.map((v) => [v.code, v.packets])).toEqual([['no-response', [4]]]);
  });
});

describe('captures that end too early to judge (scripted)', () => {
  it('says capture-ended for a request the capture stopped 1 ms after, and no-response when it went on 10 s', () => {
    const cut = conv().handshake(0, 0.002).client('PA', 0.01, REQUEST).server('A', 0.011);
    const early = analyzeFrames(cut.packets).flows[0];
    expect(codesOf(early)).toEqual(['capture-ended']);
    expect(early.verdicts[0].summary).toBe('the capture ended 1.0 ms after request #4: too early to judge (an answer could still come; silence counts after 1.00 s)');
    const waited = conv().handshake(0, 0.002).client('PA', 0.01, REQUEST).server('A', 0.011).server('A', 10.01);
    expect(codesOf(analyzeFrames(waited.packets).flows[0])).toEqual(['no-response']);
  });

  it('says capture-ended for a lone SYN 0.2 s before the end, and syn-timeout for three SYNs', () => {
    const lone = analyzeFrames(conv().client('S', 0).packets.concat(conv({ client: '10.0.0.1:50000', server: '10.0.0.2:22' }).handshake(0.2).packets)).flows.find((f) => f.clientPort === 51000)!;
    expect(codesOf(lone)).toEqual(['capture-ended']);
    expect(lone.verdicts[0].facts).toMatchObject({ after: 'SYN #1', waitedMs: 201 });
    const three = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    expect(codesOf(analyzeFrames(three.packets).flows[0])).toEqual(['syn-timeout']);
  });

  it('says capture-ended rather than half-closed for a FIN the capture stopped just after', () => {
    const c = conv().handshake(0).client('FA', 0.5).server('A', 0.501);
    expect(codesOf(analyzeFrames(c.packets).flows[0])).toEqual(['capture-ended']);
  });
});

corpus.describe('public captures: what the capture can see', () => {
  const trace = corpus.path;

  it('PPA hauntedbrowser.pcap: only the client direction; its answered requests are no no-response, its lone SYNs no syn-timeout', () => {
    const r = analyzeFile(trace('ppa/ppa1e/hauntedbrowser.pcap'));
    expect(r.flows.length).toBe(6);
    expect(r.flows.every((f) => f.visibility.seen === 'client-only')).toBe(true);
    expect(r.flows.flatMap((f) => f.verdicts).filter((v) => v.severity !== 'info')).toEqual([]);
    const v = r.verdicts.find((x) => x.code === 'one-sided-capture')!;
    expect(v.facts).toMatchObject({ oneDirectionOnly: true, hostCount: 1 });
    expect(v.summary).toContain('192.168.0.184 (from ');
  });

  it("Zeek's half-duplex ssh traces and one-sided-2745.pcap: no half-closed, every flow marked", () => {
    for (const [file, seen] of [
      ['zeek/ssh/ssh.client-side-half-duplex.pcap', 'client-only'],
      ['zeek/ssh/ssh.server-side-half-duplex.pcap', 'server-only'],
      ['zeek/tcp/one-sided-2745.pcap', 'server-only'],
    ] as const) {
      const r = analyzeFile(trace(file));
      expect(r.flows.map((f) => f.visibility.seen).every((s) => s === seen), file).toBe(true);
      expect(r.flows.flatMap(codesOf).filter((c) => c !== 'midstream'), file).toEqual([]);
      expect(r.verdicts.map((x) => x.code), file).toContain('one-sided-capture');
    }
  });

  it("Zeek's miss_end_data.pcap: 2902 bytes the capture missed, as Zeek's conn.log says; no no-response", () => {
    const r = analyzeFile(trace('zeek/tcp/miss_end_data.pcap'));
    const f = r.flows[0];
    expect(f.serverSide.missedBytes).toBe(2902);
    expect(f.history).toBe('ShADafgF');
    expect(codesOf(f)).toEqual(['clean-close']);
  });

  it('PPA http_espn.pcapng cut after 14 packets: the capture ended with request #14', () => {
    const { records } = collectRecords(readFileSync(trace('ppa/ppa3/http_espn.pcapng')), 'http_espn.pcapng');
    const cut = writeTempCapture(toPcap(records.slice(0, 14).map((x) => ({ tsMicros: x.tsMicros, data: x.data, origLen: x.origLen })), { linkType: records[0].linkType }), 'http_espn-14.pcap');
    const r = analyzeFile(cut);
    const f = r.flows.find((x) => x.verdicts.some((v) => v.code === 'capture-ended'))!;
    expect(codesOf(f)).toEqual(['capture-ended']);
    expect(f.verdicts[0].summary).toMatch(/^the capture ended 0 ms after request #14: too early to judge/);
    expect(r.flows.flatMap(codesOf)).not.toContain('no-response');
  });

  it('eririmba socket.io sample: the client acknowledged server FINs never captured, so no half-closed', () => {
    const r = analyzeFile(trace('misc/eririmba-socket.io-sample/websocket.pcap'));
    expect(r.flows.filter((f) => f.visibility.seen === 'client-only').map((f) => f.id)).toEqual([1, 2, 3]);
    expect(r.flows.map((f) => f.peerUnseen?.acknowledgedBytes ?? 0)).toEqual([1, 1, 1, 0]);
    // The last flow is one data segment 0 ms before the end, which nothing acknowledged: no verdict rests on it.
    expect(r.flows.flatMap(codesOf).filter((c) => c !== 'midstream')).toEqual([]);
  });
});

corpus2.describe('public captures of one direction (nDPI test set)', () => {
  const ONE_SIDED = ['whatsapp.pcap', 'ocs.pcap', 'tls_1.2_unidirectional_client.pcapng', 'tls_1.3_unidirectional_server.pcapng', 'http_asymmetric.pcapng'];
  const RESTS_ON_THE_MISSING_SIDE = ['no-response', 'syn-timeout', 'half-open', 'half-closed', 'synack-retry', 'idle-close'];

  it.each(ONE_SIDED)('%s: one-sided-capture, and no verdict that rests on the missing side', (file) => {
    const r = analyzeFile(corpus2.path(`ndpi/${file}`));
    expect(r.verdicts.map((v) => v.code)).toContain('one-sided-capture');
    const resting = r.flows.flatMap((f) => f.verdicts).filter((v) => RESTS_ON_THE_MISSING_SIDE.includes(v.code));
    // Except syn-timeout where the client's own SYN back-off proves it, said with the server's direction missing (ocs.pcap 46166).
    expect(resting.filter((v) => !(v.code === 'syn-timeout' && /none of the server's direction/.test(v.summary))).map((v) => v.code)).toEqual([]);
    // Each host named sent the packet the verdict cites and, as tshark reads the file, received no TCP packet.
    const v = r.verdicts.find((x) => x.code === 'one-sided-capture')!;
    const hosts = v.facts.hosts as { ip: string; firstFlow: number; firstPacket: number; receivedNothing: boolean }[];
    expect(v.packets).toEqual(hosts.map((h) => h.firstPacket));
    for (const h of hosts) expect(r.flows.find((f) => f.id === h.firstFlow)!.visibility.seen, h.ip).not.toBe('both');
    if (!hasTool('tshark')) return;
    for (const h of hosts.filter((x) => x.receivedNothing)) {
      const tshark = (filter: string) => spawnSync('tshark', ['-r', corpus2.path(`ndpi/${file}`), '-Y', filter, '-T', 'fields', '-e', 'ip.src'], { encoding: 'utf8' }).stdout.trim();
      expect(tshark(`tcp && ip.dst == ${h.ip}`), h.ip).toBe('');
      expect(tshark(`frame.number == ${h.firstPacket}`), h.ip).toBe(h.ip);
    }
  });
});
