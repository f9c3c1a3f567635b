// The SYN answers each server endpoint gave, kept for a window of packet time rather than for the
// whole capture: rules ask "did this listener answer other SYNs while this one's were dropped?",
// and the answer lies within a few minutes of the SYNs in question.

/**
 * How long answers are kept (packet time). Linux gives up a connect after about 127 s of SYN
 * retries; a flow is judged at most a close linger or an attempt timeout after that.
 */
const HORIZON_MICROS = 200_000_000;
/** Most answers kept per server (a server answering 10,000 SYNs/s over the whole horizon). */
const MAX_PER_SERVER = 2_000_000;
/** Most servers tracked at once; servers quiet past the horizon are forgotten first. */
const MAX_SERVERS = 65_536;
/** Marks an RST answer in the stored port: ports are 16-bit, so the flag never collides. */
const RST_FLAG = 0x10000;

class ServerAnswers {
  /** Times (µs) in arrival order, with the client port (| RST_FLAG for an RST) alongside. */
  readonly ts: number[] = [];
  readonly port: number[] = [];
  head = 0;

  get last(): number {
    return this.ts.length > this.head ? this.ts[this.ts.length - 1] : -Infinity;
  }

  dropBefore(cutoff: number): void {
    while (this.head < this.ts.length && this.ts[this.head] < cutoff) this.head++;
    if (this.ts.length - this.head > MAX_PER_SERVER) this.head = this.ts.length - MAX_PER_SERVER;
    // Compact once the dropped prefix is the larger part, so each entry is copied O(1) times.
    if (this.head > 1024 && this.head * 2 > this.ts.length) {
      this.ts.splice(0, this.head);
      this.port.splice(0, this.head);
      this.head = 0;
    }
  }
}

export class AnswerLog {
  private readonly servers = new Map<string, ServerAnswers>();
  /** After a look for quiet servers that freed too little, the next waits until this packet time. */
  private nextForgetTs = -Infinity;

  /** `server` (ip:port) answered a SYN from `clientPort` at `ts`: with a SYN-ACK, or refused it with an RST. */
  record(server: string, ts: number, clientPort: number, synAck: boolean): void {
    let s = this.servers.get(server);
    if (!s) {
      if (this.servers.size >= MAX_SERVERS && ts >= this.nextForgetTs) this.forgetQuiet(ts);
      if (this.servers.size >= MAX_SERVERS) return;
      this.servers.set(server, (s = new ServerAnswers()));
    }
    s.ts.push(ts);
    s.port.push(synAck ? clientPort : clientPort | RST_FLAG);
    s.dropBefore(ts - HORIZON_MICROS);
  }

  /**
   * Answers by `server` within [from, to] µs: all of them, or SYN-ACKs only, leaving out those to
   * `exceptPort` (the flow asking). Counting stops at `limit`.
   */
  count(server: string, from: number, to: number, opts: { synAckOnly?: boolean; exceptPort?: number; limit?: number } = {}): number {
    const s = this.servers.get(server);
    if (!s) return 0;
    const limit = opts.limit ?? Infinity;
    const except = opts.exceptPort ?? -1;
    let n = 0;
    for (let i = firstAtOrAfter(s.ts, s.head, from); i < s.ts.length && s.ts[i] <= to && n < limit; i++) {
      const p = s.port[i];
      if (opts.synAckOnly && p & RST_FLAG) continue;
      if ((p & 0xffff) === except) continue;
      n++;
    }
    return n;
  }

  /** Answers currently kept, over all servers (for tests of the bound). */
  get size(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.ts.length - s.head;
    return n;
  }

  private forgetQuiet(now: number): void {
    // forEach rather than for-of: no [key, value] pair is made per server.
    this.servers.forEach((s, k, servers) => {
      if (s.last < now - HORIZON_MICROS) servers.delete(k);
    });
    // Little freed: every server is busy. New servers go unrecorded for a while rather than each
    // paying for a look over all the others.
    if (this.servers.size > (MAX_SERVERS * 7) / 8) this.nextForgetTs = now + HORIZON_MICROS / 16;
  }
}

/** First index ≥ head whose time is ≥ t (times are in capture order, nearly always sorted). */
function firstAtOrAfter(ts: number[], head: number, t: number): number {
  let lo = head;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
