// The close linger is bounded: past maxLingeringFlows closed flows, the one closed longest ago is
// finished early; its late packets are counted, not turned into a new connection.

import { describe, expect, it } from 'vitest';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { AppSinkFactory, type AppSession } from '../../src/dissect/session.js';
import type { Flow } from '../../src/flow/flow.js';
import { FlowTable, type FlowEndReason } from '../../src/flow/table.js';
import { Analyzer } from '../../src/pipeline.js';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';
import { tcpFrame, toRecord } from '../helpers/packets.js';

const T0 = 1_700_000_000_000_000;

/** Handshake, one request and response, then a clean close (server FIN first) ending at t + 0.006. */
function exchange(port: number, t: number): Conversation {
  return conv({ client: `10.0.0.1:${port}`, server: '10.0.0.2:80' })
    .handshake(t)
    .client('PA', t + 0.002, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    .server('PA', t + 0.003, 'HTTP/1.1 204 No Content\r\n\r\n')
    .server('FA', t + 0.004)
    .client('FA', t + 0.005)
    .server('A', t + 0.006);
}

function run(convs: Conversation[], maxLingeringFlows?: number) {
  return analyzeFrames(convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t), { maxLingeringFlows });
}

describe('close linger bound', () => {
  it('finishes the longest-lingering closed flow early and keeps its late ACK out of the flow list', () => {
    const first = exchange(40001, 0);
    const others = [exchange(40002, 0.1), exchange(40003, 0.2)];
    first.server('A', 0.3); // a duplicate of the last ACK, after flow 1 was finished early
    const bounded = run([first, ...others], 1);
    expect(bounded.flows).toHaveLength(3);
    expect(bounded.capture.lingerLimit).toEqual({ closedEarly: 2, latePackets: 1 });
    expect(bounded.capture.diagnostics.map((d) => d.code)).toContain('LINGER_LIMIT');
    for (const f of bounded.flows) expect(f.state).toBe('SF');

    // Without the bound, the late ACK lands in flow 1 as Zeek would count it; every flow is still SF.
    const full = run([exchange(40001, 0).server('A', 0.3), exchange(40002, 0.1), exchange(40003, 0.2)]);
    expect(full.flows).toHaveLength(3);
    expect(full.capture.lingerLimit).toEqual({ closedEarly: 0, latePackets: 0 });
    expect(full.flows[0].serverSide.packets).toBe(bounded.flows[0].serverSide.packets + 1);
    expect(full.flows.map((f) => [f.state, f.history])).toEqual(bounded.flows.map((f) => [f.state, f.history]));
  });

  it('a new SYN on an early-finished 4-tuple is a new connection (port reuse), not a late packet', () => {
    const first = exchange(40001, 0);
    const again = exchange(40001, 0.4); // same 4-tuple, new ISN
    const bounded = run([first, exchange(40002, 0.1), exchange(40003, 0.2), again], 1);
    expect(bounded.flows).toHaveLength(4);
    expect(bounded.capture.lingerLimit.latePackets).toBe(0);
    const reused = bounded.flows.find((f) => f.start > 1_700_000_000_300_000)!;
    expect(reused.verdicts.map((v) => v.code)).toContain('port-reuse');
  });

  it('a late packet after the linger would have ended starts a new flow, as without the bound', () => {
    const first = exchange(40001, 0);
    first.client('PA', 6, 'late'); // past the 5 s linger
    const bounded = run([first, exchange(40002, 0.1), exchange(40003, 0.2)], 1);
    const full = run([exchange(40001, 0).client('PA', 6, 'late'), exchange(40002, 0.1), exchange(40003, 0.2)]);
    expect(bounded.flows).toHaveLength(4);
    expect(full.flows).toHaveLength(4);
    expect(bounded.capture.lingerLimit.latePackets).toBe(0);
  });

  it('past its bound of remembered closes within a TIME_WAIT, forgets the oldest first and still finds a reuse of a newer one', () => {
    // 2,050 connections opened and closed with FINs in 1 s (each leaves a TIME_WAIT) against a
    // bound of 2,000 remembered closes; once their close linger is over, the 4-tuples of the first
    // and of the 1,000th are used again. Frames are patched copies of one connection's: checksums
    // are not verified by default.
    const N = 2_050;
    const address = (i: number) => [10, (i >> 16) & 255, (i >> 8) & 255, i & 255];
    const client = (flags: string, seq: number, ack = 0) => tcpFrame({ src: '10.0.0.0', dst: '10.200.0.2', sport: 40000, dport: 81, flags, seq, ack });
    const server = (flags: string, seq: number, ack: number) => tcpFrame({ src: '10.200.0.2', dst: '10.0.0.0', sport: 81, dport: 40000, flags, seq, ack });
    const syn = client('S', 100);
    // SYN-ACK, ACK, the client's FIN, the server's FIN, the last ACK; whether the client's address is the source.
    const rest: [ReturnType<typeof tcpFrame>, boolean][] = [
      [server('SA', 500, 101), false],
      [client('A', 101, 501), true],
      [client('FA', 101, 501), true],
      [server('FA', 501, 102), false],
      [client('A', 102, 502), true],
    ];
    const IP_SRC = 14 + 12;
    const IP_DST = 14 + 16;
    const TCP_SEQ = 14 + 20 + 4;
    const withClient = (frame: typeof syn, at: number, i: number) => {
      const bytes = frame.bytes.slice();
      bytes.set(address(i), at);
      return { ...frame, bytes };
    };
    const reused: string[] = [];
    const analyzer = new Analyzer({
      file: 'closes.pcap',
      retainFlows: false,
      maxRememberedCloses: 2_000,
      onFlowJudged: (f) => f.verdicts.some((v) => v.code === 'port-reuse') && reused.push(f.client),
    });
    let no = 0;
    const feed = (frame: typeof syn, seconds: number) => analyzer.onRecord(toRecord(frame, { no: ++no, tsMicros: T0 + Math.round(seconds * 1e6) }));
    for (let i = 0; i < N; i++) {
      feed(withClient(syn, IP_SRC, i), i * 0.0005);
      rest.forEach(([frame, fromClient], k) => feed(withClient(frame, fromClient ? IP_SRC : IP_DST, i), i * 0.0005 + 0.00001 * (k + 1)));
    }
    for (const [i, t] of [[0, 7], [1_000, 7.1]]) {
      const again = withClient(syn, IP_SRC, i);
      again.bytes.set([0, 0, 0, 7], TCP_SEQ); // another initial sequence number
      feed(again, t);
    }
    analyzer.finish({ file: 'closes.pcap', format: 'pcap', linkTypes: [1], snaplen: 65535, packets: no, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false });
    // Past 2,000 closes the oldest went first, one for each new one: #0 is gone, #1,000 stayed.
    expect(reused).toEqual([`${address(1_000).join('.')}:40000`]);
  });
});

/** Feeds scripted packets to a flow table one by one, as the analyzer does. */
function tableFeeder(table: FlowTable) {
  const decoder = new PacketDecoder();
  let no = 0;
  return (p: { frame: ReturnType<typeof tcpFrame>; t: number }) => {
    const rec = toRecord(p.frame, { no: ++no, tsMicros: T0 + Math.round(p.t * 1e6) });
    decoder.decode(rec);
    table.packet(decoder.view, decoder.view.bytes, rec.no, rec.tsMicros);
  };
}

describe('compact close linger', () => {
  it('a closed flow lingers without its dissector session, whose facts stay final, and still counts its late packets', () => {
    const c = exchange(40001, 0); // closed by the client's FIN at 0.005; the server's last ACK at 0.006 is late
    const sessions: AppSession[] = [];
    const apps = new AppSinkFactory(() => false, null);
    let flow: Flow | null = null;
    const done: Array<{ id: number; reason: FlowEndReason }> = [];
    const table = new FlowTable({
      sinkFactory: { create: (f) => sessions[sessions.push(apps.create(f)) - 1] },
      onSideSeen: (f) => (flow = f),
      onFlowDone: (f, reason) => done.push({ id: f.id, reason }),
    });
    const feed = tableFeeder(table);
    const closing = c.packets.length - 2; // the client's FIN
    c.packets.slice(0, closing).forEach(feed);
    expect(flow!.sink).toBe(sessions[0]);
    feed(c.packets[closing]);
    expect(flow!.removeAfterTs).not.toBe(0);
    expect(flow!.sink).toBeNull();
    expect(done).toHaveLength(0);
    const app = sessions[0].facts;
    expect(app.http.map((x) => x.response?.status)).toEqual([204]);
    expect(app.closes.map((x) => x.how)).toEqual(['fin', 'fin']);

    feed(c.packets[closing + 1]); // the last ACK
    expect(flow!.resp.packets).toBe(4);
    expect(done).toHaveLength(0);
    // Another connection past the 5 s linger finishes it, as closed.
    feed(conv({ client: '10.0.0.3:40009', server: '10.0.0.2:80' }).client('S', 5.1).packets[0]);
    expect(done.map((d) => [d.id, d.reason])).toEqual([[1, 'closed']]);
    expect(app.http).toHaveLength(1);
  });

  it('counts the last ACK, a retransmitted FIN and a late RST that come while the flow lingers', () => {
    const c = exchange(40001, 0);
    const finSeq = c.c.next - 1;
    c.client('FA', 0.25, '', { seq: finSeq }) // the client's FIN again: it missed the last ACK
      .server('A', 0.251)
      .client('R', 0.5, '', { seq: finSeq + 1 });
    const result = analyzeFrames(c.packets);
    expect(result.flows).toHaveLength(1);
    const f = result.flows[0];
    expect(result.capture.lingerLimit).toEqual({ closedEarly: 0, latePackets: 0 });
    expect([f.clientSide.packets, f.serverSide.packets]).toEqual([6, 5]);
    expect(f.lastPacket).toBe(11);
    expect(f.end - f.start).toBe(500_000);
    expect(f.clientSide.rst?.no).toBe(11);
    expect(f.clientSide.fin?.no).toBe(7);
    expect(f.history).toBe('ShADdfFaR');
    expect(f.state).toBe('SF');
    // As tshark marks them: the second FIN a retransmission, the ACK answering it a duplicate ACK.
    expect(f.analysis?.client.retransmission).toBe(1);
    expect(f.analysis?.server.duplicateAck).toBe(1);
    // conn.log's duration ends at the close (Zeek's last_time), not at the late packets.
    expect(f.lastOpen - f.start).toBe(5_000);
    expect(f.app?.http.map((x) => x.response?.status)).toEqual([204]);
  });
});
