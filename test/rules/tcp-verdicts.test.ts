import { describe, expect, it } from 'vitest';
import { analyzeConversation, analyzeFrames, conv, verdictCodes } from '../helpers/conversation.js';
import { arpFrame, icmpUnreachableFrame } from '../helpers/packets.js';
import { changeCipherSpec, clientHello, concat, encrypted, encryptedAlert, serverHello } from '../helpers/tls-records.js';

describe('handshake verdicts', () => {
  it('reports refused when the SYN is answered by RST+ACK', () => {
    const c = conv().client('S', 0).server('RA', 0.0001);
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f.state).toBe('REJ');
    expect(f.history).toBe('Sr');
    const v = f.verdicts.find((x) => x.code === 'refused')!;
    expect(v.severity).toBe('error');
    expect(v.summary).toBe('RST: no listener on 10.0.0.2:80 (SYN #1 answered by RST #2 in 0.1 ms)');
    expect(v.packets).toEqual([1, 2]);
    expect(v.hint).toMatch(/bound to 127\.0\.0\.1/);
  });

  it('reports syn-timeout with three SYNs and the intervals between them', () => {
    const c = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f.state).toBe('S0');
    expect(verdictCodes(r)).toEqual(['syn-timeout']);
    const v = f.verdicts[0];
    expect(v.facts).toMatchObject({ syns: 3, retries: 2, intervalsMs: [1000, 2000], listenerOverloaded: false });
    expect(v.summary).toContain('host down');
    expect(v.summary).toContain('1 s doubling: Linux');
    expect(v.packets).toEqual([1, 2, 3]);
  });

  it('takes an IPv6 SYN repeated 2 ms later for the same SYN seen twice, not a retry, and waits before calling it a timeout', () => {
    const v6 = { client: '[fd00::1]:57005', server: '[fd00::2]:48879' };
    const other = (t: number) => conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(t);
    const early = analyzeConversation(conv(v6).client('S', 0).client('S', 0.002, '', { seq: 0xffff_fff0 }), other(0.1));
    const flow = early.flows.find((f) => f.client === '[fd00::1]:57005')!;
    expect(flow.verdicts.map((v) => v.code)).toEqual(['capture-ended']);
    expect(flow.verdicts[0].facts).toMatchObject({ after: 'SYN #1', unansweredSyns: 1 });
    const late = analyzeConversation(conv(v6).client('S', 0).client('S', 0.002, '', { seq: 0xffff_fff0 }), other(3.2));
    const timedOut = late.flows.find((f) => f.client === '[fd00::1]:57005')!.verdicts;
    expect(timedOut.map((v) => v.code)).toEqual(['syn-timeout']);
    expect(timedOut[0].facts).toMatchObject({ syns: 1, retries: 0 });
    // Still one SYN 5 s on, while the client's host connects elsewhere: it gave the SYN up before its first retry.
    const given = analyzeConversation(conv(v6).client('S', 0).client('S', 0.002, '', { seq: 0xffff_fff0 }), conv({ client: '[fd00::1]:40000', server: '[fd00::3]:22' }).handshake(5));
    expect(given.flows.find((f) => f.client === '[fd00::1]:57005')!.verdicts.map((v) => v.code)).toEqual(['syn-abandoned']);
  });

  it('says capture-ended, not syn-timeout, while the client may still be retrying within its first 3 s', () => {
    // Linux schedule: SYN, its retry 1 s later, and the capture stops on the retry.
    const retrying = analyzeConversation(conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }));
    expect(verdictCodes(retrying)).toEqual(['capture-ended']);
    expect(retrying.flows[0].verdicts[0].facts).toMatchObject({ after: 'SYN #1 (retried 1 time, last #2)', unansweredSyns: 2, neededMs: 3000 });
    // A lone SYN 1.1 s before the end: a Windows client retries only after 3 s.
    const lone = analyzeConversation(conv().client('S', 0), conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(1.1));
    expect(lone.flows.find((f) => f.client === '10.0.0.1:51000')!.verdicts.map((v) => v.code)).toEqual(['capture-ended']);
  });

  it('does not assume one retry schedule: Windows-like 3 s retries are described as such', () => {
    const windows = { seq: 0xffff_fff0, ttl: 128 };
    const c = conv().client('S', 0, '', windows).client('S', 3, '', windows).client('S', 9, '', windows);
    const v = analyzeConversation(c).flows[0].verdicts[0];
    expect(v.code).toBe('syn-timeout');
    expect(v.facts.intervalsMs).toEqual([3000, 6000]);
    expect(v.summary).toContain('3 s doubling: Windows');
  });

  it('says the listener is overloaded when other SYNs to the same server:port were answered meanwhile', () => {
    const dropped = conv({ client: '10.0.0.1:40001' }).client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    const answered = conv({ client: '10.0.0.3:40002' }).handshake(0.5);
    const r = analyzeConversation(dropped, answered);
    const f = r.flows.find((x) => x.client === '10.0.0.1:40001')!;
    const v = f.verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toContain('listener overloaded');
    expect(v.facts.listenerOverloaded).toBe(true);
  });

  it('keeps "listener overloaded" however long the capture goes on after the dropped SYNs', () => {
    // A lone client's unanswered SYNs are held back as a possible scan's probe and judged at the
    // capture's end; the listener's answers around them must still count then.
    const retry = { seq: 0xffff_fff0 };
    const dropped = () => conv({ client: '10.0.0.1:40001' }).client('S', 0).client('S', 1, '', retry).client('S', 3, '', retry);
    const answered = () => conv({ client: '10.0.0.3:40002' }).handshake(0.5);
    // The same listener answering a client every 10 s until `end` s.
    const servedUntil = (end: number) => Array.from({ length: end / 10 }, (_, i) => conv({ client: `10.0.0.4:${41001 + i}` }).handshake(10 * (i + 1)));
    for (const end of [100, 400]) {
      const r = analyzeConversation(dropped(), answered(), ...servedUntil(end));
      const v = r.flows.find((x) => x.client === '10.0.0.1:40001')!.verdicts.find((x) => x.code === 'syn-timeout')!;
      expect(v.summary, `capture of ${end} s`).toContain('listener overloaded: 10.0.0.2:80 answered 1 other SYN meanwhile');
      expect(v.facts).toMatchObject({ otherSynsAnsweredMeanwhile: 1, listenerOverloaded: true });
    }
  });

  it('counts the answers a capture whose clock steps back logs after the dropped SYNs ended (two recordings joined)', () => {
    // Recording 1: the client's SYNs at 0, 1 and 3 s go unanswered while packet time moves on to
    // 100 s; recording 2, joined after it, steps back and holds the listener answering two other
    // clients at 0.4 and 2 s.
    const retry = { seq: 0xffff_fff0 };
    const dropped = conv({ client: '10.0.0.1:40001' }).client('S', 0).client('S', 1, '', retry).client('S', 3, '', retry);
    const elsewhere = Array.from({ length: 50 }, (_, i) => conv({ client: `10.0.0.9:${30000 + i}`, server: '10.0.0.8:22' }).handshake(5 + 2 * i));
    const first = [dropped, ...elsewhere].flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
    const second = [conv({ client: '10.0.0.3:40002' }).handshake(0.4), conv({ client: '10.0.0.4:40003' }).handshake(2)].flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
    const r = analyzeFrames([...first, ...second]);
    const v = r.flows.find((x) => x.client === '10.0.0.1:40001')!.verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toContain('listener overloaded: 10.0.0.2:80 answered 2 other SYNs meanwhile');
  });

  it('keeps listen-queue-overflow for a connection whose SYNs were dropped however long the capture goes on after it', () => {
    const retry = { seq: 0xffff_fff0 };
    // Two retries, then answered and closed at once; another client answered between the drops.
    const dropped = conv({ client: '10.0.0.1:40001' }).client('S', 0).client('S', 1, '', retry).client('S', 3, '', retry).server('SA', 3.001).client('A', 3.002).client('FA', 4).server('FA', 4.001).client('A', 4.002);
    const answered = conv({ client: '10.0.0.3:40002' }).handshake(0.5);
    const servedUntil = Array.from({ length: 40 }, (_, i) => conv({ client: `10.0.0.4:${41001 + i}` }).handshake(10 * (i + 1)));
    const v = analyzeConversation(dropped, answered, ...servedUntil).verdicts.find((x) => x.code === 'listen-queue-overflow')!;
    expect(v.summary).toBe("listen queue of 10.0.0.2:80 overflowed: 2 SYNs from 1 connection dropped while it answered other connections' SYNs (42 connections answered in all)");
    expect(v.packets).toEqual([1]);
  });

  it('does not call the listener overloaded for a connection it served and closed before the dropped SYNs began', () => {
    // A firewall DROP added, or the host gone, right after one good connection.
    const served = conv({ client: '10.0.0.3:40002' }).handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\n\r\n').server('PA', 0.003, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').client('FA', 0.004).server('FA', 0.004).client('A', 0.005);
    const retry = { seq: 0xffff_fff0 };
    const dropped = conv({ client: '10.0.0.1:40001' }).client('S', 0.5).client('S', 1.5, '', retry).client('S', 2.5, '', retry).client('S', 3.5, '', retry);
    const r = analyzeConversation(served, dropped);
    const v = r.flows.find((x) => x.client === '10.0.0.1:40001')!.verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.summary).toContain('no answer at all');
    expect(v.facts).toMatchObject({ otherSynsAnsweredMeanwhile: 0, listenerOverloaded: false });
    expect(r.verdicts.map((x) => x.code)).not.toContain('listen-queue-overflow');
  });

  it('reports syn-retry-then-connected when a retried SYN is finally answered', () => {
    const c = conv().client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 });
    c.server('SA', 1.001).client('A', 1.002);
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    expect(verdictCodes(r)).toContain('syn-retry-then-connected');
    expect(r.flows[0].verdicts.find((v) => v.code === 'syn-retry-then-connected')!.facts.connectDelayMs).toBe(1001);
  });

  it('reports synack-retry and half-open when the final ACK never comes', () => {
    const c = conv().client('S', 0).server('SA', 0.001).server('SA', 1.001, '', { seq: 0xffff_ff00 }).server('SA', 3.001, '', { seq: 0xffff_ff00 });
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    expect(verdictCodes(r)).toEqual(['half-open', 'synack-retry']);
    expect(r.flows[0].verdicts.find((v) => v.code === 'synack-retry')!.facts.synAcks).toBe(3);
  });

  it('half-open names the client\'s host when no router lies between the capture and the client (its TTL as sent)', () => {
    // A Windows client (TTL 128) whose SYN-ACK, re-sent over 87 s, gets no ACK, no RST and no SYN retry; the server then resets.
    const sent = (ttl: number) =>
      conv()
        .client('S', 0, '', { ttl })
        .server('SA', 0.05, '', { ttl: 52 })
        .server('SA', 7.4, '', { seq: 0xffff_ff00, ttl: 52 })
        .server('SA', 21.4, '', { seq: 0xffff_ff00, ttl: 52 })
        .server('RA', 87.7, '', { seq: 0xffff_ff01, ttl: 52 });
    const atClient = analyzeConversation(sent(128)).flows[0].verdicts;
    const halfOpen = atClient.find((v) => v.code === 'half-open')!;
    expect(halfOpen.severity).toBe('error');
    expect(halfOpen.summary).toBe(
      "SYN-ACK #2 sent, the client never completed the handshake: no router between the capture and the client (its TTL 128 is as sent), so the SYN-ACK reached the client's network, and the client answered it with nothing: no ACK, no RST, no SYN retry",
    );
    expect(halfOpen.hint).toMatch(/^The server and the path worked; the client's host ended the handshake/);
    expect(halfOpen.facts).toMatchObject({ clientLink: true, synRetriedAfterSynAck: false });
    const synAckRetry = atClient.find((v) => v.code === 'synack-retry')!;
    expect(synAckRetry.summary).toMatch(/: no final ACK from the client in the capture; the handshake never completed$/);
    expect(synAckRetry.hint).not.toMatch(/accept queue/);
    // Routed on the way (TTL 117 of 128): the SYN-ACK may have been lost between the capture and the client.
    const routed = analyzeConversation(sent(117)).flows[0].verdicts.find((v) => v.code === 'half-open')!;
    expect([routed.severity, routed.summary, routed.facts.clientLink]).toEqual(['error', 'SYN-ACK #2 sent, the client never completed the handshake', false]);
    expect(routed.hint).toMatch(/Check the return path/);
  });

  it("a client's RST answering bytes that crossed its FIN is its stack's reply to a closed socket: info", () => {
    // The client closes; the server's goodbye and FIN, sent as the FIN travelled, arrive at a closed socket.
    const closing = (serverAfter: number) => {
      const c = conv().handshake(0, 0.01).client('PA', 0.02, 'QUIT\r\n').server('A', 0.03);
      c.client('FA', 1).server('PA', 1 + serverAfter, 'ERROR :Closing link\r\n');
      c.client('R', 1 + serverAfter + 0.0001, '', { seq: c.c.next });
      c.server('FA', 1 + serverAfter + 0.0002);
      return analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'rst-by-client')!;
    };
    const crossed = closing(0.005);
    expect(crossed.severity).toBe('info');
    expect(crossed.summary).toMatch(/the server's FIN #\d+ crossed it within a round trip: an answer to bytes reaching a closed socket\)$/);
    // The server's bytes came 2 s after the client's FIN, 200 round trips: the close did not cross them.
    expect(closing(2).severity).toBe('warning');
  });

  it("a client's RST after the server closed its socket whole (it resets the client's last bytes) takes nothing from it: info", () => {
    const c = conv().handshake(0, 0.01).client('PA', 0.02, 'hello').server('PA', 0.03, 'bye');
    c.server('FA', 0.031).client('A', 0.032).client('PA', 0.033, 'late');
    const late = c.c.next;
    c.client('R', 0.0331, '', { seq: late });
    c.server('R', 0.05, '', { seq: c.s.next });
    const v = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'rst-by-client')!;
    expect(v.severity).toBe('info');
    expect(v.summary).toMatch(/the server had closed its socket: it reset what reached it afterwards \(RST #\d+\)\)$/);
  });

  it("a server's RST at the end of its SYN-ACK retries aborts no connection: rst-by-server is info beside half-open", () => {
    const c = conv()
      .client('S', 0)
      .server('SA', 0.05)
      .server('SA', 7.4, '', { seq: 0xffff_ff00 })
      .server('SA', 21.4, '', { seq: 0xffff_ff00 })
      .server('RA', 87.7, '', { seq: 0xffff_ff01 });
    const verdicts = analyzeConversation(c).flows[0].verdicts;
    const rst = verdicts.find((v) => v.code === 'rst-by-server')!;
    expect(rst.severity).toBe('info');
    expect(rst.summary).toBe('connection reset by the server (RST #5, before any data, the handshake never completed: the server gave up its half-open connection after 3 SYN-ACKs)');
    expect(rst.hint).not.toMatch(/crashed/);
    expect(verdicts.find((v) => v.code === 'half-open')!.severity).toBe('error');
  });

  it("a SYN-ACK that answers the client's repeated SYN is no re-send: no synack-retry, the client's retry is told", () => {
    // The client sends its SYN again before the first SYN-ACK reaches it; the server answers that one too.
    const c = conv().client('S', 0).client('S', 0.2, '', { seq: 0xffff_fff0 }).server('SA', 0.25).server('SA', 0.45, '', { seq: 0xffff_ff00 }).client('A', 0.26);
    const codes = analyzeConversation(c).flows[0].verdicts.map((v) => v.code);
    expect(codes).not.toContain('synack-retry');
    // A re-send of the server's own: the client sent one SYN.
    const timer = conv().client('S', 0).server('SA', 0.05).server('SA', 1.05, '', { seq: 0xffff_ff00 }).client('A', 1.06);
    const v = analyzeConversation(timer).flows[0].verdicts.find((x) => x.code === 'synack-retry')!;
    expect(v.summary).toBe("server re-sent its SYN-ACK 1 time (#2, #3): the client's final ACK was lost or ignored; the handshake completed at #4");
  });

  it('half-open says the client\'s host dropped the SYN-ACK when the client, on the capture\'s network, sent its SYN again after it', () => {
    const c = conv().client('S', 0).server('SA', 0.001).client('S', 1, '', { seq: 0xffff_fff0 }).server('SA', 1.001, '', { seq: 0xffff_ff00 }).client('S', 3, '', { seq: 0xffff_fff0 });
    const v = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'half-open')!;
    expect(v.summary).toMatch(/, and the client sent its SYN again \(#3\): its TCP never got the SYN-ACK$/);
    expect(v.packets).toEqual([1, 2, 3]);
    expect(v.hint).toMatch(/drops it before TCP sees it/);
  });

  it('waits for the answer to the SYN-ACK that answers the client\'s last SYN: the capture ending with it is capture-ended, not half-open', () => {
    const syn = { seq: 0xffff_fff0 };
    const synAck = { seq: 0xffff_ff00 };
    const c = conv().client('S', 0).server('SA', 0.001).client('S', 1, '', syn).server('SA', 1.001, '', synAck).client('S', 2, '', syn).server('SA', 2.001, '', synAck);
    const f = analyzeConversation(c).flows[0];
    expect(f.verdicts.map((v) => v.code)).toEqual(['capture-ended']);
    expect(f.verdicts[0].facts.after).toBe('SYN-ACK #6');
    // Watched 2 s longer, the last SYN-ACK went unanswered too: half-open.
    const watched = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(4));
    expect(watched.flows.find((x) => x.client === '10.0.0.1:51000')!.verdicts.map((v) => v.code)).toContain('half-open');
  });

  it('synack-retry does not say the handshake never completed when the capture ended as the client\'s last SYN was answered', () => {
    const synAck = { seq: 0xffff_ff00 };
    const c = conv().client('S', 0).server('SA', 0.001).client('S', 1, '', { seq: 0xffff_fff0 }).server('SA', 1.0005, '', synAck).server('SA', 1.001, '', synAck);
    const v = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'synack-retry')!;
    expect(v.summary).toBe("server re-sent its SYN-ACK 1 time (#2, #4, #5; 1 other answered the client's repeated SYN): the capture ended before the client's answer to SYN-ACK #4 was due");
  });

  it('synack-retry does not say which SYN-ACKs answered repeated SYNs when the first came a wait rather than a round trip after the SYN', () => {
    // nDPI gnutella flow 56: SYNs at 0, 3 and 9 s, the first SYN-ACK at 31.7 s, six more after it.
    const synAck = { seq: 0xffff_ff00 };
    const c = conv().client('S', 0).client('S', 3, '', { seq: 0xffff_fff0 }).client('S', 9, '', { seq: 0xffff_fff0 });
    for (const t of [31.7, 38.1, 51.7, 65.9]) c.server('SA', t, '', synAck);
    const v = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'synack-retry')!;
    expect(v.summary).toMatch(/^server sent its SYN-ACK 4 times \(#4, #5, #6, #7; the first 31\.7 s after the SYN, so up to 2 of the others may answer the client's repeated SYNs rather than re-send it\): /);
  });

  it('blames the destination\'s own firewall for a host unreachable the destination sent itself, and routing for one from a router', () => {
    const hostUnreachableFrom = (from: string) => {
      const icmp = icmpUnreachableFrame({ from, code: 1, quoted: { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 80, flags: 'S', seq: 0xffff_fff0 } });
      return analyzeFrames([...conv().client('S', 0).packets, { frame: icmp, t: 0.0001 }]).flows[0].verdicts.find((x) => x.code === 'icmp-unreachable')!;
    };
    const itself = hostUnreachableFrom('10.0.0.2');
    expect(itself.summary).toBe('ICMP host unreachable from 10.0.0.2 (#2) about this connection');
    expect(itself.hint).toMatch(/^The destination host sent this error itself, so it is up and reachable: its own firewall rejects the connection \(iptables REJECT --reject-with icmp-host-unreachable/);
    expect(hostUnreachableFrom('10.0.0.254').hint).toMatch(/^A router has no route to the destination/);
  });

  it('ties an ICMP port unreachable to the flow it quotes, and to no other', () => {
    const c = conv().client('S', 0);
    const other = conv({ client: '10.0.0.1:51001' }).client('S', 0.0001);
    const icmp = icmpUnreachableFrame({ src: '10.0.0.2', dst: '10.0.0.1', code: 3, quoted: { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 80, flags: 'S', seq: 0xffff_fff0 } });
    const r = analyzeFrames([...c.packets, ...other.packets, { frame: icmp, t: 0.0002 }]);
    expect(r.flows).toHaveLength(2);
    const v = r.flows[0].verdicts.find((x) => x.code === 'icmp-unreachable')!;
    expect(v.summary).toBe('ICMP port unreachable from 10.0.0.2 (#3) about this connection');
    expect(v.packets).toEqual([3]);
    expect(r.flows[0].icmp.map((e) => e.no)).toEqual([3]);
    expect(r.flows[1].icmp).toEqual([]);
  });

  // The gateway 10.0.0.254 answers the client: the capture point sees ARP replies.
  const gatewayExchange = [
    { frame: arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.254' }), t: 0.1 },
    { frame: arpFrame({ op: 'reply', senderIp: '10.0.0.254', targetIp: '10.0.0.1', senderMac: '02:00:00:00:00:fe', targetMac: '02:00:00:00:00:01' }), t: 0.1001 },
    // Replies to 10.0.0.1 from two hosts: the capture sees its replies, not only those of the capturing host.
    { frame: arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.3' }), t: 0.2 },
    { frame: arpFrame({ op: 'reply', senderIp: '10.0.0.3', targetIp: '10.0.0.1', senderMac: '02:00:00:00:00:03', targetMac: '02:00:00:00:00:01' }), t: 0.2001 },
  ];

  it('reports arp-unanswered for the capture and for the flow to that address', () => {
    const arps = [0, 1, 2].map((t) => ({ frame: arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.2' }), t }));
    const c = conv().client('S', 0.5);
    const r = analyzeFrames([...arps, ...gatewayExchange, ...c.packets].sort((a, b) => a.t - b.t));
    expect(r.verdicts.map((v) => v.code)).toEqual(['arp-unanswered']);
    expect(r.verdicts[0].facts).toMatchObject({ ip: '10.0.0.2', requests: 3 });
    expect(r.flows[0].verdicts.map((v) => v.code)).toContain('arp-unanswered');
  });

  it('says nothing of ARP requests in a capture that holds no ARP reply at all (a mirror of broadcasts)', () => {
    const arps = [0, 1, 2].map((t) => ({ frame: arpFrame({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.2' }), t }));
    const r = analyzeFrames([...arps, ...conv().client('S', 0.5).packets].sort((a, b) => a.t - b.t));
    expect(r.verdicts.map((v) => v.code)).not.toContain('arp-unanswered');
    expect(r.flows[0].verdicts.map((v) => v.code)).not.toContain('arp-unanswered');
  });

  it('takes requests from 0.0.0.0 for duplicate-address probes, which expect no answer (RFC 5227)', () => {
    const probes = [0, 1, 2].map((t) => ({ frame: arpFrame({ op: 'request', senderIp: '0.0.0.0', targetIp: '10.0.0.1' }), t }));
    const r = analyzeFrames([...probes, ...gatewayExchange, ...conv().handshake(3).packets].sort((a, b) => a.t - b.t));
    expect(r.verdicts.map((v) => v.code)).toEqual([]);
  });
});

describe('flow orientation', () => {
  it('keeps one flow with the SYN sender as client when SYN and SYN-ACK are captured in reverse order', () => {
    const c = conv().client('S', 0).server('SA', 0.001).client('A', 0.002);
    // Swap the first two packets' order in the capture, keeping their times.
    const [syn, synAck, ack] = c.packets;
    const r = analyzeFrames([synAck, syn, ack]);
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0].client).toBe('10.0.0.1:51000');
    expect(r.flows[0].server).toBe('10.0.0.2:80');
    expect(r.flows[0].history.startsWith('^')).toBe(true);
  });

  it('guesses the server from a likely server port when the SYN is missing, and says midstream', () => {
    const c = conv();
    c.server('PA', 0, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').client('A', 0.01);
    const r = analyzeConversation(c);
    expect(r.flows[0].server).toBe('10.0.0.2:80');
    expect(r.flows[0].history).toBe('^dA');
    expect(verdictCodes(r)).toEqual(['midstream']);
    expect(r.flows[0].verdicts[0].severity).toBe('info');
  });

  it('counts data across the 2^32 sequence wrap without calling it a retransmission', () => {
    const c = conv({ clientIsn: 0xffff_fff0 }).handshake(0);
    for (let i = 0; i < 4; i++) c.client('PA', 0.01 + i * 0.01, 'x'.repeat(10)).server('A', 0.011 + i * 0.01);
    c.client('FA', 1).server('FA', 1.001).client('A', 1.002);
    const r = analyzeConversation(c);
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0].history).toBe('ShADaFf');
    expect(r.flows[0].state).toBe('SF');
    expect(r.flows[0].clientSide.bytes).toBe(40);
    expect(verdictCodes(r)).toEqual(['clean-close']);
  });
});

describe('teardown verdicts', () => {
  it('reports port-reuse when a new SYN reuses the 4-tuple 2 s after the previous connection closed', () => {
    const first = conv().handshake(0).client('FA', 0.5).server('FA', 0.501).client('A', 0.502);
    const second = conv({ clientIsn: 0x1000 }).handshake(2.5);
    const r = analyzeConversation(first, second);
    expect(r.flows).toHaveLength(2);
    expect(r.flows[0].verdicts.map((v) => v.code)).toEqual(['clean-close']);
    const v = r.flows[1].verdicts.find((x) => x.code === 'port-reuse')!;
    expect(v.facts).toMatchObject({ previousFlow: 1, previousState: 'SF' });
    expect(v.summary).toContain('within TIME_WAIT');
  });

  it('reports rst-by-server as an error when the request got no answer', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.011).server('RA', 0.5);
    const r = analyzeConversation(c);
    const v = r.flows[0].verdicts.find((x) => x.code === 'rst-by-server')!;
    expect(v.severity).toBe('error');
    expect(v.summary).toContain('the request got no answer');
    expect(r.flows[0].state).toBe('RSTR');
  });

  it('takes a mid-stream lone byte that the client sends again as a keep-alive for a probe, not an unanswered request', () => {
    const other = conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(40);
    const probe = { seq: 5000, ack: 9000 };
    const probed = conv({ client: '192.168.115.8:49581', server: '64.233.189.128:80' })
      .client('A', 0, 'x', probe).client('A', 0.00005, 'x', probe).server('A', 0.009, '', { seq: 9000, ack: 5001 })
      .client('A', 45, 'x', probe).server('A', 45.01, '', { seq: 9000, ack: 5001 });
    const flow = analyzeConversation(probed, other).flows.find((f) => f.client === '192.168.115.8:49581')!;
    expect(flow.verdicts.map((v) => v.code)).toEqual(['midstream']);
    // The same byte never sent again is a one-byte request like any other.
    const once = conv({ client: '192.168.115.8:49581', server: '64.233.189.128:80' }).client('A', 0, 'x', probe).server('A', 0.009, '', { seq: 9000, ack: 5001 });
    expect(analyzeConversation(once, other).flows.find((f) => f.client === '192.168.115.8:49581')!.verdicts.map((v) => v.code)).toContain('no-response');
  });

  it('does not call the last encrypted record of a connection caught mid-stream unanswered once the server had spoken', () => {
    // TLS application-data records (type 23), as HTTP/2 over TLS sends them: the server answers the
    // client's first records, then the client's 38-byte record (a SETTINGS acknowledgement's size) is only ACKed.
    const record = (len: number) => Uint8Array.from({ length: len }, (_, i) => (i === 0 ? 23 : i === 1 ? 3 : i === 2 ? 3 : i === 3 ? (len - 5) >> 8 : i === 4 ? (len - 5) & 0xff : i));
    const hosts = { client: '[2a00:d40:1:3::d4c]:41776', server: '[2a00:1450:4001:803::1017]:443' };
    const other = conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(20);
    const caught = (serverSpoke: boolean) => {
      const c = conv(hosts).client('PA', 0, record(182)).client('PA', 0.0001, record(38)).server('A', 0.024);
      if (serverSpoke) c.server('PA', 0.0241, record(38)).client('A', 0.0242).server('PA', 0.055, record(169)).client('A', 0.0551);
      return analyzeConversation(c.client('PA', 0.0554, record(38)).server('A', 0.115), other).flows.find((f) => f.client === hosts.client)!;
    };
    expect(caught(true).verdicts.map((v) => v.code)).toEqual(['midstream']);
    // A server that never sent a byte in the capture is still one that left the client's bytes unanswered.
    expect(caught(false).verdicts.map((v) => v.code)).toContain('no-response');
  });

  it('does not call a zero window advertised after the side\'s own FIN a stalled receiver (radmin3\'s closed socket)', () => {
    const closed = conv().handshake(0).client('PA', 0.001, 'hello12345').server('A', 0.05).server('PA', 0.45, 'x'.repeat(46))
      .client('FA', 0.4501).server('FA', 0.4502).client('A', 0.4503)
      .client('FA', 0.766, '', { seq: 0xffff_fff0 + 11 }).server('A', 0.7662, '', { window: 0 });
    expect(verdictCodes(analyzeConversation(closed))).not.toContain('zero-window');
    // A zero window before the server's FIN is a receiver that stopped reading.
    const stalled = conv().handshake(0).client('PA', 0.001, 'hello12345').server('A', 0.05, '', { window: 0 }).server('A', 2, '')
      .server('PA', 2.45, 'x'.repeat(46)).client('FA', 2.4501).server('FA', 2.4502).client('A', 2.4503);
    expect(verdictCodes(analyzeConversation(stalled))).toContain('zero-window');
  });

  /** A 40 ms download whose client closes its window `closures` times, for `closedFor` seconds each. */
  const downloadWithClosedWindow = (closedFor: number, closures = 1, rtt = 0.001, end = 0.04) => {
    const c = conv().handshake(0, rtt).client('PA', rtt + 0.001, 'GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
    let t = rtt + 0.002;
    for (let i = 0; i < closures; i++) {
      c.server('A', t, 'x'.repeat(1000)).client('A', t + 0.0001, '', { window: 0 }).client('A', t + 0.0001 + closedFor);
      t += 0.0002 + closedFor;
    }
    c.server('A', t, 'x'.repeat(1000)).client('A', t + 0.0001).server('FA', end).client('FA', end + 0.0001).server('A', end + 0.0002);
    return analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'zero-window');
  };

  it('says a zero window that reopened within a few milliseconds is flow control, as info, not a stalled reader', () => {
    const v = downloadWithClosedWindow(0.0003, 2);
    expect(v?.severity).toBe('info');
    expect(v?.summary).toBe('the client advertised a zero window (#6, 2 times): closed for 0.3 ms, reopened at #10; the server sent 0 zero-window probes: flow control, not a stalled reader (each time reopened within 5.0 ms)');
  });

  it('keeps a warning for a zero window closed longer than a few milliseconds and round trips, or brief closures that add up', () => {
    expect(downloadWithClosedWindow(0.02)?.severity).toBe('warning');
    // Thirty closures of 1 ms each: the window is shut for most of the download.
    expect(downloadWithClosedWindow(0.001, 30)?.severity).toBe('warning');
  });

  it('allows no round trips for a window the receiver reopened unprobed: both packets are its own, the path stretches neither', () => {
    // A 100 ms path and a 2 s download; closed for 20 ms, reopened without a probe.
    expect(downloadWithClosedWindow(0.02, 1, 0.1, 2)?.severity).toBe('warning');
  });

  it('says capture-ended for a request the capture stopped on before the server could even acknowledge it', () => {
    const c = conv({ client: '192.168.1.184:56680', server: '138.59.17.58:30303' }).handshake(0, 0.2).client('PA', 1, 'x'.repeat(300));
    const r = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(1.08));
    const f = r.flows.find((x) => x.client === '192.168.1.184:56680')!;
    expect(f.verdicts.map((v) => v.code)).toEqual(['capture-ended']);
    expect(f.verdicts[0].facts).toMatchObject({ after: 'request #4', neededMs: 1000 });
  });

  it('in a capture of the client\'s direction only, says syn-timeout when the client\'s own SYN back-off proves no SYN-ACK reached it', () => {
    const hosts = { client: '192.168.180.2:41000', server: '137.135.131.52:443' };
    // Another connection between the same hosts: the client ACKs a SYN-ACK and data the capture never holds.
    const connected = conv(hosts).client('S', 0).client('A', 0.05, '', { ack: 0xffff_ff01 }).client('PA', 0.06, 'hello', { ack: 0xffff_ff01 }).client('A', 0.2, '', { ack: 0xffff_ff01 + 1000 });
    const retries = (times: number[]) => times.reduce((c, t, i) => c.client('S', t, '', i === 0 ? {} : { seq: 0xffff_fff0 }), conv({ ...hosts, client: '192.168.180.2:46166', server: '137.135.131.52:5122' }));
    const tail = conv(hosts).client('A', 40, '', { seq: 0xffff_fff6, ack: 0xffff_ff01 + 1000 });
    const judged = (times: number[]) => analyzeConversation(connected, retries(times), tail).flows.find((f) => f.client === '192.168.180.2:46166')!;
    const backedOff = judged([0, 1, 3, 7, 15, 31]);
    expect(backedOff.visibility.seen).toBe('client-only');
    expect(backedOff.verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
    expect(backedOff.verdicts[0].summary).toMatch(/the capture holds none of the server's direction, but the client resent its SYN 5 times with back-off/);
    // Two retries prove too little when the server's packets could simply be missing from the capture.
    expect(judged([0, 1, 3]).verdicts.map((v) => v.code)).not.toContain('syn-timeout');
  });

  it('keeps one connection across a SYN-ACK stamped far ahead of the clock, and measures no handshake time from it', () => {
    // The SYN-ACK alone is stamped 5000 s late (a broken clock on one packet); its neighbours are not.
    // It acknowledges the SYN, so the attempt does not go idle under it.
    const c = conv().client('S', 0).server('SA', 5000).client('A', 0.0002).client('PA', 0.001, 'ping').server('PA', 0.002, 'pong')
      .client('FA', 0.003).server('FA', 0.004).client('A', 0.005);
    const r = analyzeFrames(c.packets);
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0].verdicts.map((v) => v.code)).toEqual(['clean-close']);
    // A second capture joined on, its clock 5000 s on: the open flow before the leap still goes idle.
    const joined = analyzeFrames([...conv().handshake(0).packets, ...conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(5000).packets]);
    expect(joined.flows.find((f) => f.client === '10.0.0.1:51000')!.endReason).toBe('idle');
  });

  it('does not call unread bytes that the client ends with a FIN, answered by the server\'s FIN, unanswered; an HTTP request of that shape is', () => {
    const shape = (payload: string) =>
      conv({ client: '192.168.200.135:7875', server: '192.168.200.21:2000' }).handshake(0).client('PA', 0.005, payload).server('A', 0.0051)
        .client('FA', 2.738).server('FA', 2.7382).client('A', 2.742);
    expect(verdictCodes(analyzeConversation(shape('hello\n')))).toEqual(['clean-close']);
    expect(verdictCodes(analyzeConversation(shape('GET / HTTP/1.1\r\nHost: a\r\n\r\n')))).toContain('no-response');
  });

  it('reports half-closed when only one side sent a FIN: a warning when the server left its side open', () => {
    const c = conv().handshake(0).client('FA', 0.5).server('A', 0.501).server('A', 5);
    const r = analyzeConversation(c);
    expect(verdictCodes(r)).toEqual(['half-closed']);
    const v = r.flows[0].verdicts[0];
    expect([v.facts.closer, v.severity]).toEqual(['client', 'warning']);
    expect(v.hint).toMatch(/^The server application has not closed its socket/);
  });

  describe('when the client left its side open after the server\'s FIN', () => {
    const get = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    /** A request and its answer, then the server's FIN `finAfter` s later; the capture ends 60 s after the FIN. */
    const served = (answer: string, finAfter: number, c = conv().handshake(0)) => {
      c.client('PA', 0.01, get).server('PA', 0.02, answer).client('A', 0.03).server('FA', 0.02 + finAfter).client('A', 0.021 + finAfter);
      return c;
    };
    /** A TLS 1.2 session on port 443 through the handshake and the client's first record at 0.1 s. */
    const tlsOpened = () => {
      const c = conv({ server: '10.0.0.2:443' }).handshake(0);
      c.client('PA', 0.01, clientHello()).server('PA', 0.02, concat(serverHello(false), changeCipherSpec(), encrypted(50)));
      return c.client('PA', 0.03, concat(changeCipherSpec(), encrypted(53))).server('A', 0.031).client('PA', 0.1, encrypted(300));
    };
    /** The server's answer to it at 0.2 s, acknowledged. */
    const tlsAnswered = () => tlsOpened().server('PA', 0.2, encrypted(800)).client('A', 0.21);
    /** The server's answer, one 4,000-byte record, sent in pieces from 1.0 s to 3.404 s, each acknowledged. */
    const tlsInPieces = () => {
      const c = tlsOpened().server('A', 0.101);
      const record = encrypted(4000);
      for (let i = 0; i < 4; i++) c.server('PA', 1 + 0.8 * i, record.subarray(i * 1000, (i + 1) * 1000)).client('A', 1.001 + 0.8 * i);
      return c.server('PA', 3.404, record.subarray(4000)).client('A', 3.41);
    };
    const halfClosed = (c: ReturnType<typeof conv>) => {
      const r = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(70));
      return r.flows.find((f) => f.client === '10.0.0.1:51000')!.verdicts.find((x) => x.code === 'half-closed')!;
    };

    it('is info after an idle keep-alive connection: a pool closes it when it next takes it; idle-close says info too', () => {
      const c = served('HTTP/1.1 204 No Content\r\n\r\n', 5);
      const idle = analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'idle-close')!;
      expect([idle.severity, idle.facts.closer, idle.facts.cleanClose]).toEqual(['info', 'server', true]);
      const v = halfClosed(c);
      expect([v.facts.closer, v.severity, v.facts.idleBeforeFinMs]).toEqual(['server', 'info', 5000]);
      expect(v.summary).toMatch(/^only the server sent a FIN \(#\d+\); the client had not closed its side \d+\.\d s later when the capture ended$/);
      expect(v.hint).toMatch(/^The server closed the connection after it had been idle/);
    });

    it('is a warning when the FIN came with the answer: no pool keeps a connection the server closes at once, a body never read or closed does', () => {
      const v = halfClosed(served('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', 0.001));
      expect([v.facts.closer, v.severity]).toEqual(['server', 'warning']);
      expect(v.hint).toMatch(/^The client application has not closed its socket after the server's FIN: a response body never read/);
    });

    it('counts the idle from before the TLS alert the server closes with (close_notify), when every record of it was read', () => {
      // TLS 1.2 on port 443: records both ways, 6 s of silence, then the server's alert and its FIN 1 ms apart (nDPI 1kxun flow 32).
      const closed = tlsAnswered().server('PA', 6.2, encryptedAlert()).client('A', 6.201).server('FA', 6.2013).client('A', 6.2014);
      const v = halfClosed(closed);
      expect([v.severity, v.facts.idleBeforeFinMs]).toEqual(['info', 5990]);
      // idle-close too measures to the alert (#11), not to the FIN (#13), from the last packet before it (the client's ACK #10), and cites both.
      const idle = analyzeConversation(closed).flows[0].verdicts.find((x) => x.code === 'idle-close')!;
      expect(idle.summary).toBe('idle 5.99 s, then the server closed the connection (TLS alert #11, then FIN #13)');
      expect(idle.packets).toEqual([10, 11, 13]);
      expect(idle.facts).toMatchObject({ closer: 'server', idleMs: 5990, tlsAlertPacket: 11 });
      // Without the alert the FIN came 1.3 ms after the server's last data: no idle, a warning.
      const busy = tlsAnswered().server('PA', 6.2, encrypted(500)).client('A', 6.201).server('FA', 6.2013).client('A', 6.2014);
      expect(halfClosed(busy).severity).toBe('warning');
      expect(analyzeConversation(busy).flows[0].verdicts.map((x) => x.code)).not.toContain('idle-close');
      // The server's last record went out in pieces until 3.404 s; its alert came at 4.6 s: 1.2 s of quiet, too little for idle-close.
      const pieces = tlsInPieces().server('PA', 4.6, encryptedAlert()).client('A', 4.601).server('FA', 4.6013).client('FA', 4.602).server('A', 4.603);
      expect(analyzeConversation(pieces).flows[0].verdicts.map((x) => x.code)).not.toContain('idle-close');
      // Nor is it the idle a half-close needs to be info, when the client left its side open.
      const halfPieces = tlsInPieces().server('PA', 4.6, encryptedAlert()).client('A', 4.601).server('FA', 4.6013).client('A', 4.602);
      expect(halfClosed(halfPieces).severity).toBe('warning');
    });

    it('over TLS, is a warning for a request the server only acknowledged, a close_notify sent with the answer, or a FIN the client never acknowledged; info when a longer pause came earlier', () => {
      const codes = (c: ReturnType<typeof conv>) => {
        const f = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(70)).flows.find((x) => x.client === '10.0.0.1:51000')!;
        return Object.fromEntries(f.verdicts.filter((x) => x.code === 'half-closed' || x.code === 'idle-close').map((x) => [x.code, x.severity]));
      };
      // The client's last record got only an ACK; 7 s later the server's alert and FIN.
      expect(codes(tlsAnswered().client('PA', 1, encrypted(300)).server('A', 1.001).server('PA', 8, encryptedAlert()).client('A', 8.001).server('FA', 8.0013).client('A', 8.0014))).toEqual({ 'half-closed': 'warning', 'idle-close': 'warning' });
      // The alert went with the answer; the FIN 3 s later only followed it.
      expect(codes(tlsAnswered().server('PA', 0.201, encryptedAlert()).client('A', 0.22).server('FA', 3.3).client('A', 3.301))['half-closed']).toBe('warning');
      // The client never acknowledged the FIN.
      expect(codes(tlsAnswered().server('PA', 6.2, encryptedAlert()).client('A', 6.201).server('FA', 6.2013))['half-closed']).toBe('warning');
      // A 3 s pause mid-connection, then 2.5 s of idle before the alert: the idle still counts.
      expect(codes(tlsAnswered().client('PA', 3.2, encrypted(300)).server('PA', 3.3, encrypted(800)).client('A', 3.31).server('PA', 5.8, encryptedAlert()).client('A', 5.801).server('FA', 5.8013).client('A', 5.8014))['half-closed']).toBe('info');
    });

    it('is a warning when the server closed on a request it never answered, or on an HTTP/1.0 exchange no pool keeps', () => {
      // The server only acknowledged the GET, and closed 30 s later: no idle, an unanswered request.
      const unanswered = conv().handshake(0).client('PA', 0.01, get).server('A', 0.02).server('FA', 30).client('A', 30.001);
      expect(halfClosed(unanswered).severity).toBe('warning');
      // The same with bytes no dissector reads (port 6379).
      const opaque = conv({ server: '10.0.0.2:6379' }).handshake(0).client('PA', 0.01, 'PING\r\n').server('A', 0.02).server('FA', 10).client('A', 10.001);
      expect(halfClosed(opaque).severity).toBe('warning');
      const http10 = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.0\r\n\r\n').server('PA', 0.02, 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok').client('A', 0.03).server('FA', 3.02).client('A', 3.021);
      expect(halfClosed(http10).severity).toBe('warning');
    });

    it('is a warning after a WebSocket, or where the capture missed some of the server\'s bytes', () => {
      const upgrade = 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
      const accepted = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
      const ws = conv().handshake(0).client('PA', 0.01, upgrade).server('PA', 0.02, accepted).client('A', 0.03).server('PA', 0.04, new Uint8Array([0x81, 0x02, 0x68, 0x69])).client('A', 0.05);
      ws.server('FA', 5.04).client('A', 5.041);
      expect(halfClosed(ws).severity).toBe('warning');
      // Unread bytes on port 6379: 1,000 of the answer are not in the capture, though the client acknowledged them all.
      const gap = conv({ server: '10.0.0.2:6379' }).handshake(0).client('PA', 0.01, 'PING\r\n').server('PA', 0.02, 'x'.repeat(10));
      gap.s.next = (gap.s.next + 1000) >>> 0;
      gap.server('PA', 0.03, 'x'.repeat(10)).client('A', 0.04).server('FA', 5.03).client('A', 5.031);
      expect(halfClosed(gap).severity).toBe('warning');
    });

    it('is a warning when the client sent data after the FIN, or the roles are only guessed', () => {
      const late = served('HTTP/1.1 204 No Content\r\n\r\n', 5).client('PA', 6, get);
      expect(halfClosed(late).severity).toBe('warning');
      // Begun mid-stream on opaque bytes: which side is the client is a guess from the ports.
      const midstream = conv().client('PA', 0, 'x'.repeat(40)).server('A', 0.01).server('FA', 5).client('A', 5.001);
      const guessed = halfClosed(midstream);
      expect([guessed.facts.closer, guessed.severity]).toEqual(['server', 'warning']);
    });
  });

  it('does not call half-closed a flow whose client acknowledged the server\'s FIN the capture missed', () => {
    const c = conv().handshake(0).client('PA', 0.002, 'hello\n').server('A', 0.003).server('PA', 0.004, 'hi\n');
    const serverFin = c.s.next;
    // The server's FIN (at serverFin) is not in the capture; the client's last ACK covers it.
    c.client('FA', 0.006, '', { ack: serverFin }).client('A', 0.007, '', { ack: (serverFin + 1) >>> 0 });
    const r = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(6));
    const f = r.flows.find((x) => x.client === '10.0.0.1:51000')!;
    expect(f.verdicts.map((v) => v.code)).not.toContain('half-closed');
  });

  it('does not call half-closed a flow holding no packet of the side said not to close: it may have closed before the capture began', () => {
    // fpcap fritzbox-ip.pcap: a server's FIN is the capture's first packet, and nothing of the client follows.
    const lone = conv({ client: '10.0.0.1:57308', server: '10.0.0.2:443' }).server('FA', 0);
    const r = analyzeConversation(lone, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(2.9));
    const f = r.flows.find((x) => x.client === '10.0.0.1:57308')!;
    expect(f.verdicts.map((v) => v.code)).toEqual(['midstream']);
  });

  it('does not call half-closed a capture begun on one side\'s FIN whose peer closes 11 s later in the next flow', () => {
    // Zeek ends the first flow 5 s after the server's FIN (the client had sent nothing before it),
    // so the client's FIN lands in a flow of its own: each holds one FIN, together both.
    const c = conv({ client: '192.168.2.16:1577', server: '75.126.203.78:80' }).server('FA', 0).client('A', 0.0004).client('FA', 11).server('A', 11.08);
    const r = analyzeConversation(c, conv({ client: '10.0.0.9:40000', server: '10.0.0.8:22' }).handshake(30));
    const flows = r.flows.filter((f) => f.client === '192.168.2.16:1577');
    expect(flows.map((f) => f.state)).toEqual(['SHR', 'SH']);
    for (const f of flows) expect(f.verdicts.map((v) => v.code)).toEqual(['midstream']);
  });
});

describe('a reset after both FINs', () => {
  it('is info: both applications had closed, the RST answers late bytes to a closed socket', () => {
    // The client closes, the server sends a last record and its FIN, the client's closed socket resets.
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
      .client('FA', 0.5).server('PA', 0.501, 'x'.repeat(31)).server('FA', 0.502).client('R', 0.503);
    const reset = analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'rst-by-client')!;
    expect(reset.severity).toBe('info');
    expect(reset.summary).toContain('both sides had already closed');
  });

  it('stays a warning when only one side had closed and the other still owed it something', () => {
    // The client half-closed after its request; the server resets instead of answering.
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').client('FA', 0.02).server('R', 0.5);
    const reset = analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'rst-by-server')!;
    expect(reset.severity).not.toBe('info');
  });

  it('is info when the client resets after the server sent its whole answer and its FIN: nothing was owed', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
      .server('FA', 0.5).client('RA', 0.503);
    const reset = analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'rst-by-client')!;
    expect(reset.severity).toBe('info');
    expect(reset.summary).toContain('the RST cut nothing off');
  });
});

describe('a flow that is nothing but RSTs (lone-rst)', () => {
  it('says neither side aborted a connection: what the RST ends is not in the flow; info', () => {
    // A mid-stream flow's FIN, then 22.9 s later (past the 5 s close linger) the same side's RST:
    // the RST starts a flow of its own, with roles guessed from it (nDPI 1kxun #6, #681).
    const c = conv({ client: '192.168.5.16:53605', server: '68.233.253.133:80' }).client('FA', 0).client('R', 22.9);
    const flows = analyzeConversation(c).flows;
    expect(flows.map((f) => f.history)).toEqual(['F', 'R']);
    const codes = flows[1].verdicts.map((v) => v.code);
    expect(codes).toContain('lone-rst');
    expect(codes).not.toContain('rst-by-client');
    expect(codes).not.toContain('rst-by-server');
    const v = flows[1].verdicts.find((x) => x.code === 'lone-rst')!;
    expect(v.severity).toBe('info');
    expect(v.summary).toContain('a lone RST (#2) from 192.168.5.16:53605 to 68.233.253.133:80');
  });

  it('an RST resuming a connection after its idle timeout is that connection: idle-close says so, not lone-rst', () => {
    // ppa1e evilprogram: flow 64 goes idle, and 8,820 s later the client's RST #657 ends it.
    const c = conv().handshake(0).client('PA', 0.01, 'hello').server('A', 0.02).client('R', 900);
    const flows = analyzeConversation(c).flows;
    expect(flows).toHaveLength(2);
    const codes = flows[1].verdicts.map((v) => v.code);
    expect(codes).toContain('idle-close');
    expect(codes).not.toContain('lone-rst');
  });

  it('an RST after data of its flow, or answering the peer, is still a reset said of its side', () => {
    const data = conv().client('PA', 0, 'hello').client('R', 0.1);
    expect(verdictCodes(analyzeConversation(data))).toContain('rst-by-client');
    expect(verdictCodes(analyzeConversation(data))).not.toContain('lone-rst');
    const answered = conv().server('PA', 0, 'x').client('R', 0.001);
    expect(verdictCodes(analyzeConversation(answered))).not.toContain('lone-rst');
  });
});

describe('an RST its peer did not take (rst-ignored)', () => {
  /** SYN, SYN-ACK, the client's one RST, then the server's SYN-ACK again `resentAfter` seconds later. */
  const ignored = (resentAfter: number, secondRst = false) => {
    const c = conv({ client: '192.168.197.8:51133', server: '56.4.101.10:2405' }).client('S', 0).server('SA', 0.005).client('R', 0.012);
    if (secondRst) c.client('R', 0.013);
    return analyzeConversation(c.server('SA', 0.012 + resentAfter, '', { seq: (c.s.next - 1) >>> 0 })).flows[0];
  };

  it('a SYN-ACK sent again 3 s after the client\'s RST shows the server kept the connection: not a reset; a warning', () => {
    // RICS2021 #1511 and #1527: the server's retransmission timer fired after the RST.
    const f = ignored(3);
    expect(f.synAcks.length).toBe(2);
    const codes = f.verdicts.map((v) => v.code);
    expect(codes).toContain('rst-ignored');
    expect(codes).not.toContain('rst-by-client');
    const v = f.verdicts.find((x) => x.code === 'rst-ignored')!;
    expect(v.severity).toBe('warning');
    expect(v.summary).toBe("the client's RST #3 did not end the attempt at the server: it sent its SYN-ACK again (#4) 3.00 s later");
  });

  it('a SYN-ACK 50 ms after the RST may have left before it arrived, and of two RSTs the later may be the one that ended it: still rst-by-client', () => {
    for (const f of [ignored(0.05), ignored(3, true)]) {
      const codes = f.verdicts.map((v) => v.code);
      expect(codes).not.toContain('rst-ignored');
      expect(codes).toContain('rst-by-client');
    }
  });
});

describe('a lone RST/ACK with sequence number 0', () => {
  it('is a refusal by its sender of a SYN the capture does not hold, whatever the ports say', () => {
    // tcpdump -Q in on the client: the closed port's answer is all the capture holds, its ACK the SYN's sequence number + 1.
    const c = conv({ client: '10.9.0.1:48900', server: '10.9.0.2:43081' }).server('RA', 0, '', { seq: 0, ack: 1018473274 });
    const r = analyzeConversation(c);
    const f = r.flows[0];
    expect([f.client, f.server]).toEqual(['10.9.0.1:48900', '10.9.0.2:43081']);
    expect(f.verdicts.map((v) => v.code)).toEqual(['refused']);
    expect(f.verdicts[0].summary).toBe('RST: no listener on 10.9.0.2:43081 (RST #1, sequence number 0, answers a SYN from 10.9.0.1:48900 that is not in the capture)');
  });

  it('is not taken for a refusal with a nonzero sequence number: lone-rst', () => {
    const c = conv({ client: '10.9.0.1:48900', server: '10.9.0.2:43081' }).server('RA', 0, '', { seq: 77, ack: 1018473274 });
    const codes = analyzeConversation(c).flows[0].verdicts.map((v) => v.code);
    expect(codes).toContain('lone-rst');
    expect(codes).not.toContain('refused');
  });
});
