// Drives an AppSession the way the reassembler would: a script of packets per direction (data,
// gaps, FIN/RST), numbered 1.. in order, 1 ms apart unless a step says otherwise.
import { expect } from 'vitest';
import * as wsModule from 'ws';
import type { Dir } from '../../src/flow/sink.js';
import { AppSession } from '../../src/dissect/session.js';
import type { AppFacts } from '../../src/dissect/types.js';
import { concatBytes, everySplit, type SplitOptions } from '../helpers/splits.js';

export interface Step {
  dir: Dir;
  data?: Uint8Array | string;
  gap?: number;
  close?: 'fin' | 'rst';
  /** Capture time in µs; default (index + 1) * 1000. */
  t?: number;
}

export const c = (data: Uint8Array | string, t?: number): Step => ({ dir: 0, data, t });
export const s = (data: Uint8Array | string, t?: number): Step => ({ dir: 1, data, t });

const bytesOf = (d: Uint8Array | string) => (typeof d === 'string' ? new TextEncoder().encode(d) : d);

/** Runs the script; step `split.index` is delivered as `split.chunks` (same packet number). */
export function runScript(steps: Step[], split?: { index: number; chunks: Uint8Array[] }, session = new AppSession()): AppSession {
  const offset = [0, 0];
  let lastT = 0;
  steps.forEach((step, i) => {
    const no = i + 1;
    const t = step.t ?? no * 1000;
    lastT = t;
    if (step.gap !== undefined) {
      session.onGap(step.dir, offset[step.dir], step.gap, no, t);
      offset[step.dir] += step.gap;
    }
    if (step.data !== undefined) {
      const chunks = split && split.index === i ? split.chunks : [bytesOf(step.data)];
      for (const chunk of chunks) {
        // Deliver each chunk inside a larger buffer so offsets other than 0 are exercised.
        const host = new Uint8Array(chunk.length + 7);
        host.set(chunk, 3);
        session.onData(step.dir, host, 3, 3 + chunk.length, offset[step.dir], no, t);
        offset[step.dir] += chunk.length;
      }
    }
    if (step.close) session.onClose(step.dir, step.close, no, t);
  });
  session.onEnd(lastT);
  return session;
}

/** Replays the script with every data step cut at every point; all runs must give the same facts.
 *  Returns the facts. */
export function factsAtEverySplit(steps: Step[], opts?: SplitOptions): AppFacts {
  const baseline = runScript(steps).facts;
  const expected = JSON.stringify(baseline);
  steps.forEach((step, index) => {
    if (step.data === undefined) return;
    for (const split of everySplit(bytesOf(step.data), opts)) {
      const got = JSON.stringify(runScript(steps, { index, chunks: split.chunks }).facts);
      if (got !== expected) {
        expect(JSON.parse(got), `step ${index + 1} cut ${split.label}`).toEqual(JSON.parse(expected));
      }
    }
  });
  return baseline;
}

// @types/ws does not declare Sender; ws's ESM entry exports it (lib/sender.js).
interface SenderFrameOptions {
  fin: boolean;
  opcode: number;
  rsv1: boolean;
  mask: boolean;
  readOnly: boolean;
  maskBuffer: Buffer;
  generateMask: (mask: Buffer) => void;
}
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: SenderFrameOptions): Buffer[] } };

/** RFC 6455 5.3 example mask; fixed so fixtures are reproducible. */
export const MASK = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

/** A frame as ws sends it (Sender.frame); client frames masked, server frames not. */
export function wsFrame(
  dir: Dir,
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  opts: { fin?: boolean; rsv1?: boolean } = {},
): Uint8Array {
  const data = Buffer.from(bytesOf(payload));
  const parts = Sender.frame(data, {
    fin: opts.fin ?? true,
    opcode,
    rsv1: opts.rsv1 ?? false,
    mask: dir === 0,
    readOnly: true,
    maskBuffer: Buffer.from(MASK),
    generateMask: () => {},
  });
  return concatBytes(...parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.length)));
}

/** A frame with every header field chosen by the test, for frames ws refuses to build. */
export function rawFrame(f: {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv?: number;
  mask?: Uint8Array | null;
  /** Force a length encoding: 7, 16 or 64 bits. */
  lengthBits?: 7 | 16 | 64;
}): Uint8Array {
  const payload = bytesOf(f.payload ?? new Uint8Array(0));
  const n = payload.length;
  const bits = f.lengthBits ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const maskBit = f.mask ? 0x80 : 0;
  if (bits === 7) head.push(maskBit | n);
  else if (bits === 16) head.push(maskBit | 126, n >> 8, n & 0xff);
  else head.push(maskBit | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  const body = new Uint8Array(payload);
  if (f.mask) {
    head.push(...f.mask);
    for (let i = 0; i < n; i++) body[i] ^= f.mask[i & 3];
  }
  return concatBytes(Uint8Array.from(head), body);
}

export const closePayload = (code: number, reason = '') => concatBytes(Uint8Array.from([code >> 8, code & 0xff]), reason);

/** A valid client handshake and the server's 101 for it. */
export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='; // RFC 6455 1.3 example
export function upgradeRequest(extra = '', version = '1.1'): string {
  return `GET /chat HTTP/${version}\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}
export function upgradeResponse(accept = WS_ACCEPT, extra = ''): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
}
