import { describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeFrames, conv, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { icmpErrorFrame, udpFrame } from '../helpers/packets.js';

const corpus2 = useCorpus('corpus2');

// SYNs nobody answered say "host down" only when the capture shows nothing sent from the server's
// address while they went unanswered: one that sent other packets then was neither down nor
// unreachable, and the port is filtered (or the address is a device whose server is down, or
// another live host's). A TCP RST or an ICMP error in its name proves nothing (a firewall in front
// sends those), and a packet sent more than 1 s after the last SYN shows only that something was up
// later.

const SERVER = '10.0.0.2';
/** Linux's classic SYN back-off to port 8080 of the server: SYNs at 0, 1 and 3 s, none answered. */
const unanswered = () => conv({ client: '10.0.0.1:51000', server: `${SERVER}:8080` }).client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
/** The same client fetching a page from port 8081 of the same host at `t`. */
const served = (t: number) =>
  conv({ client: '10.0.0.1:51001', server: `${SERVER}:8081` }).handshake(t).client('PA', t + 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', t + 0.02, 'HTTP/1.1 204 No Content\r\n\r\n').client('FA', t + 0.03).server('FA', t + 0.04).client('A', t + 0.05);
/** A datagram from `src` at `t`. */
const datagram = (src: string, t: number): ScriptedPacket => ({ frame: udpFrame({ src, dst: '10.0.0.1', sport: 5353, dport: 5353, payload: 'x' }), t });
/** The packets in time order, and a datagram between two other hosts 70 s on: the capture went on past the client's retries. */
const inTime = (...lists: ScriptedPacket[][]) => [...lists.flat(), { frame: udpFrame({ src: '10.0.0.7', dst: '10.0.0.8', sport: 5353, dport: 5353, payload: 'x' }), t: 70 }].sort((a, b) => a.t - b.t);
const timedOut = (packets: ScriptedPacket[]) => {
  const flow = analyzeFrames(packets).flows.find((f) => f.server === `${SERVER}:8080`)!;
  return flow.verdicts.find((v) => v.code === 'syn-timeout')!;
};

describe('syn-timeout when the server address sent other packets meanwhile', () => {
  it('names the packet between the SYNs: the port is filtered, not the host down', () => {
    const v = timedOut(inTime(unanswered().packets, served(1.5).packets));
    expect(v.summary).toBe(
      'SYN retries, no answer, though 10.0.0.2 sent other packets meanwhile (#4, between them): a firewall dropping SYNs to port 8080 or from this client, a listener too busy to answer, or a wrong IP (3 SYNs #1, #2, #11 over 3.00 s; retries after 1.00 s, 2.00 s (1 s doubling: Linux))',
    );
    expect(v.facts).toMatchObject({ serverSentPacket: 4 });
    expect(v.hint).toMatch(/^Something at that address was sending packets while these SYNs went unanswered/);
    expect(v.hint).toContain('a NAT, load balancer, proxy or captive portal at that address whose server for this port is down');
  });

  it('names the first packet within 1 s after the last SYN, though the address went quiet and spoke again before the flow was judged', () => {
    const v = timedOut(inTime(unanswered().packets, [datagram(SERVER, 3.4), datagram(SERVER, 20), datagram(SERVER, 40)]));
    expect(v.summary).toMatch(/^SYN retries, no answer, though 10\.0\.0\.2 sent other packets meanwhile \(#4, 400 ms after the last SYN\): a firewall dropping SYNs to port 8080/);
  });

  it('names the first packet after the first SYN of an address that sent packets all along', () => {
    const chatter = [-4, -1, 2, 6, 9].map((t) => datagram(SERVER, t));
    const v = timedOut(inTime(unanswered().packets, chatter));
    expect(v.summary).toMatch(/^SYN retries, no answer, though 10\.0\.0\.2 sent other packets meanwhile \(#5, between them\)/);
    expect(v.facts).toMatchObject({ serverSentPacket: 5 });
  });

  it('keeps "host down" when the address sent only before the SYNs, more than 1 s after the last, RSTs or ICMP errors', () => {
    const before = timedOut(inTime(unanswered().packets, [datagram(SERVER, -10)]));
    // A host that starts 9 s after the last SYN and announces itself: it may have been down when they came.
    const late = timedOut(inTime(unanswered().packets, [datagram(SERVER, 4.1), datagram(SERVER, 12)]));
    // Port 8082 of the address refused a SYN, and an ICMP "administratively prohibited" in its name answered another: a firewall in front sends either.
    const refused = conv({ client: '10.0.0.1:51002', server: `${SERVER}:8082` }).client('S', 1.5).server('RA', 1.5001, '', { seq: 0 });
    const prohibited = { frame: icmpErrorFrame({ type: 3, code: 13, from: SERVER, quoted: { src: '10.0.0.1', dst: SERVER, sport: 51003, dport: 22, flags: 'S' } }), t: 2 };
    // And one about a UDP datagram (QUIC to port 443), which the decoder skips rather than reads.
    const aboutUdp = { frame: icmpErrorFrame({ type: 3, code: 13, from: SERVER, quotedProtocol: 17, quoted: { src: '10.0.0.1', dst: SERVER, sport: 51004, dport: 443 } }), t: 2.5 };
    const rst = timedOut(inTime(unanswered().packets, refused.packets, [prohibited, aboutUdp]));
    const other = timedOut(inTime(unanswered().packets, [datagram('10.0.0.3', 2)]));
    for (const v of [before, late, rst, other]) {
      expect(v.summary).toMatch(/^SYN retries, no answer at all: host down, a firewall dropping the SYN, or a wrong IP/);
      expect(v.facts.serverSentPacket).toBeUndefined();
    }
  });

  it('beside "host down", cites a packet of the address from 1 to 30 s after the last SYN: up by then, if not while the SYNs came', () => {
    // nDPI gnutella flow 116: the peer's answer to a UDP request sent between the SYNs came 1.14 s after the last.
    const late = timedOut(inTime(unanswered().packets, [datagram(SERVER, 4.14), datagram(SERVER, 12)]));
    expect(late.summary).toBe(
      'SYN retries, no answer at all: host down, a firewall dropping the SYN, or a wrong IP; 10.0.0.2 sent #4 1.14 s after the last SYN, so something at that address was up by then (3 SYNs #1, #2, #3 over 3.00 s; retries after 1.00 s, 2.00 s (1 s doubling: Linux))',
    );
    expect(late.facts).toMatchObject({ serverSentLaterPacket: 4 });
    expect(late.facts.serverSentPacket).toBeUndefined();
    // 31 s after the last SYN says nothing more of it.
    const later = timedOut(inTime(unanswered().packets, [datagram(SERVER, 34)]));
    expect(later.summary).toMatch(/^SYN retries, no answer at all: host down, a firewall dropping the SYN, or a wrong IP \(3 SYNs/);
    expect(later.facts.serverSentLaterPacket).toBeUndefined();
  });

  it('does not take a packet across a clock stepping back: joined recordings', () => {
    // Recording A: the host busy at 1000 to 1010 s. Recording B, joined after it, starts again at 0:
    // SYNs at 1, 2 and 4 s, then a packet of the host at 50 s.
    const a = [1000, 1003, 1006, 1010].map((t) => datagram(SERVER, t));
    const b = conv({ client: '10.0.0.1:51000', server: `${SERVER}:8080` }).client('S', 1).client('S', 2, '', { seq: 0xffff_fff0 }).client('S', 4, '', { seq: 0xffff_fff0 });
    const flow = analyzeFrames([...a, ...b.packets, datagram(SERVER, 50), datagram('10.0.0.7', 70)]).flows.find((f) => f.server === `${SERVER}:8080`)!;
    const v = flow.verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toMatch(/no answer at all: host down/);
  });

  it('does not take a packet from another recording joined after the flow, though a later SYN on the same ports ended the flow', () => {
    // Recording A: SYNs at 100, 101 and 103 s. Recording B, joined after it, starts 9 s earlier: the
    // server's address sends at 101.5 s, and the client's new SYN on the same ports ends A's flow.
    const a = conv({ client: '10.0.0.1:51000', server: `${SERVER}:8080` }).client('S', 100).client('S', 101, '', { seq: 0xffff_fff0 }).client('S', 103, '', { seq: 0xffff_fff0 });
    const b = [datagram('10.0.0.7', 94), datagram(SERVER, 101.5)];
    const next = conv({ client: '10.0.0.1:51000', server: `${SERVER}:8080`, clientIsn: 5000 }).client('S', 110).server('SA', 110.001).client('A', 110.002);
    const flows = analyzeFrames([...a.packets, ...b, ...next.packets, datagram('10.0.0.7', 180)]).flows.filter((f) => f.server === `${SERVER}:8080`);
    const v = flows[0].verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toMatch(/no answer at all: host down/);
  });

  it('reads nothing into a connection to the client\'s own address: its own packets come from there', () => {
    const self = conv({ client: '127.0.0.1:40000', server: '127.0.0.1:8080' }).client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    const chatter = conv({ client: '127.0.0.1:40001', server: '127.0.0.1:9000' }).handshake(-1).client('PA', 2, 'x').server('A', 2.001);
    const flow = analyzeFrames(inTime(self.packets, chatter.packets)).flows.find((f) => f.server === '127.0.0.1:8080')!;
    expect(flow.verdicts.find((x) => x.code === 'syn-timeout')!.summary).toMatch(/no answer at all: host down/);
  });

  it('reads the port-filtered sample: SYNs to a port iptables drops while the same host served a page on another', () => {
    const { flows } = analyzeFile('samples/port-filtered.pcap');
    const [filtered, page] = flows;
    expect(filtered.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
    const v = filtered.verdicts[0];
    // The page's first packet is the client's SYN to 8081; the SYN-ACK after it is the proof.
    const proof = (page as FlowResult).firstPacket + 1;
    expect(v.summary).toMatch(new RegExp(`^SYN retries, no answer, though 10\\.231\\.\\d+\\.\\d+ sent other packets meanwhile \\(#${proof}, between them\\): a firewall dropping SYNs to port 8080`));
    expect(page.verdicts.map((x) => x.code)).toEqual(['clean-close']);
  });
});

corpus2.describe('syn-timeout on a public capture: a Gnutella client behind a VirtualBox NAT', () => {
  it("keeps \"host down\" where the peers' addresses spoke only 1.1 to 10.6 s after the last SYN", () => {
    // tshark: #674 (UDP from 113.252.86.162), #860 and #918 (the NAT's SYN-ACKs in the names of
    // 188.61.52.183 and 80.7.252.192) and #1320 (a Mojito message from 94.54.66.82) come 8.73,
    // 10.5, 10.6 and 1.14 s after the last SYN of flows 28, 55, 57 and 116: something answered at
    // those addresses later, which does not show it was up when the SYNs came.
    const { flows } = analyzeFile(corpus2.path('ndpi/gnutella.pcap'));
    const timeouts = flows.flatMap((f) => f.verdicts.filter((v) => v.code === 'syn-timeout').map((v) => ({ id: f.id, summary: v.summary })));
    expect(timeouts).toHaveLength(65);
    for (const t of timeouts) expect(t.summary).toMatch(/no answer at all: host down/);
    expect(timeouts.filter((t) => [28, 55, 57, 116].includes(t.id))).toHaveLength(4);
  });
});
