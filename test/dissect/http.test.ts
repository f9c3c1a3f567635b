import { describe, expect, it } from 'vitest';
import { HTTP_LIMITS, HttpParser, type HttpHead, type HttpParserHooks } from '../../src/dissect/http.js';
import { AppSession } from '../../src/dissect/session.js';
import type { DissectErrorFact } from '../../src/dissect/types.js';
import { everySplit } from '../helpers/splits.js';
import { c, factsAtEverySplit, runScript, s, type Step } from './script.js';

describe('HTTP/1.x through AppSession, replayed at every split point', () => {
  it('pairs a GET with its Content-Length response and times it', () => {
    const f = factsAtEverySplit([
      c('GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\nAccept: */*\r\n\r\n', 1000),
      s('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\nServer: nginx\r\n\r\nhello world\n', 3500),
    ]);
    expect(f.protocol).toBe('http');
    expect(f.http).toHaveLength(1);
    const [ex] = f.http;
    expect(ex.request).toMatchObject({
      method: 'GET', target: '/index.html', version: '1.1', packet: 1, endPacket: 1, complete: true, keepAlive: true,
      headers: { host: 'example.com', 'user-agent': 'curl/8.5' }, headerCount: 3,
    });
    expect(ex.request!.headers).not.toHaveProperty('accept'); // not a selected header
    expect(ex.response).toMatchObject({
      status: 200, reason: 'OK', version: '1.1', packet: 2, endPacket: 2, bodyBytes: 12, framing: 'length', complete: true,
      headers: { 'content-type': 'text/html', 'content-length': '12', server: 'nginx' },
    });
    expect(ex.timing).toEqual({
      requestAt: 1000, requestEndAt: 1000, requestEndPacket: 1, responseAt: 3500, responseEndAt: 3500, responseEndPacket: 2, thinkMs: 2.5,
    });
    expect(f.events).toEqual([
      { no: 1, dir: 0, text: 'HTTP GET /index.html HTTP/1.1' },
      { no: 2, dir: 1, text: '200 OK' },
    ]);
    expect(f.errors).toEqual([]);
  });

  it('counts a chunked body with chunk extensions and trailers, and finds the next response after it', () => {
    const f = factsAtEverySplit([
      c('GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n'),
      s('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;name=val\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n'),
      s('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'),
    ]);
    expect(f.http.map((e) => [e.request?.target, e.response?.status, e.response?.bodyBytes, e.response?.framing, e.response?.complete])).toEqual([
      ['/a', 200, 31, 'chunked', true],
      ['/b', 404, 0, 'none', true],
    ]);
    expect(f.http[0].response!.headers['transfer-encoding']).toBe('gzip, chunked');
    expect(f.errors).toEqual([]);
  });

  it('ends a response without length at the server FIN, and says the close came after the response', () => {
    const f = factsAtEverySplit([
      c('GET / HTTP/1.0\r\n\r\n', 1000),
      s('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close', 2000),
      { dir: 1, data: ' more', close: 'fin', t: 2600 },
      { dir: 0, close: 'fin', t: 2700 },
    ]);
    const [ex] = f.http;
    expect(ex.request!.keepAlive).toBe(false);
    expect(ex.response).toMatchObject({ framing: 'close', bodyBytes: 21, complete: true, endPacket: 3, keepAlive: false });
    expect(ex).toMatchObject({ closeAfter: 'response', closedBy: 'server', closeHow: 'fin', closeAfterMs: 0 });
    expect(f.closes).toEqual([
      { dir: 1, how: 'fin', no: 3, tsMicros: 2600 },
      { dir: 0, how: 'fin', no: 4, tsMicros: 2700 },
    ]);
  });

  it('leaves a close-delimited response incomplete when the server resets instead of closing', () => {
    const f = runScript([c('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), s('HTTP/1.1 200 OK\r\n\r\npartial'), { dir: 1, close: 'rst' }]).facts;
    expect(f.http[0].response).toMatchObject({ complete: false, bodyBytes: 7 });
    expect(f.http[0]).toMatchObject({ closeAfter: 'response-partial', closedBy: 'server', closeHow: 'rst', closeAfterMs: null });
  });

  it('knows a response to HEAD has no body even with Content-Length', () => {
    const f = factsAtEverySplit([
      c('HEAD /big HTTP/1.1\r\nHost: h\r\n\r\nGET /small HTTP/1.1\r\nHost: h\r\n\r\n'),
      s('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    ]);
    expect(f.http.map((e) => [e.request!.method, e.response!.bodyBytes, e.response!.framing, e.response!.complete])).toEqual([
      ['HEAD', 0, 'none', true],
      ['GET', 2, 'length', true],
    ]);
  });

  it('reads 204 and 304 as bodiless and keeps parsing the responses after them', () => {
    const f = factsAtEverySplit([
      c('DELETE /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\nIf-None-Match: "a"\r\n\r\nGET /z HTTP/1.1\r\nHost: h\r\n\r\n'),
      s('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'),
    ]);
    expect(f.http.map((e) => [e.request!.target, e.response!.status, e.response!.bodyBytes])).toEqual([
      ['/x', 204, 0],
      ['/y', 304, 0],
      ['/z', 200, 3],
    ]);
  });

  it('pairs three pipelined requests with three responses in order', () => {
    const f = factsAtEverySplit([
      c('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbodyGET /3 HTTP/1.1\r\nHost: h\r\n\r\n', 1000),
      s('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nbbHTTP/1.1 202 Accepted\r\nContent-Length: 3\r\n\r\nccc', 5000),
    ]);
    expect(f.http.map((e) => [e.request!.method, e.request!.target, e.request!.bodyBytes, e.response!.status, e.response!.bodyBytes])).toEqual([
      ['GET', '/1', 0, 200, 1],
      ['POST', '/2', 4, 201, 2],
      ['GET', '/3', 0, 202, 3],
    ]);
    expect(f.http.every((e) => e.timing.thinkMs === 4)).toBe(true);
  });

  it('keeps a 100 Continue as interim and pairs the final response with the same request', () => {
    const f = factsAtEverySplit([
      c('PUT /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n', 1000),
      s('HTTP/1.1 100 Continue\r\n\r\n', 2000),
      c('0123456789', 3000),
      s('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', 4000),
    ]);
    expect(f.http).toHaveLength(1);
    const [ex] = f.http;
    expect(ex.interim).toEqual([{ status: 100, reason: 'Continue', packet: 2, at: 2000 }]);
    expect(ex.request).toMatchObject({ bodyBytes: 10, complete: true, endPacket: 3 });
    expect(ex.response).toMatchObject({ status: 201, packet: 4 });
    expect(ex.timing).toMatchObject({ requestEndAt: 3000, responseAt: 4000, thinkMs: 1 });
    expect(f.events.map((e) => e.text)).toEqual(['HTTP PUT /upload HTTP/1.1', '100 Continue', '201 Created']);
  });

  it('applies HTTP/1.0 and HTTP/1.1 keep-alive defaults and Connection overrides', () => {
    const f = runScript([
      c('GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\nConnection: close\r\n\r\n'),
      s('HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    ]).facts;
    expect(f.http.map((e) => [e.request!.keepAlive, e.response!.keepAlive])).toEqual([
      [false, true],
      [true, false],
      [true, true],
      [false, false],
    ]);
  });

  it('joins repeated headers with commas and obs-folded lines with a space, names case-insensitive', () => {
    const f = factsAtEverySplit([
      c('GET / HTTP/1.1\r\nHOST: h\r\nVia: 1.1 a\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\nUser-Agent: long\r\n  folded agent\r\n\tname\r\n\r\n'),
      s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ]);
    expect(f.http[0].request!.headers).toEqual({
      host: 'h', via: '1.1 a', 'x-forwarded-for': '10.0.0.1, 10.0.0.2', 'user-agent': 'long folded agent name',
    });
    expect(f.http[0].request!.headerCount).toBe(5);
  });

  it('gives each message its own texts when sessions repeat some and vary others', () => {
    // Parsers share a decoded text between messages with the same bytes; values of the same length
    // that differ in one byte, many more of them than the cache holds, must each come back as sent.
    const hosts = Array.from({ length: 300 }, (_, i) => `h${String(i).padStart(3, '0')}.example`);
    const methods = ['GET', 'PUT', 'POST', 'HEAD'];
    const reasons = ['OK', 'Created', 'Accepted', 'No Content'];
    const sessions = hosts.map((host, i) =>
      runScript([
        c(`${methods[i % 4]} /item/${i % 7} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: agent/${i % 3}\r\nContent-Length: 0\r\n\r\n`),
        s(`HTTP/1.1 ${200 + (i % 4)} ${reasons[i % 4]}\r\nContent-Type: text/${i % 2 ? 'plain' : 'html'}\r\nContent-Length: 0\r\n\r\n`),
      ]).facts,
    );
    sessions.forEach((f, i) => {
      const [ex] = f.http;
      expect([ex.request!.method, ex.request!.target, ex.request!.headers.host, ex.request!.headers['user-agent']]).toEqual([methods[i % 4], `/item/${i % 7}`, hosts[i], `agent/${i % 3}`]);
      expect([ex.response!.status, ex.response!.reason, ex.response!.headers['content-type']]).toEqual([200 + (i % 4), reasons[i % 4], `text/${i % 2 ? 'plain' : 'html'}`]);
    });
  });

  it('keeps a sticky error with offset and offending bytes for a malformed status line, and keeps the request', () => {
    const steps: Step[] = [
      c('GET /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n'),
      s('HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'),
    ];
    const f = factsAtEverySplit(steps);
    expect(f.errors).toEqual([
      {
        code: 'HTTP_INVALID_STATUS_LINE',
        message: expect.stringContaining('has no 3-digit status'),
        dir: 1,
        streamOffset: 8,
        packet: 2,
        bytesText: ' 2OO OK\\r\\nContent-Length: 0\\r\\n\\r\\nHT',
        bytesHex: expect.stringMatching(/^20324f4f204f4b0d0a/),
      },
    ]);
    expect(f.http.map((e) => [e.request!.target, e.response?.status ?? null])).toEqual([
      ['/x', null],
      ['/y', null],
    ]);
    // Another flow with good bytes is unaffected by this one.
    const good = runScript([c('GET /x HTTP/1.1\r\nHost: h\r\n\r\n'), s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]).facts;
    expect(good.errors).toEqual([]);
    expect(good.http[0].response!.status).toBe(200);
  });

  it('names a response that is not HTTP at all, with its first bytes', () => {
    const f = factsAtEverySplit([c('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), s('SSH-2.0-OpenSSH_9.6\r\n')]);
    expect(f.errors).toHaveLength(1);
    expect(f.errors[0]).toMatchObject({ code: 'HTTP_NON_HTTP_RESPONSE', streamOffset: 0, bytesText: 'SSH-2.0-OpenSSH_9.6\\r\\n' });
  });

  it('locates an error in a header line split across packets', () => {
    const f = factsAtEverySplit([c('GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n')]);
    expect(f.errors[0]).toMatchObject({ code: 'HTTP_INVALID_HEADER_TOKEN', streamOffset: 28, bytesText: ' Name: x\\r\\n\\r\\n' });
    expect(f.http[0].request).toMatchObject({ target: '/', complete: false });
  });

  it('rejects conflicting Content-Length values', () => {
    const f = factsAtEverySplit([c('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello')]);
    expect(f.errors[0]).toMatchObject({ code: 'HTTP_INVALID_CONTENT_LENGTH', streamOffset: 36, bytesText: 'content-length: 6' });
  });

  it('rejects a chunk size that is not hex and a chunk not followed by CRLF', () => {
    const bad = runScript([c('GET / HTTP/1.1\r\n\r\n'), s('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')]).facts;
    expect(bad.errors[0]).toMatchObject({ code: 'HTTP_INVALID_CHUNK_SIZE', streamOffset: 47 });
    const noCrlf = runScript([c('GET / HTTP/1.1\r\n\r\n'), s('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX')]).facts;
    expect(noCrlf.errors[0]).toMatchObject({ code: 'HTTP_INVALID_CHUNK_END', streamOffset: 53, bytesText: 'X' });
  });

  it('resynchronises at the next request line after a gap in the client stream', () => {
    const f = factsAtEverySplit([
      c('GET /first HTTP/1.1\r\nHost: h\r\nX-Pad: '),
      { dir: 0, gap: 500 },
      c('tail of something\r\n\r\nbody text here\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n'),
      s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ]);
    expect(f.gaps).toEqual([{ dir: 0, streamOffset: 37, length: 500, packet: 2, outcome: 'resynced', resyncOffset: 574 }]);
    expect(f.http.map((e) => [e.request!.target, e.request!.complete, e.request!.afterGap])).toEqual([
      ['/first', false, false],
      ['/second', true, true],
    ]);
    expect(f.errors).toEqual([]);
  });

  it('stays in step when a gap falls inside a body of known length', () => {
    const f = runScript([
      c('GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'),
      s('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc'),
      { dir: 1, gap: 993 },
      s('defgHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ]).facts;
    expect(f.gaps[0].outcome).toBe('body');
    expect(f.http.map((e) => e.response?.complete)).toEqual([true, true]);
  });

  it('notes a gap it cannot recover from as lost', () => {
    const f = runScript([c('GET / HTTP/1.1\r\nHost: '), { dir: 0, gap: 100 }, c('no request line follows\r\n')]).facts;
    expect(f.gaps[0]).toMatchObject({ outcome: 'lost', resyncOffset: null });
  });

  it('gives a stream that does not start with a method and a space protocol unknown', () => {
    // A TLS record is TLS (see tls.test.ts), not HTTP.
    const tls = runScript([c(Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])), s('anything')]).facts;
    expect(tls).toMatchObject({ protocol: 'tls', http: [], errors: [] });
    expect(tls.tls!.serverNotTls!.text).toBe('anything');
    const binary = runScript([c(Uint8Array.from([0x00, 0x01, 0x02, 0x03])), s('anything')]).facts;
    expect(binary).toMatchObject({ protocol: 'unknown', http: [], errors: [], events: [] });
    const ssh = runScript([s('SSH-2.0-OpenSSH_9.6\r\n'), c('SSH-2.0-client\r\n')]).facts;
    expect(ssh.protocol).toBe('unknown');
    const redis = runScript([c('PING\r\n')]).facts;
    expect(redis.protocol).toBe('unknown');
  });

  it('detects HTTP by content on any port and across a split method token', () => {
    for (const split of everySplit(new TextEncoder().encode('OPTIONS * HTTP/1.1\r\n\r\n'))) {
      const session = new AppSession();
      let off = 0;
      for (const chunk of split.chunks) {
        session.onData(0, chunk, 0, chunk.length, off, 1, 10);
        off += chunk.length;
      }
      session.onEnd(10);
      expect(session.facts.protocol, split.label).toBe('http');
      expect(session.facts.http[0].request, split.label).toMatchObject({ method: 'OPTIONS', target: '*', complete: true });
    }
  });
});

describe('HttpParser limits', () => {
  function recorder() {
    const heads: HttpHead[] = [];
    const errors: DissectErrorFact[] = [];
    const hooks: HttpParserHooks = {
      onStartLine: () => {},
      onHeadersComplete: (h) => (heads.push(h), 0),
      onMessageComplete: () => {},
      onMessageAbort: () => {},
      onError: (e) => errors.push(e),
    };
    return { heads, errors, hooks };
  }

  it('reports a head over 64 KiB as HTTP_HEADERS_TOO_LARGE and consumes the rest without throwing', () => {
    const r = recorder();
    const p = new HttpParser('request', 0, r.hooks);
    const line = `X-Filler: ${'a'.repeat(1000)}\r\n`;
    const text = `GET / HTTP/1.1\r\n${line.repeat(70)}\r\n`;
    const bytes = new TextEncoder().encode(text);
    expect(p.execute(bytes, 0, bytes.length, 0, 1, 0)).toBe(bytes.length);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code: 'HTTP_HEADERS_TOO_LARGE', streamOffset: HTTP_LIMITS.MAX_HEAD_BYTES });
    expect(p.errored).toBe(true);
  });

  it('reports more than the header count limit as HTTP_TOO_MANY_HEADERS', () => {
    const r = recorder();
    const p = new HttpParser('response', 1, r.hooks);
    const bytes = new TextEncoder().encode(`HTTP/1.1 200 OK\r\n${'A: b\r\n'.repeat(HTTP_LIMITS.MAX_HEADERS + 1)}\r\n`);
    p.execute(bytes, 0, bytes.length, 0, 1, 0);
    expect(r.errors.map((e) => e.code)).toEqual(['HTTP_TOO_MANY_HEADERS']);
    expect(r.heads).toEqual([]);
  });

  it('stays errored: later bytes only complete the error data', () => {
    const r = recorder();
    const p = new HttpParser('request', 0, r.hooks);
    const enc = new TextEncoder();
    const a = enc.encode('GE{T / HTTP/1.1\r\n');
    p.execute(a, 0, 3, 0, 1, 0);
    p.execute(a, 3, a.length, 3, 2, 0);
    const more = enc.encode('GET / HTTP/1.1\r\n\r\n');
    p.execute(more, 0, more.length, a.length, 3, 0);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code: 'HTTP_INVALID_METHOD', streamOffset: 2, packet: 1, bytesText: '{T / HTTP/1.1\\r\\nGET / HTTP/1.1\\r\\n\\r' });
    expect(r.heads).toEqual([]);
  });
  it('is, once reset, what a new parser is but for the buffer and the head it keeps to fill anew', () => {
    const enc = new TextEncoder();
    const streams = [
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab',
      'GET / HTTP/1.1\r\nX-Long: ' + 'x'.repeat(300),
      'GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n',
    ];
    const kept = new Set(['hooks', 'lineBuf', 'errorData', 'reusableHead']);
    const fields = (p: HttpParser) => Object.entries(p).filter(([k]) => !kept.has(k));
    for (const text of streams) {
      const p = new HttpParser('request', 0, recorder().hooks);
      const bytes = enc.encode(text);
      p.execute(bytes, 0, 20, 0, 1, 1000);
      p.execute(bytes, 20, bytes.length, 20, 2, 2000);
      p.gap(bytes.length, 10, 3, 3000);
      const hooks = recorder().hooks;
      expect(fields(p.reset(hooks))).toEqual(fields(new HttpParser('request', 0, hooks)));
      const again = enc.encode('GET /x HTTP/1.1\r\nHost: b\r\n\r\n');
      const r = recorder();
      p.reset(r.hooks).execute(again, 0, again.length, 0, 1, 0);
      expect(r.heads.map((h) => [h.target, h.headers])).toEqual([['/x', { host: 'b' }]]);
      expect(r.errors).toEqual([]);
    }
  });
});
