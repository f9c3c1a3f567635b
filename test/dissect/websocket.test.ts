import { describe, expect, it } from 'vitest';
import type { Dir } from '../../src/flow/sink.js';
import {
  OPCODE,
  Utf8Validator,
  WebSocketFrameParser,
  computeAccept,
  isValidCloseCode,
  isValidKey,
  isValidUtf8,
  type WsParserHooks,
} from '../../src/dissect/websocket.js';
import { concatBytes, everySplit } from '../helpers/splits.js';
import { MASK, WS_ACCEPT, WS_KEY, closePayload, rawFrame, wsFrame } from './script.js';

interface Seen {
  frames: string[];
  closes: { dir: Dir; code: number | null; reason: string | null; no: number }[];
  errors: { code: string; streamOffset: number; no: number }[];
}

function recorder(): { seen: Seen; hooks: WsParserHooks } {
  const seen: Seen = { frames: [], closes: [], errors: [] };
  return {
    seen,
    hooks: {
      onFrame: (_dir, f) => seen.frames.push(`${f.opcode}:${f.length}:${f.fin ? 'F' : '-'}${f.masked ? 'M' : ''}${f.compressed ? 'Z' : ''}@${f.streamOffset}`),
      onClose: (dir, f, code, reason) => seen.closes.push({ dir, code, reason, no: f.no }),
      onError: (code, _m, _d, streamOffset, no) => seen.errors.push({ code, streamOffset, no }),
    },
  };
}

/** Parses `bytes` at every split point and checks all runs agree; returns what was seen. */
function parseAtEverySplit(dir: Dir, bytes: Uint8Array, deflate = false): { seen: Seen; counts: WebSocketFrameParser['counts'] } {
  let first: string | null = null;
  let result: { seen: Seen; counts: WebSocketFrameParser['counts'] } | null = null;
  for (const split of everySplit(bytes)) {
    const r = recorder();
    const p = new WebSocketFrameParser(dir, r.hooks, deflate);
    let off = 0;
    for (const chunk of split.chunks) {
      p.execute(chunk, 0, chunk.length, off, 7, 100);
      off += chunk.length;
    }
    p.finish(7);
    const json = JSON.stringify({ seen: r.seen, counts: p.counts });
    if (first === null) {
      first = json;
      result = { seen: r.seen, counts: p.counts };
    } else if (json !== first) {
      expect(JSON.parse(json), split.label).toEqual(JSON.parse(first));
    }
  }
  return result!;
}

describe('WebSocketFrameParser', () => {
  it('reads frames of every opcode and all three length encodings from a client, at every split point', () => {
    const big = new Uint8Array(70_000).fill(0x61);
    const bytes = concatBytes(
      wsFrame(0, OPCODE.TEXT, 'hello'),
      wsFrame(0, OPCODE.BINARY, new Uint8Array(300).fill(7)),
      wsFrame(0, OPCODE.TEXT, big),
      wsFrame(0, OPCODE.PING, 'ping'),
      wsFrame(0, OPCODE.PONG, 'pong!'),
      wsFrame(0, OPCODE.CLOSE, closePayload(1000, 'bye')),
    );
    const { seen, counts } = parseAtEverySplit(0, bytes);
    expect(seen.frames).toEqual([
      '1:5:FM@0',
      '2:300:FM@11',
      '1:70000:FM@319',
      '9:4:FM@70333',
      '10:5:FM@70343',
      '8:5:FM@70354',
    ]);
    expect(seen.closes).toEqual([{ dir: 0, code: 1000, reason: 'bye', no: 7 }]);
    expect(seen.errors).toEqual([]);
    expect(counts).toEqual({ text: 2, binary: 1, ping: 1, pong: 1, close: 1, continuation: 0, invalid: 0, compressed: 0, payloadBytes: 70_319 });
  });

  it('agrees with a hand-built frame on the 16- and 64-bit length encodings', () => {
    const payload = new Uint8Array(200).fill(1);
    expect(rawFrame({ opcode: 2, payload, mask: MASK })).toEqual(wsFrame(0, 2, payload));
    // A 64-bit length for a small payload is legal (RFC 6455 says minimal encoding is a MUST for senders; ws accepts it).
    const { seen } = parseAtEverySplit(1, rawFrame({ opcode: 2, payload: 'abc', lengthBits: 64 }));
    expect(seen.frames).toEqual(['2:3:F@0']);
  });

  it('reports an unmasked client frame and a masked server frame', () => {
    expect(parseAtEverySplit(0, rawFrame({ opcode: 1, payload: 'hi' })).seen.errors).toEqual([{ code: 'WS_UNMASKED_CLIENT_FRAME', streamOffset: 0, no: 7 }]);
    expect(parseAtEverySplit(1, rawFrame({ opcode: 1, payload: 'hi', mask: MASK })).seen.errors).toEqual([{ code: 'WS_MASKED_SERVER_FRAME', streamOffset: 0, no: 7 }]);
  });

  it('reads a fragmented text message with a ping between its fragments', () => {
    const bytes = concatBytes(
      rawFrame({ opcode: 1, payload: 'frag', fin: false }),
      rawFrame({ opcode: 9, payload: 'p' }),
      rawFrame({ opcode: 0, payload: 'men', fin: false }),
      rawFrame({ opcode: 0, payload: 'ted', fin: true }),
      rawFrame({ opcode: 1, payload: 'next' }),
    );
    const { seen, counts } = parseAtEverySplit(1, bytes);
    expect(seen.frames.map((f) => f.split('@')[0])).toEqual(['1:4:-', '9:1:F', '0:3:-', '0:3:F', '1:4:F']);
    expect(seen.errors).toEqual([]);
    expect(counts).toMatchObject({ text: 2, ping: 1, continuation: 2 });
  });

  it('checks UTF-8 across fragments: a sequence split between fragments is fine, a broken one is not', () => {
    const euro = [0xe2, 0x82, 0xac];
    const ok = concatBytes(rawFrame({ opcode: 1, payload: Uint8Array.from([0x41, euro[0], euro[1]]), fin: false }), rawFrame({ opcode: 0, payload: Uint8Array.from([euro[2]]) }));
    expect(parseAtEverySplit(1, ok).seen.errors).toEqual([]);
    const broken = concatBytes(rawFrame({ opcode: 1, payload: Uint8Array.from([0x41, euro[0], euro[1]]), fin: false }), rawFrame({ opcode: 0, payload: 'B' }));
    // The bad byte is 'B' (0x42), the payload of the second frame at stream offset 5 + 2.
    expect(parseAtEverySplit(1, broken).seen.errors).toEqual([{ code: 'WS_INVALID_UTF8', streamOffset: 7, no: 7 }]);
    const masked = concatBytes(wsFrame(0, 1, Uint8Array.from([0x41, 0xe2]), { fin: false }), wsFrame(0, 0, Uint8Array.from([0x82])));
    expect(parseAtEverySplit(0, masked).seen.errors).toEqual([{ code: 'WS_INVALID_UTF8', streamOffset: masked.length - 1, no: 7 }]);
  });

  it('does not UTF-8 check a binary message or a compressed text message', () => {
    expect(parseAtEverySplit(1, rawFrame({ opcode: 2, payload: Uint8Array.from([0xff, 0xfe]) })).seen.errors).toEqual([]);
    const { seen, counts } = parseAtEverySplit(1, rawFrame({ opcode: 1, rsv: 4, payload: Uint8Array.from([0xff, 0x00]) }), true);
    expect(seen.errors).toEqual([]);
    expect(seen.frames).toEqual(['1:2:FZ@0']);
    expect(counts.compressed).toBe(1);
  });

  it('names control frame and fragmentation violations as RFC 6455 does', () => {
    const errs = (dir: Dir, ...frames: Uint8Array[]) => parseAtEverySplit(dir, concatBytes(...frames)).seen.errors.map((e) => e.code);
    expect(errs(1, rawFrame({ opcode: 9, payload: new Uint8Array(126) }))).toEqual(['WS_CONTROL_TOO_LONG']);
    expect(errs(1, rawFrame({ opcode: 10, payload: 'x', fin: false }))).toEqual(['WS_FRAGMENTED_CONTROL']);
    expect(errs(1, rawFrame({ opcode: 0, payload: 'orphan' }))).toEqual(['WS_UNEXPECTED_CONTINUATION']);
    expect(errs(1, rawFrame({ opcode: 1, payload: 'a', fin: false }), rawFrame({ opcode: 2, payload: 'b' }))).toEqual(['WS_EXPECTED_CONTINUATION']);
    expect(errs(1, rawFrame({ opcode: 3, payload: 'x' }), rawFrame({ opcode: 0xb }))).toEqual(['WS_BAD_OPCODE', 'WS_BAD_OPCODE']);
    expect(errs(1, rawFrame({ opcode: 1, rsv: 4, payload: 'x' }))).toEqual(['WS_RSV_WITHOUT_EXTENSION']);
    expect(errs(1, rawFrame({ opcode: 1, rsv: 2, payload: 'x' }))).toEqual(['WS_RSV_WITHOUT_EXTENSION']);
  });

  it('validates close payloads: code allowed on the wire, reason UTF-8, not 1 byte long', () => {
    const close = (payload: Uint8Array) => parseAtEverySplit(1, rawFrame({ opcode: 8, payload })).seen;
    expect(close(closePayload(1005)).errors.map((e) => e.code)).toEqual(['WS_INVALID_CLOSE_CODE']);
    expect(close(closePayload(1006)).errors.map((e) => e.code)).toEqual(['WS_INVALID_CLOSE_CODE']);
    expect(close(closePayload(999)).errors.map((e) => e.code)).toEqual(['WS_INVALID_CLOSE_CODE']);
    expect(close(closePayload(4000, 'app')).errors).toEqual([]);
    expect(close(Uint8Array.from([0x03])).errors.map((e) => e.code)).toEqual(['WS_CLOSE_PAYLOAD_TOO_SHORT']);
    const badReason = close(concatBytes(closePayload(1000), Uint8Array.from([0xc3, 0x28])));
    expect(badReason.errors.map((e) => e.code)).toEqual(['WS_INVALID_UTF8']);
    expect(close(new Uint8Array(0)).closes).toEqual([{ dir: 1, code: null, reason: null, no: 7 }]);
    expect(close(closePayload(1001, 'going — away')).closes[0]).toMatchObject({ code: 1001, reason: 'going — away' });
  });

  it('reports frames sent after this side sent close', () => {
    const { seen } = parseAtEverySplit(1, concatBytes(rawFrame({ opcode: 8, payload: closePayload(1000) }), rawFrame({ opcode: 1, payload: 'late' })));
    expect(seen.errors).toEqual([{ code: 'WS_DATA_AFTER_CLOSE', streamOffset: 4, no: 7 }]);
  });

  it('stops at a 64-bit length with the top bit set, and reports a frame cut off by the end', () => {
    const bad = Uint8Array.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 0xaa]);
    expect(parseAtEverySplit(1, bad).seen.errors.map((e) => e.code)).toEqual(['WS_INVALID_LENGTH']);
    const cut = rawFrame({ opcode: 2, payload: 'abcdef' }).subarray(0, 5);
    expect(parseAtEverySplit(1, cut).seen.errors).toEqual([{ code: 'WS_INCOMPLETE_FRAME', streamOffset: 0, no: 7 }]);
  });

  it('survives a gap inside a payload but not in a header', () => {
    const r = recorder();
    const p = new WebSocketFrameParser(1, r.hooks, false);
    const f = rawFrame({ opcode: 2, payload: new Uint8Array(100) });
    p.execute(f, 0, 10, 0, 1, 0);
    expect(p.gap(50)).toBe(true);
    p.execute(f, 60, f.length, 60, 2, 0);
    const next = rawFrame({ opcode: 1, payload: 'ok' });
    p.execute(next, 0, next.length, f.length, 3, 0);
    expect(r.seen.frames).toEqual(['2:100:F@0', '1:2:F@102']);
    expect(p.gap(1)).toBe(false);
    expect(p.stopped).toBe(true);
  });
});

describe('WebSocket validation helpers', () => {
  it('computes Sec-WebSocket-Accept as in RFC 6455 section 1.3', () => {
    expect(computeAccept(WS_KEY)).toBe(WS_ACCEPT);
    expect(isValidKey(WS_KEY)).toBe(true);
    expect(isValidKey('short')).toBe(false);
  });

  it('accepts the close codes ws accepts and no others', () => {
    const allowed = [];
    for (let code = 0; code < 5100; code++) if (isValidCloseCode(code)) allowed.push(code);
    expect(allowed.filter((c) => c < 3000)).toEqual([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
    expect(allowed.filter((c) => c >= 3000)).toHaveLength(2000);
  });

  it('matches TextDecoder fatal mode on well-formed and ill-formed UTF-8', () => {
    const cases = [
      [0x41], [0xc2, 0x80], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xe0, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xed, 0xa0, 0x80],
      [0xf0, 0x90, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80],
      [0xe2, 0x82], [0x80], [0xff], [0xef, 0xbb, 0xbf, 0x61],
    ];
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (const bytes of cases) {
      const b = Uint8Array.from(bytes);
      let expected = true;
      try {
        decoder.decode(b);
      } catch {
        expected = false;
      }
      expect(isValidUtf8(b, 0, b.length), bytes.map((x) => x.toString(16)).join(' ')).toBe(expected);
    }
    const v = new Utf8Validator();
    expect([0xf0, 0x9f, 0x98].every((x) => v.push(x))).toBe(true);
    expect(v.complete).toBe(false);
    expect(v.push(0x80)).toBe(true);
    expect(v.complete).toBe(true);
  });
});
