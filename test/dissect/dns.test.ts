import { describe, expect, it } from 'vitest';
import { DNS_ERROR, DnsOverTcp, isDnsError, parseDnsMessage, type DnsMessage, type DnsParseError } from '../../src/dissect/dns.js';
import type { Dir, StreamSink } from '../../src/flow/sink.js';
import { dnsQuery, dnsResponse, encodeName, withTcpLength } from '../helpers/dns.js';
import { concat } from '../helpers/packets.js';
import { everySplit } from '../helpers/splits.js';

const parse = (b: Uint8Array, wireLen?: number) => parseDnsMessage(b, 0, b.length, wireLen);

function ok(r: DnsMessage | DnsParseError): DnsMessage {
  if (isDnsError(r)) throw new Error(`parse failed: ${r.error} at ${r.at}`);
  return r;
}

const chain = dnsResponse({
  id: 0x80d1,
  name: 'www.Example.com',
  answers: [
    { type: 'CNAME', data: 'edge.example.net' },
    { type: 'A', name: 'edge.example.net', data: '203.0.113.9' },
    { type: 'AAAA', name: 'edge.example.net', data: '2001:db8::9' },
  ],
});

describe('parseDnsMessage', () => {
  it('reads a query: ID, flags and the question in lower case', () => {
    const m = ok(parse(dnsQuery({ id: 7, name: 'WWW.example.COM', type: 'AAAA' })));
    expect(m).toMatchObject({ id: 7, response: false, opcode: 0, rcode: 0, truncated: false, questions: [{ name: 'www.example.com', type: 28 }], answers: [] });
  });

  it('reads a CNAME chain with compressed owner names and both address families', () => {
    const m = ok(parse(chain));
    expect(m.response).toBe(true);
    expect(m.answers).toEqual([
      { name: 'www.example.com', type: 5, ttl: 300, data: 'edge.example.net' },
      { name: 'edge.example.net', type: 1, ttl: 300, data: '203.0.113.9' },
      { name: 'edge.example.net', type: 28, ttl: 300, data: '2001:db8::9' },
    ]);
  });

  it('reads SERVFAIL and NXDOMAIN codes and the TC bit', () => {
    expect(ok(parse(dnsResponse({ name: 'appserver', rcode: 2 }))).rcode).toBe(2);
    expect(ok(parse(dnsResponse({ name: 'nope.example', rcode: 3 }))).rcode).toBe(3);
    expect(ok(parse(dnsResponse({ name: 'big.example', truncated: true }))).truncated).toBe(true);
  });

  it('refuses a compression pointer that loops back to itself or points forward', () => {
    // Question name: label "a" then a pointer to offset 12 (its own start): a loop.
    const loop = concat([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0], [1, 0x61, 0xc0, 12], [0, 1, 0, 1]);
    expect(parse(loop)).toEqual({ error: DNS_ERROR.POINTER_NOT_BACKWARDS, at: 14 });
    const selfPointer = concat([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0], [0xc0, 12], [0, 1, 0, 1]);
    expect(parse(selfPointer)).toEqual({ error: DNS_ERROR.POINTER_NOT_BACKWARDS, at: 12 });
    const forward = concat([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0], [0xc0, 40], [0, 1, 0, 1], new Array(40).fill(0));
    expect(parse(forward)).toEqual({ error: DNS_ERROR.POINTER_NOT_BACKWARDS, at: 12 });
  });

  it('refuses a pointer chain in an answer that loops between two records', () => {
    // Answer owner points at offset 29, where a pointer points back to 29's own run: refused, not followed forever.
    const header = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    const question = [...encodeName('x.example'), 0, 1, 0, 1];
    const ownerAt = header.length + question.length;
    const answer = [0xc0, ownerAt, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
    expect(parse(concat(header, question, answer))).toEqual({ error: DNS_ERROR.POINTER_NOT_BACKWARDS, at: ownerAt });
  });

  it('refuses reserved label types, names over 255 bytes and A records of the wrong length', () => {
    const reserved = concat([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], [0x41, 0x61], [0, 0, 1, 0, 1]);
    expect(parse(reserved)).toEqual({ error: DNS_ERROR.BAD_LABEL, at: 12 });
    const long = dnsQuery({ name: Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.') });
    expect(parse(long)).toMatchObject({ error: DNS_ERROR.NAME_TOO_LONG });
    // The A record's type, class, TTL 300 and data length 4, then its address: claim 5 bytes of data.
    const fixed = [0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 203];
    const at = chain.findIndex((_, i) => fixed.every((x, k) => chain[i + k] === x));
    const badA = chain.slice();
    badA[at + 9] = 5;
    expect(parse(badA)).toEqual({ error: DNS_ERROR.BAD_RDATA, at: at + 10 });
  });

  it('reports a message truncated in its header, question or answers', () => {
    for (const cut of [0, 5, 11, 14, chain.length - 1]) {
      const r = parse(chain.subarray(0, cut));
      expect(r, `cut at ${cut}`).toMatchObject({ error: DNS_ERROR.TRUNCATED });
    }
  });

  it('keeps what was read before the snap length cut a response, and says so', () => {
    const cut = chain.length - 10;
    const m = ok(parse(chain.subarray(0, cut), chain.length));
    expect(m.cut).toBe(true);
    expect(m.answers.map((a) => a.data)).toEqual(['edge.example.net', '203.0.113.9']);
  });

  it('reads HTTPS and SVCB records: AliasMode with its target, ServiceMode with its address hints', () => {
    const m = ok(
      parse(
        dnsResponse({
          name: 'Example.com',
          type: 'HTTPS',
          answers: [
            { type: 'HTTPS', service: { priority: 0, target: 'Pool.example.net', ipv4hint: ['192.0.2.1'] } },
            { type: 'HTTPS', service: { priority: 1, ipv4hint: ['203.0.113.9', '203.0.113.10'], ipv6hint: ['2001:db8::9'] } },
            { type: 'SVCB', name: '_dns.example.com', service: { priority: 2, target: 'doh.example.com', ipv6hint: ['2001:db8::53'] } },
            { type: 'A', data: '203.0.113.11' },
          ],
        }),
      ),
    );
    expect(m.services).toEqual([
      // AliasMode: its SvcParams are ignored (RFC 9460 section 2.4.2).
      { name: 'example.com', type: 65, priority: 0, target: 'pool.example.net', ipv4Hints: [], ipv6Hints: [], hintsLeftOut: 0 },
      { name: 'example.com', type: 65, priority: 1, target: '', ipv4Hints: ['203.0.113.9', '203.0.113.10'], ipv6Hints: ['2001:db8::9'], hintsLeftOut: 0 },
      { name: '_dns.example.com', type: 64, priority: 2, target: 'doh.example.com', ipv4Hints: [], ipv6Hints: ['2001:db8::53'], hintsLeftOut: 0 },
    ]);
    expect(m.unreadServices).toBe(0);
    expect(m.answers.map((a) => a.data)).toEqual(['203.0.113.11']);
  });

  it('skips a malformed HTTPS record with the rest of its RRset, and reads the records after it', () => {
    const hint = [4, 0, 4, 203, 0, 113, 9];
    const broken: Record<string, Array<[number, number[]]>> = {
      'keys out of order': [[4, [203, 0, 113, 9]], [1, [2, 0x68, 0x32]]],
      'a key twice': [[4, [203, 0, 113, 9]], [4, [203, 0, 113, 10]]],
      'an ipv4hint of 6 bytes': [[4, [203, 0, 113, 9, 1, 2]]],
      'an empty ipv6hint': [[6, []]],
    };
    for (const [what, params] of Object.entries(broken)) {
      const m = ok(
        parse(
          dnsResponse({
            name: 'example.com',
            type: 'HTTPS',
            answers: [
              { type: 'HTTPS', service: { priority: 1, ipv4hint: ['198.51.100.1'] } },
              { type: 'HTTPS', service: { priority: 2, params } },
              { type: 'HTTPS', name: 'other.example', service: { priority: 1, ipv4hint: ['198.51.100.2'] } },
              { type: 'A', data: '203.0.113.11' },
            ],
          }),
        ),
      );
      expect([m.services.map((r) => r.ipv4Hints), m.unreadServices, m.answers.length], what).toEqual([[['198.51.100.2']], 2, 1]);
    }
    // A SvcParam running past the RDATA, a compressed TargetName, RDATA too short for a name: each skipped alone.
    const rdatas = [
      [0, 1, 0, ...hint.slice(0, 6)],
      [0, 1, 0xc0, 12, ...hint],
      [0, 1],
    ];
    for (const rdata of rdatas) {
      const header = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
      const question = [...encodeName('example.com'), 0, 65, 0, 1];
      const https = [0xc0, 12, 0, 65, 0, 1, 0, 0, 0, 60, 0, rdata.length, ...rdata];
      const a = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 11];
      const m = ok(parse(concat(header, question, https, a)));
      expect([m.services, m.unreadServices, m.answers.map((x) => x.data)], String(rdata)).toEqual([[], 1, ['203.0.113.11']]);
    }
  });

  it('keeps at most 16 hints of a record and says how many it left out', () => {
    const many = Array.from({ length: 20 }, (_, i) => `203.0.113.${i + 1}`);
    const [r] = ok(parse(dnsResponse({ name: 'example.com', type: 'HTTPS', answers: [{ type: 'HTTPS', service: { priority: 1, ipv4hint: many } }] }))).services;
    expect([r.ipv4Hints, r.hintsLeftOut]).toEqual([many.slice(0, 16), 4]);
  });

  it('never throws on random SVCB data, and reads past it to the next record', () => {
    let seed = 777;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const header = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    const question = [...encodeName('example.com'), 0, 65, 0, 1];
    const a = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 11];
    for (let i = 0; i < 3000; i++) {
      const rdata = Array.from({ length: rand() % 60 }, rand);
      // Half the time a valid start (priority, root target, a hint key), so the parameter loop is reached.
      if (i % 2 === 0 && rdata.length > 7) rdata.splice(0, 5, 0, 1, 0, 0, 4);
      const m = parse(concat(header, question, [0xc0, 12, 0, i % 2 ? 64 : 65, 0, 1, 0, 0, 0, 60, 0, rdata.length], rdata, a));
      expect(ok(m).answers.map((x) => x.data)).toEqual(['203.0.113.11']);
      expect(ok(m).services.length + ok(m).unreadServices).toBe(1);
    }
  });

  it('never throws on random bytes', () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const len = rand() % 80;
      const b = Uint8Array.from({ length: len }, rand);
      if (len >= 6) b[4] = 0, b[5] = 1 + (rand() & 1); // a question or two, so parsing goes past the header
      expect(() => parse(b)).not.toThrow();
    }
  });
});

describe('DnsOverTcp', () => {
  const query = withTcpLength(dnsQuery({ id: 9, name: 'ripe.net' }));
  const answer = withTcpLength(dnsResponse({ id: 9, name: 'ripe.net', answers: [{ type: 'A', data: '193.0.6.139' }] }));

  function run(chunks: Array<[Dir, Uint8Array]>) {
    const seen: Array<[Dir, DnsMessage | DnsParseError, number]> = [];
    const forwarded = [0, 0];
    const inner: StreamSink = {
      onData: (dir, _b, off, end) => {
        forwarded[dir] += end - off;
      },
      onGap() {},
      onEnd() {},
    };
    const sink = new DnsOverTcp(inner, (dir, m, no) => seen.push([dir, m, no]));
    const offsets = [0, 0];
    chunks.forEach(([dir, bytes], i) => {
      sink.onData(dir, bytes, 0, bytes.length, offsets[dir], i + 1, i);
      offsets[dir] += bytes.length;
    });
    sink.onEnd(0);
    return { seen, forwarded };
  }

  it('reads the first message of each direction at every split, and passes every byte on', () => {
    for (const split of everySplit(query)) {
      const parts = split.chunks;
      const { seen, forwarded } = run([...parts.map((p): [Dir, Uint8Array] => [0, p]), [1, answer], [1, answer]]);
      expect(seen.map(([dir, m]) => [dir, ok(m).id, ok(m).response])).toEqual([
        [0, 9, false],
        [1, 9, true],
      ], split.label);
      expect(seen[0][2]).toBe(parts.length);
      expect(forwarded).toEqual([query.length, 2 * answer.length]);
    }
  });

  it('stops reading a direction after a gap', () => {
    const sink = new DnsOverTcp(null, () => {
      throw new Error('no message expected');
    });
    sink.onData(0, query, 0, 3, 0, 1, 0);
    sink.onGap(0, 3, 5, 2, 0);
    sink.onData(0, query, 8, query.length, 8, 3, 0);
    sink.onEnd(0);
  });
});
