// An unanswered SYN attempt quiet for a second gives its flow slot up until its next packet
// (Flow.park): its row's numbers that differ from a new flow's and its slot's other state go to a
// small record, and a packet of its 4-tuple, or its end, puts them back in a slot. Nothing a report
// says may change: each capture here is analysed with parking and without, and the results compared
// whole, while the table's slots show that the waiting attempts held none.

import { describe, expect, it } from 'vitest';
import type { Flow } from '../../src/flow/flow.js';
import type { FlowTable } from '../../src/flow/table.js';
import { Analyzer, type AnalysisResult, type AnalyzerOptions } from '../../src/pipeline.js';
import { conv, type Conversation } from '../helpers/conversation.js';
import { icmpErrorFrame, toRecord, type Frame } from '../helpers/packets.js';

const T0 = 1_700_000_000_000_000;

interface Timed {
  frame: Frame;
  t: number;
}

interface Run {
  result: AnalysisResult;
  /** The most attempts parked at once, and the most flow slots in use at once. */
  maxParked: number;
  maxSlots: number;
  /** The client ports of the attempts ever parked (looked for only when asked: it walks the attempts at every packet). */
  parkedPorts: Set<number>;
}

/** Streams the packets (times in seconds) through an analyzer, parking attempts or not. */
function run(packets: Timed[], parkAttempts: boolean, opts: Partial<AnalyzerOptions> = {}, watchPorts = false): Run {
  const analyzer = new Analyzer({ file: 'parking', holdProbes: false, parkAttempts, ...opts });
  const table = (analyzer as unknown as { table: FlowTable & { rows: { columns: { live: number }; marks: { live: number } }; attempts: Flow[] } }).table;
  let maxParked = 0;
  let maxSlots = 0;
  const parkedPorts = new Set<number>();
  const sorted = [...packets].sort((a, b) => a.t - b.t);
  sorted.forEach((p, i) => {
    analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: T0 + Math.round(p.t * 1e6) }));
    maxParked = Math.max(maxParked, table.parkedAttempts);
    maxSlots = Math.max(maxSlots, table.rows.columns.live);
    if (watchPorts) for (const f of table.attempts) if (f.parked !== null) parkedPorts.add(f.origPort);
  });
  const result = analyzer.finish({ file: 'parking', format: 'pcap', linkTypes: [1], snaplen: 262144, packets: sorted.length, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false } as never);
  // Every flow is reported: each gave its chain of segment marks back, parked or not.
  expect(table.rows.marks.live).toBe(0);
  return { result, maxParked, maxSlots, parkedPorts };
}

/** The same packets with and without parking: the results must be the same, byte for byte as JSON. */
function compare(packets: Timed[], opts: Partial<AnalyzerOptions> = {}, watchPorts = false): { parked: Run; kept: Run } {
  const parked = run(packets, true, opts, watchPorts);
  const kept = run(packets, false, opts);
  expect(kept.maxParked).toBe(0);
  expect(JSON.stringify(parked.result)).toBe(JSON.stringify(kept.result));
  return { parked, kept };
}

const all = (...convs: Conversation[]): Timed[] => convs.flatMap((c) => c.packets);

/** A connection that keeps the clock moving: one small exchange every 0.5 s until `until`. */
function busy(until: number): Conversation {
  const c = conv({ client: '10.0.0.1:50000', server: '10.0.0.2:80' }).handshake(0);
  for (let t = 0.5; t <= until; t += 0.5) c.client('PA', t, 'ping\n').server('PA', t + 0.001, 'pong\n');
  return c;
}

/** SYNs at the given times with one ISN, as a client's retries, from `client` to `server`. */
function attempt(client: string, server: string, times: number[]): Conversation {
  const c = conv({ client, server, clientIsn: 7000 });
  for (const t of times) c.client('S', t, '', { seq: 7000, options: { mss: 1460, wscale: 7, sackPerm: true } });
  return c;
}

describe('parked SYN attempts', () => {
  it('retried, answered late, refused, or never answered: the same flows, facts and verdicts as kept in a slot', () => {
    const waiting = attempt('10.0.1.1:40001', '10.0.9.1:443', [0, 1, 3, 7, 15, 31]);
    // Answered 5 s after its first SYN (after a retry), then an HTTP exchange and a close.
    const late = attempt('10.0.1.2:40002', '10.0.9.2:80', [0.2, 1.2, 3.2]);
    late.server('SA', 5.2, '', { ack: 7001, options: { mss: 1460, wscale: 7, sackPerm: true } }).client('A', 5.3, '', { seq: 7001 });
    late.c.next = 7001;
    late.client('PA', 5.4, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('PA', 5.5, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    late.client('FA', 5.6).server('FA', 5.7).client('A', 5.8);
    // Refused after its second SYN.
    const refused = attempt('10.0.1.3:40003', '10.0.9.3:8080', [0.3, 1.3]);
    refused.server('RA', 2.8, '', { seq: 0, ack: 7001 });
    // A new SYN with another ISN on the same 4-tuple while parked: a new connection.
    const renumbered = attempt('10.0.1.4:40004', '10.0.9.4:22', [0.4, 1.4]);
    renumbered.client('S', 4.4, '', { seq: 99_000 });
    // Unanswered over IPv6.
    const v6 = attempt('[2001:db8::1]:40005', '[2001:db8::9]:443', [0.5, 1.5, 3.5]);
    // A SYN with data (a TCP Fast Open cookie), and a segment of data before any SYN-ACK: each has
    // a reader (and the first a second row of numbers), so each stays in its slot.
    const fastOpen = conv({ client: '10.0.1.6:40006', server: '10.0.9.6:443', clientIsn: 5000 }).client('S', 0.6, 'early data', { seq: 5000 });
    const early = attempt('10.0.1.7:40007', '10.0.9.7:80', [0.7]).client('P', 0.8, 'GET / HTTP/1.1\r\n\r\n', { seq: 7001 });
    early.server('SA', 4, '', { ack: 7001 }).client('A', 4.1, '', { seq: 7019 });
    // Then an HTTP connection takes the slot an early leaver gave up, with a reader of its own.
    const next = conv({ client: '10.0.1.8:40008', server: '10.0.9.8:80' }).handshake(2.5).client('PA', 2.6, 'GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    next.server('PA', 2.7, 'HTTP/1.1 204 No Content\r\n\r\n').client('FA', 2.8).server('FA', 2.9).client('A', 3);
    const { parked } = compare(all(busy(40), waiting, late, refused, renumbered, v6, fastOpen, early, next), {}, true);
    expect([...parked.parkedPorts].sort()).toEqual([40001, 40002, 40003, 40004, 40005]);
    const flows = parked.result.flows;
    expect(flows.find((f) => f.clientPort === 40001)!.syns).toHaveLength(6);
    expect(flows.find((f) => f.clientPort === 40002)!.state).toBe('SF');
    expect(flows.find((f) => f.clientPort === 40003)!.verdicts.map((v) => v.code)).toContain('refused');
    expect(flows.filter((f) => f.clientPort === 40004)).toHaveLength(2);
  });

  it('an ICMP error about a parked attempt, a copy of its SYN, and the capture ending while it is parked', () => {
    const unreachable = attempt('10.0.2.1:41001', '10.0.8.1:443', [0, 1, 3]);
    const icmp: Timed = {
      t: 4,
      frame: icmpErrorFrame({ quoted: { src: '10.0.2.1', dst: '10.0.8.1', sport: 41001, dport: 443, seq: 7000, flags: 'S' }, from: '10.0.7.254' }),
    };
    // The capture holds the second SYN twice (the same IP ID, 0.1 ms apart), after the retry parked
    // the attempt: the copy takes it out, and a second row of numbers keeps it in its slot.
    const copied = attempt('10.0.2.2:41002', '10.0.8.2:443', [0.1, 1.1]);
    copied.packets.push({ frame: copied.packets[1].frame, t: 1.1001 });
    const last = attempt('10.0.2.3:41003', '10.0.8.3:443', [0.2, 1.2, 3.2, 7.2]);
    const { parked } = compare([...all(busy(12), unreachable, copied, last), icmp], {}, true);
    expect([...parked.parkedPorts].sort()).toEqual([41001, 41002, 41003]);
    const flows = parked.result.flows;
    expect(flows.find((f) => f.clientPort === 41002)!.clientSide.copies).not.toBeNull();
    expect(flows.find((f) => f.clientPort === 41001)!.icmp).toHaveLength(1);
    expect(flows.find((f) => f.clientPort === 41003)!.endReason).toBe('capture-end');
  });

  it('take a slot whose earlier flow had two SYN-ACKs: nothing of its handshake log is left to the attempt', () => {
    // Its SYN-ACK sent twice, then a reset: finished 5 s after it, which frees its slot.
    const before = conv({ client: '10.0.3.1:42001', server: '10.0.6.1:80' }).client('S', 0, '', { seq: 100 });
    before.server('SA', 0.01, '', { seq: 500, ack: 101 }).server('SA', 0.5, '', { seq: 500, ack: 101 });
    before.client('A', 0.51, '', { seq: 101, ack: 501 }).client('RA', 1, '', { seq: 101, ack: 501 });
    // Parked at its retry; answered twice once that slot is free, so it takes it.
    const waiting = attempt('10.0.3.2:42002', '10.0.6.2:443', [0.2, 1.2, 3.2]);
    waiting.server('SA', 6.2, '', { seq: 900, ack: 7001 }).server('SA', 6.7, '', { seq: 900, ack: 7001 }).client('A', 6.71, '', { seq: 7001, ack: 901 });
    const { parked } = compare(all(busy(10), before, waiting), {}, true);
    expect([...parked.parkedPorts]).toEqual([42002]);
    expect(parked.result.flows.find((f) => f.clientPort === 42002)!.synAcks).toHaveLength(2);
  });

  it('an attempt whose SYN is sent 4,100 times keeps its marks and the count of those past the 4,000 kept', () => {
    const times = Array.from({ length: 4100 }, (_, i) => i * 0.01);
    const { parked } = compare(all(busy(45), attempt('10.0.4.1:43001', '10.0.5.1:443', times)), {}, true);
    expect([...parked.parkedPorts]).toEqual([43001]);
    const analysis = parked.result.flows.find((f) => f.clientPort === 43001)!.analysis!;
    expect(analysis.marks).toHaveLength(4000);
    expect(analysis.marksDropped).toBe(99);
  });

  it("judged on a live capture's clock tick while parked, as when kept in a slot", () => {
    const judgedWith = (parkAttempts: boolean) => {
      const judged: string[] = [];
      const analyzer = new Analyzer({ file: 'live:parking', holdProbes: false, retainFlows: false, parkAttempts, onFlowJudged: (f) => judged.push(JSON.stringify(f)) });
      const table = (analyzer as unknown as { table: FlowTable }).table;
      const packets = all(attempt('10.0.5.1:44001', '10.0.6.1:443', [0, 1, 3]), attempt('10.0.5.2:44002', '10.0.6.2:443', [0.5]));
      packets.sort((a, b) => a.t - b.t).forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: T0 + Math.round(p.t * 1e6) })));
      const parkedAtTick = table.parkedAttempts;
      // No packet comes after 3 s: the wall clock alone finishes both, given up (2.5 times the last backoff, at least 3.5 s).
      analyzer.expireFlows(T0 + 8_100_000);
      return { judged, parkedAtTick };
    };
    const parked = judgedWith(true);
    const kept = judgedWith(false);
    expect(parked.parkedAtTick).toBe(2); // one after its retry, one quiet for a second
    expect(kept.parkedAtTick).toBe(0);
    expect(parked.judged).toHaveLength(2);
    expect(parked.judged).toEqual(kept.judged);
  });

  it('give their slots back: of 3,000 attempts waiting at once, those retried or quiet for a second hold none', () => {
    const attempts: Conversation[] = [];
    for (let i = 0; i < 3000; i++) {
      const t = i / 200;
      attempts.push(attempt(`10.1.${i >> 8}.${i & 255}:${20000 + i}`, `10.2.0.${i % 50}:443`, [t, t + 1, t + 3, t + 7]));
    }
    const { parked, kept } = compare(all(busy(30), ...attempts));
    // 200 new attempts a second. Each holds a slot from its first SYN until its first retry 1 s
    // later, which parks it; each later retry is read in a slot and parked again at once.
    expect(kept.maxSlots).toBeGreaterThan(3000);
    expect(parked.maxParked).toBe(3000);
    expect(parked.maxSlots).toBeLessThan(250);
  });

  it('counted by the memory budget while parked: the same attempts counted as without parking', () => {
    const attempts: Conversation[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = i / 100;
      attempts.push(attempt(`10.3.${i >> 8}.${i & 255}:${30000 + i}`, `10.4.0.${i % 20}:443`, [t, t + 1, t + 3, t + 7]));
    }
    const { parked } = compare(all(busy(40), ...attempts), { memcapBytes: 24 << 20 });
    expect(parked.maxParked).toBeGreaterThan(0);
    expect(parked.result.capture.memcap.attemptsCounted).toBeGreaterThan(0);
  });
});
