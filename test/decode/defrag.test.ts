import { describe, expect, it } from 'vitest';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { FRAGMENT_TIMEOUT_MICROS, MAX_PENDING_DATAGRAMS } from '../../src/decode/defrag.js';
import { DECODED } from '../../src/decode/view.js';
import { Conversation, analyzeFrames } from '../helpers/conversation.js';
import { fragmentFrame, tcpFrame, toRecord, type Frame } from '../helpers/packets.js';

const BODY = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');

function feed(decoder: PacketDecoder, frames: Frame[], opts: { snap?: number; step?: number } = {}) {
  return frames.map((f, i) => {
    const kind = decoder.decode(toRecord(f, { no: i + 1, tsMicros: i * (opts.step ?? 10), snap: opts.snap }));
    const v = decoder.view;
    return { kind, reason: v.skipReason, reassembled: v.reassembled, payloadLen: v.payloadLen, payload: v.bytes.slice(v.payloadOff, v.payloadOff + v.payloadCaptured) };
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('IP fragment reassembly', () => {
  it('holds IPv4 fragments and decodes the whole TCP segment at the last one', () => {
    const frames = fragmentFrame(tcpFrame({ df: false, sport: 40000, dport: 8080, flags: 'PA', payload: BODY }), 1480);
    expect(frames).toHaveLength(3);
    const out = feed(new PacketDecoder(), frames);
    expect(out.map((o) => o.kind)).toEqual([DECODED.SKIPPED, DECODED.SKIPPED, DECODED.TCP]);
    expect(out[0].reason).toBe('ip-fragment');
    expect(out[2].reassembled).toBe(true);
    expect(out[2].payloadLen).toBe(3000);
    expect(text(out[2].payload)).toBe(BODY);
  });

  it('reassembles fragments that arrive out of order and ignores a duplicate', () => {
    const [a, b, c] = fragmentFrame(tcpFrame({ df: false, flags: 'PA', payload: BODY }), 1480);
    const out = feed(new PacketDecoder(), [c, a, a, b]);
    expect(out.map((o) => o.kind)).toEqual([DECODED.SKIPPED, DECODED.SKIPPED, DECODED.SKIPPED, DECODED.TCP]);
    expect(text(out[3].payload)).toBe(BODY);
  });

  it('keeps the bytes that arrived first where fragments overlap', () => {
    const whole = tcpFrame({ df: false, flags: 'PA', payload: BODY });
    const [a, b, c] = fragmentFrame(whole, 1480);
    // A second copy of the middle fragment with different bytes arrives after the first.
    const forged = { ...b, bytes: b.bytes.slice() };
    forged.bytes.fill(0x5a, 14 + 20 + 8, 14 + 20 + 16);
    const out = feed(new PacketDecoder(), [a, b, forged, c]);
    expect(out[3].kind).toBe(DECODED.TCP);
    expect(text(out[3].payload)).toBe(BODY);
  });

  it('reassembles IPv6 fragments, dropping the Fragment header from the datagram', () => {
    const frames = fragmentFrame(tcpFrame({ src: '2001:db8::1', dst: '2001:db8::2', flags: 'PA', payload: BODY }), 1232);
    expect(frames).toHaveLength(3);
    const out = feed(new PacketDecoder(), frames);
    expect(out.map((o) => o.kind)).toEqual([DECODED.SKIPPED, DECODED.SKIPPED, DECODED.TCP]);
    expect(text(out[2].payload)).toBe(BODY);
  });

  it('never completes a datagram with a fragment the snap length cut, and says nothing was reassembled', () => {
    const frames = fragmentFrame(tcpFrame({ df: false, flags: 'PA', payload: BODY }), 1480);
    const decoder = new PacketDecoder();
    const out = [
      ...feed(decoder, frames.slice(0, 1)),
      ...feed(decoder, frames.slice(1, 2), { snap: 200 }),
      ...feed(decoder, frames.slice(2)),
    ];
    expect(out.map((o) => [o.kind, o.reason])).toEqual([
      [DECODED.SKIPPED, 'ip-fragment'],
      [DECODED.SKIPPED, 'ip-fragment'],
      [DECODED.SKIPPED, 'ip-fragment'],
    ]);
    expect(decoder.defrag!.reassembled).toBe(0);
    expect(decoder.defrag!.dropped).toBeGreaterThan(0);
  });

  it('drops a datagram whose fragments are further apart than the timeout', () => {
    const frames = fragmentFrame(tcpFrame({ df: false, flags: 'PA', payload: BODY }), 1480);
    const decoder = new PacketDecoder();
    const out = feed(decoder, frames, { step: FRAGMENT_TIMEOUT_MICROS / 2 + 1 });
    expect(out.every((o) => o.kind === DECODED.SKIPPED)).toBe(true);
    expect(decoder.defrag!.pendingCount).toBe(1); // only the last fragment, waiting for the others
  });

  it('bounds the datagrams it waits for, dropping the oldest', () => {
    const decoder = new PacketDecoder();
    const firsts = Array.from({ length: MAX_PENDING_DATAGRAMS + 10 }, (_, i) => fragmentFrame(tcpFrame({ df: false, payload: BODY }), 1480, { id: i })[0]);
    feed(decoder, firsts);
    expect(decoder.defrag!.pendingCount).toBe(MAX_PENDING_DATAGRAMS);
    expect(decoder.defrag!.dropped).toBe(10);
  });

  it('counts fragments as skipped and decodes nothing from them when reassembly is off', () => {
    const frames = fragmentFrame(tcpFrame({ df: false, flags: 'PA', payload: BODY }), 1480);
    const out = feed(new PacketDecoder({ reassembleFragments: false }), frames);
    expect(out.every((o) => o.kind === DECODED.SKIPPED && o.reason === 'ip-fragment')).toBe(true);
  });

  it('lets the HTTP dissector read a request that crossed a small-MTU hop in fragments', () => {
    const c = new Conversation().handshake(0);
    const request = `GET /big HTTP/1.1\r\nHost: example.test\r\nCookie: ${BODY}\r\n\r\n`;
    c.client('PA', 0.01, request);
    const reqIndex = c.packets.length - 1;
    c.server('A', 0.011).server('PA', 0.02, 'HTTP/1.1 204 No Content\r\n\r\n').client('FA', 0.03).server('FA', 0.031).client('A', 0.032);
    const packets = c.packets.flatMap((p, i) =>
      i === reqIndex ? fragmentFrame(p.frame, 1480).map((frame, k) => ({ frame, t: p.t + k * 1e-5 })) : [p],
    );
    const r = analyzeFrames(packets);
    expect(r.capture.skipped['ip-fragment']).toBe(2);
    expect(r.capture.fragments).toEqual({ reassembled: 1, dropped: 0, incomplete: 0 });
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f.state).toBe('SF');
    expect(f.clientSide.bytes).toBe(request.length);
    expect(f.app?.http[0].request?.target).toBe('/big');
    expect(f.app?.http[0].response?.status).toBe(204);
    expect(f.analysis?.lostSegment).toBe(0);
  });
});
