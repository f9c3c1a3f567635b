import type { FlowFacts } from './facts.js';
import { addrHash, HASH_SEED, wordsOf } from './visibility.js';

// How long the capture went on watching a flow after its last packet, for the rules that judge a
// silence (no answer, no close) that no packet of the flow ends. The file's last packet is not always
// that moment. A file of captures joined together shows its seams: the clock steps back (a recording
// that starts before the one before it ended), or leaps forward past the idle timeout with no packet
// at all in between. A leap alone is no proof: a quiet network goes on for minutes without a packet
// (a home line between worm probes). The capture ran through it when a host that sent packets before
// the leap sends one after it whose IPv4 ID continues its counter (Windows counts one per packet
// sent): the capture missed (almost) nothing that host sent meanwhile. Without that proof within
// the first packets after it, a leap is a seam, as it was taken before anything could tell. And in a
// file with seams, packets of other hosts after a flow may be another capture's. So the silence after
// a flow counts up to the last packet before the next seam, and, for a flow open at the end of a file
// with seams, only as far as the capture holds packets from or to either of its hosts (any IP
// packet: other connections, DNS, ICMP).

/** A step back in time longer than this joins two recordings; shorter ones are stamping jitter. */
const SEAM_MICROS = 1_000_000;
/**
 * Hosts' last sightings are kept in a hashed table: a collision only lengthens a watch (to the seam or
 * the file's end), or, in the rare case two hosts' IDs also fall within IP_ID_CONTINUES, takes a leap for a quiet spell.
 */
const HOST_SLOTS = 1 << 16;
/** Seams remembered; a file with more is judged as if the later ones were not there. */
const MAX_SEAMS = 100_000;
/** A host's IPv4 ID this far past its last one before a leap shows the capture missed at most this many of its packets less one. */
const IP_ID_CONTINUES = 16;
/** Packets after a leap in which a continuing IPv4 ID may show the capture ran through it; a seam after them. */
const LEAP_PROOF_PACKETS = 32;

export interface Watch {
  /** Time (µs) and packet up to which the capture shows it watched the flow. */
  ts: number;
  packet: number;
  /**
   * 'capture-end': the file's end; 'idle': the idle timeout after the flow's last packet (the flow
   * went idle); 'seam': the last packet before a seam; 'hosts': the last packet from or to either host;
   * 'reused': the client's SYN that started its next connection on the flow's 4-tuple.
   */
  until: 'capture-end' | 'idle' | 'seam' | 'hosts' | 'memcap' | 'reused';
  /** For 'seam': the first packet after it, and whether the clock stepped back or leapt forward there. */
  seamPacket: number;
  seamBack: boolean;
  /** For 'seam': the time between the packets either side of it (negative when the clock stepped back). */
  seamGap: number;
  /** The file's last packet. */
  lastFilePacket: number;
}

/** A watch no seam ended: `until`, at time `ts` and packet `packet`. */
export function watchUntil(until: Watch['until'], ts: number, packet: number, lastFilePacket: number): Watch {
  return { ts, packet, until, seamPacket: 0, seamBack: false, seamGap: 0, lastFilePacket };
}

/**
 * A host's slot: its last packet's time and number, its last packet sent with a nonzero IPv4 ID
 * (that packet's number, 0: none, and the ID), and when it last sent any packet. The five lie
 * together in a 64-byte stride of one array, so each of a packet's two hosts costs one cache line,
 * not one per number: every packet of the capture updates them. The table takes 4 MiB.
 */
const HOST_TS = 0;
const HOST_NO = 1;
const HOST_SENT_NO = 2;
const HOST_SENT_IP_ID = 3;
const HOST_SENT_TS = 4;
const HOST_STRIDE = 8;

/**
 * The records of hosts sent a SYN that opened a connection: of the packets each sent since that
 * show something at its address up (see hosts()), kept apart from the host slots above because a
 * record belongs to one host. It holds the host's whole address hash (its owner); the first and the
 * last packet of its current run of them (packets at most RUN_GAP_MICROS apart); and the SYN that
 * last opened a connection to it, with its first such packet after that SYN (0 while none came). A
 * run says nothing of the host's earlier runs, so the first packet after a SYN needs a place of its
 * own; the later SYNs of a host that sends all along take that place from the earlier ones, and the
 * run's first packet is what is left of theirs. A SYN to another host of the same record takes the
 * record over. Other hosts' packets only read its owner. The table takes 1 MiB.
 */
const SENT_OWNER = 0;
const SENT_RUN_NO = 1;
const SENT_RUN_TS = 2;
const SENT_LAST_NO = 3;
const SENT_LAST_TS = 4;
const SENT_SYN_NO = 5;
const SENT_AFTER_NO = 6;
const SENT_AFTER_TS = 7;
const SENT_STRIDE = 8;
/**
 * Records kept: the hosts that matter are those sent SYNs nobody answered, and a host that loses
 * its record to another only goes without the proof.
 */
const SENT_RECORDS = 1 << 14;
/** A silence longer than this ends a host's run of packets. */
const RUN_GAP_MICROS = 5_000_000;

/** Where the record's packets are: number and time. */
const SENT_PACKETS = [
  [SENT_AFTER_NO, SENT_AFTER_TS],
  [SENT_RUN_NO, SENT_RUN_TS],
  [SENT_LAST_NO, SENT_LAST_TS],
] as const;

/** A packet a host sent (see CaptureWatch.sentAfter). */
export interface SentPacket {
  packet: number;
  ts: number;
}

export class CaptureWatch {
  private readonly hostSlots = new Float64Array(HOST_SLOTS * HOST_STRIDE);
  private readonly sentSlots = new Float64Array(SENT_RECORDS * SENT_STRIDE);
  /** A forward leap not yet decided (its index in the seam lists), -1 when none. */
  private leap = -1;
  /** The last record so far, in file order. */
  private previousTs = 0;
  private previousNo = 0;
  /** Each seam in file order: the last packet before it and its time, the first after it, and whether time went back. */
  private readonly seamBefore: number[] = [];
  private readonly seamBeforeTs: number[] = [];
  private readonly seamAfter: number[] = [];
  private readonly seamGap: number[] = [];
  private readonly seamIsBack: boolean[] = [];
  private anyStepBack = false;

  /** `idleMicros`: the flow table's idle timeout, past which a silence of the whole capture is a seam. */
  constructor(private readonly idleMicros: number) {}

  /** Every record, in file order, before it is decoded. */
  clock(no: number, ts: number): void {
    if (this.leap >= 0 && no - this.seamAfter[this.leap] >= LEAP_PROOF_PACKETS) this.leap = -1;
    if (no > 1) {
      const back = ts < this.previousTs - SEAM_MICROS;
      if ((back || ts - this.previousTs > this.idleMicros) && this.seamBefore.length < MAX_SEAMS) {
        this.leap = back ? -1 : this.seamBefore.length;
        this.seamBefore.push(this.previousNo);
        this.seamBeforeTs.push(this.previousTs);
        this.seamAfter.push(no);
        this.seamGap.push(ts - this.previousTs);
        this.seamIsBack.push(back);
      }
      if (back) this.anyStepBack = true;
    }
    this.previousTs = ts;
    this.previousNo = no;
  }

  /**
   * A decoded IP packet between the hosts at src and dst (4 words each); `ipId`: its IPv4 ID (0: none).
   * `provesUp`: the packet shows its sender up, as anything a host sends of its own accord does; a
   * TCP RST or an ICMP message does not, since a firewall in front of the host sends them in its
   * name (iptables REJECT with tcp-reset, firewalls that answer "administratively prohibited").
   */
  hosts(src: ArrayLike<number>, dst: ArrayLike<number>, no: number, ts: number, ipId: number, provesUp: boolean): void {
    const h = this.hostSlots;
    const srcHash = addrHash(src, 0, HASH_SEED);
    const slot = slotOf(srcHash);
    const a = slot * HOST_STRIDE;
    const b = slotOf(addrHash(dst, 0, HASH_SEED)) * HOST_STRIDE;
    h[a + HOST_TS] = h[b + HOST_TS] = ts;
    h[a + HOST_NO] = h[b + HOST_NO] = no;
    h[a + HOST_SENT_TS] = ts;
    if (provesUp) this.provedUp(sentRecordOf(slot), ownerOf(srcHash), no, ts);
    if (ipId === 0) return;
    const sentNo = h[a + HOST_SENT_NO];
    if (this.leap >= 0 && sentNo !== 0 && sentNo < this.seamAfter[this.leap]) {
      const step = (ipId - h[a + HOST_SENT_IP_ID]) & 0xffff;
      if (step >= 1 && step <= IP_ID_CONTINUES) this.dropLeap();
    }
    h[a + HOST_SENT_NO] = no;
    h[a + HOST_SENT_IP_ID] = ipId;
  }

  private provedUp(at: number, owner: number, no: number, ts: number): void {
    const u = this.sentSlots;
    if (u[at + SENT_OWNER] !== owner) return;
    // A clock stepping back (recordings joined) ends a run as a silence does.
    if (u[at + SENT_RUN_NO] === 0 || Math.abs(ts - u[at + SENT_LAST_TS]) > RUN_GAP_MICROS) {
      u[at + SENT_RUN_NO] = no;
      u[at + SENT_RUN_TS] = ts;
    }
    u[at + SENT_LAST_NO] = no;
    u[at + SENT_LAST_TS] = ts;
    if (u[at + SENT_SYN_NO] !== 0 && u[at + SENT_AFTER_NO] === 0) {
      u[at + SENT_AFTER_NO] = no;
      u[at + SENT_AFTER_TS] = ts;
    }
  }

  /**
   * A SYN (packet `no`) opened a connection to the host at `dst`: its first packet after this one
   * that shows it up is kept, unless it owes one to an earlier SYN still (a packet after that SYN is
   * after this one too).
   */
  synTo(dst: ArrayLike<number>, no: number): void {
    const hash = addrHash(dst, 0, HASH_SEED);
    const at = sentRecordOf(slotOf(hash));
    const owner = ownerOf(hash);
    const u = this.sentSlots;
    if (u[at + SENT_OWNER] !== owner) {
      u.fill(0, at, at + SENT_STRIDE);
      u[at + SENT_OWNER] = owner;
    } else if (u[at + SENT_SYN_NO] !== 0 && u[at + SENT_AFTER_NO] === 0) return;
    u[at + SENT_SYN_NO] = no;
    u[at + SENT_AFTER_NO] = 0;
  }

  /**
   * The earliest packet the record of the host at `ip` (text) holds that it sent after packet `no`
   * and that shows something at its address up, as far as the capture has been read: the first
   * after the SYN that last opened a connection to it, the first of its current run, or the run's
   * last. Null when it holds none, or another host took the record.
   */
  sentAfter(ip: string, no: number): SentPacket | null {
    const w = wordsOf(ip);
    if (!w) return null;
    const hash = addrHash(w, 0, HASH_SEED);
    const at = sentRecordOf(slotOf(hash));
    const u = this.sentSlots;
    if (u[at + SENT_OWNER] !== ownerOf(hash)) return null;
    let packet = 0;
    let ts = 0;
    for (const [noAt, tsAt] of SENT_PACKETS) {
      const p = u[at + noAt];
      if (p > no && (packet === 0 || p < packet)) {
        packet = p;
        ts = u[at + tsAt];
      }
    }
    return packet === 0 ? null : { packet, ts };
  }

  /** Whether a forward leap after packet `no` is still undecided: what follows `no` cannot be judged yet. */
  undecidedAfter(no: number): boolean {
    return this.leap >= 0 && this.seamBefore[this.leap] >= no;
  }

  /** The capture ended: a leap still undecided is a seam. */
  settle(): void {
    this.leap = -1;
  }

  /** The undecided leap was a quiet spell the capture ran through: no seam. */
  private dropLeap(): void {
    const i = this.leap;
    this.leap = -1;
    // The leap is the latest seam: a later one would have decided it.
    this.seamBefore.length = this.seamBeforeTs.length = this.seamAfter.length = this.seamGap.length = this.seamIsBack.length = i;
  }

  /** Up to when the capture shows it watched `f`, judged when the capture's latest time was `captureEnd`. */
  of(f: FlowFacts, captureEnd: number): Watch {
    const lastFilePacket = this.previousNo;
    const fileEnd = Math.max(f.end, captureEnd);
    if (f.endReason !== 'capture-end' && f.endReason !== 'idle') return watchUntil('capture-end', fileEnd, lastFilePacket, lastFilePacket);
    const i = this.firstSeamFrom(f.lastPacket);
    let w: Watch;
    if (i >= 0) {
      w = { ts: Math.max(f.end, this.seamBeforeTs[i]), packet: this.seamBefore[i], until: 'seam', seamPacket: this.seamAfter[i], seamBack: this.seamIsBack[i], seamGap: this.seamGap[i], lastFilePacket };
    } else {
      // No seam follows the flow: its recording ends with the file, at the last packet's time (the
      // file's latest time is another recording's when the clock stepped back before).
      w = watchUntil('capture-end', this.anyStepBack ? Math.max(f.end, this.previousTs) : fileEnd, lastFilePacket, lastFilePacket);
    }
    if (f.endReason === 'idle') {
      // Gone idle: the table ended it once the capture ran the idle timeout past its last packet, unless a seam came first.
      const idleEnd = f.end + this.idleMicros;
      return idleEnd < w.ts ? watchUntil('idle', idleEnd, f.lastPacket, lastFilePacket) : w;
    }
    // In a file shown to join captures, what follows the flow may be another capture's: only packets
    // of its hosts show the capture still saw them. A file without seams is one capture throughout.
    const hosts = this.seamBefore.length > 0 ? this.hostsLastSeen(f) : null;
    if (hosts !== null && hosts.packet < w.packet) return watchUntil('hosts', Math.max(f.end, hosts.ts), hosts.packet, lastFilePacket);
    return w;
  }

  /**
   * Whether `ip` has sent a packet later than `ts`, as far as the capture has been read (null when
   * the address cannot be read). A collision with another host's slot may answer yes for it.
   */
  hostSentAfter(ip: string, ts: number): boolean | null {
    const at = slotOfIp(ip);
    return at === null ? null : this.hostSlots[at + HOST_SENT_TS] > ts;
  }

  /** The last packet before the first seam after packet `no` (or at it); Infinity when none follows. */
  lastBeforeSeamFrom(no: number): number {
    const i = this.firstSeamFrom(no);
    return i >= 0 ? this.seamBefore[i] : Infinity;
  }

  /** Index of the first seam whose last packet before it is at or after packet `no`; -1 when none. */
  private firstSeamFrom(no: number): number {
    const a = this.seamBefore;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] < no) lo = mid + 1;
      else hi = mid;
    }
    return lo < a.length ? lo : -1;
  }

  /** The latest packet from or to either host of `f` (its own last packet at least); null when an address cannot be read. */
  private hostsLastSeen(f: FlowFacts): { ts: number; packet: number } | null {
    let ts = f.end;
    let packet = f.lastPacket;
    for (const ip of [f.clientIp, f.serverIp]) {
      const at = slotOfIp(ip);
      if (at === null) return null;
      if (this.hostSlots[at + HOST_NO] > packet) {
        packet = this.hostSlots[at + HOST_NO];
        ts = Math.max(ts, this.hostSlots[at + HOST_TS]);
      }
    }
    return { ts, packet };
  }
}

/** Where the slot of the host at `ip` (text) starts in the table; null when the address cannot be read. */
function slotOfIp(ip: string): number | null {
  const w = wordsOf(ip);
  return w ? slotOf(addrHash(w, 0, HASH_SEED)) * HOST_STRIDE : null;
}

/** Where the sent-packets record of the host in host slot `slot` starts. */
function sentRecordOf(slot: number): number {
  return (slot & (SENT_RECORDS - 1)) * SENT_STRIDE;
}

/**
 * A record's owner: the host's whole address hash, never 0 (an empty record's). Each step of the
 * hash is one-to-one in the word it takes, so IPv4 addresses (word 3 alone differs) never share
 * one but for the two that give 0 and 1; IPv6 addresses of one record share one about once in 2^32.
 */
function ownerOf(hash: number): number {
  return hash >>> 0 || 1;
}

function slotOf(hash: number): number {
  return (Math.imul(hash ^ (hash >>> 16), 0x45d9f3b) >>> 0) & (HOST_SLOTS - 1);
}
