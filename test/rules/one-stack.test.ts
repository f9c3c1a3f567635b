// SYN-ACKs and RSTs from many server addresses whose IPv4 IDs continue one counter were sent by one
// device (a user-mode NAT such as VirtualBox's or slirp4netns, a transparent proxy, or, for RSTs
// alone, a firewall rejecting in the servers' names): one capture-level verdict says so, ahead of
// the flow verdicts it qualifies. Each limit of the rule has a case on either side of it.
import { describe, expect, it } from 'vitest';
import { analyzeFile, type AnalysisResult } from '../../src/pipeline.js';
import { groupProblems } from '../../src/report/groups.js';
import { analyzeFrames, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { tcpFrame } from '../helpers/packets.js';

const corpus2 = useCorpus('corpus2');

const GUEST = '10.0.2.15';
const NAT_MAC = '52:54:00:12:35:02';

interface Plan {
  /** Answers in capture order: the server address's index and the answer's IPv4 ID. */
  answers: Array<{ server: number; id: number }>;
  /** RST+ACK refusals only, no SYN-ACK. */
  resetsOnly?: boolean;
  ttl?: number;
  /** The RSTs' TTL, where the device starts them apart from its SYN-ACKs (VirtualBox: 255 and 64). */
  rstTtl?: number;
  /** Packets of another connection between two answers. */
  filler?: number;
  /** The server addresses: one /24 each by default. */
  address?: (server: number) => string;
  client?: string;
}

/**
 * The client connects once per answer; each SYN is answered with a RST+ACK (refused) or, every
 * third one, a SYN-ACK the client completes.
 */
function connects(plan: Plan): ScriptedPacket[] {
  const out: ScriptedPacket[] = [];
  const address = plan.address ?? ((s: number) => `192.0.${s + 2}.1`);
  const client = plan.client ?? GUEST;
  let t = 0;
  plan.answers.forEach(({ server, id }, i) => {
    const syn = { src: client, dst: address(server), sport: 40000 + i, dport: 6346, seq: 1000 * i, ttl: 128 };
    const answer = { src: address(server), dst: client, sport: 6346, dport: 40000 + i, ack: 1000 * i + 1, ttl: plan.ttl ?? 64, ipId: id, srcMac: NAT_MAC };
    out.push({ t, frame: tcpFrame({ ...syn, flags: 'S' }) });
    if (!plan.resetsOnly && i % 3 === 2) {
      out.push({ t: t + 0.004, frame: tcpFrame({ ...answer, seq: 7000, flags: 'SA' }) });
      out.push({ t: t + 0.005, frame: tcpFrame({ ...syn, seq: 1000 * i + 1, ack: 7001, flags: 'A' }) });
    } else out.push({ t: t + 0.004, frame: tcpFrame({ ...answer, seq: 0, flags: 'RA', ttl: plan.rstTtl ?? answer.ttl }) });
    for (let k = 0; k < (plan.filler ?? 0); k++) {
      out.push({ t: t + 0.006 + k * 1e-6, frame: tcpFrame({ src: '10.9.9.9', dst: '10.9.9.8', sport: 5000, dport: 22, seq: 1 + k, ack: 1, flags: 'A', payload: 'x' }) });
    }
    t += 0.05;
  });
  return out;
}

/** `n` answers from `n` addresses, IDs counting up by one. */
const counted = (n: number, from = 0x0282) => Array.from({ length: n }, (_, i) => ({ server: i, id: from + i }));
const oneStack = (r: AnalysisResult) => r.verdicts.filter((v) => v.code === 'one-stack-answers');
const fires = (plan: Plan) => oneStack(analyzeFrames(connects(plan))).length === 1;

describe('answers from many addresses with one IP ID counter', () => {
  it('names every TTL its answers left with when it starts its SYN-ACKs and its RSTs apart (nDPI gnutella: 64 and 255)', () => {
    const [v] = oneStack(analyzeFrames(connects({ answers: counted(12), rstTtl: 255 })));
    expect(v.summary).toContain("A NAT or proxy no router away from the capture point (the answers' TTLs 64 and 255 are as sent) answers for these servers");
    expect(v.facts).toMatchObject({ hops: 0 });
  });

  it('are said to come from a NAT or proxy beside the client, which leads the report', () => {
    const r = analyzeFrames(connects({ answers: counted(12) }));
    const [v, ...more] = oneStack(r);
    expect(more).toHaveLength(0);
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ clientIp: GUEST, addressCount: 12, fits: 11, informativePairs: 11, flows: 12, handshakes: true, hops: 0 });
    expect(v.facts.flowIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(v.summary).toContain(`the SYN-ACKs and RSTs that 12 server addresses (192.0.2.1, 192.0.3.1, 192.0.4.1, 192.0.5.1 and 8 more) sent to ${GUEST} came from one IP stack`);
    expect(v.summary).toContain('#2 from 192.0.2.1 ID 0x0282, then #4 from 192.0.3.1 ID 0x0283');
    expect(v.summary).toContain("A NAT or proxy no router away from the capture point (the answers' TTL 64 is as sent) answers for these servers");
    expect(v.hint).toMatch(/^A device no router away from the capture point completes each handshake itself, and answers with a RST or an ICMP error when its own connection to the server is refused or cannot be made, with nothing while it is still trying/);
    expect(v.packets).toEqual([2, 4]);
    // The refusals are still said of the flows; the capture-level verdict is read first.
    expect(r.flows.filter((f) => f.verdicts.some((x) => x.code === 'refused'))).toHaveLength(8);
    const groups = groupProblems(r.flows, r.verdicts);
    expect(groups[0]!.code).toBe('one-stack-answers');
    expect(groups.slice(1).every((g) => g.code !== 'one-stack-answers')).toBe(true);
  });

  it('two clients behind devices are said in the order of their latest answer', () => {
    // Client A answers first and last: its thirteenth connection comes after all of client B's.
    const a = connects({ answers: counted(13) });
    const lastOfA = a.slice(-2);
    const b = connects({ client: '10.0.3.15', answers: counted(12, 0x1000), address: (s) => `198.51.${s}.1` }).map((p) => ({ ...p, t: p.t + 1 }));
    const packets = [...a.slice(0, -2), ...b, ...lastOfA.map((p) => ({ ...p, t: p.t + 2 }))].sort((x, y) => x.t - y.t);
    const verdicts = oneStack(analyzeFrames(packets));
    expect(verdicts.map((v) => v.summary.match(/sent to (\S+) came/)?.[1])).toEqual(['10.0.3.15', GUEST]);
  });

  it('a counter that steps by the packets the device sent in between still fits', () => {
    expect(fires({ answers: Array.from({ length: 10 }, (_, i) => ({ server: i, id: 100 + 3 * i })) })).toBe(true);
  });

  it('RSTs alone from a device hops away: a firewall or IPS rejecting in the servers\' names, no claim on handshakes', () => {
    const [v] = oneStack(analyzeFrames(connects({ answers: counted(30), resetsOnly: true, ttl: 243 })));
    expect(v.facts).toMatchObject({ handshakes: false, hops: 12 });
    expect(v.summary).toMatch(/^the RSTs that 30 server addresses/);
    expect(v.summary).toContain("One device about 12 hops before the capture point (TTL 243) sent these RSTs in the servers' names");
    expect(v.summary).not.toContain('handshake');
    expect(v.hint).toContain('firewall or intrusion prevention system');
  });

  it('a TTL that fits no initial value within 30 hops tells no distance', () => {
    const [v] = oneStack(analyzeFrames(connects({ answers: counted(12), ttl: 200 })));
    expect(v.facts.hops).toBe(-1);
    expect(v.summary).toContain("at a distance the answers' TTL does not tell (TTL 200)");
  });

  it('each server numbering its own packets is no shared counter', () => {
    const r = analyzeFrames(connects({ answers: Array.from({ length: 12 }, (_, i) => ({ server: i, id: (Math.imul(i + 1, 40503) >>> 3) & 0xffff })) }));
    expect(oneStack(r)).toHaveLength(0);
    expect(r.flows.filter((f) => f.verdicts.some((x) => x.code === 'refused'))).toHaveLength(8);
  });

  it('each server answering several times with its own counter: steps within one address are not counted', () => {
    const answers = [];
    for (let s = 0; s < 5; s++) for (let k = 0; k < 10; k++) answers.push({ server: s, id: ((s * 9973) & 0xffff) + k });
    expect(fires({ answers })).toBe(false);
  });

  it('ID 0 on every answer (a stack that sets DF and no ID) proves nothing', () => {
    expect(fires({ answers: Array.from({ length: 12 }, (_, i) => ({ server: i, id: 0 })) })).toBe(false);
  });

  it('one fixed ID on every answer (a stack that never counts) is no counter', () => {
    expect(fires({ answers: Array.from({ length: 12 }, (_, i) => ({ server: i, id: 0x1234 })) })).toBe(false);
  });

  it('8 steps fit and 7 do not: a counter may continue by chance a few times', () => {
    expect(fires({ answers: counted(9) })).toBe(true);
    expect(fires({ answers: counted(8) })).toBe(false);
  });

  it('5 addresses and not 4: one counter over a handful of addresses may be one host\'s', () => {
    const cycling = (addresses: number) => Array.from({ length: 12 }, (_, i) => ({ server: i % addresses, id: 500 + i }));
    expect(fires({ answers: cycling(5) })).toBe(true);
    expect(fires({ answers: cycling(4) })).toBe(false);
  });

  it('9 in 10 of the steps must fit', () => {
    // 20 answers, 19 steps; each break is an ID far off the counter, which breaks the steps on either side of it.
    const broken = (at: number[]) => counted(20).map((a, i) => (at.includes(i) ? { ...a, id: 0x7000 + i } : a));
    expect(fires({ answers: broken([19]) })).toBe(true); // 18 of 19
    expect(fires({ answers: broken([5, 19]) })).toBe(false); // 16 of 19
  });

  it('answers thousands of packets apart say nothing: any step would fit', () => {
    expect(fires({ answers: counted(12), filler: 2100 })).toBe(false);
    expect(fires({ answers: counted(12), filler: 100 })).toBe(true);
  });

  it('all the addresses in one /24 may be one host holding them: no verdict', () => {
    expect(fires({ answers: counted(12), address: (s) => `10.0.0.${11 + s}`, ttl: 128 })).toBe(false);
  });

  it('a NAT-ed client whose answers come between new clients of one server each keeps its place', () => {
    const packets: ScriptedPacket[] = [];
    let t = 0;
    const add = (plan: Plan) => packets.push(...connects(plan).map((p) => ({ ...p, t: (t += 0.1) })));
    for (let c = 0; c < 64; c++) add({ answers: [{ server: 0, id: 900 + c }], client: `172.16.0.${c + 1}` });
    // Between two of the guest's connections, 40 new clients of the busy server: more than the 64
    // places hold before the guest has answers from 5 addresses, fewer than they hold between two of its answers.
    for (let g = 0; g < 12; g++) {
      add({ answers: [{ server: 0, id: 0x0282 + g }], address: () => `192.0.${g + 2}.1` });
      if (g % 2 === 1) for (let k = 0; k < 40; k++) add({ answers: [{ server: 0, id: 2000 + k }], client: `172.17.${g}.${k + 1}` });
    }
    expect(oneStack(analyzeFrames(packets))).toHaveLength(1);
  });

  it('a NAT-ed client is found after 64 clients of a busy server took the places', () => {
    const busy: ScriptedPacket[] = [];
    for (let c = 0; c < 64; c++) busy.push(...connects({ answers: [{ server: 0, id: 900 + c }], client: `172.16.0.${c + 1}` }).map((p) => ({ ...p, t: p.t + c * 0.1 })));
    const guest = connects({ answers: counted(12) }).map((p) => ({ ...p, t: p.t + 10 }));
    expect(oneStack(analyzeFrames([...busy, ...guest]))).toHaveLength(1);
  });
});

describe('public captures', () => {
  corpus2.it('nDPI gnutella.pcap: a VirtualBox guest behind its user-mode NAT, every remote peer answered by the NAT', () => {
    const r = analyzeFile(corpus2.path('ndpi/gnutella.pcap'));
    const [v, ...more] = oneStack(r);
    expect(more).toHaveLength(0);
    expect(v.facts).toMatchObject({ clientIp: '10.0.2.15', handshakes: true, hops: 0 });
    expect(v.facts.addressCount).toBeGreaterThanOrEqual(60);
    // tshark: #166 from 45.65.87.24 ID 0x0282 and #167 from 89.75.52.19 ID 0x0283, both from MAC 52:54:00:12:35:02, TTL 64.
    expect(v.packets).toEqual([166, 167]);
    expect(v.facts.fits).toBe(v.facts.informativePairs);
  });
});
