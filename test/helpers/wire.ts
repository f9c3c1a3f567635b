// What a capture holds on the wire, read with the reader and decoder alone (no flow analysis), so
// tests on fresh loopback captures can check a verdict against the packets themselves.
import { expect } from 'vitest';
import { readCaptureFileSync } from '../../src/capture/open.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import type { FlowResult } from '../../src/pipeline.js';

export interface WireSegment {
  no: number;
  tsMicros: number;
  /** Sender as "address words:port", enough to tell the two directions of one flow apart. */
  sender: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  payloadLen: number;
  flags: number;
}

/** Every TCP segment of the capture, in capture order. */
export function wireSegments(file: string): WireSegment[] {
  const decoder = new PacketDecoder();
  const out: WireSegment[] = [];
  readCaptureFileSync(file, (rec) => {
    if (decoder.decode(rec) !== DECODED.TCP) return;
    const v = decoder.view;
    out.push({ no: rec.no, tsMicros: rec.tsMicros, sender: `${Array.from(v.src).join('.')}:${v.srcPort}`, srcPort: v.srcPort, dstPort: v.dstPort, seq: v.seq >>> 0, payloadLen: v.payloadLen, flags: v.flags });
  });
  return out;
}

/** The TCP payload of packet `no` (empty when it carries none or is not TCP). */
export function tcpPayload(file: string, no: number): Uint8Array {
  const decoder = new PacketDecoder();
  let out = new Uint8Array(0);
  readCaptureFileSync(file, (rec) => {
    if (rec.no !== no || decoder.decode(rec) !== DECODED.TCP) return;
    const v = decoder.view;
    out = v.bytes.slice(v.payloadOff, v.payloadOff + v.payloadLen);
  });
  return out;
}

/**
 * Packet numbers of data segments that carry bytes their sender had already sent: what any
 * retransmission verdict must rest on. Sequence numbers are taken relative to each sender's first
 * segment, so a wrap past 2^32 does not matter.
 */
export function resentDataSegments(segments: WireSegment[]): number[] {
  const firstSeq = new Map<string, number>();
  const sentUpTo = new Map<string, number>();
  const resent: number[] = [];
  for (const s of segments) {
    if (!firstSeq.has(s.sender)) firstSeq.set(s.sender, s.seq);
    if (s.payloadLen === 0) continue;
    const start = (s.seq - firstSeq.get(s.sender)!) >>> 0;
    const end = start + s.payloadLen;
    const upTo = sentUpTo.get(s.sender) ?? 0;
    if (start < upTo) resent.push(s.no);
    if (end > upTo) sentUpTo.set(s.sender, end);
  }
  return resent;
}

/** The capture time of packet `no`, in microseconds. */
export function packetTime(segments: WireSegment[], no: number): number {
  const s = segments.find((x) => x.no === no);
  if (!s) throw new Error(`packet #${no} is not a TCP segment of the capture`);
  return s.tsMicros;
}

/** The segments between the two ports of `flow` (on loopback, its ends). */
export function flowSegments(segments: WireSegment[], flow: { clientPort: number; serverPort: number }): WireSegment[] {
  const ends = (a: number, b: number) => (a === flow.clientPort && b === flow.serverPort) || (a === flow.serverPort && b === flow.clientPort);
  return segments.filter((s) => ends(s.srcPort, s.dstPort));
}

/**
 * For a session meant to be clean: a busy machine can lose a segment even on loopback, so a
 * retransmission verdict is allowed, and required, exactly when the packets show resent bytes. It
 * must point at one of them and carry the rule's severity: one segment sent twice is routine TCP (an
 * info line), more is a warning. Every other verdict must be info.
 */
export function expectProblemsOnlyFromResends(flow: FlowResult, segments: WireSegment[]): void {
  const resent = resentDataSegments(flowSegments(segments, flow));
  const retransmission = flow.verdicts.find((v) => v.code === 'retransmission');
  expect(flow.verdicts.filter((v) => v.severity !== 'info' && v.code !== 'retransmission')).toEqual([]);
  if (resent.length === 0) {
    expect(retransmission).toBeUndefined();
    return;
  }
  expect(retransmission?.severity).toBe(resent.length === 1 ? 'info' : 'warning');
  expect(retransmission!.packets.some((no) => resent.includes(no))).toBe(true);
}
