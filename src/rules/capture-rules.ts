import type { FlowFacts } from './facts.js';
import { plural } from './format.js';
import type { RuleContext } from './rules.js';
import type { Verdict } from './verdict.js';
import { TCP_CAPTURE_RULES } from './tcp-rules.js';

// Capture-level verdicts: facts about the whole capture rather than one flow.

export interface CaptureFacts {
  packets: number;
  truncatedPackets: number;
  snaplen: number;
}

/**
 * What capture-level rules may read of each flow: small enough to keep for every flow of a
 * capture of millions of connections while the flows themselves are reported and freed as they end.
 */
export interface FlowDigest {
  id: number;
  server: string;
  clientIp: string;
  clientPort: number;
  state: FlowFacts['state'];
  start: number;
  end: number;
  syns: FlowFacts['syns'];
  synAcks: FlowFacts['synAcks'];
  handshakeAck: FlowFacts['handshakeAck'];
  reusedAfter: FlowFacts['reusedAfter'];
  clientSide: Pick<FlowFacts['clientSide'], 'bytes' | 'rst'>;
  serverSide: Pick<FlowFacts['serverSide'], 'rst' | 'packets'>;
}

/** Keeps one copy of each server and client address string across all digests. */
function intern(strings: Map<string, string> | undefined, s: string): string {
  if (!strings) return s;
  const kept = strings.get(s);
  if (kept !== undefined) return kept;
  strings.set(s, s);
  return s;
}

export function digestFlow(f: FlowFacts, strings?: Map<string, string>): FlowDigest {
  return {
    id: f.id,
    server: intern(strings, f.server),
    clientIp: intern(strings, f.clientIp),
    clientPort: f.clientPort,
    state: f.state,
    start: f.start,
    end: f.end,
    syns: f.syns,
    synAcks: f.synAcks,
    handshakeAck: f.handshakeAck,
    reusedAfter: f.reusedAfter,
    clientSide: { bytes: f.clientSide.bytes, rst: f.clientSide.rst },
    serverSide: { rst: f.serverSide.rst, packets: f.serverSide.packets },
  };
}

export interface CaptureRule {
  code: string;
  evaluate(flows: FlowDigest[], capture: CaptureFacts, ctx: RuleContext): Verdict[];
}

const truncatedSnaplen: CaptureRule = {
  code: 'truncated-snaplen',
  evaluate(_flows, c) {
    if (c.truncatedPackets === 0) return [];
    return [
      {
        code: 'truncated-snaplen',
        severity: 'warning',
        summary: `${plural(c.truncatedPackets, 'packet')} of ${c.packets} cut by the snap length${c.snaplen ? ` (${c.snaplen} bytes)` : ''}: payload analysis (HTTP, WebSocket) is partial`,
        packets: [],
        facts: { truncatedPackets: c.truncatedPackets, snaplen: c.snaplen },
        hint: 'Capture again with the full snap length (tcpdump -s 0, the default on current versions) to see payloads whole.',
      },
    ];
  },
};

const arpUnanswered: CaptureRule = {
  code: 'arp-unanswered',
  evaluate(_flows, _c, ctx) {
    const out: Verdict[] = [];
    for (const [ip, a] of ctx.arpUnanswered) {
      out.push({
        code: 'arp-unanswered',
        severity: 'error',
        summary: `ARP who-has ${ip} never answered (${plural(a.requests, 'request')}, #${a.firstNo}..#${a.lastNo}): no host with that address on the local segment, so no SYN can leave`,
        packets: [a.firstNo, a.lastNo],
        facts: { ip, requests: a.requests },
        hint: 'The host is down or disconnected, or the address is wrong (a stale config or DNS entry). Check that the host is up and on this subnet, and the client subnet mask and gateway.',
      });
    }
    return out;
  },
};

export const CAPTURE_RULES: CaptureRule[] = [truncatedSnaplen, arpUnanswered, ...TCP_CAPTURE_RULES];

export function judgeCapture(flows: FlowDigest[], capture: CaptureFacts, ctx: RuleContext, rules: CaptureRule[] = CAPTURE_RULES): Verdict[] {
  return rules.flatMap((r) => r.evaluate(flows, capture, ctx));
}
