// The scenarios must produce the failure they are named for. Each check below reads a capture
// with tcpdump and asserts the packet pattern; it runs on the bundled samples/*.pcap and on fresh
// captures (a quick subset by default, every scenario with TCPWHY_ALL_SCENARIOS=1).

import { existsSync } from 'node:fs';
import { listScenarios, loadScenario } from '../../scripts/lib/scenario.mjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  canReadCaptures,
  canRunScenario,
  dumpCapture,
  removeCaptureDirs,
  runCaptureScenario,
  type DumpedPacket,
} from './traffic.js';

type Check = (packets: DumpedPacket[]) => void;

const tcp = (packets: DumpedPacket[]) => packets.filter((p) => p.kind === 'tcp');
const isSyn = (p: DumpedPacket) => p.flags === 'S';
const isSynAck = (p: DumpedPacket) => p.flags === 'S.';
const hasFin = (p: DumpedPacket) => p.flags.includes('F');
const hasRst = (p: DumpedPacket) => p.flags.includes('R');
const portOf = (endpoint: string) => Number(endpoint.slice(endpoint.lastIndexOf('.') + 1));

/** The endpoint that sent the first SYN, and the one it was sent to. */
function roles(packets: DumpedPacket[]): { client: string; server: string } {
  const syn = tcp(packets).find(isSyn);
  if (!syn) throw new Error('no SYN in capture');
  return { client: syn.src, server: syn.dst };
}

const payloadFrom = (packets: DumpedPacket[], src: string) =>
  tcp(packets).filter((p) => p.src === src).reduce((sum, p) => sum + p.length, 0);

const CHECKS: Record<string, Check> = {
  refused(packets) {
    const all = tcp(packets);
    expect(all.map((p) => p.flags)).toEqual(['S', 'R.']);
    expect(all[1]!.src).toBe(all[0]!.dst);
  },
  'syn-timeout'(packets) {
    const all = tcp(packets);
    expect(all.length).toBe(3);
    expect(all.every(isSyn)).toBe(true);
    expect(new Set(all.map((p) => p.seq)).size).toBe(1);
    // Classic backoff: retries about 1 s and 3 s after the first SYN.
    expect(all[1]!.t).toBeGreaterThan(0.8);
    expect(all[1]!.t).toBeLessThan(1.5);
    expect(all[2]!.t).toBeGreaterThan(2.7);
    expect(all[2]!.t).toBeLessThan(3.6);
  },
  'port-filtered'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    const dropped = portOf(server);
    // Three SYNs to the dropped port, none answered; between them a whole exchange with the same host on another port.
    const syns = all.filter((p) => p.dst === server);
    expect(syns.map((p) => p.flags)).toEqual(['S', 'S', 'S']);
    expect(all.some((p) => p.src === server)).toBe(false);
    const host = server.slice(0, server.lastIndexOf('.'));
    const served = all.filter((p) => p.src.startsWith(`${host}.`) && portOf(p.src) !== dropped);
    expect(served.some(isSynAck)).toBe(true);
    expect(served.some(hasFin)).toBe(true);
    expect(served[0]!.t).toBeGreaterThan(syns[0]!.t);
    expect(served[0]!.t).toBeLessThan(syns[2]!.t);
    expect(client).not.toBe(server);
  },
  'http-clean'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    expect(all.slice(0, 3).map((p) => p.flags)).toEqual(['S', 'S.', '.']);
    expect(payloadFrom(packets, client)).toBeGreaterThan(0);
    expect(payloadFrom(packets, server)).toBeGreaterThan(0);
    expect(all.some((p) => p.src === client && hasFin(p))).toBe(true);
    expect(all.some((p) => p.src === server && hasFin(p))).toBe(true);
    expect(all.some(hasRst)).toBe(false);
  },
  'rst-midstream'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    expect(payloadFrom(packets, client)).toBeGreaterThan(0);
    expect(payloadFrom(packets, server)).toBeGreaterThan(4096);
    const last = all[all.length - 1]!;
    expect(last.src).toBe(server);
    expect(hasRst(last)).toBe(true);
    expect(all.some(hasFin)).toBe(false);
  },
  'zero-window'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    const firstZero = all.findIndex((p) => p.src === server && p.win === 0 && !isSynAck(p));
    expect(firstZero).toBeGreaterThan(0);
    // Zero-window probes: empty segments from the client while the window stays shut.
    const probes = all.slice(firstZero + 1).filter((p) => p.src === client && p.length === 0 && !hasFin(p) && !hasRst(p));
    expect(probes.length).toBeGreaterThanOrEqual(2);
    expect(all[all.length - 1]!.t - all[firstZero]!.t).toBeGreaterThan(1.5);
    expect(all.some((p) => p.src === server && hasRst(p))).toBe(true);
  },
  'no-response'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    expect(payloadFrom(packets, client)).toBeGreaterThan(0);
    expect(payloadFrom(packets, server)).toBe(0);
    const request = all.find((p) => p.src === client && p.length > 0)!;
    const clientFin = all.find((p) => p.src === client && hasFin(p))!;
    expect(clientFin.t - request.t).toBeGreaterThan(2.9);
    expect(all.findIndex((p) => p.src === server && hasFin(p))).toBeGreaterThan(all.indexOf(clientFin));
  },
  'one-way-stream'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    expect(payloadFrom(packets, server)).toBe(0);
    const lines = all.filter((p) => p.src === client && p.length > 0);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.t - lines[i - 1]!.t).toBeGreaterThan(1);
    const clientFin = all.find((p) => p.src === client && hasFin(p))!;
    expect(clientFin.t - lines[lines.length - 1]!.t).toBeGreaterThan(1.9);
  },
  'idle-close'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    const lastData = all.filter((p) => p.length > 0).pop()!;
    const serverFin = all.find((p) => p.src === server && hasFin(p))!;
    const clientFin = all.find((p) => p.src === client && hasFin(p))!;
    expect(serverFin.t - lastData.t).toBeGreaterThan(1.9);
    expect(all.indexOf(serverFin)).toBeLessThan(all.indexOf(clientFin));
    // Nothing at all on the wire during the idle gap.
    expect(all.filter((p) => p.t > lastData.t + 0.1 && p.t < serverFin.t)).toEqual([]);
  },
  'lossy-transfer'(packets) {
    const all = tcp(packets);
    const { server } = roles(packets);
    const seen = new Set<string>();
    let retransmissions = 0;
    for (const p of all) {
      if (p.src !== server || p.length === 0) continue;
      if (seen.has(p.seq)) retransmissions++;
      seen.add(p.seq);
    }
    expect(retransmissions).toBeGreaterThanOrEqual(5);
    expect(payloadFrom(packets, server)).toBeGreaterThan(1_000_000);
    expect(all.some(hasRst)).toBe(false);
    expect(all.filter(hasFin).length).toBe(2);
  },
  'port-reuse'(packets) {
    const syns = tcp(packets).filter(isSyn);
    expect(syns.length).toBe(40);
    const ports = syns.map((p) => portOf(p.src));
    expect(ports.every((port) => port >= 40000 && port <= 40007)).toBe(true);
    expect(new Set(syns.map((p) => `${p.src}>${p.dst}`)).size).toBeLessThanOrEqual(8);
    // Every connection completes and ends with FINs, no resets.
    expect(tcp(packets).filter(isSynAck).length).toBe(40);
    expect(tcp(packets).some(hasRst)).toBe(false);
  },
  'listen-overflow'(packets) {
    const all = tcp(packets);
    const synsBySource = new Map<string, number>();
    for (const p of all.filter(isSyn)) synsBySource.set(p.src, (synsBySource.get(p.src) ?? 0) + 1);
    // Some clients' SYNs were dropped and retried...
    expect([...synsBySource.values()].some((count) => count >= 2)).toBe(true);
    // ...while others were answered.
    expect(all.filter(isSynAck).length).toBeGreaterThanOrEqual(2);
    // Backlog 1 admits two connections: only their FINs are ACKed by the server.
    const { ackedFins } = listenOverflowFins(packets);
    expect(ackedFins.size).toBe(2);
    expect(all.some(hasRst)).toBe(false);
  },
  'arp-unanswered'(packets) {
    expect(tcp(packets)).toEqual([]);
    const arp = packets.filter((p) => p.kind === 'arp');
    expect(arp.length).toBeGreaterThanOrEqual(3);
    expect(arp.every((p) => / Request who-has /.test(p.line))).toBe(true);
  },
  'keepalive-race'(packets) {
    const all = tcp(packets);
    const { server } = roles(packets);
    // An answered request, the server's FIN, a request after it, and the server's RST.
    const fin = all.findIndex((p) => p.src === server && hasFin(p));
    const late = all.findIndex((p, i) => i > fin && p.dst === server && p.length > 0);
    const reset = all.findIndex((p, i) => i > late && p.src === server && hasRst(p));
    expect(payloadFrom(all.slice(0, fin), server)).toBeGreaterThan(0);
    expect([fin, late, reset].every((i) => i > 0)).toBe(true);
    expect(all[late]!.t - all[fin]!.t).toBeGreaterThan(0.2);
  },
  'request-stalled'(packets) {
    const all = tcp(packets);
    const { server } = roles(packets);
    // Six connections: five closed by the server after a second of silence, one answered (to the
    // request pipelined ahead of its unfinished one); the sixth closed by its client after 0.5 s.
    const fins = all.filter((p) => hasFin(p) && !all.some((q) => q.t < p.t && hasFin(q) && q.src === p.dst && q.dst === p.src));
    const byServer = fins.filter((p) => p.src === server);
    expect(byServer).toHaveLength(5);
    expect(new Set(all.filter((p) => p.src === server && p.length > 0).map((p) => p.dst)).size).toBe(1);
    for (const fin of fins) {
      const client = fin.src === server ? fin.dst : fin.src;
      const lastClient = all.filter((p) => p.src === client && p.t < fin.t && (p.length > 0 || fin.src === server)).at(-1)!;
      expect(fin.t - lastClient.t).toBeGreaterThan(fin.src === server ? 0.9 : 0.4);
    }
    expect(all.some(hasRst)).toBe(false);
  },
  'nagle-delay'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    // A head, the server's bare ACK of it 35 ms or more later, and the body right after that ACK.
    let held = 0;
    for (let i = 2; i < all.length; i++) {
      const [head, ack, body] = [all[i - 2]!, all[i - 1]!, all[i]!];
      if (head.src === client && head.length > 0 && ack.src === server && ack.length === 0 && body.src === client && body.length === 10 && ack.t - head.t > 0.035 && body.t - ack.t < 0.001) held++;
    }
    expect(held).toBeGreaterThanOrEqual(3);
  },
  'pmtu-blackhole'(packets) {
    const all = tcp(packets);
    const { client, server } = roles(packets);
    // The server's head got through and was acknowledged; its full-size segments were sent again
    // and again, and the client, which went on to close, acknowledged none of them.
    const head = all.find((p) => p.src === server && p.length > 0)!;
    expect(head.length).toBeLessThan(100);
    const full = all.filter((p) => p.src === server && p.length >= 1400);
    expect(full.length).toBeGreaterThan(12);
    expect(all.filter((p) => p.src === client && hasFin(p))).toHaveLength(1);
    expect(packets.some((p) => p.kind !== 'tcp')).toBe(false);
  },
  'half-open'(packets) {
    const all = tcp(packets);
    const { client } = roles(packets);
    expect(all.filter((p) => p.src === client).map((p) => p.flags)).toEqual(['S']);
    const synAcks = all.filter(isSynAck);
    expect(synAcks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(synAcks.map((p) => p.seq)).size).toBe(1);
    expect(synAcks[1]!.t - synAcks[0]!.t).toBeGreaterThan(0.8);
  },
};

/** Clients that sent FIN (they believe they are connected) and those whose FIN the server ACKed. */
function listenOverflowFins(packets: DumpedPacket[]): { finSources: Set<string>; ackedFins: Set<string> } {
  const all = tcp(packets);
  const finSources = new Set(all.filter(hasFin).map((p) => p.src));
  const ackedFins = new Set(all.filter((p) => p.flags === '.' && finSources.has(p.dst)).map((p) => p.dst));
  return { finSources, ackedFins };
}

const QUICK_SCENARIOS = ['refused', 'http-clean', 'rst-midstream', 'syn-timeout', 'port-reuse', 'half-open'];
const FRESH_SCENARIOS = process.env.TCPWHY_ALL_SCENARIOS ? Object.keys(CHECKS) : QUICK_SCENARIOS;

describe.skipIf(!canReadCaptures())('bundled samples show their scenario', () => {
  for (const [name, check] of Object.entries(CHECKS)) {
    const sample = `samples/${name}.pcap`;
    it.skipIf(!existsSync(sample))(`samples/${name}.pcap shows ${name}`, () => {
      check(dumpCapture(sample));
    });
  }
});

describe.skipIf(!canReadCaptures() || !existsSync('samples/listen-overflow.pcap'))('bundled listen-overflow sample', () => {
  // Whether a burst SYN is answered before the accept queue fills is a race, so only the bundled
  // sample is required to show this part of the pattern.
  it('has clients whose handshake the server answered but never completed', () => {
    const packets = dumpCapture('samples/listen-overflow.pcap');
    const { finSources, ackedFins } = listenOverflowFins(packets);
    expect(finSources.size).toBeGreaterThan(ackedFins.size);
    const synAckedNotAccepted = tcp(packets).filter((p) => isSynAck(p) && !ackedFins.has(p.dst));
    expect(synAckedNotAccepted.length).toBeGreaterThan(0);
  });
});

describe('fresh captures show their scenario', () => {
  afterAll(() => removeCaptureDirs());
  for (const name of FRESH_SCENARIOS) {
    it.skipIf(!canRunScenario(name))(`${name} produces the ${name} pattern`, async () => {
      const { file, expect: expectation } = await runCaptureScenario(name);
      expect(expectation.description.length).toBeGreaterThan(20);
      CHECKS[name]!(dumpCapture(file));
    });
  }
});

describe('every scenario', () => {
  // Most scenarios need root and namespaces to run; any of them must at least load (a quote left
  // in a string once kept one from it), so that `npm run samples` can make it again.
  it('loads, exporting the function that makes its capture', async () => {
    const names = listScenarios();
    expect(names).toContain('port-filtered');
    for (const name of names) expect(typeof (await loadScenario(name)), name).toBe('function');
  });
});

describe('dumpCapture', () => {
  it.skipIf(!canReadCaptures() || !existsSync('samples/http-clean.pcap'))('parses flags, lengths and relative times', () => {
    const packets = dumpCapture('samples/http-clean.pcap');
    expect(packets[0]).toMatchObject({ kind: 'tcp', flags: 'S', length: 0, t: 0 });
    expect(packets.find((p) => p.length > 0)?.flags).toBe('P.');
    expect(packets.every((p, i) => i === 0 || p.t >= packets[i - 1]!.t)).toBe(true);
  });
});
