import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';
import { memoryIo } from '../helpers/io.js';
import { hasTool } from '../helpers/tools.js';
import { run } from '../../src/cli/main.js';

const corpus = useCorpus();
const corpus2 = useCorpus('corpus2');

const verdict = (f: { verdicts: { code: string }[] }, code: string) => f.verdicts.find((v) => v.code === code);

describe('an RST in a side\'s name that its own TCP did not send (foreign-rst)', () => {
  /**
   * An RST in the server's name answers the SYN at once, from another TTL; the server's real
   * SYN-ACK follows 1 s later, the client sends a request after the RST has had two handshake
   * round trips to arrive, and the server acknowledges it and resets.
   */
  const injected = () => {
    const c = conv({ client: '1.2.0.2:2527', server: '1.2.0.3:6649' }).client('S', 0);
    c.server('RA', 0.0002, '', { seq: (c.s.next + 1) >>> 0, ttl: 46 });
    return c.server('SA', 1.0).client('A', 1.001).client('PA', 2.5, 'x'.repeat(25)).server('A', 4.0).server('RA', 4.0015);
  };

  it('a SYN-ACK after the server\'s RST shows the RST was not the server\'s; the client went on, so it ignored it: info, and rst-by-server cites the later RST', () => {
    const f = analyzeConversation(injected()).flows[0];
    const foreign = verdict(f, 'foreign-rst')!;
    expect(foreign.severity).toBe('info');
    expect(foreign.packets).toEqual([2, 3]);
    expect(foreign.summary).toBe("RST #2 in the server's name (1.2.0.3:6649) was not sent by its TCP: the server went on with the connection after it (#3, 1.00 s later); the client ignored it and went on");
    expect(foreign.facts).toMatchObject({ rstPacket: 2, sentAfterPacket: 3, taken: false });
    const reset = verdict(f, 'rst-by-server')!;
    expect(reset.packets).toEqual([7]);
    expect(reset.summary).toContain('the earlier RST #2 in its name was not its TCP\'s');
    expect(reset.summary).toContain('the request got no answer');
  });

  it('an earlier segment captured again after the RST proves nothing: no foreign-rst, and the first RST is the one cited', () => {
    // Two capture points on both sides of a router: a copy of the server's ACK lands after its RST.
    const c = conv({ client: '10.1.1.10:52470', server: '10.2.2.2:8554' }).handshake(0).client('PA', 0.01, 'OPTIONS * RTSP/1.0\r\n\r\n');
    const ackNo = c.s.next;
    c.server('A', 0.0102).server('RA', 0.0103);
    c.server('A', 0.0104, '', { seq: ackNo, ipId: 0x8001, ttl: 63 });
    const f = analyzeConversation(c).flows[0];
    expect(verdict(f, 'foreign-rst')).toBeUndefined();
    expect(verdict(f, 'rst-by-server')!.packets).toEqual([6]);
  });

  /**
   * A download: the server sends, the client acknowledges; an RST in the client's name, then the
   * client's ACK of new data, which the server's TCP answers with a bare RST (seq = that ACK).
   */
  const takenByServer = () => {
    const c = conv({ client: '128.121.136.217:20', server: '67.169.189.180:2662' }).handshake(0);
    c.server('A', 0.1, 'd'.repeat(1000)).client('A', 0.15).server('A', 0.2, 'd'.repeat(1000));
    c.client('R', 0.6, '', { ipId: 0xff9b });
    c.client('A', 0.65);
    const answered = c.c.next;
    void answered;
    c.server('R', 0.6501, '', { seq: c.s.next });
    return c;
  };

  it('a server that answers the client\'s next segment as a TCP with no connection took the RST: a warning, and its own RST is info', () => {
    const f = analyzeConversation(takenByServer()).flows[0];
    const foreign = verdict(f, 'foreign-rst')!;
    expect(foreign.severity).toBe('warning');
    expect(foreign.summary).toBe("RST #7 in the client's name (128.121.136.217:20) was not sent by its TCP: the client went on with the connection after it (#8, 50 ms later); the server took it: it answered the client's next segment with RST #9, as a TCP with no connection does");
    expect(foreign.facts).toMatchObject({ taken: true });
    const serverReset = verdict(f, 'rst-by-server')!;
    expect(serverReset.severity).toBe('info');
    expect(serverReset.summary).toContain("RST #7 in the client's name had come first: an answer to bytes reaching a closed socket");
    // Every RST in the client's name came before its last own packet: it never reset.
    expect(verdict(f, 'rst-by-client')).toBeUndefined();
  });

  it('after RSTs in its name, a later RST is the side\'s own only when its IPv4 ID follows the side\'s own packets', () => {
    const c = takenByServer();
    c.client('R', 0.7, '', { ipId: 0xff9c });
    expect(verdict(analyzeConversation(c).flows[0], 'rst-by-client')).toBeUndefined();
    const own = takenByServer();
    own.client('RA', 0.7);
    expect(verdict(analyzeConversation(own).flows[0], 'rst-by-client')!.packets).toEqual([10]);
  });

  it('a bare RST answering a stale ACK in the handshake keeps the half-open connection (RFC 9293): the SYN-ACK sent again is no proof', () => {
    const c = conv().client('S', 0).server('SA', 0.001);
    const isn = (c.s.next - 1) >>> 0;
    c.client('A', 0.002, '', { ack: 0x0abcdef0 }).server('R', 0.0021, '', { seq: 0x0abcdef0 });
    c.server('SA', 1.001, '', { seq: isn }).client('A', 1.002).client('PA', 1.003, 'GET / HTTP/1.1\r\n\r\n').server('PA', 1.004, 'HTTP/1.1 204 No Content\r\n\r\n');
    expect(verdict(analyzeConversation(c).flows[0], 'foreign-rst')).toBeUndefined();
  });

  it('an ACK stamped 10 µs after a bare RST may have left before it: no foreign-rst, and the RST is the client\'s', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\n\r\n').server('PA', 0.02, 'x'.repeat(100));
    const rstSeq = c.c.next;
    c.client('R', 0.03, '', { seq: rstSeq }).client('A', 0.03001);
    const f = analyzeConversation(c).flows[0];
    expect(verdict(f, 'foreign-rst')).toBeUndefined();
    expect(verdict(f, 'rst-by-client')!.packets).toEqual([6]);
  });

  it('a SYN-ACK the server sends again after an RST of its own is no proof: only its first SYN-ACK is', () => {
    const c = conv().client('S', 0).server('SA', 0.001);
    const isn = (c.s.next - 1) >>> 0;
    c.server('RA', 0.5, '', { seq: c.s.next }).server('SA', 1.001, '', { seq: isn }).client('A', 1.002);
    expect(verdict(analyzeConversation(c).flows[0], 'foreign-rst')).toBeUndefined();
  });

  it('a closed port\'s RST in the server\'s name, then the real SYN-ACK 0.3 ms later: foreign, as an RST with an ACK is placed by its own numbers', () => {
    const c = conv().client('S', 0);
    c.server('RA', 0.01, '', { seq: 0, ttl: 46 }).server('SA', 0.0103).client('R', 0.011, '', { seq: c.c.next });
    // The client took it: its RST #4 answers the real SYN-ACK as a TCP with no connection does.
    expect(verdict(analyzeConversation(c).flows[0], 'foreign-rst')).toMatchObject({ packets: [2, 3, 4], facts: { taken: true } });
  });

  it('a bare RST in the client\'s name mid-stream (no handshake captured), then the client\'s new data 50 ms later: foreign', () => {
    const c = conv({ client: '10.0.0.1:51000', server: '10.0.0.2:443' }).client('PA', 0, 'a'.repeat(100)).server('PA', 0.01, 'b'.repeat(100));
    c.client('R', 0.02, '', { seq: c.c.next }).client('PA', 0.07, 'c'.repeat(100));
    const f = analyzeConversation(c).flows[0];
    expect(verdict(f, 'foreign-rst')).toMatchObject({ severity: 'warning', packets: [3, 4], facts: { taken: null } });
    expect(verdict(f, 'foreign-rst')!.summary).toBe("RST #3 in the client's name (10.0.0.1:51000) was not sent by its TCP: the client went on with the connection after it (#4, 50 ms later); whether the server took it the capture does not show");
    expect(verdict(f, 'rst-by-client')).toBeUndefined();
  });

  it('over IPv6, with no IP IDs to compare, the server\'s own later RST (its hop limit, not the foreign one\'s) is still cited', () => {
    const c = conv({ client: '[fd00::1]:2527', server: '[fd00::2]:6649' }).client('S', 0);
    c.server('RA', 0.0002, '', { seq: (c.s.next + 1) >>> 0, ttl: 46 });
    c.server('SA', 1.0).client('A', 1.001).client('PA', 2.5, 'x'.repeat(25)).server('A', 4.0).server('RA', 4.0015);
    const f = analyzeConversation(c).flows[0];
    expect(verdict(f, 'foreign-rst')).toMatchObject({ packets: [2, 3], facts: { taken: false } });
    expect(verdict(f, 'rst-by-server')).toMatchObject({ severity: 'error', packets: [7] });
  });

  it('an RST with its sender silent afterwards is its own: rst-by-server as before', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\n\r\n').server('A', 0.011).server('RA', 0.012).client('A', 0.02);
    const f = analyzeConversation(c).flows[0];
    expect(verdict(f, 'foreign-rst')).toBeUndefined();
    expect(verdict(f, 'rst-by-server')!.packets).toEqual([6]);
  });

  corpus.it('Zeek rst-inject-rae.pcap: RST #2 (TTL 46, the SYN\'s IP ID) is foreign and ignored; the server\'s own reset is #7', () => {
    const f = analyzeFile(corpus.path('zeek/tcp/rst-inject-rae.pcap')).flows[0];
    expect(verdict(f, 'foreign-rst')).toMatchObject({ severity: 'info', packets: [2, 3] });
    expect(verdict(f, 'rst-by-server')!.packets).toEqual([7]);
  });

  corpus.it('PPA ftp-uploadfailed.pcap: RST #1637 in the client\'s name, then its ACK #1640; the server\'s RST #1641 answers that ACK', () => {
    const f = analyzeFile(corpus.path('ppa/ppa1e/ftp-uploadfailed.pcap')).flows[0];
    expect(verdict(f, 'foreign-rst')).toMatchObject({ severity: 'warning', packets: [1637, 1640, 1641] });
    expect(verdict(f, 'rst-by-server')).toMatchObject({ severity: 'info', packets: [1641] });
    // RSTs #1642 on carry IP IDs of the same series as the foreign ones (0xff9e), not the client's
    // own (0x7503 at #1640): none is said to be the client's.
    expect(verdict(f, 'rst-by-client')).toBeUndefined();
  });

  corpus2.it('nDPI rtsp.pcap: copies of earlier ACKs captured after the server\'s RST make no foreign-rst', () => {
    const r = analyzeFile(corpus2.path('ndpi/rtsp.pcap'));
    expect(r.flows.flatMap((f) => f.verdicts.map((v) => v.code))).not.toContain('foreign-rst');
    expect(verdict(r.flows.find((f) => f.id === 1)!, 'rst-by-server')!.packets).toEqual([7]);
  });
});

describe('the client sends its SYN again, same ISN, after an RST in its name', () => {
  /**
   * As the RICS 2021 firewall capture shows it: each SYN-ACK is answered by a bare RST in the
   * client's name whose sequence number is the ISN + 21 (not the SYN-ACK's acknowledgement), and
   * the client's TCP sends its SYN again 3 s later, as one that never got a SYN-ACK does. The
   * server sends its SYN-ACK again on its own timer and at last resets its half-open connection.
   */
  const firewalled = (client = '192.168.197.8:51139', server = '56.3.101.10:2404') => {
    const c = conv({ client, server });
    const isn = c.c.next;
    const serverIsn = c.s.next;
    const rst = { seq: (isn + 21) >>> 0, ipId: 0x7ee7 };
    c.client('S', 0, '', { ipId: 0x7ee7 }).server('SA', 0.006).client('R', 0.012, '', rst);
    c.client('S', 3.0, '', { seq: isn, ipId: 0x7ee7 }).server('SA', 3.01, '', { seq: serverIsn }).client('R', 3.02, '', rst);
    c.server('SA', 9.01, '', { seq: serverIsn }).client('R', 9.02, '', rst);
    return c.server('R', 21.03, '', { seq: (serverIsn + 1) >>> 0 });
  };

  it('is one connection attempt the server reset at last: the RSTs, like the SYNs, came from what sent the SYNs, and the server ignored them', () => {
    const r = analyzeConversation(firewalled());
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f.syns.map((s) => s.no)).toEqual([1, 4]);
    expect(f.synAcks.map((s) => s.no)).toEqual([2, 5, 7]);
    // Zeek's rows: ShR, then the same SYN (IsReuse), the SYN-ACK 6 s after the next RST, the server's RST 12 s after the last.
    expect(f.zeekConnections).toBe(4);
    const foreign = verdict(f, 'foreign-rst')!;
    expect(foreign).toMatchObject({ severity: 'info', packets: [3, 4], facts: { rstPacket: 3, sentAfterPacket: 4, taken: false, likeItsSyn: true } });
    expect(foreign.summary).toBe(
      "RST #3 in the client's name (192.168.197.8:51139) did not end the client's attempt: it sent its SYN again 2.99 s later (#4), as a TCP that never took the SYN-ACK does; the RST's TTL and IP ID are those of its SYN, so what sent the SYNs sent the RST too; the server ignored it and went on",
    );
    const resent = verdict(f, 'synack-retry')!;
    expect(resent.packets).toEqual([2, 5, 7]);
    expect(resent.summary).toMatch(/the handshake never completed; the client's side answered with RST #3 and sent its SYN again \(#4\): it did not take the SYN-ACK$/);
    expect(verdict(f, 'rst-by-client')).toBeUndefined();
    expect(verdict(f, 'rst-by-server')).toMatchObject({ packets: [9] });
    expect(verdict(f, 'rst-by-server')!.summary).toContain('the server gave up its half-open connection after 3 SYN-ACKs');
  });

  it('an RST another TTL sets apart from the SYNs was made on the path', () => {
    const c = conv().client('S', 0);
    const isn = (c.c.next - 1) >>> 0;
    c.server('SA', 0.006).client('R', 0.012, '', { seq: (isn + 21) >>> 0, ttl: 46 }).client('S', 3.0, '', { seq: isn }).server('SA', 3.006).client('A', 3.012);
    const foreign = verdict(analyzeConversation(c).flows[0], 'foreign-rst')!;
    expect(foreign.summary).toMatch(/^RST #3 in the client's name \(10\.0\.0\.1:51000\) was not sent by its TCP: the client went on with the connection after it \(#4, 2\.99 s later\)/);
    expect(foreign.facts.likeItsSyn).toBeUndefined();
  });

  it('over IPv6, with no IP IDs, the later RSTs close nothing and none is said to be the client\'s', () => {
    const f = analyzeConversation(firewalled('[2001:db8::8]:51139', '[2001:db8::1]:2404')).flows[0];
    expect(verdict(f, 'foreign-rst')).toMatchObject({ packets: [3, 4] });
    expect(verdict(f, 'rst-by-client')).toBeUndefined();
  });

  it('the client TCP\'s own RST to an unacceptable ACK (RFC 9293 3.10.7.3: its sequence number that ACK\'s acknowledgement), with or without an ACK flag, then its SYN again: no foreign-rst', () => {
    // A server still holding an old connection on the 4-tuple answers the new SYN with a challenge ACK (RFC 5961).
    for (const flags of ['R', 'RA']) {
      const c = conv().client('S', 0);
      const isn = (c.c.next - 1) >>> 0;
      c.server('A', 0.001, '', { seq: 0x5000_0000, ack: 0x0abc_def0 }).client(flags, 0.002, '', { seq: 0x0abc_def0, ack: 0x5000_0000 });
      c.client('S', 1.0, '', { seq: isn }).server('SA', 1.001).client('A', 1.002).client('FA', 1.5).server('FA', 1.501).client('A', 1.502);
      const codes = analyzeConversation(c).flows.flatMap((f) => f.verdicts.map((v) => v.code));
      expect(codes).not.toContain('foreign-rst');
      expect(codes).toContain('clean-close');
    }
  });

  it('without a SYN-ACK before the RST, the same SYN again starts a new flow, as before: nothing shows what the RST ended', () => {
    const c = conv().client('S', 0);
    const isn = (c.c.next - 1) >>> 0;
    c.client('R', 0.5, '', { seq: (isn + 21) >>> 0 }).client('S', 3.0, '', { seq: isn }).server('SA', 3.006).client('A', 3.012);
    const flows = analyzeConversation(c).flows;
    expect(flows).toHaveLength(2);
    expect(flows.flatMap((f) => f.verdicts.map((v) => v.code))).not.toContain('foreign-rst');
  });

  it('a SYN with a new ISN after the client\'s RST is a new connection, and that RST the client\'s', () => {
    const c = conv().client('S', 0).server('SA', 0.006).client('R', 0.012);
    c.client('S', 3.0, '', { seq: 0x1234_5678 });
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(2);
    expect(verdict(r.flows[0], 'foreign-rst')).toBeUndefined();
    expect(verdict(r.flows[0], 'rst-by-client')).toMatchObject({ packets: [3] });
  });

  it('after an RST that answers an unacceptable SYN-ACK (its sequence number that SYN-ACK\'s acknowledgement), the SYN sent again proves nothing', () => {
    // RFC 9293 3.10.7.3: a TCP in SYN-SENT answers a SYN-ACK acknowledging something it never sent with an RST and keeps waiting.
    const c = conv().client('S', 0);
    const isn = (c.c.next - 1) >>> 0;
    c.server('SA', 0.006, '', { ack: 0x0abc_def0 }).client('R', 0.012, '', { seq: 0x0abc_def0 });
    c.client('S', 1.0, '', { seq: isn }).server('SA', 1.006).client('A', 1.012);
    const flows = analyzeConversation(c).flows;
    expect(flows.flatMap((f) => f.verdicts.map((v) => v.code))).not.toContain('foreign-rst');
  });

  it('once the handshake completes after the retry, an RST in the client\'s name closes the connection again', () => {
    const c = conv().client('S', 0);
    const isn = (c.c.next - 1) >>> 0;
    c.server('SA', 0.006).client('R', 0.012, '', { seq: (isn + 21) >>> 0, ipId: 0x7ee7 });
    c.client('S', 3.0, '', { seq: isn }).server('SA', 3.006).client('A', 3.012).client('PA', 3.02, 'x'.repeat(10)).server('A', 3.03);
    c.client('R', 3.5).server('PA', 3.6, 'y'.repeat(10));
    const f = analyzeConversation(c).flows[0];
    expect(f.state).toBe('RSTO');
    expect(verdict(f, 'foreign-rst')!.packets).toEqual([3, 4]);
    // Its IP ID (the side's counter) is not the foreign RST's: the client's own.
    expect(verdict(f, 'rst-by-client')!.packets).toEqual([9]);
  });

  corpus2.it('fpcap RICS2021 fwscada: connections 51139 and 51133, each with three SYN-ACKs and RSTs of ISN + 21 in the client\'s name, are one attempt each, reset by the server', () => {
    const r = analyzeFile(corpus2.path('fpcap/RICS2021_787__fwscada_20200625_160926.pcap'));
    for (const [port, synAcks, foreignRst, serverRst] of [
      [51139, [1544, 1551, 1557], [1545, 1550], 1570],
      [51133, [1509, 1527, 1541], [1511, 1528], 1559],
    ] as const) {
      const flows = r.flows.filter((f) => f.client === `192.168.197.8:${port}`);
      expect(flows).toHaveLength(1);
      const f = flows[0];
      expect(f.synAcks.map((s) => s.no)).toEqual(synAcks);
      expect(verdict(f, 'foreign-rst')).toMatchObject({ severity: 'info', packets: foreignRst });
      expect(verdict(f, 'synack-retry')!.packets).toEqual(synAcks);
      expect(verdict(f, 'synack-retry')!.summary).toContain(`the client's side answered with RST #${foreignRst[0]} and sent its SYN again (#${foreignRst[1]})`);
      expect(verdict(f, 'rst-by-client')).toBeUndefined();
      expect(verdict(f, 'rst-by-server')!.packets).toEqual([serverRst]);
    }
  });
});

describe('a SYN sent once and never again (syn-abandoned)', () => {
  /** The same client host connecting elsewhere at `t`: it was still there when its retry was due. */
  const other = (t: number) => conv({ client: '10.0.0.1:40000', server: '10.0.0.8:22' }).handshake(t);

  it('a client host the capture no longer shows sending when its retry was due may have gone quiet: syn-timeout, as before', () => {
    const r = analyzeConversation(conv().client('S', 0), conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(5));
    expect(r.flows.find((x) => x.client === '10.0.0.1:51000')!.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
    // Packets sent to it do not show it there: a server re-sending data to a silent client.
    const resent = conv({ client: '10.0.0.1:40000', server: '10.0.0.8:22' }).handshake(0.1).server('PA', 0.2, 'x'.repeat(50));
    resent.server('PA', 5, 'x'.repeat(50), { seq: (resent.s.next - 50) >>> 0 }).server('PA', 8, 'x'.repeat(50), { seq: (resent.s.next - 50) >>> 0 });
    const quiet = analyzeConversation(conv().client('S', 0), resent);
    expect(quiet.flows.find((x) => x.client === '10.0.0.1:51000')!.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
  });

  it('a lone SYN with the capture going on 5 s after it was given up by the client before its first retry: a warning, not syn-timeout', () => {
    const r = analyzeConversation(conv().client('S', 0), other(5));
    const f = r.flows.find((x) => x.client === '10.0.0.1:51000')!;
    expect(f.verdicts.map((v) => v.code)).toEqual(['syn-abandoned']);
    expect(f.verdicts[0].severity).toBe('warning');
    expect(f.verdicts[0].summary).toBe('SYN #1 unanswered and never sent again in the 5.00 s the capture went on: the client gave the attempt up before its TCP\'s first retry (due within 1 to 3 s), so how long 10.0.0.2:80 had to answer is not known');
  });

  it('3.2 s after a lone SYN a client on a 3 s timer may have just retried: still syn-timeout, and capture-ended before 3 s', () => {
    const at = (t: number) => analyzeConversation(conv().client('S', 0), other(t)).flows.find((x) => x.client === '10.0.0.1:51000')!.verdicts.map((v) => v.code);
    expect(at(3.2)).toEqual(['syn-timeout']);
    expect(at(2)).toEqual(['capture-ended']);
  });

  it('retried SYNs are a timeout whatever the wait after the last', () => {
    const c = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    expect(analyzeConversation(c, other(60)).flows.find((x) => x.client === '10.0.0.1:51000')!.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
  });

  it('samples/syn-abandoned.pcap, a python client giving its connect up after 0.4 s behind iptables DROP: syn-abandoned, and the connection it made next is healthy', () => {
    const r = analyzeFile('samples/syn-abandoned.pcap');
    const [abandoned, served] = r.flows;
    expect(abandoned.verdicts.map((v) => v.code)).toEqual(['syn-abandoned']);
    expect(abandoned.verdicts[0].facts.waitedAfterSynMs).toBeGreaterThan(5000);
    expect(served.verdicts.every((v) => v.severity === 'info')).toBe(true);
  });

  corpus2.it('nDPI gnutella.pcap: flows 5 and 6, one SYN each in a 538 s capture, are abandoned, not timed out', () => {
    const r = analyzeFile(corpus2.path('ndpi/gnutella.pcap'));
    for (const id of [5, 6]) {
      const codes = r.flows.find((f) => f.id === id)!.verdicts.map((v) => v.code);
      expect(codes).toContain('syn-abandoned');
      expect(codes).not.toContain('syn-timeout');
    }
  });
});

describe('one-sided-capture names a port filter the packets fit', () => {
  it.skipIf(!hasTool('tcpdump'))('names the filter this analysis applied when there is one: the file may hold the other direction', async () => {
    const io = memoryIo();
    expect(await run(['analyze', 'samples/http-clean.pcap', 'dst port 23840', '--json'], io)).toBe(0);
    const doc = JSON.parse(io.out) as { verdicts: { code: string; summary: string }[]; hints: Record<string, string> };
    expect(doc.verdicts.find((x) => x.code === 'one-sided-capture')!.summary).toContain('the capture filter this analysis applied (`dst port 23840`) may have left the other direction out');
    expect(doc.hints['one-sided-capture']).toMatch(/^Run the analysis without the capture filter/);
    // A filter that left nothing out is not the cause.
    const all = memoryIo();
    expect(await run(['analyze', 'samples/no-response-server-side.pcap', 'tcp', '--json'], all)).toBe(0);
    expect((JSON.parse(all.out) as { verdicts: { code: string; summary: string }[] }).verdicts.find((x) => x.code === 'one-sided-capture')!.summary).not.toContain('capture filter this analysis applied');
  });

  it('every packet to port 22 and none from it: `dst port 22`, not asymmetric routing', () => {
    const one = (client: string, server: string, t: number) => {
      const c = conv({ client, server });
      c.client('S', t).client('A', t + 0.01, '', { ack: (c.s.next + 1) >>> 0 });
      c.s.next = (c.s.next + 1) >>> 0;
      return c.client('PA', t + 0.02, 'SSH-2.0-x\r\n', { ack: (c.s.next + 30) >>> 0 });
    };
    const r = analyzeConversation(one('192.168.1.32:58649', '131.103.20.168:22', 0), one('192.168.1.31:51489', '192.168.1.32:22', 1));
    const v = r.verdicts.find((x) => x.code === 'one-sided-capture')!;
    expect(v.summary).toContain('every TCP packet the capture holds fits the filter `dst port 22` and none goes the other way');
    expect(v.hint).toContain("tcpdump 'dst port 22'");
  });

  corpus.it('eririmba websocket.pcap, macOS loopback: every packet goes to port 8008', () => {
    const v = analyzeFile(corpus.path('misc/eririmba-socket.io-sample/websocket.pcap')).verdicts.find((x) => x.code === 'one-sided-capture')!;
    expect(v.summary).toContain('`dst port 8008`');
    expect(v.hint).not.toMatch(/asymmetric routing/);
  });
});
