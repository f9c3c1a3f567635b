// Capture-level rules see flows one at a time as they finish and keep bounded state: the verdicts
// must not depend on the order flows finish in, and a long capture must not make them hold more.

import { describe, expect, it } from 'vitest';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { CaptureJudge, judgeCapture, type FlowDigest } from '../../src/rules/capture-rules.js';
import type { RuleContext } from '../../src/rules/rules.js';
import { synFloodRule, TCP_CAPTURE_RULES } from '../../src/rules/tcp-rules.js';

const T0 = 1_700_000_000_000_000;
const CAPTURE = { packets: 0, truncatedPackets: 0, truncatedBelowSnaplen: 0, payloadCutPackets: 0, snaplen: 65535 };

function digest(d: Partial<FlowDigest> & { id: number; ts: number }): FlowDigest {
  const { ts, ...rest } = d;
  return {
    server: '10.0.0.2:80',
    clientIp: '10.0.0.1',
    clientPort: 40000,
    state: 'SF',
    start: ts,
    end: ts + 500,
    syns: [{ no: 10 * d.id, ts }],
    synAcks: [{ no: 10 * d.id + 1, ts: ts + 50 }],
    handshakeAck: { no: 10 * d.id + 2, ts: ts + 100 },
    reusedAfter: null,
    clientSide: { bytes: 10, rst: null },
    serverSide: { rst: null, packets: 2 },
    ...rest,
  };
}

const ctxAt = (captureEnd: number, answers = new AnswerLog()): RuleContext => ({ captureEnd, neighboursUnanswered: new Map(), answers });

/** Deterministic shuffle (LCG), so a failure reproduces. */
function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('AnswerLog', () => {
  it('counts answers in a window, SYN-ACKs only or all, leaving out the asking flow', () => {
    const log = new AnswerLog();
    log.record('10.0.0.2:80', T0, 40001, true);
    log.record('10.0.0.2:80', T0 + 100, 40002, false); // an RST refusing a SYN
    log.record('10.0.0.2:80', T0 + 200, 40003, true);
    log.record('10.0.0.3:80', T0 + 150, 40004, true);
    expect(log.count('10.0.0.2:80', T0, T0 + 200)).toBe(3);
    expect(log.count('10.0.0.2:80', T0 + 1, T0 + 200)).toBe(2);
    expect(log.count('10.0.0.2:80', T0, T0 + 200, { synAckOnly: true })).toBe(2);
    expect(log.count('10.0.0.2:80', T0, T0 + 200, { synAckOnly: true, exceptPort: 40003 })).toBe(1);
    expect(log.count('10.0.0.2:80', T0, T0 + 200, { limit: 1 })).toBe(1);
    expect(log.count('10.0.0.9:80', T0, T0 + 200)).toBe(0);
  });

  it('keeps only the last 200 s of packet time', () => {
    const log = new AnswerLog();
    // One answer every 10 ms for 20 minutes: 120,000 answers, of which 200 s' worth stays.
    for (let i = 0; i < 120_000; i++) log.record('10.0.0.2:80', T0 + i * 10_000, 40000 + (i % 1000), true);
    expect(log.size).toBeLessThanOrEqual(20_001 + 1024);
    expect(log.size).toBeGreaterThanOrEqual(20_000);
    const end = T0 + 119_999 * 10_000;
    expect(log.count('10.0.0.2:80', end - 1_000_000, end)).toBe(101);
    expect(log.count('10.0.0.2:80', T0, T0 + 1_000_000)).toBe(0); // long gone
  });

  it('follows at most 65,536 servers; past that, new ones wait for quiet ones to be forgotten', () => {
    const log = new AnswerLog();
    const server = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`;
    for (let i = 0; i < 65_536; i++) log.record(server(i), T0, 40000, true);
    // 100,000 more servers within a second: none fits, and none pays for a look over the others
    // (a look each would be 6.5 billion steps).
    for (let i = 0; i < 100_000; i++) log.record(server(65_536 + i), T0 + 10 * i, 40000, true);
    expect(log.count(server(65_536), T0, T0 + 1_000_000)).toBe(0);
    expect(log.count(server(0), T0, T0)).toBe(1);
    // Past the 200 s horizon the first servers are quiet: they are forgotten and a new one fits.
    log.record(server(200_000), T0 + 201_000_000, 40000, true);
    expect(log.count(server(200_000), T0, T0 + 202_000_000)).toBe(1);
    expect(log.count(server(0), T0, T0 + 202_000_000)).toBe(0);
  });
});

describe('capture rules as a stream', () => {
  it('give the same verdicts whatever order the flows finish in', () => {
    const flows: FlowDigest[] = [];
    // One client cycling through 50 source ports to one server at 500 connections a second: port exhaustion.
    for (let i = 0; i < 400; i++) {
      const ts = T0 + i * 2_000;
      flows.push(digest({ id: i + 1, ts, clientPort: 50000 + (i % 50), reusedAfter: i >= 50 ? { flowId: i - 49, closedTs: ts - 990_000, state: 'SF' } : null }));
    }
    // Thirty spoofed sources that never complete a handshake: a SYN flood against another service.
    for (let i = 0; i < 30; i++) {
      const ts = T0 + i * 10_000;
      flows.push(digest({ id: 1000 + i, ts, server: '10.0.0.5:443', clientIp: `198.51.100.${i + 1}`, handshakeAck: null, clientSide: { bytes: 0, rst: null }, serverSide: { rst: null, packets: 1 } }));
    }
    const end = T0 + 10_000_000;
    const inOrder = judgeCapture(flows, CAPTURE, ctxAt(end));
    const mixed = judgeCapture(shuffled(flows), CAPTURE, ctxAt(end));
    expect(inOrder.map((v) => v.code).sort()).toEqual(['port-exhaustion', 'syn-flood']);
    expect(mixed).toEqual(inOrder);
    const pe = inOrder.find((v) => v.code === 'port-exhaustion')!;
    expect(pe.facts).toMatchObject({ connections: 400, distinctSourcePorts: 50, reusedWithinTimeWait: 350, quickestReuseMs: 990 });
    expect(pe.packets).toEqual(Array.from({ length: 20 }, (_, k) => 10 * (51 + k)));
  });

  it('forget clients quiet for a TIME_WAIT, so a long capture does not grow their state', () => {
    const judge = new CaptureJudge();
    const answers = new AnswerLog();
    // 60,000 one-off clients over 20 minutes, one connection each.
    let id = 0;
    for (let i = 0; i < 60_000; i++) {
      const ts = T0 + i * 20_000;
      const f = digest({ id: ++id, ts, clientIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, clientPort: 40000 + (i % 20000) });
      judge.observe(f, ctxAt(f.end, answers));
    }
    // Groups still within a TIME_WAIT (3,000 at 50/s) and the last PRUNE_EVERY since the sweep.
    expect(judge.retained()).toBeLessThan(3_000 + 16_384 + 10);
    // Then one client that cycles its ports: still found.
    for (let i = 0; i < 200; i++) {
      const ts = T0 + 1_300_000_000 + i * 1_000;
      const f = digest({ id: ++id, ts, clientIp: '10.200.0.1', clientPort: 60000 + (i % 20), reusedAfter: i >= 20 ? { flowId: id - 20, closedTs: ts - 150_000, state: 'SF' } : null });
      judge.observe(f, ctxAt(f.end, answers));
    }
    const verdicts = judge.verdicts(CAPTURE, ctxAt(T0 + 1_400_000_000, answers));
    expect(verdicts.map((v) => [v.code, v.facts.client])).toEqual([['port-exhaustion', '10.200.0.1']]);
  });

  it('hold at most 50,000 client/server pairs when one-off clients arrive faster than a TIME_WAIT clears them', () => {
    const judge = new CaptureJudge();
    const answers = new AnswerLog();
    let id = 0;
    // 120,000 one-off clients within 12 s: none is quiet for a TIME_WAIT yet.
    for (let i = 0; i < 120_000; i++) {
      const f = digest({ id: ++id, ts: T0 + i * 100, clientIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, clientPort: 40000 });
      judge.observe(f, ctxAt(f.end, answers));
    }
    expect(judge.retained()).toBeLessThanOrEqual(50_000 + 10);
    for (let i = 0; i < 200; i++) {
      const ts = T0 + 12_000_000 + i * 1_000;
      const f = digest({ id: ++id, ts, clientIp: '10.200.0.1', clientPort: 60000 + (i % 20), reusedAfter: i >= 20 ? { flowId: id - 20, closedTs: ts - 150_000, state: 'SF' } : null });
      judge.observe(f, ctxAt(f.end, answers));
    }
    const verdicts = judge.verdicts(CAPTURE, ctxAt(T0 + 20_000_000, answers));
    expect(verdicts.map((v) => [v.code, v.facts.connections])).toEqual([['port-exhaustion', 200]]);
  });

  it('listen-queue-overflow waits for the answers around a dropped SYN before deciding', () => {
    const answers = new AnswerLog();
    const judge = new CaptureJudge();
    const server = '10.0.0.2:80';
    // The dropped flow: SYN at 0, retried at 1 s and 3 s, answered at 3.001 s.
    const dropped = digest({ id: 1, ts: T0, syns: [{ no: 1, ts: T0 }, { no: 5, ts: T0 + 1_000_000 }, { no: 7, ts: T0 + 3_000_000 }], synAcks: [{ no: 8, ts: T0 + 3_001_000 }] });
    answers.record(server, T0 + 500_000, 41000, true); // another client answered meanwhile
    answers.record(server, T0 + 3_001_000, 40000, true); // this flow's own SYN-ACK
    judge.observe(dropped, ctxAt(T0 + 3_001_000, answers));
    const [v] = judge.verdicts(CAPTURE, ctxAt(T0 + 4_000_000, answers));
    expect(v.code).toBe('listen-queue-overflow');
    expect(v.facts).toMatchObject({ listener: server, droppedConnections: 1, droppedSyns: 2, neverConnected: 0 });

    // Its own SYN-ACK alone is no evidence of other connections being served.
    const lonely = new AnswerLog();
    lonely.record(server, T0 + 3_001_000, 40000, true);
    expect(judgeCapture([dropped], CAPTURE, ctxAt(T0 + 4_000_000, lonely))).toEqual([]);
  });

  it('listen-queue-overflow decides a dropped flow as it ends, before the answer log forgets the answers around it', () => {
    const answers = new AnswerLog();
    const judge = new CaptureJudge(TCP_CAPTURE_RULES.filter((r) => r.code === 'listen-queue-overflow'));
    const server = '10.0.0.2:80';
    const dropped = digest({ id: 1, ts: T0, syns: [{ no: 1, ts: T0 }, { no: 5, ts: T0 + 1_000_000 }, { no: 7, ts: T0 + 3_000_000 }], synAcks: [{ no: 8, ts: T0 + 3_001_000 }] });
    answers.record(server, T0 + 500_000, 41000, true);
    answers.record(server, T0 + 3_001_000, 40000, true);
    judge.observe(dropped, ctxAt(T0 + 4_000_000, answers));
    // The listener goes on answering for 400 s: the log keeps 200 s of its answers.
    for (let s = 10; s <= 400; s += 10) answers.record(server, T0 + s * 1_000_000, 42000 + s, true);
    expect(answers.count(server, T0, T0 + 3_001_000)).toBe(0);
    const [v] = judge.verdicts(CAPTURE, ctxAt(T0 + 400_000_000, answers));
    expect(v.facts).toMatchObject({ listener: server, droppedConnections: 1, droppedSyns: 2 });
  });

  it('listen-queue-overflow is not said of SYNs lost one at a time, as on any lossy path, but of many drops in a burst', () => {
    const server = '10.0.0.2:80';
    const answers = new AnswerLog();
    /** A connection whose first SYN at `t` was dropped once: retried 1 s later and answered, another client answered meanwhile. */
    const droppedOnce = (id: number, t: number) => {
      answers.record(server, t + 500_000, 50000 + id, true);
      answers.record(server, t + 1_000_100, 40000 + id, true);
      return digest({ id, ts: t, clientPort: 40000 + id, syns: [{ no: 10 * id + 1, ts: t }, { no: 10 * id + 2, ts: t + 1_000_000 }], synAcks: [{ no: 10 * id + 3, ts: t + 1_000_100 }] });
    };
    // Single losses 2 s apart: however many, and however large their share, no burst.
    const scattered = Array.from({ length: 12 }, (_, i) => droppedOnce(i + 1, T0 + i * 2_000_000));
    expect(judgeCapture(scattered, CAPTURE, ctxAt(T0 + 40_000_000, answers))).toEqual([]);
    // Nine connections dropped within a second: what a busy listener's random loss can show.
    const busy = Array.from({ length: 9 }, (_, i) => droppedOnce(100 + i, T0 + 30_000_000 + i * 100_000));
    expect(judgeCapture(busy, CAPTURE, ctxAt(T0 + 40_000_000, answers))).toEqual([]);
    // A tenth makes a burst no random loss reaches.
    const [v] = judgeCapture([...busy, droppedOnce(109, T0 + 30_900_000)], CAPTURE, ctxAt(T0 + 40_000_000, answers));
    expect(v.code).toBe('listen-queue-overflow');
    expect(v.facts).toMatchObject({ listener: server, droppedConnections: 10, droppedSyns: 10 });
  });

  it('listen-queue-overflow finds the same bursts whatever order the dropped flows are settled in', () => {
    const server = '10.0.0.2:80';
    /** Connections whose first SYN at each of `times` (s) was dropped once: retried 1 s later and answered, another client answered meanwhile. */
    const droppedOnce = (times: number[]) => {
      const answers = new AnswerLog();
      const records = times.flatMap((s, i) => [
        [T0 + s * 1e6 + 500_000, 50000 + i],
        [T0 + s * 1e6 + 1_000_100, 40000 + i],
      ]);
      for (const [ts, port] of records.sort((a, b) => a[0] - b[0])) answers.record(server, ts, port, true);
      const flows = times.map((s, i) => {
        const t = T0 + s * 1e6;
        return digest({ id: i + 1, ts: t, clientPort: 40000 + i, syns: [{ no: 10 * i + 1, ts: t }, { no: 10 * i + 2, ts: t + 1_000_000 }], synAcks: [{ no: 10 * i + 3, ts: t + 1_000_100 }] });
      });
      return { answers, flows };
    };
    const verdictIn = (flows: FlowDigest[], answers: AnswerLog) => judgeCapture(flows, CAPTURE, ctxAt(T0 + 60_000_000, answers)).map((v) => [v.code, v.facts.droppedConnections]);
    // Nine single losses 2 s apart, and three drops within 0.8 s at 30 s: a burst.
    const burst = droppedOnce([0, 2, 4, 6, 8, 10, 12, 14, 16, 30, 30.3, 30.8]);
    // Each burst drop settled between scattered ones, so no two of them come one after the other.
    const interleaved = [0, 9, 1, 2, 10, 3, 4, 11, 5, 6, 7, 8].map((i) => burst.flows[i]);
    for (const order of [burst.flows, interleaved, [...burst.flows].reverse(), shuffled(burst.flows)]) expect(verdictIn(order, burst.answers)).toEqual([['listen-queue-overflow', 12]]);
    // Drops 0.9 s apart: no three within a second, though each has a neighbour 0.9 s away on both sides.
    const spread = droppedOnce(Array.from({ length: 12 }, (_, i) => i * 0.9));
    const zigzag = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 11].map((i) => spread.flows[i]);
    for (const order of [spread.flows, zigzag, [...spread.flows].reverse(), shuffled(spread.flows)]) expect(verdictIn(order, spread.answers)).toEqual([]);
  });

  it('listen-queue-overflow keeps at most 200,000 listeners in trouble, and still reports those it keeps', () => {
    const judge = new CaptureJudge(TCP_CAPTURE_RULES.filter((r) => r.code === 'listen-queue-overflow'));
    const answers = new AnswerLog();
    // 250,000 listeners, each re-sending its SYN-ACK after the client's ACK (an ignored final ACK).
    for (let i = 0; i < 250_000; i++) {
      const ts = T0 + i * 1_000;
      const f = digest({ id: i + 1, ts, server: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`, synAcks: [{ no: 10 * i + 1, ts: ts + 50 }, { no: 10 * i + 3, ts: ts + 300 }] });
      judge.observe(f, ctxAt(f.end, answers));
    }
    // One key per listener in trouble and one per answered server, each capped.
    expect(judge.retained()).toBeLessThanOrEqual(2 * 200_000);
    // A listener counted before the cap still gets its verdict when it later drops a SYN.
    const t = T0 + 260_000_000;
    answers.record('10.0.0.0:80', t + 500_000, 50000, true);
    judge.observe(digest({ id: 300_000, ts: t, server: '10.0.0.0:80', syns: [{ no: 1, ts: t }, { no: 2, ts: t + 1_000_000 }, { no: 3, ts: t + 3_000_000 }], synAcks: [{ no: 4, ts: t + 3_000_100 }] }), ctxAt(t + 4_000_000, answers));
    const verdicts = judge.verdicts(CAPTURE, ctxAt(T0 + 300_000_000, answers));
    expect(verdicts.map((v) => v.facts)).toEqual([expect.objectContaining({ listener: '10.0.0.0:80', droppedConnections: 1, ignoredFinalAcks: 1 })]);
  });

  it('listen-queue-overflow decides dropped flows while the capture goes on, and counts every answered flow', () => {
    const answers = new AnswerLog();
    const judge = new CaptureJudge();
    const server = '10.0.0.2:80';
    // 300 connections 100 ms apart, each SYN dropped once, retried 1 s later and answered; the
    // listener answers one other client in between each time.
    for (let i = 0; i < 300; i++) {
      const t = T0 + i * 100_000;
      answers.record(server, t + 500_000, 50000 + i, true);
      answers.record(server, t + 1_000_100, 40000 + i, true);
      const f = digest({ id: i + 1, ts: t, clientPort: 40000 + i, syns: [{ no: 10 * i + 1, ts: t }, { no: 10 * i + 2, ts: t + 1_000_000 }], synAcks: [{ no: 10 * i + 3, ts: t + 1_000_100 }] });
      judge.observe(f, ctxAt(t + 6_000_000, answers));
    }
    // The flows that were pending were decided along the way, not all held to the end.
    expect(judge.retained()).toBeLessThan(200);
    // A connection whose SYN was not captured still counts as answered.
    judge.observe(digest({ id: 999, ts: T0, clientPort: 45000, syns: [] }), ctxAt(T0 + 40_000_000, answers));
    const [v] = judge.verdicts(CAPTURE, ctxAt(T0 + 40_000_000, answers));
    expect(v.facts).toMatchObject({ listener: server, droppedConnections: 300, droppedSyns: 300, answeredConnections: 301 });
    expect(v.packets).toEqual(Array.from({ length: 20 }, (_, k) => 10 * k + 1));
  });
});

describe('syn-flood or clients failing to connect', () => {
  /** `n` half-open connections to 10.0.0.5:443 from their own sources 10 ms apart, each with `syns` SYNs 1 s, 2 s, 4 s ... apart. */
  function halfOpen(n: number, syns: number): FlowDigest[] {
    return Array.from({ length: n }, (_, i) => {
      const ts = T0 + i * 10_000;
      const times = Array.from({ length: syns }, (_, k) => ts + (2 ** k - 1) * 1_000_000);
      return digest({ id: i + 1, ts, server: '10.0.0.5:443', clientIp: `198.51.100.${i + 1}`, syns: times.map((t, k) => ({ no: 100 * i + k + 1, ts: t })), synAcks: [], handshakeAck: null, clientSide: { bytes: 0, rst: null }, serverSide: { rst: null, packets: 0 } });
    });
  }

  it('SYNs each sent once from many sources are a flood; the same connections retrying their SYNs are clients of a server that does not answer', () => {
    const end = T0 + 20_000_000;
    expect(judgeCapture(halfOpen(30, 1), CAPTURE, ctxAt(end)).map((v) => v.code)).toEqual(['syn-flood']);
    // Four SYNs each (1 s doubling, as Linux retries): each flow's syn-timeout says it; no flood.
    expect(judgeCapture(halfOpen(30, 4), CAPTURE, ctxAt(end))).toEqual([]);
  });
});

describe('syn-flood beyond its sample', () => {
  /** `n` half-open connections to 10.0.0.2:80, one SYN each from its own source, spread evenly over `seconds`. */
  function flood(n: number, seconds: number): FlowDigest[] {
    return Array.from({ length: n }, (_, i) =>
      digest({ id: i + 1, ts: T0 + Math.round((i * seconds * 1e6) / n), state: 'S0', clientIp: `198.51.${(i >> 8) & 255}.${i & 255}`, clientPort: 1024 + i, synAcks: [], handshakeAck: null, clientSide: { bytes: 0, rst: null }, serverSide: { rst: null, packets: 0 } }),
    );
  }

  it('states the exact totals of all half-open connections, not of the sample, and names the sample', () => {
    const flows = flood(2_000, 20);
    const [v] = judgeCapture(flows, CAPTURE, ctxAt(T0 + 30e6), [synFloodRule(50)]);
    expect(v.code).toBe('syn-flood');
    expect(v.summary).toBe(
      'SYN flood against 10.0.0.2:80: 2,000 half-open connections (2,000 SYNs) from 2,000 sources within 20.0 s, 100 SYNs/s (0 answered with SYN-ACK, 2,000 unanswered; 0 connections completed); found in a sample of the first 50 half-open connections of the capture, 50 of them in its densest 10.0 s',
    );
    expect(v.facts).toMatchObject({ halfOpen: 2_000, syns: 2_000, sources: 2_000, sourcesApproximate: false, windowMs: 19_990, synsPerSecond: 100, sample: { size: 50, halfOpen: 50, sources: 50 } });
    // The packets cited are the sample's.
    expect(v.packets).toEqual(flows.slice(0, 20).map((f) => f.syns[0].no));
  });

  it('says the sources are estimated once there are more than it counts exactly', () => {
    const [v] = judgeCapture(flood(20_000, 10), CAPTURE, ctxAt(T0 + 30e6), [synFloodRule(100)]);
    expect(v.facts.sourcesApproximate).toBe(true);
    expect(Math.abs((v.facts.sources as number) - 20_000)).toBeLessThan(1_000);
    expect(v.summary).toMatch(/^SYN flood against 10\.0\.0\.2:80: 20,000 half-open connections \(20,000 SYNs\) from about [\d,]+ sources \(estimated\) within 10\.0 s, 2,000 SYNs\/s/);
  });

  it('keeps its words when the sample holds every half-open connection', () => {
    const [v] = judgeCapture(flood(40, 2), CAPTURE, ctxAt(T0 + 30e6), [synFloodRule(50)]);
    expect(v.summary).toBe('SYN flood against 10.0.0.2:80: 40 half-open connections from 40 sources within 1.95 s (0 answered with SYN-ACK, 40 unanswered; 0 connections completed)');
  });
});
