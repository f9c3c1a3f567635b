// A path MTU black hole seen from the sender: its large segments are resent and never acknowledged
// while smaller ones were, and the peer, alive, keeps sending.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';

describe('retransmission: a path MTU black hole', () => {
  it('is named in a capture of a router whose narrower link drops full-size packets and whose ICMP "fragmentation needed" is filtered', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/pmtu-blackhole.pcap', import.meta.url)));
    const v = flows[0].verdicts.find((x) => x.code === 'retransmission');
    expect(v?.severity).toBe('error');
    expect(v?.facts).toMatchObject({ direction: 'server', stalled: true, cause: 'path-mtu' });
    expect(v?.summary).toMatch(/the client stayed reachable \(its FIN #\d+ came [\d.]+ s later\) yet acknowledged none of the 4 large segments \(up to 1448 bytes\) resent from #\d+, though it had acknowledged smaller ones \(up to 43 bytes\)/);
    expect(v?.hint).toMatch(/fragmentation needed/);
  });

  // A server answering with a small head, acknowledged, then a large segment resent five times.
  const exchange = ({ bodySize = 1448, clientFinAt = 8, headAcked = true, smallTail = false } = {}) => {
    const c = conv({ client: '10.4.0.1:51000', server: '10.4.0.2:80' }).handshake(0).client('PA', 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
    const headSeq = c.s.next;
    c.server('PA', 0.004, 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
    if (headAcked) c.client('A', 0.005);
    const seq = c.s.next;
    const body = 'b'.repeat(bodySize);
    c.server('A', 0.01, body);
    // The last piece of the answer, small, is lost too when everything is dropped.
    if (smallTail) c.server('PA', 0.011, 't'.repeat(300));
    for (const t of [0.22, 0.65, 1.5, 3.2, 6.6]) c.server('A', t, body, { seq });
    if (clientFinAt > 0) c.client('FA', clientFinAt, '', { ack: headAcked ? seq : headSeq });
    return analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'retransmission')!;
  };

  it('needs every unanswered resend to be large, a reachable peer, and a smaller segment (or the handshake) that got through', () => {
    expect(exchange().facts.cause).toBe('path-mtu');
    expect(exchange().summary).toContain('though it had acknowledged smaller ones (up to 43 bytes)');
    // Small segments lost too: no sign of a size limit.
    expect(exchange({ bodySize: 600 }).facts.cause).toBe('peer-unreachable');
    // Nothing from the client after the resends began: it may be gone.
    expect(exchange({ clientFinAt: 0 }).facts.cause).toBe('peer-unreachable');
    // A small last segment never acknowledged either: everything was dropped, whatever its size.
    expect(exchange({ smallTail: true }).facts.cause).toBe('peer-unreachable');
    // Only the handshake got through (the head is resent too, lost with the body): said as most likely.
    expect(exchange({ headAcked: false }).summary).toContain("though the server's handshake reached it: most likely a path MTU black hole");
  });
});

describe('no-response: an answer the server sent that never reached the client', () => {
  const waitingClient = (clientGotIt: boolean) => {
    const c = conv({ client: '10.4.0.1:51000', server: '10.4.0.2:80' }).handshake(0).client('PA', 0.002, 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
    const answered = (c.s.next + 15_928) >>> 0;
    // The client gives up 8 s later; the server's ACK of its FIN shows how far it had sent.
    c.client('FA', 8, '', { ack: clientGotIt ? answered : c.s.next }).server('A', 8.0001, '', { seq: answered });
    return analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'no-response');
  };

  it('is told when the client closed acknowledging none of the bytes the server had sent (a capture at the client of a black hole)', () => {
    const v = waitingClient(false);
    expect(v?.severity).toBe('error');
    expect(v?.summary).toMatch(/the server had answered \(its sequence numbers show 15,928 bytes sent by #\d+\) but the client acknowledged none of them: most likely lost on the way$/);
    expect(v?.hint).toMatch(/path MTU black hole/);
  });

  it('is not told when the client acknowledged them: the capture missed an answer the client got', () => {
    expect(waitingClient(true)).toBeUndefined();
  });

  it('is not told when the client reset after its FIN: its closed socket answered bytes that reached it', () => {
    const noResponse = (clientResets: boolean) => {
      const c = conv({ client: '10.4.0.1:51000', server: '10.4.0.2:80' }).handshake(0).client('PA', 0.002, 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n').server('A', 0.003);
      const answered = (c.s.next + 1041) >>> 0;
      c.client('FA', 2, '', { ack: c.s.next });
      if (clientResets) c.client('R', 2.07, '');
      c.server('FA', 2.1, '', { seq: answered });
      return analyzeConversation(c).flows[0].verdicts.find((x) => x.code === 'no-response')?.summary ?? '';
    };
    expect(noResponse(false)).toContain('most likely lost on the way');
    expect(noResponse(true)).not.toContain('lost on the way');
  });
});
