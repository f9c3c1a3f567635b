// The SYN answers each server gave: a bounded ring, counted per server by time window, and honest
// about what it let go of.

import { describe, expect, it } from 'vitest';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';

/** A deterministic stream of numbers in [0, 1). */
function randoms(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('AnswerLog', () => {
  it('counts as a full list would through the ring growing and wrapping, keeping the latest answers within its bound', () => {
    const cap = 1000;
    const log = new AnswerLog(cap);
    const random = randoms(7);
    const all: Array<{ server: string; ts: number; port: number; synAck: boolean }> = [];
    for (let i = 0; i < 5000; i++) {
      const a = { server: `10.0.0.${1 + Math.floor(random() * 5)}:80`, ts: i * 1000, port: 40000 + Math.floor(random() * 50), synAck: random() < 0.8 };
      log.record(a.server, a.ts, a.port, a.synAck);
      all.push(a);
      expect(log.size).toBe(Math.min(cap, i + 1));
      if (i % 500 !== 499) continue;
      // The latest `cap` answers are all there, and counted as they should be.
      const kept = all.slice(-cap);
      for (const server of ['10.0.0.1:80', '10.0.0.3:80']) {
        const from = kept[Math.floor(kept.length * 0.1)].ts;
        const to = kept[Math.floor(kept.length * 0.8)].ts;
        const mine = kept.filter((x) => x.server === server && x.ts >= from && x.ts <= to);
        expect(log.count(server, from, to)).toBe(mine.length);
        expect(log.count(server, from, to, { synAckOnly: true, exceptPort: 40007 })).toBe(mine.filter((x) => x.synAck && x.port !== 40007).length);
        expect(log.count(server, from, to, { limit: 3 })).toBe(Math.min(3, mine.length));
        expect(log.knownFrom(server, from)).toBe(true);
      }
    }
    // What went before the latest `cap` is no longer known: a window reaching back there is said so.
    const firstKept = all[all.length - cap].ts;
    expect(log.knownFrom('10.0.0.1:80', firstKept - 50_000)).toBe(false);
    expect(log.count('10.0.0.1:80', 0, firstKept - 1)).toBe(0);
  });

  it('keeps each server\'s answers when the ring grows after it has wrapped', () => {
    const log = new AnswerLog();
    const server = (i: number) => (i % 3 === 0 ? '10.0.0.1:80' : '10.0.0.2:80');
    // 128 answers fill the ring (grown from 64 to 128); at 250 s the first 64 are past the horizon,
    // and the next answers take their places at the start of the ring before it grows again.
    for (let i = 0; i < 64; i++) log.record(server(i), i, 40000 + i, true);
    for (let i = 64; i < 128; i++) log.record(server(i), 100_000_000 + i, 40000 + i, true);
    for (let i = 128; i < 300; i++) log.record(server(i), 250_000_000 + i, 40000 + i, true);
    expect(log.size).toBe(300 - 64);
    const expected = (name: string, from: number, to: number) => Array.from({ length: 300 }, (_, i) => i).filter((i) => i >= 64 && server(i) === name && [i < 128 ? 100_000_000 + i : 250_000_000 + i].some((t) => t >= from && t <= to)).length;
    for (const name of ['10.0.0.1:80', '10.0.0.2:80']) {
      expect(log.count(name, 0, Infinity)).toBe(expected(name, 0, Infinity));
      expect(log.count(name, 250_000_000, 250_000_200)).toBe(expected(name, 250_000_000, 250_000_200));
      expect(log.count(name, 100_000_100, 250_000_150, { exceptPort: 40140 })).toBe(expected(name, 100_000_100, 250_000_150) - (server(140) === name ? 1 : 0));
    }
  });

  it('lets answers older than 200 s go, and knows they are gone', () => {
    const log = new AnswerLog();
    log.record('10.0.0.1:80', 0, 40000, true);
    log.record('10.0.0.2:80', 1_000_000, 40001, true);
    expect(log.knownFrom('10.0.0.1:80', 0)).toBe(true);
    log.record('10.0.0.2:80', 200_500_000, 40002, true);
    expect(log.size).toBe(2);
    expect(log.count('10.0.0.1:80', 0, Infinity)).toBe(0);
    expect(log.knownFrom('10.0.0.1:80', 0)).toBe(false);
    expect(log.knownFrom('10.0.0.1:80', 1)).toBe(true);
    expect(log.count('10.0.0.2:80', 0, Infinity)).toBe(2);
    // A server never heard from, with no server untracked: nothing was missed.
    expect(log.knownFrom('10.0.0.9:80', 0)).toBe(true);
  });

  it('with every server place taken, says a server left unrecorded is unknown from then on', () => {
    const log = new AnswerLog();
    for (let i = 0; i < 65_536; i++) log.record(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:80`, 1_000, 40000, true);
    log.record('192.0.2.1:80', 2_000, 40000, true);
    expect(log.count('192.0.2.1:80', 0, Infinity)).toBe(0);
    expect(log.knownFrom('192.0.2.1:80', 1_500)).toBe(false);
    expect(log.knownFrom('192.0.2.1:80', 2_001)).toBe(true);
    // Once the first servers' answers are past the horizon, their places go to new servers.
    log.record('192.0.2.1:80', 300_000_000, 40000, true);
    expect(log.count('192.0.2.1:80', 0, Infinity)).toBe(1);
    expect(log.knownFrom('192.0.2.1:80', 299_000_000)).toBe(true);
    expect(log.knownFrom('192.0.2.1:80', 1_500)).toBe(false);
  });
});

describe('syn-timeout when the answer log let the answers of the time go', () => {
  // A client whose SYNs (0, 1 and 3 s) go unanswered while the listener serves another client at
  // 0.5 s; then 20 more clients are served at 4 s, before the dropped client's attempt ends.
  const retry = { seq: 0xffff_fff0 };
  const convs = (): Conversation[] => [
    conv({ client: '10.0.0.1:40001' }).client('S', 0).client('S', 1, '', retry).client('S', 3, '', retry),
    conv({ client: '10.0.0.3:40002' }).handshake(0.5),
    ...Array.from({ length: 20 }, (_, i) => conv({ client: `10.0.1.${i + 1}:41000` }).handshake(4 + i * 0.01)),
    // The capture goes on long enough for the attempt to be given up.
    conv({ client: '10.0.2.1:42000', server: '10.0.0.9:22' }).handshake(200),
  ];
  const synTimeout = (maxAnswersKept?: number) => {
    const r = analyzeFrames(convs().flatMap((c) => c.packets).sort((a, b) => a.t - b.t), { maxAnswersKept });
    return r.flows.find((f) => f.client === '10.0.0.1:40001')!.verdicts.find((v) => v.code === 'syn-timeout')!;
  };

  it('says the listener overloaded while the log holds the answer', () => {
    const v = synTimeout();
    expect(v.summary).toContain('listener overloaded: 10.0.0.2:80 answered 1 other SYN meanwhile');
    expect(v.facts).not.toHaveProperty('otherSynAnswersKnown');
  });

  it('does not say "no answer at all" once the log let it go: the cause is not known', () => {
    // 16 answers kept: the one at 0.5 s went before the attempt ended.
    const v = synTimeout(16);
    expect(v.summary).not.toContain('no answer at all');
    expect(v.summary).toContain('whether 10.0.0.2:80 answered other SYNs meanwhile is not known (the capture held more SYN answers than tcpwhy keeps)');
    expect(v.facts).toMatchObject({ otherSynsAnsweredMeanwhile: 0, listenerOverloaded: false, otherSynAnswersKnown: false });
    expect(v.hint).toContain('listen (accept) queue is full');
  });
});
