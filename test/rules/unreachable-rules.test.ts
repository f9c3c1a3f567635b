// Connection failures told outside TCP: ICMP errors quoting a SYN the capture does not hold, and
// address lookups on the link (ARP, IPv6 neighbour discovery) nobody answered.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeFrames, conv, type ScriptedPacket } from '../helpers/conversation.js';
import { arpFrame, icmpUnreachableFrame, ndpFrame } from '../helpers/packets.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const byTime = (packets: ScriptedPacket[]) => packets.sort((a, b) => a.t - b.t);
const codes = (r: { verdicts: { code: string }[] }) => r.verdicts.map((v) => v.code);

describe('icmp-unreachable about a SYN the capture does not hold', () => {
  it('names the connection, the rejecting host and the firewall in an inbound-only capture of an iptables REJECT', () => {
    const r = analyzeFile(sample('icmp-reject-one-way.pcap'));
    expect(r.flowCount).toBe(0);
    expect(codes(r)).toEqual(['icmp-unreachable']);
    const v = r.verdicts[0];
    expect(v.severity).toBe('error');
    expect(v.packets).toEqual([1]);
    expect(v.facts).toMatchObject({ meaning: 'port unreachable', count: 1, synInCapture: false });
    expect(v.summary).toMatch(/^ICMP port unreachable from (\S+), the destination itself \(#1\), about the connection \S+:\d+ -> \1:8080: the error quotes its SYN, which this capture does not hold/);
    expect(v.hint).toMatch(/iptables REJECT/);
  });

  const syn = { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 443, flags: 'S' };

  it('counts repeated errors about one connection once, and names a router that sends them', () => {
    const errors = [0, 1, 3].map((t) => ({ frame: icmpUnreachableFrame({ from: '192.0.2.254', code: 1, quoted: syn, quoteTransportBytes: 20 }), t }));
    const r = analyzeFrames(errors);
    expect(codes(r)).toEqual(['icmp-unreachable']);
    expect(r.verdicts[0].packets).toEqual([1, 3]);
    expect(r.verdicts[0].summary).toMatch(/^ICMP host unreachable from 192\.0\.2\.254, a router or firewall on the path \(#1\), about the connection 10\.0\.0\.1:51000 -> 10\.0\.0\.2:443 \(3 errors about it, #1\.\.#3\)/);
    expect(r.verdicts[0].hint).toMatch(/A router has no route/);
  });

  it('gives one verdict for errors from one host about many connections to one service, and one per other service', () => {
    const errors = [51000, 51001, 51002, 51003].map((sport, i) => ({ frame: icmpUnreachableFrame({ from: '10.0.0.2', code: 3, quoted: { ...syn, sport }, quoteTransportBytes: 20 }), t: i }));
    errors.push({ frame: icmpUnreachableFrame({ from: '10.0.0.2', code: 3, quoted: { ...syn, sport: 51004, dport: 8443 }, quoteTransportBytes: 20 }), t: 5 });
    const r = analyzeFrames(errors);
    expect(codes(r)).toEqual(['icmp-unreachable', 'icmp-unreachable']);
    const [many, other] = r.verdicts;
    expect(many.packets).toEqual([1, 4]);
    expect(many.facts).toMatchObject({ count: 4, connections: 4, server: '10.0.0.2:443' });
    expect(many.summary).toMatch(/about 4 connections to 10\.0\.0\.2:443 \(4 errors, #1\.\.#4; the first from 10\.0\.0\.1:51000\): the errors quote their SYNs/);
    expect(other.facts).toMatchObject({ count: 1, connections: 1, server: '10.0.0.2:8443' });
  });

  it('says nothing of an error quoting a segment other than a SYN, nor of one whose quote ends before the flags, nor of a SYN the capture holds', () => {
    const error = (quoted: object, quoteTransportBytes: number) => ({ frame: icmpUnreachableFrame({ code: 3, quoted: { ...syn, ...quoted }, quoteTransportBytes }), t: 0.001 });
    expect(codes(analyzeFrames([error({}, 20)]))).toEqual(['icmp-unreachable']);
    expect(codes(analyzeFrames([error({ flags: 'A' }, 20)]))).toEqual([]);
    expect(codes(analyzeFrames([error({ flags: 'SA' }, 20)]))).toEqual([]);
    expect(codes(analyzeFrames([error({}, 8)]))).toEqual([]);
    // The flow of a SYN the capture holds takes the error: said once, of that flow.
    const c = conv({ client: '10.0.0.1:51000', server: '10.0.0.2:443' }).client('S', 0);
    const r = analyzeFrames([...c.packets, error({}, 20)]);
    expect(codes(r)).toEqual([]);
    expect(r.flows[0].verdicts.map((v) => v.code)).toContain('icmp-unreachable');
  });
});

describe('ndp-unanswered', () => {
  it('is said of a real capture: solicitations for a missing address unanswered, another address answered', () => {
    const r = analyzeFile(sample('ndp-unanswered.pcap'));
    expect(codes(r)).toEqual(['ndp-unanswered']);
    const v = r.verdicts[0];
    expect(v.severity).toBe('error');
    expect(v.packets).toEqual([18, 20]);
    expect(v.summary).toMatch(/^Neighbor Solicitation for fd31:[0-9a-f]+::99 never answered \(3 solicitations, #18\.\.#20\)/);
    expect(r.flows.map((f) => f.verdicts.map((x) => x.code))).toEqual([['clean-close'], ['clean-close']]);
  });

  // fd00::1 asks for the gateway fd00::fe and for fd00::2 and gets both answers: the capture sees its replies.
  const answeredBy = (host: string, t: number) => [
    { frame: ndpFrame({ op: 'solicit', src: 'fd00::1', target: host }), t },
    { frame: ndpFrame({ op: 'advertise', src: host, dst: 'fd00::1', target: host }), t: t + 0.0001 },
  ];
  const answered = [...answeredBy('fd00::fe', 0.1), ...answeredBy('fd00::2', 0.2)];
  const asked = (spec: Parameters<typeof ndpFrame>[0], times = [0, 1, 2]) => times.map((t) => ({ frame: ndpFrame({ op: 'solicit', target: 'fd00::99', ...spec }), t }));

  it('is said for the capture and for a flow to that address', () => {
    const c = conv({ client: '[fd00::1]:51000', server: '[fd00::99]:80' }).client('S', 0.5);
    const r = analyzeFrames(byTime([...asked({}), ...answered, ...c.packets]));
    expect(codes(r)).toEqual(['ndp-unanswered']);
    expect(r.verdicts[0].facts).toMatchObject({ ip: 'fd00::99', requests: 3 });
    expect(r.flows[0].verdicts.map((v) => v.code)).toContain('ndp-unanswered');
  });

  it('takes solicitations from :: for duplicate-address probes and unicast ones for reachability checks, neither a lookup', () => {
    expect(codes(analyzeFrames(byTime([...asked({}), ...answered])))).toEqual(['ndp-unanswered']);
    expect(codes(analyzeFrames(byTime([...asked({ src: '::' }), ...answered])))).toEqual([]);
    expect(codes(analyzeFrames(byTime([...asked({ dst: 'fd00::99' }), ...answered])))).toEqual([]);
  });

  it('is not said where the address answered, even by an announcement', () => {
    const announce = { frame: ndpFrame({ op: 'advertise', src: 'fd00::99', target: 'fd00::99', solicited: false }), t: 2.5 };
    expect(codes(analyzeFrames(byTime([...asked({}), ...answered])))).toEqual(['ndp-unanswered']);
    expect(codes(analyzeFrames(byTime([...asked({}), ...answered, announce])))).toEqual([]);
  });

  it('is not said of a lookup a capture on another host saw once, that host having answered the asker itself', () => {
    // The capture is on fd00::2 of a switched link: it holds the multicast solicitations of every
    // host, but of the replies only its own. fd00::1's lookup of fd00::99, answered out of its sight, is no error.
    const once = asked({}, [0.3]);
    const later = conv({ client: '[fd00::1]:51000', server: '[fd00::2]:80' }).client('S', 5).server('SA', 5.0001).client('A', 5.0002);
    expect(codes(analyzeFrames(byTime([...answeredBy('fd00::2', 0.2), ...once, ...later.packets])))).toEqual([]);
    // With replies to fd00::1 from two hosts the capture sees its replies: the same lookup is an error.
    const r = analyzeFrames(byTime([...answered, ...once, ...later.packets]));
    expect(codes(r)).toEqual(['ndp-unanswered']);
    expect(r.verdicts[0].severity).toBe('error');
    // Real packets: three namespaces on a bridge, the capture on the first; the second asks for the
    // first (answered, seen) and for the third (answered unicast, unseen), then connects to the first again.
    const lan = analyzeFile(sample('neighbours-third-host.pcap'));
    expect(codes(lan)).toEqual([]);
  });

  it('is a warning, not an error, where the capture holds no solicited advertisement at all', () => {
    const announce = { frame: ndpFrame({ op: 'advertise', src: 'fd00::fe', target: 'fd00::fe', solicited: false }), t: 0.2 };
    const r = analyzeFrames(byTime([...asked({}), announce]));
    expect(codes(r)).toEqual(['ndp-unanswered']);
    expect(r.verdicts[0].severity).toBe('warning');
    expect(r.verdicts[0].summary).toMatch(/asked 3 times by fd00::1 in 2\.00 s \(#1\.\.#4\) and never answered/);
  });
});

describe('arp-unanswered where the capture holds no ARP reply at all', () => {
  const asked = (times: number[], sender = (_i: number) => '10.0.0.1') => times.map((t, i) => ({ frame: arpFrame({ op: 'request', senderIp: sender(i), targetIp: '10.0.0.77' }), t }));

  it('warns of one host asking again and again within seconds, as Linux does before EHOSTUNREACH', () => {
    const r = analyzeFrames(asked([0, 1, 2]));
    expect(codes(r)).toEqual(['arp-unanswered']);
    expect(r.verdicts[0].severity).toBe('warning');
    expect(r.verdicts[0].facts).toMatchObject({ ip: '10.0.0.77', asker: '10.0.0.1', requests: 3, repliesInCapture: false });
    const s = analyzeFile(sample('arp-unanswered.pcap'));
    expect(codes(s)).toEqual(['arp-unanswered']);
    expect(s.verdicts[0].severity).toBe('warning');
  });

  it('says nothing of requests from several hosts, far apart, too few, or followed by a packet to the address', () => {
    expect(codes(analyzeFrames(asked([0, 1, 2])))).toEqual(['arp-unanswered']);
    expect(codes(analyzeFrames(asked([0, 1, 2], (i) => `10.0.0.${i + 1}`)))).toEqual([]);
    expect(codes(analyzeFrames(asked([0, 60, 120])))).toEqual([]);
    expect(codes(analyzeFrames(asked([0, 1])))).toEqual([]);
    const c = conv({ client: '10.0.0.1:51000', server: '10.0.0.77:80' }).client('S', 2.1);
    expect(codes(analyzeFrames(byTime([...asked([0, 1, 2]), ...c.packets])))).not.toContain('arp-unanswered');
  });
});
