// DNS through the whole pipeline: captures written with the pcap writer (lookups never answered,
// NXDOMAIN, SERVFAIL, slow answers, broken messages, connections to addresses from answers), a real
// resolver's failed lookup (samples/dns-refused.pcap) and the public corpus captures that hold DNS,
// each checked against tshark's reading of the same packets.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { analyzeFile, type AnalysisResult } from '../../src/pipeline.js';
import { renderJson } from '../../src/report/json.js';
import { DNS_LOG_LIMITS, DNS_READ, DnsLog } from '../../src/rules/dns-log.js';
import type { WriterPacket } from '../../src/capture/writer.js';
import { DEFAULT_START_MICROS, toPcap, writeTempCapture } from '../helpers/capture.js';
import { useCorpus } from '../helpers/corpus.js';
import { dnsQuery, dnsResponse, withTcpLength, type DnsAnswerSpec, type DnsSpec } from '../helpers/dns.js';
import { concat, icmpErrorFrame, tcpFrame, toRecord, udpFrame } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';
import { canRunScenario, removeCaptureDirs, runCaptureScenario } from '../helpers/traffic.js';

const CLIENT = '10.0.0.5';
const RESOLVER = '192.0.2.53';
const RESOLVER2 = '192.0.2.54';
const T0 = DEFAULT_START_MICROS;
const S = 1_000_000;

type At = { t: number; bytes: Uint8Array };
const query = (t: number, spec: DnsSpec, server = RESOLVER, sport = 40000): At => ({ t, bytes: udpFrame({ src: CLIENT, dst: server, sport, dport: 53, payload: dnsQuery(spec) }).bytes });
const answer = (t: number, spec: DnsSpec, server = RESOLVER, dport = 40000): At => ({ t, bytes: udpFrame({ src: server, dst: CLIENT, sport: 53, dport, payload: dnsResponse(spec) }).bytes });
const syn = (t: number, dst: string, sport = 50000): At => ({ t, bytes: tcpFrame({ src: CLIENT, dst, sport, dport: 443, flags: 'S', seq: 1000 }).bytes });
/** A packet that only moves the capture's end (an NTP datagram). */
const tick = (t: number): At => ({ t, bytes: udpFrame({ src: CLIENT, dst: '192.0.2.123', sport: 123, dport: 123, payload: new Uint8Array(48) }).bytes });

let fileNo = 0;
function write(packets: At[]): string {
  const frames: WriterPacket[] = packets.map((p) => ({ tsMicros: T0 + p.t, data: p.bytes }));
  return writeTempCapture(toPcap(frames), `dns-${++fileNo}.pcap`);
}

function analyze(packets: At[]): { file: string; result: AnalysisResult } {
  const file = write(packets);
  return { file, result: analyzeFile(file) };
}

const verdict = (r: AnalysisResult, code: string) => r.verdicts.find((v) => v.code === code);
const dnsCodes = (r: AnalysisResult) => r.verdicts.filter((v) => v.code.startsWith('dns-')).map((v) => v.code);

/** tshark's DNS rows: frame, id, name, rcode, addresses (the fields the brief's check uses). */
function tsharkDns(file: string): string[][] {
  const out = execFileSync('tshark', ['-r', file, '-n', '-Y', 'dns', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'dns.id', '-e', 'dns.qry.name', '-e', 'dns.flags.rcode', '-e', 'dns.a', '-e', 'dns.flags.response'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.trim() === '' ? [] : out.trim().split('\n').map((l) => l.split('|'));
}

function accounted(r: AnalysisResult): number {
  const c = r.capture;
  return c.decoded + Object.values(c.skipped).reduce((a, b) => a + b, 0) + c.malformed;
}

describe('capture-level DNS verdicts', () => {
  it('dns-no-answer: a query never answered, retried twice over two servers, is an error naming them', () => {
    const spec = { id: 0x4242, name: 'www.example.com' };
    const { file, result } = analyze([query(0, spec, RESOLVER), query(1 * S, spec, RESOLVER2), query(2 * S, spec, RESOLVER), tick(5 * S)]);
    const v = verdict(result, 'dns-no-answer')!;
    expect(v.severity).toBe('error');
    expect(v.summary).toBe(
      'DNS lookup never answered: www.example.com (A) from 10.0.0.5, 3 queries #1..#3 to 192.0.2.53, 192.0.2.54 over 2.00 s, no answer in the 5.00 s the capture went on',
    );
    expect(v.facts.lookups).toEqual([expect.objectContaining({ queries: 3, retries: 2, servers: [RESOLVER, RESOLVER2], firstQueryPacket: 1, lastQueryPacket: 3 })]);
    expect(result.capture.decoded).toBe(3);
    expect(accounted(result)).toBe(result.capture.packets);
    if (hasTool('tshark')) expect(tsharkDns(file).map((r) => [r[0], r[2], r[5]])).toEqual([['1', 'www.example.com', '0'], ['2', 'www.example.com', '0'], ['3', 'www.example.com', '0']]);
  });

  it('dns-no-answer ties an ICMP error about a query to the lookup: the server\'s port or host was unreachable', () => {
    const spec = { id: 0x5151, name: 'db.example' };
    /** The error `from` sends about the query `spec` from CLIENT:40000, quoting `bytes` of it past the IP header. */
    const icmp = (t: number, code: number, from: string, bytes: number): At => ({
      t,
      bytes: icmpErrorFrame({ quoted: { src: CLIENT, dst: RESOLVER, sport: 40000, dport: 53, payload: dnsQuery(spec) }, quotedProtocol: 17, from, code, quoteTransportBytes: bytes }).bytes,
    });
    const { file, result } = analyze([query(0, spec), icmp(300, 3, RESOLVER, 64), query(1 * S, spec), icmp(1 * S + 300, 3, RESOLVER, 64), tick(5 * S)]);
    const v = verdict(result, 'dns-no-answer')!;
    expect(v.summary).toBe(
      'DNS lookup never answered: db.example (A) from 10.0.0.5, 2 queries #1..#3 to 192.0.2.53 over 1.00 s, no answer in the 5.00 s the capture went on; ICMP port unreachable #2 from 192.0.2.53 (nothing listens on 192.0.2.53 port 53)',
    );
    expect(v.packets).toEqual([1, 2]);
    expect(v.facts.lookups).toEqual([expect.objectContaining({ unreachable: { no: 2, from: RESOLVER, meaning: 'port unreachable', server: RESOLVER } })]);
    expect(accounted(result)).toBe(result.capture.packets);
    if (hasTool('tshark')) {
      const rows = execFileSync('tshark', ['-r', file, '-n', '-Y', 'icmp', '-T', 'fields', '-e', 'frame.number', '-e', 'icmp.type', '-e', 'icmp.code', '-e', 'udp.dstport', '-e', 'dns.id'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect(rows.trim().split('\n')[0].split('\t')).toEqual(['2', '3', '3', '53', '0x5151']);
    }
    // A router's host unreachable, quoting only the UDP header (no DNS ID): tied by the client's port.
    const routed = analyze([query(0, spec), icmp(300, 1, '198.51.100.1', 8), query(1 * S, spec), tick(5 * S)]);
    expect(verdict(routed.result, 'dns-no-answer')!.summary).toContain('; ICMP host unreachable #2 from 198.51.100.1 (192.0.2.53 cannot be reached)');
    // An error about another client port is no answer to this lookup.
    const other = analyze([query(0, spec, RESOLVER, 40001), icmp(300, 3, RESOLVER, 64), query(1 * S, spec, RESOLVER, 40001), tick(5 * S)]);
    expect(verdict(other.result, 'dns-no-answer')!.summary).not.toContain('ICMP');
  });

  it('dns-no-answer on a single query whose ICMP port unreachable came back: the error shows the capture holds the way back', () => {
    const spec = { id: 0x6161, name: 'api.example' };
    const quoted = { src: CLIENT, dst: RESOLVER, sport: 40000, dport: 53, payload: dnsQuery(spec) };
    const refused = { t: 300, bytes: icmpErrorFrame({ quoted, quotedProtocol: 17, from: RESOLVER, code: 3, quoteTransportBytes: 64 }).bytes };
    const { result } = analyze([query(0, spec), refused, tick(5 * S)]);
    // A warning: the query failed, but the client may have asked a resolver the capture does not see.
    expect(verdict(result, 'dns-no-answer')!.severity).toBe('warning');
    expect(verdict(result, 'dns-no-answer')!.summary).toBe(
      'DNS lookup never answered: api.example (A) from 10.0.0.5, query #1 to 192.0.2.53, no answer in the 5.00 s the capture went on; ICMP port unreachable #2 from 192.0.2.53 (nothing listens on 192.0.2.53 port 53)',
    );
    // The same query without the error proves nothing: the capture may hold one direction only.
    expect(dnsCodes((analyze([query(0, spec), tick(5 * S)])).result)).toEqual([]);
  });

  it('dns-no-answer on a real resolver that is down: node\'s resolver sent one query, the kernel answered ICMP port unreachable', async () => {
    const check = (file: string) => {
      const v = verdict(analyzeFile(file), 'dns-no-answer')!;
      expect(v.severity).toBe('warning');
      expect(v.summary).toMatch(/^DNS lookup never answered: api\.example \(A\) from 127\.0\.0\.1, query #1 to 127\.0\.0\.153, no answer in the 1\.\d\d s the capture went on; ICMP port unreachable #2 from 127\.0\.0\.153 \(nothing listens on 127\.0\.0\.153 port 53\)$/);
    };
    check(fileURLToPath(new URL('../../samples/dns-refused.pcap', import.meta.url)));
    if (canRunScenario('dns-refused')) {
      check((await runCaptureScenario('dns-refused')).file);
      removeCaptureDirs();
    }
  });

  it('ties the errors about two lookups sent from one socket each to its own, and takes no MTU or TTL error for an unreachable server', () => {
    const one = { id: 0x0101, name: 'one.example' };
    const two = { id: 0x0202, name: 'two.example' };
    const error = (t: number, spec: DnsSpec, code: number, bytes: number, type = 3): At => ({
      t,
      bytes: icmpErrorFrame({ quoted: { src: CLIENT, dst: RESOLVER, sport: 40000, dport: 53, payload: dnsQuery(spec) }, quotedProtocol: 17, from: '198.51.100.1', type, code, quoteTransportBytes: bytes }).bytes,
    });
    const lookups = (r: AnalysisResult) => verdict(r, 'dns-no-answer')!.facts.lookups as Array<{ name: string; unreachable: { no: number } | null }>;
    // A and then B from port 40000, each retried; a router's host unreachable for each, quoting 8 bytes (no DNS ID).
    const both = analyze([query(0, one), query(100, two), error(300, one, 1, 8), error(400, two, 1, 8), query(1 * S, one), query(1 * S + 100, two), tick(5 * S)]);
    expect(lookups(both.result).map((l) => [l.name, l.unreachable?.no])).toEqual([
      ['one.example', 3],
      ['two.example', 4],
    ]);
    // Fragmentation needed and TTL exceeded are about the path, not the server: no 'cannot be reached'.
    for (const [type, code] of [
      [3, 4],
      [11, 0],
    ]) {
      const r = (analyze([query(0, one), error(300, one, code, 64, type), query(1 * S, one), tick(5 * S)])).result;
      expect(verdict(r, 'dns-no-answer')!.summary, `type ${type} code ${code}`).not.toContain('ICMP');
      expect(dnsCodes((analyze([query(0, one), error(300, one, code, 64, type), tick(5 * S)])).result)).toEqual([]);
    }
  });

  it('ties every one of 900 waiting lookups to the error about its own query, and an error no lookup waits on to none', () => {
    const decoder = new PacketDecoder();
    const log = new DnsLog();
    const n = 900;
    const spec = (i: number) => ({ id: (i * 7919) & 0xffff, name: `n${i}.example` });
    for (let i = 0; i < n; i++) {
      decoder.decode(toRecord(udpFrame({ src: CLIENT, dst: RESOLVER, sport: 20000 + i, dport: 53, payload: dnsQuery(spec(i)) }), { no: i + 1, tsMicros: T0 + i * 100 }));
      log.udpPacket(decoder.view, i + 1, T0 + i * 100);
    }
    // First an error about a port no lookup used and one quoting an ID no query of that port had: they tie to none.
    log.unreachable(CLIENT, 19999, RESOLVER, -1, { no: 1, from: RESOLVER, meaning: 'port unreachable' });
    log.unreachable(CLIENT, 20002, RESOLVER, 0x7fff, { no: 2, from: RESOLVER, meaning: 'port unreachable' });
    // Then each query's own, in reverse order, half quoting the DNS ID.
    for (let i = n - 1; i >= 0; i--) log.unreachable(CLIENT, 20000 + i, RESOLVER, i % 2 === 0 ? spec(i).id : -1, { no: 10000 + i, from: RESOLVER, meaning: 'port unreachable' });
    const groups = log.failures(T0 + 10 * S);
    expect(groups).toHaveLength(n);
    for (const g of groups) expect(g.unreachable?.no, g.name).toBe(10000 + Number(g.name.slice(1, g.name.indexOf('.'))));
  });

  it('ties the ICMP error of each of 900 waiting lookups to its own query (the verdict lists the first ones): by DNS ID, or by client port where the quote stops before it', () => {
    // A resolver that is down: every query draws an error at once, while the other lookups wait.
    const n = 900;
    const packets: At[] = [];
    const spec = (i: number) => ({ id: (i * 7919) & 0xffff, name: `n${i}.example` });
    for (let i = 0; i < n; i++) {
      const port = 20000 + i;
      const withId = i % 2 === 0;
      packets.push({ t: i * 100, bytes: udpFrame({ src: CLIENT, dst: RESOLVER, sport: port, dport: 53, payload: dnsQuery(spec(i)) }).bytes });
      const quoted = { src: CLIENT, dst: RESOLVER, sport: port, dport: 53, payload: dnsQuery(spec(i)) };
      packets.push({ t: i * 100 + 30, bytes: icmpErrorFrame({ quoted, quotedProtocol: 17, from: withId ? RESOLVER : '198.51.100.1', code: withId ? 3 : 1, quoteTransportBytes: withId ? 64 : 8 }).bytes });
    }
    for (let i = 0; i < n; i++) packets.push({ t: S + i * 100, bytes: udpFrame({ src: CLIENT, dst: RESOLVER, sport: 20000 + i, dport: 53, payload: dnsQuery(spec(i)) }).bytes });
    packets.push(tick(10 * S));
    const { result } = analyze(packets);
    // The verdict lists the first lookups of the 900; each names the error that answered its own query.
    const lookups = verdict(result, 'dns-no-answer')!.facts.lookups as Array<{ name: string; unreachable: { no: number; meaning: string } | null }>;
    expect(lookups.length).toBeGreaterThanOrEqual(10);
    for (const l of lookups) {
      const i = Number(l.name.slice(1, l.name.indexOf('.')));
      expect(l.unreachable, l.name).toMatchObject({ no: 2 * i + 2, meaning: i % 2 === 0 ? 'port unreachable' : 'host unreachable' });
    }
  });

  it('says nothing of a single unanswered query when the capture holds no answer to that client at all (outgoing traffic only)', () => {
    const { result } = analyze([query(0, { id: 1, name: 'a.example' }), tick(10 * S)]);
    expect(dnsCodes(result)).toEqual([]);
  });

  it('a single unanswered query is a warning when the client\'s other lookups were answered', () => {
    const { result } = analyze([
      query(0, { id: 1, name: 'ok.example' }),
      answer(20_000, { id: 1, name: 'ok.example', answers: [{ type: 'A', data: '198.51.100.1' }] }),
      query(100_000, { id: 2, name: 'lost.example' }, RESOLVER, 40001),
      tick(5 * S),
    ]);
    expect(verdict(result, 'dns-no-answer')).toMatchObject({ severity: 'warning' });
    expect(verdict(result, 'dns-no-answer')!.summary).toContain('lost.example (A) from 10.0.0.5, query #3 to 192.0.2.53');
  });

  it('is too early to judge a query the capture ended right after', () => {
    const spec = { id: 3, name: 'late.example' };
    const { result } = analyze([query(0, spec), query(300_000, spec), tick(600_000)]);
    expect(dnsCodes(result)).toEqual([]);
    // The same two queries in a capture that went on 5 s are a lookup never answered.
    const waited = analyze([query(0, spec), query(300_000, spec), tick(5 * S)]);
    expect(dnsCodes(waited.result)).toEqual(['dns-no-answer']);
    expect(verdict(waited.result, 'dns-no-answer')!.facts.lookups).toEqual([expect.objectContaining({ name: 'late.example', queries: 2, firstQueryPacket: 1, lastQueryPacket: 2 })]);
  });

  it('dns-nxdomain and dns-servfail, checked against tshark', () => {
    const { file, result } = analyze([
      query(0, { id: 10, name: 'wwww.example.com' }),
      answer(30_000, { id: 10, name: 'wwww.example.com', rcode: 3 }),
      query(100_000, { id: 11, name: 'appserver' }, RESOLVER, 40001),
      answer(100_100, { id: 11, name: 'appserver', rcode: 2 }, RESOLVER, 40001),
    ]);
    expect(verdict(result, 'dns-nxdomain')).toMatchObject({
      severity: 'warning',
      summary: 'DNS NXDOMAIN (a name does not exist, and the client resolved no related name): wwww.example.com (A) from 10.0.0.5, answer #2 from 192.0.2.53 30 ms after query #1',
      packets: [1, 2],
    });
    expect(verdict(result, 'dns-servfail')).toMatchObject({
      severity: 'error',
      summary: 'DNS SERVFAIL (the resolver could not resolve a name, and the client got no address for it): appserver (A) from 10.0.0.5, answer #4 from 192.0.2.53 0.1 ms after query #3',
    });
    if (hasTool('tshark')) {
      expect(tsharkDns(file).filter((r) => r[5] === '1').map((r) => [r[0], r[2], r[3]])).toEqual([['2', 'wwww.example.com', '3'], ['4', 'appserver', '2']]);
    }
  });

  it('a failure the search list made good is not reported (bare name and suffixed name, either way round)', () => {
    const { result } = analyze([
      query(0, { id: 20, name: 'app.corp.example' }),
      answer(1000, { id: 20, name: 'app.corp.example', rcode: 3 }),
      query(2000, { id: 21, name: 'app' }, RESOLVER, 40001),
      answer(3000, { id: 21, name: 'app', answers: [{ type: 'A', data: '10.1.1.1' }] }, RESOLVER, 40001),
      query(4000, { id: 22, name: 'db' }, RESOLVER, 40002),
      answer(5000, { id: 22, name: 'db', rcode: 3 }, RESOLVER, 40002),
      query(6000, { id: 23, name: 'db.corp.example' }, RESOLVER, 40003),
      answer(7000, { id: 23, name: 'db.corp.example', answers: [{ type: 'A', data: '10.1.1.2' }] }, RESOLVER, 40003),
    ]);
    expect(dnsCodes(result)).toEqual([]);
  });

  it('a failed reverse (PTR) lookup explains no connection and is not reported', () => {
    const { result } = analyze([query(0, { id: 30, name: '1.2.0.192.in-addr.arpa', type: 'PTR' }), answer(1000, { id: 30, name: '1.2.0.192.in-addr.arpa', type: 'PTR', rcode: 3 })]);
    expect(dnsCodes(result)).toEqual([]);
  });

  it('dns-slow: an answer 1.5 s after the first query, and not one after 0.3 s', () => {
    const slow = { id: 40, name: 'slow.example', answers: [{ type: 'A' as const, data: '198.51.100.40' }] };
    const quick = { id: 41, name: 'quick.example', answers: [{ type: 'A' as const, data: '198.51.100.41' }] };
    const { result } = analyze([query(0, slow), query(10_000, quick, RESOLVER, 40001), answer(300_000, quick, RESOLVER, 40001), answer(1_500_000, slow)]);
    expect(verdict(result, 'dns-slow')).toMatchObject({
      severity: 'warning',
      summary: 'DNS answer slower than 1.00 s: slow.example (A) from 10.0.0.5, answer #4 from 192.0.2.53 1.50 s after query #1',
    });
  });

  it('counts a compression loop and a truncated message as skipped dns-invalid, and every packet once', () => {
    const loop = concat([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0], [1, 0x61, 0xc0, 12], [0, 1, 0, 1]);
    const truncated = dnsResponse({ id: 5, name: 'cut.example', answers: [{ type: 'A', data: '198.51.100.5' }] }).subarray(0, 25);
    const { result } = analyze([
      { t: 0, bytes: udpFrame({ src: RESOLVER, dst: CLIENT, sport: 53, dport: 40000, payload: loop }).bytes },
      { t: 1000, bytes: udpFrame({ src: RESOLVER, dst: CLIENT, sport: 53, dport: 40000, payload: truncated }).bytes },
      { t: 2000, bytes: udpFrame({ src: CLIENT, dst: RESOLVER, sport: 40000, dport: 53, payload: new Uint8Array(7) }).bytes },
    ]);
    expect(result.capture.skipped).toEqual({ 'dns-invalid': 3 });
    expect([result.capture.packets, result.capture.decoded, accounted(result)]).toEqual([3, 0, 3]);
  });

  it('counts a DNS datagram the snap length cut before its question ended as skipped dns-cut, not as invalid', () => {
    const frames = [query(0, { id: 6, name: 'www.example.com' }), query(1000, { id: 7, name: 'www.example.com' }, RESOLVER, 40001)];
    const cut = frames[0].bytes.subarray(0, 14 + 20 + 8 + 4);
    const file = writeTempCapture(toPcap([{ tsMicros: T0, data: cut, origLen: frames[0].bytes.length }, { tsMicros: T0 + 1000, data: frames[1].bytes }]), 'dns-cut.pcap');
    const result = analyzeFile(file);
    expect([result.capture.skipped, result.capture.decoded]).toEqual([{ 'dns-cut': 1 }, 1]);
  });
});

describe('where a failing connection\'s address came from', () => {
  const lookup = (address: string): At[] => [
    query(0, { id: 50, name: 'www.example.com' }),
    answer(20_000, { id: 50, name: 'www.example.com', answers: [{ type: 'CNAME', data: 'edge.example.net' }, { type: 'A', name: 'edge.example.net', data: address }] }),
  ];
  const retries = (dst: string) => [syn(100_000, dst), syn(1_100_000, dst), syn(3_100_000, dst), tick(8 * S)];

  it('a syn-timeout to an address from a DNS answer names the name and the answer', () => {
    const { result } = analyze([...lookup('203.0.113.94'), ...retries('203.0.113.94')]);
    const v = result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toMatch(/; 203\.0\.113\.94, resolved from www\.example\.com \(via edge\.example\.net\) in answer #2 from 192\.0\.2\.53, 80 ms before the first SYN$/);
    expect(v.facts.dnsOrigin).toEqual({ name: 'www.example.com', owner: 'edge.example.net', answerPacket: 2, resolver: RESOLVER, answeredTo: CLIENT, msBeforeConnect: 80 });
    expect(result.flows[0].dns).toEqual(v.facts.dnsOrigin);
    expect(JSON.parse(renderJson(result, result.flows, { detail: true })).flows[0].dns).toEqual(v.facts.dnsOrigin);
  });

  it('says "from no DNS answer" when the client\'s lookups are in the capture but none named the address', () => {
    const { result } = analyze([...lookup('198.51.100.7'), ...retries('203.0.113.94')]);
    const v = result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toMatch(/; 203\.0\.113\.94 came from no DNS answer in this capture, though the client's DNS lookups are in it \(from #1\): check hosts files and configuration$/);
    expect(v.hint).toContain('hosts file');
  });

  it('says nothing about DNS when the capture holds none, or when the answer came after the SYN', () => {
    const none = analyze(retries('203.0.113.94'));
    const plain = none.result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(plain.summary).not.toMatch(/DNS|resolved/);
    expect([plain.facts.dnsOrigin, none.result.flows[0].dns]).toEqual([undefined, undefined]);
    const late = analyze([syn(0, '203.0.113.94'), ...lookup('203.0.113.94').map((p) => ({ ...p, t: p.t + 50_000 })), syn(1 * S, '203.0.113.94'), syn(3 * S, '203.0.113.94'), tick(8 * S)]);
    const v = late.result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    // The client's lookups are in the capture, but only from after this SYN: no claim either way.
    expect(v.summary).not.toMatch(/DNS|resolved/);
    expect([v.facts.dnsOrigin, late.result.flows[0].dns]).toEqual([undefined, undefined]);
  });

  it('an address from an HTTPS record\'s ipv4hint or ipv6hint is named as a hint of that record', () => {
    const https = (address: string, version: 4 | 6): At[] => [
      query(0, { id: 51, name: 'www.example.com', type: 'HTTPS' }),
      answer(20_000, { id: 51, name: 'www.example.com', type: 'HTTPS', answers: [{ type: 'HTTPS', service: { priority: 1, [version === 4 ? 'ipv4hint' : 'ipv6hint']: [address] } }] }),
    ];
    const { file, result } = analyze([...https('203.0.113.94', 4), ...retries('203.0.113.94')]);
    const v = result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    if (hasTool('tshark')) {
      const fields = ['dns.resp.type', 'dns.svcb.svcpriority', 'dns.svcb.targetname', 'dns.svcb.svcparam.alpn', 'dns.svcb.svcparam.ipv4hint.ip'];
      const out = execFileSync('tshark', ['-r', file, '-n', '-Y', 'dns.resp.type == 65', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect(out.trim().split('|')).toEqual(['65', '1', '<Root>', 'h2', '203.0.113.94']);
    }
    expect(v.summary).toMatch(/; 203\.0\.113\.94, from the HTTPS record of www\.example\.com, ipv4hint, in answer #2 from 192\.0\.2\.53, 80 ms before the first SYN$/);
    expect(v.facts.dnsOrigin).toEqual({ name: 'www.example.com', owner: 'www.example.com', answerPacket: 2, resolver: RESOLVER, answeredTo: CLIENT, msBeforeConnect: 80, hint: { record: 'HTTPS', key: 'ipv4hint' } });
    // Over IPv6 both ways: the ipv6hint.
    const client6 = 'fd00::5';
    const resolver6 = 'fd00::53';
    const spec = { id: 55, name: 'www.example.com', type: 'HTTPS' as const, answers: [{ type: 'HTTPS' as const, service: { priority: 1, ipv6hint: ['2001:db8::94'] } }] };
    const v6 = analyze([
      { t: 0, bytes: udpFrame({ src: client6, dst: resolver6, sport: 40000, dport: 53, payload: dnsQuery(spec) }).bytes },
      { t: 20_000, bytes: udpFrame({ src: resolver6, dst: client6, sport: 53, dport: 40000, payload: dnsResponse(spec) }).bytes },
      ...[100_000, 1_100_000, 3_100_000].map((t) => ({ t, bytes: tcpFrame({ src: client6, dst: '2001:db8::94', sport: 50000, dport: 443, flags: 'S', seq: 1000 }).bytes })),
      tick(8 * S),
    ]);
    const flow6 = v6.result.flows.find((f) => f.serverIp === '2001:db8::94')!;
    expect(flow6.verdicts.find((x) => x.code === 'syn-timeout')!.summary).toMatch(/; 2001:db8::94, from the HTTPS record of www\.example\.com, ipv6hint, in answer #2 from fd00::53, 80 ms before the first SYN$/);
  });

  it('a name an HTTPS AliasMode record sent the client to is named with that record', () => {
    const { result } = analyze([
      query(0, { id: 52, name: 'example.com', type: 'HTTPS' }),
      answer(10_000, { id: 52, name: 'example.com', type: 'HTTPS', answers: [{ type: 'HTTPS', service: { priority: 0, target: 'pool.example.net' } }] }),
      query(12_000, { id: 53, name: 'pool.example.net' }, RESOLVER, 40001),
      answer(20_000, { id: 53, name: 'pool.example.net', answers: [{ type: 'A', data: '203.0.113.95' }] }, RESOLVER, 40001),
      ...retries('203.0.113.95'),
    ]);
    const v = result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toMatch(/; 203\.0\.113\.95, resolved from pool\.example\.net \(alias target of the HTTPS record of example\.com in answer #2\) in answer #4 from 192\.0\.2\.53, 80 ms before the first SYN$/);
    expect(v.facts.dnsOrigin).toMatchObject({ name: 'pool.example.net', answerPacket: 4, targetOf: { record: 'HTTPS', mode: 'alias', owner: 'example.com', answerPacket: 2 } });
  });

  it('says "from no DNS answer" past HTTPS records whose hints it read, but not past one it could not read', () => {
    const withHttps = (service: DnsAnswerSpec['service']): At[] => [
      query(0, { id: 54, name: 'www.example.com', type: 'HTTPS' }),
      answer(20_000, { id: 54, name: 'www.example.com', type: 'HTTPS', answers: [{ type: 'HTTPS', service }] }),
    ];
    const read = analyze([...withHttps({ priority: 1, ipv4hint: ['198.51.100.7'] }), ...retries('203.0.113.94')]);
    expect(read.result.flows[0].dns).toEqual({ name: null, clientFirstQuery: 1 });
    // Hint keys out of order: the record is malformed and its hints unknown.
    const unread = analyze([...withHttps({ priority: 1, params: [[6, [...new Uint8Array(16)]], [4, [198, 51, 100, 7]]] }), ...retries('203.0.113.94')]);
    expect(unread.result.flows[0].dns).toBeUndefined();
    expect(unread.result.flows[0].verdicts.find((x) => x.code === 'syn-timeout')!.summary).not.toMatch(/DNS|resolved/);
  });

  it('reads the answer of a DNS lookup over TCP (port 53), first message each way', () => {
    const tcp = (t: number, from: 'c' | 's', flags: string, seq: number, ack: number, payload?: Uint8Array): At => ({
      t,
      bytes: tcpFrame(from === 'c' ? { src: CLIENT, dst: RESOLVER, sport: 41000, dport: 53, flags, seq, ack, payload } : { src: RESOLVER, dst: CLIENT, sport: 53, dport: 41000, flags, seq, ack, payload }).bytes,
    });
    const q = withTcpLength(dnsQuery({ id: 60, name: 'big.example' }));
    const a = withTcpLength(dnsResponse({ id: 60, name: 'big.example', answers: [{ type: 'A', data: '203.0.113.60' }] }));
    const { result } = analyze([
      tcp(0, 'c', 'S', 100, 0),
      tcp(1000, 's', 'SA', 500, 101),
      tcp(2000, 'c', 'A', 101, 501),
      tcp(3000, 'c', 'PA', 101, 501, q),
      tcp(10_000, 's', 'PA', 501, 101 + q.length, a),
      tcp(11_000, 'c', 'FA', 101 + q.length, 501 + a.length),
      tcp(12_000, 's', 'FA', 501 + a.length, 102 + q.length),
      tcp(13_000, 'c', 'A', 102 + q.length, 502 + a.length),
      ...retries('203.0.113.60'),
    ]);
    const flow = result.flows.find((f) => f.serverIp === '203.0.113.60')!;
    expect(flow.verdicts.find((x) => x.code === 'syn-timeout')!.facts.dnsOrigin).toMatchObject({ name: 'big.example', answerPacket: 5, resolver: RESOLVER });
  });
});

describe('DnsLog memory', () => {
  it('holds at most MAX_PENDING lookups however many names go unanswered, and still reports them', () => {
    const decoder = new PacketDecoder();
    const log = new DnsLog();
    const n = DNS_LOG_LIMITS.MAX_PENDING + 2_000;
    // One answered lookup first: the capture sees this client's answers, so single queries count.
    const answered = udpFrame({ src: RESOLVER, dst: CLIENT, sport: 53, dport: 1024, payload: dnsResponse({ id: 0, name: 'first.example' }) });
    decoder.decode(toRecord(answered, { no: 1, tsMicros: T0 - 1000 }));
    log.udpPacket(decoder.view, 1, T0 - 1000);
    for (let i = 0; i < n; i++) {
      const frame = udpFrame({ src: CLIENT, dst: RESOLVER, sport: 1024 + (i % 60000), dport: 53, payload: dnsQuery({ id: i & 0xffff, name: `n${i}.example` }) });
      decoder.decode(toRecord(frame, { no: i + 1, tsMicros: T0 + i * 1000 }));
      expect(log.udpPacket(decoder.view, i + 1, T0 + i * 1000)).toBe(DNS_READ.READ);
    }
    expect(log.retained()).toBeLessThanOrEqual(DNS_LOG_LIMITS.MAX_PENDING + 1 + DNS_LOG_LIMITS.MAX_GROUPS);
    // The lookups finished early were waiting over a second: they are failures, counted beyond MAX_GROUPS.
    const failures = log.failures(T0 + n * 1000 + 10 * S);
    expect(failures.length).toBe(DNS_LOG_LIMITS.MAX_GROUPS);
    expect(log.groupsDropped['dns-no-answer']).toBe(n - DNS_LOG_LIMITS.MAX_GROUPS);
  });
});

const corpus = useCorpus();

corpus.describe('DNS in the public corpus, checked against tshark', () => {
  const file = (name: string) => corpus.path(`ppa/${name}`);

  it.each(['ppa3/nowebaccess1.pcapng', 'ppa2e/nowebaccess1.pcap'])('%s: one lookup retried 7 times to two servers, never answered', (name) => {
    const result = analyzeFile(file(name));
    const v = verdict(result, 'dns-no-answer')!;
    expect(v.severity).toBe('error');
    expect(v.facts.lookups).toEqual([expect.objectContaining({ name: 'www.google.com', queries: 7, servers: ['4.2.2.2', '4.2.2.1'], firstQueryPacket: 3, lastQueryPacket: 9 })]);
    if (hasTool('tshark')) {
      const rows = tsharkDns(file(name));
      expect(rows.map((r) => r[0])).toEqual(['3', '4', '5', '6', '7', '8', '9']);
      expect(rows.every((r) => r[2] === 'www.google.com' && r[5] === '0')).toBe(true);
    }
    expect(accounted(result)).toBe(result.capture.packets);
  });

  it('ppa3/stranded_branchdns: the branch resolver answers SERVFAIL at once', () => {
    const result = analyzeFile(file('ppa3/stranded_branchdns.pcapng'));
    expect(verdict(result, 'dns-servfail')!.facts.lookups).toEqual([expect.objectContaining({ client: '172.16.16.101', name: 'appserver', answerPacket: 2, answeredBy: '172.16.16.251' })]);
    if (hasTool('tshark')) expect(tsharkDns(file('ppa3/stranded_branchdns.pcapng')).map((r) => [r[0], r[2], r[3]])).toEqual([['1', 'appserver', ''], ['2', 'appserver', '2']]);
  });

  it('ppa3/http_espn_fail: 203.0.113.94 is in no DNS answer, though the client\'s lookups are', () => {
    const result = analyzeFile(file('ppa3/http_espn_fail.pcapng'));
    const failing = result.flows.filter((f) => f.serverIp === '203.0.113.94');
    expect(failing.length).toBe(9);
    for (const f of failing) expect(f.dns).toEqual({ name: null, clientFirstQuery: 1 });
    expect(dnsCodes(result)).toEqual([]);
    if (hasTool('tshark')) {
      const rows = tsharkDns(file('ppa3/http_espn_fail.pcapng'));
      expect(rows.some((r) => r[4].split(',').includes('203.0.113.94'))).toBe(false);
      expect(rows[0][0]).toBe('1');
    }
  });

  it('ppa3/nowebaccess3: the unanswered SYN\'s address came from the answer for www.google.com', () => {
    const result = analyzeFile(file('ppa3/nowebaccess3.pcapng'));
    // The capture stops on the SYN's first retry, 1.0 s in: too early for syn-timeout, so capture-ended carries the origin.
    expect(result.flows[0].verdicts.find((v) => v.code === 'capture-ended')!.facts.dnsOrigin).toMatchObject({ name: 'www.google.com', owner: 'www.l.google.com', answerPacket: 2 });
    if (hasTool('tshark')) {
      const answerRow = tsharkDns(file('ppa3/nowebaccess3.pcapng')).find((r) => r[0] === '2')!;
      expect(answerRow[4].split(',')).toContain(result.flows[0].serverIp);
    }
  });

  it('ppa3/dns_tcp: reads the lookup made over TCP; nothing failed', () => {
    const result = analyzeFile(file('ppa3/dns_tcp.pcapng'));
    expect(dnsCodes(result)).toEqual([]);
    expect(accounted(result)).toBe(result.capture.packets);
  });
});
