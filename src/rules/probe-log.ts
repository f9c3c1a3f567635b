import { parseAddr } from '../decode/addr.js';
import { grownColumn } from '../flow/columns.js';

// Connection attempts per client, to tell a scan from failing connections. A client that sends
// SYNs to many ports of one host (a port scan) or to one port of many hosts (an address sweep),
// and is rarely answered with a SYN-ACK, is probing; its failed attempts are probes, not
// connections an application wanted. Thresholds and window are Zeek's (policy/misc/scan.zeek):
// 15 ports of one host, or 25 hosts on one port, within 5 minutes.
//
// Attempts are counted as their SYNs are seen, so by the time a probe's flow ends (after an RST
// and its close linger, or when the attempt is given up) the scan around it is already known.
//
// Two more patterns are kept here. Packets no TCP stack sends (no flags at all, a FIN without an
// ACK, SYN with FIN or RST) are crafted probes: a client sending them to two ports, or two kinds to
// one port, is scanning that host, however few ports it tries; several kinds to one port is how
// nmap's OS detection (-O) tells systems apart. And per target host, attempts from many sources on
// many networks to many ports, rarely answered, are a distributed scan (worms, internet-wide
// scanners): each source alone probes too few ports to be called a scanner.

export const PORT_SCAN_MIN_PORTS = 15;
export const ADDRESS_SCAN_MIN_HOSTS = 25;
/** A tally quiet for this long (packet time) starts over. */
const WINDOW_MICROS = 300_000_000;
/** Distinct targets remembered per tally: enough to pass the thresholds, not to list a scan. */
const MAX_TARGETS = 64;
/** Hosts and ports tallied per client; a client past them tallies only those it has. */
const MAX_TALLIES_PER_CLIENT = 1_024;
/**
 * Tallies over all clients, and targets after each tally's first (the sets): past them, new ones
 * are not made until clients are forgotten. Without them 16,384 clients could hold 2,048 tallies
 * of 64 targets each, gigabytes; with them 256 clients sweeping 1,024 hosts on 64 ports each fill
 * the tallies in 65 MB.
 */
const MAX_TALLIES = 262_144;
const MAX_REST_TARGETS = 1_048_576;
/** Clients tracked at once; clients quiet for the window are forgotten first. */
const MAX_CLIENTS = 16_384;
/** Distributed scan: this many sources, from this many /16 (IPv6: /48) networks, on this many ports of one host. */
const DISTRIBUTED_MIN_SOURCES = 5;
const DISTRIBUTED_MIN_NETWORKS = 3;
const DISTRIBUTED_MIN_PORTS = 5;
/** Scanning worms probe a host minutes apart: a target's tally starts over only after an hour without attempts. */
const DISTRIBUTED_WINDOW_MICROS = 3_600_000_000;
/** One source flooding one service: this many SYNs, at this rate at least (per second). */
const ONE_SOURCE_FLOOD_MIN_SYNS = 100;
const ONE_SOURCE_FLOOD_MIN_RATE = 20;
/** Target hosts tracked at once. */
const MAX_TARGET_HOSTS = 16_384;

/** Packets no TCP stack sends, by kind (an index into CRAFTED_NAMES). */
const CRAFTED = { NULL: 0, FIN: 1, XMAS: 2, SYN_FIN: 3, SYN_RST: 4 } as const;
export const CRAFTED_NAMES = ['NULL (no flags)', 'FIN without ACK', 'FIN+PSH+URG (Xmas)', 'SYN+FIN', 'SYN+RST'] as const;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;

/** The crafted kind of a TCP segment with these flags, or -1 for a segment a TCP stack may send. */
export function craftedKind(flags: number): number {
  if ((flags & (SYN | FIN)) === (SYN | FIN)) return CRAFTED.SYN_FIN;
  if ((flags & (SYN | RST)) === (SYN | RST)) return CRAFTED.SYN_RST;
  if ((flags & (FIN | SYN | RST | PSH | ACK | URG)) === 0) return CRAFTED.NULL;
  // Every segment after the SYN carries an ACK (RFC 9293), a FIN included.
  if ((flags & (FIN | ACK | RST)) === FIN) return (flags & (PSH | URG)) === (PSH | URG) ? CRAFTED.XMAS : CRAFTED.FIN;
  return -1;
}

/** One client's crafted packets to one host. */
class CraftedProbes {
  readonly counts = [0, 0, 0, 0, 0];
  /** Kinds (a bit per CRAFTED index) sent to each port, for up to MAX_TARGETS ports. */
  readonly kindsByPort = new Map<number, number>();
  firstNo = 0;
  firstTs = 0;
  lastTs = -Infinity;

  add(kind: number, port: number, no: number, ts: number): void {
    if (ts - this.lastTs > WINDOW_MICROS) {
      this.counts.fill(0);
      this.kindsByPort.clear();
      this.firstNo = no;
      this.firstTs = ts;
    }
    this.lastTs = ts;
    this.counts[kind]++;
    const kinds = this.kindsByPort.get(port);
    if (kinds !== undefined) this.kindsByPort.set(port, kinds | (1 << kind));
    else if (this.kindsByPort.size < MAX_TARGETS) this.kindsByPort.set(port, 1 << kind);
  }

  /** Two kinds of crafted packet to one port: nmap's OS detection sends NULL, SYN+FIN and Xmas probes to the same ports. */
  get fingerprinting(): boolean {
    for (const kinds of this.kindsByPort.values()) if ((kinds & (kinds - 1)) !== 0) return true;
    return false;
  }

  /** Crafted packets to two ports (a FIN, NULL or Xmas scan), or a fingerprint. */
  get scanning(): boolean {
    return this.kindsByPort.size >= 2 || this.fingerprinting;
  }

  covers(ts: number): boolean {
    return ts >= this.firstTs - WINDOW_MICROS && ts <= this.lastTs + WINDOW_MICROS;
  }
}

/**
 * Attempts to one host from all sources: its sources, their networks and the ports they tried.
 * Most hosts are reached by one source on one port: the sets start when a second one shows up.
 */
class TargetAttempts {
  firstSource: AddrKey | null = null;
  firstPort = -1;
  sources: Set<AddrKey> | null = null;
  networks: Set<number | string> | null = null;
  ports: Set<number> | null = null;
  attempts = 0;
  answered = 0;
  firstTs = 0;
  lastTs = -Infinity;

  add(source: AddrKey, port: number, ts: number): void {
    if (ts - this.lastTs > DISTRIBUTED_WINDOW_MICROS) {
      this.firstSource = null;
      this.sources = this.networks = this.ports = null;
      this.attempts = 0;
      this.answered = 0;
      this.firstTs = ts;
    }
    this.lastTs = ts;
    this.attempts++;
    if (this.firstSource === null) {
      this.firstSource = source;
      this.firstPort = port;
      return;
    }
    if (this.sources === null) {
      if (source === this.firstSource) return;
      this.sources = new Set([this.firstSource]);
      this.networks = new Set([networkOf(this.firstSource)]);
      this.ports = new Set([this.firstPort]);
    }
    if (this.sources.size < MAX_TARGETS && !this.sources.has(source)) {
      this.sources.add(source);
      this.networks!.add(networkOf(source));
    }
    if (this.ports!.size < MAX_TARGETS) this.ports!.add(port);
  }

  get isScanned(): boolean {
    return (
      this.sources !== null &&
      this.sources.size >= DISTRIBUTED_MIN_SOURCES &&
      this.networks!.size >= DISTRIBUTED_MIN_NETWORKS &&
      this.ports!.size >= DISTRIBUTED_MIN_PORTS &&
      this.answered * 4 <= this.attempts
    );
  }
}

/**
 * The /16 of an IPv4 address (a key or a text), the /48 of an IPv6 address text, read from the
 * address itself: the text alone would make 2001:db8::1 and 2001:db8:0:1::1 two networks.
 */
export function networkOf(a: AddrKey): number | string {
  if (typeof a === 'number') return a >>> 16;
  const { version, words } = parseAddr(a);
  return version === 4 ? words[3] >>> 16 : `${words[0] >>> 0}:${words[1] >>> 16}`;
}

/** Slots the tally columns start with; they double as clients tally more hosts and ports. */
const INITIAL_TALLY_SLOTS = 1024;

/**
 * The tallies of every client, each of attempts to one host (its ports are the targets) or to one
 * port (its hosts are), as a slot of typed-array columns: tens of thousands of clients each tally
 * several hosts, and an object, two boxed times and a set per tally made this state grow with the
 * capture. Most tallies of a client that is not scanning hold one target (a client opens several
 * connections to one host:port), so the first target is a column and a Set is made only for more.
 */
class TallyPool {
  constructor(
    private readonly maxTallies = MAX_TALLIES,
    private readonly maxRestTargets = MAX_REST_TARGETS,
  ) {}

  private readonly freeSlots: number[] = [];
  private capacity = 0;
  /** Slots handed out so far (free ones included). */
  private used = 0;
  attempts = new Int32Array(0);
  /** Attempts answered with a SYN-ACK. */
  answered = new Int32Array(0);
  firstTs = new Float64Array(0);
  lastTs = new Float64Array(0);
  /** Distinct targets, up to MAX_TARGETS. */
  targets = new Uint8Array(0);
  /** The first target when it is a number (NaN when it is a text, in firstText). */
  private firstTarget = new Float64Array(0);
  private readonly firstText = new Map<number, string>();
  /** The targets after the first, and how many there are over all tallies. */
  private readonly rest = new Map<number, Set<AddrKey>>();
  private restTargets = 0;

  get inUse(): number {
    return this.used - this.freeSlots.length;
  }

  /** No new tally fits. */
  get full(): boolean {
    return this.inUse >= this.maxTallies;
  }

  /** A new tally, empty. */
  take(): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
    }
    this.attempts[slot] = 0;
    this.answered[slot] = 0;
    this.firstTs[slot] = 0;
    this.lastTs[slot] = -Infinity;
    this.clearTargets(slot);
    return slot;
  }

  release(slot: number): void {
    this.clearTargets(slot);
    this.freeSlots.push(slot);
  }

  /** An attempt at `target`: a tally quiet for the window starts over. */
  add(slot: number, target: AddrKey, ts: number): void {
    if (ts - this.lastTs[slot] > WINDOW_MICROS) {
      this.clearTargets(slot);
      this.attempts[slot] = 0;
      this.answered[slot] = 0;
      this.firstTs[slot] = ts;
    }
    this.lastTs[slot] = ts;
    this.attempts[slot]++;
    if (this.targets[slot] < MAX_TARGETS) this.addTarget(slot, target);
  }

  addTarget(slot: number, target: AddrKey): void {
    if (this.targets[slot] === 0) {
      if (typeof target === 'number') this.firstTarget[slot] = target;
      else {
        this.firstTarget[slot] = NaN;
        this.firstText.set(slot, target);
      }
      this.targets[slot] = 1;
    } else if (!this.isFirst(slot, target) && this.restTargets < this.maxRestTargets) {
      let rest = this.rest.get(slot);
      if (!rest) this.rest.set(slot, (rest = new Set()));
      if (!rest.has(target)) {
        rest.add(target);
        this.restTargets++;
        this.targets[slot]++;
      }
    }
  }

  hasTarget(slot: number, target: AddrKey): boolean {
    return this.targets[slot] > 0 && (this.isFirst(slot, target) || (this.rest.get(slot)?.has(target) ?? false));
  }

  /** Enough distinct targets, and at most a quarter of the attempts answered. */
  isScan(slot: number, minTargets: number): boolean {
    return this.targets[slot] >= minTargets && this.answered[slot] * 4 <= this.attempts[slot];
  }

  private isFirst(slot: number, target: AddrKey): boolean {
    return typeof target === 'number' ? this.firstTarget[slot] === target : Number.isNaN(this.firstTarget[slot]) && this.firstText.get(slot) === target;
  }

  private clearTargets(slot: number): void {
    if (this.targets[slot] === 0) return;
    this.targets[slot] = 0;
    this.firstText.delete(slot);
    const rest = this.rest.get(slot);
    if (!rest) return;
    this.restTargets -= rest.size;
    this.rest.delete(slot);
  }

  private grow(): void {
    const capacity = Math.max(INITIAL_TALLY_SLOTS, this.capacity * 2);
    this.attempts = grownColumn(this.attempts, capacity);
    this.answered = grownColumn(this.answered, capacity);
    this.targets = grownColumn(this.targets, capacity);
    this.firstTs = grownColumn(this.firstTs, capacity);
    this.lastTs = grownColumn(this.lastTs, capacity);
    this.firstTarget = grownColumn(this.firstTarget, capacity);
    this.capacity = capacity;
  }
}

/** An address as a map key: an IPv4 address as a number, an IPv6 one as text. */
export type AddrKey = number | string;

/**
 * One client's attempts within the window. Most clients connect to one host:port only, so the
 * tallies start when a second target shows up; until then two fields count the first. The maps
 * hold each host's and port's tally slot in the pool.
 */
class ClientAttempts {
  lastTs = -Infinity;
  firstTs = 0;
  firstHost: AddrKey | null = null;
  firstPort = -1;
  firstAttempts = 0;
  firstAnswered = 0;
  byHost: Map<AddrKey, number> | null = null;
  byPort: Map<number, number> | null = null;
  /** A full map is swept for quiet tallies at most once per WINDOW_MICROS / 16. */
  nextSweepTs = -Infinity;
  /** Crafted packets per host, for the rare client that sends them. */
  crafted: Map<AddrKey, CraftedProbes> | null = null;

  constructor(readonly pool: TallyPool) {}

  attempt(host: AddrKey, port: number, ts: number): void {
    if (ts - this.lastTs > WINDOW_MICROS) this.restart(ts);
    this.lastTs = ts;
    const pool = this.pool;
    if (this.byHost === null || this.byPort === null) {
      if (this.firstHost === null || (host === this.firstHost && port === this.firstPort)) {
        this.firstHost = host;
        this.firstPort = port;
        this.firstAttempts++;
        return;
      }
      // A second target: tally from here on, starting with what the first one had.
      this.byHost = new Map();
      this.byPort = new Map();
      const h = tallyOf(this, this.byHost, this.firstHost, ts);
      const p = tallyOf(this, this.byPort, this.firstPort, ts);
      for (const t of [h, p]) {
        if (t < 0) continue; // every tally taken
        pool.firstTs[t] = this.firstTs;
        pool.lastTs[t] = ts;
        pool.attempts[t] = this.firstAttempts;
        pool.answered[t] = this.firstAnswered;
      }
      if (h >= 0) pool.addTarget(h, this.firstPort);
      if (p >= 0) pool.addTarget(p, this.firstHost);
    }
    const h = tallyOf(this, this.byHost, host, ts);
    if (h >= 0) pool.add(h, port, ts);
    const p = tallyOf(this, this.byPort, port, ts);
    if (p >= 0) pool.add(p, host, ts);
  }

  answered(host: AddrKey, port: number): void {
    if (this.byHost === null || this.byPort === null) {
      if (host === this.firstHost && port === this.firstPort) this.firstAnswered++;
      return;
    }
    const h = this.byHost.get(host);
    if (h !== undefined) this.pool.answered[h]++;
    const p = this.byPort.get(port);
    if (p !== undefined) this.pool.answered[p]++;
  }

  /** Gives the client's tallies back to the pool (when it starts over, or is forgotten). */
  releaseTallies(): void {
    for (const tallies of [this.byHost, this.byPort]) if (tallies) for (const t of tallies.values()) this.pool.release(t);
    this.byHost = null;
    this.byPort = null;
  }

  private restart(ts: number): void {
    this.firstTs = ts;
    this.firstHost = null;
    this.firstPort = -1;
    this.firstAttempts = 0;
    this.firstAnswered = 0;
    this.releaseTallies();
  }

  /** Whether this client sent `host`:`port` a SYN within the window. */
  private attempted(host: AddrKey, port: number): boolean {
    if (this.byHost === null) return host === this.firstHost && port === this.firstPort;
    const h = this.byHost.get(host);
    return h !== undefined && this.pool.hasTarget(h, port);
  }

  /** SYNs to `host`:`port` at a flood's rate: each SYN counts once, whatever came of it. */
  floodOf(host: AddrKey, port: number): { attempts: number; answered: number; firstTs: number } | null {
    let attempts: number;
    let answered: number;
    let firstTs: number;
    if (this.byPort === null) {
      if (host !== this.firstHost || port !== this.firstPort) return null;
      attempts = this.firstAttempts;
      answered = this.firstAnswered;
      firstTs = this.firstTs;
    } else {
      // Once the client has other targets, the port's tally stands for the service.
      const p = this.byPort.get(port);
      const pool = this.pool;
      if (p === undefined || pool.targets[p] !== 1 || !pool.hasTarget(p, host)) return null;
      attempts = pool.attempts[p];
      answered = pool.answered[p];
      firstTs = pool.firstTs[p];
    }
    if (attempts < ONE_SOURCE_FLOOD_MIN_SYNS) return null;
    const seconds = Math.max(1, (this.lastTs - firstTs) / 1e6);
    return attempts / seconds >= ONE_SOURCE_FLOOD_MIN_RATE ? { attempts, answered, firstTs } : null;
  }

  craftedProbe(host: AddrKey, port: number, kind: number, no: number, ts: number): void {
    // Some stacks send a FIN without ACK when a connection is closed before its SYN-ACK came.
    if (kind === CRAFTED.FIN && this.attempted(host, port)) return;
    this.crafted ??= new Map();
    let c = this.crafted.get(host);
    if (!c) {
      if (this.crafted.size >= MAX_TALLIES_PER_CLIENT) return;
      this.crafted.set(host, (c = new CraftedProbes()));
    }
    c.add(kind, port, no, ts);
  }
}

/** What a flow's client was doing when the flow ended: scanning `target`. */
export interface ScanMark {
  /** The scanning client; for a distributed scan, this flow's source (one of many). */
  scanner: string;
  kind: 'port-scan' | 'address-scan' | 'os-fingerprint' | 'distributed-scan' | 'syn-flood';
  /** The host whose ports were scanned, or the port swept across hosts. */
  target: string;
  /** Distinct ports (port scan) or hosts (address sweep) probed so far, counted up to 64. */
  targets: number;
  attempts: number;
  answered: number;
  /** First attempt of the tally (µs). */
  since: number;
  /** Crafted packets the scanner had sent the host by then, per CRAFTED kind, and the first of them. */
  crafted?: { counts: number[]; firstPacket: number };
  /** Distributed scan: the sources and their networks seen so far (counted up to 64). */
  sources?: number;
  networks?: number;
}

/**
 * A map of at most `max` entries, each made on first use: when full, entries quiet for `quietMicros`
 * are forgotten; a look that frees little puts the next off for a while rather than each new key
 * paying for a look over all the others, and new keys go untracked until there is room.
 */
class RecentMap<K, V extends { lastTs: number }> {
  private readonly entries = new Map<K, V>();
  /** After a look that freed too little, the next waits until this packet time. */
  private nextForgetTs = -Infinity;

  constructor(
    private readonly max: number,
    private readonly quietMicros: number,
    private readonly create: () => V,
    private readonly onForget: (v: V) => void = () => {},
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** The entry of `key`, made if there is room, else null. */
  entryFor(key: K, ts: number): V | null {
    let v = this.entries.get(key);
    if (v) return v;
    if (this.entries.size >= this.max && ts >= this.nextForgetTs) {
      // forEach, not for-of: an entries iterator makes an array of each entry.
      this.entries.forEach((e, k) => {
        if (e.lastTs >= ts - this.quietMicros) return;
        this.entries.delete(k);
        this.onForget(e);
      });
      if (this.entries.size > (this.max * 7) / 8) this.nextForgetTs = ts + WINDOW_MICROS / 16;
    }
    if (this.entries.size >= this.max) return null;
    this.entries.set(key, (v = this.create()));
    return v;
  }
}

export class ProbeLog {
  private readonly tallyPool: TallyPool;
  private readonly clients = new RecentMap<AddrKey, ClientAttempts>(
    MAX_CLIENTS,
    WINDOW_MICROS,
    () => new ClientAttempts(this.tallyPool),
    (c) => c.releaseTallies(),
  );
  private readonly targets = new RecentMap<AddrKey, TargetAttempts>(MAX_TARGET_HOSTS, DISTRIBUTED_WINDOW_MICROS, () => new TargetAttempts());

  /** `bounds` lowers the tallies' bounds over all clients (MAX_TALLIES, MAX_REST_TARGETS), for tests. */
  constructor(bounds: { tallies?: number; restTargets?: number } = {}) {
    this.tallyPool = new TallyPool(bounds.tallies, bounds.restTargets);
  }

  /** `client` sent a SYN opening a connection to `host`:`port`. */
  attempt(client: AddrKey, host: AddrKey, port: number, ts: number): void {
    this.clients.entryFor(client, ts)?.attempt(host, port, ts);
    this.targets.entryFor(host, ts)?.add(client, port, ts);
  }

  /** `host`:`port` answered `client`'s SYN with a SYN-ACK. */
  answered(client: AddrKey, host: AddrKey, port: number): void {
    this.clients.get(client)?.answered(host, port);
    const t = this.targets.get(host);
    if (t) t.answered++;
  }

  /** `client` sent `host`:`port` a packet no TCP stack sends (packet `no`; `kind` from craftedKind). */
  craftedProbe(client: AddrKey, host: AddrKey, port: number, kind: number, no: number, ts: number): void {
    this.clients.entryFor(client, ts)?.craftedProbe(host, port, kind, no, ts);
  }

  /**
   * The scan `client` was running against `host`:`port`, if its attempts so far show one; the
   * texts name the scanner and the host in the mark. `startTs` is when the flow began, `syns` how
   * many SYNs it sent: a flow without one is a probe only beside crafted packets. `halfOpen`: the
   * flow sent one SYN and was never completed nor reset, as a flood's are (a client that failed
   * retries its SYN; one refused or reset belongs to a client, not to a flood).
   */
  scanOf(client: AddrKey, host: AddrKey, port: number, clientText: string, hostText: string, startTs = 0, syns = 1, halfOpen = false): ScanMark | null {
    const c = this.clients.get(client);
    const crafted = c?.crafted?.get(host);
    if (crafted && crafted.covers(startTs) && crafted.scanning) {
      const h = c!.byHost?.get(host);
      const pool = this.tallyPool;
      const m: ScanMark = {
        scanner: clientText,
        kind: crafted.fingerprinting ? 'os-fingerprint' : 'port-scan',
        target: hostText,
        targets: Math.max(crafted.kindsByPort.size, h === undefined ? 0 : pool.targets[h]),
        attempts: h === undefined ? 0 : pool.attempts[h],
        answered: h === undefined ? 0 : pool.answered[h],
        since: Math.min(crafted.firstTs, h === undefined ? Infinity : pool.firstTs[h]),
        crafted: { counts: [...crafted.counts], firstPacket: crafted.firstNo },
      };
      return m;
    }
    if (syns === 0) return null;
    const flood = syns === 1 && halfOpen ? c?.floodOf(host, port) : null;
    if (flood) return { scanner: clientText, kind: 'syn-flood', target: `${hostText}:${port}`, targets: 1, attempts: flood.attempts, answered: flood.answered, since: flood.firstTs };
    if (c && c.byHost !== null && c.byPort !== null) {
      const pool = this.tallyPool;
      const h = c.byHost.get(host);
      if (h !== undefined && pool.isScan(h, PORT_SCAN_MIN_PORTS)) return mark(clientText, 'port-scan', hostText, pool, h);
      const p = c.byPort.get(port);
      if (p !== undefined && pool.isScan(p, ADDRESS_SCAN_MIN_HOSTS)) return mark(clientText, 'address-scan', String(port), pool, p);
    }
    const t = this.targets.get(host);
    if (t?.isScanned) {
      return { scanner: clientText, kind: 'distributed-scan', target: hostText, targets: t.ports!.size, attempts: t.attempts, answered: t.answered, since: t.firstTs, sources: t.sources!.size, networks: t.networks!.size };
    }
    return null;
  }

  /** Clients tracked (for tests of the bound). */
  get size(): number {
    return this.clients.size;
  }

  /** Tallies of hosts and ports held for the clients tracked (for tests of the bound). */
  get tallies(): number {
    return this.tallyPool.inUse;
  }
}

/** The tally slot of `key` in `tallies` (one of client `c`'s maps), made if there is room, else -1. */
function tallyOf<K>(c: ClientAttempts, tallies: Map<K, number>, key: K, ts: number): number {
  const t = tallies.get(key);
  if (t !== undefined) return t;
  if (tallies.size >= MAX_TALLIES_PER_CLIENT && ts >= c.nextSweepTs) {
    for (const [k, v] of tallies) {
      if (c.pool.lastTs[v] >= ts - WINDOW_MICROS) continue;
      tallies.delete(k);
      c.pool.release(v);
    }
    c.nextSweepTs = ts + WINDOW_MICROS / 16;
  }
  if (tallies.size >= MAX_TALLIES_PER_CLIENT || c.pool.full) return -1;
  const slot = c.pool.take();
  tallies.set(key, slot);
  return slot;
}

function mark(scanner: string, kind: ScanMark['kind'], target: string, pool: TallyPool, t: number): ScanMark {
  return { scanner, kind, target, targets: pool.targets[t], attempts: pool.attempts[t], answered: pool.answered[t], since: pool.firstTs[t] };
}
