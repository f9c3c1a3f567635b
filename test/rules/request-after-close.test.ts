// request-after-close: an HTTP request sent on a connection the server had already closed (the
// keep-alive race), told apart from a server that took a request and closed without answering.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeConversation, analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';

const REQUEST_A = 'GET /a HTTP/1.1\r\nHost: app\r\n\r\n';
const REQUEST_B = 'GET /b HTTP/1.1\r\nHost: app\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const OK_CLOSE = 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok';

const onlyFlow = (c: Conversation): FlowResult => {
  const { flows } = analyzeConversation(c);
  expect(flows).toHaveLength(1);
  return flows[0];
};
const byCode = (f: FlowResult) => new Map(f.verdicts.map((v) => [v.code, v]));

/** GET /a answered at once; the connection then idles until `finAt` (seconds). */
function answeredThenIdle(response = OK): Conversation {
  return conv().handshake(0).client('PA', 0.01, REQUEST_A).server('PA', 0.02, response).client('A', 0.03);
}

describe('request-after-close', () => {
  it('names the keep-alive race in a capture of a real Node server that closed the idle connection before the next request', () => {
    // samples/keepalive-race.pcap: FIN #8 after 2 s idle, the client's ACK #9, GET /b #10, RST #11.
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/keepalive-race.pcap', import.meta.url)));
    const verdicts = byCode(flows[0]);
    const race = verdicts.get('request-after-close');
    expect(race?.severity).toBe('error');
    expect(race?.facts).toMatchObject({ target: '/b', requestPacket: 10, finPacket: 8, proof: 'order', resetPacket: 11, previousResponsePacket: 6, closeAnnounced: false });
    expect(race?.summary).toMatch(/^HTTP request "GET \/b" #10 was sent 29\d ms after the server had closed the connection \(FIN #8, idle 2\.0\d s after response #6\); the server's TCP reset it \(RST #11\): the keep-alive race$/);
    expect(race?.hint).toMatch(/shorter than the server's/);
    // Not "the server closed without answering", and the reset answers the late request: no abort.
    expect(verdicts.has('no-response')).toBe(false);
    expect(verdicts.get('rst-by-server')?.severity).toBe('info');
  });

  it('proves a request that crossed the FIN by the FIN acknowledging none of it', () => {
    const c = answeredThenIdle().client('PA', 2.0, REQUEST_B);
    // The server's FIN left before the request arrived: it acknowledges only GET /a.
    const ackBeforeB = (c.c.next - REQUEST_B.length) >>> 0;
    const f = onlyFlow(c.server('FA', 2.01, '', { ack: ackBeforeB }).server('R', 2.05));
    const race = byCode(f).get('request-after-close');
    expect(race?.facts).toMatchObject({ requestPacket: 7, finPacket: 8, proof: 'ack', resetPacket: 9, sinceFinMs: null });
    expect(race?.summary).toBe(
      'HTTP request "GET /b" #7 was sent as the server closed the connection: its FIN #8 acknowledges none of the request, so the two crossed (idle 1.99 s after response #5); the server\'s TCP reset it (RST #9): the keep-alive race',
    );
    expect(byCode(f).has('no-response')).toBe(false);
  });

  it('leaves a FIN that acknowledges the request to no-response: the server had the request and closed without answering', () => {
    const f = onlyFlow(answeredThenIdle().client('PA', 2.0, REQUEST_B).server('FA', 2.01));
    expect(byCode(f).has('request-after-close')).toBe(false);
    expect(byCode(f).get('no-response')?.severity).toBe('error');
  });

  it('says nothing when the FIN acknowledges the request the capture holds after it: the server had it (the first copy was not captured)', () => {
    const c = answeredThenIdle();
    const start = c.c.next;
    const f = onlyFlow(c.server('FA', 2, '', { ack: (start + REQUEST_B.length) >>> 0 }).client('PA', 2.2, REQUEST_B, { seq: start }).server('R', 2.2001));
    expect(byCode(f).has('request-after-close')).toBe(false);
  });

  it('says nothing of a late request when an earlier one went unanswered: the server had a request it did not answer', () => {
    const f = onlyFlow(answeredThenIdle().client('PA', 0.05, REQUEST_A).server('A', 0.051).server('FA', 3).client('PA', 3.1, REQUEST_B).server('R', 3.1001));
    expect(byCode(f).has('request-after-close')).toBe(false);
    expect(byCode(f).get('no-response')?.facts).toMatchObject({ target: '/a' });
  });

  it('says the client reused a connection the response announced it would close (Connection: close)', () => {
    const f = onlyFlow(answeredThenIdle(OK_CLOSE).server('FA', 0.021).client('PA', 0.5, REQUEST_B).server('R', 0.5001));
    const race = byCode(f).get('request-after-close');
    expect(race?.facts).toMatchObject({ closeAnnounced: true, previousResponsePacket: 5, finPacket: 6 });
    expect(race?.summary).toMatch(/closed the connection \(FIN #6, as response #5 announced\).*: a request on a connection the server said it would close$/);
    expect(race?.hint).toMatch(/RFC 9112 9\.6/);
  });

  it('says nothing of a request pipelined before the answer that announced the close', () => {
    const c = conv().handshake(0).client('PA', 0.01, REQUEST_A).client('PA', 0.011, REQUEST_B);
    // The server answered GET /a with Connection: close and closed before GET /b reached it.
    const ackA = (c.c.next - REQUEST_B.length) >>> 0;
    const f = onlyFlow(c.server('PA', 0.02, OK_CLOSE, { ack: ackA }).server('FA', 0.021, '', { ack: ackA }).server('R', 0.03));
    expect(byCode(f).has('request-after-close')).toBe(false);
  });

  it('tells a connection closed before its first request from the keep-alive race', () => {
    const f = onlyFlow(conv().handshake(0).server('FA', 5).client('PA', 5.2, REQUEST_A).server('R', 5.2001));
    const race = byCode(f).get('request-after-close');
    expect(race?.facts).toMatchObject({ previousResponsePacket: null, idleBeforeFinMs: null, finPacket: 4, requestPacket: 5 });
    expect(race?.summary).toMatch(/: a connection closed before its first request$/);
    expect(race?.hint).toMatch(/client_header_timeout/);
    // The reset is the server's TCP answering the late request, not a server aborting an exchange.
    expect(byCode(f).get('rst-by-server')?.severity).toBe('info');
  });

  it('finds the same request and the same answered exchange when only the exchanges the rules read are kept', () => {
    let c = conv().handshake(0);
    for (let i = 0; i < 12; i++) c = c.client('PA', 0.01 + i * 0.01, REQUEST_A).server('PA', 0.015 + i * 0.01, OK);
    // Responses #5 to #27; the server closes at 3 s and GET /b #29 follows.
    c = c.server('FA', 3).client('PA', 3.1, REQUEST_B).server('R', 3.1001);
    const race = (keepExchanges: boolean) => analyzeFrames(c.packets, { keepExchanges }).flows[0].verdicts.find((v) => v.code === 'request-after-close');
    const all = race(true);
    expect(all?.facts).toMatchObject({ previousResponsePacket: 27, finPacket: 28, requestPacket: 29 });
    expect(race(false)).toEqual(all);
  });
});
