// nagle-delay: small segments held by Nagle's algorithm until the peer's delayed ACK of the
// previous one came.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';

const HEAD = 'POST /item HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n';

describe('nagle-delay', () => {
  it('tells a python client (Nagle on) writing each POST in two pieces to a server that answers whole requests', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/nagle-delay.pcap', import.meta.url)));
    const v = flows[0].verdicts.find((x) => x.code === 'nagle-delay');
    expect(v?.severity).toBe('warning');
    expect(v?.facts).toMatchObject({ side: 'client' });
    expect(v?.facts.segments as number).toBeGreaterThanOrEqual(3);
    expect(v?.facts.longestMs as number).toBeGreaterThan(35);
    expect(v?.hint).toMatch(/TCP_NODELAY/);
  });

  // Requests in two writes; the server's bare ACK of each head comes `ackAfter` s later, the body `bodyAfterAck` s after it.
  const requests = (count: number, { ackAfter = 0.04, bodyAfterAck = 0.0001, body = '0123456789', answerFirst = false, rtt = 0.001 } = {}) => {
    const c = conv({ client: '10.5.0.1:51000', server: '10.5.0.2:80' }).handshake(0, rtt);
    let t = 0.01;
    for (let i = 0; i < count; i++) {
      c.client('PA', t, HEAD);
      if (answerFirst) c.server('PA', t + ackAfter, 'HTTP/1.1 100 Continue\r\n\r\n');
      else c.server('A', t + ackAfter);
      c.client('PA', t + ackAfter + bodyAfterAck, body);
      c.server('PA', t + ackAfter + bodyAfterAck + 0.001, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      t += ackAfter + bodyAfterAck + 0.01;
    }
    return analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'nagle-delay');
  };

  it('is a warning when it repeats three times or more and costs 100 ms or more, a line otherwise, and cites the three packets', () => {
    expect(requests(3)?.severity).toBe('warning');
    const twice = requests(2);
    expect(twice?.severity).toBe('info');
    expect(twice?.summary).toMatch(/^2 times the client's next small segment waited for the server's late ACK of its last one \(longest 40 ms: #4, then the bare ACK #5, then #6 at once; 80 ms in all\): Nagle's algorithm on the client meeting delayed ACKs on the server$/);
    expect(requests(1)?.severity).toBe('info');
  });

  it('needs a late bare ACK, a segment that leaves at once after it, and small segments', () => {
    expect(requests(2, { ackAfter: 0.002 })).toBeUndefined();
    expect(requests(2, { bodyAfterAck: 0.005 })).toBeUndefined();
    expect(requests(2, { body: 'b'.repeat(1448) })).toBeUndefined();
    // Acknowledged with data (an interim answer): no delayed-ACK timer held anything.
    expect(requests(2, { answerFirst: true })).toBeUndefined();
  });

  it('judges only from a capture near the held side: far from it, an application writing a few ms after the ACK arrived looks the same', () => {
    // The handshake puts the client 50 ms (a round trip) from the capture.
    expect(requests(3, { rtt: 0.1, ackAfter: 0.09, bodyAfterAck: 0.0501 })).toBeUndefined();
  });

  it('says nothing of a side that sent a small segment while its last one was unacknowledged: its Nagle is off', () => {
    const c = conv({ client: '10.5.0.1:51000', server: '10.5.0.2:80' }).handshake(0);
    // Two small pieces back to back, unacknowledged between them, then the held-looking pattern.
    c.client('PA', 0.005, 'PING\r\n').client('PA', 0.006, 'PING\r\n').server('PA', 0.007, '+PONG\r\n+PONG\r\n');
    let t = 0.01;
    for (let i = 0; i < 3; i++) {
      c.client('PA', t, HEAD).server('A', t + 0.04).client('PA', t + 0.0401, '0123456789').server('PA', t + 0.0402, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      t += 0.05;
    }
    expect(analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'nagle-delay')).toBeUndefined();
  });

  it('counts a held segment only once the peer answers it: a stream the peer only acknowledges is paced by something else', () => {
    const c = conv({ client: '10.5.0.1:51000', server: '10.5.0.2:80' }).handshake(0).client('PA', 0.01, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.011);
    let t = 0.02;
    for (let i = 0; i < 5; i++) {
      c.server('PA', t, 'c'.repeat(1024)).client('A', t + 0.05);
      t += 0.0501;
    }
    expect(analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'nagle-delay')).toBeUndefined();
  });
});
