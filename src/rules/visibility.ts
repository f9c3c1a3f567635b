import { parseAddr } from '../decode/addr.js';
import type { FlowFacts, Visibility } from './facts.js';

// What the capture can see of each conversation. A flow whose packets all come from one side is
// one-sided only when packets prove the other side sent something: that side's ACKs acknowledge
// bytes or a FIN never captured, or complete a handshake whose SYN-ACK is not in the capture. A
// silent peer proves nothing (a lone SYN to a host that is down looks the same), so a flow with no
// such proof of its own is marked only when another flow between the same two hosts has it and the
// capture holds no TCP packet from the one to the other, or when its host has it and the capture
// holds no TCP packet sent to that host at all (tcpdump -Q out, a mirror of one direction).

/** Host pairs and hosts remembered with their proof; beyond these bounds new ones go unrecorded. */
const MAX_PAIRS = 65_536;
const MAX_HOSTS = 4_096;
/** Distinct peers counted and named per host; beyond it the count is a lower bound (peersCapped). */
const MAX_PEERS_KEPT = 100;
/** Hosts (and host pairs) that received a TCP packet, as hashed bit sets: a false "received" only keeps a flow two-sided. */
const RECEIVER_BITS = 1 << 16;

export interface UnseenProof {
  flow: number;
  packet: number;
}

export interface OneSidedHost {
  /** The host whose packets the capture holds while its peers' are missing. */
  ip: string;
  /** Its peers proven unseen (the first MAX_PEERS_KEPT), how many, and whether there were more than those. */
  peers: string[];
  peerCount: number;
  peersCapped: boolean;
  /** Flows whose own packets proved it, and the first proof. */
  flows: number;
  first: UnseenProof;
}

export class VisibilityLog {
  private readonly receivers = new Uint32Array(RECEIVER_BITS / 32);
  private readonly pairReceivers = new Uint32Array(RECEIVER_BITS / 32);
  private readonly pairs = new Map<string, UnseenProof>();
  /** Hosts with a proof at packet time, and hosts whose flows ended one-sided (the capture verdict's). */
  private readonly provenHosts = new Map<string, UnseenProof>();
  private readonly hosts = new Map<string, OneSidedHost & { peerSet: Set<string> }>();

  /** A TCP packet was sent to the host whose address words are `w[to..to+3]` by the one at `w[from..from+3]`. */
  markReceived(w: ArrayLike<number>, to: number, from: number): void {
    setBit(this.receivers, addrHash(w, to, HASH_SEED));
    setBit(this.pairReceivers, addrHash(w, from, addrHash(w, to, HASH_SEED)));
  }

  /** Whether the capture may hold a TCP packet sent to `ip` (from `sender`, when given): false only when it surely holds none. */
  mayHaveReceived(ip: string, sender?: string): boolean {
    const to = wordsOf(ip);
    if (!to) return true;
    const toHash = addrHash(to, 0, HASH_SEED);
    if (sender === undefined) return hasBit(this.receivers, toHash);
    const from = wordsOf(sender);
    return !from || hasBit(this.pairReceivers, addrHash(from, 0, toHash));
  }

  /**
   * A flow between `seenIp` and `unseenIp` proved, at `packet`, that the capture misses unseenIp's
   * packets so far (at packet time, so flows that end before this one are judged knowing it). Should
   * unseenIp's packets show up later, the received bits keep the pair and the host from being used.
   */
  recordProof(seenIp: string, unseenIp: string, proof: UnseenProof): void {
    const key = `${seenIp} ${unseenIp}`;
    if (!this.pairs.has(key) && this.pairs.size < MAX_PAIRS) this.pairs.set(key, proof);
    if (!this.provenHosts.has(seenIp) && this.provenHosts.size < MAX_HOSTS) this.provenHosts.set(seenIp, proof);
  }

  /** A flow ended one-sided by its own proof: counted for the capture verdict. */
  confirm(f: FlowFacts): void {
    const own = f.peerUnseen;
    if (!own) return;
    const seenIp = own.seenSide === 'client' ? f.clientIp : f.serverIp;
    const unseenIp = own.seenSide === 'client' ? f.serverIp : f.clientIp;
    const proof = { flow: f.id, packet: own.packet };
    let h = this.hosts.get(seenIp);
    if (!h) {
      if (this.hosts.size >= MAX_HOSTS) return;
      h = { ip: seenIp, peers: [], peerSet: new Set(), peerCount: 0, peersCapped: false, flows: 0, first: proof };
      this.hosts.set(seenIp, h);
    }
    h.flows++;
    if (!h.peerSet.has(unseenIp)) {
      // Past the bound a peer cannot be told new or seen before, so the count stops there.
      if (h.peerSet.size < MAX_PEERS_KEPT) {
        h.peerSet.add(unseenIp);
        h.peers.push(unseenIp);
        h.peerCount++;
      } else h.peersCapped = true;
    }
  }

  /** The hosts whose peers the capture misses, in the order they were first proven. */
  oneSidedHosts(): OneSidedHost[] {
    return [...this.hosts.values()].map(({ peerSet: _unused, ...h }) => h);
  }

  /**
   * The flow's visibility given what the whole capture has shown so far: its own proof, another
   * flow's between the same hosts, or its host's when no packet to that host was captured.
   */
  of(f: FlowFacts): Visibility {
    const own = f.peerUnseen;
    const clientSeen = f.clientSide.packets > 0;
    const serverSeen = f.serverSide.packets > 0;
    if (clientSeen === serverSeen) return BOTH;
    const seen = clientSeen ? 'client-only' : 'server-only';
    if (own) return { seen, proof: { by: 'flow', flow: f.id, packet: own.packet } };
    const seenIp = clientSeen ? f.clientIp : f.serverIp;
    const unseenIp = clientSeen ? f.serverIp : f.clientIp;
    const pair = this.pairs.get(`${seenIp} ${unseenIp}`);
    if (pair && !this.mayHaveReceived(seenIp, unseenIp)) return { seen, proof: { by: 'host-pair', ...pair } };
    const host = this.provenHosts.get(seenIp);
    if (host && !this.mayHaveReceived(seenIp)) return { seen, proof: { by: 'host', ...host } };
    return BOTH;
  }
}

const BOTH: Visibility = Object.freeze({ seen: 'both', proof: null });

export const HASH_SEED = 0x811c9dc5;

/** FNV-1a over an address's four words, continuing from `seed`. */
export function addrHash(w: ArrayLike<number>, at: number, seed: number): number {
  let h = seed;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ (w[at + i] | 0), 0x01000193);
  return h;
}

function bitOf(hash: number): number {
  return (Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) >>> 0) % RECEIVER_BITS;
}

function setBit(bits: Uint32Array, hash: number): void {
  const b = bitOf(hash);
  bits[b >>> 5] |= 1 << (b & 31);
}

function hasBit(bits: Uint32Array, hash: number): boolean {
  const b = bitOf(hash);
  return (bits[b >>> 5] & (1 << (b & 31))) !== 0;
}

export function wordsOf(ip: string): Uint32Array | null {
  try {
    return parseAddr(ip).words;
  } catch {
    return null;
  }
}
