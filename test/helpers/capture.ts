// Capture bytes for tests, built with src/capture/writer.ts, and a reader that copies records out.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureParser } from '../../src/capture/parser.js';
import type { CaptureInfo } from '../../src/capture/record.js';
import {
  encodePcap,
  encodePcapng,
  type PcapngWriteOptions,
  type PcapWriteOptions,
  type WriterPacket,
} from '../../src/capture/writer.js';

/** A bare frame gets a timestamp `startMicros + i * stepMicros`. */
export type FrameInput = Uint8Array | WriterPacket;

export interface FrameTiming {
  startMicros?: number;
  stepMicros?: number;
}

export const DEFAULT_START_MICROS = 1_700_000_000_000_000;

export function toWriterPackets(frames: FrameInput[], timing: FrameTiming = {}): WriterPacket[] {
  const start = timing.startMicros ?? DEFAULT_START_MICROS;
  const step = timing.stepMicros ?? 1000;
  return frames.map((f, i) => (f instanceof Uint8Array ? { tsMicros: start + i * step, data: f } : f));
}

export function toPcap(frames: FrameInput[], opts: PcapWriteOptions & FrameTiming = {}): Uint8Array {
  return encodePcap(toWriterPackets(frames, opts), opts);
}

export function toPcapng(frames: FrameInput[], opts: PcapngWriteOptions & FrameTiming = {}): Uint8Array {
  return encodePcapng(toWriterPackets(frames, opts), opts);
}

export interface CollectedRecord {
  no: number;
  tsMicros: number;
  caplen: number;
  origLen: number;
  linkType: number;
  interfaceId: number;
  fileOffset: number;
  droppedBefore: number;
  droppedSincePacket: number;
  data: Uint8Array;
}

/**
 * Parses capture bytes, copying every record out of the reused PacketRecord.
 * chunkSize splits the input into pushes of that size (default: one push).
 */
export function collectRecords(
  bytes: Uint8Array,
  file = 'test.pcap',
  chunkSize = bytes.length,
): { records: CollectedRecord[]; info: CaptureInfo } {
  const records: CollectedRecord[] = [];
  const parser = new CaptureParser(file, (r) => {
    records.push({
      no: r.no,
      tsMicros: r.tsMicros,
      caplen: r.caplen,
      origLen: r.origLen,
      linkType: r.linkType,
      interfaceId: r.interfaceId,
      fileOffset: r.fileOffset,
      droppedBefore: r.droppedBefore,
      droppedSincePacket: r.droppedSincePacket,
      // A plain Uint8Array copy: Buffer's slice would be a view into the reused chunk.
      data: new Uint8Array(r.bytes.subarray(r.off, r.end)),
    });
  });
  const step = Math.max(1, chunkSize);
  for (let at = 0; at < bytes.length; at += step) parser.push(bytes.subarray(at, Math.min(bytes.length, at + step)));
  const info = parser.end();
  return { records, info };
}

let tempDir: string | null = null;

/** Writes bytes to a fresh file in a per-process temp folder and returns its path. */
export function writeTempCapture(bytes: Uint8Array, name: string): string {
  tempDir ??= mkdtempSync(join(tmpdir(), 'tcpwhy-capture-'));
  const path = join(tempDir, name);
  writeFileSync(path, bytes);
  return path;
}

/** First difference between two record lists (field name and packet number), or null when equal. */
export function diffRecords(a: CollectedRecord[], b: CollectedRecord[]): string | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    for (const key of ['no', 'tsMicros', 'caplen', 'origLen', 'linkType', 'interfaceId', 'fileOffset', 'droppedBefore', 'droppedSincePacket'] as const) {
      if (x[key] !== y[key]) return `record ${i + 1}: ${key} ${x[key]} != ${y[key]}`;
    }
    if (!bytesEqual(x.data, y.data)) return `record ${i + 1}: data differs`;
  }
  if (a.length !== b.length) return `record count ${a.length} != ${b.length}`;
  return null;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deterministic filler bytes of a given length (distinct per seed), standing in for frames. */
export function patternFrame(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}
