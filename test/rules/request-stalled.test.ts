// request-stalled: the client stopped part way through a request and the server, holding every
// byte it had sent, closed after waiting: a request the client never finished.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';

const stalled = (c: Conversation, keepExchanges?: boolean) => analyzeFrames(c.packets, { keepExchanges }).flows[0].verdicts.find((v) => v.code === 'request-stalled');
const HEAD = 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n';

describe('request-stalled', () => {
  it('tells each request nginx timed out on in a capture of nginx (client_header_timeout, client_body_timeout 1 s), and says nothing of a connection that sent nothing', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/request-stalled.pcap', import.meta.url)));
    const verdicts = flows.map((f) => f.verdicts.find((v) => v.code === 'request-stalled'));
    expect(verdicts.map((v) => v?.facts.stage ?? null)).toEqual(['request-line', 'headers', 'body', 'headers', null, 'body']);
    expect(verdicts.map((v) => v?.facts.closedBy ?? null)).toEqual(['server', 'server', 'server', 'server', null, 'client']);
    expect(verdicts[0]?.facts).toMatchObject({ bytes: 16 });
    expect(verdicts[2]?.facts).toMatchObject({ method: 'POST', target: '/upload', bodyBytes: 20_000, contentLength: 100_000 });
    expect(verdicts[2]?.summary).toMatch(/^HTTP request "POST \/upload" #\d+ stopped after 20,000 of the 100,000 bytes of body its Content-Length announced: nothing more came from the client for 1\.00 s/);
    for (const v of verdicts.filter((x) => x?.facts.closedBy === 'server')) {
      expect(v?.severity).toBe('warning');
      expect(v?.hint).toMatch(/client_header_timeout and client_body_timeout/);
    }
    expect(flows[4].verdicts.every((v) => v.severity === 'info')).toBe(true);
  });

  it('tells a client that gave up on its own unfinished request (nginx, 100 of 1,000 body bytes, closed by the client 500 ms later), and blames no server for the missing answer', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/request-stalled.pcap', import.meta.url)));
    const flow = flows[5];
    const v = flow.verdicts.find((x) => x.code === 'request-stalled');
    expect(v?.facts).toMatchObject({ stage: 'body', method: 'POST', target: '/form', bodyBytes: 100, contentLength: 1000, closedBy: 'client' });
    expect(v?.summary).toMatch(/then the client closed the connection itself \(FIN #\d+\) while the server waited for the rest$/);
    expect(v?.hint).toMatch(/could not answer a request that never ended/);
    expect(flow.verdicts.some((x) => x.code === 'no-response')).toBe(false);
  });

  it('says nothing when the client\'s own close is past the bytes captured: the rest was sent, the capture missed it', () => {
    const closing = (unseen: number) => {
      const c = conv().handshake(0).client('PA', 0.01, `${HEAD}part`).server('A', 0.02);
      return stalled(c.client('FA', 3, '', { seq: (c.c.next + unseen) >>> 0 }).server('FA', 3.01));
    };
    expect(closing(0)?.facts).toMatchObject({ closedBy: 'client' });
    // The other 996 body bytes went out but are not in the capture; the FIN's sequence number shows them.
    expect(closing(996)).toBeUndefined();
  });

  it('needs the server\'s TCP to have acknowledged the client\'s last byte before the client closed', () => {
    const part = () => conv().handshake(0).client('PA', 0.01, `${HEAD}part`);
    expect(stalled(part().server('A', 0.02).client('FA', 2).server('FA', 2.01))?.facts).toMatchObject({ stage: 'body', closedBy: 'client' });
    expect(stalled(part().client('FA', 2).server('FA', 2.01))).toBeUndefined();
  });

  it('finds a request left unfinished behind a pipelined one the server answered (nginx, GET /ok then part of GET /next)', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/request-stalled.pcap', import.meta.url)));
    const v = flows[3].verdicts.find((x) => x.code === 'request-stalled');
    expect(v?.facts).toMatchObject({ stage: 'headers', method: 'GET', target: '/next' });
    expect(flows[3].app?.http[0].response?.status).toBe(200);
    expect(v?.facts.answeredBeforePacket).toBe(flows[3].app?.http[0].response?.packet);
    expect(v?.summary).toMatch(/nothing more came from the client for 1\.00 s \(last byte #\d+\), [\d.]+ m?s of it after the server had answered the request before it \(#\d+\), then the server closed/);
  });

  it('measures the wait from the answer to the pipelined request before it, and says nothing when that answer announced the close', () => {
    const pipelined = 'GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nUser-';
    const answer = (close: boolean) => `HTTP/1.1 200 OK\r\nContent-Length: 0\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const waited = (answerAt: number, finAt: number, close = false) =>
      stalled(conv().handshake(0).client('PA', 0.01, pipelined).server('PA', answerAt, answer(close)).client('A', answerAt + 0.001).server('FA', finAt).client('FA', finAt + 0.01));
    expect(waited(0.02, 2)?.facts).toMatchObject({ stage: 'headers', target: '/b', answeredBeforePacket: 5 });
    // Answered 3 s late, closed 50 ms after its answer: no wait for the rest.
    expect(waited(3, 3.05)).toBeUndefined();
    expect(waited(0.02, 2, true)).toBeUndefined();
  });

  it('says nothing when the server closed at once: a refusal of what came, not a wait for the rest', () => {
    expect(stalled(conv().handshake(0).client('PA', 0.01, `${HEAD}part`).server('FA', 0.05).client('FA', 0.06))).toBeUndefined();
    expect(stalled(conv().handshake(0).client('PA', 0.01, `${HEAD}part`).server('FA', 2).client('FA', 2.01))?.facts).toMatchObject({ stage: 'body', bodyBytes: 4, contentLength: 1000 });
  });

  it('says nothing when the server\'s FIN does not acknowledge all the client sent: the rest may be on its way', () => {
    const c = conv().handshake(0).client('PA', 0.01, `${HEAD}part`);
    const ackBeforePart = (c.c.next - 4) >>> 0;
    expect(stalled(c.server('FA', 2, '', { ack: ackBeforePart }).client('FA', 2.01))).toBeUndefined();
  });

  it('says nothing when the client closed sooner than the floor after its last byte', () => {
    expect(stalled(conv().handshake(0).client('PA', 0.01, `${HEAD}part`).server('A', 0.02).client('FA', 0.1).server('FA', 2))).toBeUndefined();
  });

  it('finds the unfinished last request after answered ones, whether or not every exchange is kept', () => {
    let c = conv().handshake(0);
    for (let i = 0; i < 3; i++) c = c.client('PA', 0.01 + i * 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.015 + i * 0.01, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    c = c.client('PA', 0.1, `${HEAD}part`).server('FA', 3).client('FA', 3.01);
    const all = stalled(c, true);
    expect(all?.facts).toMatchObject({ stage: 'body', bodyBytes: 4 });
    expect(stalled(c, false)).toEqual(all);
  });

  it('says nothing of a client waiting for 100 Continue before its body', () => {
    const head = 'POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n';
    expect(stalled(conv().handshake(0).client('PA', 0.01, head).server('FA', 2).client('FA', 2.01))).toBeUndefined();
  });

  it('says nothing when the capture missed bytes inside the request: it only looks unfinished', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET /big HTTP/1.1\r\nHost: a\r\nCookie: ');
    // 100 bytes of the cookie were sent but not captured; the end of the head was.
    const next = c.c.next;
    const f = c.client('PA', 0.02, 'x\r\n\r\n', { seq: (next + 100) >>> 0 });
    expect(stalled(f.server('FA', 2, '', { ack: (next + 100 + 5) >>> 0 }).client('FA', 2.01, '', { seq: (next + 105) >>> 0 }))).toBeUndefined();
  });

  it('says nothing when the server answered something after the request began, in whatever protocol', () => {
    expect(stalled(conv().handshake(0).client('PA', 0.01, 'AUTH user').server('PA', 0.02, '-ERR unknown command\r\n').server('FA', 2).client('FA', 2.01))).toBeUndefined();
  });

  it('reads a body framed as chunked even with a Content-Length beside it (chunked wins, RFC 9112 6.3)', () => {
    const head = 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n5\r\nhello\r\n';
    const v = stalled(conv().handshake(0).client('PA', 0.01, head).server('FA', 2).client('FA', 2.01));
    expect(v?.facts).toMatchObject({ stage: 'body', contentLength: null });
    expect(v?.summary).toMatch(/of its chunked body/);
  });

  it('tells a request line cut off and answered with 408 by HAProxy (timeout http-request 1 s), and leaves the headers cut off to http-error 408', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/request-stalled-408.pcap', import.meta.url)));
    const line = flows.find((f) => f.verdicts.some((v) => v.code === 'request-stalled'));
    const v = line?.verdicts.find((x) => x.code === 'request-stalled');
    expect(v?.facts).toMatchObject({ stage: 'request-line', bytes: 16 });
    expect(v?.summary).toMatch(/then the server answered 408 Request Time-out \(#\d+\) and closed the connection \(FIN #\d+\)$/);
    const headers = flows.find((f) => f !== line);
    expect(headers?.verdicts.find((x) => x.code === 'http-error')?.facts).toMatchObject({ status: 408, target: '/slow' });
    expect(headers?.verdicts.some((x) => x.code === 'request-stalled')).toBe(false);
  });

  it('says nothing of a request line answered by anything but a 408', () => {
    const answer = 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
    expect(stalled(conv().handshake(0).client('PA', 0.01, 'GET /x HT').server('PA', 1.5, answer).server('FA', 1.51).client('FA', 1.52))).toBeUndefined();
  });
});
