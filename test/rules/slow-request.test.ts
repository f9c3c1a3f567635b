// slow-request: a request the client sent slowly, though TCP could have sent it at once; the
// server's answer is timed from the request's last byte, so slow-server does not blame it.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';

const SAMPLE = fileURLToPath(new URL('../../samples/slow-request-body.pcap', import.meta.url));
const find = (f: FlowResult, code: string) => f.verdicts.find((v) => v.code === code);

describe('slow-request', () => {
  it('tells a client that sent its 2,000-byte body in three pieces over 1.5 s to a node server that answered at once (real capture)', () => {
    const f = analyzeFile(SAMPLE).flows[0]!;
    const v = find(f, 'slow-request');
    expect(v?.severity).toBe('warning');
    expect(v?.facts.tookMs as number).toBeGreaterThan(1400);
    expect(v?.facts.answeredAfterMs as number).toBeLessThan(100);
    expect(v?.summary).toMatch(/^the client took 1\.5\d s to send its request POST \/upload \(#4 to #8\), though the 2,1\d\d bytes it sent on this connection fit in one flight: the wait was on the client; the server answered [\d.]+ ms after the last byte \(#10\)$/);
    expect(find(f, 'slow-server')).toBeUndefined();
  });

  it('leaves the server out: its answer is timed from the last request byte, as a zero slow-server floor shows', () => {
    const f = analyzeFile(SAMPLE, { slow: { serverMicros: 0 } }).flows[0]!;
    expect(find(f, 'slow-server')?.facts.waitedMs as number).toBeLessThan(100);
  });

  const HEAD = (n: number) => `POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\n\r\n`;
  const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';

  /** A POST whose body goes in `pieces` equal parts, the last `took` s after the head; the server ACKs each, with `window`. */
  function post(c: Conversation, t: number, { body = 1000, pieces = 2, took = 1.5, window = 65535 } = {}): number {
    const part = Math.floor(body / pieces);
    for (let i = 0; i < pieces; i++) {
      const at = t + (took * i) / (pieces - 1);
      c.client('PA', at, (i === 0 ? HEAD(body) : '') + 'b'.repeat(i === pieces - 1 ? body - part * i : part)).server('A', at + 0.0005, '', { window });
    }
    c.server('PA', t + took + 0.002, OK).client('A', t + took + 0.003);
    return t + took + 0.01;
  }
  const run = (c: Conversation, end: number, keepExchanges = true) => {
    c.client('FA', end).server('FA', end + 0.001).client('A', end + 0.002);
    return analyzeFrames(c.packets, { keepExchanges }).flows[0]!;
  };
  const one = (opts: Parameters<typeof post>[2]) => {
    const c = conv({ client: '10.7.0.1:51000', server: '10.7.0.2:80' }).handshake(0);
    return run(c, post(c, 0.01, opts));
  };

  it('is said of a small request sent slowly, not of one sent within the floor', () => {
    expect(find(one({}), 'slow-request')?.facts).toMatchObject({ tookMs: 1500, clientBytes: 1000 + HEAD(1000).length });
    expect(find(one({ took: 0.5 }), 'slow-request')).toBeUndefined();
  });

  it('is not said of a body that one round trip of a slow path delayed: Nagle held it for the head\'s ACK', () => {
    // A 1.2 s path (a satellite link): the head, its ACK a round trip later, the body at once after it.
    const slowPath = (bodyAt: number) =>
      conv({ client: '10.7.0.1:51000', server: '10.7.0.2:80' })
        .client('S', 0).server('SA', 1.2).client('A', 1.2001)
        .client('PA', 1.2002, HEAD(300)).server('A', 2.4002).client('PA', bodyAt, 'x'.repeat(300))
        .server('PA', bodyAt + 1.2, OK).client('A', bodyAt + 1.2001);
    expect(find(run(slowPath(2.4003), 5), 'slow-request')).toBeUndefined();
    // Held for more than three round trips, it was the client.
    expect(find(run(slowPath(5.0), 7), 'slow-request')).toBeDefined();
  });

  it('is not said of a request too large for one flight: the network may have paced it', () => {
    expect(find(one({ body: 20_000, pieces: 20 }), 'slow-request')).toBeUndefined();
    expect(find(one({ body: 10_000, pieces: 10 }), 'slow-request')).toBeDefined();
  });

  it('is not said when the server shut its window: the server held the client back', () => {
    expect(find(one({ window: 0 }), 'slow-request')).toBeUndefined();
    expect(find(one({ window: 1000 }), 'slow-request')).toBeDefined();
  });

  it('finds the slow request among quick ones on a kept-alive connection, as the default analysis keeps them', () => {
    const c = conv({ client: '10.7.0.1:51001', server: '10.7.0.2:80' }).handshake(0);
    let t = 0.01;
    t = post(c, t, { body: 100, took: 0.01 });
    t = post(c, t, { body: 100, took: 1.2 });
    t = post(c, t, { body: 100, took: 0.01 });
    t = post(c, t, { body: 100, took: 0.02 });
    expect(find(run(c, t, false), 'slow-request')?.facts).toMatchObject({ tookMs: 1200 });
  });
});
