// Problem groups: flows' warnings and errors gathered by code and endpoint, capture-level verdicts
// as groups of their own, in a fixed order whatever order the flows ended in.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { streamFlows, type AnalysisResult, type FlowResult } from '../../src/pipeline.js';
import { compareGroups, groupProblems, MAX_GROUP_FLOW_IDS, ProblemGrouper, type ProblemGroup } from '../../src/report/groups.js';
import { SEVERITY, type Verdict } from '../../src/rules/verdict.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();
const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

/** The capture judged as `tcpwhy analyze` judges it: each flow as it ends. */
function judged(path: string): { result: AnalysisResult; flows: FlowResult[] } {
  const flows: FlowResult[] = [];
  const result = streamFlows(path, (f) => flows.push(f), { keepEvents: false });
  return { result, flows };
}

const problemCodes = (f: FlowResult) => f.verdicts.filter((v) => v.severity !== 'info').map((v) => v.code);

describe('problem groups of sample captures', () => {
  it('one refused connection is one group about its server, with the hint of its verdict', () => {
    const { result, flows } = judged(sample('refused.pcap'));
    const groups = groupProblems(flows, result.verdicts);
    expect(groups).toHaveLength(1);
    const [g] = groups;
    const v = flows[0].verdicts.find((x) => x.code === 'refused')!;
    expect(g).toMatchObject({ code: 'refused', severity: 'error', role: 'server', endpoint: '127.0.0.1:22057', flows: 1, flowIds: [1], hint: v.hint, hintFlow: null, verdict: null, also: [] });
    expect(g.title).toBe('1 connection to 127.0.0.1:22057 refused (nothing listens there)');
    expect([g.firstTime, g.lastTime]).toEqual([flows[0].start, flows[0].end]);
  });

  it('healthy flows make no group', () => {
    for (const name of ['http-clean.pcap', 'nginx-ws-good.pcap', 'tls-ok.pcap', 'ws-healthy.pcap']) {
      const { result, flows } = judged(sample(name));
      expect(flows.every((f) => problemCodes(f).length === 0), name).toBe(true);
      expect(groupProblems(flows, result.verdicts), name).toEqual([]);
    }
  });

  it('codes said of the same flows are one group led by the most severe (half-open with its SYN-ACK retries)', () => {
    const { result, flows } = judged(sample('half-open.pcap'));
    expect(problemCodes(flows[0]).sort()).toEqual(['half-open', 'synack-retry']);
    const groups = groupProblems(flows, result.verdicts);
    expect(groups).toHaveLength(1);
    expect(groups[0].code).toBe('half-open');
    expect(groups[0].also.map((a) => a.code)).toEqual(['synack-retry']);
    expect(groups[0].also[0].hint).toBe(flows[0].verdicts.find((v) => v.code === 'synack-retry')!.hint);
  });

  it('a listener that drops SYNs: the timed-out flows, the capture-level overflow and the SYN-ACK retries, in severity then size order', () => {
    const { result, flows } = judged(sample('listen-overflow.pcap'));
    const groups = groupProblems(flows, result.verdicts);
    expect(groups.map((g) => [g.severity, g.code, g.role, g.endpoint, g.flows])).toEqual([
      ['error', 'syn-timeout', 'server', '10.231.233.222:8080', 4],
      ['warning', 'listen-queue-overflow', 'listener', '10.231.233.222:8080', 4],
      ['warning', 'synack-retry', 'server', '10.231.233.222:8080', 2],
    ]);
    const timedOut = flows.filter((f) => problemCodes(f).includes('syn-timeout')).map((f) => f.id).sort((a, b) => a - b);
    expect(groups[0].flowIds).toEqual(timedOut);
    const overflow = result.verdicts.find((v) => v.code === 'listen-queue-overflow')!;
    expect(groups[1]).toMatchObject({ title: overflow.summary, hint: overflow.hint, verdict: overflow, firstTime: null, flowIds: [] });
  });

  it('port reuse is said of the client that cycles its ports; the capture-level exhaustion of the server', () => {
    const { result, flows } = judged(sample('port-reuse.pcap'));
    const groups = groupProblems(flows, result.verdicts);
    const reuse = groups.find((g) => g.code === 'port-reuse')!;
    const reused = flows.filter((f) => problemCodes(f).includes('port-reuse'));
    expect(reuse).toMatchObject({ role: 'client', endpoint: '10.231.184.105', flows: reused.length });
    expect(reuse.title).toBe(`${reused.length} connections from 10.231.184.105 reused a 4-tuple within TIME_WAIT`);
    expect(reuse.flowIds).toEqual(reused.map((f) => f.id).sort((a, b) => a - b).slice(0, MAX_GROUP_FLOW_IDS));
    expect(groups.find((g) => g.code === 'port-exhaustion')).toMatchObject({ role: 'server', endpoint: '10.231.184.106:8080', flows: 40 });
  });

  it('titles the waits in words: a slow request is the client\'s, said of one connection in the singular', () => {
    const titles = (name: string) => {
      const { result, flows } = judged(sample(name));
      return groupProblems(flows, result.verdicts).map((g) => g.title.replace(/ \S+:\d+ | 127\.0\.0\.1 /, ' HOST '));
    };
    expect(titles('slow-request-body.pcap')).toEqual(['1 connection from HOST was slow to send the request']);
    expect(titles('expect-unanswered.pcap')).toEqual(['1 connection to HOST waited for a 100 Continue that never came']);
    expect(titles('ws-ping-unanswered.pcap')).toEqual(['1 connection to HOST ended a WebSocket after a ping went unanswered']);
    expect(titles('ws-close-unanswered.pcap')).toEqual(['1 connection to HOST had a WebSocket close frame go unanswered']);
  });

  it("a port scan's probes are its group: counted, timed and cited there, not as failures", () => {
    const { result, flows } = judged(sample('port-scan.pcap'));
    const groups = groupProblems(flows, result.verdicts);
    expect(groups).toHaveLength(1);
    const probes = flows.filter((f) => f.verdicts.some((v) => v.code === 'scan-probe'));
    expect(groups[0]).toMatchObject({ code: 'port-scan', role: 'host', endpoint: '10.231.49.234', flows: probes.length });
    expect(groups[0].firstTime).toBe(Math.min(...probes.map((f) => f.start)));
    expect(groups[0].lastTime).toBe(Math.max(...probes.map((f) => f.end)));
    expect(groups[0].flowIds).toEqual([1, 2, 3, 4, 5]);
  });

  it('does not depend on the order flows end in, and keeps only the lowest flow ids', () => {
    const { result, flows } = judged(sample('port-reuse.pcap'));
    const forward = groupProblems(flows, result.verdicts);
    const backward = groupProblems([...flows].reverse(), result.verdicts);
    const shuffled = groupProblems(flows.map((f, i) => flows[(i * 7) % flows.length]), result.verdicts);
    expect(backward).toEqual(forward);
    expect(shuffled).toEqual(forward);
    for (const g of forward) expect(g.flowIds.length).toBeLessThanOrEqual(MAX_GROUP_FLOW_IDS);
  });

  it('reads capture-loss first as a warning, and in its place by severity as a line of information', () => {
    const verdict = (severity: Verdict['severity']): Verdict => ({ code: 'capture-loss', severity, summary: 'the capture missed bytes', packets: [], facts: {}, hint: '' });
    const errors = judged(sample('refused.pcap')).flows;
    for (const [severity, first] of [['warning', 'capture-loss'], ['info', 'refused']] as const) {
      const groups = groupProblems(errors, [verdict(severity)]);
      expect(groups.map((g) => g.code)).toEqual(first === 'capture-loss' ? ['capture-loss', 'refused'] : ['refused', 'capture-loss']);
    }
  });

  it('orders groups by severity, then size, then code, then endpoint', () => {
    // Flows of several captures together, renumbered so their ids stay distinct.
    const all: FlowResult[] = [];
    const verdicts = [];
    for (const name of ['listen-overflow.pcap', 'nginx-504.pcap', 'nginx-ws-bad.pcap', 'port-reuse.pcap', 'refused.pcap', 'zero-window.pcap']) {
      const { result, flows } = judged(sample(name));
      for (const f of flows) all.push({ ...f, id: all.length + 1 });
      verdicts.push(...result.verdicts);
    }
    const groups = groupProblems(all, verdicts);
    expect(groups.length).toBeGreaterThan(8);
    for (let i = 1; i < groups.length; i++) {
      const [a, b] = [groups[i - 1], groups[i]];
      const key = (g: ProblemGroup) => [-SEVERITY[g.severity], -g.flows, g.code, g.endpoint];
      expect(compareGroups(a, b), `${key(a)} before ${key(b)}`).toBeLessThan(0);
      const [ka, kb] = [key(a), key(b)];
      const first = ka.findIndex((x, j) => x !== kb[j]);
      expect(first, `${ka} vs ${kb}`).toBeGreaterThanOrEqual(0);
      expect(ka[first] < kb[first], `${ka} before ${kb}`).toBe(true);
    }
    // The same code at two endpoints is two groups.
    const finAfter101 = groups.filter((g) => g.code === 'ws-fin-after-101').map((g) => g.endpoint);
    expect(finAfter101).toEqual(['127.0.0.1:27100']);
    expect(groups.filter((g) => g.code === 'ws-upgrade-http10').map((g) => [g.endpoint, g.also.map((a) => a.code)])).toEqual([['127.0.0.1:20004', ['ws-fin-after-101']]]);
  });

  it('grouping as flows come (ProblemGrouper) gives what groupProblems gives', () => {
    const { result, flows } = judged(sample('nginx-504.pcap'));
    const grouper = new ProblemGrouper();
    for (const f of flows) grouper.add(f);
    expect(grouper.groups(result.verdicts)).toEqual(groupProblems(flows, result.verdicts));
  });
});

corpus.describe('problem groups of public captures', () => {
  it('http_espn_fail: nine connections timed out to one unroutable server are one group', () => {
    const { result, flows } = judged(corpus.path('ppa/ppa3/http_espn_fail.pcapng'));
    const failed = flows.filter((f) => problemCodes(f).includes('syn-timeout'));
    expect(failed).toHaveLength(9);
    const groups = groupProblems(flows, result.verdicts);
    const about = groups.filter((g) => g.endpoint === '203.0.113.94:80');
    expect(about).toHaveLength(1);
    const [g] = about;
    expect(g).toMatchObject({ code: 'syn-timeout', severity: 'error', flows: 9 });
    expect(g.title).toBe('9 connections to 203.0.113.94:80 timed out (SYN never answered)');
    expect(g.flowIds).toEqual(failed.map((f) => f.id).sort((a, b) => a - b).slice(0, MAX_GROUP_FLOW_IDS));
    expect(g.also.map((a) => a.code)).toEqual(['unroutable-address']);
    expect(g.firstTime).toBe(Math.min(...failed.map((f) => f.start)));
    expect(g.lastTime).toBe(Math.max(...failed.map((f) => f.end)));
    const lowest = failed.reduce((a, b) => (a.id < b.id ? a : b));
    expect(g.hint).toBe(lowest.verdicts.find((v) => v.code === 'syn-timeout')!.hint);
    expect(groups[0]).toBe(g);
  });

  it('ppa1e evilprogram: a group whose flows were given different hints says whose hint it shows', () => {
    const { result, flows } = judged(corpus.path('ppa/ppa1e/evilprogram.pcap'));
    const groups = groupProblems(flows, result.verdicts);
    // Flow 64 went idle and the server closed it; flow 93 is the client's RST on it 8,820 s later.
    const idle = groups.find((g) => g.code === 'idle-close' && g.endpoint === '209.123.150.14:80')!;
    expect(idle.flowIds).toEqual([64, 93]);
    const hints = idle.flowIds.map((id) => flows.find((f) => f.id === id)!.verdicts.find((v) => v.code === 'idle-close')!.hint);
    expect(hints[0]).not.toBe(hints[1]);
    expect(idle).toMatchObject({ hint: hints[0], hintFlow: 64 });
    for (const g of groups.filter((x) => x.flows === 1)) expect(g.hintFlow).toBeNull();
  });

  it('ppa3 synscan: one port-scan group holding every probe, first', () => {
    const { result, flows } = judged(corpus.path('ppa/ppa3/synscan.pcapng'));
    const groups = groupProblems(flows, result.verdicts);
    const probes = flows.filter((f) => f.verdicts.some((v) => v.code === 'scan-probe'));
    expect(groups[0]).toMatchObject({ code: 'port-scan', endpoint: '64.13.134.52', flows: probes.length });
    expect(probes.length).toBeGreaterThan(1900);
  });
});

describe('ProblemGrouper at many endpoints', () => {
  it('keeps per group the counts, times, lowest ids, worst severity and hint that the flows give, past its first columns', () => {
    // 4,000 flows with problems at 700 servers and 300 clients (slow-client), ids shuffled.
    const T = 1_700_000_000_000_000;
    const flows = Array.from({ length: 4_000 }, (_, i) => {
      const id = ((i * 7919) % 4_000) + 1;
      const server = `198.18.${(id % 700) >> 8}.${id % 700 & 255}:80`;
      const clientIp = `10.16.0.${id % 300}`;
      const verdicts: Verdict[] = [
        { code: 'syn-timeout', severity: id % 9 === 0 ? 'error' : 'warning', summary: 's', packets: [], facts: {}, hint: id % 5 === 0 ? `retry ${id}` : 'retry' },
        { code: 'slow-client', severity: 'warning', summary: 's', packets: [], facts: {}, hint: 'slow' },
      ];
      return { id, clientIp, serverIp: server.split(':')[0], server, start: T + id * 10, end: T + id * 10 + (id % 13), verdicts };
    });
    const grouper = new ProblemGrouper();
    for (const f of flows) grouper.add(f);
    const groups = grouper.groups([]);
    expect(groups).toHaveLength(1_000);
    for (const g of groups) {
      const mine = flows.filter((f) => (g.role === 'client' ? f.clientIp : f.server) === g.endpoint).sort((a, b) => a.id - b.id);
      const verdicts = mine.map((f) => f.verdicts.find((v) => v.code === g.code)!);
      const hints = new Set(verdicts.map((v) => v.hint));
      expect(g, g.key).toMatchObject({
        flows: mine.length,
        flowIds: mine.slice(0, MAX_GROUP_FLOW_IDS).map((f) => f.id),
        firstTime: Math.min(...mine.map((f) => f.start)),
        lastTime: Math.max(...mine.map((f) => f.end)),
        severity: verdicts.some((v) => v.severity === 'error') ? 'error' : 'warning',
        hint: verdicts[0].hint,
        hintFlow: hints.size > 1 ? mine[0].id : null,
      });
    }
  });
});

describe('groups of connections caught mid-stream', () => {
  /** A side that sends 500 bytes and then resends the next 500 five times, never acknowledged. */
  function stalled(client: string, server: string, withHandshake: boolean) {
    const c = conv({ client, server });
    let t = 0;
    if (withHandshake) {
      c.client('S', 0, '', { seq: 999 }).server('SA', 0.001, '', { seq: 8999, ack: 1000 });
      t = 0.002;
    }
    c.client('A', t, '', { seq: 1000, ack: 9000 }).server('PA', t + 0.01, 'x'.repeat(500), { seq: 9000, ack: 1000 }).client('A', t + 0.011, '', { seq: 1000, ack: 9500 });
    t += 0.02;
    c.server('PA', t, 'y'.repeat(500), { seq: 9500, ack: 1000 });
    for (let i = 0, rto = 0.3; i < 5; i++, rto *= 2) c.server('PA', (t += rto), 'y'.repeat(500), { seq: 9500, ack: 1000 });
    return c;
  }

  it('names both ends, not a server, of a group whose roles nothing proves', () => {
    const r = analyzeConversation(stalled('10.7.0.1:40001', '10.7.0.2:50002', false), stalled('10.7.0.3:40001', '10.7.0.4:50002', true));
    const titles = groupProblems(r.flows, r.verdicts).map((g) => g.title);
    expect(titles).toContain('1 connection between 10.7.0.1:40001 and 10.7.0.2:50002 retransmitted data');
    // With its handshake the server is known, and the group is at it.
    expect(titles).toContain('1 connection to 10.7.0.4:50002 retransmitted data');
  });
});
