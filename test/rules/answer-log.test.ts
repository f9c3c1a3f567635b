// The SYN answers each server gave: a bounded ring, counted per server by time window, and honest
// about what it lost.

import { describe, expect, it } from 'vitest';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';
import { createRng } from '../helpers/fuzz.js';

interface Answer {
  server: string;
  ts: number;
  port: number;
  synAck: boolean;
}

/** What the log should count: the answers a full list holds, but those `gone` says it let go of. */
function expectCounts(log: AnswerLog, kept: Answer[], server: string, from: number, to: number): void {
  const mine = kept.filter((x) => x.server === server && x.ts >= from && x.ts <= to);
  expect(log.count(server, from, to)).toBe(mine.length);
  expect(log.count(server, from, to, { synAckOnly: true, exceptPort: 40007 })).toBe(mine.filter((x) => x.synAck && x.port !== 40007).length);
  expect(log.count(server, from, to, { limit: 3 })).toBe(Math.min(3, mine.length));
}

describe('AnswerLog', () => {
  it('counts as a full list would while the ring grows and once it wraps at its bound, and says which times it lost', () => {
    const cap = 1000;
    const log = new AnswerLog(cap);
    const random = createRng(7);
    const all: Answer[] = [];
    for (let i = 0; i < 5000; i++) {
      const a = { server: `10.0.0.${1 + Math.floor(random() * 5)}:80`, ts: i * 1000, port: 40000 + Math.floor(random() * 50), synAck: random() < 0.8 };
      log.record(a.server, a.ts, a.port, a.synAck);
      all.push(a);
      expect(log.size).toBe(Math.min(cap, i + 1));
      if (i % 250 !== 249) continue;
      // The latest `cap` answers are all there, counted as they should be, and known.
      const kept = all.slice(-cap);
      const from = kept[Math.floor(kept.length * 0.1)].ts;
      const to = kept[Math.floor(kept.length * 0.8)].ts;
      for (const server of ['10.0.0.1:80', '10.0.0.3:80']) {
        expectCounts(log, kept, server, from, to);
        expect(log.unknownBecause(server, from, to)).toBeNull();
      }
    }
    // The ring's bound took the answers before the latest `cap`: a window reaching back there is not known.
    const firstKept = all[all.length - cap].ts;
    expect(log.count('10.0.0.1:80', 0, firstKept - 1)).toBe(0);
    expect(log.unknownBecause('10.0.0.1:80', firstKept - 50_000, firstKept + 50_000)).toBe('answers');
    expect(log.unknownBecause('10.0.0.1:80', 0, 1_000)).toBe('answers');
  });

  it('lets a server\'s answers go 200 s after them as it answers again, without calling them lost', () => {
    const log = new AnswerLog();
    log.record('10.0.0.1:80', 0, 40000, true);
    log.record('10.0.0.2:80', 1_000_000, 40001, true);
    log.record('10.0.0.2:80', 201_500_000, 40002, true);
    // Each server goes by its own answers: 10.0.0.1 answered nothing since.
    expect(log.count('10.0.0.1:80', 0, Infinity)).toBe(1);
    expect(log.count('10.0.0.2:80', 0, Infinity)).toBe(1);
    log.record('10.0.0.1:80', 250_000_000, 40003, true);
    expect(log.count('10.0.0.1:80', 0, 100_000_000)).toBe(0);
    expect(log.unknownBecause('10.0.0.1:80', 0, 100_000_000)).toBeNull();
  });

  it('keeps the counts of a server whose list grew to thousands and drains as its answers age', () => {
    const log = new AnswerLog();
    const kept: Answer[] = [];
    const record = (a: Answer) => {
      log.record(a.server, a.ts, a.port, a.synAck);
      kept.push(a);
      while (kept.length > 0 && kept[0].server === a.server && kept[0].ts < a.ts - 200_000_000) kept.shift();
    };
    for (let i = 0; i < 3000; i++) record({ server: '10.0.0.1:80', ts: i * 1000, port: 40000 + (i % 50), synAck: i % 5 !== 0 });
    // One answer every 10 ms lets ten of the burst go each time: the list drains to a tenth.
    for (let k = 0; k < 400; k++) {
      record({ server: '10.0.0.1:80', ts: 200_000_000 + k * 10_000 + 500, port: 41000 + (k % 50), synAck: true });
      // Every step: a list moved into a smaller one must lose no answer it still keeps.
      expect(log.count('10.0.0.1:80', 0, Infinity)).toBe(kept.length);
      if (k % 37 === 0) for (const [from, to] of [[k * 10_000, 200_000_000 + k * 10_000], [1_000_000, 2_000_000]]) expectCounts(log, kept, '10.0.0.1:80', from, to);
    }
    expectCounts(log, kept, '10.0.0.1:80', 0, Infinity);
  });

  it('keeps each server\'s answers when the ring grows after its oldest places were freed', () => {
    const log = new AnswerLog();
    const all: Answer[] = [];
    const record = (a: Answer) => {
      log.record(a.server, a.ts, a.port, a.synAck);
      all.push(a);
    };
    // 60 answers of one server fill most of the first 64 places; 200 s on, its first 30 are past
    // the horizon and their places freed, so the ring has wrapped when another server's 40
    // answers make it grow.
    for (let i = 0; i < 60; i++) record({ server: '10.0.0.1:80', ts: i, port: 40000 + i, synAck: true });
    record({ server: '10.0.0.1:80', ts: 200_000_030, port: 41000, synAck: true });
    for (let i = 0; i < 40; i++) record({ server: '10.0.0.2:80', ts: 200_000_031 + i, port: 42000 + i, synAck: i % 2 === 0 });
    expect(log.size).toBe(30 + 1 + 40);
    const kept = all.filter((a) => a.server !== '10.0.0.1:80' || a.ts >= 30);
    for (const server of ['10.0.0.1:80', '10.0.0.2:80']) for (const [from, to] of [[0, Infinity], [40, 200_000_050], [200_000_040, 200_000_060]]) expectCounts(log, kept, server, from, to);
  });

  it('keeps the counts of a server whose answers the ring takes one by one for another\'s', () => {
    const log = new AnswerLog(3000);
    for (let i = 0; i < 3000; i++) log.record('10.0.0.1:80', i, 40000 + (i % 50), true);
    for (let k = 0; k < 2990; k++) {
      log.record('10.0.0.2:80', 3000 + k, 40000, true);
      // The list of 10.0.0.1 moves into smaller ones as it drains: none of what it keeps is lost.
      expect(log.count('10.0.0.1:80', 0, Infinity)).toBe(3000 - k - 1);
      expect(log.count('10.0.0.1:80', k + 1, k + 1)).toBe(1);
    }
  });

  it('with every server place taken, says only of a server it could not record that its answers are not known', () => {
    const log = new AnswerLog();
    for (let i = 0; i < 65_536; i++) log.record(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:80`, 1_000, 40000, true);
    log.record('192.0.2.1:80', 2_000, 40000, true);
    expect(log.count('192.0.2.1:80', 0, Infinity)).toBe(0);
    expect(log.unknownBecause('192.0.2.1:80', 1_500, 2_500)).toBe('servers');
    expect(log.unknownBecause('192.0.2.1:80', 2_001, 3_000)).toBeNull();
    // A server that answered nothing is not made unknown by another's lost answers.
    expect(log.unknownBecause('192.0.2.2:80', 1_500, 2_500)).toBeNull();
    // Past the horizon the quiet servers are forgotten and the unrecorded one takes a place; what
    // it answered while unrecorded stays unknown.
    log.record('192.0.2.1:80', 300_000_000, 40000, true);
    expect(log.count('192.0.2.1:80', 0, Infinity)).toBe(1);
    expect(log.unknownBecause('192.0.2.1:80', 299_000_000, 301_000_000)).toBeNull();
    expect(log.unknownBecause('192.0.2.1:80', 1_500, 2_500)).toBe('servers');
  });

  it('a server forgotten after the ring took some of its answers is still not known for those times', () => {
    const log = new AnswerLog(4);
    for (let i = 0; i < 6; i++) log.record('10.0.0.1:80', i, 40000 + i, true);
    expect(log.unknownBecause('10.0.0.1:80', 0, 1)).toBe('answers');
    // 65,536 more servers, past the horizon: 10.0.0.1 is forgotten to make room.
    for (let i = 0; i < 65_536; i++) log.record(`10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:80`, 300_000_000 + i, 40000, true);
    expect(log.count('10.0.0.1:80', 0, Infinity)).toBe(0);
    expect(log.unknownBecause('10.0.0.1:80', 0, 1)).toBe('servers');
  });
});

describe('syn-timeout when the answer log lost the answers of the time', () => {
  // A client whose SYNs (0, 1 and 3 s) go unanswered while the listener answers another client at
  // 0.5 s; then 20 more clients are answered at 4 s, before the dropped client's attempt ends. The
  // answers are handshakes, or RSTs, which show nothing of the server's host (a firewall in front
  // may send them).
  const retry = { seq: 0xffff_fff0 };
  const answer = (c: Conversation, t: number, refuse: boolean) => (refuse ? c.client('S', t).server('RA', t + 0.001, '', { seq: 0 }) : c.handshake(t));
  const convs = (refuse: boolean): Conversation[] => [
    conv({ client: '10.0.0.1:40001' }).client('S', 0).client('S', 1, '', retry).client('S', 3, '', retry),
    answer(conv({ client: '10.0.0.3:40002' }), 0.5, refuse),
    ...Array.from({ length: 20 }, (_, i) => answer(conv({ client: `10.0.1.${i + 1}:41000` }), 4 + i * 0.01, refuse)),
    // The capture goes on long enough for the attempt to be given up.
    conv({ client: '10.0.2.1:42000', server: '10.0.0.9:22' }).handshake(200),
  ];
  const synTimeout = (maxAnswersKept?: number, refuse = false) => {
    const r = analyzeFrames(convs(refuse).flatMap((c) => c.packets).sort((a, b) => a.t - b.t), { maxAnswersKept });
    return r.flows.find((f) => f.client === '10.0.0.1:40001')!.verdicts.find((v) => v.code === 'syn-timeout')!;
  };

  it('says the listener overloaded while the log holds the answer', () => {
    const v = synTimeout();
    expect(v.summary).toContain('listener overloaded: 10.0.0.2:80 answered 1 other SYN meanwhile');
    expect(v.facts).not.toHaveProperty('otherSynAnswersUnknown');
  });

  it('does not say "no answer at all" once the log lost it: the cause is not known', () => {
    // 16 answers kept: the one at 0.5 s went before the attempt ended.
    const v = synTimeout(16, true);
    expect(v.summary).not.toContain('no answer at all');
    expect(v.summary).toContain('whether 10.0.0.2:80 answered other SYNs meanwhile is not known (the capture held more SYN answers than tcpwhy keeps)');
    expect(v.facts).toMatchObject({ otherSynsAnsweredMeanwhile: 0, listenerOverloaded: false, otherSynAnswersUnknown: 'answers' });
    expect(v.hint).toContain('listen (accept) queue is full');
  });

  it('says the server address sent other packets meanwhile when its SYN-ACK to the other client shows it, though the log lost that answer', () => {
    const v = synTimeout(16);
    expect(v.summary).toMatch(/^SYN retries, no answer, though 10\.0\.0\.2 sent other packets meanwhile \(#3, between them\)/);
    expect(v.facts).toMatchObject({ otherSynsAnsweredMeanwhile: 0, otherSynAnswersUnknown: 'answers', serverSentPacket: 3 });
  });

  it('still says "no answer at all" after a clock step back, where only answers past the horizon went', () => {
    // Recording A: the listener answers at 100 s, another server at 350 s. Recording B, joined
    // after it, starts again at 0 s: SYNs at 1, 2 and 4 s, never answered.
    const a = [...conv({ client: '10.0.0.3:40002' }).handshake(100).packets, ...conv({ client: '10.0.2.1:42000', server: '10.0.0.9:22' }).handshake(350).packets];
    const b = [
      ...conv({ client: '10.0.0.1:40001' }).client('S', 1).client('S', 2, '', retry).client('S', 4, '', retry).packets,
      ...conv({ client: '10.0.3.1:43000', server: '10.0.0.9:22' }).handshake(30).packets,
    ].sort((x, y) => x.t - y.t);
    const r = analyzeFrames([...a, ...b]);
    const v = r.flows.find((f) => f.client === '10.0.0.1:40001')!.verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toContain('no answer at all');
    expect(v.facts).not.toHaveProperty('otherSynAnswersUnknown');
  });
});
