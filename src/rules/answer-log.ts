// The SYN answers each server endpoint gave, kept for a window of packet time rather than for the
// whole capture: rules ask "did this listener answer other SYNs while this one's were dropped?",
// and the answer lies within a few minutes of the SYNs in question.
//
// A busy capture answers tens of thousands of SYNs a second (a load balancer, a flood met with SYN
// cookies), so the answers are one ring of typed arrays in arrival order, MAX_ANSWERS at most, and
// each server keeps the ring places of its own answers, in order, to count them within a time
// window by binary search. A server lets its answers go HORIZON_MICROS after them, as it answers
// again; the ring's bound can take one sooner. An answer let go of that way, or never recorded for
// want of room, is lost: what the log says of that time is then not known (unknownBecause), so that
// "no other SYN was answered" is said only where the log held every answer.

import { rotated } from '../flow/tuple-ring.js';

/**
 * How long answers are kept (packet time). Linux gives up a connect after about 127 s of SYN
 * retries; a flow is judged at most a close linger or an attempt timeout after that.
 */
const HORIZON_MICROS = 200_000_000;
/** Most answers kept, over all servers (16 bytes each in the ring, and 4 to 8 in their server's list). */
const MAX_ANSWERS = 1 << 20;
/** Most servers tracked at once; servers that answered nothing within the horizon are forgotten first. */
const MAX_SERVERS = 65_536;
/** Marks an RST answer in the stored port: ports are 16-bit, so the flag never collides. */
const RST_FLAG = 0x10000;
/** Ring places the ring and a server's list start with; they double up to their bound. */
const INITIAL_PLACES = 64;
/** Bits of the filter of servers whose answers were lost with no place to say so (see untracked). */
const UNTRACKED_FILTER_BITS = 1 << 16;

/** Why the log cannot say what a server answered at some time. */
export type AnswersUnknown = 'answers' | 'servers';

/** A span of packet time (µs) holding lost answers, empty while from > to. */
class LostSpan {
  from = Infinity;
  to = -Infinity;

  add(ts: number): void {
    if (ts < this.from) this.from = ts;
    if (ts > this.to) this.to = ts;
  }

  meets(from: number, to: number): boolean {
    return this.from <= to && this.to >= from;
  }
}

class ServerAnswers {
  /** The ring places of this server's answers, oldest first, from `head`. */
  places = new Int32Array(INITIAL_PLACES);
  head = 0;
  length = 0;
  /** When its answers taken by the ring's bound came. */
  readonly lost = new LostSpan();

  constructor(readonly id: number) {}

  get count(): number {
    return this.length - this.head;
  }

  get oldestPlace(): number {
    return this.head < this.length ? this.places[this.head] : -1;
  }

  push(place: number): void {
    if (this.length === this.places.length) {
      if (this.head * 2 >= this.length) {
        // Half of the list or more was let go of: move the rest to the front instead of growing.
        this.places.copyWithin(0, this.head, this.length);
      } else {
        const places = new Int32Array(this.places.length * 2);
        places.set(this.places.subarray(this.head, this.length));
        this.places = places;
      }
      this.length -= this.head;
      this.head = 0;
    }
    this.places[this.length++] = place;
  }

  /** Lets go of the oldest answer; a list mostly let go of is moved into a smaller one. */
  shift(): void {
    this.head++;
    const count = this.count;
    if (this.places.length > INITIAL_PLACES && count * 4 <= this.places.length) {
      const places = new Int32Array(this.places.length / 2);
      places.set(this.places.subarray(this.head, this.length));
      this.places = places;
      this.head = 0;
      this.length = count;
    }
  }
}

export class AnswerLog {
  private readonly servers = new Map<string, ServerAnswers>();
  /** The servers tracked by id, and the ids free for the next. */
  private readonly byId: (ServerAnswers | null)[] = [];
  private readonly freeIds: number[] = [];
  /** The ring: each answer's time, client port (| RST_FLAG for an RST) and server id. */
  private ts = new Float64Array(INITIAL_PLACES);
  private port = new Int32Array(INITIAL_PLACES);
  private owner = new Int32Array(INITIAL_PLACES);
  /** Oldest place in use, and how many are in use from there on (wrapping); a place its server let go of is freed once it is the oldest. */
  private oldest = 0;
  private used = 0;
  private readonly maxAnswers: number;
  /**
   * Servers not tracked now whose answers were lost (unrecorded while every server place was
   * taken, or lost and then forgotten with their server): a filter by the server's text (it may
   * name a server that lost none, never the other way round), and when those answers came.
   */
  private readonly untracked = new Uint8Array(UNTRACKED_FILTER_BITS / 8);
  private readonly untrackedLost = new LostSpan();
  /** After a look for servers with no answer left that freed too little, the next waits until this packet time. */
  private nextForgetTs = -Infinity;

  constructor(maxAnswers = MAX_ANSWERS) {
    this.maxAnswers = Math.max(1, maxAnswers);
  }

  /** `server` (ip:port) answered a SYN from `clientPort` at `ts`: with a SYN-ACK, or refused it with an RST. */
  record(server: string, ts: number, clientPort: number, synAck: boolean): void {
    let s = this.servers.get(server);
    if (!s) {
      if (this.servers.size >= MAX_SERVERS && ts >= this.nextForgetTs) this.forgetQuietServers(ts);
      if (this.servers.size >= MAX_SERVERS) {
        this.markUntracked(server, ts);
        return;
      }
      s = new ServerAnswers(this.freeIds.pop() ?? this.byId.length);
      this.byId[s.id] = s;
      this.servers.set(server, s);
    }
    if (this.used === this.maxAnswers) this.dropOldest();
    else if (this.used === this.ts.length) this.grow();
    const place = (this.oldest + this.used) % this.ts.length;
    this.used++;
    this.ts[place] = ts;
    this.port[place] = synAck ? clientPort : clientPort | RST_FLAG;
    this.owner[place] = s.id;
    s.push(place);
    // The server's answers older than the horizon go (in arrival order, as they came).
    const cutoff = ts - HORIZON_MICROS;
    while (s.count > 0 && this.ts[s.oldestPlace] < cutoff) s.shift();
    this.freeLetGo();
  }

  /**
   * Answers by `server` within [from, to] µs: all of them, or SYN-ACKs only, leaving out those to
   * `exceptPort` (the flow asking). Counting stops at `limit`. Answers lost are not counted: see
   * unknownBecause.
   */
  count(server: string, from: number, to: number, opts: { synAckOnly?: boolean; exceptPort?: number; limit?: number } = {}): number {
    const s = this.servers.get(server);
    if (!s) return 0;
    const limit = opts.limit ?? Infinity;
    const except = opts.exceptPort ?? -1;
    let n = 0;
    for (let i = this.firstAtOrAfter(s, from); i < s.length && n < limit; i++) {
      const place = s.places[i];
      if (this.ts[place] > to) break;
      const p = this.port[place];
      if (opts.synAckOnly && p & RST_FLAG) continue;
      if ((p & 0xffff) === except) continue;
      n++;
    }
    return n;
  }

  /**
   * Null when the log holds every answer `server` gave within [from, to] µs (but those past the
   * horizon); otherwise why some may be missing: the ring's bound took them ('answers'), or they
   * came while every server place was taken ('servers').
   */
  unknownBecause(server: string, from: number, to: number): AnswersUnknown | null {
    // A server tracked now may have gone untracked before: the mark stays.
    if (this.isMarkedUntracked(server) && this.untrackedLost.meets(from, to)) return 'servers';
    return this.servers.get(server)?.lost.meets(from, to) ? 'answers' : null;
  }

  /** Places in use in the ring: the answers kept, and those let go of behind an older one kept (for tests of the bound). */
  get size(): number {
    return this.used;
  }

  private dropOldest(): void {
    const place = this.oldest;
    const s = this.byId[this.owner[place]];
    // A server's answers are in the ring's order: unless the server let this one go past the
    // horizon already (or was forgotten), it is the server's oldest, and lost.
    if (s && s.oldestPlace === place) {
      s.shift();
      s.lost.add(this.ts[place]);
    }
    this.oldest = (this.oldest + 1) % this.ts.length;
    this.used--;
  }

  /** Frees the ring's oldest places while their servers have let them go (past the horizon, or forgotten). */
  private freeLetGo(): void {
    while (this.used > 0) {
      const place = this.oldest;
      const s = this.byId[this.owner[place]];
      if (s && s.oldestPlace === place) return;
      this.oldest = (this.oldest + 1) % this.ts.length;
      this.used--;
    }
  }

  /** Doubles the ring, up to its bound (it grows only when full, so its places run from `oldest` to the end, then from 0). */
  private grow(): void {
    const old = this.ts.length;
    const capacity = Math.min(this.maxAnswers, old * 2);
    const from = this.oldest;
    this.ts = rotated(this.ts, new Float64Array(capacity), from, old);
    this.port = rotated(this.port, new Int32Array(capacity), from, old);
    this.owner = rotated(this.owner, new Int32Array(capacity), from, old);
    // Every place moves back by `from`, wrapping: each server's list is renumbered the same way.
    for (const s of this.servers.values()) for (let i = s.head; i < s.length; i++) s.places[i] = (s.places[i] - from + old) % old;
    this.oldest = 0;
  }

  /**
   * Forgets the servers that answered nothing within the horizon (their answers are past it); those
   * that had lost some are marked untracked. Their places in the ring are left to it.
   */
  private forgetQuietServers(now: number): void {
    // forEach rather than for-of: no [key, value] pair is made per server.
    this.servers.forEach((s, k, servers) => {
      if (s.count > 0 && this.ts[s.places[s.length - 1]] >= now - HORIZON_MICROS) return;
      if (s.lost.from <= s.lost.to) {
        this.markUntracked(k, s.lost.from);
        this.markUntracked(k, s.lost.to);
      }
      servers.delete(k);
      this.byId[s.id] = null;
      this.freeIds.push(s.id);
    });
    // Little freed: every server answered lately. New servers go unrecorded for a while rather than
    // each paying for a look over all the others.
    if (this.servers.size > (MAX_SERVERS * 7) / 8) this.nextForgetTs = now + HORIZON_MICROS / 16;
  }

  private markUntracked(server: string, ts: number): void {
    const bit = textHash(server) & (UNTRACKED_FILTER_BITS - 1);
    this.untracked[bit >>> 3] |= 1 << (bit & 7);
    this.untrackedLost.add(ts);
  }

  private isMarkedUntracked(server: string): boolean {
    const bit = textHash(server) & (UNTRACKED_FILTER_BITS - 1);
    return (this.untracked[bit >>> 3] & (1 << (bit & 7))) !== 0;
  }

  /** First index ≥ head in the server's list whose time is ≥ t (times are in capture order, nearly always sorted). */
  private firstAtOrAfter(s: ServerAnswers, t: number): number {
    let lo = s.head;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[s.places[mid]] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** FNV-1a over the text's UTF-16 code units. */
function textHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
