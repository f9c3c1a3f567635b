// Per-segment classification, one scripted conversation per Wireshark class. Every script is also
// written to a pcap and, when tshark is installed, tshark must flag exactly the same packets.
// Default ISNs sit just below 2^32, so every data exchange here crosses the sequence wrap.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { SegmentKind, TcpAnalysisFacts } from '../../src/flow/analysis.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { hasTool } from '../helpers/tools.js';

const BASE_MICROS = 1_700_000_000_000_000;
const HAVE_TSHARK = hasTool('tshark');
const corpus2WithTshark = useCorpus('corpus2', { tools: ['tshark'] });
/** ACK RTT samples of the server's data in the two-at-a-time test, as tshark counts them. */
const SERVER_ACK_RTT_SAMPLES = 34;

const TSHARK_FLAG: Record<string, SegmentKind[]> = {
  retransmission: ['retransmission', 'fast-retransmission', 'spurious-retransmission'],
  fast_retransmission: ['fast-retransmission'],
  spurious_retransmission: ['spurious-retransmission'],
  out_of_order: ['out-of-order'],
  lost_segment: ['lost-segment'],
  ack_lost_segment: ['ack-lost-segment'],
  duplicate_ack: ['duplicate-ack'],
  zero_window: ['zero-window'],
  zero_window_probe: ['zero-window-probe'],
  zero_window_probe_ack: ['zero-window-probe-ack'],
  window_full: ['window-full'],
  window_update: ['window-update'],
  keep_alive: ['keep-alive'],
  keep_alive_ack: ['keep-alive-ack'],
  reused_ports: ['reused-ports'],
};

function analyze(...convs: Conversation[]) {
  const packets = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
  const result = analyzeFrames(packets);
  const flows = result.flows;
  /** Packet numbers marked with `kind`, over all flows. */
  const marked = (kind: SegmentKind) => flows.flatMap((f) => f.analysis?.marks.filter((m) => m.kinds.includes(kind)).map((m) => m.no) ?? []).sort((a, b) => a - b);
  const a = flows[0].analysis as TcpAnalysisFacts;
  const pcap = toPcap(packets.map((p) => ({ tsMicros: BASE_MICROS + Math.round(p.t * 1e6), data: p.frame.bytes })));
  return { result, flows, a, marked, pcap };
}

/** tshark (one PDML pass) flags exactly the packets we mark, for every flag. */
async function expectSameAsTshark(pcap: Uint8Array, marked: (k: SegmentKind) => number[], name: string): Promise<void> {
  if (!HAVE_TSHARK) return;
  const file = writeTempCapture(pcap, `${name}.pcap`);
  const { stdout } = await promisify(execFile)('tshark', ['-r', file, '-T', 'pdml'], { maxBuffer: 64 << 20 });
  const theirs: Record<string, number[]> = {};
  for (const packet of stdout.split('<packet>').slice(1)) {
    const no = Number(/name="frame.number"[^>]*show="(\d+)"/.exec(packet)?.[1]);
    const flags = new Set([...packet.matchAll(/name="tcp\.analysis\.([a-z_]+)"/g)].map((m) => m[1]));
    for (const flag of flags) (theirs[flag] ??= []).push(no);
  }
  for (const [flag, kinds] of Object.entries(TSHARK_FLAG)) {
    const ours = [...new Set(kinds.flatMap((k) => marked(k)))].sort((x, y) => x - y);
    expect(ours, `${name}: tcp.analysis.${flag}`).toEqual(theirs[flag] ?? []);
  }
}

describe('per-segment TCP analysis (Wireshark rules)', () => {
  it('flags a segment sent again after a timeout as a retransmission and measures its RTO', async () => {
    const c = conv().handshake(0, 0.01);
    c.client('PA', 0.02, 'x'.repeat(100)); // #4: crosses the sequence wrap
    c.client('PA', 0.22, 'x'.repeat(100), { seq: (0xffff_fff0 + 1) >>> 0 }); // #5: same bytes 200 ms later
    c.server('A', 0.23);
    const { a, marked, pcap } = analyze(c);
    expect(marked('retransmission')).toEqual([5]);
    expect(a.retransmission).toBe(1);
    expect(a.client.retransmission).toBe(1);
    expect(a.client.bytesResent).toBe(100);
    expect(a.rto).toMatchObject({ samples: 1, worstMs: 200, worstPacket: 5, originalPacket: 4 });
    expect(a.marks.find((m) => m.no === 5)).toMatchObject({ from: 'client', rtoMs: 200, rtoOf: 4 });
    await expectSameAsTshark(pcap, marked, 'retransmission');
  });

  it('numbers duplicate ACKs and calls the resend within 20 ms of the last one a fast retransmission', async () => {
    const c = conv().handshake(0, 0.01);
    const first = c.s.next;
    c.server('A', 0.02, 'a'.repeat(100)); // #4 (lost on its way to the client)
    c.server('A', 0.021, 'b'.repeat(100)); // #5
    c.client('A', 0.03, '', { ack: first }); // #6 still acks up to #4
    c.server('A', 0.031, 'c'.repeat(100)); // #7
    c.client('A', 0.032, '', { ack: first, options: { sack: [[(first + 100) >>> 0, (first + 200) >>> 0]] } }); // #8 dup #1 with SACK
    c.client('A', 0.033, '', { ack: first, options: { sack: [[(first + 100) >>> 0, (first + 300) >>> 0]] } }); // #9 dup #2
    c.server('A', 0.04, 'a'.repeat(100), { seq: first }); // #10 fast retransmission
    c.client('A', 0.05); // #11 acks everything
    const { a, marked, pcap } = analyze(c);
    // #6 repeats the handshake ACK #3: it is already duplicate #1.
    expect(marked('duplicate-ack')).toEqual([6, 8, 9]);
    expect(a.marks.filter((m) => m.kinds.includes('duplicate-ack')).map((m) => m.dupAckNo)).toEqual([1, 2, 3]);
    expect(marked('fast-retransmission')).toEqual([10]);
    expect(a.fastRetransmission).toBe(1);
    // tshark shows tcp.analysis.retransmission on fast retransmissions too.
    expect(a.retransmission).toBe(1);
    await expectSameAsTshark(pcap, marked, 'fast-retransmission');
  });

  it('calls a resend of bytes the peer already acknowledged spurious', async () => {
    const c = conv().handshake(0, 0.01);
    const seq = c.c.next;
    c.client('PA', 0.02, 'q'.repeat(50)); // #4
    c.server('A', 0.03); // #5 acks it
    c.client('PA', 0.5, 'q'.repeat(50), { seq }); // #6 sent again anyway
    const { a, marked, pcap } = analyze(c);
    expect(marked('spurious-retransmission')).toEqual([6]);
    expect(a.spuriousRetransmission).toBe(1);
    expect(a.retransmission).toBe(1);
    await expectSameAsTshark(pcap, marked, 'spurious');
  });

  it('calls an earlier segment arriving within the handshake RTT out-of-order, and the jump before it a lost segment', async () => {
    const c = conv().handshake(0, 0.01);
    const seq = c.c.next;
    c.c.next = (seq + 100) >>> 0;
    c.client('A', 0.02, 'B'.repeat(100)); // #4 second segment first: previous segment not captured
    c.client('A', 0.021, 'A'.repeat(100), { seq }); // #5 the first one, 1 ms later (< iRTT 10 ms)
    c.server('A', 0.03); // #6
    const { a, marked, pcap } = analyze(c);
    expect(marked('lost-segment')).toEqual([4]);
    expect(marked('out-of-order')).toEqual([5]);
    expect(a.outOfOrder).toBe(1);
    expect(a.retransmission).toBe(0);
    await expectSameAsTshark(pcap, marked, 'out-of-order');
  });

  it('reports an ACK for bytes never seen as ACKed unseen segment, once', async () => {
    const c = conv().handshake(0, 0.01);
    c.server('A', 0.02, 'z'.repeat(100)); // #4
    c.s.next = (c.s.next + 300) >>> 0; // 300 bytes the capture missed
    c.client('A', 0.03); // #5 acks them
    c.client('A', 0.04); // #6 same ACK again
    const { a, marked, pcap } = analyze(c);
    expect(marked('ack-lost-segment')).toEqual([5]);
    expect(a.ackLostSegment).toBe(1);
    await expectSameAsTshark(pcap, marked, 'ack-lost');
  });

  it('follows a zero window: probes, probe ACKs, then the window update that reopens it', async () => {
    const c = conv().handshake(0, 0.01);
    c.client('PA', 0.02, 'd'.repeat(1000)); // #4
    c.server('A', 0.03, '', { window: 0 }); // #5 zero window
    const probeSeq = c.c.next;
    c.client('A', 0.23, 'p', { seq: probeSeq }); // #6 one-byte probe
    c.server('A', 0.231, '', { window: 0 }); // #7 probe ACK, still zero
    c.client('A', 0.63, 'p', { seq: probeSeq }); // #8 probe again
    c.server('A', 0.631, '', { window: 0 }); // #9
    c.server('A', 1.0, '', { window: 4096 }); // #10 window update
    const { a, marked, pcap } = analyze(c);
    expect(marked('zero-window')).toEqual([5, 7, 9]);
    expect(marked('zero-window-probe')).toEqual([6, 8]);
    expect(marked('zero-window-probe-ack')).toEqual([7, 9]);
    expect(marked('window-update')).toEqual([10]);
    expect(a.server.zeroWindowEpisodes).toMatchObject({ episodes: 1, firstPacket: 5, longestMs: 970, stillClosed: false, reopenedPacket: 10, probes: 2 });
    await expectSameAsTshark(pcap, marked, 'zero-window');
  });

  it('uses the handshake window scale for window full, and never scales the SYN window', async () => {
    const c = conv();
    c.client('S', 0, '', { options: { mss: 1460, wscale: 7 } });
    c.server('SA', 0.005, '', { window: 1000, options: { mss: 1460, wscale: 2 } });
    c.client('A', 0.01, '', { window: 1000 }); // #3
    c.client('PA', 0.02, 'w'.repeat(1000)); // #4 fills the server's unscaled SYN-ACK window: full
    c.server('A', 0.03, '', { window: 250 }); // #5 scaled: 250 << 2 = 1000 bytes
    c.client('PA', 0.04, 'w'.repeat(1000)); // #6 exactly to the right edge again: full
    c.server('A', 0.05, '', { window: 250 }); // #7
    c.client('PA', 0.06, 'w'.repeat(999)); // #8 one byte short: not full
    const { a, marked, pcap } = analyze(c);
    expect(marked('window-full')).toEqual([4, 6]);
    expect(a.windowFull).toBe(2);
    await expectSameAsTshark(pcap, marked, 'window-full');
  });

  it('never reports window full without a handshake: the scale is unknown', async () => {
    const c = conv();
    c.server('A', 0, '', { window: 10 }); // mid-stream: window 10 << unknown
    c.client('PA', 0.01, 'y'.repeat(10)); // would be full if the window were unscaled
    const { a, marked, pcap } = analyze(c);
    expect(a.windowFull).toBe(0);
    await expectSameAsTshark(pcap, marked, 'no-handshake');
  });

  it('recognises keep-alives one byte before the next sequence number, and their ACKs', async () => {
    const c = conv().handshake(0, 0.01);
    c.client('PA', 0.02, 'hello'); // #4
    c.server('A', 0.03); // #5
    const ka = (c.c.next - 1) >>> 0;
    c.client('A', 45, '', { seq: ka }); // #6 keep-alive after 45 s
    c.server('A', 45.001); // #7 keep-alive ACK
    c.client('A', 90, 'k', { seq: ka }); // #8 one-byte keep-alive (Windows style)
    c.server('A', 90.001); // #9
    const { a, marked, pcap } = analyze(c);
    expect(marked('keep-alive')).toEqual([6, 8]);
    expect(marked('keep-alive-ack')).toEqual([7, 9]);
    expect(a.retransmission).toBe(0);
    expect(a.idle).toMatchObject({ longestMs: 44999, fromPacket: 7, toPacket: 8 });
    await expectSameAsTshark(pcap, marked, 'keep-alive');
  });

  it('marks a SYN with a new initial sequence number on a used 4-tuple as reused ports', async () => {
    const c1 = conv({ clientIsn: 1000 }).handshake(0, 0.01);
    c1.client('FA', 0.02).server('FA', 0.021).client('A', 0.022);
    const c2 = conv({ clientIsn: 900_000 }).handshake(1, 0.01); // same 4-tuple one second later
    const { result, marked, pcap } = analyze(c1, c2);
    expect(marked('reused-ports')).toEqual([7]);
    expect(result.flows.reduce((n, f) => n + (f.analysis?.reusedPorts ?? 0), 0)).toBe(1);
    await expectSameAsTshark(pcap, marked, 'reused-ports');
  });

  it('remembers the latest 20,000 conversations: a 4-tuple reused after more newer ones starts afresh', () => {
    const early = conv({ client: '10.9.0.1:41000', clientIsn: 1000 }).handshake(0, 0.01);
    early.client('FA', 0.02).server('FA', 0.021).client('A', 0.022);
    const recent = conv({ client: '10.9.0.2:41000', clientIsn: 1000 }).handshake(0.5, 0.01);
    recent.client('FA', 0.52).server('FA', 0.521).client('A', 0.522);
    // 19,998 one-SYN conversations after them fill the 20,000 remembered. Reusing `recent`'s 4-tuple
    // makes the 20,001st conversation, which pushes out the oldest, `early`: its reuse is new.
    const others = Array.from({ length: 19_998 }, (_, i) => conv({ client: `10.10.${i >> 8}.${i & 255}:42000` }).client('S', 1 + i / 1e5));
    const reuseRecent = conv({ client: '10.9.0.2:41000', clientIsn: 900_000 }).client('S', 2);
    const reuseEarly = conv({ client: '10.9.0.1:41000', clientIsn: 900_000 }).client('S', 2.1);
    const result = analyzeConversation(early, recent, ...others, reuseEarly, reuseRecent);
    const reused = result.flows.filter((f) => (f.analysis?.reusedPorts ?? 0) > 0).map((f) => f.client);
    expect(reused).toEqual(['10.9.0.2:41000']);
  });

  it('counts the 20,000 from when a conversation began, also when it took the row of one forgotten early', () => {
    // X is replaced at once by X2 on the same 4-tuple (a new ISN), so X is forgotten out of turn and
    // Z, the next conversation, takes its row. When the ring of 20,000 comes round to X's place, Z
    // (two places later) is still remembered: its 4-tuple used again with a new ISN is a reuse.
    // (Forgetting Z there instead would leave no reuse at all.)
    const x = conv({ client: '10.9.0.1:41000', clientIsn: 1000 }).client('S', 0);
    const x2 = conv({ client: '10.9.0.1:41000', clientIsn: 5_000_000 }).client('S', 0.1);
    const z = conv({ client: '10.9.0.3:41000', clientIsn: 1000 }).client('S', 0.2);
    const others = Array.from({ length: 19_998 }, (_, i) => conv({ client: `10.10.${i >> 8}.${i & 255}:42000` }).client('S', 1 + i / 1e5));
    const reuseZ = conv({ client: '10.9.0.3:41000', clientIsn: 900_000 }).client('S', 2);
    const result = analyzeConversation(x, x2, z, ...others, reuseZ);
    const reused = result.flows.filter((f) => (f.analysis?.reusedPorts ?? 0) > 0).map((f) => `${f.client} #${f.firstPacket}`);
    expect(reused).toEqual([`10.9.0.3:41000 #${result.flows.at(-1)!.firstPacket}`]);
  });

  it('keeps each flow its own marks: a clean flow beside one that resent a segment has none', () => {
    const clean = conv({ client: '10.0.0.1:51001' }).handshake(0, 0.01);
    clean.client('PA', 0.02, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('PA', 0.03, 'HTTP/1.1 204 No Content\r\n\r\n');
    const lossy = conv({ client: '10.0.0.1:51002' }).handshake(0, 0.01);
    const requestSeq = lossy.c.next;
    lossy.client('PA', 0.02, 'GET / HTTP/1.1\r\n\r\n').client('PA', 0.5, 'GET / HTTP/1.1\r\n\r\n', { seq: requestSeq });
    const { flows } = analyze(lossy, clean);
    const byPort = (port: number) => flows.find((f) => f.clientPort === port)!.analysis!;
    expect(byPort(51002).marks.map((m) => m.kinds)).toEqual([['retransmission']]);
    expect(byPort(51001).marks).toEqual([]);
  });

  it("gives a finished flow's list of unacknowledged segments to a later flow empty: the same bytes sent anew are no resend", () => {
    // Both connections number from the same ISNs. The first closes with its three segments
    // acknowledged by the server's FIN, and hands its list back then, before the second sends the same bytes.
    const first = conv({ client: '10.0.0.1:51001' }).handshake(0, 0.01);
    for (let i = 0; i < 3; i++) first.client('PA', 0.02 + i * 0.001, 'x'.repeat(100));
    first.client('FA', 0.03).server('FA', 0.031).client('A', 0.032);
    const second = conv({ client: '10.0.0.1:51002' }).handshake(6, 0.01);
    for (let i = 0; i < 3; i++) second.client('PA', 6.02 + i * 0.001, 'x'.repeat(100));
    second.server('A', 6.03).client('FA', 6.04).server('FA', 6.041).client('A', 6.042);
    const { flows } = analyze(first, second);
    expect(flows.map((f) => f.clientPort)).toEqual([51001, 51002]);
    // As when it is the capture's only flow, its packets numbered 9 later.
    const alone = analyze(second).a;
    const later = flows[1].analysis!;
    expect(later.marks).toEqual([]);
    expect(later.retransmission + later.spuriousRetransmission + later.outOfOrder).toBe(0);
    expect(later.client.ackRtt).toEqual({ ...alone.client.ackRtt, maxPacket: alone.client.ackRtt!.maxPacket + 9 });
  });

  it('reports nothing at all on a clean exchange', async () => {
    const c = conv().handshake(0, 0.01);
    c.client('PA', 0.02, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    c.server('A', 0.021);
    c.server('PA', 0.03, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    c.client('A', 0.031).client('FA', 0.04).server('FA', 0.041).client('A', 0.042);
    const { a, marked, pcap } = analyze(c);
    expect(a.marks).toEqual([]);
    expect(a.retransmission + a.duplicateAck + a.zeroWindow + a.windowUpdate + a.keepAlive).toBe(0);
    await expectSameAsTshark(pcap, marked, 'clean');
  });
});

describe('resends: what the packets prove, where Wireshark guesses', () => {
  /**
   * The server's segments A, B, C, D leave with IP IDs 1 to 4 after its SYN-ACK's 0; the capture
   * sees A, C, D, then B 1 ms later, past the 0.2 ms handshake round trip, carrying IP ID `lateId`.
   */
  const lateB = (lateId: number) => {
    const c = conv().handshake(0, 0.0002);
    const a = c.s.next;
    const seg = (i: number) => (a + i * 100) >>> 0;
    c.server('A', 0.001, 'a'.repeat(100), { seq: seg(0), ipId: 0x8001 }); // #4
    c.server('A', 0.0011, 'c'.repeat(100), { seq: seg(2), ipId: 0x8003 }); // #5
    c.server('A', 0.0012, 'd'.repeat(100), { seq: seg(3), ipId: 0x8004 }); // #6
    c.server('A', 0.0022, 'b'.repeat(100), { seq: seg(1), ipId: lateId }); // #7
    c.client('A', 0.0023, '', { ack: seg(4) }); // #8
    return analyze(c);
  };

  it('a first copy whose IP ID shows it left before higher segments captured earlier arrived late: out-of-order, not a resend', () => {
    // tshark calls #7 a retransmission: it came later than the handshake round trip after the highest segment.
    const { a, marked, result } = lateB(0x8002);
    expect(marked('out-of-order')).toEqual([7]);
    expect(a.retransmission).toBe(0);
    expect(result.flows[0].verdicts.map((v) => v.code)).not.toContain('retransmission');
  });

  it('the same first copy with an IP ID after the highest segment was sent again (its original lost before the capture): a retransmission', () => {
    const { a, marked, result } = lateB(0x8005);
    expect(marked('retransmission')).toEqual([7]);
    expect(a.outOfOrder).toBe(0);
    // No earlier transmission of its bytes is captured: there is no original to time it from.
    expect(a.rto).toBeNull();
    expect(result.flows[0].verdicts.map((v) => v.code)).toContain('retransmission');
  });

  it("without IP IDs (IPv6), a TSval older than the highest segment's shows the late first copy left before it", () => {
    const ts = (val: number) => ({ options: { ts: [val, 1] as [number, number] } });
    const c = conv({ client: '[2001:db8::1]:51000', server: '[2001:db8::2]:80' });
    c.client('S', 0, '', { options: { mss: 1440, sackPerm: true, ts: [1, 0] } })
      .server('SA', 0.0001, '', { options: { mss: 1440, sackPerm: true, ts: [10, 1] } })
      .client('A', 0.0002, '', { options: { ts: [1, 10] } });
    const a = c.s.next;
    c.server('A', 0.001, 'a'.repeat(100), { seq: a, ...ts(11) }); // #4
    c.server('A', 0.0011, 'c'.repeat(100), { seq: (a + 200) >>> 0, ...ts(12) }); // #5
    c.server('A', 0.0031, 'b'.repeat(100), { seq: (a + 100) >>> 0, ...ts(11) }); // #6 sent with A, 2 ms late
    c.client('A', 0.0032, '', { ack: (a + 300) >>> 0, options: { ts: [2, 12] } }); // #7
    const { a: facts, marked } = analyze(c);
    expect(marked('out-of-order')).toEqual([6]);
    expect(facts.retransmission).toBe(0);
  });

  it('bytes the capture saw sent before are a resend however soon they come: a sender does not reorder its own output', () => {
    // Captured at the sender: the resend of A leaves 0.3 ms after C, within the 10 ms handshake
    // round trip, where tshark calls it out-of-order.
    const c = conv().handshake(0, 0.01);
    const a = c.s.next;
    c.server('A', 0.02, 'a'.repeat(100)); // #4
    c.server('A', 0.0201, 'b'.repeat(100)); // #5
    c.server('A', 0.0202, 'c'.repeat(100)); // #6
    c.server('A', 0.0205, 'a'.repeat(100), { seq: a }); // #7
    c.client('A', 0.03); // #8
    const { a: facts, marked } = analyze(c);
    expect(marked('retransmission')).toEqual([7]);
    expect(facts.outOfOrder).toBe(0);
    expect(facts.marks.find((m) => m.no === 7)).toMatchObject({ rtoOf: 4, rtoMs: 0.5 });
  });

  it('pairs a resend with the last earlier transmission of its bytes, and times it from there', () => {
    // tshark's rto_frame is the oldest unacknowledged segment (A, #4) for both resends of B.
    const c = conv().handshake(0, 0.001);
    const b = (c.s.next + 100) >>> 0;
    c.server('A', 0.01, 'a'.repeat(100)); // #4
    c.server('A', 0.011, 'b'.repeat(100)); // #5
    c.server('A', 0.311, 'b'.repeat(100), { seq: b }); // #6
    c.server('A', 0.911, 'b'.repeat(100), { seq: b }); // #7
    c.client('A', 0.92); // #8
    const { a } = analyze(c);
    expect(a.marks.filter((m) => m.kinds.includes('retransmission')).map((m) => [m.no, m.rtoOf, m.rtoMs])).toEqual([
      [6, 5, 300],
      [7, 6, 600],
    ]);
    expect(a.rto).toMatchObject({ samples: 2, worstMs: 600, worstPacket: 7, originalPacket: 6 });
  });

  it('data a SYN carried that the SYN-ACK did not acknowledge, sent again after the handshake, is Fast Open data the server did not take', () => {
    const c = conv();
    const isn = c.c.next;
    c.client('S', 0, 'GET / HTTP/1.1\r\n\r\n', { options: { mss: 1460, sackPerm: true } }); // #1 Fast Open data on the SYN
    c.server('SA', 0.0001, '', { ack: (isn + 1) >>> 0, options: { mss: 1460, sackPerm: true } }); // #2 acknowledges the SYN alone
    c.client('PA', 0.00012, 'GET / HTTP/1.1\r\n\r\n', { seq: (isn + 1) >>> 0 }); // #3 the data again
    c.server('A', 0.0002); // #4
    c.server('PA', 0.001, 'HTTP/1.1 204 No Content\r\n\r\n'); // #5
    c.client('FA', 0.002).server('FA', 0.0021).client('A', 0.0022);
    const { a, marked, result } = analyze(c);
    expect(marked('retransmission')).toEqual([3]);
    expect(a.client.fastOpenResends).toBe(1);
    // No timer fired: the client sent it again at once.
    expect(a.rto).toBeNull();
    const v = result.flows[0].verdicts.find((x) => x.code === 'retransmission')!;
    expect(v).toMatchObject({ severity: 'info', facts: { cause: 'fast-open-refused' } });
    expect(v.summary).toContain('the server did not take the data the client sent on its SYN (TCP Fast Open, #1)');
    expect(v.summary).not.toContain('loss');
  });
});

describe('timing facts', () => {
  it('measures the handshake RTT, data RTT from ACKs and TS echo, and server think time', () => {
    const c = conv();
    c.client('S', 0, '', { options: { mss: 1460, wscale: 7, ts: [100, 0] } });
    c.server('SA', 0.004, '', { options: { mss: 1460, wscale: 7, ts: [500, 100] } });
    c.client('A', 0.01, '', { options: { ts: [101, 500] } });
    c.client('PA', 0.02, 'GET /slow HTTP/1.1\r\n\r\n', { options: { ts: [102, 500] } }); // #4
    c.server('A', 0.03, '', { options: { ts: [501, 102] } }); // #5 acks #4 after 10 ms
    c.server('PA', 0.52, 'HTTP/1.1 200 OK\r\n\r\n', { options: { ts: [502, 102] } }); // #6 500 ms after the request
    c.client('A', 0.54, '', { options: { ts: [103, 502] } }); // #7 acks #6 after 20 ms
    const { a } = analyze(c);
    expect(a.handshake).toEqual({ rttMs: 10, synToSynAckMs: 4, synAckToAckMs: 6 });
    // The SYN-ACK acknowledging the SYN is a sample too (4 ms), as in Wireshark's ack_rtt.
    expect(a.client.ackRtt).toMatchObject({ samples: 2, minMs: 4, maxMs: 10, maxPacket: 5 });
    expect(a.server.ackRtt).toMatchObject({ samples: 2, minMs: 6, maxMs: 20, maxPacket: 7 });
    expect(a.client.tsEchoRtt?.samples).toBeGreaterThan(0);
    expect(a.serverThink).toMatchObject({ firstMs: 500, firstPacket: 6, turns: 1 });
    expect(a.unanswered).toBeNull();
  });

  it('takes every ACK RTT sample tshark takes while segments are acknowledged two at a time, with a resend among them', async () => {
    const c = conv().handshake(0, 0.01);
    c.client('PA', 0.02, 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    const body = 'x'.repeat(100);
    /** Where each of the server's segments starts, then sends them 1 ms apart; the client acknowledges two at a time, four behind. */
    const sendRound = (from: number, count: number, resendAt = -1): number => {
      const starts: number[] = [];
      let t = from;
      for (let k = 0; k < count; k++) {
        starts.push(c.s.next);
        c.server('A', (t += 0.001), body);
        if (k === resendAt) c.server('A', (t += 0.02), body, { seq: starts[k - 3] }); // the unacknowledged segment 3 back, sent again after 20 ms
        if (k >= 5 && k % 2 === 1) c.client('A', (t += 0.0005), '', { ack: starts[k - 3] });
      }
      c.client('A', (t += 0.002)); // everything
      return t;
    };
    // 40 segments keep 6 to 8 in flight: the oldest leave as the ACKs come, the newest join the end.
    const t = sendRound(0.03, 40, 20);
    // A second round after the list emptied: in send order again.
    sendRound(t + 0.1, 30);
    const { a, pcap, marked } = analyze(c);
    expect(a.server.retransmission).toBe(1);
    // Recorded from tshark (tcp.analysis.ack_rtt on the client's packets), checked below when it is installed.
    expect(a.server.ackRtt).toMatchObject({ samples: SERVER_ACK_RTT_SAMPLES });
    await expectSameAsTshark(pcap, marked, 'ack-window');
    if (!HAVE_TSHARK) return;
    const file = writeTempCapture(pcap, 'ack-window-rtt.pcap');
    const { stdout } = await promisify(execFile)('tshark', ['-r', file, '-Y', 'tcp.analysis.ack_rtt && tcp.srcport != 80', '-T', 'fields', '-e', 'tcp.analysis.ack_rtt']);
    const theirs = stdout.trim().split('\n').map((x) => Number(x) * 1000);
    expect(theirs).toHaveLength(SERVER_ACK_RTT_SAMPLES);
    expect(a.server.ackRtt!.maxMs).toBeCloseTo(Math.max(...theirs), 3);
    expect(a.server.ackRtt!.minMs).toBeCloseTo(Math.min(...theirs), 3);
  });

  corpus2WithTshark.it('takes as many ACK RTT samples as Wireshark shows tcp.analysis.ack_rtt in public captures with resends', async () => {
    for (const name of ['ndpi/alexa-app.pcapng', 'ndpi/ethereum.pcap', 'tcpreplay/test.pcap', 'packetbeat/http_get_2k_file.pcap', 'libtrace/vlan.pcap']) {
      const file = corpus2WithTshark.path(name);
      const { stdout } = await promisify(execFile)('tshark', ['-r', file, '-Y', 'tcp.analysis.ack_rtt', '-T', 'fields', '-e', 'frame.number'], { maxBuffer: 64 << 20 });
      const r = analyzeFile(file);
      const ours = r.flows.reduce((n, f) => n + (f.analysis ? (f.analysis.client.ackRtt?.samples ?? 0) + (f.analysis.server.ackRtt?.samples ?? 0) : 0), 0);
      expect(ours, name).toBe(stdout.split('\n').filter(Boolean).length);
    }
  });

  it('keeps the request that got no answer, the ACK that accepted it and the close that gave up', () => {
    const c = conv().handshake(0, 0.01);
    c.client('PA', 0.02, 'PING\r\n'); // #4
    c.server('A', 0.03); // #5
    c.client('FA', 3.02); // #6 gives up
    const { a } = analyze(c);
    expect(a.unanswered).toMatchObject({ requestPacket: 4, ackedPacket: 5, gaveUpPacket: 6, gaveUpRst: false });
    expect(a.close).toMatchObject({ packet: 6, by: 'client', rst: false, idleBeforeMs: 2990, sinceLastDataMs: 3000 });
  });
});
