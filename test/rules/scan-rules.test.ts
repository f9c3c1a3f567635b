// Scans: real nmap SYN scans (a fresh one between two namespaces, the bundled sample, and the
// Practical Packet Analysis traces) are reported as one scan each, with every probe marked as such
// instead of a refused connection or a SYN timeout; a client whose connections mostly succeed is
// never taken for a scanner.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile, streamFlows, type AnalysisResult, type FlowResult } from '../../src/pipeline.js';
import { ProbeLog } from '../../src/rules/probe-log.js';
import { TCP_FLAG } from '../../src/decode/view.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { canCapture, removeCaptureDirs, runCaptureScenario } from '../helpers/traffic.js';
import { wireSegments, type WireSegment } from '../helpers/wire.js';

const SAMPLE = fileURLToPath(new URL('../../samples/port-scan.pcap', import.meta.url));
const corpus = useCorpus();
const hasNmap = spawnSync('nmap', ['--version'], { stdio: 'ignore', timeout: 5_000 }).status === 0;

afterAll(removeCaptureDirs);

/**
 * What the packets alone say each probed port was, as nmap names it: open (the target answered
 * with a SYN-ACK from it), closed (an RST) or filtered (nothing). `scanner` is the sender of the
 * first SYN, as wireSegments writes senders.
 */
function portStatesOnTheWire(segments: WireSegment[]): Map<number, 'open' | 'closed' | 'filtered'> {
  const firstSyn = segments.find((s) => s.flags === TCP_FLAG.SYN)!;
  const scanner = firstSyn.sender.slice(0, firstSyn.sender.lastIndexOf(':') + 1);
  const states = new Map<number, 'open' | 'closed' | 'filtered'>();
  for (const s of segments) {
    const fromTarget = !s.sender.startsWith(scanner);
    const synAck = (s.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === (TCP_FLAG.SYN | TCP_FLAG.ACK);
    if (!fromTarget && (s.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN && !states.has(s.dstPort)) states.set(s.dstPort, 'filtered');
    if (fromTarget && synAck) states.set(s.srcPort, 'open');
    if (fromTarget && s.flags & TCP_FLAG.RST && states.get(s.srcPort) !== 'open') states.set(s.srcPort, 'closed');
  }
  return states;
}

/** One port scan in `result`, matching the packets port by port, with every flow one of its probes. */
function expectOneScanAsOnTheWire(result: AnalysisResult, file: string): { facts: Record<string, unknown>; summary: string } {
  const scans = result.verdicts.filter((v) => v.code === 'port-scan' || v.code === 'address-scan');
  expect(scans).toHaveLength(1);
  const scan = scans[0]!;
  const states = portStatesOnTheWire(wireSegments(file));
  const count = (state: string) => [...states.values()].filter((x) => x === state).length;
  const open = [...states].filter(([, st]) => st === 'open').map(([p]) => p).sort((a, b) => a - b);
  expect(scan.facts).toMatchObject({ kind: 'port-scan', probed: states.size, open: count('open'), closed: count('closed'), filtered: count('filtered'), openTargets: open });
  // Every flow is a probe, said as such and nothing else: no refused, no syn-timeout.
  for (const f of result.flows) {
    expect(f.verdicts.map((v) => v.code)).toEqual(['scan-probe']);
    const v = f.verdicts[0]!;
    expect(v.severity).toBe('info');
    expect(v.facts.state === 'filtered' || v.facts.state === states.get(f.serverPort)).toBe(true);
  }
  return scan;
}

describe('port scans made by nmap', () => {
  it('the bundled sample: nmap -sS against 200 ports, 3 open, 50 dropped by iptables', () => {
    const result = analyzeFile(SAMPLE);
    const scan = expectOneScanAsOnTheWire(result, SAMPLE);
    expect(scan.facts).toMatchObject({ probed: 200, open: 3, filtered: 50, openTargets: [22, 80, 143] });
    expect(scan.summary).toMatch(/^[\d.]+ probed 200 ports of [\d.]+ in .* 3 open \(22, 80, 143\), 147 closed \(RST\), 50 filtered \(no answer\); raw SYN probes from 2 source ports, no handshake completed \(a SYN scan, as nmap -sS sends\)$/);
  });

  it('streamed, the probes get the same verdicts as when every flow is kept', () => {
    const kept = analyzeFile(SAMPLE);
    const streamed: FlowResult[] = [];
    const result = streamFlows(SAMPLE, (f) => streamed.push(f));
    expect(streamed.sort((a, b) => a.id - b.id).map((f) => f.verdicts)).toEqual(kept.flows.map((f) => f.verdicts));
    expect(result.verdicts).toEqual(kept.verdicts);
  });

  corpus.it('Practical Packet Analysis synscan.pcap: 1,000 ports, retries from a second source port', () => {
    const file = corpus.path('ppa/ppa2e/synscan.pcap');
    const scan = expectOneScanAsOnTheWire(analyzeFile(file), file);
    expect(scan.facts).toMatchObject({ scanner: '172.16.0.8', target: '64.13.134.52', probed: 1000, probes: 1994, openTargets: [22, 53, 80] });
    expect(scan.summary).toContain('(a SYN scan, as nmap -sS sends)');
  });

  corpus.it('Practical Packet Analysis portscan.pcap: 29 unanswered probes, 10 per second from random source ports', () => {
    const file = corpus.path('ppa/ppa1e/portscan.pcap');
    const scan = expectOneScanAsOnTheWire(analyzeFile(file), file);
    expect(scan.facts).toMatchObject({ probed: 29, open: 0, closed: 0, filtered: 29, sourcePorts: 29 });
    expect(scan.summary).not.toContain('SYN scan');
  });

  it.skipIf(!canCapture() || !hasNmap)('a fresh nmap -sS scan between two namespaces', async () => {
    const run = await runCaptureScenario('port-scan');
    const scan = expectOneScanAsOnTheWire(analyzeFile(run.file), run.file);
    // The counts are checked against the packets above; a loaded machine's tcpdump can miss a few
    // probes, so only what nmap reported is required here.
    expect(scan.facts).toMatchObject({ scanner: run.expect.scanner, target: run.expect.target, openTargets: run.expect.openPorts });
    expect(scan.facts.probed).toBeLessThanOrEqual(200);
    expect(scan.summary).toContain('(a SYN scan, as nmap -sS sends)');
  });

  it.skipIf(!canCapture() || !hasNmap)('a fresh nmap -sT connect scan: open ports connected to and dropped', async () => {
    const run = await runCaptureScenario('port-scan', { style: 'connect' });
    const result = analyzeFile(run.file);
    const scan = expectOneScanAsOnTheWire(result, run.file);
    expect(scan.facts).toMatchObject({ openTargets: run.expect.openPorts });
    expect(scan.facts.probed).toBeLessThanOrEqual(200);
    expect(scan.summary).toContain('every open port connected to and dropped at once (a connect scan, as nmap -sT makes)');
    const open = result.flows.filter((f) => f.verdicts[0]!.facts.state === 'open');
    expect(open.length).toBeGreaterThanOrEqual(3);
    for (const f of open) expect(f.verdicts[0]!.summary).toMatch(/open \(SYN-ACK #\d+, handshake completed #\d+ and reset by the scanner #\d+\)$/);
  });
});

describe('what is not a scan', () => {
  it('a client whose connections to many ports of one host succeed keeps its one refused connection', () => {
    // Passive FTP style: 20 data connections to 20 server ports, all answered; one port refused.
    const ok = Array.from({ length: 20 }, (_, i) => conv({ client: `10.0.0.1:${41000 + i}`, server: `10.0.0.2:${50000 + i}` }).handshake(i * 0.1).client('PA', i * 0.1 + 0.002, 'LIST\r\n'));
    const refused = conv({ client: '10.0.0.1:42000', server: '10.0.0.2:50100' }).client('S', 2.5).server('RA', 2.5001);
    const r = analyzeConversation(...ok, refused);
    const f = r.flows.find((x) => x.serverPort === 50100)!;
    expect(f.verdicts.map((v) => v.code)).toEqual(['refused']);
    expect(r.verdicts.map((v) => v.code)).not.toContain('port-scan');
  });

  it('a client that reaches 30 hosts on one port keeps its one SYN timeout', () => {
    const ok = Array.from({ length: 30 }, (_, i) => conv({ client: `10.0.0.1:${41000 + i}`, server: `10.0.1.${i + 1}:443` }).handshake(i * 0.1));
    const lost = conv({ client: '10.0.0.1:42000', server: '10.0.2.1:443' }).client('S', 3).client('S', 4, '', { seq: 0xffff_fff0 }).client('S', 6, '', { seq: 0xffff_fff0 });
    const r = analyzeConversation(...ok, lost);
    const f = r.flows.find((x) => x.serverIp === '10.0.2.1')!;
    expect(f.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
    expect(r.verdicts.map((v) => v.code)).not.toContain('address-scan');
  });

  it('14 refused ports of one host are 14 refused connections, 15 are a port scan', () => {
    const probes = (n: number) => Array.from({ length: n }, (_, i) => conv({ client: `10.0.0.1:${41000 + i}`, server: `10.0.0.2:${1000 + i}` }).client('S', i * 0.01).server('RA', i * 0.01 + 0.0001));
    const below = analyzeConversation(...probes(14));
    expect(below.flows.every((f) => f.verdicts.map((v) => v.code).join() === 'refused')).toBe(true);
    expect(below.verdicts).toEqual([]);
    const at = analyzeConversation(...probes(15));
    expect(at.flows.every((f) => f.verdicts.map((v) => v.code).join() === 'scan-probe')).toBe(true);
    expect(at.verdicts.map((v) => [v.code, v.facts.probed, v.facts.closed])).toEqual([['port-scan', 15, 15]]);
  });
});

describe('address sweeps', () => {
  it('a client probing port 22 on 40 hosts: a sweep, with the answering hosts listed', () => {
    const hosts = Array.from({ length: 40 }, (_, i) => `10.0.3.${i + 1}`);
    const probes = hosts.map((h, i) => {
      const c = conv({ client: `10.0.0.9:${45000 + i}`, server: `${h}:22` }).client('S', i * 0.05);
      if (i % 10 === 0) c.server('SA', i * 0.05 + 0.001).client('R', i * 0.05 + 0.002, '', { seq: 0 });
      else if (i % 2 === 0) c.server('RA', i * 0.05 + 0.001);
      return c;
    });
    const r = analyzeConversation(...probes);
    const [sweep] = r.verdicts;
    expect(r.verdicts).toHaveLength(1);
    expect(sweep!.code).toBe('address-scan');
    expect(sweep!.facts).toMatchObject({ scanner: '10.0.0.9', target: '22', probed: 40, open: 4, closed: 16, filtered: 20, openTargets: ['10.0.3.1', '10.0.3.11', '10.0.3.21', '10.0.3.31'] });
    expect(sweep!.summary).toMatch(/^10\.0\.0\.9 probed port 22 on 40 hosts in 1\.95 s \(40 probes\): 4 open \(10\.0\.3\.1, 10\.0\.3\.11, 10\.0\.3\.21, 10\.0\.3\.31\), 16 closed \(RST\), 20 filtered \(no answer\)/);
    const byHost = new Map(r.flows.map((f) => [f.serverIp, f.verdicts]));
    expect(byHost.get('10.0.3.2')!.map((v) => v.summary)).toEqual([expect.stringMatching(/^probe in a sweep of port 22 across hosts by 10\.0\.0\.9 \(\d+\+? hosts probed\): 10\.0\.3\.2 filtered \(no answer to 1 SYN\)$/)]);
    expect(byHost.get('10.0.3.1')![0]!.summary).toMatch(/10\.0\.3\.1 open \(SYN-ACK #\d+, reset by the scanner #\d+\)$/);
  });
});

describe('ProbeLog bounds', () => {
  it('tracks at most 16,384 clients, forgetting those quiet for 5 minutes first', () => {
    const log = new ProbeLog();
    const T0 = 1_700_000_000_000_000;
    for (let i = 0; i < 20_000; i++) log.attempt(`10.1.${i >> 8}.${i & 255}`, '10.0.0.2', 80, T0 + i * 1_000);
    expect(log.size).toBe(16_384);
    // Six minutes later the old clients are quiet: a new one evicts them instead of being refused.
    log.attempt('10.9.9.9', '10.0.0.2', 80, T0 + 360_000_000);
    expect(log.size).toBe(1);
    for (let p = 0; p < 15; p++) log.attempt('10.9.9.9', '10.0.0.2', 1000 + p, T0 + 360_000_000 + p);
    expect(log.scanOf('10.9.9.9', '10.0.0.2', 1000, '10.9.9.9', '10.0.0.2')).toMatchObject({ kind: 'port-scan', targets: 16 });
  });

  it('starts a tally over after 5 minutes of quiet: a slow trickle of probes is no scan', () => {
    const log = new ProbeLog();
    const T0 = 1_700_000_000_000_000;
    for (let p = 0; p < 20; p++) log.attempt('10.0.0.1', '10.0.0.2', 1000 + p, T0 + p * 301_000_000);
    expect(log.scanOf('10.0.0.1', '10.0.0.2', 1000, '10.0.0.1', '10.0.0.2')).toBeNull();
  });

  it("gives a forgotten client's tallies back: clients that come and go hold no more tallies than those tracked", () => {
    const log = new ProbeLog();
    const T0 = 1_700_000_000_000_000;
    // Each client connects to port 80 of four hosts: four host tallies and one port tally.
    const visit = (client: string, at: number) => {
      for (let h = 0; h < 4; h++) log.attempt(client, `198.18.0.${h + 1}`, 80, at + h);
    };
    for (let i = 0; i < 16_384; i++) visit(`10.1.${i >> 8}.${i & 255}`, T0 + i * 1_000);
    expect(log.tallies).toBe(5 * 16_384);
    // Six minutes later as many new clients: the quiet ones are forgotten with their tallies.
    for (let i = 0; i < 16_384; i++) visit(`10.2.${i >> 8}.${i & 255}`, T0 + 360_000_000 + i * 1_000);
    expect(log.size).toBe(16_384);
    expect(log.tallies).toBe(5 * 16_384);
    // A client quiet for the window starts over with one target: its tallies go back too.
    log.attempt('10.2.0.0', '198.18.0.9', 443, T0 + 720_000_000);
    expect(log.tallies).toBe(5 * 16_383);
  });

  it('a client at its bound of 1,024 hosts tallies no more until quiet ones are swept out', () => {
    const log = new ProbeLog();
    const T0 = 1_700_000_000_000_000;
    for (let h = 0; h < 1_024; h++) log.attempt(0x0a000001, 0xc6120000 + h, 80, T0 + h);
    expect(log.tallies).toBe(1_024 + 1);
    log.attempt(0x0a000001, 0xc6130000, 80, T0 + 2_000); // past the bound, all recent: not tallied
    expect(log.tallies).toBe(1_024 + 1);
    // The client stays busy with one host for 400 s: the other 1,023 go quiet for longer than the window.
    for (let t = 100; t <= 400; t += 100) log.attempt(0x0a000001, 0xc6120000, 80, T0 + t * 1_000_000);
    log.attempt(0x0a000001, 0xc6130001, 80, T0 + 400_000_001);
    expect(log.tallies).toBe(3); // two hosts and the port
    // The port's tally was never quiet: 1,026 unanswered hosts on port 80 are still a sweep.
    expect(log.scanOf(0x0a000001, 0xc6130001, 80, 'A', 'B')).toMatchObject({ kind: 'address-scan', target: '80', targets: 64, attempts: 1_030 });
  });

  it('past its tallies over all clients, makes none until clients are forgotten, and the scans already tallied go on', () => {
    const log = new ProbeLog({ tallies: 100 });
    const T0 = 1_700_000_000_000_000;
    // A scanner's 15 ports of one host: a host tally and 15 port tallies.
    for (let p = 0; p < 15; p++) log.attempt('10.0.0.9', '10.0.0.2', 1000 + p, T0 + p);
    // Then 100 clients each connecting to two hosts: three tallies each, until none is left.
    for (let i = 0; i < 100; i++) for (const h of ['198.18.0.1', '198.18.0.2']) log.attempt(`10.1.0.${i}`, h, 443, T0 + 1_000 + i * 10);
    expect(log.tallies).toBe(100);
    // The scanner's host tally still counts its next ports, though their own tallies are not made.
    for (let p = 15; p < 20; p++) log.attempt('10.0.0.9', '10.0.0.2', 1000 + p, T0 + 5_000 + p);
    expect(log.tallies).toBe(100);
    expect(log.scanOf('10.0.0.9', '10.0.0.2', 1000, 'S', 'H')).toMatchObject({ kind: 'port-scan', targets: 20, attempts: 20 });
    // Six minutes later the quiet clients are forgotten as new ones come: their tallies come back.
    for (let i = 0; i < 16_384; i++) log.attempt(`10.2.${i >> 8}.${i & 255}`, '198.18.0.3', 80, T0 + 360_000_000 + i);
    log.attempt('10.2.0.0', '198.18.0.4', 80, T0 + 361_000_000);
    expect(log.tallies).toBe(3);
  });

  it('past its targets over all tallies, counts a tally\'s attempts but no new target', () => {
    const log = new ProbeLog({ restTargets: 30 });
    const T0 = 1_700_000_000_000_000;
    for (let p = 0; p < 40; p++) log.attempt('10.0.0.9', '10.0.0.2', 1000 + p, T0 + p);
    // The host tally's first port, then 30 more: 31 told apart, 40 attempts.
    expect(log.scanOf('10.0.0.9', '10.0.0.2', 1000, 'S', 'H')).toMatchObject({ kind: 'port-scan', targets: 31, attempts: 40 });
    // Quiet for the window, the client starts over: its targets are given back, and a new scan tells its ports apart.
    for (let p = 0; p < 20; p++) log.attempt('10.0.0.9', '10.0.0.3', 2000 + p, T0 + 301_000_000 + p);
    expect(log.scanOf('10.0.0.9', '10.0.0.3', 2000, 'S', 'H')).toMatchObject({ kind: 'port-scan', targets: 20, attempts: 20 });
  });

  it('tallies IPv6 hosts as IPv4 ones: a port scan of one, a sweep of one port across many', () => {
    const log = new ProbeLog();
    const T0 = 1_700_000_000_000_000;
    for (let p = 0; p < 15; p++) log.attempt('2001:db8::1', '2001:db8::2', 1000 + p, T0 + p);
    for (let h = 0; h < 25; h++) log.attempt('2001:db8::7', `2001:db8:0:${h}::1`, 22, T0 + h);
    log.attempt('2001:db8::7', '2001:db8:0:3::1', 22, T0 + 30); // a host again: still 25
    expect(log.scanOf('2001:db8::1', '2001:db8::2', 1000, 'A', 'B')).toMatchObject({ kind: 'port-scan', targets: 15, attempts: 15 });
    expect(log.scanOf('2001:db8::7', '2001:db8:0:5::1', 22, 'C', 'D')).toMatchObject({ kind: 'address-scan', targets: 25, attempts: 26 });
    expect(log.scanOf('2001:db8::1', '2001:db8::3', 1000, 'A', 'E')).toBeNull();
  });
});
