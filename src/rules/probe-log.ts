// Connection attempts per client, to tell a scan from failing connections. A client that sends
// SYNs to many ports of one host (a port scan) or to one port of many hosts (an address sweep),
// and is rarely answered with a SYN-ACK, is probing; its failed attempts are probes, not
// connections an application wanted. Thresholds and window are Zeek's (policy/misc/scan.zeek):
// 15 ports of one host, or 25 hosts on one port, within 5 minutes.
//
// Attempts are counted as their SYNs are seen, so by the time a probe's flow ends (after an RST
// and its close linger, or when the attempt is given up) the scan around it is already known.

export const PORT_SCAN_MIN_PORTS = 15;
export const ADDRESS_SCAN_MIN_HOSTS = 25;
/** A tally quiet for this long (packet time) starts over. */
const WINDOW_MICROS = 300_000_000;
/** Distinct targets remembered per tally: enough to pass the thresholds, not to list a scan. */
const MAX_TARGETS = 64;
/** Hosts and ports tallied per client; a client past them tallies only those it has. */
const MAX_TALLIES_PER_CLIENT = 1_024;
/** Clients tracked at once; clients quiet for the window are forgotten first. */
const MAX_CLIENTS = 16_384;

/** Attempts to one host (its ports are the targets) or to one port (its hosts are). */
class Tally<T> {
  readonly targets = new Set<T>();
  attempts = 0;
  /** Attempts answered with a SYN-ACK. */
  answered = 0;
  firstTs = 0;
  lastTs = -Infinity;

  add(target: T, ts: number): void {
    if (ts - this.lastTs > WINDOW_MICROS) {
      this.targets.clear();
      this.attempts = 0;
      this.answered = 0;
      this.firstTs = ts;
    }
    this.lastTs = ts;
    this.attempts++;
    if (this.targets.size < MAX_TARGETS) this.targets.add(target);
  }

  /** Enough distinct targets, and at most a quarter of the attempts answered. */
  isScan(minTargets: number): boolean {
    return this.targets.size >= minTargets && this.answered * 4 <= this.attempts;
  }
}

/** An address as a map key: an IPv4 address as a number, an IPv6 one as text. */
export type AddrKey = number | string;

/**
 * One client's attempts within the window. Most clients connect to one host:port only, so the
 * tallies start when a second target shows up; until then two fields count the first.
 */
class ClientAttempts {
  lastTs = -Infinity;
  firstTs = 0;
  firstHost: AddrKey | null = null;
  firstPort = -1;
  firstAttempts = 0;
  firstAnswered = 0;
  byHost: Map<AddrKey, Tally<number>> | null = null;
  byPort: Map<number, Tally<AddrKey>> | null = null;
  /** A full map is swept for quiet tallies at most once per WINDOW_MICROS / 16. */
  nextSweepTs = -Infinity;

  attempt(host: AddrKey, port: number, ts: number): void {
    if (ts - this.lastTs > WINDOW_MICROS) this.restart(ts);
    this.lastTs = ts;
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
      const h = tallyOf(this, this.byHost, this.firstHost, ts)!;
      const p = tallyOf(this, this.byPort, this.firstPort, ts)!;
      for (const t of [h, p]) {
        t.firstTs = this.firstTs;
        t.lastTs = ts;
        t.attempts = this.firstAttempts;
        t.answered = this.firstAnswered;
      }
      h.targets.add(this.firstPort);
      p.targets.add(this.firstHost);
    }
    tallyOf(this, this.byHost, host, ts)?.add(port, ts);
    tallyOf(this, this.byPort, port, ts)?.add(host, ts);
  }

  answered(host: AddrKey, port: number): void {
    if (this.byHost === null || this.byPort === null) {
      if (host === this.firstHost && port === this.firstPort) this.firstAnswered++;
      return;
    }
    const h = this.byHost.get(host);
    if (h) h.answered++;
    const p = this.byPort.get(port);
    if (p) p.answered++;
  }

  private restart(ts: number): void {
    this.firstTs = ts;
    this.firstHost = null;
    this.firstPort = -1;
    this.firstAttempts = 0;
    this.firstAnswered = 0;
    this.byHost = null;
    this.byPort = null;
  }
}

/** What a flow's client was doing when the flow ended: scanning `target`. */
export interface ScanMark {
  scanner: string;
  kind: 'port-scan' | 'address-scan';
  /** The host whose ports were scanned, or the port swept across hosts. */
  target: string;
  /** Distinct ports (port scan) or hosts (address sweep) probed so far, counted up to 64. */
  targets: number;
  attempts: number;
  answered: number;
  /** First attempt of the tally (µs). */
  since: number;
}

export class ProbeLog {
  private readonly clients = new Map<AddrKey, ClientAttempts>();
  /** After a look for quiet clients that freed too little, the next waits until this packet time. */
  private nextForgetTs = -Infinity;

  /** `client` sent a SYN opening a connection to `host`:`port`. */
  attempt(client: AddrKey, host: AddrKey, port: number, ts: number): void {
    this.clientFor(client, ts)?.attempt(host, port, ts);
  }

  /** `host`:`port` answered `client`'s SYN with a SYN-ACK. */
  answered(client: AddrKey, host: AddrKey, port: number): void {
    this.clients.get(client)?.answered(host, port);
  }

  /**
   * The scan `client` was running against `host`:`port`, if its attempts so far show one; the
   * texts name the scanner and the host in the mark.
   */
  scanOf(client: AddrKey, host: AddrKey, port: number, clientText: string, hostText: string): ScanMark | null {
    const c = this.clients.get(client);
    if (!c || c.byHost === null || c.byPort === null) return null;
    const h = c.byHost.get(host);
    if (h?.isScan(PORT_SCAN_MIN_PORTS)) return mark(clientText, 'port-scan', hostText, h);
    const p = c.byPort.get(port);
    if (p?.isScan(ADDRESS_SCAN_MIN_HOSTS)) return mark(clientText, 'address-scan', String(port), p);
    return null;
  }

  /** Clients tracked (for tests of the bound). */
  get size(): number {
    return this.clients.size;
  }

  private clientFor(client: AddrKey, ts: number): ClientAttempts | null {
    let c = this.clients.get(client);
    if (c) return c;
    if (this.clients.size >= MAX_CLIENTS && ts >= this.nextForgetTs) {
      for (const [k, v] of this.clients) if (v.lastTs < ts - WINDOW_MICROS) this.clients.delete(k);
      // Little freed: every client is busy. New clients go untracked for a while rather than each
      // paying for a look over all the others.
      if (this.clients.size > (MAX_CLIENTS * 7) / 8) this.nextForgetTs = ts + WINDOW_MICROS / 16;
    }
    if (this.clients.size >= MAX_CLIENTS) return null;
    this.clients.set(client, (c = new ClientAttempts()));
    return c;
  }
}

function tallyOf<K, T>(c: ClientAttempts, tallies: Map<K, Tally<T>>, key: K, ts: number): Tally<T> | null {
  let t = tallies.get(key);
  if (t) return t;
  if (tallies.size >= MAX_TALLIES_PER_CLIENT && ts >= c.nextSweepTs) {
    for (const [k, v] of tallies) if (v.lastTs < ts - WINDOW_MICROS) tallies.delete(k);
    c.nextSweepTs = ts + WINDOW_MICROS / 16;
  }
  if (tallies.size >= MAX_TALLIES_PER_CLIENT) return null;
  tallies.set(key, (t = new Tally<T>()));
  return t;
}

function mark<T>(scanner: string, kind: ScanMark['kind'], target: string, t: Tally<T>): ScanMark {
  return { scanner, kind, target, targets: t.targets.size, attempts: t.attempts, answered: t.answered, since: t.firstTs };
}
