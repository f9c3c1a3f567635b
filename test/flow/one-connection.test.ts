// One connection is one flow: a SYN retried after the RST that refused it, a SYN-ACK that comes
// after Zeek's 5 s attempt timer, a late copy of a SYN. And what the retries are called.

import { describe, expect, it } from 'vitest';
import { Analyzer, analyzeFile, streamFlows, type AnalysisResult, type FlowResult } from '../../src/pipeline.js';
import { retrySchedule } from '../../src/rules/rules.js';
import { analyzeConversation, conv, type Conversation } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { toRecord } from '../helpers/packets.js';

const corpus = useCorpus();
const corpus2 = useCorpus('corpus2');

const codes = (f: FlowResult) => f.verdicts.map((v) => v.code).sort();
const verdict = (f: FlowResult, code: string) => f.verdicts.find((v) => v.code === code)!;
const allCodes = (r: AnalysisResult) => [...r.flows.flatMap(codes), ...r.verdicts.map((v) => v.code)];

/**
 * The flows of a run kept to the capture's end (judged then), of a run handing each flow out as it
 * ends (as `tcpwhy analyze` streams them), and of one judging each flow at once, none held back for
 * a scan (as a live capture does), in id order.
 */
function bothModes(...convs: Conversation[]): { kept: FlowResult[]; streamed: FlowResult[]; atOnce: FlowResult[] } {
  const packets = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
  const run = (retain: boolean, holdProbes = true) => {
    const streamed: FlowResult[] = [];
    const analyzer = new Analyzer({ file: 'modes.pcap', retainFlows: retain, holdProbes, onFlowJudged: retain ? undefined : (f) => streamed.push(f) });
    packets.forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6) })));
    const r = analyzer.finish({ file: 'modes.pcap', format: 'pcap', linkTypes: [1], snaplen: 65535, packets: packets.length, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false });
    return retain ? r.flows : streamed.sort((a, b) => a.id - b.id);
  };
  return { kept: run(true), streamed: run(false), atOnce: run(false, false) };
}

/** Each flow as its client, history, end and verdict codes. */
const outline = (flows: FlowResult[]) => flows.map((f) => `${f.client} ${f.history} ${f.endReason}: ${codes(f).join(', ')}`);

/** Other connections every `every` s from 0 s until `until`, so packets move the clock while an attempt waits. */
function traffic(until: number, every = 2): Conversation[] {
  const out: Conversation[] = [];
  for (let t = 0, i = 0; t <= until; t += every, i++) out.push(conv({ client: `10.0.0.9:${40000 + i}`, server: '10.0.0.8:80' }).handshake(t).client('FA', t + 0.01).server('FA', t + 0.011).client('A', t + 0.012));
  return out;
}

/** The server's SYN-ACK at `t` to the SYNs already in `c`, then one request answered and a clean close, 1 ms apart. */
function connectedAt(c: Conversation, t: number, request: string, response: string): Conversation {
  return c
    .server('SA', t)
    .client('A', t + 0.001)
    .client('PA', t + 0.002, request)
    .server('PA', t + 0.003, response)
    .client('FA', t + 0.004)
    .server('FA', t + 0.005)
    .client('A', t + 0.006);
}

describe('a SYN retried after the RST that refused it', () => {
  // Windows (TTL 128) sends a refused SYN twice more, 0.5 s apart, with the same ISN.
  const windows = { seq: 0xffff_fff0, ttl: 128 };
  const refusedThrice = () =>
    conv({ client: '10.0.0.1:1074', server: '10.0.0.2:80' })
      .client('S', 0, '', windows)
      .server('RA', 0.0002, '', { ack: 0xffff_fff1 })
      .client('S', 0.5, '', windows)
      .server('RA', 0.5002, '', { ack: 0xffff_fff1 })
      .client('S', 1.0, '', windows)
      .server('RA', 1.0002, '', { ack: 0xffff_fff1 });

  it('is one flow with one refused verdict: 3 SYNs, each refused, and no port reuse', () => {
    const r = analyzeConversation(refusedThrice());
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f).toMatchObject({ state: 'REJ', history: 'Sr', zeekConnections: 3 });
    expect(codes(f)).toEqual(['refused']);
    const v = verdict(f, 'refused');
    expect(v.facts).toMatchObject({ syns: 3, rsts: 3, intervalsMs: [500, 500] });
    expect(v.summary).toBe(
      'RST: no listener on 10.0.0.2:80 (SYN #1 answered by RST #2 in 0.2 ms); 3 SYNs #1, #3, #5, each refused (retries after 500 ms, 500 ms: a Windows client (TTL 128), which retries a refused connect twice)',
    );
    expect(v.packets).toEqual([1, 2, 3, 5]);
  });

  it('a retry the server then answers is one connection that connected after a refusal', () => {
    // As in nDPI's rtsp.pcap: the first SYN refused, the retry 0.5 s later answered, the session used.
    const syns = conv({ client: '10.0.0.1:1074', server: '10.0.0.2:8554' })
      .client('S', 0)
      .server('RA', 0.001, '', { ack: 0xffff_fff1 })
      .client('S', 0.5, '', { seq: 0xffff_fff0 });
    const c = connectedAt(syns, 0.501, 'OPTIONS rtsp://a RTSP/1.0\r\nCSeq: 1\r\n\r\n', 'RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n');
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f).toMatchObject({ state: 'SF', zeekConnections: 2 });
    expect(codes(f)).toEqual(['clean-close', 'syn-retry-then-connected']);
    expect(verdict(f, 'syn-retry-then-connected').summary).toBe('SYN retried once before the SYN-ACK #4 (the first try was refused, RST #2): connecting took 501 ms (retry after 500 ms)');
  });

  it('names no OS when the TTL is not Windows', () => {
    const c = conv({ client: '10.0.0.1:1074', server: '10.0.0.2:80' })
      .client('S', 0)
      .server('RA', 0.0002, '', { ack: 0xffff_fff1 })
      .client('S', 0.5, '', { seq: 0xffff_fff0 })
      .server('RA', 0.5002, '', { ack: 0xffff_fff1 });
    const v = verdict(analyzeConversation(c).flows[0], 'refused');
    expect(v.summary).toMatch(/; 2 SYNs #1, #3, each refused \(retry after 500 ms\)$/);
  });

  it('a new connect() on the same 4-tuple (another ISN) is a new flow, still no port reuse: a refused attempt leaves no TIME_WAIT', () => {
    const c = conv({ client: '10.0.0.1:1074', server: '10.0.0.2:80' })
      .client('S', 0)
      .server('RA', 0.0002, '', { ack: 0xffff_fff1 })
      .client('S', 2, '', { seq: 1000 })
      .server('RA', 2.0002, '', { ack: 1001 });
    const r = analyzeConversation(c);
    expect(r.flows.map((f) => [f.state, f.zeekConnections])).toEqual([
      ['REJ', 1],
      ['REJ', 1],
    ]);
    expect(allCodes(r)).not.toContain('port-reuse');
  });

  it('a new connection 2 s after a close with FINs both ways is still port reuse (TIME_WAIT)', () => {
    const first = conv({ client: '10.0.0.1:1074', server: '10.0.0.2:80' }).handshake(0).client('FA', 0.01).server('FA', 0.011).client('A', 0.012);
    const again = conv({ client: '10.0.0.1:1074', server: '10.0.0.2:80', clientIsn: 1000, serverIsn: 5000 }).handshake(2);
    const r = analyzeConversation(first, again);
    expect(r.flows).toHaveLength(2);
    expect(codes(r.flows[1])).toContain('port-reuse');
  });

  corpus.it('PPA nowebaccess2.pcapng: one refused flow of 3 SYNs instead of three flows and two port reuses', () => {
    const file = corpus.path('ppa/ppa3/nowebaccess2.pcapng');
    const r = analyzeFile(file);
    expect(r.flows).toHaveLength(1);
    expect(codes(r.flows[0])).toEqual(['refused']);
    expect(verdict(r.flows[0], 'refused').summary).toMatch(/; 3 SYNs #3, #5, #7, each refused \(retries after 499 ms, 500 ms: a Windows client \(TTL 128\)/);
  });

  corpus.it('PPA evilprogram.pcap: worms retrying refused connects give no port reuse and no port exhaustion', () => {
    const file = corpus.path('ppa/ppa1e/evilprogram.pcap');
    const r = analyzeFile(file);
    const codesSeen = allCodes(r);
    expect(codesSeen).not.toContain('port-reuse');
    expect(codesSeen).not.toContain('port-exhaustion');
    // 203.101.42.68:1560 sent its SYN three times (#10, #14, #16), each answered by RST: one flow,
    // one probe of the worms' scan of the host (closed port).
    const f = r.flows.find((x) => x.client === '203.101.42.68:1560')!;
    expect(f.syns.map((s) => s.no)).toEqual([10, 14, 16]);
    expect(f.serverSide.rsts).toBe(3);
    expect(r.flows.filter((x) => x.client === '203.101.42.68:1560')).toHaveLength(1);
    expect(verdict(f, 'scan-probe').facts).toMatchObject({ kind: 'distributed-scan', state: 'closed' });
  });

  corpus.it("Zeek's pop3.pcap: each refused SYN is a connection to Zeek, one flow here", () => {
    const file = corpus.path('zeek/pop3/pop3.pcap');
    const r = analyzeFile(file);
    const refused = r.flows.filter((f) => f.state === 'REJ');
    expect(refused.map((f) => [f.client, f.syns.length, f.zeekConnections])).toEqual([
      ['192.168.0.4:26242', 3, 3],
      ['192.168.0.4:26245', 3, 3],
    ]);
  });
});

describe('a SYN-ACK after Zeek attempt timer', () => {
  it('SYN at 0 s, retry at 3 s, SYN-ACK at 7 s: one connection that connected after a retry', () => {
    const syns = conv().client('S', 0, '', { ttl: 128 }).client('S', 3, '', { seq: 0xffff_fff0, ttl: 128 });
    const c = connectedAt(syns, 7, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1 204 No Content\r\n\r\n');
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f).toMatchObject({ state: 'SF', zeekConnections: 2 });
    expect(f.syns.map((s) => s.no)).toEqual([1, 2]);
    // No syn-timeout for the first SYN and no midstream start for the SYN-ACK that came after Zeek's timer.
    expect(codes(f)).toEqual(['clean-close', 'syn-retry-then-connected']);
    const v = verdict(f, 'syn-retry-then-connected');
    expect(v.summary).toBe('SYN retried once before the SYN-ACK #3: connecting took 7.00 s (retry after 3.00 s)');
    expect(v.packets).toEqual([1, 2, 3]);
    expect(v.facts).toEqual({ syns: 2, intervalsMs: [3000], connectDelayMs: 7000 });
  });

  it('a SYN sent again after the SYN-ACK is no retry that connected: the client did not take that SYN-ACK', () => {
    // As in a Windows SCADA client of the RICS 2021 captures: the SYN-ACK at 5 ms, the same SYN again at 3 s, then a RST.
    const c = conv()
      .client('S', 0, '', { ttl: 128 })
      .server('SA', 0.005)
      .server('SA', 3, '', { seq: 0xffff_ff00 })
      .client('S', 3.015, '', { seq: 0xffff_fff0, ttl: 128 })
      .client('R', 9, '', { seq: 0xffff_fff1 });
    const f = analyzeConversation(c).flows[0];
    expect(codes(f)).not.toContain('syn-retry-then-connected');
    expect(codes(f)).toContain('synack-retry');
  });

  corpus2.it("nDPI's gnutella.pcap: a SYN-ACK 15.5 s after the first of three SYNs completes that connection", () => {
    const file = corpus2.path('ndpi/gnutella.pcap');
    const r = analyzeFile(file);
    const flows = r.flows.filter((f) => f.client === '10.0.2.15:50198');
    expect(flows).toHaveLength(1);
    expect(flows[0].syns.map((s) => s.no)).toEqual([172, 253, 411]);
    expect(codes(flows[0])).toContain('syn-retry-then-connected');
    expect(codes(flows[0])).not.toContain('syn-timeout');
    expect(verdict(flows[0], 'syn-retry-then-connected').summary).toMatch(/^SYN retried 2 times before the SYN-ACK #568: connecting took 15\.5 s/);
  });

  it('joins its attempt after the client gave up retrying, whether flows are kept or streamed, while the capture goes on', () => {
    // Linux retries after 1 s and would again after 2 s more; none came, so the client gave up 2.5 s
    // after the retry (3.5 s). The SYN-ACK at 30 s still answers that SYN.
    const syns = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 });
    const c = connectedAt(syns, 30, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1 204 No Content\r\n\r\n');
    const { kept, streamed } = bothModes(c, ...traffic(40));
    expect(outline(streamed)).toEqual(outline(kept));
    const mine = kept.filter((f) => f.client === '10.0.0.1:51000');
    expect(mine).toHaveLength(1);
    expect(mine[0].syns).toHaveLength(2);
    expect(codes(mine[0])).toEqual(['clean-close', 'syn-retry-then-connected']);
    expect(verdict(mine[0], 'syn-retry-then-connected').summary).toMatch(/^SYN retried once before the SYN-ACK #\d+: connecting took 30\.0 s \(retry after 1\.00 s\)$/);
  });

  it('a SYN-ACK later than 60 s after the last SYN (2 MSL) is no answer to it: the attempt timed out', () => {
    const syns = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 });
    const c = connectedAt(syns, 70, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1 204 No Content\r\n\r\n');
    const { kept, streamed } = bothModes(c, ...traffic(80));
    expect(outline(streamed)).toEqual(outline(kept));
    const mine = kept.filter((f) => f.client === '10.0.0.1:51000');
    expect(mine.map((f) => f.endReason)).toEqual(['attempt-timeout', 'closed']);
    expect(codes(mine[0])).toEqual(['syn-timeout']);
  });

  it('a SYN-ACK after the client stopped retrying joins its attempt: the connect had already failed, no retry that connected', () => {
    // Windows: SYNs at 0, 3 and 9 s, then nothing (it gives up 12 s after the third); the SYN-ACK at 31 s, re-sent, then the server's RST.
    const c = conv()
      .client('S', 0, '', { ttl: 128 })
      .client('S', 3, '', { seq: 0xffff_fff0, ttl: 128 })
      .client('S', 9, '', { seq: 0xffff_fff0, ttl: 128 })
      .server('SA', 31)
      .server('SA', 37, '', { seq: 0xffff_ff00 })
      .server('R', 50, '', { seq: 0xffff_ff01 });
    const { kept, streamed } = bothModes(c, ...traffic(55));
    expect(outline(streamed)).toEqual(outline(kept));
    const mine = kept.filter((f) => f.client === '10.0.0.1:51000');
    expect(mine).toHaveLength(1);
    expect(codes(mine[0])).not.toContain('syn-retry-then-connected');
    expect(verdict(mine[0], 'half-open').summary).toMatch(/^SYN-ACK #\d+ came 22\.0 s after the client's last SYN #\d+, when the client had stopped retrying \(3 SYNs over 9\.00 s\): the connect had already failed/);
    // The late answer, not the return path or the client, is what the hint points at.
    expect(verdict(mine[0], 'half-open').hint).toMatch(/^The SYN-ACK came only after the client had stopped retrying/);
  });

  corpus2.it("nDPI's gnutella.pcap: a SYN-ACK 22.7 s after the last of three SYNs joins them, after the client had given up", () => {
    const r = analyzeFile(corpus2.path('ndpi/gnutella.pcap'));
    const flows = r.flows.filter((f) => f.client === '10.0.2.15:50245');
    expect(flows).toHaveLength(1);
    expect(flows[0].syns.map((s) => s.no)).toEqual([367, 502, 586]);
    expect(flows[0].synAcks[0].no).toBe(1509);
    expect(codes(flows[0])).not.toContain('syn-retry-then-connected');
    expect(verdict(flows[0], 'half-open').summary).toMatch(/^SYN-ACK #1509 came 22\.7 s after the client's last SYN #586, when the client had stopped retrying/);
  });

  corpus2.it("nDPI's alexa-app.pcapng: a Linux client's 7 SYNs over 63 s (same ISN) are one attempt, not three", () => {
    const r = analyzeFile(corpus2.path('ndpi/alexa-app.pcapng'));
    const flows = r.flows.filter((f) => f.client === '172.16.42.216:40202' && f.syns.length > 0);
    expect(flows.map((f) => f.syns.map((s) => s.no))).toEqual([[248, 377, 485, 758, 801, 1088, 1658]]);
    expect(verdict(flows[0], 'syn-timeout').summary).toMatch(/\(7 SYNs #248, .* over 63\.1 s; retries after 1\.93 s, 1\.07 s, 4\.01 s, 8\.03 s, 16\.0 s, 32\.0 s\)/);
  });

  it('a SYN-ACK that does not acknowledge the SYN still starts a new connection', () => {
    const c = conv().client('S', 0).client('S', 3, '', { seq: 0xffff_fff0 }).server('SA', 7, '', { ack: 12345 });
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(2);
    expect(r.flows[0].syns).toHaveLength(2);
  });
});

describe('a 4-tuple reused with a new ISN while its SYN is unanswered', () => {
  /** SYN at 0 s, then the client's next connect() from the same port (a new ISN) at `reuseAt`, answered; other traffic until 20 s. */
  const reused = (reuseAt: number) => {
    const c = conv().client('S', 0).client('S', reuseAt, '', { seq: 1000 }).server('SA', reuseAt + 0.001, '', { ack: 1001 }).client('A', reuseAt + 0.002, '', { seq: 1001 });
    return bothModes(c, ...traffic(20));
  };
  const first = (flows: FlowResult[]) => flows.find((f) => f.client === '10.0.0.1:51000')!;

  it('within 3 s: the client gave up before a SYN would time out, so no syn-timeout, however the flows are judged', () => {
    const { kept, streamed, atOnce } = reused(2);
    for (const flows of [kept, streamed, atOnce]) {
      expect(first(flows).endReason).toBe('reused');
      expect(codes(first(flows))).toEqual([]);
    }
    expect(outline(streamed)).toEqual(outline(kept));
    expect(outline(atOnce)).toEqual(outline(kept));
  });

  it('after 4 s: the one SYN, never sent again, was given up before its first retry (syn-abandoned), counted up to the SYN that reused the 4-tuple, however the flows are judged', () => {
    const { kept, streamed, atOnce } = reused(4);
    const summaries = [kept, streamed, atOnce].map((flows) => verdict(first(flows), 'syn-abandoned').summary);
    expect(summaries[0]).toMatch(/^SYN #1 unanswered and never sent again in the 4\.00 s before the client's next connection on the same ports, SYN #\d+: the client gave the attempt up/);
    expect(summaries[1]).toBe(summaries[0]);
    expect(summaries[2]).toBe(summaries[0]);
  });
});

describe('what is not a SYN retry', () => {
  it('a late copy of the SYN (same ISN and IP ID, after the handshake) is a copy', () => {
    const c = conv().handshake(0);
    const synId = 0x1000; // the first packet's IP ID (the client side's counter starts there)
    c.client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').client('S', 0.003, '', { seq: 0xffff_fff0, ipId: synId });
    const f = analyzeConversation(c).flows[0];
    expect(f.syns.map((s) => s.no)).toEqual([1]);
    expect(codes(f)).not.toContain('syn-retry-then-connected');
  });

  it('the same SYN with a new IP ID is a retry', () => {
    const c = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).server('SA', 1.001).client('A', 1.002);
    const f = analyzeConversation(c).flows[0];
    expect(f.syns.map((s) => s.no)).toEqual([1, 2]);
    expect(codes(f)).toContain('syn-retry-then-connected');
  });

  it("a SYN-ACK from the client's side is no retry of its SYN", () => {
    const c = conv().handshake(0).client('SA', 0.5, '', { seq: 0xffff_fff0 });
    const f = analyzeConversation(c).flows[0];
    expect(f.syns.map((s) => s.no)).toEqual([1]);
    expect(f.synAcks.map((s) => s.no)).toEqual([2]);
    expect(codes(f)).not.toContain('syn-retry-then-connected');
  });
});

/** Another connection at 5 s, so the capture goes on after the attempt. */
const later = () => conv({ client: '10.0.0.9:50000', server: '10.0.0.8:80' }).handshake(5);

describe('retry schedules', () => {
  it('are named only from two intervals that agree and a TTL that fits', () => {
    expect(retrySchedule([1_000_000], 64)).toBe('1.00 s');
    expect(retrySchedule([1_000_000, 2_000_000], 64)).toBe('1.00 s, 2.00 s (1 s doubling: Linux)');
    expect(retrySchedule([1_000_000, 2_000_000], 128)).toBe('1.00 s, 2.00 s (1 s doubling)');
    expect(retrySchedule([3_000_000, 6_000_000], 128)).toBe('3.00 s, 6.00 s (3 s doubling: Windows)');
    expect(retrySchedule([3_000_000, 6_000_000], 255)).toBe('3.00 s, 6.00 s (3 s doubling)');
    expect(retrySchedule([1_000_000, 1_000_000, 1_000_000], 64)).toBe('1.00 s, 1.00 s, 1.00 s');
    expect(retrySchedule([500_000, 1_000_000, 2_000_000], 64)).toBe('500 ms, 1.00 s, 2.00 s (exponential backoff)');
  });

  it('one SYN is never called retries', () => {
    // 3.2 s: a client on a 3 s timer may have just retried, so the one SYN may still be a timeout.
    const f = analyzeConversation(conv().client('S', 0), conv({ client: '10.0.0.9:50000', server: '10.0.0.8:80' }).handshake(3.2)).flows[0];
    const v = verdict(f, 'syn-timeout');
    expect(v.summary).toMatch(/^SYN unanswered, .* \(SYN #1, not retried in the 3\.20 s the capture went on\)$/);
    expect(v.summary).not.toMatch(/retries/);
  });

  it('two SYNs are one retry', () => {
    const f = analyzeConversation(conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }), later()).flows[0];
    expect(verdict(f, 'syn-timeout').summary).toMatch(/^SYN retried once, .* \(2 SYNs #1, #2 over 1\.00 s; retry after 1\.00 s\)$/);
  });
});

describe('packets after an idle longer than --idle-timeout', () => {
  /** Runs a conversation with a 10 s idle timeout. */
  function withIdleTimeout(c: Conversation): AnalysisResult {
    const analyzer = new Analyzer({ file: 'idle.pcap', idleTimeoutSec: 10 });
    c.packets.forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6) })));
    return analyzer.finish({ file: 'idle.pcap', format: 'pcap', linkTypes: [1], snaplen: 65535, packets: c.packets.length, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false });
  }
  const exchange = () =>
    conv({ client: '10.0.0.1:51000', server: '10.0.0.2:8080' })
      .handshake(0)
      .client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
      .server('PA', 0.02, 'HTTP/1.1 204 No Content\r\n\r\n')
      .client('A', 0.03);

  it('continue the flow: the idle and who ended it, never midstream', () => {
    // Silent for 60 s, then the client resets the connection (its next sequence number).
    const r = withIdleTimeout(exchange().client('R', 60));
    expect(r.flows).toHaveLength(2);
    const [first, after] = r.flows;
    expect(first.endReason).toBe('idle');
    expect(after.client).toBe('10.0.0.1:51000');
    expect(codes(after)).toEqual(['idle-close']);
    const v = verdict(after, 'idle-close');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ continuesFlow: first.id, idleMs: 59970, closer: 'client', how: 'rst' });
    expect(v.summary).toBe(
      `idle 60.0 s after the last packet of flow ${first.id}, the same connection (its handshake is there; the idle outlasted the idle timeout), then the client reset the connection (RST #7)`,
    );
  });

  it('keep the roles of the handshake when the server speaks first after the idle', () => {
    const r = withIdleTimeout(exchange().server('FA', 60).client('FA', 60.001).server('A', 60.002));
    const after = r.flows[1];
    expect([after.client, after.server]).toEqual(['10.0.0.1:51000', '10.0.0.2:8080']);
    expect(verdict(after, 'idle-close')).toMatchObject({ severity: 'info', facts: { closer: 'server', how: 'fin' } });
    expect(codes(after)).not.toContain('midstream');
  });

  it('a packet with unrelated sequence numbers on the 4-tuple is still a connection already open', () => {
    const r = withIdleTimeout(exchange().client('A', 60, '', { seq: 0x4000_0000 }));
    expect(codes(r.flows[1])).toContain('midstream');
    expect(codes(r.flows[1])).not.toContain('idle-close');
  });

  corpus.it("PPA evilprogram.pcap: the client's RST #657, 8,820 s after flow 64 went quiet, is that connection's end, kept or streamed", () => {
    // tshark: #456 (the client's last ACK) and #657 are both in tcp.stream 63, both with sequence number 1997047472.
    const file = corpus.path('ppa/ppa1e/evilprogram.pcap');
    const streamed: FlowResult[] = [];
    streamFlows(file, (f) => streamed.push(f), { keepEvents: false });
    for (const flows of [analyzeFile(file).flows, streamed]) {
      const before = flows.find((f) => f.client === '24.6.125.19:1050' && f.firstPacket === 402)!;
      const rst = flows.find((f) => f.firstPacket === 657)!;
      expect(rst.afterIdle).toMatchObject({ flowId: before.id });
      expect(codes(rst)).toEqual(['idle-close']);
      expect(verdict(rst, 'idle-close').summary).toMatch(new RegExp(`^idle 8820 s after the last packet of flow ${before.id}, the same connection .*then the client reset the connection \\(RST #657\\)$`));
    }
  });
});
