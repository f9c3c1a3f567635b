// Verdicts from the per-segment TCP analysis, on the real captures in samples/ (made by the
// scenarios in scripts/scenarios/ on loopback or in network namespaces), on public corpus captures,
// and on scripted conversations for what is hard to provoke (a SYN flood from many sources).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnalysisResult, FlowResult } from '../../src/pipeline.js';
import { analyzeFile } from '../../src/pipeline.js';
import { judgeFlow, type RuleContext } from '../../src/rules/rules.js';
import { judgeCapture, type FlowDigest } from '../../src/rules/capture-rules.js';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { TCP_CAPTURE_RULES, TCP_FLOW_RULES } from '../../src/rules/tcp-rules.js';
import { PortGroups } from '../../src/rules/port-groups.js';
import type { Verdict } from '../../src/rules/verdict.js';
import { analyzeConversation, analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { hasTool } from '../helpers/tools.js';

const SAMPLES = 'samples';
const corpus = useCorpus();
const corpus2 = useCorpus('corpus2');
const corpus2WithTshark = useCorpus('corpus2', { tools: ['tshark'] });

const TCP_CODES = new Set(['retransmission', 'zero-window', 'no-response', 'idle-close', 'syn-flood', 'port-exhaustion', 'listen-queue-overflow']);

function verdict(f: FlowResult, code: string): Verdict {
  const v = f.verdicts.find((x) => x.code === code);
  if (!v) throw new Error(`flow ${f.id}: no ${code} verdict, got ${f.verdicts.map((x) => x.code).join(', ')}`);
  return v;
}

function captureVerdict(r: AnalysisResult, code: string): Verdict {
  const v = r.verdicts.find((x) => x.code === code);
  if (!v) throw new Error(`no capture verdict ${code}, got ${r.verdicts.map((x) => x.code).join(', ')}`);
  return v;
}

/** Every TCP-analysis verdict in a result, flow and capture level. */
function tcpVerdicts(r: AnalysisResult): string[] {
  return [...r.flows.flatMap((f) => f.verdicts), ...r.verdicts].map((v) => v.code).filter((c) => TCP_CODES.has(c));
}

function ruleContext(r: AnalysisResult): RuleContext {
  return { captureEnd: r.capture.end, neighboursUnanswered: new Map(), answers: new AnswerLog() };
}

const sample = (name: string) => join(SAMPLES, `${name}.pcap`);

describe.skipIf(!existsSync(SAMPLES))('TCP verdicts on real captures (samples/)', () => {
  it('lossy-transfer: retransmissions by the server from loss on the path, a warning, not an error', () => {
    const r = analyzeFile(sample('lossy-transfer'));
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    const v = verdict(f, 'retransmission');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ direction: 'server', stalled: false, cause: 'path-loss' });
    const server = v.facts.server as { retransmissions: number; bytesResent: number; duplicateAcksReceived: number };
    expect(server.retransmissions).toBe(f.analysis!.server.dataRetransmissions);
    expect(server.retransmissions).toBeGreaterThan(0);
    expect(server.bytesResent).toBeGreaterThan(0);
    expect(server.duplicateAcksReceived).toBeGreaterThan(0);
    expect(v.summary).toMatch(/^\d+ retransmissions by the server \(.*bytes resent; worst RTO .*\): packet loss on the path/);
    expect(v.packets.length).toBeGreaterThan(0);
    // The transfer completed: no error anywhere on this flow.
    expect(f.verdicts.filter((x) => x.severity === 'error')).toEqual([]);
  });

  it('zero-window: names the server as the stalled receiver and how long its window stayed closed', () => {
    const r = analyzeFile(sample('zero-window'));
    const f = r.flows[0];
    const v = verdict(f, 'zero-window');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ receiver: 'server', reopened: false });
    // The client stalls for 2 s before closing; the window stays closed from the first zero window on.
    expect(v.facts.longestClosedMs as number).toBeGreaterThan(1500);
    expect(v.summary).toMatch(/^the server advertised a zero window \(#\d+\): closed for [\d.]+ s, still closed when/);
    expect(f.analysis!.server.zeroWindow).toBeGreaterThan(0);
  });

  it('no-response: the server TCP acknowledged the request, no byte came back, the client gave up', () => {
    const r = analyzeFile(sample('no-response'));
    const f = r.flows[0];
    // The HTTP rule speaks first for HTTP flows: one no-response verdict per flow.
    expect(f.verdicts.filter((v) => v.code === 'no-response')).toHaveLength(1);
    const [tcp] = judgeFlow(f, ruleContext(r), TCP_FLOW_RULES).filter((v) => v.code === 'no-response');
    expect(tcp.severity).toBe('error');
    expect(tcp.facts).toMatchObject({ endedBy: 'client', endHow: 'fin' });
    expect(tcp.facts.waitedMs as number).toBeGreaterThan(2500);
    expect(tcp.summary).toMatch(/^request #\d+ was acknowledged by the server's TCP \(#\d+\) but no response byte came back: the client closed the connection \(#\d+\) after [\d.]+ s$/);
    expect(judgeFlow(f, ruleContext(r), TCP_FLOW_RULES).map((v) => v.code)).not.toContain('idle-close');
  });

  it('one-way stream: a client that sends log lines and never waits for an answer is not no-response', () => {
    const r = analyzeFile(sample('one-way-stream'));
    const f = r.flows[0];
    expect(f.serverSide.bytes).toBe(0);
    // The last line is ACKed, 2 s of silence, then the client closes: the shape of no-response,
    // but the client had already gone on sending after each earlier silence.
    expect(f.analysis!.unanswered).toMatchObject({ gaveUpRst: false, serverSpokeAfterResume: false });
    expect(f.analysis!.unanswered!.silentResumes).toBeGreaterThanOrEqual(2);
    expect(f.verdicts.map((v) => v.code)).toEqual(['clean-close']);
  });

  it('idle-close: the server closed a keep-alive connection after about 3 s of silence, cleanly, so only as info', () => {
    const r = analyzeFile(sample('idle-close'));
    const f = r.flows[0];
    const v = verdict(f, 'idle-close');
    // FINs both ways and no RST: ordinary keep-alive housekeeping, and a clean connection carries no warning.
    expect(v.severity).toBe('info');
    expect(f.verdicts.filter((x) => x.severity !== 'info')).toEqual([]);
    expect(v.facts).toMatchObject({ closer: 'server', how: 'fin', cleanClose: true });
    expect(v.facts.idleMs as number).toBeGreaterThan(2500);
    expect(v.facts.idleMs as number).toBeLessThan(4000);
    expect(v.summary).toMatch(/^idle [\d.]+ s, then the server closed the connection \(FIN #\d+\)/);
    expect(f.verdicts.filter((x) => x.severity === 'error')).toEqual([]);
  });

  it('port-reuse: one client cycling 4 source ports to one server is port exhaustion', () => {
    const r = analyzeFile(sample('port-reuse'));
    const v = captureVerdict(r, 'port-exhaustion');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ connections: 40, distinctSourcePorts: 4, failedReused: 0 });
    expect(v.facts.reusedWithinTimeWait as number).toBeGreaterThanOrEqual(30);
    expect(v.hint).toMatch(/ip_local_port_range/);
    expect(v.hint).toMatch(/tcp_tw_reuse/);
  });

  it('listen-overflow: SYNs dropped while the same listener answered others, consistent with syn-timeout', () => {
    const r = analyzeFile(sample('listen-overflow'));
    const v = captureVerdict(r, 'listen-queue-overflow');
    expect(v.severity).toBe('warning');
    expect(v.facts.listener).toMatch(/:8080$/);
    expect(v.facts.droppedConnections as number).toBeGreaterThanOrEqual(1);
    expect(v.facts.answeredConnections as number).toBeGreaterThanOrEqual(1);
    expect(v.hint).toMatch(/somaxconn/);
    // Every flow syn-timeout calls "listener overloaded" is one of the dropped connections.
    const overloaded = r.flows.filter((f) => f.verdicts.some((x) => x.code === 'syn-timeout' && x.facts.listenerOverloaded));
    expect(overloaded.length).toBeGreaterThan(0);
    expect(v.facts.droppedConnections as number).toBeGreaterThanOrEqual(overloaded.length);
  });

  it('http-clean: a clean connection carries no warning at all', () => {
    const r = analyzeFile(sample('http-clean'));
    expect(tcpVerdicts(r)).toEqual([]);
    for (const f of r.flows) expect(f.verdicts.filter((v) => v.severity !== 'info')).toEqual([]);
  });
});

corpus.describe('TCP verdicts on public captures', () => {
  it('a segment retransmitted five times and never acknowledged: the peer stopped answering (error)', () => {
    const r = analyzeFile(corpus.path('ppa/ppa3/tcp_retransmissions.pcapng'));
    const v = verdict(r.flows[0], 'retransmission');
    expect(v.severity).toBe('error');
    // Each resend is timed from the one before it: the timer doubles (tshark's rto_frame is #1 each time).
    expect(v.facts).toMatchObject({ stalled: true, cause: 'peer-unreachable', worstRtoPacket: 6, originalPacket: 5 });
    expect(v.summary).toContain('5 retransmissions in a row got no ACK');
  });

  it('a receiver stuck at zero window, probed with growing intervals', () => {
    const r = analyzeFile(corpus.path('ppa/ppa3/tcp_zerowindowdead.pcapng'));
    const v = verdict(r.flows[0], 'zero-window');
    expect(v.facts).toMatchObject({ reopened: false, probes: 3 });
    expect(v.facts.longestClosedMs as number).toBeGreaterThan(20_000);
  });

  it('100 SYNs from 100 spoofed sources in 16 ms: a SYN flood', () => {
    const r = analyzeFile(corpus.path('ppa/ppa1e/dosattack.pcap'));
    const v = captureVerdict(r, 'syn-flood');
    expect(v.severity).toBe('error');
    expect(v.facts).toMatchObject({ halfOpen: 100, sources: 100, unanswered: 100 });
  });

  it('a port scan from one host is not a SYN flood', () => {
    const r = analyzeFile(corpus.path('ppa/ppa3/synscan.pcapng'));
    expect(r.verdicts.map((v) => v.code)).not.toContain('syn-flood');
  });
});

describe('TCP verdicts on scripted conversations', () => {
  it('no-response on a non-HTTP protocol: the ACKed request, then the client gives up', () => {
    const c = conv({ server: '10.0.0.2:6379' }).handshake(0, 0.001);
    c.client('PA', 0.01, '*1\r\n$4\r\nPING\r\n'); // #4
    c.server('A', 0.011); // #5
    c.client('RA', 5.01); // #6
    const f = analyzeConversation(c).flows[0];
    const v = verdict(f, 'no-response');
    expect(v.summary).toBe("request #4 was acknowledged by the server's TCP (#5) but no response byte came back: the client reset the connection (#6) after 5.00 s");
    expect(v.packets).toEqual([4, 5, 6]);
  });

  it('no-response still fires when a hung server gets one more message before the client gives up', () => {
    const c = conv({ server: '10.0.0.2:6379' }).handshake(0, 0.001);
    c.client('PA', 0.01, '*1\r\n$4\r\nPING\r\n').server('PA', 0.011, '+PONG\r\n').client('A', 0.012);
    c.client('PA', 1.0, '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n').server('A', 1.001); // #7: never answered
    c.client('PA', 2.5, '*1\r\n$4\r\nPING\r\n').server('A', 2.501); // #9: one resume after silence
    c.client('FA', 7.5).server('FA', 7.501).client('A', 7.502);
    const f = analyzeConversation(c).flows[0];
    expect(f.analysis!.unanswered).toMatchObject({ silentResumes: 1, serverSpokeAfterResume: false });
    expect(verdict(f, 'no-response').summary).toMatch(/^request #9 was acknowledged .* the client closed the connection \(#11\) after 5\.00 s$/);
  });

  it('no no-response for fire-and-forget messages when the server answers later ones (MQTT QoS 0 and PINGREQ)', () => {
    const c = conv({ server: '10.0.0.2:1883' }).handshake(0, 0.001);
    const publish = new Uint8Array([0x30, 0x07, 0x00, 0x01, 0x74, 0x32, 0x31, 0x2e, 0x35]);
    for (let i = 0; i < 3; i++) c.client('PA', 0.01 + 1.5 * i, publish).server('A', 0.011 + 1.5 * i);
    c.client('PA', 4.6, new Uint8Array([0xc0, 0x00])).server('PA', 4.601, new Uint8Array([0xd0, 0x00])).client('A', 4.602);
    c.client('PA', 6.0, publish).server('A', 6.001);
    c.client('FA', 9.0).server('FA', 9.001).client('A', 9.002);
    const f = analyzeConversation(c).flows[0];
    expect(f.analysis!.unanswered).toMatchObject({ silentResumes: 3, serverSpokeAfterResume: true });
    expect(f.verdicts.map((v) => v.code)).toEqual(['clean-close']);
  });

  it('no no-response after a WebSocket upgrade: a server that sends no message is not a missing answer', () => {
    const w = conv({ server: '10.0.0.2:80' }).handshake(0, 0.001);
    w.client('PA', 0.01, 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n').server('A', 0.011);
    w.server('PA', 0.02, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n').client('A', 0.021);
    const hi = new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]); // masked text "hi"
    w.client('PA', 0.5, hi).server('A', 0.501);
    w.client('FA', 6.5).server('FA', 6.501).client('A', 6.502);
    const f = analyzeConversation(w).flows[0];
    expect(f.analysis!.unanswered).not.toBeNull();
    expect(f.verdicts.map((v) => v.code)).not.toContain('no-response');
    expect(f.verdicts.map((v) => v.code)).toContain('ws-no-close-frame');
  });

  it('idle-close names a round idle timeout as a load balancer or proxy timeout', () => {
    const c = conv().handshake(0, 0.001);
    c.client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('A', 0.011);
    c.server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').client('A', 0.021);
    c.server('RA', 60.02); // reset after exactly 60 s of silence
    const f = analyzeConversation(c).flows[0];
    const v = verdict(f, 'idle-close');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ closer: 'server', how: 'rst', roundTimeoutS: 60, cleanClose: false });
    expect(v.summary).toMatch(/^idle 60\.0 s, then the server reset the connection \(RST #\d+\): 60 s is a typical idle timeout$/);
    expect(v.hint).toMatch(/load balancer/);
  });

  it('idle-close is a warning when the client reuses a connection the server closed while idle (the keep-alive race)', () => {
    const c = conv().handshake(0, 0.001);
    c.client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('A', 0.011);
    c.server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').client('A', 0.021);
    c.server('FA', 5.02).client('A', 5.021);
    // The client's pool picks the connection up again just after the server's FIN: the server resets.
    c.client('PA', 5.03, 'GET /again HTTP/1.1\r\nHost: a\r\n\r\n').server('R', 5.031);
    const f = analyzeConversation(c).flows[0];
    const v = verdict(f, 'idle-close');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ closer: 'server', how: 'fin', cleanClose: false, reusedAfterClosePacket: 10 });
    expect(v.summary).toMatch(/^idle 5\.00 s, then the server closed the connection \(FIN #8\): 5 s is a typical idle timeout; the client then sent #10 on the closed connection \(the keep-alive race\)$/);
  });

  it('port-exhaustion copes with one client opening 300,000 connections to one server', () => {
    // Math.min(...list) over this many flows overflows the call stack; the rule must not.
    const n = 300_000;
    const digests: FlowDigest[] = [];
    for (let i = 0; i < n; i++) {
      const ts = 1_700_000_000_000_000 + i * 1000;
      digests.push({
        id: i + 1,
        server: '10.0.0.2:80',
        clientIp: '10.0.0.1',
        clientPort: 32768 + (i % 1000),
        state: 'SF',
        start: ts,
        end: ts + 500,
        syns: [{ no: 4 * i + 1, ts }],
        synAcks: [{ no: 4 * i + 2, ts: ts + 50 }],
        handshakeAck: { no: 4 * i + 3, ts: ts + 100 },
        reusedAfter: i >= 1000 ? { flowId: i - 999, closedTs: ts - 999_500, state: 'SF' } : null,
        clientSide: { bytes: 10, rst: null },
        serverSide: { rst: null, packets: 2 },
      });
    }
    const rule = TCP_CAPTURE_RULES.find((r) => r.code === 'port-exhaustion')!;
    const ctx: RuleContext = { captureEnd: digests[n - 1].end, neighboursUnanswered: new Map(), answers: new AnswerLog() };
    const [v] = judgeCapture(digests, { packets: 4 * n, truncatedPackets: 0, truncatedBelowSnaplen: 0, payloadCutPackets: 0, snaplen: 65535 }, ctx, [rule]);
    expect(v.facts).toMatchObject({ connections: n, distinctSourcePorts: 1000, reusedWithinTimeWait: n - 1000, quickestReuseMs: 999.5 });
  });

  it('a SYN flood against one service: many sources, SYN-ACKs never retransmitted point at SYN cookies', () => {
    const convs: Conversation[] = [];
    for (let i = 0; i < 30; i++) {
      const c = conv({ client: `198.51.100.${i + 1}:${40000 + i}`, server: '10.0.0.2:443', clientIsn: 1000 * i });
      c.client('S', i * 0.01).server('SA', i * 0.01 + 0.0001); // no final ACK, no SYN-ACK retry
      convs.push(c);
    }
    const late = conv({ client: '203.0.113.9:50000', server: '10.0.0.2:443' }).handshake(3, 0.001);
    const r = analyzeConversation(...convs, late);
    const v = captureVerdict(r, 'syn-flood');
    expect(v.facts).toMatchObject({ target: '10.0.0.2:443', halfOpen: 30, sources: 30, synAcked: 30, synCookiesLikely: true, completed: 1 });
    expect(v.summary).toMatch(/^SYN flood against 10\.0\.0\.2:443: 30 half-open connections from 30 sources within 290 ms/);
    expect(v.hint).toMatch(/tcp_syncookies/);
  });

  it('a few half-open connections from one client are no flood', () => {
    const convs = [0, 1, 2].map((i) => conv({ client: `10.0.0.1:${41000 + i}` }).client('S', i * 0.1));
    expect(analyzeConversation(...convs).verdicts.map((v) => v.code)).not.toContain('syn-flood');
  });

  it('a clean connection with a retransmitted SYN carries no retransmission verdict (the SYN rules speak)', () => {
    const c = conv();
    c.client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).server('SA', 1.001).client('A', 1.002);
    const f = analyzeConversation(c).flows[0];
    expect(f.analysis!.retransmission).toBe(1);
    expect(f.verdicts.map((v) => v.code)).not.toContain('retransmission');
    expect(f.verdicts.map((v) => v.code)).toContain('syn-retry-then-connected');
  });
});

describe('idle-close and the RSTs around the close', () => {
  /** An answered request, 5 s of silence, FINs both ways; then an RST from the client at `rstAt` (s), if any. */
  const idleThenClosed = (rstAt: number | null) => {
    const c = conv({ client: '10.6.0.1:54000', server: '10.6.0.2:443' }).handshake(0, 0.01).client('PA', 0.02, 'ping').server('PA', 0.03, 'pong').client('A', 0.04);
    c.client('FA', 5.04);
    if (rstAt !== null && rstAt < 5.05) c.client('R', rstAt, '', { seq: c.c.next });
    c.server('PA', 5.05, 'late').server('FA', 5.051);
    if (rstAt !== null && rstAt >= 5.05) c.client('R', rstAt, '', { seq: c.c.next });
    return analyzeConversation(c).flows[0];
  };

  it('an RST the client sends once both FINs are out leaves the idle close clean: info', () => {
    const v = verdict(idleThenClosed(5.052), 'idle-close');
    expect(v.severity).toBe('info');
    expect(v.facts.cleanClose).toBe(true);
  });

  it('an RST before the server had closed makes it a close a client trips over: a warning', () => {
    const v = verdict(idleThenClosed(5.045), 'idle-close');
    expect(v.severity).toBe('warning');
    expect(v.facts.cleanClose).toBe(false);
  });
});

describe('unanswered retransmissions at the end of a capture', () => {
  /** A response sent at 10 ms, then sent again at `resends` (seconds) with no ACK; the capture ends with the last. */
  const resent = (resends: number[]) => {
    const c = conv({ client: '10.4.0.1:52000', server: '10.4.0.2:443' }).handshake(0, 0.001).client('PA', 0.002, 'hello').server('A', 0.003);
    const seq = c.s.next;
    c.server('PA', 0.01, 'x'.repeat(1200));
    for (const t of resends) c.server('PA', t, 'x'.repeat(1200), { seq });
    return analyzeConversation(c).flows[0];
  };

  it('a burst the capture ends with is no proof the client stopped acknowledging: a warning saying so', () => {
    const f = resent([0.0101, 0.0102, 0.0103]);
    const v = verdict(f, 'retransmission');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ stalled: false, cause: 'capture-ended' });
    expect(v.summary).toContain('3 retransmissions in a row from #7 got no ACK, but the capture stopped watching 0.2 ms after the first of them, too soon to tell whether the client would acknowledge');
    expect(f.verdicts.filter((x) => x.severity === 'error')).toEqual([]);
    expect(f.analysis!.server.unansweredSince).toEqual({ packet: 7, ts: expect.any(Number) });
  });

  it("a retransmission timer's backoff (200, 400, 800 ms) captured to its third resend is the error it was", () => {
    const v = verdict(resent([0.21, 0.61, 1.41]), 'retransmission');
    expect(v.severity).toBe('error');
    expect(v.facts).toMatchObject({ stalled: true, cause: 'peer-unreachable' });
    expect(v.summary).toContain('the client stopped acknowledging (3 retransmissions in a row got no ACK)');
  });

  it('a peer of which the connection holds no packet at all never acknowledged: "acknowledged none of it", not "stopped"', () => {
    // Caught mid-stream: the client's request resent on a timer, nothing from the server.
    const c = conv({ client: '192.168.2.100:37780', server: '160.44.202.202:443' });
    const seq = c.c.next;
    c.client('PA', 0, 'x'.repeat(31));
    for (const t of [0.25, 0.75, 1.75]) c.client('PA', t, 'x'.repeat(31), { seq });
    const v = verdict(analyzeConversation(c).flows[0], 'retransmission');
    expect(v.facts).toMatchObject({ stalled: true, cause: 'peer-unreachable' });
    expect(v.summary).toContain('the server acknowledged none of it (3 retransmissions in a row got no ACK, and the capture holds no packet from the server in this connection)');
  });

  it('a FIN sent again alone is in the run of unanswered resends, which says so beside the data resends counted', () => {
    // nDPI tls_alert.pcap flow 2: a 31-byte request, its FIN, the FIN again 62 ms later, then the request and FIN resent on a timer.
    const c = conv({ client: '192.168.2.100:37780', server: '160.44.202.202:443' });
    const seq = c.c.next;
    c.client('PA', 0, 'x'.repeat(31));
    const finSeq = c.c.next;
    c.client('FA', 0.003);
    c.client('FA', 0.065, '', { seq: finSeq });
    for (const t of [0.3, 0.8, 1.8]) c.client('FPA', t, 'x'.repeat(31), { seq });
    const v = verdict(analyzeConversation(c).flows[0], 'retransmission');
    expect(v.summary).toMatch(/^3 retransmissions by the client/);
    expect(v.summary).toContain('the server acknowledged none of it (4 retransmissions in a row, a FIN resent alone among them, got no ACK');
  });

  it('a run that counts copies the capture holds twice names no FIN', () => {
    // Every packet captured twice (tcpdump -i any on a bridge): the copies lengthen the run, and no FIN was resent.
    const c = conv({ client: '192.168.2.100:37780', server: '160.44.202.202:443' });
    const seq = c.c.next;
    c.client('PA', 0, 'x'.repeat(31));
    for (const t of [0.25, 0.75, 1.75, 3.75]) c.client('PA', t, 'x'.repeat(31), { seq });
    const doubled = c.packets.flatMap((p) => [p, { t: p.t + 0.00002, frame: p.frame }]);
    const v = verdict(analyzeFrames(doubled).flows[0], 'retransmission');
    expect(v.summary).toMatch(/^4 retransmissions by the client/);
    expect(v.summary).toMatch(/\(9 retransmissions in a row got no ACK/);
    expect(v.summary).not.toContain('FIN');
  });

  corpus2.it('nDPI tls_alert.pcap flow 2: the client resends with back-off and the file holds no packet of the server', () => {
    const f = analyzeFile(corpus2.path('ndpi/tls_alert.pcap')).flows.find((x) => x.id === 2)!;
    expect(verdict(f, 'retransmission').summary).toContain('the server acknowledged none of it');
  });
});

describe('retransmissions the receiver reports as duplicates (D-SACK, RFC 2883)', () => {
  /** Two response segments, each sent again after 300 ms while the client's ACKs come late; `dsack` adds each copy's D-SACK to the client's ACKs. */
  const resentTwice = (dsack: boolean) => {
    const c = conv({ client: '10.5.0.1:53000', server: '10.5.0.2:443' }).handshake(0, 0.001).client('PA', 0.002, 'hello').server('A', 0.003);
    const first = c.s.next;
    c.server('PA', 0.01, 'x'.repeat(1000)).server('PA', 0.011, 'y'.repeat(1000));
    const second = (first + 1000) >>> 0;
    const end = (first + 2000) >>> 0;
    c.server('PA', 0.31, 'x'.repeat(1000), { seq: first }).server('PA', 0.32, 'y'.repeat(1000), { seq: second });
    // The client's ACKs for the originals, late; then one for each copy, reporting it as received twice.
    c.client('A', 0.33, '', { ack: end });
    c.client('A', 0.331, '', { ack: end, options: dsack ? { sack: [[first, second]] } : undefined });
    c.client('A', 0.332, '', { ack: end, options: dsack ? { sack: [[second, end]] } : undefined });
    c.client('FA', 0.4).server('FA', 0.401).client('A', 0.402);
    return analyzeConversation(c).flows[0];
  };

  it('every resend D-SACKed: the data arrived, only the ACKs were late; info', () => {
    const f = resentTwice(true);
    expect(f.analysis!.client.dsacks).toBe(2);
    const v = verdict(f, 'retransmission');
    expect(v.severity).toBe('info');
    expect(v.facts).toMatchObject({ cause: 'spurious', dsacksByReceiver: 2 });
    expect(v.summary).toContain('unneeded: the client reported each resend as data it already had (2 D-SACKs, RFC 2883)');
  });

  corpus2WithTshark.it('counts the D-SACKs Wireshark finds (tcp.options.sack.dsack_le) in a phone capture and a netem transfer', () => {
    for (const file of [corpus2WithTshark.path('ndpi/alexa-app.pcapng'), join(SAMPLES, 'lossy-transfer.pcap')]) {
      const tshark = execFileSync('tshark', ['-r', file, '-Y', 'tcp.options.sack.dsack_le', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const r = analyzeFile(file);
      const ours = r.flows.reduce((n, f) => n + (f.analysis ? f.analysis.client.dsacks + f.analysis.server.dsacks : 0), 0);
      expect(ours, file).toBe(tshark.split('\n').filter(Boolean).length);
      expect(ours, file).toBeGreaterThan(0);
    }
  });

  /**
   * The server's segment A is lost: the client's two duplicate ACKs SACK B and C, and A comes again
   * 200 ms later. Then, after the client's window closed and reopened, D and E are each sent again
   * and D-SACKed on ACKs that move forward (`dsack`).
   */
  const lossThenUnneeded = (dsack: boolean) => {
    const c = conv({ client: '10.5.0.1:53001', server: '10.5.0.2:443' }).handshake(0, 0.001).client('PA', 0.002, 'hello').server('A', 0.003);
    const a = c.s.next;
    const at = (i: number) => (a + i * 1000) >>> 0;
    c.server('PA', 0.01, 'a'.repeat(1000)).server('PA', 0.011, 'b'.repeat(1000)).server('PA', 0.012, 'c'.repeat(1000));
    c.client('A', 0.013, '', { ack: a, options: { sack: [[at(1), at(2)]] } });
    c.client('A', 0.014, '', { ack: a, options: { sack: [[at(1), at(3)]] } });
    c.server('PA', 0.214, 'a'.repeat(1000), { seq: a });
    c.client('A', 0.215, '', { ack: at(3), window: 0 });
    c.client('A', 0.3, '', { ack: at(3) });
    for (const [i, t] of [[3, 0.31], [4, 0.61]]) {
      c.server('PA', t, 'd'.repeat(1000)).server('PA', t + 0.2, 'd'.repeat(1000), { seq: at(i) });
      c.client('A', t + 0.201, '', { ack: at(i + 1) });
      c.client('A', t + 0.202, '', { ack: at(i + 1), window: 65000, options: dsack ? { sack: [[at(i), at(i + 1)]] } : undefined });
    }
    c.client('FA', 1, '').server('FA', 1.001).client('A', 1.002);
    return analyzeConversation(c).flows[0];
  };

  it('D-SACKs on ACKs that are no duplicates take nothing from the duplicate ACKs that showed a hole: still loss', () => {
    const f = lossThenUnneeded(true);
    expect(f.analysis!.client).toMatchObject({ dsacks: 2, dsackDuplicateAcks: 0 });
    const v = verdict(f, 'retransmission');
    expect(v.facts).toMatchObject({ cause: 'path-loss', dsacksByReceiver: 2 });
    expect(v.summary).toContain('packet loss on the path (the client saw later segments and sent 2 duplicate ACKs)');
  });

  it('the same duplicate ACKs without the D-SACK blocks are read as loss: a warning (they acknowledge all the server sent, so they are no sign of a hole)', () => {
    const f = resentTwice(false);
    expect(f.analysis!.client).toMatchObject({ dsacks: 0, duplicateAcksOfAll: 2 });
    const v = verdict(f, 'retransmission');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ dsacksByReceiver: 0 });
    expect(v.facts.cause).not.toBe('spurious');
    expect(v.summary).toContain('packet loss on the path (segments or their ACKs were lost)');
  });
});

describe('resends sent on an ACK of new data', () => {
  it('are recovery, not a timeout, however old their bytes, when they leave within 3 ms of it', () => {
    // A and B are lost; the timer resends A after 290 ms; the client's ACK of A comes, and B is
    // resent 0.5 ms after it, 340 ms after it was first sent.
    const c = conv({ client: '10.8.0.1:53000', server: '10.8.0.2:80' }).handshake(0, 0.001).client('PA', 0.002, 'hello').server('A', 0.003);
    const a = c.s.next;
    c.server('PA', 0.01, 'a'.repeat(1000)).server('PA', 0.0101, 'b'.repeat(1000));
    c.server('PA', 0.3, 'a'.repeat(1000), { seq: a }).client('A', 0.35, '', { ack: (a + 1000) >>> 0 });
    c.server('PA', 0.3505, 'b'.repeat(1000), { seq: (a + 1000) >>> 0 }).client('A', 0.4, '', { ack: (a + 2000) >>> 0 });
    const f = analyzeConversation(c).flows[0];
    const v = verdict(f, 'retransmission');
    expect(v.summary).toMatch(/^2 retransmissions by the server \(1 after a timeout, 1 sent on an ACK of new data \(loss recovery, not a timeout\); 2000 bytes resent; worst RTO 290 ms \(#8 resends #6\)\)/);
    expect(f.analysis!.marks.filter((m) => m.onAck).map((m) => m.no)).toEqual([10]);
  });

  corpus2.it('nDPI alexa-app flow 66: #1581 left 0.97 ms after the ACK #1580, 8.47 s after #1372: the timer resends are #1495 and #1575, the worst 5.46 s; resends 142 to 175 ms after such an ACK are a timer\'s', () => {
    const flows = analyzeFile(corpus2.path('ndpi/alexa-app.pcapng')).flows;
    const onAck = (id: number) => flows.find((x) => x.id === id)!.analysis!.marks.filter((m) => m.onAck).map((m) => m.no);
    // tshark: each of these leaves 1 to 2.6 ms after the client's ACK of new data.
    expect([31, 33, 63, 66, 74, 85].map(onAck)).toEqual([[698, 699, 711, 712], [742], [1650], [1581], [1649], [1982]]);
    // #720 (flow 33) resends the last segment 142 ms after the ACK #713, a tail-loss probe; #1931,
    // #1930 and #1932 leave 173 to 175 ms after theirs, with nothing from the server between.
    expect([80, 82, 84].map(onAck)).toEqual([[], [], []]);
    const f = flows.find((x) => x.id === 66)!;
    expect(verdict(f, 'retransmission').summary).toMatch(/\(2 after a timeout, 1 sent on an ACK of new data \(loss recovery, not a timeout\); 3070 bytes resent; worst RTO 5\.46 s \(#1575 resends #1495\)\)/);
  });
});

describe('retransmissions whose first ACK echoes the original (the Eifel test, RFC 3522)', () => {
  const ts = (val: number, ecr: number) => ({ options: { ts: [val, ecr] as [number, number] } });
  const opened = () => {
    const c = conv({ client: '10.6.0.1:53000', server: '10.6.0.2:443' });
    c.client('S', 0, '', { options: { mss: 1460, sackPerm: true, ts: [1, 0] } })
      .server('SA', 0.0005, '', { options: { mss: 1460, sackPerm: true, ts: [90, 1] } })
      .client('A', 0.001, '', ts(2, 90))
      .client('PA', 0.002, 'hello', ts(3, 90))
      .server('A', 0.003, '', ts(91, 3));
    return c;
  };
  /**
   * Two exchanges in which the server's segment, sent with TSval 100 (then 200), is sent again 300
   * ms later with TSval 400 (then 500), at the client's last ACK, and the client's ACK covering it
   * echoes `echo(original, resend)`.
   */
  const resentTwice = (echo: (original: number, resend: number) => number) => {
    const c = opened();
    let t = 0.01;
    for (const [original, resend] of [[100, 400], [200, 500]]) {
      const at = c.s.next;
      c.server('PA', t, 'x'.repeat(1000), ts(original, 3)).server('PA', t + 0.3, 'x'.repeat(1000), { seq: at, ...ts(resend, 3) });
      c.client('A', t + 0.301, '', { ack: (at + 1000) >>> 0, ...ts(4, echo(original, resend)) });
      t += 1;
    }
    c.client('FA', t, '', ts(5, 500)).server('FA', t + 0.001, '', ts(520, 5)).client('A', t + 0.002, '', ts(6, 520));
    return analyzeConversation(c).flows[0];
  };

  it("an ACK echoing the original's timestamp was sent before the resend arrived: both resends were unneeded; info", () => {
    const f = resentTwice((original) => original);
    expect(f.analysis!.server.unneededRetransmissions).toBe(2);
    const v = verdict(f, 'retransmission');
    expect(v.severity).toBe('info');
    expect(v.facts).toMatchObject({ cause: 'spurious', dsacksByReceiver: 0 });
    expect(v.summary).toContain("unneeded: the client's first ACK covering each resend echoed a timestamp older than the resend's");
  });

  it("an ACK echoing the resend's timestamp was sent for the resend: the originals were lost; a warning", () => {
    const f = resentTwice((_original, resend) => resend);
    expect(f.analysis!.server.unneededRetransmissions).toBe(0);
    const v = verdict(f, 'retransmission');
    expect(v.severity).toBe('warning');
    expect(v.facts.cause).toBe('path-loss');
  });

  it("a resend above the receiver's last ACK is not judged: its segment before may still wait for a delayed ACK, and TS.Recent with it", () => {
    // O1 (TSval 1010) arrives and its ACK is delayed; O2 (1010) is lost; a tail-loss probe sends
    // O2 again (1030); the one ACK covering both echoes O1's 1010, though O2 was lost.
    const c = opened();
    const o1 = c.s.next;
    c.server('PA', 0.01, 'a'.repeat(1000), ts(1010, 3)).server('PA', 0.0101, 'b'.repeat(1000), ts(1010, 3));
    c.server('PA', 0.03, 'b'.repeat(1000), { seq: (o1 + 1000) >>> 0, ...ts(1030, 3) });
    c.client('A', 0.05, '', { ack: (o1 + 2000) >>> 0, ...ts(4, 1010) });
    c.client('FA', 1, '', ts(5, 1030)).server('FA', 1.001, '', ts(1040, 5)).client('A', 1.002, '', ts(6, 1040));
    const f = analyzeConversation(c).flows[0];
    expect(f.analysis!.server.dataRetransmissions).toBe(1);
    expect(f.analysis!.server.unneededRetransmissions).toBe(0);
  });

  it('a resend after which its sender moved its ACK number on is not judged: a later segment may overtake it, and Linux takes no timestamp from a segment whose ACK number is older than one it took', () => {
    // The server resends at the client's last ACK (TSval 400); then the client sends a byte and the
    // server acknowledges it (#advance) before the client's ACK covering the resend echoes 100.
    const judged = (advance: boolean) => {
      const c = opened();
      const at = c.s.next;
      c.server('PA', 0.01, 'x'.repeat(1000), ts(100, 3)).server('PA', 0.31, 'x'.repeat(1000), { seq: at, ...ts(400, 3) });
      if (advance) c.client('PA', 0.311, 'q', { ack: at, ...ts(4, 100) }).server('A', 0.312, '', ts(401, 4));
      c.client('A', 0.32, '', { ack: (at + 1000) >>> 0, ...ts(5, 100) });
      c.client('FA', 1, '', ts(6, 401)).server('FA', 1.001, '', ts(420, 6)).client('A', 1.002, '', ts(7, 420));
      return analyzeConversation(c).flows[0].analysis!.server;
    };
    expect(judged(false)).toMatchObject({ dataRetransmissions: 1, unneededRetransmissions: 1 });
    expect(judged(true)).toMatchObject({ dataRetransmissions: 1, unneededRetransmissions: 0 });
  });

  it('a segment replayed after the clock stepped back is not a resend to judge', () => {
    // Packets in file order: x (TSval 100), y, then x again stamped before y (a merged or replayed
    // capture), and the ACK covering x echoing x's timestamp.
    const c = opened();
    const at = c.s.next;
    c.server('PA', 0.01, 'x'.repeat(1000), ts(100, 3)).server('PA', 0.03, 'y'.repeat(1000), ts(101, 3));
    c.server('PA', 0.02, 'x'.repeat(1000), { seq: at, ...ts(400, 3) });
    c.client('A', 0.04, '', { ack: (at + 2000) >>> 0, ...ts(4, 101) });
    const f = analyzeFrames(c.packets).flows[0];
    expect(f.analysis!.server.dataRetransmissionsBackInTime).toBe(1);
    expect(f.analysis!.server.unneededRetransmissions).toBe(0);
  });

  it('without timestamps an ACK proves nothing, however soon after the resend it comes', () => {
    const c = opened();
    const at = c.s.next;
    c.server('PA', 0.01, 'x'.repeat(1000)).server('PA', 0.31, 'x'.repeat(1000), { seq: at }).client('A', 0.3101, '', { ack: (at + 1000) >>> 0 });
    expect(analyzeConversation(c).flows[0].analysis!.server.unneededRetransmissions).toBe(0);
  });

  it.skipIf(!hasTool('tshark'))('lossy-transfer (Linux through netem loss): the resends at the receiver\'s last ACK were needed, as their ACKs echo their own timestamps in tshark\'s fields', () => {
    const fields = ['frame.number', 'ip.src', 'tcp.seq_raw', 'tcp.len', 'tcp.ack_raw', 'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr', 'tcp.analysis.retransmission'];
    const out = execFileSync('tshark', ['-r', sample('lossy-transfer'), '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const rows = out.split('\n').filter(Boolean).map((l) => l.split('\t'));
    const sender = rows.find((r) => r[7] !== '')![1];
    const mod = (x: number) => ((x % 2 ** 32) + 2 ** 32) % 2 ** 32;
    let lastAck: number | null = null;
    const judged: string[][] = [];
    for (const r of rows) {
      if (r[1] !== sender) lastAck = Number(r[4]);
      else if (r[7] !== '' && lastAck !== null && mod(Number(r[2]) - lastAck) === 0) judged.push(r);
    }
    const unneeded = judged.filter((r) => {
      const end = mod(Number(r[2]) + Number(r[3]));
      const ack = rows.find((a) => a[1] !== sender && Number(a[0]) > Number(r[0]) && mod(Number(a[4]) - end) < 2 ** 31)!;
      const d = mod(Number(r[5]) - Number(ack[6]));
      return d !== 0 && d < 2 ** 31;
    });
    const f = analyzeFile(sample('lossy-transfer')).flows[0];
    const side = f.server.startsWith(`${sender}:`) ? f.analysis!.server : f.analysis!.client;
    expect(judged.length).toBeGreaterThan(0);
    expect(unneeded).toEqual([]);
    expect(side.unneededRetransmissions).toBe(0);
    // Its D-SACKed resends (tail-loss probes above the last ACK) stay the D-SACKs' to prove.
    expect(side.dataRetransmissions).toBeGreaterThan(judged.length);
  });

  corpus2.it("nDPI ethereum: of the client's resends after reordering, #581 starts below the server's last ACK and its ACK echoes an older timestamp; #582, above it, is not judged, nor #588, after which the client moved its ACK number on (#589); nDPI alexa-app: a resend ACKed 37 ms after it, with no timestamps, is not unneeded", () => {
    const eth = analyzeFile(corpus2.path('ndpi/ethereum.pcap'));
    const f = eth.flows.find((x) => x.client === '192.168.1.184:56638')!;
    expect(f.analysis!.client.dataRetransmissions).toBe(3);
    // #588 repeats #582 but echoes a later TSval of the server's (#583): a packet of its own, not a copy.
    expect(f.clientSide.copies?.data ?? 0).toBe(0);
    // #581 alone: #588 starts below the server's last ACK (#585, 625) and #597, the first ACK
    // covering it, echoes an older TSval than its own, but the client's #589 (ACK 719) came between.
    expect(f.analysis!.client.unneededRetransmissions).toBe(1);
    const alexa = analyzeFile(corpus2.path('ndpi/alexa-app.pcapng'));
    const g = alexa.flows.find((x) => x.client === '172.16.42.216:45709')!;
    expect(g.analysis!.client.unneededRetransmissions).toBe(0);
    expect(verdict(g, 'retransmission').facts.cause).toBe('path-loss');
  });
});

describe('duplicate ACKs of everything the sender had sent', () => {
  // The server sends three segments; the client stays silent for 1.7 s while the server's timer
  // resends them, then acknowledges all three and sends `dups` duplicate ACKs `at` (the top: all
  // the server sent; or 1000 bytes short of it: a hole).
  const stalledClient = (dups: number, at: 'top' | 'hole' = 'top') => {
    const c = conv({ client: '10.7.0.1:53000', server: '10.7.0.2:443' }).handshake(0, 0.01);
    c.client('PA', 0.02, 'hello').server('A', 0.03);
    const first = c.s.next;
    for (let k = 0; k < 3; k++) c.server('PA', 0.1 + k * 0.001, 'x'.repeat(1000));
    for (const [k, t] of [[0, 0.4], [1, 0.9], [2, 1.5]]) c.server('PA', t, 'x'.repeat(1000), { seq: (first + k * 1000) >>> 0 });
    const ack = (first + (at === 'top' ? 3000 : 2000)) >>> 0;
    c.client('A', 1.8, '', { ack });
    for (let k = 0; k < dups; k++) c.client('A', 1.801 + k * 0.0001, '', { ack });
    return analyzeConversation(c).flows[0];
  };

  it('are no sign of a hole, and prove no resend unneeded either: a stack that sends each ACK twice makes them after a resend that filled a hole', () => {
    const f = stalledClient(3);
    expect(f.analysis!.client.duplicateAcksOfAll).toBe(3);
    const v = verdict(f, 'retransmission');
    expect(v.facts.cause).toBe('path-loss');
    expect(v.summary).toContain('packet loss on the path (segments or their ACKs were lost)');
  });

  it('counts a duplicate ACK the capture holds twice once: the second is a copy, counted among the copies', () => {
    const c = conv({ client: '10.7.0.1:53000', server: '10.7.0.2:443' }).handshake(0, 0.01);
    c.client('PA', 0.02, 'hello').server('A', 0.03);
    const first = c.s.next;
    c.server('PA', 0.1, 'x'.repeat(1000)).server('PA', 0.4, 'x'.repeat(1000), { seq: first });
    const top = (first + 1000) >>> 0;
    c.client('A', 0.5, '', { ack: top }).client('A', 0.501, '', { ack: top });
    const dupIpId = c.c.ipId - 1;
    c.client('A', 0.5011, '', { ack: top, ipId: dupIpId });
    const f = analyzeConversation(c).flows[0];
    expect(f.clientSide.copies).toMatchObject({ packets: 1, acks: 1 });
    expect(f.analysis!.client.duplicateAcksOfAll).toBe(1);
  });

  it('duplicate ACKs short of the top are a hole: loss, and they are the ones counted in its text', () => {
    const f = stalledClient(3, 'hole');
    expect(f.analysis!.client.duplicateAcksOfAll).toBe(0);
    const v = verdict(f, 'retransmission');
    expect(v.facts.cause).toBe('path-loss');
    expect(v.summary).toContain('sent 3 duplicate ACKs');
  });

  corpus2.it('nDPI alexa-app: flow 41, 13 duplicate ACKs of all the server sent, counts none as a hole; flow 35, the ACK sent twice after a resend that filled a hole, stays loss with its duplicate ACKs at the hole; flow 111 does not count the ACK of a FIN sent again', () => {
    // tshark: flow 41's #941-#949 and #954-#957 acknowledge 7933, the server's highest byte. Flow
    // 35: #733 and #734 at 289 show the hole, #735 fills it, #736 jumps to 2525 and #737 repeats it.
    const flows = analyzeFile(corpus2.path('ndpi/alexa-app.pcapng')).flows;
    const flow41 = flows.find((x) => x.id === 41)!;
    expect(flow41.analysis!.client.duplicateAcksOfAll).toBe(13);
    expect(verdict(flow41, 'retransmission').summary).toContain('packet loss on the path (segments or their ACKs were lost)');
    const flow35 = verdict(flows.find((x) => x.id === 35)!, 'retransmission');
    expect(flow35.facts.cause).toBe('path-loss');
    expect(flow35.summary).toMatch(/saw later segments and sent \d+ duplicate ACKs?\)/);
    // Flow 111: #2744 acknowledges the client's FIN #2741, sent again: everything it sent, no hole.
    expect(verdict(flows.find((x) => x.id === 111)!, 'retransmission').summary).toContain('the server saw later segments and sent 2 duplicate ACKs)');
  });
});

describe("PortGroups (the port-exhaustion rule's client/server pairs)", () => {
  const T = 1_700_000_000_000_000;

  it('sums a pair as the rule reads it: ports, lifetimes, SYN times and reuses', () => {
    const g = new PortGroups(10);
    const slot = g.add('10.0.0.1 10.0.0.2:80', 40000, T + 5);
    g.connection(slot, 40000, T + 5, 300);
    g.connection(slot, 40001, T + 1, 100);
    keepReuse(g, slot, 2_000, 17, true);
    g.connection(slot, 40000, T + 9, 200);
    keepReuse(g, slot, 1_000, 12, false);
    expect([...g.groups()]).toEqual([
      { clientIp: '10.0.0.1', server: '10.0.0.2:80', connections: 3, distinctPorts: 2, firstSyn: T + 1, lastSyn: T + 9, lifetimes: [300, 100, 200], reused: 2, reusedPackets: [12, 17], quickestReuse: 1_000, failedReused: 1 },
    ]);
  });

  it('holds a pair of one connection in its columns, with nothing cited', () => {
    const g = new PortGroups(10);
    g.connection(g.add('2001:db8::1 [2001:db8::2]:443', 50000, T), 50000, T, 42);
    expect([...g.groups()]).toEqual([
      { clientIp: '2001:db8::1', server: '[2001:db8::2]:443', connections: 1, distinctPorts: 1, firstSyn: T, lastSyn: T, lifetimes: [42], reused: 0, reusedPackets: [], quickestReuse: Infinity, failedReused: 0 },
    ]);
  });

  it('takes no pair past its bound, and forgets the oldest without reuse or enough connections first', () => {
    const g = new PortGroups(2_000);
    for (let i = 0; i < 2_000; i++) {
      const slot = g.add(`10.0.${i >> 8}.${i & 255} 10.9.9.9:80`, 40000, T + i);
      const connections = i % 100 === 0 ? 10 : 1;
      for (let k = 0; k < connections; k++) g.connection(slot, 40000 + k, T + i, 10);
      if (i % 100 === 50) keepReuse(g, slot, 5, i, false);
    }
    expect(g.add('10.1.1.1 10.9.9.9:80', 40000, T + 2_000)).toBe(-1);
    g.forgetOldest(10, 1_500);
    expect(g.size).toBe(1_499);
    const kept = [...g.groups()];
    // Pairs with 10 connections or a reuse are kept wherever they stand; of the others, the newest.
    expect(kept.filter((p) => p.connections === 10 || p.reused > 0)).toHaveLength(40);
    expect(kept.find((p) => p.clientIp === '10.0.0.1')).toBeUndefined();
    expect(kept[kept.length - 1].clientIp).toBe('10.0.7.207');
    // A freed slot starts over: nothing of the pair that held it before.
    const slot = g.add('10.1.1.1 10.9.9.9:80', 41000, T + 3_000);
    g.connection(slot, 41000, T + 3_000, 7);
    expect(g.find('10.1.1.1 10.9.9.9:80')).toBe(slot);
    expect([...g.groups()].pop()).toEqual({ clientIp: '10.1.1.1', server: '10.9.9.9:80', connections: 1, distinctPorts: 1, firstSyn: T + 3_000, lastSyn: T + 3_000, lifetimes: [7], reused: 0, reusedPackets: [], quickestReuse: Infinity, failedReused: 0 });
  });

  it('forgets quiet pairs without reuse, keeps those with one', () => {
    const g = new PortGroups(10);
    g.connection(g.add('10.0.0.1 10.0.0.9:80', 40000, T), 40000, T, 1);
    const reused = g.add('10.0.0.2 10.0.0.9:80', 40000, T);
    g.connection(reused, 40000, T, 1);
    keepReuse(g, reused, 3, 5, false);
    g.connection(g.add('10.0.0.3 10.0.0.9:80', 40000, T + 100), 40000, T + 100, 1);
    g.forgetQuiet(T + 50);
    expect([...g.groups()].map((p) => p.clientIp)).toEqual(['10.0.0.2', '10.0.0.3']);
  });
});

/** What the rule does with a reuse: counts it, and cites its SYN among the first 20. */
function keepReuse(g: PortGroups, slot: number, gap: number, synNo: number, failed: boolean): void {
  const cited = g.reuse(slot, gap, failed);
  cited.push(synNo);
  cited.sort((a, b) => a - b);
}
