// IP fragment reassembly (RFC 791 for IPv4, RFC 8200 section 4.5 for IPv6).
//
// A fragment is copied and held until its datagram is whole; the fragment that completes it gets
// the reassembled datagram decoded in its place (Wireshark shows a reassembled packet at its last
// fragment too). Fragments are rare, so this path may allocate; everything it holds is bounded in
// datagrams, bytes and packet time, and a datagram that never completes stays counted as skipped.

import { u16 } from './bytes.js';
import { SKIP_REASON, STATUS, markSkipped, type DecodeStatus } from './status.js';
import type { PacketView } from './view.js';

/** Datagrams waiting for fragments at once; the oldest is dropped beyond this. */
export const MAX_PENDING_DATAGRAMS = 1024;
/** Bytes held across all waiting datagrams. */
export const MAX_PENDING_BYTES = 8 << 20;
/** A datagram not completed within this much packet time is dropped (Linux's ipfrag_time is 30 s). */
export const FRAGMENT_TIMEOUT_MICROS = 30_000_000;
/** The largest IP payload a length field can describe. */
const MAX_DATAGRAM_PAYLOAD = 65_535;

interface Fragment {
  offset: number;
  bytes: Uint8Array;
}

interface PendingDatagram {
  key: string;
  firstTs: number;
  /** Copy of the header in front of the fragmentable part, taken from the offset-0 fragment. */
  header: Uint8Array | null;
  /** IPv6: where, in `header`, the byte naming the Fragment header as next header sits. */
  nextHeaderAt: number;
  /** IPv6: the protocol after the Fragment header. */
  nextHeader: number;
  /** Payload length, known once the last fragment (more-fragments clear) arrived; -1 before. */
  total: number;
  fragments: Fragment[];
  held: number;
}

/** Where a fragment's payload lies in the record, and what the IP header says about it. */
export interface FragmentInfo {
  key: string;
  ipVersion: 4 | 6;
  ipOff: number;
  /** IPv4: the header length. IPv6: the bytes before the Fragment header (fixed header plus extensions). */
  headerLen: number;
  /** IPv6: absolute offset of the byte that names the Fragment header as next header. */
  nextHeaderAt: number;
  /** IPv6: the protocol after the Fragment header. */
  nextHeader: number;
  payloadOff: number;
  payloadEnd: number;
  /** Payload bytes on the wire; a snap-length cut fragment cannot be reassembled. */
  payloadWireLen: number;
  fragmentOffset: number;
  more: boolean;
  tsMicros: number;
}

export type DefragOutcome = 'held' | 'complete' | 'dropped';

export class IpDefragmenter {
  private readonly pending = new Map<string, PendingDatagram>();
  private heldBytes = 0;
  /** The reassembled datagram of the last 'complete' outcome, header first. */
  output: Uint8Array = new Uint8Array(0);
  /** Datagrams reassembled, and dropped (timeout, bounds, snap-length cut, inconsistent sizes). */
  reassembled = 0;
  dropped = 0;

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Takes one fragment; on 'complete', `output` holds the whole datagram. */
  add(b: Uint8Array, f: FragmentInfo): DefragOutcome {
    this.expire(f.tsMicros);
    const length = f.payloadEnd - f.payloadOff;
    let d = this.pending.get(f.key);
    // A cut fragment, or one that would overrun any IP datagram, spoils the datagram.
    if (length < f.payloadWireLen || f.fragmentOffset + length > MAX_DATAGRAM_PAYLOAD || (f.more && length % 8 !== 0)) {
      if (d) this.drop(d);
      else this.dropped++;
      return 'dropped';
    }
    if (!d) {
      d = { key: f.key, firstTs: f.tsMicros, header: null, nextHeaderAt: -1, nextHeader: 0, total: -1, fragments: [], held: 0 };
      this.pending.set(f.key, d);
    }
    if (f.fragmentOffset === 0 && d.header === null) {
      d.header = b.slice(f.ipOff, f.ipOff + f.headerLen);
      d.nextHeaderAt = f.ipVersion === 6 ? f.nextHeaderAt - f.ipOff : -1;
      d.nextHeader = f.nextHeader;
    }
    if (!f.more) {
      const total = f.fragmentOffset + length;
      if (d.total !== -1 && d.total !== total) {
        this.drop(d);
        return 'dropped';
      }
      d.total = total;
    }
    d.fragments.push({ offset: f.fragmentOffset, bytes: b.slice(f.payloadOff, f.payloadEnd) });
    d.held += length;
    this.heldBytes += length;
    if (this.complete(d, f.ipVersion)) return 'complete';
    this.bound();
    return this.pending.has(f.key) ? 'held' : 'dropped';
  }

  private complete(d: PendingDatagram, ipVersion: 4 | 6): boolean {
    if (d.total < 0 || d.header === null) return false;
    // Covered from 0 to total without a hole? Sort a copy by offset and walk it.
    const parts = d.fragments.slice().sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const p of parts) {
      if (p.offset > covered) return false;
      covered = Math.max(covered, p.offset + p.bytes.length);
    }
    if (covered < d.total) return false;
    const header = d.header;
    const out = new Uint8Array(header.length + d.total);
    out.set(header, 0);
    // Overlapping fragments: the first to arrive wins, as in Linux since the overlap attacks.
    for (let i = d.fragments.length - 1; i >= 0; i--) {
      const p = d.fragments[i];
      const room = d.total - p.offset;
      out.set(p.bytes.length > room ? p.bytes.subarray(0, room) : p.bytes, header.length + p.offset);
    }
    if (ipVersion === 4) {
      const totalLen = header.length + d.total;
      out[2] = totalLen >>> 8;
      out[3] = totalLen & 0xff;
      out[6] &= 0x40; // keep DF, clear MF and the fragment offset
      out[7] = 0;
    } else {
      const payloadLen = header.length - 40 + d.total;
      out[4] = payloadLen >>> 8;
      out[5] = payloadLen & 0xff;
      out[d.nextHeaderAt] = d.nextHeader;
    }
    this.output = out;
    this.remove(d);
    this.reassembled++;
    return true;
  }

  private expire(now: number): void {
    for (const d of this.pending.values()) {
      if (now - d.firstTs < FRAGMENT_TIMEOUT_MICROS) break; // insertion order is arrival order
      this.drop(d);
    }
  }

  private bound(): void {
    while (this.pending.size > MAX_PENDING_DATAGRAMS || this.heldBytes > MAX_PENDING_BYTES) {
      const oldest = this.pending.values().next();
      if (oldest.done) break;
      this.drop(oldest.value);
    }
  }

  private drop(d: PendingDatagram): void {
    this.remove(d);
    this.dropped++;
  }

  private remove(d: PendingDatagram): void {
    this.pending.delete(d.key);
    this.heldBytes -= d.held;
  }
}

/**
 * What the IP decoders do with a fragment: hold it (skipped as 'ip-fragment'), or, when it completes
 * its datagram, return REASSEMBLED so decoding goes on in `defrag.output`. Without a defragmenter
 * every fragment is skipped.
 */
export function takeFragment(defrag: IpDefragmenter | null, b: Uint8Array, v: PacketView, f: FragmentInfo): DecodeStatus {
  if (defrag !== null && defrag.add(b, f) === 'complete') return STATUS.REASSEMBLED;
  return markSkipped(v, SKIP_REASON.IP_FRAGMENT);
}

/** IPv4 fragment key (RFC 791): source, destination, protocol and identification. */
export function ipv4FragmentKey(b: Uint8Array, ipOff: number): string {
  return `4:${u16(b, ipOff + 12)}.${u16(b, ipOff + 14)}>${u16(b, ipOff + 16)}.${u16(b, ipOff + 18)}:${b[ipOff + 9]}:${u16(b, ipOff + 4)}`;
}

/** IPv6 fragment key (RFC 8200): source, destination and the 32-bit identification. */
export function ipv6FragmentKey(b: Uint8Array, ipOff: number, fragOff: number): string {
  let k = '6:';
  for (let i = 8; i < 40; i += 2) k += `${u16(b, ipOff + i).toString(16)}${i === 22 ? '>' : '.'}`;
  return `${k}:${u16(b, fragOff + 4)}.${u16(b, fragOff + 6)}`;
}
