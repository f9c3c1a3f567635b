// Sessions, facts and exchanges are filled anew for later flows (dissect/recycle.ts): one that
// comes back must be as a new one, and an analysis whose handed-out facts are reused must say
// what one without reuse says, flow for flow.
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LeanExchanges, recycleLeanExchanges, takeLeanExchanges } from '../../src/dissect/exchanges.js';
import { newAppFacts, newExchange, recycleAppFacts, takeAppFacts, takeClose, takeExchange, takeExchangeList, takeHeaders } from '../../src/dissect/recycle.js';
import { GuardedSession } from '../../src/dissect/guarded-session.js';
import { HEAD_DECISION, HttpParser, type HttpHead, type HttpParserHooks } from '../../src/dissect/http.js';
import type { SelectedHeaders } from '../../src/dissect/types.js';
import { AppSession, recycleSession, takeSession } from '../../src/dissect/session.js';
import { OPCODE, WebSocketFrameParser, newFrameCounts, type WsParserHooks } from '../../src/dissect/websocket.js';
import { streamFlows } from '../../src/pipeline.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv, type Conversation } from '../helpers/conversation.js';
import { capturesIn, useCorpus } from '../helpers/corpus.js';
import { concatBytes } from '../helpers/splits.js';
import { clientHello, encrypted, serverHello } from '../helpers/tls-records.js';
import { c, closePayload, runScript, s, upgradeRequest, upgradeResponse, wsFrame, type Step } from './script.js';

const corpora = [useCorpus('corpus'), useCorpus('corpus2')];

/** A session's own fields, its hooks aside (each refers to its own session). */
function fieldsOf(session: AppSession): Record<string, unknown> {
  return Object.fromEntries(Object.entries(session).filter(([name]) => !name.endsWith('Hooks')));
}

const get = (i: number) => `GET /item/${i} HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n`;
const ok = (status = 200) => `HTTP/1.1 ${status} X\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok`;

/** Scripts that leave a session in most of its states: lean exchanges, an upgrade with bytes held, frames, gaps, TLS, a stream cut short. */
const SCRIPTS: Step[][] = [
  [...Array.from({ length: 12 }, (_, i) => [c(get(i)), s(ok(i % 5 === 0 ? 503 : 200))]).flat(), { dir: 0, close: 'fin' }],
  [
    c(get(0)),
    s(ok()),
    c(concatBytes(upgradeRequest('Sec-WebSocket-Extensions: permessage-deflate\r\n'), wsFrame(0, OPCODE.TEXT, 'early'))),
    s(concatBytes(upgradeResponse(), wsFrame(1, OPCODE.PING, 'p'))),
    c(wsFrame(0, OPCODE.CLOSE, closePayload(1000))),
    { dir: 1, gap: 40 },
    { dir: 0, close: 'rst' },
  ],
  [c(clientHello()), s(concatBytes(serverHello(true), encrypted(40))), c(encrypted(60)), { dir: 1, close: 'fin' }],
  [c('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n'), { dir: 0, gap: 30 }, c('GET /after-gap HTTP/1.1\r\n\r\n'), s('HTTP/1.1 100 Continue\r\n\r\n')],
  [c('GET /never-ends HTTP/1.1\r\nHo')],
  [{ dir: 0, gap: 5 }, c('GE')],
  [c(Uint8Array.of(22))],
  [c(get(0)), { dir: 0, gap: 10 }, s('HTTP/1.1 200 OK\r\nContent-Le'), { dir: 1, gap: 10 }],
  [c(upgradeRequest()), s(upgradeResponse()), { dir: 0, close: 'fin' }],
  // A refused upgrade whose answer ends at the server's FIN: the held client bytes are never replayed.
  [c(upgradeRequest()), s('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbody'), { dir: 1, close: 'fin' }],
];

/** Fields onEnd itself lets go (parsers, held bytes): no ended session differs there. */
const CLEARED_AT_END = ['request', 'response', 'wsClient', 'wsServer', 'tls', 'lean', 'held', 'heldBytes', 'lastResponseHead', 'detectBuf'];

describe('a session begun anew', () => {
  it('is as a new session, whatever state the last stream left it in', () => {
    const changed = new Set<string>();
    for (const [i, script] of SCRIPTS.entries()) {
      for (const [lean, nextLean] of [[null, 1_000_000], [1_000_000, null]]) {
        const used = runScript(script, undefined, takeSession(true, lean));
        const usedFacts = used.facts;
        const fresh = fieldsOf(new AppSession(false, nextLean));
        for (const [name, value] of Object.entries(fieldsOf(used))) if (JSON.stringify(value) !== JSON.stringify(fresh[name])) changed.add(name);
        recycleSession(used);
        const again = takeSession(false, nextLean);
        expect(again, `script ${i}`).toBe(used);
        expect(again.facts).not.toBe(usedFacts);
        expect(fieldsOf(again), `script ${i}, lean ${lean}`).toEqual(fresh);
      }
    }
    // Every field a stream leaves changed was changed by one of the scripts, so each one's reset is checked.
    const unchanged = Object.keys(fieldsOf(new AppSession())).filter((name) => !changed.has(name));
    expect(unchanged.sort()).toEqual([...CLEARED_AT_END].sort());
  });

  it('is not taken again when its stream met an error', () => {
    const session = takeSession(false, null);
    // A dissector bug, as GuardedSession meets one.
    session.onData = () => {
      throw new Error('a dissector bug');
    };
    const guarded = new GuardedSession(session);
    guarded.onData(0, new TextEncoder().encode('GET / HTTP/1.1\r\n'), 0, 16, 0, 1, 1000);
    guarded.onEnd(2000);
    expect(guarded.error?.message).toContain('a dissector bug');
    const taken = [takeSession(false, null), takeSession(false, null), takeSession(false, null)];
    expect(taken).not.toContain(session);
  });

  it('leaves the facts of its last stream as they were', () => {
    const used = runScript(SCRIPTS[0], undefined, takeSession(false, null));
    const facts = used.facts;
    const before = JSON.stringify(facts);
    recycleSession(used);
    runScript(SCRIPTS[1], undefined, takeSession(false, null));
    expect(JSON.stringify(facts)).toBe(before);
  });
});

describe('a lean exchange list begun anew', () => {
  it('is as a new one for the next session, its last session\'s exchanges let go', () => {
    // A request in two packets (the longest to arrive), then answered ones.
    const script = [c('GET /slow HTTP/1.1\r\nHo'), c('st: x\r\n\r\n'), s(ok()), ...SCRIPTS[0]];
    const facts = runScript(script, undefined, new AppSession(false, null)).facts;
    const list = [...facts.http];
    const turns = { answered: 0, slow: 0 };
    // A floor of 0: every answer is slow, so the slowest, the last answered and the longest request are all held.
    const lean = takeLeanExchanges(list, turns, 0);
    lean.settleAll(-1);
    expect(turns.answered).toBeGreaterThan(5);
    const next = [...facts.http.slice(0, 2)];
    const nextTurns = { answered: 0, slow: 0 };
    const fresh = { ...new LeanExchanges(next, nextTurns, 7) };
    for (const [name, value] of Object.entries({ ...lean })) if (name !== 'list' && name !== 'turns') expect(value, name).not.toEqual((fresh as Record<string, unknown>)[name]);
    recycleLeanExchanges(lean);
    // While spare it refers to nothing of its last session's.
    for (const value of Object.values(lean)) {
      expect(value).not.toBe(list);
      expect(value).not.toBe(turns);
      if (Array.isArray(value)) expect(value).toHaveLength(0);
      else for (const ex of list) expect(value).not.toBe(ex);
    }
    const again = takeLeanExchanges(next, nextTurns, 7);
    expect(again).toBe(lean);
    expect({ ...again }).toEqual(fresh);
  });
});

describe('a WebSocket frame parser begun anew', () => {
  it('is as a new one, its buffers aside, wherever its last stream stopped', () => {
    const errors: string[] = [];
    const hooks: WsParserHooks = { onFrame() {}, onClose() {}, onError: (code) => errors.push(code) };
    const nextHooks: WsParserHooks = { onFrame() {}, onClose() {}, onError() {} };
    // A ping, a close frame, then a fragmented text message: cut in its header, then in its payload.
    const bytes = concatBytes(wsFrame(0, OPCODE.PING, 'p'), wsFrame(0, OPCODE.CLOSE, closePayload(1001, 'bye')), wsFrame(0, OPCODE.TEXT, 'héllo', { fin: false }));
    // Buffers, written before they are read.
    const scratch = new Set(['header', 'frame', 'closePayload', 'utf8']);
    const fieldsOfParser = (p: WebSocketFrameParser) => Object.fromEntries(Object.entries(p).filter(([name]) => !scratch.has(name)));
    const changed = new Set<string>();
    for (const cut of [bytes.length - 10, bytes.length - 2]) {
      const parser = new WebSocketFrameParser(0, hooks, true);
      parser.execute(bytes, 0, cut, 0, 1, 1000);
      parser.unansweredPing = { packet: 1, at: 1000, count: 1, lastPacket: 1, peerDataFrames: 0, closePacket: null, closeAt: null };
      const counts = newFrameCounts();
      const fresh = fieldsOfParser(new WebSocketFrameParser(1, nextHooks, false, counts));
      for (const [name, value] of Object.entries(fieldsOfParser(parser))) if (!isDeepStrictEqual(value, fresh[name])) changed.add(name);
      // Detached, it refers to nothing of its last stream's (the session's hooks, the facts' counts, the pings).
      const before = { hooks, counts: parser.counts, ping: parser.unansweredPing };
      parser.detach();
      for (const value of Object.values(parser)) for (const [name, old] of Object.entries(before)) expect(value, name).not.toBe(old);
      parser.begin(1, nextHooks, false, counts);
      expect(fieldsOfParser(parser), `cut at ${cut}`).toEqual(fresh);
      expect(parser.counts).toBe(counts);
      // A text frame of a new stream is counted as a new parser counts it.
      const text = wsFrame(1, OPCODE.TEXT, 'again');
      parser.execute(text, 0, text.length, 0, 2, 2000);
      expect(counts.text).toBe(1);
    }
    expect(errors).toContain('WS_DATA_AFTER_CLOSE');
    // Every field was changed by a cut, so each one's reset is checked.
    expect(Object.keys(fieldsOfParser(new WebSocketFrameParser(0, hooks, false))).filter((name) => !changed.has(name))).toEqual([]);
  });
});

describe('an HTTP parser begun anew', () => {
  it('reads the next session\'s messages into the same head, which refers to nothing of the last session\'s', () => {
    const heads: HttpHead[] = [];
    const headers: SelectedHeaders[] = [];
    const hooksOf = (into: HttpHead[]): HttpParserHooks => ({
      onStartLine: (head) => into.push(head),
      onHeadersComplete: (head) => (headers.push(head.headers), HEAD_DECISION.NORMAL),
      onMessageComplete() {},
      onMessageAbort() {},
      onError() {},
    });
    const message = (i: number) => Buffer.from(`GET /item/${i} HTTP/1.1\r\nHost: h${i}\r\nUpgrade: u${i}\r\n\r\n`);
    const parser = new HttpParser('request', 0, hooksOf(heads));
    const first = message(1);
    parser.execute(first, 0, first.length, 0, 1, 1000);
    const head = heads[0];
    parser.detach();
    // The head stays, without the last message's headers (the facts own those, and may be recycled).
    expect(head.headers).not.toBe(headers[0]);
    expect(head.headers).toEqual({});
    const later: HttpHead[] = [];
    parser.reset(hooksOf(later));
    const second = message(2);
    parser.execute(second, 0, second.length, 0, 7, 5000);
    expect(later[0]).toBe(head);
    // As a new parser reads the same message into a new head.
    const fresh: HttpHead[] = [];
    new HttpParser('request', 0, hooksOf(fresh)).execute(second, 0, second.length, 0, 7, 5000);
    expect(later[0]).toEqual(fresh[0]);
    expect(later[0].headers).toEqual({ host: 'h2', upgrade: 'u2' });
    expect(later[0].upgrade).toBe('u2');
  });
});

describe('facts filled anew', () => {
  it('come back as new facts, their exchanges as new exchanges', () => {
    const facts = runScript(SCRIPTS[1]).facts;
    // What this stream did not set is set by hand: each field's reset is then checked.
    const tls = runScript(SCRIPTS[2]).facts;
    Object.assign(facts, {
      httpDropped: 2,
      httpTurns: { answered: 1, slow: 0 },
      errors: [{ code: 'HTTP_INVALID_METHOD', message: 'x', dir: 0, streamOffset: 0, packet: 1, bytesText: '', bytesHex: '' }],
      events: [{ no: 1, dir: 0, text: 'x' }],
      eventsDropped: 3, tls: tls.tls, tlsClosing: tls.tlsClosing, unfinishedRequestLine: { packet: 9, bytes: 4 } });
    const fresh = newAppFacts();
    for (const name of Object.keys(fresh) as (keyof typeof fresh)[]) expect(facts[name], name).not.toEqual(fresh[name]);
    const exchanges = [...facts.http];
    expect(exchanges.length).toBeGreaterThan(1);
    const last = exchanges[exchanges.length - 1];
    Object.assign(last, { interim: [{ status: 100, reason: 'Continue', packet: 3, at: 3000 }], expectContinue: { headEndPacket: 1, headEndAt: 1000, bodyPacket: null, bodyAt: null } });
    last.timing.thinkMs = 1;
    const freshExchange = newExchange();
    for (const name of Object.keys(freshExchange) as (keyof typeof freshExchange)[]) expect(last[name], name).not.toEqual(freshExchange[name]);
    for (const name of Object.keys(freshExchange.timing) as (keyof typeof freshExchange.timing)[]) expect(last.timing[name], name).not.toEqual(null);
    // The client's RST closed it: one close fact.
    const closes = [...facts.closes];
    expect(closes).toEqual([{ dir: 0, how: 'rst', no: expect.any(Number), tsMicros: expect.any(Number) }]);
    recycleAppFacts(facts);
    expect(takeAppFacts()).toBe(facts);
    expect(facts).toEqual(fresh);
    expect(takeExchangeList()).toEqual([]);
    for (const ex of exchanges.reverse()) {
      expect(takeExchange()).toBe(ex);
      expect(ex).toEqual(freshExchange);
      expect('expectContinue' in ex && ex.expectContinue !== undefined).toBe(false);
    }
    // The close fact is filled whole by the next close.
    const close = takeClose(1, 'fin', 42, 4200);
    expect(close).toBe(closes[0]);
    expect(close).toEqual({ dir: 1, how: 'fin', no: 42, tsMicros: 4200 });
  });
});

describe('headers filled anew', () => {
  const request = (lines: string) => `GET / HTTP/1.1\r\n${lines}\r\n`;
  const headersOf = (session: AppSession) => [session.facts.http[0].request!.headers, session.facts.http[0].response!.headers];

  it('come back empty once their session has ended and its facts were handed out, and keep the next message\'s order', () => {
    const first = runScript([c(request('User-Agent: a\r\nHost: h\r\nConnection: keep-alive\r\n')), s(ok()), { dir: 0, close: 'fin' }]);
    const [req, resp] = headersOf(first);
    expect(Object.entries(req)).toEqual([['user-agent', 'a'], ['host', 'h'], ['connection', 'keep-alive']]);
    expect(Object.keys(resp)).toEqual(['content-length', 'content-type']);
    const requestFacts = first.facts.http[0].request!;
    recycleAppFacts(first.facts);
    expect(req).toEqual({});
    expect(resp).toEqual({});
    // The spare request facts refer to neither.
    expect(requestFacts.headers).not.toBe(req);
    expect(requestFacts.headers).not.toBe(resp);
    const next = runScript([c(request('Host: h2\r\nUser-Agent: b\r\n')), s(ok()), { dir: 0, close: 'fin' }]);
    const [req2, resp2] = headersOf(next);
    expect([req, resp]).toContain(req2);
    expect([req, resp]).toContain(resp2);
    expect(Object.entries(req2)).toEqual([['host', 'h2'], ['user-agent', 'b']]);
    expect(Object.keys(resp2)).toEqual(['content-length', 'content-type']);
  });

  it('of the exchanges a lean session drops go to its later messages, never to one still kept', () => {
    // Exchange i asks for /item/i at host hi and is answered by server si, with a 503 when i % 9 is 4 (kept for good).
    const steps: Step[] = Array.from({ length: 40 }, (_, i) => [c(`GET /item/${i} HTTP/1.1\r\nHost: h${i}\r\nUser-Agent: u${i}\r\n\r\n`), s(`HTTP/1.1 ${i % 9 === 4 ? 503 : 200} X\r\nContent-Length: 2\r\nServer: s${i}\r\n\r\nok`)]).flat();
    const session = runScript([...steps, { dir: 0, close: 'fin' }], undefined, new AppSession(false, 1_000_000));
    const kept = session.facts.http;
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.length).toBeLessThan(40);
    for (const ex of kept) {
      // Which exchange it is comes from its request line, not from the headers under test.
      const i = Number(ex.request!.target.slice('/item/'.length));
      expect(ex.request!.headers).toEqual({ host: `h${i}`, 'user-agent': `u${i}` });
      expect(ex.response!.headers).toEqual({ 'content-length': '2', server: `s${i}` });
      expect(ex.response!.status).toBe(i % 9 === 4 ? 503 : 200);
    }
  });

  it('stay fast objects with the shape of new ones (V8 natives, in a child process)', () => {
    const recycle = join(process.cwd(), 'dist', 'dissect', 'recycle.js');
    const script = `
      const { newAppFacts, newExchange, recycleAppFacts, takeHeaders } = await import(${JSON.stringify(recycle)});
      const fill = (h) => { for (const k of ['host', 'user-agent', 'connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'via']) h[k] = 'x'; return h; };
      const h = fill(takeHeaders());
      const app = newAppFacts();
      const ex = newExchange();
      ex.request = { headers: h };
      app.http = [ex];
      recycleAppFacts(app);
      const again = takeHeaders();
      const fresh = takeHeaders();
      const result = { same: again === h, keys: Object.keys(again).length, fast: %HasFastProperties(again), newShape: %HaveSameMap(again, fresh) };
      fill(again);
      fill(fresh);
      result.filledFast = %HasFastProperties(again);
      result.filledShape = %HaveSameMap(again, fresh);
      console.log(JSON.stringify(result));
    `;
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ same: true, keys: 0, fast: true, newShape: true, filledFast: true, filledShape: true });
  });
});

describe('facts a dissector thread posted', () => {
  it('give no list to two sessions, though the empty list of each is one copy', () => {
    const [a, b] = structuredClone([newAppFacts(), newAppFacts()]);
    expect(a.http).toBe(b.http);
    recycleAppFacts(a);
    recycleAppFacts(b);
    expect(takeExchangeList()).not.toBe(takeExchangeList());
  });
});

/** Each flow as JSON at the moment it is handed out, in order. */
function handedOut(file: string, flowsForgottenWhenHandedOut: boolean): string[] {
  const flows: string[] = [];
  try {
    streamFlows(file, (f) => flows.push(JSON.stringify(f)), { keepEvents: false, keepExchanges: false, flowsForgottenWhenHandedOut });
  } catch (err) {
    flows.push(`failed: ${(err as Error).message}`);
  }
  return flows;
}

function expectSameWithReuse(file: string): void {
  const fresh = handedOut(file, false);
  expect(handedOut(file, true), file).toEqual(fresh);
}

describe('an analysis whose handed-out facts are reused', () => {
  it('hands out what one without reuse does, on thousands of overlapping HTTP and WebSocket flows', () => {
    const T0 = 1_700_000_000_000_000;
    // Flows open 2 ms apart and last 0.2 to 2 s, so those that end are reused by those still open.
    const convs: Conversation[] = Array.from({ length: 2000 }, (_, i) => {
      const t = i * 0.002;
      const k = conv({ client: `10.4.${i >> 8}.${i & 255}:50000`, server: '10.0.0.80:80' }).handshake(t);
      const turns = 1 + (i % 11);
      for (let n = 0; n < turns; n++) k.client('PA', t + 0.01 + n * 0.1, get(n)).server('PA', t + 0.05 + n * 0.1, ok(n % 4 === 3 ? 404 : 200));
      const end = t + 0.01 + turns * 0.1;
      if (i % 9 === 0) k.client('PA', end, upgradeRequest()).server('PA', end + 0.01, concatBytes(upgradeResponse(), wsFrame(1, OPCODE.TEXT, `hi ${i}`)));
      if (i % 13 !== 0) k.client('FA', end + 0.1).server('FA', end + 0.11).client('A', end + 0.12);
      return k;
    });
    const packets = convs.flatMap((k) => k.packets).sort((a, b) => a.t - b.t);
    const file = writeTempCapture(toPcap(packets.map((p) => ({ tsMicros: T0 + Math.round(p.t * 1e6), data: p.frame.bytes }))), 'recycle-mix.pcap');
    const fresh = handedOut(file, false);
    expect(fresh).toHaveLength(2000);
    expect(handedOut(file, true)).toEqual(fresh);
  }, 60_000);

  it('hands out what one without reuse does, on every bundled sample', () => {
    const samples = capturesIn(join(process.cwd(), 'samples'));
    expect(samples.length).toBeGreaterThan(50);
    for (const file of samples) expectSameWithReuse(file);
  }, 120_000);

  for (const corpus of corpora) {
    corpus.it(`hands out what one without reuse does, on every capture of ${corpus.name}`, () => {
      const files = capturesIn(corpus.dir);
      expect(files.length).toBeGreaterThan(50);
      for (const file of files) expectSameWithReuse(file);
    }, 600_000);
  }
});
