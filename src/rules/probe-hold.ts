import type { FlowFacts } from './facts.js';
import type { ScanMark } from './probe-log.js';

// A probe can end before its scan shows: a worm's first sources, a scanner's first ports. Such a
// flow (no payload, opened by the client, no scan known yet) is held back, not judged, for as long
// as a scan could still count it (the windows and per-scanner bounds of the scan verdict in
// scan-rules.ts); when the scan shows, it is judged as that scan's probe, else it is judged as it
// was once the window has passed. A file is read in seconds, so holding delays no report that
// matters; a live capture judges at once and the scan verdict counts such probes as earlier ones.

/** An earlier probe counts in a scan that began within this long after it (as in scan-rules.ts). */
export const EARLIER_WINDOW_MICROS = 300_000_000;
export const EARLIER_DISTRIBUTED_WINDOW_MICROS = 3_600_000_000;
/** Probes held per client and host, and per target host (many sources' first probes), as the scan verdict remembers them. */
export const MAX_EARLIER_PROBES = 16;
export const MAX_EARLIER_PROBES_PER_HOST = 64;
/** Flows held at once; the oldest is judged when more come. */
const MAX_HELD = 4_096;

interface Held {
  /** Dropped once released: the lists keep a released entry until they are trimmed, not its flow. */
  f: FlowFacts | null;
  /** Its first probe packet's time. */
  ts: number;
  /** When no scan can count it any more. */
  releaseAt: number;
  released: boolean;
  /** Lists (per pair, per host) it is in. */
  lists: number;
}

/** No flows: shared, never written. */
const NONE: FlowFacts[] = Object.freeze([]) as unknown as FlowFacts[];

export class ProbeHold {
  private readonly byPair = new HeldLists();
  private readonly byHost = new HeldLists();
  private readonly queue: Held[] = [];
  private head = 0;

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Holds `f`, a probe-like flow no scan has claimed; returns the flows it pushes out (judge them now). */
  hold(f: FlowFacts): FlowFacts[] {
    const ts = f.syns[0]?.ts ?? f.start;
    const toHost = f.synAcks.length === 0;
    const h: Held = { f, ts, releaseAt: ts + (toHost ? EARLIER_DISTRIBUTED_WINDOW_MICROS : EARLIER_WINDOW_MICROS), released: false, lists: toHost ? 2 : 1 };
    const out: FlowFacts[] = [];
    this.byPair.add(`${f.clientIp} ${f.serverIp}`, h, MAX_EARLIER_PROBES, out);
    if (toHost) this.byHost.add(f.serverIp, h, MAX_EARLIER_PROBES_PER_HOST, out);
    this.queue.push(h);
    if (this.size > MAX_HELD) this.releaseHead(out);
    return out;
  }

  /**
   * The scan `m` showed with the flow `first`: the held flows it counts (as scan-rules counts its
   * earlier probes), marked as its probes.
   */
  claim(m: ScanMark, firstTs: number): FlowFacts[] {
    if (m.kind === 'syn-flood' || m.kind === 'address-scan') return [];
    const distributed = m.kind === 'distributed-scan';
    const list = distributed ? this.byHost.take(m.target) : this.byPair.take(`${m.scanner} ${m.target}`);
    if (!list) return [];
    const window = distributed ? EARLIER_DISTRIBUTED_WINDOW_MICROS : EARLIER_WINDOW_MICROS;
    const out: FlowFacts[] = [];
    for (const h of list) {
      if (h.released || h.ts < firstTs - window) continue;
      const f = release(h);
      f.scan = { ...m, scanner: distributed ? f.clientIp : m.scanner };
      out.push(f);
    }
    return out;
  }

  /** The held flows no scan can count any more at packet time `now`. */
  expire(now: number): FlowFacts[] {
    // Asked as every flow is handed out: most of the time nothing is due.
    if (!this.due(now)) return NONE;
    const out: FlowFacts[] = [];
    while (this.due(now)) this.releaseHead(out);
    return out;
  }

  /** The flow at the front of the queue is released, or no scan can count it any more at `now`. */
  private due(now: number): boolean {
    return this.head < this.queue.length && (this.queue[this.head].released || this.queue[this.head].releaseAt < now);
  }

  /** Every flow still held (the capture ended). */
  drain(): FlowFacts[] {
    const out: FlowFacts[] = [];
    while (this.head < this.queue.length) this.releaseHead(out);
    return out;
  }

  private releaseHead(out: FlowFacts[]): void {
    const h = this.queue[this.head++];
    if (!h.released) out.push(release(h));
    // Drop the spent front in batches so the queue does not shift once per flow.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** Marks `h` released and hands its flow over. */
function release(h: Held): FlowFacts {
  const f = h.f!;
  h.released = true;
  h.f = null;
  return f;
}

/** Held flows by key (a client and host pair, or a target host), oldest first in each list. */
class HeldLists {
  private readonly lists = new Map<string, Held[]>();
  /** Keys whose flows were all judged are let go when a new key finds this many: after each sweep, twice what it kept. */
  private sweepAt = MAX_HELD;

  /** Adds `h` to its key's list; the oldest past `cap` leaves it, and is judged now when in no other list. */
  add(key: string, h: Held, cap: number, out: FlowFacts[]): void {
    let list = this.lists.get(key);
    if (!list) {
      if (this.lists.size >= this.sweepAt) this.sweep();
      this.lists.set(key, (list = []));
    }
    while (list.length > 0 && list[0].released) list.shift();
    if (list.length >= cap) {
      const old = list.shift()!;
      if (--old.lists === 0 && !old.released) out.push(release(old));
    }
    list.push(h);
  }

  /** The key's list, no longer kept. */
  take(key: string): Held[] | undefined {
    const list = this.lists.get(key);
    if (list) this.lists.delete(key);
    return list;
  }

  // A list whose flows were all judged is the same as none: dropping it changes nothing but memory.
  // Sweeping at each new key once the map is full would walk every key each time while most still
  // hold a flow (a scan of many pairs): the next sweep waits until the map has doubled.
  private sweep(): void {
    for (const [k, l] of this.lists) if (l.every((x) => x.released)) this.lists.delete(k);
    this.sweepAt = Math.max(MAX_HELD, 2 * this.lists.size);
  }
}
