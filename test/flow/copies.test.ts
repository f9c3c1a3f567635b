// Packets a capture holds twice (tcpdump -i any on a host with a bridge, a SPAN port fed from both
// sides of a router) are copies, not retransmissions: one capture-level verdict says so and the
// retransmission and SYN-retry verdicts leave them out, while the per-segment analysis still counts
// them as Wireshark and Zeek do.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile, type AnalysisResult } from '../../src/pipeline.js';
import { analyzeConversation, analyzeFrames, conv, type ScriptedPacket } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { canCapture, removeCaptureDirs, runCaptureScenario } from '../helpers/traffic.js';
import { wireSegments, type WireSegment } from '../helpers/wire.js';
import { tcpFrame } from '../helpers/packets.js';

const SAMPLE = fileURLToPath(new URL('../../samples/captured-twice.pcap', import.meta.url));
const corpus = useCorpus();

afterAll(removeCaptureDirs);

const codes = (r: AnalysisResult) => r.flows.map((f) => f.verdicts.map((v) => v.code));
const capturedTwice = (r: AnalysisResult) => r.verdicts.find((v) => v.code === 'captured-twice');

/** Segments whose sender, sequence and ACK numbers, flags and length equal that sender's previous segment. */
function repeatsOnTheWire(segments: WireSegment[]): number {
  const last = new Map<string, WireSegment>();
  let n = 0;
  for (const s of segments) {
    const p = last.get(s.sender);
    if (p && p.seq === s.seq && p.flags === s.flags && p.payloadLen === s.payloadLen) n++;
    last.set(s.sender, s);
  }
  return n;
}

describe('a Docker-style bridge captured with tcpdump -i any', () => {
  const check = (file: string) => {
    const r = analyzeFile(file);
    const wire = wireSegments(file);
    expect(r.flows).toHaveLength(1);
    // Half the packets repeat the one before them; nothing else went wrong.
    expect(repeatsOnTheWire(wire)).toBe(wire.length / 2);
    expect(codes(r)).toEqual([['clean-close']]);
    const v = capturedTwice(r)!;
    expect(v.severity).toBe('info');
    expect(v.facts).toMatchObject({ copies: wire.length / 2, packets: wire.length, flows: 1, ttlChange: 0 });
    expect(v.hint).toContain('tcpdump -i any');
    // The analysis still counts the copies as Wireshark does; only the verdicts discount them.
    expect(r.flows[0]!.syns).toHaveLength(1);
    expect(r.flows[0]!.synAcks).toHaveLength(1);
    expect(r.flows[0]!.clientSide.copies!.packets + r.flows[0]!.serverSide.copies!.packets).toBe(wire.length / 2);
  };

  it('the bundled sample', () => check(SAMPLE));

  it.skipIf(!canCapture())('a fresh capture (bridge and veth in a namespace, python server and client)', async () => {
    const run = await runCaptureScenario('captured-twice');
    check(run.file);
  });
});

describe('corpus captures holding packets twice', () => {
  corpus.it('Practical Packet Analysis double-vision.pcap: every frame seen on both sides of a router', () => {
    const r = analyzeFile(corpus.path('ppa/ppa1e/double-vision.pcap'));
    const v = capturedTwice(r)!;
    expect(v.facts).toMatchObject({ copies: 4, packets: 8, ttlChange: -1 });
    expect(v.summary).toContain("the copy's TTL 1 lower: it crossed a router");
    // One SYN refused, not a SYN tried twice.
    const refused = r.flows.flatMap((f) => f.verdicts).find((x) => x.code === 'refused')!;
    expect(refused.facts.syns).toBe(1);
    expect(refused.summary).not.toContain('tried');
    // tshark: SYN #5 (TTL 128) at 15.001667 s, its copy #6 (TTL 127) at 15.086461 s, RST #7 (TTL 128)
    // at 15.086601 s: the server answered the copy in 0.14 ms; #5 to #7 (85 ms) pairs two capture points.
    expect(refused.summary).toContain('SYN #5, captured again as #6 85 ms later, answered by RST #7 in 0.14 ms');
    expect(refused.facts.answerMs).toBe(0.14);
  });

  corpus.it("Zeek's ssh-dups.pcap: duplicates both ways are no retransmission problem, and Zeek's history is kept", () => {
    const r = analyzeFile(corpus.path('zeek/tcp/ssh-dups.pcap'));
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0]!.history).toBe('ShADTadtTtFf');
    expect(codes(r)).toEqual([['clean-close']]);
    expect(capturedTwice(r)!.facts.copies).toBeGreaterThan(150);
  });

  it('a real loss is still a retransmission: samples/lossy-transfer.pcap has no copies', () => {
    const r = analyzeFile(fileURLToPath(new URL('../../samples/lossy-transfer.pcap', import.meta.url)));
    expect(capturedTwice(r)).toBeUndefined();
    expect(r.flows[0]!.verdicts.map((v) => v.code)).toContain('retransmission');
  });
});

describe('what counts as a copy', () => {
  /** A handshake and one data segment; `resend` adds the data segment again at `after` s with the IP ID given. */
  function transfer(opts: { ipv6?: boolean; resend?: { after: number; ipId: 'same' | 'new' }; bareAckTwice?: number }): ScriptedPacket[] {
    const c = conv(opts.ipv6 ? { client: '[2001:db8::1]:51000', server: '[2001:db8::2]:80' } : {}).handshake(0);
    c.client('PA', 0.01, 'x'.repeat(100));
    const data = c.packets[c.packets.length - 1]!;
    const packets = [...c.packets];
    if (opts.resend) {
      const copy = opts.resend.ipId === 'same' ? data.frame : reId(data.frame);
      packets.push({ frame: copy, t: 0.01 + opts.resend.after });
    }
    if (opts.bareAckTwice !== undefined) {
      const ack = c.packets[2]!; // the client's handshake ACK
      packets.push({ frame: ack.frame, t: 0.002 + opts.bareAckTwice });
    }
    return packets.sort((a, b) => a.t - b.t);
  }

  /** The frame with another IPv4 ID (the checksum is not verified by default). */
  function reId(frame: ScriptedPacket['frame']): ScriptedPacket['frame'] {
    const bytes = new Uint8Array(frame.bytes);
    bytes[14 + 4] = (bytes[14 + 4]! + 1) & 0xff;
    return { ...frame, bytes };
  }

  const copiesOf = (r: AnalysisResult) => r.flows[0]!.clientSide.copies?.packets ?? 0;

  it('the same IPv4 ID up to 500 ms later is a copy (a SPAN behind a slow router); 600 ms later it is resent', () => {
    expect(copiesOf(analyzeFrames(transfer({ resend: { after: 0.3, ipId: 'same' } })))).toBe(1);
    expect(copiesOf(analyzeFrames(transfer({ resend: { after: 0.6, ipId: 'same' } })))).toBe(0);
  });

  it('a new IPv4 ID is a retransmission however soon', () => {
    const r = analyzeFrames(transfer({ resend: { after: 0.0001, ipId: 'new' } }));
    expect(copiesOf(r)).toBe(0);
    expect(r.flows[0]!.verdicts.map((v) => v.code)).toContain('retransmission');
  });

  it('IPv6 has no ID: a data segment repeated within 1 ms is a copy, later it is resent', () => {
    expect(copiesOf(analyzeFrames(transfer({ ipv6: true, resend: { after: 0.0005, ipId: 'same' } })))).toBe(1);
    const later = analyzeFrames(transfer({ ipv6: true, resend: { after: 0.2, ipId: 'same' } }));
    expect(copiesOf(later)).toBe(0);
    expect(later.flows[0]!.verdicts.map((v) => v.code)).toContain('retransmission');
  });

  it('IPv6: a bare ACK repeated within 1 ms is a duplicate ACK the receiver sent, not a copy', () => {
    expect(copiesOf(analyzeFrames(transfer({ ipv6: true, bareAckTwice: 0.0005 })))).toBe(0);
  });
});

describe('packets Linux sends alike with IP ID 0', () => {
  it('an RST from a closed socket for each segment that reaches it: the peer\'s packet between two of them makes them two', () => {
    // curl gave up a download: its closed socket resets each data segment still arriving.
    const c = conv().handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\n\r\n').server('A', 0.003).client('FA', 1.6);
    const rst = { seq: c.c.next, ipId: 0 };
    c.server('PA', 1.6001, 'x'.repeat(1000)).client('R', 1.6002, '', rst).server('PA', 1.6003, 'x'.repeat(1000)).client('R', 1.6004, '', rst);
    const r = analyzeConversation(c);
    expect(capturedTwice(r)).toBeUndefined();
    expect(r.flows[0]!.clientSide.copies).toBeNull();
  });

  it('a SYN-ACK its timer re-sent beside the one answering the client\'s retried SYN: two SYN-ACKs, not one captured twice', () => {
    const synAck = { seq: 0xffff_ff00, ipId: 0 };
    const c = conv().client('S', 0).server('SA', 0.00003, '', synAck).client('S', 1.015, '', { seq: 0xffff_fff0 }).server('SA', 1.01503, '', synAck).server('SA', 1.01505, '', synAck);
    const r = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(4));
    expect(capturedTwice(r)).toBeUndefined();
    const f = r.flows.find((x) => x.client === '10.0.0.1:51000')!;
    expect(f.verdicts.find((v) => v.code === 'synack-retry')!.summary).toMatch(/^server re-sent its SYN-ACK 1 time \(#2, #4, #5; 1 other answered the client's repeated SYN\)/);
  });

  it('the same SYN-ACK twice with no retried SYN before it is still a copy', () => {
    const synAck = { seq: 0xffff_ff00, ipId: 0 };
    const c = conv().client('S', 0).client('S', 0.00001, '', { seq: 0xffff_fff0, ipId: 0x1000 }).server('SA', 0.00003, '', synAck).server('SA', 0.00004, '', synAck);
    expect(capturedTwice(analyzeConversation(c))).toBeDefined();
  });
});

describe('a refusal timed at one capture point', () => {
  it('a SYN captured on both sides of a router: the RST is timed from the copy the server side saw', () => {
    const syn = { src: '10.1.0.5', dst: '10.2.0.9', sport: 1093, dport: 424, seq: 3349592343, flags: 'S', ipId: 0x043f };
    const rst = { src: '10.2.0.9', dst: '10.1.0.5', sport: 424, dport: 1093, seq: 0, ack: 3349592344, flags: 'RA', ipId: 0xaca8 };
    const r = analyzeFrames([
      { t: 0, frame: tcpFrame({ ...syn, ttl: 128 }) },
      { t: 0.085, frame: tcpFrame({ ...syn, ttl: 127 }) },
      { t: 0.08514, frame: tcpFrame({ ...rst, ttl: 128 }) },
      { t: 0.1, frame: tcpFrame({ ...rst, ttl: 127 }) },
    ]);
    const refused = r.flows[0]!.verdicts.find((v) => v.code === 'refused')!;
    expect(refused.summary).toContain('(SYN #1, captured again as #2 85 ms later, answered by RST #3 in 0.14 ms)');
    expect(refused.facts).toMatchObject({ syns: 1, synPacket: 1, rstPacket: 3, answerMs: 0.14, answerFromPacket: 2 });
    expect(refused.packets).toEqual([1, 2, 3]);
  });

  it('a copy captured nearer the client (a higher TTL) is not the one the server answered: the RST is timed from the first', () => {
    const syn = { src: '10.1.0.5', dst: '10.2.0.9', sport: 1093, dport: 424, seq: 3349592343, flags: 'S', ipId: 0x043f };
    const rst = { src: '10.2.0.9', dst: '10.1.0.5', sport: 424, dport: 1093, seq: 0, ack: 3349592344, flags: 'RA', ipId: 0xaca8 };
    const refusedOf = (packets: ScriptedPacket[]) => analyzeFrames(packets).flows[0]!.verdicts.find((v) => v.code === 'refused')!;
    const nearerClient = refusedOf([
      { t: 0, frame: tcpFrame({ ...syn, ttl: 127 }) },
      { t: 0.001, frame: tcpFrame({ ...syn, ttl: 128 }) },
      { t: 0.002, frame: tcpFrame({ ...rst, ttl: 64 }) },
    ]);
    expect(nearerClient.summary).toContain('(SYN #1 answered by RST #3 in 2.0 ms)');
    // A copy of an earlier SYN than the one the RST answers is no copy of that one.
    const earlierCopied = refusedOf([
      { t: 0, frame: tcpFrame({ ...syn, ttl: 128 }) },
      { t: 0.085, frame: tcpFrame({ ...syn, ttl: 127 }) },
      { t: 1, frame: tcpFrame({ ...syn, ttl: 128, ipId: 0x0440 }) },
      { t: 1.002, frame: tcpFrame({ ...rst, ttl: 64 }) },
    ]);
    expect(earlierCopied.summary).toContain('answered by RST #4 in 2.0 ms');
    expect(earlierCopied.facts.answerFromPacket).toBeUndefined();
  });

  it('a SYN captured once is timed from itself', () => {
    const r = analyzeFrames([
      { t: 0, frame: tcpFrame({ src: '10.1.0.5', dst: '10.2.0.9', sport: 1093, dport: 424, seq: 5, flags: 'S' }) },
      { t: 0.002, frame: tcpFrame({ src: '10.2.0.9', dst: '10.1.0.5', sport: 424, dport: 1093, seq: 0, ack: 6, flags: 'RA' }) },
    ]);
    const refused = r.flows[0]!.verdicts.find((v) => v.code === 'refused')!;
    expect(refused.summary).toContain('(SYN #1 answered by RST #2 in 2.0 ms)');
  });
});
