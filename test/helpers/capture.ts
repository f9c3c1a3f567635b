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
      data: r.bytes.slice(r.off, r.end),
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
