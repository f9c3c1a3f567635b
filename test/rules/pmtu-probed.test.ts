// A path MTU black hole that the sender's MTU probing got round: full-size segments resent and
// never acknowledged, then a smaller resend that gets through, seconds late. Seen from the sender
// (the resends are in the capture) and from the receiver (the first data arrives late, cut below
// the MSS, with a hole right behind it).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, analyzeFrames, conv } from '../helpers/conversation.js';
import { icmpErrorFrame } from '../helpers/packets.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

describe('retransmission: a black hole the sender got round (capture at the sender)', () => {
  it('names it in a capture of a server with MTU probing behind a router whose narrower link drops full-size packets', () => {
    const { flows } = analyzeFile(sample('pmtu-probed.pcap'));
    const v = flows[0].verdicts.find((x) => x.code === 'retransmission');
    expect(v?.severity).toBe('warning');
    // tshark: #6 is the first 1,448-byte segment, #17..#20 resend it at 1,448 bytes, #21 at 1,024
    // bytes 6.47 s after #6, and #22 acknowledges #21; no 1,448-byte segment is ever acknowledged.
    expect(v?.facts).toMatchObject({ cause: 'path-mtu', stalled: false, mtuProbing: { originalPacket: 6, largeResends: [17, 18, 19, 20], size: 1448, smallPacket: 21, smallSize: 1024, ackedSize: 1024 } });
    expect(v?.summary).toMatch(/a path MTU black hole that the server's MTU probing got round: the client acknowledged none of the 4 resends of #6 at 1,448 bytes \(#17\.\.#20\), but the resend #21 cut to 1,024 bytes, 6\.47 s after #6 was first sent/);
    expect(v?.hint).toMatch(/MTU probing found a size that passes only after retransmission timeouts/);
  });

  // The server sends a full-size segment that is lost, resends it at full size `largeResends`
  // times and then cut to 1,024 bytes, which the client acknowledges; the rest follows in 1,024-byte
  // segments. `fullSizeAckedFirst`: a full-size segment went through and was acknowledged before.
  const resends = ({ largeResends = 4, fullSizeAckedFirst = false } = {}) => {
    const c = conv({ client: '10.4.0.1:51000', server: '10.4.0.2:80' }).handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
    if (fullSizeAckedFirst) c.server('A', 0.004, 'a'.repeat(1448)).client('A', 0.005);
    const seq = c.s.next;
    const full = 'b'.repeat(1448);
    c.server('A', 0.01, full);
    let t = 0.2;
    for (let i = 0; i < largeResends; i++, t *= 2) c.server('A', t, full, { seq });
    c.server('A', t, full.slice(0, 1024), { seq });
    c.client('A', t + 0.001, '', { ack: (seq + 1024) >>> 0 });
    c.server('A', t + 0.002, full.slice(1024), { seq: (seq + 1024) >>> 0 });
    c.server('A', t + 0.002, 'c'.repeat(1024));
    c.client('A', t + 0.003).client('FA', t + 0.01).server('FA', t + 0.011).client('A', t + 0.012);
    return analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'retransmission')!;
  };

  it('needs two or more full-size resends of one segment, then a smaller one, and no full-size segment ever acknowledged', () => {
    expect(resends().facts.cause).toBe('path-mtu');
    expect(resends({ largeResends: 2 }).facts.cause).toBe('path-mtu');
    // One full-size resend before the cut: a loss the next resend happened to repair, no size pattern.
    expect(resends({ largeResends: 1 }).facts.cause).toBe('path-loss');
    // Full-size segments went through before: size is not what decided.
    expect(resends({ fullSizeAckedFirst: true }).facts.cause).toBe('path-loss');
  });
});

describe('path-mtu: a black hole the sender got round (capture at the receiver)', () => {
  it('is said of a capture at the client, in place of slow-server', () => {
    const { flows } = analyzeFile(sample('pmtu-probed-client.pcap'));
    const codes = flows[0].verdicts.map((x) => x.code);
    expect(codes).not.toContain('slow-server');
    const v = flows[0].verdicts.find((x) => x.code === 'path-mtu');
    expect(v?.severity).toBe('warning');
    // tshark: #6 (1,024 bytes, seq 1) comes 6.59 s after the GET #4; #8 (1,024 bytes) starts at
    // seq 15,929, 14,904 bytes past #6's end; both SYNs carry MSS 1,460.
    expect(v?.facts).toMatchObject({ sender: 'server', firstDataPacket: 6, holePacket: 8, skippedBytes: 14904, segmentSize: 1024, mss: 1460 });
    expect(v?.summary).toMatch(/^the server's first data \(#6\) came 6\.59 s after the request #4 in 1,024-byte segments, well under the MSS of 1,460 both ends announced, and the segment right behind it \(#8\) starts 14,904 bytes further on/);
    expect(v?.summary).toMatch(/not in the server application$/);
  });

  it('reads the resends that fill that hole as the same black hole, not as loss: an info line beside path-mtu', () => {
    const { flows } = analyzeFile(sample('pmtu-probed-client.pcap'));
    const r = flows[0].verdicts.find((x) => x.code === 'retransmission');
    expect(r?.severity).toBe('info');
    expect(r?.facts).toMatchObject({ direction: 'server', cause: 'path-mtu' });
    expect(r?.summary).toMatch(/: they fill the 14,904 bytes missing before #8, sent at full size and dropped on the path before the server cut its segments \(see path-mtu\)$/);
  });

  // The server acknowledges a request, then its first data arrives `late` seconds later, `size`
  // bytes, and the next segment `holeSegments` segments and `offGrid` bytes further on (as in
  // pmtu-probed-client, where the bytes lost had been cut at a larger size); the client asks for
  // the hole with duplicate ACKs and the server fills it.
  const lateAnswer = ({ size = 1024, holeSegments = 14, offGrid = 424, late = 6.3, clientDupAcks = true } = {}) => {
    const c = conv({ client: '10.4.0.1:51000', server: '10.4.0.2:80' }).handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
    const start = c.s.next;
    const at = (k: number) => (start + k * size + (k > holeSegments ? offGrid : 0)) >>> 0;
    const total = (holeSegments + 2) * size + offGrid;
    let head = '';
    for (let i = 0; i < 2; i++) head = `HTTP/1.1 200 OK\r\nContent-Length: ${total - head.length}\r\n\r\n`;
    c.server('PA', late, head + 'b'.repeat(size - head.length), { seq: at(0) }).client('A', late + 0.0001, '', { ack: at(1) });
    c.server('A', late + 0.0002, 'b'.repeat(size), { seq: at(holeSegments + 1) });
    if (clientDupAcks) c.client('A', late + 0.0003, '', { ack: at(1) });
    for (let k = 1; k <= holeSegments; k++) c.server('A', late + 0.0003 + k * 0.00001, 'b'.repeat(size), { seq: at(k) });
    if (offGrid > 0) c.server('A', late + 0.0004 + holeSegments * 0.00001, 'b'.repeat(offGrid), { seq: (at(holeSegments) + size) >>> 0 });
    c.client('A', late + 0.001, '', { ack: at(holeSegments + 2) });
    c.client('FA', late + 0.01, '', { ack: at(holeSegments + 2) }).server('FA', late + 0.011, '', { seq: at(holeSegments + 2) }).client('A', late + 0.012, '', { ack: (at(holeSegments + 2) + 1) >>> 0 });
    return analyzeConversation(c).flows[0].verdicts;
  };
  const codes = (v: ReturnType<typeof lateAnswer>) => v.map((x) => x.code);

  it('needs the first data cut well below both MSS values, a hole of two segments or more behind it that the receiver asked for, and a wait of a retransmission timeout', () => {
    expect(codes(lateAnswer())).toContain('path-mtu');
    // Full-size segments: the loss is real but nothing shows a size limit.
    expect(codes(lateAnswer({ size: 1448 }))).not.toContain('path-mtu');
    // A hole of one segment: an ordinary loss behind an answer that may well have been late.
    expect(codes(lateAnswer({ holeSegments: 1 }))).not.toContain('path-mtu');
    // The client never asked for the bytes: the capture, not the path, may have missed them.
    expect(codes(lateAnswer({ clientDupAcks: false }))).not.toContain('path-mtu');
    // Answered within 100 ms: no retransmission timeout fits, MTU probing had no time to act.
    expect(codes(lateAnswer({ late: 0.1 }))).not.toContain('path-mtu');
    // A hole of whole segments of that size: a server writing 1,000-byte records with TCP_NODELAY
    // after 500 ms of work, two of them dropped on the way (a real capture at the client showed
    // exactly this: #6 1,000 bytes at seq 1, #8 at seq 3,001, dup ACK #9). Nothing shows the lost
    // bytes were sent before the first data, nor at another size.
    expect(codes(lateAnswer({ size: 1000, holeSegments: 2, offGrid: 0, late: 0.5 }))).not.toContain('path-mtu');
    expect(codes(lateAnswer({ offGrid: 0 }))).not.toContain('path-mtu');
    expect(codes(lateAnswer({ size: 1000, holeSegments: 2, offGrid: 448, late: 0.5 }))).toContain('path-mtu');
  });

  it('keeps slow-server off an answer whose first bytes came with two or more lost segments behind them, and says it otherwise', () => {
    expect(codes(lateAnswer())).not.toContain('slow-server');
    expect(codes(lateAnswer({ size: 1448 }))).not.toContain('slow-server');
    // One segment lost behind the first: nothing shows the answer left before it arrived.
    expect(codes(lateAnswer({ holeSegments: 1 }))).toContain('slow-server');
  });

  it('keeps slow-client off an upload whose first bytes came late with lost segments behind them', () => {
    // The client's request body is cut to 1,024-byte segments and arrives 6.6 s after the handshake;
    // the segment right behind its first starts 14 segments and 424 bytes further on (bytes cut at
    // another size before). `holeSegments` 1: a lone loss.
    const upload = (holeSegments: number) => {
      const c = conv({ client: '10.4.0.1:51000', server: '10.4.0.2:80' }).handshake(0);
      const start = c.c.next;
      const offGrid = holeSegments > 1 ? 424 : 0;
      const at = (k: number) => (start + k * 1024 + (k > holeSegments ? offGrid : 0)) >>> 0;
      const total = (holeSegments + 2) * 1024 + offGrid;
      let head = '';
      for (let i = 0; i < 2; i++) head = `POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${total - head.length}\r\n\r\n`;
      c.client('PA', 6.6, head + 'u'.repeat(1024 - head.length), { seq: at(0) }).server('A', 6.6001, '', { ack: at(1) });
      c.client('A', 6.6002, 'u'.repeat(1024), { seq: at(holeSegments + 1) }).server('A', 6.6003, '', { ack: at(1) });
      for (let k = 1; k <= holeSegments; k++) c.client('A', 6.6003 + k * 0.00001, 'u'.repeat(1024), { seq: at(k) });
      if (offGrid > 0) c.client('A', 6.6004 + holeSegments * 0.00001, 'u'.repeat(offGrid), { seq: (at(holeSegments) + 1024) >>> 0 });
      c.server('A', 6.601, '', { ack: at(holeSegments + 2) });
      return analyzeConversation(c).flows[0].verdicts.map((x) => x.code);
    };
    expect(upload(14)).not.toContain('slow-client');
    expect(upload(14)).toContain('path-mtu');
    expect(upload(1)).toContain('slow-client');
  });

  it('is said of no other bundled sample', () => {
    const others = readdirSync(fileURLToPath(new URL('../../samples/', import.meta.url))).filter((n) => n.endsWith('.pcap') && n !== 'pmtu-probed-client.pcap');
    for (const name of others) {
      const { flows } = analyzeFile(sample(name));
      expect(flows.flatMap((f) => f.verdicts.map((x) => x.code)), name).not.toContain('path-mtu');
    }
  });
});

describe('retransmission: path MTU discovery at work (the router\'s ICMP reached the sender)', () => {
  // The server sends 2,896 bytes in one segment (a TSO/GSO segment captured at the server); a
  // router on a narrower link answers with ICMP `code` about it; the server sends the same bytes
  // again and the client acknowledges them. As a python server behind a router whose link to the
  // client has MTU 1,200 gave, captured at the server: #6 7,240 bytes, #7 'fragmentation needed
  // (DF set)' from the router, #10 the same bytes again, the download done in 4.9 ms.
  const answered = ({ icmp = true, code = 4, v6 = false } = {}) => {
    const [client, server, router] = v6 ? ['2001:db8::1', '2001:db8::2', '2001:db8::fe'] : ['10.4.0.1', '10.4.0.2', '10.4.0.254'];
    const c = conv(v6 ? { client: `[${client}]:51000`, server: `[${server}]:80` } : { client: `${client}:51000`, server: `${server}:80` }).handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
    const seq = c.s.next;
    const body = 'b'.repeat(2896);
    c.server('A', 0.004, body);
    c.server('A', 0.0046, body.slice(0, 1148), { seq }).server('A', 0.0047, body.slice(1148, 2296), { seq: (seq + 1148) >>> 0 }).server('A', 0.0048, body.slice(2296), { seq: (seq + 2296) >>> 0 });
    c.client('A', 0.005).client('FA', 0.01).server('FA', 0.011).client('A', 0.012);
    const frames = [...c.packets];
    if (icmp) {
      const quoted = { src: server, dst: client, sport: 80, dport: 51000, flags: 'A', seq, payload: body };
      frames.push({ t: 0.0045, frame: icmpErrorFrame({ quoted, from: router, type: v6 ? 2 : 3, code: v6 ? 0 : code }) } as (typeof frames)[number]);
    }
    return analyzeFrames(frames.sort((a, b) => a.t - b.t)).flows[0].verdicts;
  };

  it('reads resends after a "fragmentation needed" as path MTU discovery (info), not packet loss, and says no icmp-unreachable of it', () => {
    const v = answered();
    const resent = v.find((x) => x.code === 'retransmission')!;
    expect(resent.severity).toBe('info');
    expect(resent.facts.cause).toBe('path-mtu-discovery');
    expect(resent.summary).toMatch(/path MTU discovery: 10\.4\.0\.254 answered the server's segments with ICMP fragmentation needed \(DF set\) \(#\d+\)/);
    expect(v.map((x) => x.code)).not.toContain('icmp-unreachable');
    // Without the ICMP the same resends are a loss; another ICMP error is still an error.
    const lost = answered({ icmp: false }).find((x) => x.code === 'retransmission')!;
    expect([lost.severity, lost.facts.cause]).toEqual(['warning', 'path-loss']);
    const unreachable = answered({ code: 1 });
    expect(unreachable.find((x) => x.code === 'icmp-unreachable')?.severity).toBe('error');
    expect(unreachable.find((x) => x.code === 'retransmission')?.facts.cause).toBe('path-loss');
  });

  it('reads an ICMPv6 "packet too big" the same way (Zeek 6in4tunnel: #45 about #36, resent as #46 and #47)', () => {
    const v = answered({ v6: true });
    expect(v.find((x) => x.code === 'retransmission')).toMatchObject({ severity: 'info', facts: { cause: 'path-mtu-discovery' } });
    expect(v.find((x) => x.code === 'retransmission')?.summary).toMatch(/answered the server's segments with ICMP packet too big/);
    expect(v.map((x) => x.code)).not.toContain('icmp-unreachable');
    expect(answered({ v6: true, icmp: false }).find((x) => x.code === 'retransmission')?.facts.cause).toBe('path-loss');
  });
});
