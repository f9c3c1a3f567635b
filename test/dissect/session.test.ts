import { describe, expect, it } from 'vitest';
import { AppSinkFactory, AppSession } from '../../src/dissect/session.js';
import { OPCODE } from '../../src/dissect/websocket.js';
import { concatBytes } from '../helpers/splits.js';
import { WS_ACCEPT, c, closePayload, factsAtEverySplit, rawFrame, runScript, s, upgradeRequest, upgradeResponse, wsFrame } from './script.js';

describe('AppSession: HTTP upgrade to WebSocket', () => {
  it('hands off at the exact byte after the 101 when frames share its packet, on both sides', () => {
    const f = factsAtEverySplit([
      // The client sends a frame in the same packet as its request, before the 101 arrives.
      c(concatBytes(upgradeRequest('Sec-WebSocket-Protocol: chat, superchat\r\n'), wsFrame(0, OPCODE.TEXT, 'early')), 1000),
      s(concatBytes(upgradeResponse(WS_ACCEPT, 'Sec-WebSocket-Protocol: chat\r\n'), wsFrame(1, OPCODE.TEXT, 'hello client'), wsFrame(1, OPCODE.PING, 'abcd')), 2000),
      c(wsFrame(0, OPCODE.PONG, 'abcd'), 3000),
    ]);
    expect(f.protocol).toBe('websocket');
    expect(f.upgradedTo).toBe('websocket');
    const ws = f.websocket!;
    expect(ws).toMatchObject({
      requestVersion: '13', status: 101, accept: WS_ACCEPT, acceptValid: true, subprotocol: 'chat', offeredProtocols: 'chat, superchat',
      upgraded: true, deflate: false, errors: [], requestPacket: 1, responsePacket: 2,
    });
    expect(ws.frames.client).toMatchObject({ text: 1, pong: 1, payloadBytes: 9 });
    expect(ws.frames.server).toMatchObject({ text: 1, ping: 1, payloadBytes: 16 });
    expect(f.events).toEqual([
      { no: 1, dir: 0, text: 'HTTP GET /chat HTTP/1.1' },
      { no: 2, dir: 1, text: '101 Switching Protocols' },
      { no: 1, dir: 0, text: 'WS text 5 B' },
      { no: 2, dir: 1, text: 'WS text 12 B' },
      { no: 2, dir: 1, text: 'WS ping 4 B' },
      { no: 3, dir: 0, text: 'WS pong 4 B' },
    ]);
    expect(f.http).toHaveLength(1);
    expect(f.http[0].response).toMatchObject({ status: 101, complete: true, framing: 'none' });
    expect(f.errors).toEqual([]);
  });

  it('flags a wrong Sec-WebSocket-Accept and still reads the frames that follow', () => {
    const f = factsAtEverySplit([c(upgradeRequest()), s(concatBytes(upgradeResponse('AAAAAAAAAAAAAAAAAAAAAAAAAAA='), wsFrame(1, OPCODE.TEXT, 'x')))]);
    expect(f.websocket).toMatchObject({ acceptValid: false, upgraded: true });
    expect(f.websocket!.errors).toEqual([
      { code: 'WS_HANDSHAKE_BAD_ACCEPT', message: expect.stringContaining(`expected ${WS_ACCEPT}`), dir: 1, streamOffset: 0, packet: 2 },
    ]);
    expect(f.websocket!.frames.server.text).toBe(1);
  });

  it('goes on with HTTP when the upgrade is answered by 404, including requests held meanwhile', () => {
    const f = factsAtEverySplit([
      c(upgradeRequest()),
      c('GET /after HTTP/1.1\r\nHost: h\r\n\r\n'),
      s('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found'),
      s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ]);
    expect(f.protocol).toBe('http');
    expect(f.websocket).toMatchObject({ status: 404, upgraded: false, acceptValid: null });
    expect(f.http.map((e) => [e.request!.target, e.response!.status])).toEqual([
      ['/chat', 404],
      ['/after', 200],
    ]);
  });

  it('records an upgrade answered by bytes that are not HTTP', () => {
    const f = factsAtEverySplit([c(upgradeRequest()), s('\x00\x00\x00\x0aJ\x00\x00\x00\x00garbage')]);
    expect(f.websocket!.status).toBeNull();
    expect(f.websocket!.nonHttpResponse).toMatchObject({ code: 'HTTP_NON_HTTP_RESPONSE', packet: 2, streamOffset: 0, bytesHex: '0000000a4a0000000067617262616765' });
    expect(f.events.map((e) => e.text)).toContain('HTTP error HTTP_NON_HTTP_RESPONSE');
  });

  it('checks the upgrade request: Connection token, key, version, method', () => {
    const f = runScript([c('POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 8\r\n\r\n')]).facts;
    expect(f.websocket!.errors.map((e) => e.code)).toEqual(['WS_HANDSHAKE_NOT_GET', 'WS_HANDSHAKE_NO_CONNECTION_UPGRADE', 'WS_HANDSHAKE_BAD_KEY', 'WS_HANDSHAKE_BAD_VERSION']);
    const ok = runScript([c(upgradeRequest().replace('Connection: Upgrade', 'Connection: keep-alive, UPGRADE'))]).facts;
    expect(ok.websocket!.errors).toEqual([]);
  });

  it('flags compressed frames under permessage-deflate and an extension the client did not offer', () => {
    const f = factsAtEverySplit([
      c(upgradeRequest('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n')),
      s(concatBytes(upgradeResponse(WS_ACCEPT, 'Sec-WebSocket-Extensions: permessage-deflate, x-webkit\r\n'), rawFrame({ opcode: 1, rsv: 4, payload: Uint8Array.from([0xf2, 0x48, 0x05, 0x00]) }))),
    ]);
    expect(f.websocket).toMatchObject({ deflate: true, extensions: 'permessage-deflate, x-webkit' });
    expect(f.websocket!.frames.server).toMatchObject({ text: 1, compressed: 1 });
    expect(f.websocket!.errors.map((e) => e.code)).toEqual(['WS_HANDSHAKE_UNOFFERED_EXTENSION']);
    expect(f.events.at(-1)!.text).toBe('WS text 4 B compressed');
  });

  it('reports the close handshake: who started, code, reason, the answer, and TCP closing after it', () => {
    const f = factsAtEverySplit([
      c(upgradeRequest()),
      s(upgradeResponse()),
      s(wsFrame(1, OPCODE.CLOSE, closePayload(1001, 'restarting')), 5000),
      c(wsFrame(0, OPCODE.CLOSE, closePayload(1001)), 6000),
      { dir: 1, close: 'fin', t: 7000 },
      { dir: 0, close: 'fin', t: 7100 },
    ]);
    expect(f.websocket!.close).toEqual({ initiator: 'server', code: 1001, reason: 'restarting', answered: true, packet: 3, answerCode: 1001, answerPacket: 4 });
    expect(f.websocket!.tcpClose).toBe('after-close-frame');
    expect(f.events.slice(2).map((e) => e.text)).toEqual(['WS close 1001 (going away) "restarting"', 'WS close 1001 (going away)']);
    expect(f.http[0]).toMatchObject({ closeAfter: 'response', closedBy: 'server', closeHow: 'fin', closeAfterMs: 5 });
  });

  it('reports a close frame never answered', () => {
    const f = runScript([c(upgradeRequest()), s(upgradeResponse()), c(wsFrame(0, OPCODE.CLOSE, closePayload(1000))), { dir: 0, close: 'rst' }]).facts;
    expect(f.websocket!.close).toMatchObject({ initiator: 'client', code: 1000, answered: false, answerPacket: null });
    expect(f.websocket!.tcpClose).toBe('after-close-frame');
  });

  it('reports TCP closing without any close frame, as when a server FINs right after a 101 to HTTP/1.0', () => {
    const f = runScript([c(upgradeRequest('', '1.0'), 1000), s(upgradeResponse(), 2000), { dir: 1, close: 'fin', t: 2600 }]).facts;
    expect(f.http[0].request!.version).toBe('1.0');
    expect(f.http[0]).toMatchObject({ closeAfter: 'response', closedBy: 'server', closeAfterMs: 0.6 });
    expect(f.websocket!.tcpClose).toBe('without-close-frame');
    expect(f.websocket!.close.initiator).toBeNull();
  });

  it('reports TCP closing before a close frame that came later', () => {
    const f = runScript([c(upgradeRequest()), s(upgradeResponse()), { dir: 0, close: 'fin' }, s(wsFrame(1, OPCODE.CLOSE, closePayload(1000)))]).facts;
    expect(f.websocket!.tcpClose).toBe('before-close-frame');
    expect(f.websocket!.close.initiator).toBe('server');
  });

  it('collects frame errors with direction, offset and packet after the handoff', () => {
    const f = factsAtEverySplit([
      c(upgradeRequest()),
      s(upgradeResponse()),
      c(rawFrame({ opcode: 1, payload: 'unmasked' })),
      s(rawFrame({ opcode: 9, payload: new Uint8Array(130) })),
    ]);
    expect(f.websocket!.errors).toEqual([
      { code: 'WS_UNMASKED_CLIENT_FRAME', message: expect.any(String), dir: 0, streamOffset: upgradeRequest().length, packet: 3 },
      { code: 'WS_CONTROL_TOO_LONG', message: expect.any(String), dir: 1, streamOffset: upgradeResponse().length, packet: 4 },
    ]);
  });

  it('treats a CONNECT 200 as a tunnel and parses nothing after it', () => {
    const f = runScript([c('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01'), s('HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03')]).facts;
    expect(f).toMatchObject({ protocol: 'tunnel', upgradedTo: 'CONNECT', errors: [] });
    expect(f.http[0].response!.status).toBe(200);
  });

  it('reports client bytes beyond the hold limit while the upgrade is unanswered as a lost gap', () => {
    const big = concatBytes(...Array.from({ length: 70 }, () => wsFrame(0, OPCODE.BINARY, new Uint8Array(1000))));
    const f = runScript([c(upgradeRequest()), c(big), s(upgradeResponse())]).facts;
    expect(f.gaps).toEqual([{ dir: 0, streamOffset: upgradeRequest().length, length: big.length, packet: 2, outcome: 'lost', resyncOffset: null }]);
    expect(f.websocket!.frames.client.binary).toBe(0);
  });

  it('keeps events bounded and counts the rest', () => {
    const frames = concatBytes(...Array.from({ length: 2100 }, () => wsFrame(1, OPCODE.BINARY, 'x')));
    const f = runScript([c(upgradeRequest()), s(concatBytes(upgradeResponse(), frames))]).facts;
    expect(f.events).toHaveLength(2000);
    expect(f.eventsDropped).toBe(102);
    expect(f.websocket!.frames.server.binary).toBe(2100);
  });
});

describe('AppSession: captures that start mid-connection and repeated closes', () => {
  it('reads a response seen before any request as HTTP with no request', () => {
    const f = runScript([s('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), c('GET /next HTTP/1.1\r\n\r\n'), s('HTTP/1.1 204 No Content\r\n\r\n')]).facts;
    expect(f.protocol).toBe('http');
    expect(f.http.map((e) => [e.request?.target ?? null, e.response!.status])).toEqual([
      [null, 200],
      ['/next', 204],
    ]);
  });

  it('records a retransmitted FIN once, and a RST after a FIN as a second close', () => {
    const f = runScript([c('GET / HTTP/1.1\r\n\r\n'), { dir: 0, close: 'fin' }, { dir: 0, close: 'fin' }, { dir: 0, close: 'rst' }]).facts;
    expect(f.closes.map((x) => [x.dir, x.how, x.no])).toEqual([
      [0, 'fin', 2],
      [0, 'rst', 4],
    ]);
  });
});

describe('AppSinkFactory', () => {
  it('creates one independent session per flow', () => {
    const factory = new AppSinkFactory();
    const a = factory.create({ id: 1, slot: 0, clientPort: 50000, serverPort: 80 });
    const b = factory.create({ id: 2, slot: 1, clientPort: 50001, serverPort: 80 });
    expect(a).toBeInstanceOf(AppSession);
    expect(a).not.toBe(b);
    runScript([c('GET / HTTP/1.1\r\n\r\n'), s('HTTP/1.1 2xx\r\n\r\n')], undefined, a);
    runScript([c('GET / HTTP/1.1\r\n\r\n'), s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')], undefined, b);
    expect(a.facts.errors.map((e) => e.code)).toEqual(['HTTP_INVALID_STATUS_LINE']);
    expect(b.facts.errors).toEqual([]);
    expect(b.facts.http[0].response!.status).toBe(200);
  });
});
