// SYN-ACKs and RSTs from many server addresses whose IPv4 IDs continue one counter were sent by one
// device in front of the client (a user-mode NAT such as VirtualBox's or slirp4netns, a transparent
// proxy): one capture-level verdict says so, ahead of the flow verdicts it qualifies.
import { describe, expect, it } from 'vitest';
import { analyzeFile, type AnalysisResult } from '../../src/pipeline.js';
import { groupProblems } from '../../src/report/groups.js';
import { analyzeFrames, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { tcpFrame } from '../helpers/packets.js';

const corpus2 = useCorpus('corpus2');

const GUEST = '10.0.2.15';
const NAT_MAC = '52:54:00:12:35:02';

/**
 * The guest connects to `servers` addresses in turn; each SYN is answered with a RST+ACK (refused)
 * or, every third one, a SYN-ACK the guest completes, carrying the IP ID `idOf(i)`.
 */
function connects(servers: number, idOf: (i: number) => number): ScriptedPacket[] {
  const out: ScriptedPacket[] = [];
  for (let i = 0; i < servers; i++) {
    const server = `198.51.100.${i + 1}`;
    const t = i * 0.05;
    const syn = { src: GUEST, dst: server, sport: 40000 + i, dport: 6346, seq: 1000 * i, ttl: 128 };
    const answer = { src: server, dst: GUEST, sport: 6346, dport: 40000 + i, ack: 1000 * i + 1, ttl: 64, ipId: idOf(i), srcMac: NAT_MAC };
    out.push({ t, frame: tcpFrame({ ...syn, flags: 'S' }) });
    if (i % 3 === 2) {
      out.push({ t: t + 0.004, frame: tcpFrame({ ...answer, seq: 7000, flags: 'SA' }) });
      out.push({ t: t + 0.005, frame: tcpFrame({ ...syn, seq: 1000 * i + 1, ack: 7001, flags: 'A' }) });
    } else out.push({ t: t + 0.004, frame: tcpFrame({ ...answer, seq: 0, flags: 'RA' }) });
  }
  return out;
}

const oneStack = (r: AnalysisResult) => r.verdicts.filter((v) => v.code === 'one-stack-answers');

describe('answers from many addresses with one IP ID counter', () => {
  it('are said to come from one device in front of the client, which leads the report', () => {
    const r = analyzeFrames(connects(12, (i) => 0x0282 + i));
    const [v, ...more] = oneStack(r);
    expect(more).toHaveLength(0);
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ clientIp: GUEST, addressCount: 12, fits: 11, informativePairs: 11, flows: 12 });
    expect(v.summary).toContain(`sent to ${GUEST} came from one IP stack`);
    expect(v.summary).toContain('#2 from 198.51.100.1 ID 0x0282, then #4 from 198.51.100.2 ID 0x0283');
    expect(v.packets).toEqual([2, 4]);
    // The refusals are still said of the flows; the capture-level verdict is read first.
    expect(r.flows.filter((f) => f.verdicts.some((x) => x.code === 'refused'))).toHaveLength(8);
    const groups = groupProblems(r.flows, r.verdicts);
    expect(groups[0]!.code).toBe('one-stack-answers');
    expect(groups.slice(1).every((g) => g.code !== 'one-stack-answers')).toBe(true);
  });

  it('a counter that steps by the packets the device sent in between still fits', () => {
    // Between two answers the device sent others the guest received (data of other connections).
    const r = analyzeFrames(connects(10, (i) => 100 + 3 * i));
    expect(oneStack(r)).toHaveLength(1);
  });

  it('each server numbering its own packets is no shared counter', () => {
    const r = analyzeFrames(connects(12, (i) => (Math.imul(i + 1, 40503) >>> 3) & 0xffff));
    expect(oneStack(r)).toHaveLength(0);
    expect(r.flows.filter((f) => f.verdicts.some((x) => x.code === 'refused'))).toHaveLength(8);
  });

  it('ID 0 on every answer (a stack that sets DF and no ID) proves nothing', () => {
    expect(oneStack(analyzeFrames(connects(12, () => 0)))).toHaveLength(0);
  });

  it('too few addresses prove nothing: a counter may continue by chance', () => {
    expect(oneStack(analyzeFrames(connects(4, (i) => 500 + i)))).toHaveLength(0);
  });
});

describe('public captures', () => {
  corpus2.it('nDPI gnutella.pcap: a VirtualBox guest behind its user-mode NAT, every remote peer answered by the NAT', () => {
    const r = analyzeFile(corpus2.path('ndpi/gnutella.pcap'));
    const [v, ...more] = oneStack(r);
    expect(more).toHaveLength(0);
    expect(v.facts.clientIp).toBe('10.0.2.15');
    expect(v.facts.addressCount).toBeGreaterThanOrEqual(60);
    // tshark: #166 from 45.65.87.24 ID 0x0282 and #167 from 89.75.52.19 ID 0x0283, both from MAC 52:54:00:12:35:02.
    expect(v.packets).toEqual([166, 167]);
    expect(v.facts.fits).toBe(v.facts.informativePairs);
  });
});
