import type { CaptureRule, FlowDigest } from './capture-rules.js';
import { plural } from './format.js';
import type { Verdict } from './verdict.js';

// Answers to one client from many server addresses that one IP stack sent. An IPv4 stack numbers
// the packets it sends (the IP ID), and many stacks use one counter for every destination; no two
// hosts share one. So when the SYN-ACKs and RSTs that different "servers" sent to a client carry
// IDs that continue each other, in capture order, within the packets sent between them, one device
// made them all: a NAT or proxy in front of the client that completes each handshake itself and
// answers with a RST when its own connect fails (VirtualBox and QEMU user-mode networking,
// slirp4netns and pasta for rootless containers, a transparent proxy). Then the refusals, resets
// and handshake times said of those servers are the device's, and the servers' own answers are not
// in the capture. Wireshark and Zeek take each source address at its word.

/** Answers kept per client host, in the order the flows end: enough to see a counter, bounded. */
const MAX_ANSWERS_PER_CLIENT = 1_024;
/** Client hosts whose answers are kept. */
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

/** One client's answers: packet number, IPv4 ID, server address index and flow, in parallel. */
class ClientAnswers {
  readonly no: number[] = [];
  readonly id: number[] = [];
  readonly server: number[] = [];
  readonly flow: number[] = [];
  readonly servers: string[] = [];
  private readonly serverIndex = new Map<string, number>();

  add(no: number, id: number, serverIp: string, flowId: number): void {
    if (this.no.length >= MAX_ANSWERS_PER_CLIENT) return;
    let s = this.serverIndex.get(serverIp);
    if (s === undefined) {
      s = this.servers.length;
      this.servers.push(serverIp);
      this.serverIndex.set(serverIp, s);
    }
    this.no.push(no);
    this.id.push(id);
    this.server.push(s);
    this.flow.push(flowId);
  }
}

interface SharedCounter {
  clientIp: string;
  /** Server addresses whose answers continued the counter. */
  addresses: string[];
  fits: number;
  informative: number;
  flows: number;
  /** The first fitting pair. */
  example: { a: number; aFrom: string; aId: number; b: number; bFrom: string; bId: number };
}

/** The ID counter one stack shares over a client's answers, if its answers show one. */
function sharedCounter(clientIp: string, c: ClientAnswers): SharedCounter | null {
  const order = c.no.map((_, i) => i).sort((x, y) => c.no[x] - c.no[y]);
  let fits = 0;
  let informative = 0;
  const fitting = new Set<number>();
  let example: SharedCounter['example'] | null = null;
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1];
    const b = order[k];
    // One server's own answers share its counter whoever it is: only a change of address tells.
    if (c.server[a] === c.server[b]) continue;
    const gap = c.no[b] - c.no[a];
    // The device may send a packet the capture does not hold (to another guest), hence the slack.
    const bound = 2 * gap + 8;
    if (gap <= 0 || bound >= MAX_INFORMATIVE_STEP) continue;
    informative++;
    const step = (c.id[b] - c.id[a]) & 0xffff;
    if (step < 1 || step > bound) continue;
    fits++;
    fitting.add(c.server[a]).add(c.server[b]);
    example ??= { a: c.no[a], aFrom: c.servers[c.server[a]], aId: c.id[a], b: c.no[b], bFrom: c.servers[c.server[b]], bId: c.id[b] };
  }
  if (fits < MIN_FITS || fitting.size < MIN_ADDRESSES || fits < MIN_FIT_SHARE * informative || !example) return null;
  const flows = new Set<number>();
  for (let i = 0; i < c.no.length; i++) if (fitting.has(c.server[i])) flows.add(c.flow[i]);
  return { clientIp, addresses: [...fitting].map((s) => c.servers[s]), fits, informative, flows: flows.size, example };
}

const hex = (id: number) => `0x${id.toString(16).padStart(4, '0')}`;

export const oneStackAnswers: CaptureRule = {
  code: 'one-stack-answers',
  start() {
    const clients = new Map<string, ClientAnswers>();
    const answersOf = (f: FlowDigest): ClientAnswers | null => {
      let c = clients.get(f.clientIp);
      if (!c) {
        if (clients.size >= MAX_CLIENTS) return null;
        clients.set(f.clientIp, (c = new ClientAnswers()));
      }
      return c;
    };
    return {
      observe(f) {
        const rstId = f.serverSide.rstIpId ?? 0;
        const synAck = f.synAcks[0];
        const synAckId = f.serverSide.synIpId ?? -1;
        const withSynAck = synAck !== undefined && synAckId > 0;
        if ((!withSynAck && rstId <= 0) || f.serverIp === undefined || f.serverIp.includes(':')) return;
        const c = answersOf(f);
        if (!c) return;
        if (withSynAck) c.add(synAck.no, synAckId, f.serverIp, f.id);
        if (rstId > 0 && f.serverSide.rst) c.add(f.serverSide.rst.no, rstId, f.serverIp, f.id);
      },
      retained() {
        let n = 0;
        for (const c of clients.values()) n += c.no.length;
        return n;
      },
      verdicts(): Verdict[] {
        const out: Verdict[] = [];
        for (const [clientIp, c] of clients) {
          const s = sharedCounter(clientIp, c);
          if (!s) continue;
          const e = s.example;
          const named = s.addresses.slice(0, 4).join(', ') + (s.addresses.length > 4 ? ` and ${s.addresses.length - 4} more` : '');
          out.push({
            code: 'one-stack-answers',
            severity: 'warning',
            summary: `the SYN-ACKs and RSTs that ${plural(s.addresses.length, 'server address', 'server addresses')} (${named}) sent to ${clientIp} came from one IP stack: their IPv4 IDs continue one counter from address to address (${s.fits} of ${s.informative} changes of address; #${e.a} from ${e.aFrom} ID ${hex(e.aId)}, then #${e.b} from ${e.bFrom} ID ${hex(e.bId)}). A NAT or proxy in front of ${clientIp} answers for these servers, so the refusals, resets and handshake times said of them in ${plural(s.flows, 'flow')} are its own, and what the servers sent is not in the capture`,
            packets: [e.a, e.b],
            facts: { clientIp, addresses: s.addresses.slice(0, 100), addressCount: s.addresses.length, fits: s.fits, informativePairs: s.informative, flows: s.flows, examplePackets: [e.a, e.b] },
            hint: `A device between ${clientIp} and the servers completes each handshake itself, and answers with a RST when its own connection to the server fails (refused, unreachable or timed out), with a SYN-ACK only once that connection is up: VirtualBox or QEMU user-mode networking (the guest at 10.0.2.15), slirp4netns or pasta for rootless containers, or a transparent proxy. Capture on the device's outside (the VM host's or container host's external interface) to see what the servers answered, and read the refused and reset verdicts of these flows as the device's.`,
          });
        }
        return out;
      },
    };
  },
};
