// The SYN answers each server endpoint gave, kept for a window of packet time rather than for the
// whole capture: rules ask "did this listener answer other SYNs while this one's were dropped?",
// and the answer lies within a few minutes of the SYNs in question.
//
// A busy capture answers tens of thousands of SYNs a second (a load balancer, a flood met with SYN
// cookies), so the answers are one ring of typed arrays in arrival order, MAX_ANSWERS at most, the
// oldest leaving first; each server keeps the ring places of its own answers, in order, to count
// them within a time window by binary search. An answer let go of before its time leaves a mark:
// each server knows until when its answers may be missing (knownFrom), so that "no other SYN was
// answered" is said only where the log still holds every answer.

/**
 * How long answers are kept (packet time). Linux gives up a connect after about 127 s of SYN
 * retries; a flow is judged at most a close linger or an attempt timeout after that.
 */
const HORIZON_MICROS = 200_000_000;
/** Most answers kept, over all servers (16 bytes each in the ring, and 4 to 8 in their server's list). */
const MAX_ANSWERS = 1 << 20;
/** Most servers tracked at once; servers with no answer left are forgotten first. */
const MAX_SERVERS = 65_536;
/** Marks an RST answer in the stored port: ports are 16-bit, so the flag never collides. */
const RST_FLAG = 0x10000;
/** Ring places the ring and a server's list start with; they double up to their bound. */
const INITIAL_PLACES = 64;

class ServerAnswers {
  constructor(readonly id: number) {}

  /** The ring places of this server's answers, oldest first, from `head`. */
  places = new Int32Array(INITIAL_PLACES);
  head = 0;
  length = 0;
  /** Answers of this server before this time (µs) may have been let go of. */
  forgottenUntil = -Infinity;

  get count(): number {
    return this.length - this.head;
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
  /** Oldest place in use, and how many are in use from there on (wrapping). */
  private oldest = 0;
  private used = 0;
  private latest = -Infinity;
  /** Answers of servers no longer tracked, or never tracked for want of room, may be missing before this time. */
  private forgottenOfUntracked = -Infinity;
  /** After a look for servers with no answer left that freed too little, the next waits until this packet time. */
  private nextForgetTs = -Infinity;

  constructor(private readonly maxAnswers = MAX_ANSWERS) {}

  /** `server` (ip:port) answered a SYN from `clientPort` at `ts`: with a SYN-ACK, or refused it with an RST. */
  record(server: string, ts: number, clientPort: number, synAck: boolean): void {
    if (ts > this.latest) this.latest = ts;
    while (this.used > 0 && this.ts[this.oldest] < this.latest - HORIZON_MICROS) this.dropOldest();
    let s = this.servers.get(server);
    if (!s) {
      if (this.servers.size >= MAX_SERVERS && ts >= this.nextForgetTs) this.forgetEmptyServers(ts);
      if (this.servers.size >= MAX_SERVERS) {
        this.forgottenOfUntracked = Math.max(this.forgottenOfUntracked, ts);
        return;
      }
      s = new ServerAnswers(this.freeIds.pop() ?? this.byId.length);
      this.byId[s.id] = s;
      this.servers.set(server, s);
      // Until now the server was untracked: what it answered before is as unknown as the others'.
      s.forgottenUntil = this.forgottenOfUntracked;
    }
    if (this.used === this.maxAnswers) this.dropOldest();
    else if (this.used === this.ts.length) this.grow();
    const place = (this.oldest + this.used) % this.ts.length;
    this.used++;
    this.ts[place] = ts;
    this.port[place] = synAck ? clientPort : clientPort | RST_FLAG;
    this.owner[place] = s.id;
    s.push(place);
  }

  /**
   * Answers by `server` within [from, to] µs: all of them, or SYN-ACKs only, leaving out those to
   * `exceptPort` (the flow asking). Counting stops at `limit`. Answers let go of are not counted:
   * see knownFrom.
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

  /** Whether the log still holds every answer `server` gave from `from` on (none was let go of early, nor went unrecorded). */
  knownFrom(server: string, from: number): boolean {
    const s = this.servers.get(server);
    return from > (s ? s.forgottenUntil : this.forgottenOfUntracked);
  }

  /** Answers currently kept, over all servers (for tests of the bound). */
  get size(): number {
    return this.used;
  }

  private dropOldest(): void {
    const place = this.oldest;
    const s = this.byId[this.owner[place]]!;
    // A server's answers are in the ring's order, so its oldest is this one.
    s.shift();
    if (this.ts[place] > s.forgottenUntil) s.forgottenUntil = this.ts[place];
    this.oldest = (this.oldest + 1) % this.ts.length;
    this.used--;
  }

  /** Doubles the ring (it grows only when full, so its places run from `oldest` to the end, then from 0). */
  private grow(): void {
    const old = this.ts.length;
    const capacity = Math.min(this.maxAnswers, old * 2);
    const from = this.oldest;
    const moved = <T extends Float64Array | Int32Array>(column: T, next: T): T => {
      next.set(column.subarray(from), 0);
      next.set(column.subarray(0, from), old - from);
      return next;
    };
    this.ts = moved(this.ts, new Float64Array(capacity));
    this.port = moved(this.port, new Int32Array(capacity));
    this.owner = moved(this.owner, new Int32Array(capacity));
    // Every place moves back by `from`, wrapping: each server's list is renumbered the same way.
    for (const s of this.servers.values()) for (let i = s.head; i < s.length; i++) s.places[i] = (s.places[i] - from + old) % old;
    this.oldest = 0;
  }

  /** Forgets the servers with no answer left, keeping until when their answers may be missing. */
  private forgetEmptyServers(now: number): void {
    // forEach rather than for-of: no [key, value] pair is made per server.
    this.servers.forEach((s, k, servers) => {
      if (s.count > 0) return;
      this.forgottenOfUntracked = Math.max(this.forgottenOfUntracked, s.forgottenUntil);
      servers.delete(k);
      this.byId[s.id] = null;
      this.freeIds.push(s.id);
    });
    // Little freed: every server holds answers. New servers go unrecorded for a while rather than
    // each paying for a look over all the others.
    if (this.servers.size > (MAX_SERVERS * 7) / 8) this.nextForgetTs = now + HORIZON_MICROS / 16;
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
