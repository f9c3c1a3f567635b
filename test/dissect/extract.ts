// A minimal payload extractor for dissector tests: classic pcap (µs or ns), Ethernet, IPv4 or
// IPv6, TCP; each flow's payload fed to an AppSession in sequence order with duplicates dropped.
// No reassembly of out-of-order data: fine for loopback and for the small corpus traces used here.
// The pipeline's own reassembly is tested with the flow stage.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { AppSession } from '../../src/dissect/session.js';
import type { Dir } from '../../src/flow/sink.js';

export interface Segment {
  dir: Dir;
  no: number;
  ts: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

/** Flows of a classic pcap (LINKTYPE_ETHERNET), keyed by client port. */
export function readFlows(file: string): Map<number, Segment[]> {
  const b = readFileSync(file);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  expect(dv.getUint32(20, le), 'link type').toBe(1);
  const flows = new Map<number, Segment[]>();
  const clientOf = new Map<number, number>(); // port pair -> client port (sender of the SYN)
  let off = 24;
  let no = 0;
  while (off + 16 <= b.length) {
    const ts = dv.getUint32(off, le) * 1e6 + (nanos ? Math.floor(dv.getUint32(off + 4, le) / 1000) : dv.getUint32(off + 4, le));
    const caplen = dv.getUint32(off + 8, le);
    const p = off + 16;
    off = p + caplen;
    no++;
    const etherType = dv.getUint16(p + 12);
    const ip = p + 14;
    let tcp: number;
    let ipEnd: number;
    if (etherType === 0x0800 && b[ip + 9] === 6) {
      ipEnd = ip + dv.getUint16(ip + 2);
      tcp = ip + (b[ip] & 0x0f) * 4;
    } else if (etherType === 0x86dd && b[ip + 6] === 6) {
      ipEnd = ip + 40 + dv.getUint16(ip + 4);
      tcp = ip + 40;
    } else {
      continue;
    }
    const sport = dv.getUint16(tcp);
    const dport = dv.getUint16(tcp + 2);
    const flags = b[tcp + 13];
    const key = Math.min(sport, dport) * 65536 + Math.max(sport, dport);
    if ((flags & 0x12) === 0x02) clientOf.set(key, sport);
    const client = clientOf.get(key);
    if (client === undefined) continue;
    const segs = flows.get(client) ?? [];
    flows.set(client, segs);
    segs.push({ dir: sport === client ? 0 : 1, no, ts, seq: dv.getUint32(tcp + 4), flags, payload: b.subarray(tcp + (b[tcp + 12] >> 4) * 4, ipEnd) });
  }
  return flows;
}

/** Feeds a flow to a session: payload in sequence order, duplicates dropped, FIN/RST as closes. */
export function replay(segs: Segment[]): AppSession {
  const session = new AppSession();
  const isn: (number | undefined)[] = [undefined, undefined];
  const next = [0, 0];
  for (const sg of segs) {
    if (sg.flags & 0x02) isn[sg.dir] = (sg.seq + 1) >>> 0;
    const base = isn[sg.dir];
    if (base === undefined) continue;
    const rel = (sg.seq - base) >>> 0;
    if (sg.payload.length > 0) {
      const skip = next[sg.dir] - rel; // retransmitted bytes already delivered
      if (skip < sg.payload.length && skip >= 0) {
        session.onData(sg.dir, sg.payload, skip, sg.payload.length, next[sg.dir], sg.no, sg.ts);
        next[sg.dir] += sg.payload.length - skip;
      }
    }
    if (sg.flags & 0x01) session.onClose(sg.dir, 'fin', sg.no, sg.ts);
    if (sg.flags & 0x04) session.onClose(sg.dir, 'rst', sg.no, sg.ts);
  }
  session.onEnd(segs[segs.length - 1].ts);
  return session;
}

