// DnsLog: the DNS lookups of a capture, kept in bounded memory as their packets are read, for two
// questions: where did the address of a failing connection come from (an answer in this capture,
// or none although the client's lookups are in it), and which lookups failed (never answered,
// SERVFAIL, NXDOMAIN, slow). rules/dns-rules.ts turns the outcomes into verdicts. An address comes
// from an A or AAAA answer, or from the ipv4hint/ipv6hint of an HTTPS or SVCB answer (RFC 9460),
// which browsers connect to; a name asked for may itself be the target an HTTPS/SVCB record named.
//
// A lookup is one client asking one name and type: its retries (same ID again, or a new ID, to the
// same or another server) belong to it until an answer comes or it has been quiet for
// LOOKUP_QUIET_MICROS. Memory: at most MAX_PENDING lookups (the least recently active one is
// finished early), ANSWERS_PER_ADDRESS answers for each of at most MAX_ADDRESSES addresses and
// MAX_CLIENTS clients (least recently used forgotten first, and then no absence of an answer is
// claimed), MAX_GROUPS failure groups per verdict code (the rest counted).

import { formatAddr } from '../decode/addr.js';
import type { PacketView } from '../decode/view.js';
import { FifoMap } from './fifo-map.js';
import { ms } from './format.js';
import { DNS_ERROR, RCODE, RR_TYPE, isDnsError, parseDnsMessage, type DnsMessage, type DnsParseError } from '../dissect/dns.js';

export const DNS_LOG_LIMITS = {
  MAX_PENDING: 10_000,
  /** A lookup with no new query for this long (packet time) is over: resolvers give up within 30 s. */
  LOOKUP_QUIET_MICROS: 30_000_000,
  MAX_ADDRESSES: 50_000,
  ANSWERS_PER_ADDRESS: 4,
  MAX_CLIENTS: 50_000,
  /** Names a client resolved, to tell a failed lookup that a later one made good. */
  MAX_RESOLVED: 50_000,
  /** Names an HTTPS/SVCB record sent a client on to (alias or service targets). */
  MAX_TARGETS: 50_000,
  MAX_GROUPS: 1_000,
  IDS_PER_LOOKUP: 4,
  SERVERS_PER_LOOKUP: 8,
} as const;

export const DNS_READ = {
  READ: 0,
  NOT_DNS: 1,
  CUT: 2,
} as const;
export type DnsReadStatus = (typeof DNS_READ)[keyof typeof DNS_READ];

/** An answer later than this after the lookup's first query is slow (glibc's first retry comes after 5 s; users notice 1 s). */
export const DNS_SLOW_MICROS = 1_000_000;
/** A lookup counts as never answered once the capture went on this long after its first query. */
const DNS_NO_ANSWER_MICROS = 1_000_000;

export type DnsFailureCode = 'dns-no-answer' | 'dns-servfail' | 'dns-nxdomain' | 'dns-slow';

/** The HTTPS or SVCB record whose address hint gave the address (RFC 9460 section 7.3). */
export interface DnsHintSource {
  record: 'HTTPS' | 'SVCB';
  key: 'ipv4hint' | 'ipv6hint';
}

/** The HTTPS or SVCB record that named the name the client then asked for. */
export interface DnsServiceTarget {
  record: 'HTTPS' | 'SVCB';
  /** alias: an AliasMode record (priority 0); service: a ServiceMode record's TargetName. */
  mode: 'alias' | 'service';
  /** The record's owner name. */
  owner: string;
  answerPacket: number;
}

/** Where a connection's server address came from, as far as the capture shows. */
export type DnsOrigin =
  | {
      /** The name the client asked for; `owner` is the record's own name when a CNAME led there. */
      name: string;
      owner: string;
      answerPacket: number;
      resolver: string;
      /** The client the answer went to (another host when the capture point sees several). */
      answeredTo: string;
      msBeforeConnect: number;
      /** Present when the address was a hint in an HTTPS/SVCB record, not an A/AAAA record. */
      hint?: DnsHintSource;
      /** Present when an HTTPS/SVCB record in an earlier answer named `name`. */
      targetOf?: DnsServiceTarget;
    }
  | {
      name: null;
      /** The client's first DNS query in this capture, before it connected: its lookups are visible. */
      clientFirstQuery: number;
    };

/** One client's failing lookups of one name, for one verdict code. */
export interface DnsFailureGroup {
  code: DnsFailureCode;
  client: string;
  name: string;
  type: number;
  /** Lookups of this name by this client that ended this way. */
  lookups: number;
  /** Queries sent over those lookups (retries included; 0 when only the answer was captured). */
  queries: number;
  /** Queries sent after the client had waited (see RETRY_GAP_MICROS). */
  retries: number;
  servers: string[];
  firstQuery: number;
  lastQuery: number;
  firstTs: number;
  lastTs: number;
  /** The answer (SERVFAIL, NXDOMAIN, slow): packet, server, delay after the first query. */
  answerPacket: number;
  answeredBy: string;
  delayMicros: number;
  transport: 'udp' | 'tcp';
  /** An ICMP error that answered one of its queries: the server's host or port unreachable. */
  unreachable: DnsUnreachable | null;
}

export interface DnsUnreachable {
  /** The ICMP error's packet, who sent it (the server or a router), what it says, and the server it was about. */
  no: number;
  from: string;
  meaning: string;
  server: string;
}

interface Lookup {
  client: string;
  name: string;
  type: number;
  /** Index keys of its queries' transactions (client, client port, ID): how an answer finds its lookup. */
  transactions: string[];
  /** Queries sent at least RETRY_GAP_MICROS after the previous one: the client waited and asked again. */
  retries: number;
  servers: string[];
  queries: number;
  firstNo: number;
  firstTs: number;
  lastNo: number;
  lastTs: number;
  transport: 'udp' | 'tcp';
  unreachable: DnsUnreachable | null;
}

interface RememberedAnswer {
  name: string;
  owner: string;
  no: number;
  ts: number;
  client: string;
  resolver: string;
  hint?: DnsHintSource;
  targetOf?: DnsServiceTarget;
}

/** A query this soon after the previous one of its lookup is a copy or a parallel send, not a retry after waiting. */
const RETRY_GAP_MICROS = 200_000;

/** Only address lookups explain a connection never made (a failed PTR lookup does not). */
const isAddressType = (type: number) => type === RR_TYPE.A || type === RR_TYPE.AAAA;

/** How long before a failed lookup a related name's answer still counts as the client's search list making it good. */
const SEARCH_LIST_WINDOW_MICROS = 5_000_000;

interface ClientDns {
  firstQueryNo: number;
  firstQueryTs: number;
  /** 0 until an answer to this client is seen. */
  firstAnswerTs: number;
}

const lookupKey = (client: string, name: string, type: number) => `${client} ${type} ${name}`;
/** The client port ("client port") of a transaction key ("client port ID"). */
const portOf = (tx: string) => tx.slice(0, tx.lastIndexOf(' '));

export class DnsLog {
  private readonly pending = new FifoMap<string, Lookup>();
  private readonly addresses = new FifoMap<string, RememberedAnswer[]>();
  /** Per client, its first query and its first answer (the capture sees its DNS both ways). */
  private readonly clients = new FifoMap<string, ClientDns>();
  /** Open transactions (client, client port, ID) to their lookup. */
  private readonly transactions = new Map<string, Lookup>();
  /**
   * The waiting lookups with a transaction on each client port ("client port"): where an ICMP error
   * about a query looks for its lookup. One socket may carry several lookups (A and AAAA at once).
   */
  private readonly byClientPort = new Map<string, Lookup[]>();
  private readonly resolved = new FifoMap<string, number>();
  /** Per client and name, the HTTPS/SVCB record that named it. */
  private readonly targets = new FifoMap<string, DnsServiceTarget>();
  private readonly groups = new Map<string, DnsFailureGroup>();
  private readonly groupCounts: Record<DnsFailureCode, number> = { 'dns-no-answer': 0, 'dns-servfail': 0, 'dns-nxdomain': 0, 'dns-slow': 0 };
  /** Groups beyond MAX_GROUPS, per code: counted, not kept. */
  readonly groupsDropped: Record<DnsFailureCode, number> = { 'dns-no-answer': 0, 'dns-servfail': 0, 'dns-nxdomain': 0, 'dns-slow': 0 };
  /** Something that may have named an address went unread or was forgotten: absence is not claimed. */
  private absenceUnprovable = false;
  private finished = false;

  /**
   * A UDP port-53 datagram from the decoder: READ, or why not: NOT_DNS (bytes that are not a DNS
   * message) or CUT (the snap length removed the header or the question).
   */
  udpPacket(v: PacketView, no: number, tsMicros: number): DnsReadStatus {
    const version = v.ipVersion === 6 ? 6 : 4;
    const result = parseDnsMessage(v.bytes, v.payloadOff, v.payloadOff + v.payloadCaptured, v.payloadLen);
    if (this.message(result, formatAddr(v.src, version), v.srcPort, formatAddr(v.dst, version), v.dstPort, no, tsMicros, 'udp')) return DNS_READ.READ;
    return v.payloadCaptured < v.payloadLen && (result as DnsParseError).error === DNS_ERROR.TRUNCATED ? DNS_READ.CUT : DNS_READ.NOT_DNS;
  }

  /** A message read from a TCP port-53 stream, with the addresses and ports of its sender and receiver. */
  tcpMessage(result: DnsMessage | DnsParseError, from: string, fromPort: number, to: string, toPort: number, no: number, tsMicros: number): boolean {
    return this.message(result, from, fromPort, to, toPort, no, tsMicros, 'tcp');
  }

  /** A TCP DNS message whose addresses could not be told: it may have named an address. */
  unplacedMessage(): void {
    this.absenceUnprovable = true;
  }

  private message(result: DnsMessage | DnsParseError, from: string, fromPort: number, to: string, toPort: number, no: number, ts: number, transport: 'udp' | 'tcp'): boolean {
    if (isDnsError(result)) {
      this.absenceUnprovable = true;
      return false;
    }
    this.expire(ts);
    // Only standard queries are lookups (not NOTIFY, UPDATE...).
    if (result.opcode !== 0) return true;
    if (result.response) this.response(result, to, toPort, from, no, ts, transport);
    else this.query(result, from, fromPort, to, no, ts, transport);
    return true;
  }

  private client(ip: string): ClientDns {
    let c = this.clients.get(ip);
    if (!c) {
      c = { firstQueryNo: 0, firstQueryTs: 0, firstAnswerTs: 0 };
      if (this.clients.setNewest(ip, c, DNS_LOG_LIMITS.MAX_CLIENTS)) this.absenceUnprovable = true;
    }
    return c;
  }

  private query(m: DnsMessage, client: string, clientPort: number, server: string, no: number, ts: number, transport: 'udp' | 'tcp'): void {
    const c = this.client(client);
    if (c.firstQueryNo === 0) {
      c.firstQueryNo = no;
      c.firstQueryTs = ts;
    }
    const port = `${client} ${clientPort}`;
    const tx = `${port} ${m.id}`;
    const q = m.questions[0];
    const key = lookupKey(client, q.name, q.type);
    let l = this.pending.get(key);
    if (l) {
      this.pending.delete(key); // re-inserted below: the Map stays in order of last activity
      l.queries++;
      if (ts - l.lastTs >= RETRY_GAP_MICROS) l.retries++;
      l.lastNo = no;
      l.lastTs = ts;
      if (!l.transactions.includes(tx)) {
        if (l.transactions.length >= DNS_LOG_LIMITS.IDS_PER_LOOKUP) this.forgetTransaction(l.transactions.shift()!, l);
        l.transactions.push(tx);
        this.joinPort(port, l);
      }
      if (!l.servers.includes(server) && l.servers.length < DNS_LOG_LIMITS.SERVERS_PER_LOOKUP) l.servers.push(server);
    } else {
      if (this.pending.size >= DNS_LOG_LIMITS.MAX_PENDING) {
        const oldKey = this.pending.firstKey()!;
        const old = this.pending.get(oldKey)!;
        this.endLookup(oldKey, old);
        this.finishUnanswered(old, ts);
      }
      l = { client, name: q.name, type: q.type, transactions: [tx], retries: 0, servers: [server], queries: 1, firstNo: no, firstTs: ts, lastNo: no, lastTs: ts, transport, unreachable: null };
      this.joinPort(port, l);
    }
    this.pending.set(key, l);
    this.transactions.set(tx, l);
  }

  /**
   * An ICMP error quoting a query from client:clientPort to server port 53 (`id`: its DNS ID, or -1
   * when the quote stops before it): the lookup still waiting on that query learns why no answer came.
   */
  unreachable(client: string, clientPort: number, server: string, id: number, u: Omit<DnsUnreachable, 'server'>): void {
    // Looked for among the lookups of that client port only, not over every waiting lookup: a DNS
    // server that is down answers each query with an ICMP error while thousands of lookups wait.
    // The one waiting longest since its last query that asked this server takes it, as the error
    // follows a query by a round trip; with the DNS ID quoted, only a lookup that used that ID.
    const port = `${client} ${clientPort}`;
    const waiting = this.byClientPort.get(port);
    if (!waiting) return;
    const tx = id >= 0 ? `${port} ${id}` : null;
    let oldest: Lookup | null = null;
    for (const l of waiting) {
      if (l.unreachable || !l.servers.includes(server) || (tx !== null && !l.transactions.includes(tx))) continue;
      if (oldest === null || l.lastTs < oldest.lastTs) oldest = l;
    }
    if (oldest) oldest.unreachable = { ...u, server };
  }

  private endLookup(key: string, l: Lookup): void {
    this.pending.delete(key);
    for (const tx of l.transactions) {
      if (this.transactions.get(tx) === l) this.transactions.delete(tx);
      this.leavePort(portOf(tx), l);
    }
  }

  /** Lookup `l` no longer waits on transaction `tx` (one of more than IDS_PER_LOOKUP), nor on its client port unless another of its transactions uses it. */
  private forgetTransaction(tx: string, l: Lookup): void {
    if (this.transactions.get(tx) === l) this.transactions.delete(tx);
    const port = portOf(tx);
    if (!l.transactions.some((t) => portOf(t) === port)) this.leavePort(port, l);
  }

  private joinPort(port: string, l: Lookup): void {
    const waiting = this.byClientPort.get(port);
    if (!waiting) this.byClientPort.set(port, [l]);
    else if (!waiting.includes(l)) waiting.push(l);
  }

  private leavePort(port: string, l: Lookup): void {
    const waiting = this.byClientPort.get(port);
    const at = waiting ? waiting.indexOf(l) : -1;
    if (at < 0) return;
    if (waiting!.length === 1) this.byClientPort.delete(port);
    else waiting!.splice(at, 1);
  }

  private response(m: DnsMessage, client: string, clientPort: number, server: string, no: number, ts: number, transport: 'udp' | 'tcp'): void {
    if (m.unreadServices > 0 || m.cut || m.services.some((r) => r.hintsLeftOut > 0)) this.absenceUnprovable = true;
    const c = this.client(client);
    if (c.firstAnswerTs === 0) c.firstAnswerTs = ts;
    const q = m.questions[0];
    // The answer's transaction (client port and ID) finds its query, whatever name it repeats.
    const l = this.transactions.get(`${client} ${clientPort} ${m.id}`);
    const matched = l !== undefined;
    // A truncated UDP answer sends the client to TCP: the lookup goes on there.
    if (m.truncated && m.answers.length === 0 && m.services.length === 0 && m.rcode === RCODE.NOERROR) return;
    if (l) this.endLookup(lookupKey(l.client, l.name, l.type), l);
    const targetOf = this.targets.get(`${client} ${q.name}`);
    for (const a of m.answers) {
      if (!isAddressType(a.type)) continue;
      this.rememberAddress(a.data, { name: q.name, owner: a.name, no, ts, client, resolver: server, ...(targetOf && { targetOf }) });
    }
    for (const r of m.services) {
      const record = r.type === RR_TYPE.HTTPS ? 'HTTPS' : 'SVCB';
      for (const address of r.ipv4Hints) this.rememberAddress(address, { name: q.name, owner: r.name, no, ts, client, resolver: server, hint: { record, key: 'ipv4hint' } });
      for (const address of r.ipv6Hints) this.rememberAddress(address, { name: q.name, owner: r.name, no, ts, client, resolver: server, hint: { record, key: 'ipv6hint' } });
      // The root as TargetName is the owner itself in ServiceMode, and "no service" in AliasMode.
      if (r.target !== '' && r.target !== r.name) this.rememberTarget(client, r.target, { record, mode: r.priority === 0 ? 'alias' : 'service', owner: r.name, answerPacket: no });
    }
    if (m.rcode === RCODE.NOERROR && (m.answers.length > 0 || m.services.length > 0)) this.markResolved(client, q.name, ts);
    const lookup: Lookup = matched
      ? l!
      : { client, name: q.name, type: q.type, transactions: [], retries: 0, servers: [server], queries: 0, firstNo: no, firstTs: ts, lastNo: no, lastTs: ts, transport, unreachable: null };
    const delay = ts - lookup.firstTs;
    // A second server's answer to a lookup already ended adds nothing.
    if (!matched && m.rcode !== RCODE.NOERROR && this.groups.has(`${m.rcode === RCODE.SERVFAIL ? 'dns-servfail' : 'dns-nxdomain'} ${client} ${q.name}`)) return;
    if (m.rcode === RCODE.SERVFAIL) this.addFailure('dns-servfail', lookup, no, server, delay);
    else if (m.rcode === RCODE.NXDOMAIN) this.addFailure('dns-nxdomain', lookup, no, server, delay);
    else if (matched && delay > DNS_SLOW_MICROS) this.addFailure('dns-slow', lookup, no, server, delay);
  }

  private rememberAddress(address: string, answer: RememberedAnswer): void {
    const list = this.addresses.get(address) ?? [];
    if (list.length >= DNS_LOG_LIMITS.ANSWERS_PER_ADDRESS) list.shift();
    list.push(answer);
    if (this.addresses.setNewest(address, list, DNS_LOG_LIMITS.MAX_ADDRESSES)) this.absenceUnprovable = true;
  }

  /**
   * Marks the name resolved, and each label prefix of it as the start of a resolved name ("a" and
   * "a.corp" of "a.corp.example"), so that a search-list step is recognised either way round.
   */
  private markResolved(client: string, name: string, ts: number): void {
    this.remember(`${client} =${name}`, ts);
    for (let at = name.indexOf('.'); at >= 0; at = name.indexOf('.', at + 1)) this.remember(`${client} <${name.slice(0, at)}`, ts);
  }

  private rememberTarget(client: string, name: string, target: DnsServiceTarget): void {
    this.targets.setNewest(`${client} ${name}`, target, DNS_LOG_LIMITS.MAX_TARGETS);
  }

  private remember(key: string, ts: number): void {
    this.resolved.setNewest(key, ts, DNS_LOG_LIMITS.MAX_RESOLVED);
  }

  /**
   * The client resolved this name since `since`, or made the failure good through its search list:
   * a longer name starting with it ("app" failed, "app.corp.example" resolved), or a shorter name
   * it starts with ("www.example.com.corp" failed, "www.example.com" resolved).
   */
  private resolvedSince(client: string, name: string, since: number): boolean {
    const at = (key: string) => {
      const when = this.resolved.get(key);
      return when !== undefined && when >= since;
    };
    if (at(`${client} =${name}`) || at(`${client} <${name}`)) return true;
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      if (at(`${client} =${name.slice(0, dot)}`)) return true;
    }
    return false;
  }

  private finishUnanswered(l: Lookup, now: number): void {
    if (now - l.firstTs >= DNS_NO_ANSWER_MICROS) this.addFailure('dns-no-answer', l, 0, '', now - l.firstTs);
  }

  private addFailure(code: DnsFailureCode, l: Lookup, answerNo: number, answeredBy: string, delay: number): void {
    if (!isAddressType(l.type)) return;
    const key = `${code} ${l.client} ${l.name}`;
    const g = this.groups.get(key);
    if (g) {
      g.lookups++;
      g.queries += l.queries;
      g.retries += l.retries;
      for (const s of l.servers) if (!g.servers.includes(s) && g.servers.length < DNS_LOG_LIMITS.SERVERS_PER_LOOKUP) g.servers.push(s);
      g.lastQuery = l.lastNo || g.lastQuery;
      g.lastTs = l.lastTs;
      if (delay > g.delayMicros) g.delayMicros = delay;
      g.unreachable ??= l.unreachable;
      return;
    }
    if (this.groupCounts[code] >= DNS_LOG_LIMITS.MAX_GROUPS) {
      this.groupsDropped[code]++;
      return;
    }
    this.groupCounts[code]++;
    this.groups.set(key, {
      code,
      client: l.client,
      name: l.name,
      type: l.type,
      lookups: 1,
      queries: l.queries,
      retries: l.retries,
      servers: [...l.servers],
      firstQuery: l.queries > 0 ? l.firstNo : 0,
      lastQuery: l.queries > 0 ? l.lastNo : 0,
      firstTs: l.firstTs,
      lastTs: l.lastTs,
      answerPacket: answerNo,
      answeredBy,
      delayMicros: delay,
      transport: l.transport,
      unreachable: l.unreachable,
    });
  }

  /** Finishes lookups quiet for LOOKUP_QUIET_MICROS; the oldest activity is first in the Map. */
  private expire(now: number): void {
    for (let key = this.pending.firstKey(); key !== undefined; key = this.pending.firstKey()) {
      const l = this.pending.get(key)!;
      if (now - l.lastTs < DNS_LOG_LIMITS.LOOKUP_QUIET_MICROS) return;
      this.endLookup(key, l);
      this.finishUnanswered(l, now);
    }
  }

  /** Where `serverIp` came from for a connection `client` opened at `connectTs`; null when the capture cannot tell. */
  originOf(client: string, serverIp: string, connectTs: number): DnsOrigin | null {
    const list = this.addresses.get(serverIp);
    let best: RememberedAnswer | null = null;
    if (list) {
      for (const a of list) {
        if (a.ts > connectTs) continue;
        // The client's own answer first, the latest one among equals.
        if (!best || (a.client === client) > (best.client === client) || ((a.client === client) === (best.client === client) && a.ts >= best.ts)) best = a;
      }
    }
    if (best) {
      return {
        name: best.name,
        owner: best.owner,
        answerPacket: best.no,
        resolver: best.resolver,
        answeredTo: best.client,
        msBeforeConnect: ms(connectTs - best.ts),
        ...(best.hint && { hint: best.hint }),
        ...(best.targetOf && { targetOf: best.targetOf }),
      };
    }
    // Absence is claimed only when the capture holds the client's lookups both ways before it connected.
    const c = this.clients.get(client);
    if (!c || c.firstQueryNo === 0 || c.firstQueryTs > connectTs || c.firstAnswerTs === 0 || c.firstAnswerTs > connectTs || this.absenceUnprovable) return null;
    return { name: null, clientFirstQuery: c.firstQueryNo };
  }

  /** Ends the capture at `captureEnd`: every lookup still waiting is judged. Returns the failure groups in packet order. */
  failures(captureEnd: number): DnsFailureGroup[] {
    if (!this.finished) {
      this.finished = true;
      for (const l of this.pending.values()) this.finishUnanswered(l, captureEnd);
      this.pending.clear();
      this.transactions.clear();
      this.byClientPort.clear();
    }
    const out: DnsFailureGroup[] = [];
    for (const g of this.groups.values()) {
      // A failure the client made good (the same name, or a search-list sibling, resolved later) explains nothing.
      if (g.code !== 'dns-slow' && this.resolvedSince(g.client, g.name, g.firstTs - SEARCH_LIST_WINDOW_MICROS)) continue;
      // Without a retry, an unanswered query proves something only where the capture shows the
      // client's answers at all, or an ICMP error about it came back: that direction is captured.
      if (g.code === 'dns-no-answer' && g.retries === 0 && !g.unreachable && !(this.clients.get(g.client)?.firstAnswerTs)) continue;
      out.push(g);
    }
    return out.sort((a, b) => (a.firstQuery || a.answerPacket) - (b.firstQuery || b.answerPacket));
  }

  /** Entries held: the memory bound is about these. */
  retained(): number {
    let answers = 0;
    for (const list of this.addresses.values()) answers += list.length;
    return this.pending.size + answers + this.clients.size + this.resolved.size + this.targets.size + this.groups.size;
  }
}
