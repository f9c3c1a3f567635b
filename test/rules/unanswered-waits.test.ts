// Waits for an answer the peer's application never gave: a WebSocket ping without a pong, a close
// frame without a close back, a body held for a "100 Continue" that never came.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import type { Verdict } from '../../src/rules/verdict.js';
import { analyzeConversation, analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';
import { closePayload, upgradeRequest, upgradeResponse, wsFrame } from '../dissect/script.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();
const OP = { TEXT: 0x1, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;
const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const codes = (f: FlowResult) => f.verdicts.map((v) => v.code);
const find = (f: FlowResult, code: string): Verdict | undefined => f.verdicts.find((v) => v.code === code);

/** An upgraded session on a 1 ms path: the client's upgrade, the 101, and the client's ACK of it, by t = 0.01 s. */
function session(): Conversation {
  return conv({ client: '10.6.0.1:51000', server: '10.6.0.2:80' })
    .handshake(0)
    .client('PA', 0.002, upgradeRequest())
    .server('PA', 0.004, upgradeResponse())
    .client('A', 0.005);
}

/** Ends with `first`'s FIN at `t`, the other side's FIN just after, and the last ACK. */
function closeBoth(c: Conversation, first: 'client' | 'server', t: number): FlowResult {
  const other = first === 'client' ? 'server' : 'client';
  c[first]('FA', t)[other]('FA', t + 0.001)[first]('A', t + 0.002);
  return analyzeConversation(c).flows[0]!;
}

describe('ws-ping-unanswered', () => {
  it('tells a ws server whose heartbeat terminated a client that never answered its ping (real capture)', () => {
    const { flows } = analyzeFile(sample('ws-ping-unanswered.pcap'));
    const f = flows[0]!;
    const v = find(f, 'ws-ping-unanswered');
    expect(v?.severity).toBe('warning');
    expect(v?.facts).toMatchObject({ pingedBy: 'server', pings: 1, peerDataFramesAfter: 0, endedWith: 'fin' });
    expect(v?.facts.waitedMs as number).toBeGreaterThanOrEqual(1000);
    expect(v?.summary).toMatch(/^WebSocket ping #\d+ from the server got no pong: the client's TCP acknowledged it; the server waited 1\.0\d s, then closed the connection \(FIN #\d+\) without a close frame$/);
    expect(v?.hint).toMatch(/RFC 6455 5\.5\.2/);
    // That close is the one without a close frame: the ping says why, not an idle timeout.
    expect(codes(f)).not.toContain('ws-no-close-frame');
  });

  it('says nothing of a healthy session whose ping was answered (real capture), which ends with ws-ok', () => {
    const { flows } = analyzeFile(sample('ws-healthy.pcap'));
    expect(flows[0]!.app?.websocket?.frames.client.ping).toBe(1);
    expect(codes(flows[0]!)).toContain('ws-ok');
    expect(codes(flows[0]!)).not.toContain('ws-ping-unanswered');
  });

  const pinged = () => session().server('PA', 0.01, wsFrame(1, OP.PING, 'hb')).client('A', 0.0105);

  it('is said when the pinging side closes a second later, and not when a pong came first', () => {
    expect(codes(closeBoth(pinged(), 'server', 1.01))).toContain('ws-ping-unanswered');
    const answered = closeBoth(pinged().client('PA', 0.011, wsFrame(0, OP.PONG, 'hb')).server('A', 0.012), 'server', 1.01);
    expect(codes(answered)).not.toContain('ws-ping-unanswered');
    expect(codes(answered)).toContain('ws-no-close-frame');
  });

  it('needs the pinging side to have waited: a close 50 ms after the ping is not a heartbeat giving up', () => {
    const f = closeBoth(pinged(), 'server', 0.06);
    expect(codes(f)).not.toContain('ws-ping-unanswered');
    expect(codes(f)).toContain('ws-no-close-frame');
  });

  it('is not said when the peer ended the session first', () => {
    const f = closeBoth(pinged(), 'client', 1.01);
    expect(codes(f)).not.toContain('ws-ping-unanswered');
    expect(codes(f)).toContain('ws-no-close-frame');
  });

  it('says the peer was running when it sent data after the ping, and counts the pings', () => {
    const c = pinged().client('PA', 0.02, wsFrame(0, OP.TEXT, 'still here')).server('A', 0.021).server('PA', 0.5, wsFrame(1, OP.PING, 'hb')).client('A', 0.5005);
    const v = find(closeBoth(c, 'server', 1.01), 'ws-ping-unanswered');
    expect(v?.facts).toMatchObject({ pings: 2, peerDataFramesAfter: 1 });
    expect(v?.summary).toMatch(/^WebSocket 2 pings \(#\d+ to #\d+\) from the server got no pong: the client's TCP acknowledged them and the client sent 1 data frame after, but no pong; the server waited 1\.00 s/);
    expect(v?.hint).toMatch(/does not answer pings/);
  });

  const closedWith = (code: number) => closeBoth(pinged().server('PA', 1.01, wsFrame(1, OP.CLOSE, closePayload(code, 'bye'))).client('A', 1.0105), 'server', 1.5);

  it('tells a close frame that ended the wait (1011 "keepalive ping timeout", as python websockets sends), not a normal close', () => {
    expect(find(closedWith(1011), 'ws-ping-unanswered')?.facts).toMatchObject({ endedWith: 'close-frame' });
    // The application finishing: a tunnel that pings a peer that never pongs, and closes when its traffic ends.
    expect(codes(closedWith(1000))).not.toContain('ws-ping-unanswered');
  });

  it('is not said when the pinging side had shut its window: the pong may wait behind data it had not read', () => {
    // As a node ws client that stopped reading a server's stream, pinged, and reset a second later.
    const streamed = (window: number) => pinged().client('PA', 0.02, wsFrame(0, OP.TEXT, 'x'.repeat(1000))).server('A', 0.021, '', { window });
    expect(codes(closeBoth(streamed(65535), 'server', 1.01))).toContain('ws-ping-unanswered');
    const shut = closeBoth(streamed(0), 'server', 1.01);
    expect(codes(shut)).not.toContain('ws-ping-unanswered');
    expect(codes(shut)).toContain('ws-no-close-frame');
  });

  it('is not said when the capture lacks bytes the peer sent after the ping: the pong may be there', () => {
    // The client's FIN shows 6 bytes the capture does not hold (a pong of "hb" is 8; any bytes will do).
    const c = pinged();
    c.client('A', 0.02, '', { seq: (c.c.next + 6) >>> 0 });
    c.c.next = (c.c.next + 6) >>> 0;
    expect(codes(closeBoth(c, 'server', 1.01))).not.toContain('ws-ping-unanswered');
  });
});

// wstunnel's client pings every 5 s, its server never pongs, and the client closes with 1000 when
// the tunnelled session ends (tshark: opcode 9 at #105 ... #251, close 1000 #255 answered #257).
corpus.describe("wstunnel's pings in Zeek's traces", () => {
  it('wstunnel-ssh.pcap: pings never answered, a normal close: not a heartbeat giving up', () => {
    const { flows } = analyzeFile(corpus.path('zeek/websocket/wstunnel-ssh.pcap'));
    const ws = flows.filter((x) => x.app?.websocket?.unansweredPings?.client);
    expect(ws.length).toBeGreaterThan(0);
    for (const f of ws) expect(codes(f)).not.toContain('ws-ping-unanswered');
  });
});

describe('ws-close-unanswered', () => {
  it('tells a ws server that closed 1 s after a close frame the client never answered (real capture)', () => {
    const { flows } = analyzeFile(sample('ws-close-unanswered.pcap'));
    const v = find(flows[0]!, 'ws-close-unanswered');
    expect(v?.severity).toBe('warning');
    expect(v?.facts).toMatchObject({ closedBy: 'server', code: 1000, tcpCloseHow: 'fin' });
    expect(v?.facts.waitedMs as number).toBeGreaterThanOrEqual(1000);
    expect(v?.summary).toMatch(/^WebSocket close frame #\d+ from the server, 1000 \(Normal Closure\), got no close frame back: the client's TCP acknowledged it; the server waited 1\.0\d s, then closed the connection \(FIN #\d+\)$/);
    expect(codes(flows[0]!)).toContain('ws-close');
  });

  const closed = () => session().server('PA', 0.01, wsFrame(1, OP.CLOSE, closePayload(1000, 'bye'))).client('A', 0.0105);

  it('is said when the closing side gave up on the answer, not when the answer came or when it did not wait', () => {
    expect(codes(closeBoth(closed(), 'server', 1.01))).toContain('ws-close-unanswered');
    const answered = closed().client('PA', 0.011, wsFrame(0, OP.CLOSE, closePayload(1000))).server('A', 0.012);
    expect(codes(closeBoth(answered, 'server', 0.02))).not.toContain('ws-close-unanswered');
    expect(codes(closeBoth(closed(), 'server', 0.03))).not.toContain('ws-close-unanswered');
  });

  it('is not said when the peer closed TCP first', () => {
    expect(codes(closeBoth(closed(), 'client', 1.01))).not.toContain('ws-close-unanswered');
  });
});

describe('expect-continue-unanswered', () => {
  it('tells curl holding its body 1 s for a 100 Continue a node server never sent (real capture)', () => {
    const { flows } = analyzeFile(sample('expect-unanswered.pcap'));
    const v = find(flows[0]!, 'expect-continue-unanswered');
    expect(v?.severity).toBe('warning');
    expect(v?.facts).toMatchObject({ method: 'POST', target: '/upload', status: 201, requestsWaiting: 1 });
    expect(v?.facts.waitedMs as number).toBeGreaterThanOrEqual(1000);
    expect(v?.summary).toMatch(/^HTTP request "POST \/upload" #4 sent "Expect: 100-continue" and held its body, but no 100 Continue came: the client waited 1\.00 s, then sent the body anyway \(#6\); the answer, 201 Created \(#8\), came [\d.]+ ms after the body$/);
    expect(v?.hint).toMatch(/curl -H 'Expect:'/);
  });

  it('tells a 100 Continue that came after curl had sent its body (a node server deciding for 1.5 s): late, not missing (real capture)', () => {
    const { flows } = analyzeFile(sample('expect-late.pcap'));
    const v = find(flows[0]!, 'expect-continue-unanswered');
    expect(v?.facts).toMatchObject({ lateContinuePacket: 8, status: 201 });
    expect(v?.summary).toMatch(/but no 100 Continue came in time: the client waited 1\.00 s, then sent the body anyway \(#6\); the 100 Continue came 1\.5\d s after the head \(#8\)/);
    expect(v?.hint).toMatch(/its 100 came after the client's own timer had run out/);
    expect(v?.hint).not.toMatch(/ignores Expect/);
  });

  const HEAD = 'POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n';
  const OK = 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n';

  /** One POST asking for 100 Continue; `interim` answered `interimAfter` s after the head; the body `bodyAfter` s after it. */
  function upload(c: Conversation, t: number, { bodyAfter = 1, interim = '' as string, interimAfter = 0.001 } = {}): number {
    c.client('PA', t, HEAD);
    if (interim) c.server('PA', t + interimAfter, interim);
    else c.server('A', t + 0.0005);
    c.client('PA', t + bodyAfter, '0123456789').server('PA', t + bodyAfter + 0.001, OK).client('A', t + bodyAfter + 0.002);
    return t + bodyAfter + 0.01;
  }
  const run = (opts: Parameters<typeof upload>[2]) => {
    const c = conv({ client: '10.6.0.1:51001', server: '10.6.0.2:80' }).handshake(0);
    const end = upload(c, 0.01, opts);
    return closeBoth(c, 'client', end);
  };

  it('is said of a body sent after a second of silence, and not when the server answered 100 first', () => {
    expect(find(run({}), 'expect-continue-unanswered')?.facts.waitedMs).toBe(1000);
    expect(codes(run({ interim: 'HTTP/1.1 100 Continue\r\n\r\n' }))).not.toContain('expect-continue-unanswered');
  });

  it('is not said when the client sent its body at once', () => {
    expect(codes(run({ bodyAfter: 0.02 }))).not.toContain('expect-continue-unanswered');
  });

  it('is not said when the server answered a final status before the body (a refusal, as a 413)', () => {
    const c = conv({ client: '10.6.0.1:51002', server: '10.6.0.2:80' }).handshake(0);
    c.client('PA', 0.01, HEAD).server('PA', 0.011, 'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    c.client('PA', 1.01, '0123456789');
    const f = closeBoth(c, 'server', 1.02);
    expect(codes(f)).toContain('http-error');
    expect(codes(f)).not.toContain('expect-continue-unanswered');
  });

  it('finds the held bodies among other exchanges on a kept-alive connection, as the default analysis keeps them, and counts each', () => {
    const c = conv({ client: '10.6.0.1:51003', server: '10.6.0.2:80' }).handshake(0);
    let t = 0.01;
    t = upload(c, t, { interim: 'HTTP/1.1 100 Continue\r\n\r\n', bodyAfter: 0.003 });
    t = upload(c, t);
    t = upload(c, t, { interim: 'HTTP/1.1 100 Continue\r\n\r\n', bodyAfter: 0.003 });
    t = upload(c, t);
    t = upload(c, t, { interim: 'HTTP/1.1 100 Continue\r\n\r\n', bodyAfter: 0.003 });
    c.client('FA', t).server('FA', t + 0.001).client('A', t + 0.002);
    // Without --detail only the exchanges a rule reads are kept (see dissect/exchanges.ts).
    const v = find(analyzeFrames(c.packets, { keepExchanges: false }).flows[0]!, 'expect-continue-unanswered');
    expect(v?.facts).toMatchObject({ requestsWaiting: 2 });
    expect(v?.summary).toMatch(/; 1 other request on this connection waited the same way$/);
  });
});
