// How the retransmission verdict counts plain resends (neither fast nor spurious) by the time from
// the segment each resends: only one a plausible RTO after its original is said to follow a timeout.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FlowResult } from '../../src/pipeline.js';
import { analyzeFile } from '../../src/pipeline.js';
import type { Verdict } from '../../src/rules/verdict.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}.pcap`, import.meta.url));

function retransmission(f: FlowResult): Verdict {
  const v = f.verdicts.find((x) => x.code === 'retransmission');
  if (!v) throw new Error(`flow ${f.id}: no retransmission verdict, got ${f.verdicts.map((x) => x.code).join(', ')}`);
  return v;
}

describe('retransmission: resends told by their time from the original, on Linux captures', () => {
  it('tail-loss-probe: the probe a few ms after the lost tail, and the SACK recovery of the segment before it, are early, not timeouts', () => {
    const v = retransmission(analyzeFile(sample('tail-loss-probe')).flows[0]);
    expect(v.summary).toMatch(/^2 retransmissions by the server \(2 early \(at most 7\.5 ms after the original, too soon for a retransmission timer\); 1748 bytes resent; slowest resend 7\.5 ms \(#\d+ resends #\d+\)\): packet loss on the path/);
    expect(v.summary).not.toContain('timeout');
    expect(v.facts).toMatchObject({ direction: 'server', cause: 'path-loss' });
  });

  // The first resend is Linux's tail-loss probe, armed for 2 SRTT + 200 ms with the tail alone in
  // flight: as late as a timeout, and a timer's (the probe timeout) all the same; the packets cannot tell it from the RTO.
  it('rto-resend: a tail lost three times is resent at 0.21, 0.41 and 0.85 s: after a timeout each', () => {
    const v = retransmission(analyzeFile(sample('rto-resend')).flows[0]);
    expect(v.summary).toMatch(/^3 retransmissions by the server \(3 after a timeout; 900 bytes resent; worst RTO 436 ms \(#\d+ resends #\d+\)\)/);
  });

  it('lossy-transfer: of the resends that are not fast, the one 210 ms after its original followed a timeout, the rest came within 8 ms', () => {
    const v = retransmission(analyzeFile(sample('lossy-transfer')).flows[0]);
    expect(v.summary).toContain('(1 fast, 1 after a timeout, 34 early (at most 7.7 ms after the original, too soon for a retransmission timer); 52128 bytes resent; worst RTO 210 ms');
  });
});

describe('retransmission: resend timing on scripted conversations', () => {
  /** A 1,200-byte response sent at 10 ms on a path of `rtt` s, sent again at `resendAt` s, then acknowledged. */
  const resentOnce = (resendAt: number, rtt = 0.001) => {
    const c = conv({ client: '10.4.0.1:52000', server: '10.4.0.2:443' }).handshake(0, rtt).client('PA', rtt + 0.001, 'hello');
    // An earlier answer acknowledged one round trip later gives the path's round trip of the server's data.
    c.server('PA', rtt + 0.002, 'first').client('A', 2 * rtt + 0.002);
    const start = 2 * rtt + 0.01;
    const seq = c.s.next;
    c.server('PA', start, 'x'.repeat(1200));
    c.server('PA', start + resendAt, 'x'.repeat(1200), { seq });
    c.client('A', start + resendAt + rtt);
    return retransmission(analyzeConversation(c).flows[0]);
  };

  it('on a 1 ms path a resend 189 ms after its original is early, one 190 ms after it (Linux\'s least RTO, less a clock tick) followed a timeout', () => {
    expect(resentOnce(0.005).summary).toContain('(1 early (at most 5.0 ms after the original, too soon for a retransmission timer); 1200 bytes resent; slowest resend 5.0 ms');
    expect(resentOnce(0.189).summary).toContain('(1 early (at most 189 ms after the original, too soon for a retransmission timer); 1200 bytes resent; slowest resend 189 ms');
    expect(resentOnce(0.19).summary).toContain('(1 after a timeout; 1200 bytes resent; worst RTO 190 ms');
    expect(resentOnce(0.2).summary).toContain('(1 after a timeout; 1200 bytes resent; worst RTO 200 ms');
  });

  it('one 250 ms after its original on a 150 ms path is within two round trips: a probe or a timer, the packets do not tell', () => {
    const v = resentOnce(0.25, 0.15);
    expect(v.summary).toContain('(1 within 2 round trips of the original; 1200 bytes resent; slowest resend 250 ms');
    // Past two round trips, it is a timeout again.
    expect(resentOnce(0.31, 0.15).summary).toContain('(1 after a timeout;');
  });

  it('the path\'s round trip is the handshake\'s when the only data ACK came after a resend (it times the first sending)', () => {
    // As on a phone in a public capture: a 547-byte request, resent 250 ms and 500 ms after it, on a 50 ms path.
    const c = conv({ client: '10.4.0.1:52000', server: '10.4.0.2:80' }).handshake(0, 0.05);
    const seq = c.c.next;
    c.client('PA', 0.051, 'r'.repeat(547));
    c.client('PA', 0.301, 'r'.repeat(547), { seq }).client('PA', 0.551, 'r'.repeat(547), { seq });
    c.server('A', 0.79);
    const v = retransmission(analyzeConversation(c).flows[0]);
    expect(v.summary).toContain('(2 after a timeout; 1094 bytes resent; worst RTO 250 ms');
  });

  it('a resend whose original the capture does not hold says nothing of its timing', () => {
    // The capture starts mid-connection: the server's first segment there is already a resend
    // (its IP ID and timestamp come after the segments seen before it).
    const c = conv({ client: '10.4.0.1:52000', server: '10.4.0.2:443' });
    const base = c.s.next;
    for (let i = 1; i <= 3; i++) c.server('A', 0.001 * i, 'y'.repeat(1000), { seq: base + 1000 * i });
    c.server('A', 0.3, 'y'.repeat(1000), { seq: base });
    c.client('A', 0.301, '', { ack: base + 4000 });
    const v = retransmission(analyzeConversation(c).flows[0]);
    expect(v.summary).toContain('(1 with no original in the capture; 1000 bytes resent)');
  });

  it('resends past the segments the analysis marks are not timed, not said to lack an original', () => {
    const c = conv({ client: '10.4.0.1:52000', server: '10.4.0.2:443' }).handshake(0, 0.001).client('PA', 0.002, 'hello').server('A', 0.003);
    // 4,100 segments each resent 5 ms after it and then acknowledged: more resends than the 4,000 marks kept.
    for (let i = 0; i < 4100; i++) {
      const t = 0.01 + i * 0.01;
      const seq = c.s.next;
      c.server('PA', t, 'x'.repeat(100)).server('PA', t + 0.005, 'x'.repeat(100), { seq }).client('A', t + 0.006);
    }
    const v = retransmission(analyzeConversation(c).flows[0]);
    expect(v.summary).toMatch(/^4100 retransmissions by the server \(\d+ early \(at most 5\.0 ms after the original, too soon for a retransmission timer\), \d+ not timed \(past the first 4,000 segments marked\);/);
    expect(v.summary).not.toContain('no original');
  });

  it('a receiver whose window was full, resent early: the sender sent again while waiting, it did not time out', () => {
    const c = conv({ client: '10.4.0.1:52000', server: '10.4.0.2:443' });
    // No window scaling: the client's 2,000-byte window is what the server may send.
    c.client('S', 0, '', { options: { mss: 1460, sackPerm: true }, window: 2000 }).server('SA', 0.0005, '', { options: { mss: 1460, sackPerm: true } });
    c.client('A', 0.001, '', { window: 2000 }).client('PA', 0.002, 'hello', { window: 2000 }).server('A', 0.003);
    const seq = c.s.next;
    c.server('PA', 0.01, 'x'.repeat(1000)).server('PA', 0.0101, 'x'.repeat(1000));
    c.server('PA', 0.015, 'x'.repeat(1000), { seq });
    c.client('A', 0.02, '', { window: 2000 });
    const v = retransmission(analyzeConversation(c).flows[0]);
    expect(v.facts.cause).toBe('slow-receiver');
    expect(v.summary).toContain('the receiver was slow (its window was full) and the server sent again while waiting');
  });

  it('cites the slowest resend of the side the sentence is about, not a slower one of the other side', () => {
    // The client's request resent after 2 s; then two of the server's segments, each resent after 300 ms.
    const c = conv({ client: '10.6.0.1:54000', server: '10.6.0.2:443' }).handshake(0, 0.001);
    const req = c.c.next;
    c.client('PA', 0.01, 'r'.repeat(100)).client('PA', 2.01, 'r'.repeat(100), { seq: req }).server('A', 2.011);
    for (const t of [3, 4]) {
      const seq = c.s.next;
      c.server('PA', t, 'x'.repeat(1000)).server('PA', t + 0.3, 'x'.repeat(1000), { seq }).client('A', t + 0.301);
    }
    const v = retransmission(analyzeConversation(c).flows[0]);
    expect(v.summary).toMatch(/^2 retransmissions by the server \(2 after a timeout; 2000 bytes resent; worst RTO 300 ms \(#8 resends #7\)\): .*; the client retransmitted 1 too \(worst RTO 2\.00 s: #5 resends #4\)$/);
    expect(v.facts).toMatchObject({ worstRtoMs: 300, worstRtoPacket: 8, originalPacket: 7 });
  });

  /**
   * The client's request resent `clientRto` s after it, then the server's segments at `at` s, each
   * resent 300 ms later though the client had it: its ACK came late, and a D-SACK reports the copy.
   */
  const unneededBesideOne = (clientRto: number, at: number[]) => {
    const c = conv({ client: '10.7.0.1:55000', server: '10.7.0.2:443' }).handshake(0, 0.001);
    const req = c.c.next;
    c.client('PA', 0.01, 'r'.repeat(100)).client('PA', 0.01 + clientRto, 'r'.repeat(100), { seq: req }).server('A', 0.011 + clientRto);
    for (const t of at) {
      const first = c.s.next;
      const end = (first + 1000) >>> 0;
      c.server('PA', t, 'x'.repeat(1000)).server('PA', t + 0.3, 'x'.repeat(1000), { seq: first });
      c.client('A', t + 0.2, '', { ack: end }).client('A', t + 0.301, '', { ack: end, options: { sack: [[first, end]] } });
    }
    return retransmission(analyzeConversation(c).flows[0]);
  };

  it('resends all shown unneeded but one, of both sides together, are info: one lost segment is routine recovery', () => {
    const v = unneededBesideOne(0.3, [1, 2]);
    expect(v.facts).toMatchObject({ direction: 'server', cause: 'spurious' });
    expect(v.severity).toBe('info');
    expect(v.summary).toMatch(/; the client retransmitted 1 too \(worst RTO 300 ms: #5 resends #4\)$/);
  });

  it('stays a warning when a resend came a second or more after its original, needed or not: a stall, not routine recovery', () => {
    const v = unneededBesideOne(3, [4, 5]);
    expect(v.severity).toBe('warning');
    expect(v.summary).toMatch(/; the client retransmitted 1 too \(worst RTO 3\.00 s: #5 resends #4\)$/);
  });

  it('resends the receiver D-SACKs, sent early: its loss detection fired first, not said to be the timer', () => {
    const c = conv({ client: '10.5.0.1:53000', server: '10.5.0.2:443' }).handshake(0, 0.001).client('PA', 0.002, 'hello').server('A', 0.003);
    const first = c.s.next;
    const end = (first + 1000) >>> 0;
    c.server('PA', 0.01, 'x'.repeat(1000)).server('PA', 0.015, 'x'.repeat(1000), { seq: first });
    c.client('A', 0.016, '', { ack: end }).client('A', 0.017, '', { ack: end, options: { sack: [[first, end]] } });
    const v = retransmission(analyzeConversation(c).flows[0]);
    expect(v.facts.cause).toBe('spurious');
    expect(v.hint).toContain("and the server's loss detection (a tail-loss probe, RACK or its timer) fired first");
  });
});
