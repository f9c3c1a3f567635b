import { describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeFrames, conv, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { udpFrame } from '../helpers/packets.js';

const corpus2 = useCorpus('corpus2');

// SYNs nobody answered say "host down" only when the capture shows nothing of the server's host:
// a host that sent other packets while they went unanswered, or soon after, was up, and the port is
// filtered. A TCP RST in its name proves nothing (a firewall in front sends those).

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

describe('syn-timeout when the server host was up', () => {
  it('names the packet of the host between the SYNs: the port is filtered, not the host down', () => {
    const v = timedOut(inTime(unanswered().packets, served(1.5).packets));
    expect(v.summary).toBe(
      'SYN retries, no answer, though 10.0.0.2 was up (it sent #4 between them): a firewall dropping SYNs to port 8080, or a listener too busy to answer (3 SYNs #1, #2, #11 over 3.00 s; retries after 1.00 s, 2.00 s (1 s doubling: Linux))',
    );
    expect(v.facts).toMatchObject({ serverUpPacket: 4 });
    expect(v.hint).toMatch(/^The host was up and the address is right/);
  });

  it('names the first packet after the last SYN, up to 30 s after it', () => {
    const v = timedOut(inTime(unanswered().packets, [datagram(SERVER, 12), datagram(SERVER, 20)]));
    expect(v.summary).toMatch(/^SYN retries, no answer, though 10\.0\.0\.2 was up \(it sent #4 9\.00 s after the last SYN\): a firewall dropping SYNs to port 8080/);
  });

  it('finds that first packet after the SYNs though the host went quiet and spoke again before the flow was judged', () => {
    // Runs of packets 5 s apart and more: the first run after the SYNs is the proof, not the last.
    const v = timedOut(inTime(unanswered().packets, [datagram(SERVER, 5), datagram(SERVER, 20), datagram(SERVER, 40)]));
    expect(v.summary).toMatch(/\(it sent #4 2\.00 s after the last SYN\)/);
  });

  it('says the host sent packets at most 5 s apart from before the first SYN on, when it did', () => {
    const chatter = [-4, -1, 2, 6, 9].map((t) => datagram(SERVER, t));
    const v = timedOut(inTime(unanswered().packets, chatter));
    expect(v.summary).toMatch(/^SYN retries, no answer, though 10\.0\.0\.2 was up \(it sent packets at most 5\.00 s apart from #1, before the first SYN, to #8, 6\.00 s after the last SYN\)/);
    expect(v.facts).toMatchObject({ serverUpPacket: 8, serverUpSincePacket: 1 });
  });

  it('keeps "host down" when the host was seen only before the SYNs, more than 30 s after the last, or only in RSTs', () => {
    const before = timedOut(inTime(unanswered().packets, [datagram(SERVER, -10)]));
    const late = timedOut(inTime(unanswered().packets, [datagram(SERVER, 40)]));
    // Port 8082 of the host refused a SYN: an RST a firewall could have sent in its name.
    const refused = conv({ client: '10.0.0.1:51002', server: `${SERVER}:8082` }).client('S', 1.5).server('RA', 1.5001, '', { seq: 0 });
    const rst = timedOut(inTime(unanswered().packets, refused.packets));
    const other = timedOut(inTime(unanswered().packets, [datagram('10.0.0.3', 2)]));
    for (const v of [before, late, rst, other]) {
      expect(v.summary).toMatch(/^SYN retries, no answer at all: host down, a firewall dropping the SYN, or a wrong IP/);
      expect(v.facts.serverUpPacket).toBeUndefined();
    }
  });

  it('reads the port-filtered sample: SYNs to a port iptables drops while the same host served a page on another', () => {
    const { flows } = analyzeFile('samples/port-filtered.pcap');
    const [filtered, page] = flows;
    expect(filtered.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
    const v = filtered.verdicts[0];
    const firstOfPage = (page as FlowResult).firstPacket;
    expect(v.summary).toMatch(new RegExp(`^SYN retries, no answer, though 10\\.231\\.\\d+\\.\\d+ was up \\(it sent #${firstOfPage + 1} between them\\): a firewall dropping SYNs to port 8080`));
    expect(page.verdicts.map((v) => v.code)).toEqual(['clean-close']);
  });
});

corpus2.describe('syn-timeout on a public capture: a Gnutella client behind a VirtualBox NAT', () => {
  it('says host up for the four peers that answered the client on other ports or over UDP, and host down for the rest', () => {
    const { flows } = analyzeFile(corpus2.path('ndpi/gnutella.pcap'));
    const timeouts = flows.flatMap((f) => f.verdicts.filter((v) => v.code === 'syn-timeout').map((v) => ({ id: f.id, summary: v.summary })));
    const up = timeouts.filter((t) => / was up /.test(t.summary));
    // tshark: #674 a UDP answer from 113.252.86.162, #918 and #860 SYN-ACKs from 80.7.252.192:6888 and 188.61.52.183:11852, #1320 a Mojito (UDP) message from 94.54.66.82.
    expect(up.map((t) => [t.id, /\(it sent (#\d+ [^)]*)\)/.exec(t.summary)![1]]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
      [28, '#674 8.73 s after the last SYN'],
      [55, '#860 10.5 s after the last SYN'],
      [57, '#918 10.6 s after the last SYN'],
      [116, '#1320 1.14 s after the last SYN'],
    ]);
    expect(timeouts.length - up.length).toBe(61);
    for (const t of timeouts) if (!up.includes(t)) expect(t.summary).toMatch(/no answer at all: host down/);
  });
});
