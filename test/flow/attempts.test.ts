// Unanswered SYN attempts read from a file are finished once their client has stopped retrying
// (no retry within 2.5x its last backoff, at least 3.5 s) and no SYN-ACK to them can still come
// (60 s after the last SYN), as packets of other flows move the clock, instead of staying open for
// the whole idle timeout: a capture with a steady rate of failed connects keeps a minute of them,
// not five, and a SYN flood no more than 4,096 given-up ones.

import { describe, expect, it } from 'vitest';
import type { FlowTable } from '../../src/flow/table.js';
import { Analyzer, type FlowResult } from '../../src/pipeline.js';
import { conv, type Conversation } from '../helpers/conversation.js';
import { toRecord } from '../helpers/packets.js';

const T0 = 1_700_000_000_000_000;
const at = (s: number) => T0 + Math.round(s * 1e6);

/** A connection that stays busy: one small exchange every 0.5 s until `until`, so packets keep coming. */
function busy(until: number): Conversation {
  const c = conv({ client: '10.0.0.1:50000', server: '10.0.0.2:80' }).handshake(0);
  for (let t = 0.5; t <= until; t += 0.5) c.client('PA', t, 'ping\n').server('PA', t + 0.001, 'pong\n');
  return c;
}

/** Unanswered SYNs from `port` at the given times, all with the first SYN's sequence number. */
function attempt(port: number, times: number[]): Conversation {
  const c = conv({ client: `10.0.0.1:${port}`, server: '10.0.0.9:443', clientIsn: 1000 });
  for (const t of times) c.client('S', t, '', { seq: 1000 });
  return c;
}

/** Streams the conversations through an analyzer; records each judged flow with the packet time it was judged at. */
function stream(convs: Conversation[]) {
  const judged: Array<{ flow: FlowResult; atSec: number }> = [];
  let now = 0;
  let maxOpen = 0;
  let maxAttempts = 0;
  // When each attempt is finished is what these tests watch: judged at once, as a live capture does,
  // not held back for a scan that could still count it.
  const analyzer = new Analyzer({ file: 'attempts', retainFlows: false, holdProbes: false, onFlowJudged: (flow) => judged.push({ flow, atSec: now }) });
  const table = (analyzer as unknown as { table: FlowTable }).table;
  let no = 0;
  for (const p of convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t)) {
    now = p.t;
    analyzer.onRecord(toRecord(p.frame, { no: ++no, tsMicros: at(p.t) }));
    maxOpen = Math.max(maxOpen, analyzer.openFlows);
    maxAttempts = Math.max(maxAttempts, table.openAttempts);
  }
  const attemptsAtEnd = table.openAttempts;
  const result = analyzer.finish({ file: 'attempts', format: 'pcap', linkTypes: [1], snaplen: 65535, packets: no, diagnostics: [], stoppedEarly: false } as never);
  return { judged, result, maxOpen, maxAttempts, attemptsAtEnd };
}

describe('SYN attempts in a capture file', () => {
  it('leave the list of open attempts once answered, so it holds no finished flow', () => {
    // 300 connections, each answered and closed at once, and one attempt nobody answers.
    const quick: Conversation[] = [];
    for (let i = 0; i < 300; i++) {
      const t = i / 100;
      quick.push(conv({ client: `10.0.0.1:${30000 + i}`, server: '10.0.0.2:80' }).handshake(t).client('FA', t + 0.002).server('FA', t + 0.003).client('A', t + 0.004));
    }
    const { maxAttempts, attemptsAtEnd } = stream([...quick, attempt(51002, [0.5, 1.5])]);
    expect(maxAttempts).toBeLessThanOrEqual(2); // the unanswered one, and one connection between its SYN and SYN-ACK
    expect(attemptsAtEnd).toBe(1);
  });

  it('are finished once given up and no SYN-ACK can still come, while the capture goes on', () => {
    const { judged } = stream([busy(70), attempt(51000, [0, 1, 3])]);
    const a = judged.find((j) => j.flow.clientPort === 51000)!;
    expect(a.flow.endReason).toBe('attempt-timeout');
    expect(a.flow.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
    expect(a.flow.syns).toHaveLength(3);
    // Given up 5 s (2.5 x 2 s) after the last SYN; judged 60 s after it, at the next look (once per second of packet time).
    expect(a.atSec).toBeGreaterThan(63);
    expect(a.atSec).toBeLessThan(64.6);
  });

  it('are judged as given up when the capture ends while they wait for a late SYN-ACK', () => {
    const { judged } = stream([busy(20), attempt(51000, [0, 1, 3])]);
    const a = judged.find((j) => j.flow.clientPort === 51000)!;
    expect(a.flow.endReason).toBe('attempt-timeout');
    expect(a.flow.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
  });

  it('keep following a client that goes on backing off, as one flow', () => {
    const { judged } = stream([busy(100), attempt(51001, [0, 1, 3, 7, 15, 31])]);
    const a = judged.filter((j) => j.flow.clientPort === 51001);
    expect(a).toHaveLength(1);
    expect(a[0].flow.syns).toHaveLength(6);
    expect(a[0].flow.verdicts[0].summary).toMatch(/^SYN retries, .*6 SYNs/);
    // Given up 40 s (2.5 x 16 s) after the last SYN, judged 60 s after it, well before the capture ends.
    expect(a[0].flow.endReason).toBe('attempt-timeout');
    expect(a[0].atSec).toBeGreaterThan(31 + 60);
    expect(a[0].atSec).toBeLessThan(31 + 61.6);
  });

  it('keep a steady stream of failed connects from piling up for the whole idle timeout', () => {
    // One new unanswered attempt (SYN, retries after 1 s and 2 s) every 0.1 s for 120 s.
    const attempts: Conversation[] = [];
    for (let i = 0; i < 1200; i++) {
      const t = i / 10;
      attempts.push(attempt(20000 + i, [t, t + 1, t + 3]));
    }
    const { judged, maxOpen } = stream([busy(130), ...attempts]);
    const given = judged.filter((j) => j.flow.endReason === 'attempt-timeout');
    expect(given.length).toBeGreaterThan(1100);
    // An attempt lives about 64 s (3 s of retries, 60 s for a late SYN-ACK, up to 1 s to the next look): some 640 at once.
    expect(maxOpen).toBeLessThan(700);
    for (const j of given) expect(j.flow.verdicts.map((v) => v.code)).toContain('syn-timeout');
  });

  it('hold no more than 4,096 given-up attempts waiting for a late SYN-ACK: a flood is judged oldest first', () => {
    // 6,000 SYNs never retried, 1,000 a second, each from its own port.
    const flood: Conversation[] = [];
    for (let i = 0; i < 6000; i++) flood.push(attempt(10000 + i, [i / 1000]));
    const { judged, maxAttempts } = stream([busy(20), ...flood]);
    const early = judged.filter((j) => j.flow.endReason === 'attempt-timeout' && j.atSec < 20);
    // Up to 4,096 given up and waiting, and the 3.5 s of SYNs not given up yet.
    expect(maxAttempts).toBeLessThan(4096 + 3700);
    expect(early.length).toBeGreaterThan(1000);
    const firstPorts = early.slice(0, 100).map((j) => j.flow.clientPort);
    expect(Math.max(...firstPorts)).toBeLessThan(10000 + 2000);
  });
});
