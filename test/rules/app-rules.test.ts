// HTTP/WebSocket verdicts on scripted conversations: real frames (correct lengths and checksums)
// through the whole pipeline, for the cases that are awkward to provoke with real servers.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Analyzer, analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { APP_RULES, expectedWebSocketAccept, guessProtocol, WS_CLOSE_CODE_NAMES } from '../../src/rules/app-rules.js';
import { FLOW_RULES, judgeFlow, type FlowRule } from '../../src/rules/rules.js';
import type { Verdict } from '../../src/rules/verdict.js';
import { AnswerLog } from '../../src/rules/answer-log.js';
import { useCorpus } from '../helpers/corpus.js';
import { tcpFrame, toRecord, type TcpFrame } from '../helpers/packets.js';
import { closePayload, upgradeRequest, upgradeResponse, wsFrame, WS_KEY } from '../dissect/script.js';

const OP = { TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9 } as const;
const CLIENT = { src: '10.0.0.1', sport: 51000 } as const;
const SERVER = { src: '10.0.0.2', sport: 80 } as const;
const START = 1_700_000_000_000_000;
const corpus2 = useCorpus('corpus2');

/** A scripted TCP conversation: every call adds one segment `ms` after the previous one. */
class Conversation {
  private readonly seq = [0xffff_fff0, 0x7fff_fff8];
  private t = START;
  readonly frames: { frame: TcpFrame; ts: number }[] = [];

  handshake(): this {
    this.seg(0, 'S', '', 0, false);
    this.seg(1, 'SA', '', 0.05);
    return this.seg(0, 'A', '', 0.05);
  }
  client(data: Uint8Array | string, ms = 1): this {
    return this.seg(0, 'PA', data, ms);
  }
  server(data: Uint8Array | string, ms = 1): this {
    return this.seg(1, 'PA', data, ms);
  }
  fin(dir: 0 | 1, ms = 1): this {
    return this.seg(dir, 'FA', '', ms);
  }
  rst(dir: 0 | 1, ms = 1): this {
    return this.seg(dir, 'RA', '', ms);
  }
  /** `n` bytes of `dir` the capture never saw: the sequence moves on, no packet is written. */
  lose(dir: 0 | 1, n: number): this {
    this.seq[dir] = (this.seq[dir] + n) >>> 0;
    return this;
  }
  /** An empty ACK from `dir`. */
  ack(dir: 0 | 1, ms = 1): this {
    return this.seg(dir, 'A', '', ms);
  }
  /** Both sides FIN, each acknowledged. */
  closeBoth(first: 0 | 1, ms = 1): this {
    const other = first === 0 ? 1 : 0;
    return this.fin(first, ms).fin(other, 0.05).seg(first, 'A', '', 0.05);
  }

  private seg(dir: 0 | 1, flags: string, data: Uint8Array | string, ms: number, withAck = true): this {
    this.t += Math.round(ms * 1000);
    const me = dir === 0 ? CLIENT : SERVER;
    const peer = dir === 0 ? SERVER : CLIENT;
    const payload = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const frame = tcpFrame({
      src: me.src,
      sport: me.sport,
      dst: peer.src,
      dport: peer.sport,
      seq: this.seq[dir] >>> 0,
      ack: withAck ? this.seq[1 - dir] >>> 0 : 0,
      flags,
      payload,
    });
    this.frames.push({ frame, ts: this.t });
    this.seq[dir] = (this.seq[dir] + payload.length + (/[SF]/.test(flags) ? 1 : 0)) >>> 0;
    return this;
  }

  analyze(): FlowResult {
    const analyzer = new Analyzer({ file: 'scripted' });
    this.frames.forEach(({ frame, ts }, i) => analyzer.onRecord(toRecord(frame, { no: i + 1, tsMicros: ts })));
    const result = analyzer.finish({
      file: 'scripted',
      format: 'pcap',
      linkTypes: [1],
      snaplen: 65535,
      packets: this.frames.length,
      truncatedPackets: 0,
      truncatedBelowSnaplen: 0,
      diagnostics: [],
      stoppedEarly: false,
    });
    expect(result.flows).toHaveLength(1);
    return result.flows[0]!;
  }
}

const conv = () => new Conversation().handshake();
const codes = (f: FlowResult) => f.verdicts.map((v) => v.code);
const verdict = (f: FlowResult, code: string): Verdict => {
  const v = f.verdicts.find((x) => x.code === code);
  if (!v) throw new Error(`no ${code} verdict; got ${codes(f).join(', ')}`);
  return v;
};
const c2s = (op: number, payload: Uint8Array | string = '') => wsFrame(0, op, payload);
const s2c = (op: number, payload: Uint8Array | string = '') => wsFrame(1, op, payload);

function response(status: number, reason: string, headers = '', body = ''): string {
  return `HTTP/1.1 ${status} ${reason}\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`;
}

describe('WebSocket verdicts', () => {
  it('gives a session with a valid upgrade, frames and a 1000 close handshake only info verdicts', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .client(c2s(OP.TEXT, 'hi'))
      .server(s2c(OP.TEXT, 'hello'))
      .client(c2s(OP.CLOSE, closePayload(1000, 'bye')))
      .server(s2c(OP.CLOSE, closePayload(1000)))
      .closeBoth(1)
      .analyze();
    expect(f.verdicts.every((v) => v.severity === 'info')).toBe(true);
    expect(codes(f)).toEqual(expect.arrayContaining(['ws-ok', 'ws-close', 'clean-close']));
    expect(verdict(f, 'ws-close').facts).toMatchObject({ code: 1000, initiator: 'client', reason: 'bye', answered: true });
    expect(verdict(f, 'ws-ok').facts).toMatchObject({ clientFrames: 2, serverFrames: 2, closeCode: 1000 });
  });

  it('reports ws-close as a warning with the code name and reason when the server closes with 1011', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .server(s2c(OP.CLOSE, closePayload(1011, 'db down')))
      .client(c2s(OP.CLOSE, closePayload(1011)))
      .closeBoth(1)
      .analyze();
    const v = verdict(f, 'ws-close');
    expect(v.severity).toBe('warning');
    expect(v.summary).toContain('1011 (Internal Error) "db down"');
    expect(v.facts).toMatchObject({ initiator: 'server', code: 1011, codeName: 'Internal Error' });
    expect(v.hint).toMatch(/unexpected condition/);
    expect(codes(f)).not.toContain('ws-ok');
  });

  it('keeps ws-close at info and gives ws-ok for a close frame without a status code (1005)', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .client(c2s(OP.TEXT, 'hi'))
      .client(c2s(OP.CLOSE))
      .server(s2c(OP.CLOSE))
      .closeBoth(1)
      .analyze();
    const v = verdict(f, 'ws-close');
    expect(v.severity).toBe('info');
    expect(v.summary).toContain('no status code (1005)');
    expect(f.verdicts.every((x) => x.severity === 'info')).toBe(true);
    expect(verdict(f, 'ws-ok').facts).toMatchObject({ closeCode: null });
  });

  it('warns, and withholds ws-ok, when a 1000 close is answered with 1011', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .client(c2s(OP.CLOSE, closePayload(1000)))
      .server(s2c(OP.CLOSE, closePayload(1011, 'crashed')))
      .closeBoth(1)
      .analyze();
    const v = verdict(f, 'ws-close');
    expect(v.severity).toBe('warning');
    expect(v.summary).toContain('answered #');
    expect(v.summary).toContain('with 1011 (Internal Error)');
    expect(v.hint).toMatch(/unexpected condition/);
    expect(codes(f)).not.toContain('ws-ok');
  });

  it('keeps ws-close at info for 1001 Going Away', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .server(s2c(OP.CLOSE, closePayload(1001)))
      .client(c2s(OP.CLOSE, closePayload(1001)))
      .closeBoth(1)
      .analyze();
    expect(verdict(f, 'ws-close').severity).toBe('info');
    expect(f.verdicts.every((v) => v.severity === 'info')).toBe(true);
  });

  it('names application close codes (4000-4999) as application-defined, with a warning', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .server(s2c(OP.CLOSE, closePayload(4001, 'token expired')))
      .client(c2s(OP.CLOSE, closePayload(4001)))
      .closeBoth(1)
      .analyze();
    const v = verdict(f, 'ws-close');
    expect(v.severity).toBe('warning');
    expect(v.summary).toContain('4001 (application-defined) "token expired"');
  });

  it('reports ws-fin-after-101 with the delay, the closer and the HTTP/1.0 request, plus ws-upgrade-http10', () => {
    const f = conv().client(upgradeRequest('', '1.0')).server(upgradeResponse(), 0.5).fin(1, 2.3).fin(0, 0.1).analyze();
    expect(codes(f)).toEqual(expect.arrayContaining(['ws-upgrade-http10', 'ws-fin-after-101']));
    const v = verdict(f, 'ws-fin-after-101');
    expect(v.severity).toBe('error');
    expect(v.summary).toMatch(/^server FIN 2\.3 ms after 101 Switching Protocols/);
    expect(v.facts).toMatchObject({ delayMs: 2.3, closedBy: 'server', how: 'fin', requestHttpVersion: '1.0' });
    expect(v.hint).toContain('proxy_http_version 1.1');
    expect(verdict(f, 'ws-upgrade-http10').facts).toMatchObject({ httpVersion: '1.0', target: '/chat' });
    // The FIN right after the 101 explains the missing close frame; no second verdict for it.
    expect(codes(f)).not.toContain('ws-no-close-frame');
  });

  it('blames the upstream when a proxy (Server: nginx) closes right after relaying a 101 to an HTTP/1.1 request', () => {
    const f = conv().client(upgradeRequest()).server(upgradeResponse(undefined, 'Server: nginx/1.22.1\r\n')).rst(1, 0.2).analyze();
    const v = verdict(f, 'ws-fin-after-101');
    expect(v.summary).toMatch(/^server RST 0\.2 ms after 101/);
    expect(v.facts).toMatchObject({ requestHttpVersion: '1.1', serverIsProxy: true, how: 'rst' });
    expect(v.hint).toMatch(/proxy-to-backend leg/);
    expect(codes(f)).not.toContain('ws-upgrade-http10');
  });

  it('does not call a close 5 s after the 101 with no frames ws-fin-after-101, but ws-no-close-frame', () => {
    const f = conv().client(upgradeRequest()).server(upgradeResponse()).fin(1, 5000).fin(0, 0.1).analyze();
    expect(codes(f)).not.toContain('ws-fin-after-101');
    expect(verdict(f, 'ws-no-close-frame').facts).toMatchObject({ closedBy: 'server', how: 'fin' });
  });

  it('puts a client\'s close after a second of silence without a close frame on an idle timeout, such as a proxy\'s on its leg to the backend', () => {
    const session = () => conv().client(upgradeRequest()).server(upgradeResponse()).client(c2s(OP.TEXT, 'ping')).server(s2c(OP.TEXT, 'pong')).ack(0, 40);
    const idle = session().fin(0, 1000).fin(1, 0.5).analyze();
    const v = verdict(idle, 'ws-no-close-frame');
    expect(v.summary).toBe('WebSocket ended without a close frame: the client closed (FIN #9) after 2 data frames, 1.04 s after the last byte either way (#7); the peer reports 1006 (Abnormal Closure)');
    expect(v.hint).toMatch(/idle timeout\. When the client is a proxy \(this may be its leg to the backend\).*HAProxy timeout tunnel/);
    // Closed while the session was busy: the page or process went away.
    const busy = session().fin(0, 100).fin(1, 0.5).analyze();
    expect(verdict(busy, 'ws-no-close-frame').hint).toMatch(/the page or process went away/);
  });

  it('reports ws-no-close-frame (1006) when the server resets mid-session, and no ws-ok', () => {
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .server(s2c(OP.TEXT, 'tick'), 100)
      .client(c2s(OP.TEXT, 'tock'))
      .rst(1, 50)
      .analyze();
    const v = verdict(f, 'ws-no-close-frame');
    expect(v.severity).toBe('warning');
    expect(v.summary).toContain('1006');
    expect(v.facts).toMatchObject({ closedBy: 'server', how: 'rst', dataFrames: 2 });
    expect(codes(f)).not.toContain('ws-ok');
    expect(codes(f)).not.toContain('ws-fin-after-101');
  });

  it('reports ws-upgrade-rejected for a 200 answer (Upgrade ignored) and no separate http-error', () => {
    const f = conv().client(upgradeRequest()).server(response(200, 'OK', 'Content-Type: text/html\r\n', '<html></html>')).closeBoth(0).analyze();
    const v = verdict(f, 'ws-upgrade-rejected');
    expect(v.summary).toMatch(/^Unexpected response code: 200/);
    expect(v.hint).toMatch(/Upgrade\/Connection headers/);
    expect(codes(f)).not.toContain('http-error');
  });

  it('reports ws-upgrade-rejected for a 502 from a proxy with the wait', () => {
    const f = conv().client(upgradeRequest()).server(response(502, 'Bad Gateway', 'Server: nginx\r\n'), 30).closeBoth(1).analyze();
    const v = verdict(f, 'ws-upgrade-rejected');
    expect(v.facts).toMatchObject({ status: 502, serverIsProxy: true, waitedMs: 30 });
    expect(v.summary).toContain('after 30 ms');
  });

  it('reports ws-bad-accept with the expected value when the accept does not match the key', () => {
    const wrong = expectedWebSocketAccept('AAAAAAAAAAAAAAAAAAAAAA==');
    const f = conv().client(upgradeRequest()).server(upgradeResponse(wrong)).fin(0, 0.9).fin(1, 0.1).analyze();
    const v = verdict(f, 'ws-bad-accept');
    expect(v.facts).toMatchObject({ key: WS_KEY, accept: wrong, expectedAccept: expectedWebSocketAccept(WS_KEY), clientClosePacket: 6 });
    expect(codes(f)).not.toContain('ws-ok');
    expect(codes(f)).not.toContain('ws-no-close-frame');
  });

  it('reports ws-bad-accept when the 101 has no Sec-WebSocket-Accept at all', () => {
    const noAccept = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    const f = conv().client(upgradeRequest()).server(noAccept).fin(0).fin(1).analyze();
    expect(verdict(f, 'ws-bad-accept').summary).toMatch(/has no Sec-WebSocket-Accept/);
  });

  it('reports ws-non-http-response and names TLS when a TLS server answers the upgrade', () => {
    const tlsAlert = Uint8Array.from([0x16, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    const f = conv().client(upgradeRequest()).server(tlsAlert).fin(1).fin(0).analyze();
    const v = verdict(f, 'ws-non-http-response');
    expect(v.facts).toMatchObject({ guessedProtocol: 'TLS', responsePacket: 5 });
    expect(v.hint).toMatch(/wss:\/\//);
  });

  it('does not call a server frame cut short by the client\'s RST a protocol error, but one cut by the server\'s own FIN', () => {
    // A client that stopped reading and then gave up resets the stream in the middle of a server frame.
    const frame = s2c(OP.BINARY, 'x'.repeat(400));
    const cut = frame.subarray(0, 200);
    const reset = conv().client(upgradeRequest()).server(upgradeResponse()).server(cut, 100).rst(0, 900).analyze();
    expect(codes(reset)).not.toContain('ws-protocol-error');
    expect(codes(reset)).toContain('rst-by-client');
    const closed = conv().client(upgradeRequest()).server(upgradeResponse()).server(cut, 100).fin(1, 900).fin(0, 1).analyze();
    expect(verdict(closed, 'ws-protocol-error').facts).toMatchObject({ code: 'WS_INCOMPLETE_FRAME', by: 'server' });
  });

  it('reports ws-protocol-error for a masked server frame and withholds ws-ok', () => {
    const masked = wsFrame(0, OP.TEXT, 'masked by the server'); // masked as only a client may
    const f = conv()
      .client(upgradeRequest())
      .server(upgradeResponse())
      .server(masked)
      .client(c2s(OP.CLOSE, closePayload(1002)))
      .server(s2c(OP.CLOSE, closePayload(1002)))
      .closeBoth(1)
      .analyze();
    expect(verdict(f, 'ws-protocol-error').facts).toMatchObject({ code: 'WS_MASKED_SERVER_FRAME', by: 'server' });
    expect(codes(f)).not.toContain('ws-ok');
  });
});

describe('HTTP verdicts', () => {
  describe('a 401 the client answers with credentials on the same connection is a step of the login, not an error', () => {
    const get = (auth: string) => `GET /share HTTP/1.1\r\nHost: files\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`;

    it('NTLM: the challenge, then a 200 to the request with credentials: no http-error, and no credential kept', () => {
      const f = conv()
        .client(get('NTLM TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA='))
        .server(response(401, 'Unauthorized', 'WWW-Authenticate: NTLM TlRMTVNTUAACAAAACwALADgAAAAGgooC\r\n'))
        .client(get('NTLM TlRMTVNTUAADAAAAGAAYAEAAAACoAKgAWAAAABAAEAAAAQAABgAG'))
        .server(response(200, 'OK', '', 'hello'))
        .closeBoth(0)
        .analyze();
      expect(codes(f)).not.toContain('http-error');
      const http = f.app!.http;
      expect(http.map((ex) => [ex.request!.headers.authorization, ex.response!.headers['www-authenticate'] ?? null])).toEqual([
        ['NTLM', 'NTLM (token)'],
        ['NTLM', null],
      ]);
    });

    it('Basic: a 403 to the request with credentials is the error, said with the challenge it answered', () => {
      const f = conv()
        .client(get(''))
        .server(response(401, 'Unauthorized', 'WWW-Authenticate: Basic realm="files"\r\n'))
        .client(get('Basic dXNlcjpzZWNyZXQ='))
        .server(response(403, 'Forbidden'))
        .closeBoth(0)
        .analyze();
      const v = verdict(f, 'http-error');
      expect(v.summary).toBe('HTTP 403 Forbidden to "GET /share" (request #6, with Basic credentials answering the 401 challenge #5, response #7)');
      expect(v.facts).toMatchObject({ status: 403, errorResponses: 1, statuses: [403], challengePacket: 5 });
      expect(v.hint).toMatch(/^The client answered the server's challenge with Basic credentials and the server still refused/);
      expect(JSON.stringify(f)).not.toContain('dXNlcjpzZWNyZXQ');
    });

    it('a 401 the client never answered on the connection stays an error', () => {
      const f = conv().client(get('')).server(response(401, 'Unauthorized', 'WWW-Authenticate: Basic realm="files"\r\n')).closeBoth(0).analyze();
      expect(verdict(f, 'http-error').facts).toMatchObject({ status: 401, challengePacket: null });
    });

    it('a 401 to credentials already sent stays an error, as does one followed by a request for another resource', () => {
      const challenge = response(401, 'Unauthorized', 'WWW-Authenticate: Basic realm="files"\r\n');
      // A client looping on 401: the first asks without credentials, the next four with them.
      const looping = conv().client(get('')).server(challenge);
      for (let i = 0; i < 4; i++) looping.client(get('Basic dXNlcjpzZWNyZXQ=')).server(challenge);
      expect(verdict(looping.closeBoth(0).analyze(), 'http-error').facts).toMatchObject({ status: 401, errorResponses: 4 });
      // GET /admin with credentials refused; the favicon fetched with the same ones.
      const other = conv()
        .client('GET /admin HTTP/1.1\r\nHost: files\r\nAuthorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n')
        .server(challenge)
        .client('GET /favicon.ico HTTP/1.1\r\nHost: files\r\nAuthorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n')
        .server(response(200, 'OK', '', 'ok'))
        .closeBoth(0)
        .analyze();
      expect(verdict(other, 'http-error').facts).toMatchObject({ status: 401, target: '/admin' });
    });

    it('keeps no credential: a value that is not a scheme and more (a raw API key) is kept as "(credentials)", and a tab parts a scheme from its credentials too', () => {
      const f = conv()
        .client('GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: sk_live_TOPSECRET\r\n\r\n')
        .server(response(401, 'Unauthorized'))
        .client('GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Basic\tdXNlcjpzZWNyZXQ=\r\n\r\n')
        .server(response(403, 'Forbidden'))
        .closeBoth(0)
        .analyze();
      expect(f.app!.http.map((ex) => ex.request!.headers.authorization)).toEqual(['(credentials)', 'Basic']);
      expect(JSON.stringify(f)).not.toMatch(/TOPSECRET|dXNlcjpzZWNyZXQ/);
    });

    corpus2.it('nDPI webdav.pcap: each NTLM challenge (401) is a step; the 400 or 403 to the request with credentials is the error', () => {
      const r = analyzeFile(corpus2.path('ndpi/webdav.pcap'));
      const errors = r.flows.flatMap((fl) => fl.verdicts.filter((v) => v.code === 'http-error').map((v) => [fl.id, v.facts.status, v.facts.challengePacket]));
      expect(errors).toEqual([
        [2, 405, 19],
        [3, 400, 31],
        [4, 400, 42],
        [5, 400, 53],
        [6, 400, 64],
        [7, 403, 75],
        [8, 400, 86],
      ]);
    });
  });

  it('reports http-error as an error for a 504 from nginx, with the wait and the timeout it hit', () => {
    const f = conv()
      .client('GET /report HTTP/1.1\r\nHost: app\r\n\r\n')
      .server(response(504, 'Gateway Time-out', 'Server: nginx/1.22.1\r\n'), 60_000)
      .closeBoth(1)
      .analyze();
    const v = verdict(f, 'http-error');
    expect(v.severity).toBe('error');
    expect(v.facts).toMatchObject({ status: 504, method: 'GET', target: '/report', fromProxy: true, waitedMs: 60_000 });
    expect(v.summary).toContain('waited 60.0 s');
    expect(v.hint).toMatch(/proxy_read_timeout at its default of 60 s/);
  });

  it('names a whole-second proxy_read_timeout from a 504 that came up to a fifth of it late, and tenths past that', () => {
    const hintAfter = (ms: number) =>
      verdict(conv().client('GET /report HTTP/1.1\r\nHost: app\r\n\r\n').server(response(504, 'Gateway Time-out', 'Server: nginx/1.22.1\r\n'), ms).closeBoth(1).analyze(), 'http-error').hint;
    // A 1 s timeout fired on a busy host: the request's way and the scheduling add 120 ms.
    expect(hintAfter(1_120)).toMatch(/proxy_read_timeout, set to about 1 s /);
    expect(hintAfter(2_300)).toMatch(/set to about 2 s /);
    expect(hintAfter(1_500)).toMatch(/set to about 1\.5 s /);
    expect(hintAfter(700)).toMatch(/set to about 0\.7 s /);
  });

  it('a server that closes on the first request of a new connection without a word: no keep-alive race is offered', () => {
    const first = conv().client('GET /admin HTTP/1.1\r\nHost: app\r\n\r\n').fin(1, 50).analyze();
    const v = verdict(first, 'no-response');
    expect(v.severity).toBe('error');
    expect(v.hint).not.toMatch(/keep-alive race/);
    expect(v.hint).toMatch(/a filter or a web application firewall/);
    // After an answered request the connection had been idle: the race is possible.
    const later = conv().client('GET / HTTP/1.1\r\nHost: app\r\n\r\n').server(response(200, 'OK')).client('GET /next HTTP/1.1\r\nHost: app\r\n\r\n', 5_000).fin(1, 50).analyze();
    expect(verdict(later, 'no-response').hint).toMatch(/keep-alive race/);
  });

  it('reports http-error as a warning for a 404, without a wait', () => {
    const f = conv().client('GET /missing HTTP/1.1\r\nHost: app\r\n\r\n').server(response(404, 'Not Found')).closeBoth(0).analyze();
    const v = verdict(f, 'http-error');
    expect(v.severity).toBe('warning');
    expect(v.summary).toBe('HTTP 404 Not Found to "GET /missing" (request #4, response #5)');
  });

  it('picks the 5xx among several error responses on one keep-alive connection and counts them', () => {
    const f = conv()
      .client('GET /a HTTP/1.1\r\nHost: app\r\n\r\n')
      .server(response(404, 'Not Found'))
      .client('GET /b HTTP/1.1\r\nHost: app\r\n\r\n')
      .server(response(503, 'Service Unavailable'))
      .client('GET /c HTTP/1.1\r\nHost: app\r\n\r\n')
      .server(response(200, 'OK'))
      .closeBoth(0)
      .analyze();
    const v = verdict(f, 'http-error');
    expect(v.severity).toBe('error');
    expect(v.facts).toMatchObject({ status: 503, target: '/b', errorResponses: 2, statuses: [404, 503] });
  });

  it('says nothing about a 200', () => {
    const f = conv().client('GET / HTTP/1.1\r\nHost: app\r\n\r\n').server(response(200, 'OK', '', 'ok')).closeBoth(0).analyze();
    expect(codes(f)).toEqual(['clean-close']);
  });

  it('reports no-response with the wait when the client gives up on an unanswered request', () => {
    const f = conv().client('GET /slow HTTP/1.0\r\n\r\n').fin(0, 1000).fin(1, 0.1).analyze();
    const v = verdict(f, 'no-response');
    expect(v.severity).toBe('error');
    expect(v.summary).toBe('HTTP request "GET /slow" #4 got no response: the client closed (FIN #5) after 1.00 s; the server sent no application byte');
    expect(v.facts).toMatchObject({ waitedMs: 1000, endedBy: 'client', endHow: 'fin', httpVersion: '1.0' });
  });

  it('reports no-response ended by the server when it resets instead of answering', () => {
    const f = conv().client('POST /upload HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi').rst(1, 3).analyze();
    expect(verdict(f, 'no-response').facts).toMatchObject({ endedBy: 'server', endHow: 'rst', waitedMs: 3 });
  });

  it('reports no-response as still unanswered when the capture ends first', () => {
    const f = conv().client('GET /hang HTTP/1.1\r\nHost: app\r\n\r\n').ack(1, 10_000).analyze();
    expect(verdict(f, 'no-response').summary).toMatch(/still unanswered 10\.0 s later when the capture ended/);
  });

  it('says no no-response when the client never resent a request the capture shows no ACK for: the capture missed the server\'s packets', () => {
    const request = 'GET /hang HTTP/1.1\r\nHost: app\r\n\r\n';
    // Not sent again in 10 s, though no ACK for it is in the capture: the client's TCP got one.
    const missed = conv().client(request).ack(0, 10_000).analyze();
    expect(codes(missed)).not.toContain('no-response');
  });

  it('leaves a request the server\'s TCP never acknowledged, and the client sent again, to retransmission instead of calling the server hung', () => {
    const request = 'GET /hang HTTP/1.1\r\nHost: app\r\n\r\n';
    // Sent again and again with no ACK: the request never reached the server, as a firewall dropping it shows.
    const resend = (c: Conversation, ms: number) => c.lose(0, -request.length).client(request, ms);
    const resent = resend(resend(resend(conv().client(request), 1000), 2000), 4000).ack(0, 10_000).analyze();
    expect(codes(resent)).not.toContain('no-response');
    expect(verdict(resent, 'retransmission').summary).toMatch(/^3 retransmissions by the client .*: the server stopped acknowledging/);
    // The same request acknowledged and never answered: the server took it.
    const taken = conv().client(request).ack(1, 1).ack(0, 10_000).analyze();
    expect(verdict(taken, 'no-response').summary).toMatch(/^HTTP request "GET \/hang" #4 got no response: still unanswered 10\.0 s later when the capture ended/);
  });

  it('says capture-ended, not no-response, when the capture stops right after the request', () => {
    const f = conv().client('GET /hang HTTP/1.1\r\nHost: app\r\n\r\n').ack(1, 1).analyze();
    expect(codes(f)).toEqual(['capture-ended']);
    expect(verdict(f, 'capture-ended').summary).toBe('the capture ended 1.0 ms after request #4: too early to judge (an answer could still come; silence counts after 1.00 s)');
  });

  it('reports no-response for a WebSocket upgrade that is never answered', () => {
    const f = conv().client(upgradeRequest()).fin(0, 5000).fin(1, 0.1).analyze();
    expect(verdict(f, 'no-response').facts).toMatchObject({ target: '/chat', waitedMs: 5000, endedBy: 'client' });
    expect(codes(f).filter((c) => c.startsWith('ws-'))).toEqual([]);
  });

  it('says the response was cut short, not an idle close, when the client closed waiting for the rest of the body', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n';
    const f = conv().client('GET /x HTTP/1.1\r\nHost: t\r\n\r\n').server(head).ack(0, 0.1).fin(0, 8000).analyze();
    const v = verdict(f, 'response-cut-short');
    expect(v.severity).toBe('warning');
    expect(v.summary).toBe('response cut short: 0 of 100,000 body bytes, then FIN from the client (#7) after waiting 8.00 s for the rest; 200 OK #5 to "GET /x" #4');
    expect(v.facts).toMatchObject({ closedBy: 'client', how: 'fin', waitedMs: 8000.1 });
    expect(codes(f)).not.toContain('idle-close');
    // The server's next packet shows body bytes it sent that never arrived: the client's FIN, which
    // acknowledges only the head, shows it had none of them.
    const lost = conv().client('GET /x HTTP/1.1\r\nHost: t\r\n\r\n').server(head).ack(0, 0.1).fin(0, 8000).lose(1, 17_376).ack(1, 40).analyze();
    expect(verdict(lost, 'response-cut-short').summary).toMatch(/^response cut short: 0 of 100,000 body bytes, then FIN from the client \(#7\) after waiting 8\.00 s/);
    expect(codes(lost)).not.toContain('idle-close');
    // Seen from the server's side: body bytes the client's FIN does not acknowledge never reached it,
    // so the capture's count is not what the client had.
    const serverSide = conv().client('GET /x HTTP/1.1\r\nHost: t\r\n\r\n').server(head).ack(0, 0.1).server('x'.repeat(1000), 1).lose(1, -1000).fin(0, 8000).analyze();
    expect(codes(serverSide)).not.toContain('response-cut-short');
    // A client that half-closed at once has not given up waiting: the server is free to finish.
    const halfClosed = conv().client('GET /x HTTP/1.1\r\nHost: t\r\n\r\n').server(head).fin(0, 1).ack(1, 40).analyze();
    expect(codes(halfClosed)).not.toContain('response-cut-short');
  });

  it('leaves an answer that is not HTTP to other rules instead of calling it no-response', () => {
    const f = conv().client('GET / HTTP/1.1\r\nHost: app\r\n\r\n').server('SSH-2.0-OpenSSH_9.2\r\n').closeBoth(1).analyze();
    expect(codes(f)).not.toContain('no-response');
  });
});

const corpus = useCorpus();

describe('WebSocket closes on real captures', () => {
  it('ws-close-1011.pcap (a node ws server closing with 1011): a warning and no ws-ok', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/ws-close-1011.pcap', import.meta.url)));
    expect(verdict(flows[0]!, 'ws-close').severity).toBe('warning');
    expect(codes(flows[0]!)).not.toContain('ws-ok');
  });
});

// Zeek's traces: both close handshakes carry no status code (tshark: websocket.payload.close.status_code absent).
corpus.describe("WebSocket closes in Zeek's traces", () => {
  it.each(['zeek/http/websocket.pcap', 'zeek/websocket/jupyter-websocket.pcap'])('%s: a close without a status code is info, and the session ws-ok', (name) => {
    const { flows } = analyzeFile(corpus.path(name));
    const f = flows.find((x) => x.app?.websocket)!;
    expect(verdict(f, 'ws-close')).toMatchObject({ severity: 'info', facts: { code: null, answered: true } });
    expect(codes(f)).toContain('ws-ok');
    expect(f.verdicts.filter((v) => v.severity !== 'info')).toEqual([]);
  });
});

describe('response-cut-short', () => {
  const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n';
  const body = (n: number) => 'a'.repeat(n);
  const download = () => conv().client('GET /download HTTP/1.1\r\nHost: app\r\n\r\n').server(HEAD).server(body(1400)).server(body(1400)).ack(0);

  it('says how much of the announced body came before the server reset', () => {
    const f = download().rst(1, 50).analyze();
    const v = verdict(f, 'response-cut-short');
    expect(v.severity).toBe('error');
    expect(v.summary).toMatch(/^response cut short: 2,800 of 100,000 body bytes, then RST from the server \(#\d+\); 200 OK #\d+ to "GET \/download" #4$/);
    expect(v.facts).toMatchObject({ framing: 'length', bodyBytes: 2800, contentLength: 100000, missingBytes: 97200, closedBy: 'server', how: 'rst' });
    expect(v.packets).toEqual([4, 5, f.serverSide.rst!.no]);
  });

  it('says so when the server closes with a FIN in the middle of the body', () => {
    const f = download().closeBoth(1, 50).analyze();
    const v = verdict(f, 'response-cut-short');
    expect(v.severity).toBe('error');
    expect(v.summary).toContain('2,800 of 100,000 body bytes, then FIN from the server');
  });

  it('says so for a chunked body that ends without its last chunk', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    const f = conv().client('GET /feed HTTP/1.1\r\nHost: app\r\n\r\n').server(head).server('5\r\nhello\r\n').server('6\r\n world\r\n').closeBoth(1, 20).analyze();
    const v = verdict(f, 'response-cut-short');
    expect(v.summary).toContain('11 body bytes of a chunked body, without the last chunk, then FIN from the server');
    expect(v.facts).toMatchObject({ framing: 'chunked', contentLength: null, bodyBytes: 11 });
  });

  it('is a warning when the client resets before the body is complete', () => {
    const f = download().rst(0, 30).analyze();
    const v = verdict(f, 'response-cut-short');
    expect(v.severity).toBe('warning');
    expect(v.summary).toContain('then RST from the client');
  });

  it('says nothing of a complete response, nor of a chunked one with its last chunk', () => {
    const whole = conv().client('GET / HTTP/1.1\r\nHost: app\r\n\r\n').server(response(200, 'OK', '', 'hello')).closeBoth(1).analyze();
    expect(codes(whole)).not.toContain('response-cut-short');
    const chunked = conv().client('GET / HTTP/1.1\r\nHost: app\r\n\r\n').server('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n').closeBoth(1).analyze();
    expect(codes(chunked)).not.toContain('response-cut-short');
  });

  it('says nothing when the capture missed server bytes, even with the announced length unmet', () => {
    // The client acknowledges 1400 bytes the capture never saw: the body may have been whole.
    const f = download().lose(1, 1400).server(body(1400)).ack(0).rst(1, 50).analyze();
    expect(f.serverSide.missedBytes).toBe(1400);
    expect(codes(f)).not.toContain('response-cut-short');
    expect(codes(f)).toContain('rst-by-server');
  });

  it('says nothing when the capture ends in the middle of the body (no close seen)', () => {
    const f = download().analyze();
    expect(codes(f)).not.toContain('response-cut-short');
  });

  it('reads rst-midstream.pcap (node: 200 announcing 100000 bytes, 4096 sent, resetAndDestroy) as cut short by the server', () => {
    const { flows } = analyzeFile(fileURLToPath(new URL('../../samples/rst-midstream.pcap', import.meta.url)));
    const v = verdict(flows[0]!, 'response-cut-short');
    expect(v.severity).toBe('error');
    expect(v.summary).toMatch(/^response cut short: 4,096 of 100,000 body bytes, then RST from the server \(#10\); 200 OK #6 to "GET \/download" #4$/);
  });
});

describe('rule table', () => {
  it('keeps one no-response verdict when a TCP-facts rule with the same code also fires', () => {
    const f = conv().client('GET /slow HTTP/1.1\r\nHost: app\r\n\r\n').fin(0, 1000).fin(1, 0.1).analyze();
    const tcpNoResponse: FlowRule = {
      code: 'no-response',
      evaluate: () => ({ code: 'no-response', severity: 'error', summary: 'from TCP facts', packets: [], facts: {}, hint: '' }),
    };
    const ctx = { captureEnd: f.end, neighboursUnanswered: new Map(), answers: new AnswerLog() };
    const verdicts = judgeFlow(f, ctx, [...FLOW_RULES, tcpNoResponse]).filter((v) => v.code === 'no-response');
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]!.summary).toMatch(/^HTTP request "GET \/slow"/);
  });

  it('registers every application rule in FLOW_RULES', () => {
    for (const r of APP_RULES) expect(FLOW_RULES).toContain(r);
    expect(APP_RULES.map((r) => r.code)).toEqual(
      expect.arrayContaining(['ws-fin-after-101', 'ws-upgrade-http10', 'ws-upgrade-rejected', 'ws-non-http-response', 'ws-bad-accept', 'ws-no-close-frame', 'ws-close', 'ws-ok', 'http-error', 'response-cut-short', 'no-response']),
    );
  });
});

describe('helpers', () => {
  it('computes the RFC 6455 section 1.3 example accept', () => {
    expect(expectedWebSocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('guesses protocols from their first bytes', () => {
    expect(guessProtocol('SSH-2.0-OpenSSH', '')).toBe('SSH');
    expect(guessProtocol('\\x16\\x03\\x01', '160301')).toBe('TLS');
    expect(guessProtocol('220 mail ESMTP', '')).toBe('SMTP or FTP');
    expect(guessProtocol('hello', '68656c6c6f')).toBeNull();
  });

  it('names the registered close codes', () => {
    expect(WS_CLOSE_CODE_NAMES[1006]).toBe('Abnormal Closure');
  });
});
