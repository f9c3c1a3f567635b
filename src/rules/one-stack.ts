import type { CaptureRule, FlowDigest } from './capture-rules.js';
import { initialTtl } from './facts.js';
import { plural } from './format.js';
import type { Verdict } from './verdict.js';
import { grownColumn } from '../flow/columns.js';

// Answers to one client from many server addresses that one IP stack sent. An IPv4 stack numbers
// the packets it sends (the IP ID), and many stacks use one counter for every destination; no two
// hosts share one. So when the SYN-ACKs and RSTs that different "servers" sent to a client carry
// IDs that continue each other, in capture order, within the packets sent between them, one device
// made them all. With SYN-ACKs among them it is a NAT or proxy that completes each handshake itself
// and answers with a RST when its own connect fails (VirtualBox and QEMU user-mode networking,
// slirp4netns and pasta for rootless containers, a transparent proxy); with RSTs alone it may as
// well be a firewall or IPS rejecting connections in the servers' names. Either way the refusals
// and resets said of those servers are the device's. Wireshark and Zeek take each source address
// at its word.

/** Answers kept per client host, in the order the flows end: enough to see a counter, bounded. */
const MAX_ANSWERS_PER_CLIENT = 1_024;
/** Client hosts whose answers are kept; past this, a client with answers from too few addresses to tell gives its place up. */
const MAX_CLIENTS = 64;
/**
 * Two answers are compared only when the packets between them leave an ID step this small at most:
 * a step drawn at random falls within it at most once in 16 times, so a run of fits is no chance.
 */
const MAX_INFORMATIVE_STEP = 4_096;
/** Fits needed, from this many server addresses, and their share of the informative pairs. */
const MIN_FITS = 8;
const MIN_ADDRESSES = 5;
const MIN_FIT_SHARE = 0.9;
/** Flow ids listed in the verdict's facts. */
const MAX_LISTED_FLOWS = 100;

const KIND = { SYN_ACK: 0, RST: 1 } as const;

/** Answers a client's columns make room for at first; they double up to MAX_ANSWERS_PER_CLIENT. */
const INITIAL_ANSWERS = 16;

/**
 * One client's answers: packet number, IPv4 ID, TTL, kind, server address index and flow, in
 * parallel columns. A capture of many clients hands these places from client to client once
 * every flow or so: the columns are kept and refilled, not made again for each.
 */
class ClientAnswers {
  count = 0;
  no = new Float64Array(INITIAL_ANSWERS);
  flow = new Float64Array(INITIAL_ANSWERS);
  id = new Uint16Array(INITIAL_ANSWERS);
  ttl = new Uint8Array(INITIAL_ANSWERS);
  kind = new Uint8Array(INITIAL_ANSWERS);
  server = new Uint16Array(INITIAL_ANSWERS);
  /** Server addresses, the first `serverCount` of them this client's. */
  readonly servers: string[] = [];
  serverCount = 0;
  /** Made at a second server address: most clients of a busy capture have one. */
  private serverIndex: Map<string, number> | null = null;
  /** The client's address, and its neighbours in the order of the clients' latest answers. */
  ip = '';
  older: ClientAnswers | null = null;
  newer: ClientAnswers | null = null;

  /** Empty again, for another client. */
  clear(): this {
    this.count = 0;
    this.serverCount = 0;
    this.serverIndex = null;
    return this;
  }

  add(no: number, id: number, ttl: number, kind: number, serverIp: string, flowId: number): void {
    const i = this.count;
    if (i >= MAX_ANSWERS_PER_CLIENT) return;
    if (i === this.no.length) this.grow();
    this.server[i] = this.indexOf(serverIp);
    this.no[i] = no;
    this.id[i] = id;
    this.ttl[i] = ttl;
    this.kind[i] = kind;
    this.flow[i] = flowId;
    this.count = i + 1;
  }

  /** The server address's index in `servers`, added if new. */
  private indexOf(serverIp: string): number {
    const servers = this.servers;
    if (this.serverCount === 0) servers[this.serverCount++] = serverIp;
    if (this.serverCount === 1 && servers[0] === serverIp) return 0;
    if (this.serverIndex === null) this.serverIndex = new Map([[servers[0], 0]]);
    let s = this.serverIndex.get(serverIp);
    if (s === undefined) {
      s = this.serverCount++;
      servers[s] = serverIp;
      this.serverIndex.set(serverIp, s);
    }
    return s;
  }

  private grow(): void {
    const capacity = Math.min(MAX_ANSWERS_PER_CLIENT, this.no.length * 2);
    this.no = grownColumn(this.no, capacity);
    this.flow = grownColumn(this.flow, capacity);
    this.id = grownColumn(this.id, capacity);
    this.ttl = grownColumn(this.ttl, capacity);
    this.kind = grownColumn(this.kind, capacity);
    this.server = grownColumn(this.server, capacity);
  }
}

interface SharedCounter {
  clientIp: string;
  /** Server addresses whose answers continued the counter. */
  addresses: string[];
  fits: number;
  informative: number;
  /** Fitting steps with a SYN-ACK at either end: the device completed handshakes. */
  synAckSteps: number;
  /** Hops the fitting answers crossed after the device, the most of them (TTL below its initial value); -1: not told. */
  hops: number;
  ttl: number;
  /** The fitting answers' TTLs when none crossed a router, lowest first (a device may start its SYN-ACKs and its RSTs at different TTLs). */
  ttlsAsSent: number[];
  flows: number[];
  /** The first fitting pair. */
  example: { a: number; aFrom: string; aId: number; b: number; bFrom: string; bId: number };
}

/** Hops past which a TTL's initial value is no longer told apart: no path on the internet is longer. */
const MAX_HOPS = 30;

/** Hops a packet arriving with this TTL crossed (32 was the start on a few old stacks); -1 when no initial value explains it within MAX_HOPS. */
function hopsCrossed(ttl: number): number {
  const initial = ttl <= 32 ? 32 : initialTtl(ttl);
  return initial !== null && initial - ttl <= MAX_HOPS ? initial - ttl : -1;
}

/** The /24 of a dotted IPv4 address. */
const network24 = (ip: string) => ip.slice(0, ip.lastIndexOf('.'));

/** The ID counter one stack shares over a client's answers, if its answers show one. */
function sharedCounter(clientIp: string, c: ClientAnswers): SharedCounter | null {
  const order = Array.from({ length: c.count }, (_, i) => i).sort((x, y) => c.no[x] - c.no[y]);
  let fits = 0;
  let informative = 0;
  let synAckSteps = 0;
  const fitting = new Set<number>();
  const fittingAnswers = new Set<number>();
  let example: SharedCounter['example'] | null = null;
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1];
    const b = order[k];
    // One server's own answers share its counter whoever it is: only a change of address tells.
    if (c.server[a] === c.server[b]) continue;
    const gap = c.no[b] - c.no[a];
    // The device's counter moves once per packet it sends, so at most `gap` between the two when
    // every packet between them is its own; twice that and 8 more leave room for packets it sent
    // that the capture does not hold (to another guest, another interface).
    const bound = 2 * gap + 8;
    if (gap <= 0 || bound >= MAX_INFORMATIVE_STEP) continue;
    informative++;
    const step = (c.id[b] - c.id[a]) & 0xffff;
    if (step < 1 || step > bound) continue;
    fits++;
    if (c.kind[a] === KIND.SYN_ACK || c.kind[b] === KIND.SYN_ACK) synAckSteps++;
    fitting.add(c.server[a]).add(c.server[b]);
    fittingAnswers.add(a).add(b);
    example ??= { a: c.no[a], aFrom: c.servers[c.server[a]], aId: c.id[a], b: c.no[b], bFrom: c.servers[c.server[b]], bId: c.id[b] };
  }
  if (example === null || fits < MIN_FITS || fitting.size < MIN_ADDRESSES || fits < MIN_FIT_SHARE * informative) return null;
  const addresses = [...fitting].map((s) => c.servers[s]);
  // One network's addresses may all be one host's (a server with many addresses): no device is shown.
  if (new Set(addresses.map(network24)).size === 1) return null;
  // The farthest answer: a device is no nearer than its answers show. -1 when a TTL tells no distance.
  let hops = 0;
  let ttl = 0;
  for (const i of fittingAnswers) {
    const h = hopsCrossed(c.ttl[i]);
    if (h === -1 || h >= hops) {
      hops = h;
      ttl = c.ttl[i];
    }
    if (hops === -1) break;
  }
  const ttlsAsSent = hops === 0 ? [...new Set([...fittingAnswers].map((i) => c.ttl[i]))].sort((x, y) => x - y) : [];
  const flows = new Set<number>();
  for (let i = 0; i < c.count; i++) if (fitting.has(c.server[i])) flows.add(c.flow[i]);
  return { clientIp, addresses, fits, informative, synAckSteps, hops, ttl, ttlsAsSent, flows: [...flows].sort((x, y) => x - y), example };
}

const hex = (id: number) => `0x${id.toString(16).padStart(4, '0')}`;

function verdictOf(s: SharedCounter): Verdict {
  const e = s.example;
  const client = s.clientIp;
  const named = s.addresses.slice(0, 4).join(', ') + (s.addresses.length > 4 ? ` and ${s.addresses.length - 4} more` : '');
  const handshakes = s.synAckSteps > 0;
  const where =
    s.hops === 0
      ? `no router away from the capture point (the answers' ${s.ttlsAsSent.length === 1 ? `TTL ${s.ttl} is` : `TTLs ${s.ttlsAsSent.join(' and ')} are`} as sent)`
      : s.hops > 0
        ? `about ${plural(s.hops, 'hop')} before the capture point (TTL ${s.ttl})`
        : `at a distance the answers' TTL does not tell (TTL ${s.ttl})`;
  const who = handshakes
    ? `A NAT or proxy ${where} answers for these servers, so the refusals, resets and handshake times said of them in ${plural(s.flows.length, 'flow')} are its own, and what the servers sent is not in the capture`
    : `One device ${where} sent these RSTs in the servers' names (a firewall or IPS rejecting the connections, or a NAT or proxy whose own connections failed), so the refusals and resets said of these servers in ${plural(s.flows.length, 'flow')} are its own; what the servers themselves answered, if anything, is not in the capture`;
  return {
    code: 'one-stack-answers',
    severity: 'warning',
    summary: `the ${handshakes ? 'SYN-ACKs and RSTs' : 'RSTs'} that ${plural(s.addresses.length, 'server address', 'server addresses')} (${named}) sent to ${client} came from one IP stack: their IPv4 IDs continue one counter from address to address (${s.fits} of ${s.informative} changes of address; #${e.a} from ${e.aFrom} ID ${hex(e.aId)}, then #${e.b} from ${e.bFrom} ID ${hex(e.bId)}). ${who}`,
    packets: [e.a, e.b],
    facts: {
      clientIp: client,
      addresses: s.addresses.slice(0, 100),
      addressCount: s.addresses.length,
      fits: s.fits,
      informativePairs: s.informative,
      handshakes,
      hops: s.hops,
      flows: s.flows.length,
      flowIds: s.flows.slice(0, MAX_LISTED_FLOWS),
      examplePackets: [e.a, e.b],
    },
    hint: handshakes
      ? s.hops === 0
        ? `A device no router away from the capture point completes each handshake itself, and answers with a RST or an ICMP error when its own connection to the server is refused or cannot be made, with nothing while it is still trying, and with a SYN-ACK only once that connection is up: VirtualBox or QEMU user-mode networking (the guest at 10.0.2.15), slirp4netns or pasta for rootless containers, or a local transparent proxy. Capture on the device's outside (the VM host's or container host's external interface) to see what the servers answered, and read the refused and reset verdicts of these flows as the device's.`
        : `A device on the path (a transparent proxy, a load balancer, a NAT that terminates connections) completes each handshake itself and answers with a RST when its own connection to the server fails. Capture beyond it to see what the servers answered, and read the refused and reset verdicts of these flows as the device's.`
      : `A firewall or intrusion prevention system rejecting connections with RSTs it makes in the servers' names (iptables REJECT --reject-with tcp-reset, a Snort or Suricata reject rule), or a NAT or proxy whose own connections failed, sent these RSTs. Find the device (${where}) and its rule or log for these servers; capture beyond it to see whether the servers answer at all.`,
  };
}

export const oneStackAnswers: CaptureRule = {
  code: 'one-stack-answers',
  start() {
    // In the order of their latest answer, oldest first: a client moves to the end of this list as
    // it answers (moving its Map entry instead would make the Map allocate a new table every few
    // dozen answers).
    const clients = new Map<string, ClientAnswers>();
    let oldest: ClientAnswers | null = null;
    let newest: ClientAnswers | null = null;
    const moveToNewest = (c: ClientAnswers): void => {
      if (newest === c) return;
      if (c.older) c.older.newer = c.newer;
      if (c.newer) c.newer.older = c.older;
      if (oldest === c) oldest = c.newer;
      c.older = newest;
      c.newer = null;
      if (newest) newest.newer = c;
      newest = c;
      oldest ??= c;
    };
    const answersOf = (f: FlowDigest): ClientAnswers | null => {
      let c = clients.get(f.clientIp) ?? null;
      if (!c) {
        if (clients.size < MAX_CLIENTS) c = new ClientAnswers();
        else {
          // A busy server's capture fills the places with clients of one server each: of those, the
          // one longest without an answer gives its place up.
          c = oldest;
          while (c && c.serverCount >= MIN_ADDRESSES) c = c.newer;
          if (!c) return null;
          clients.delete(c.ip);
          c.clear();
        }
        c.ip = f.clientIp;
        clients.set(f.clientIp, c);
      }
      moveToNewest(c);
      return c;
    };
    return {
      observe(f) {
        const s = f.serverSide;
        const rstId = s.rstIpId ?? 0;
        const synAck = f.synAcks[0];
        // An answer counts with its IPv4 ID and TTL (IPv6 has no ID: its answers are never kept).
        const withSynAck = synAck !== undefined && synAck.ipId > 0 && s.ttl != null;
        const withRst = s.rst !== null && rstId > 0 && s.rstTtl !== undefined && s.rstTtl >= 0;
        if ((!withSynAck && !withRst) || f.serverIp === undefined) return;
        const c = answersOf(f);
        if (!c) return;
        if (withSynAck) c.add(synAck.no, synAck.ipId, s.ttl!, KIND.SYN_ACK, f.serverIp, f.id);
        if (withRst) c.add(s.rst!.no, rstId, s.rstTtl!, KIND.RST, f.serverIp, f.id);
      },
      retained() {
        let n = 0;
        for (const c of clients.values()) n += c.count;
        return n;
      },
      verdicts(): Verdict[] {
        const out: Verdict[] = [];
        for (let c = oldest; c; c = c.newer) {
          const s = sharedCounter(c.ip, c);
          if (s) out.push(verdictOf(s));
        }
        return out;
      },
    };
  },
};
