// The memory budget (--memcap) on writer-built captures with a budget of 1 MiB: load is shed in its
// documented order (opaque payload, then unanswered SYN attempts as counts, then the flows idle
// longest), every shed flow is marked, the capture says what was shed, and nothing goes uncounted.

import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { analyzeFile } from '../../src/pipeline.js';
import { ESTIMATED_BYTES, MEMCAP_SHARES, MiB, parseSize } from '../../src/flow/memcap.js';
import { DistinctCount } from '../../src/flow/distinct-count.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv, type Conversation, type ScriptedPacket } from '../helpers/conversation.js';
import { memoryIo } from '../helpers/io.js';

const T0 = 1_700_000_000_000_000;
const BUDGET = 1 * MiB;
/** What the shares of a 1 MiB budget hold. */
const SESSIONS_KEPT = Math.floor((MEMCAP_SHARES.dissectors * BUDGET) / ESTIMATED_BYTES.SESSION);
const ATTEMPTS_KEPT = Math.floor((MEMCAP_SHARES.attempts * BUDGET) / ESTIMATED_BYTES.FLOW);

/** A connection that says what it is and then waits: SSH banners (a protocol tcpwhy does not read) or an HTTP request. */
function opened(i: number, t: number, kind: 'ssh' | 'http'): Conversation {
  const c = conv({ client: `10.1.${i >> 8}.${i & 255}:40000`, server: kind === 'ssh' ? '10.0.0.22:22' : '10.0.0.80:80' }).handshake(t);
  if (kind === 'ssh') c.client('PA', t + 0.002, 'SSH-2.0-OpenSSH_9.6\r\n').server('PA', t + 0.003, 'SSH-2.0-OpenSSH_9.2\r\n');
  else c.client('PA', t + 0.002, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n').server('A', t + 0.003);
  return c;
}

function capture(convs: Conversation[]): string {
  const packets: ScriptedPacket[] = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
  const pcap = toPcap(packets.map((p) => ({ tsMicros: T0 + Math.round(p.t * 1e6), data: p.frame.bytes })));
  return writeTempCapture(pcap, 'memcap.pcap');
}

/**
 * `kept` flows of `bytes` each are what a share keeps: shedding goes down to 90% of it, and the flow
 * shed last may have taken its rare row after the budget last looked.
 */
function expectKeptWithin(kept: number, share: number, bytes: number): void {
  expect(kept).toBeGreaterThanOrEqual(Math.floor((0.9 * share) / bytes));
  expect(kept).toBeLessThanOrEqual(Math.ceil(share / bytes));
}

/** Spoils the TCP checksum of an Ethernet + IPv4 frame. */
function spoilTcpChecksum(frame: Uint8Array): void {
  const ip = 14;
  frame[ip + (frame[ip] & 0x0f) * 4 + 16] ^= 0xff;
}

async function analyze(file: string, memcap: string) {
  const io = memoryIo();
  const code = await run(['analyze', file, '--json', '--detail', '--memcap', memcap], io);
  return { code, doc: JSON.parse(io.out), err: io.err };
}

describe('--memcap', () => {
  it('sheds opaque payload first, then the flows idle longest, marking each and saying so', async () => {
    // 10 SSH connections, then HTTP connections: one new connection every 10 ms, none closing.
    const ssh = Array.from({ length: 10 }, (_, i) => opened(i, i * 0.01, 'ssh'));
    const http = Array.from({ length: SESSIONS_KEPT + 20 }, (_, i) => opened(100 + i, 0.1 + i * 0.01, 'http'));
    const file = capture([...ssh, ...http]);
    const { code, doc, err } = await analyze(file, '1M');
    expect(code).toBe(0);
    const flows = doc.flows as Array<{ id: number; server: string; endReason: string; memcap?: { payloadStoppedAt?: number; finishedEarlyAt?: number } }>;
    const m = doc.capture.memcap;
    // Every connection is a flow written, and every packet adds up.
    expect(flows.length).toBe(ssh.length + http.length);
    expect(doc.capture.flows).toBe(flows.length);
    expect(doc.capture.decoded).toBe(doc.capture.packets);

    // 1. The SSH flows stopped being reassembled before any flow was finished early.
    const sshFlows = flows.filter((f) => f.server === '10.0.0.22:22');
    expect(sshFlows.every((f) => f.memcap?.payloadStoppedAt !== undefined)).toBe(true);
    expect(m.payloadStopped).toBe(10);
    const firstEarly = Math.min(...flows.filter((f) => f.memcap?.finishedEarlyAt).map((f) => f.memcap!.finishedEarlyAt!));
    expect(Math.max(...sshFlows.map((f) => f.memcap!.payloadStoppedAt!))).toBeLessThan(firstEarly);
    // HTTP flows keep their payload.
    expect(flows.filter((f) => f.server === '10.0.0.80:80').some((f) => f.memcap?.payloadStoppedAt !== undefined)).toBe(false);

    // 2. Past the dissectors' share, the flows idle longest (the first opened) were finished early.
    const early = flows.filter((f) => f.endReason === 'memcap');
    expect(early.length).toBe(m.flowsFinishedEarly);
    expect(early.length).toBeGreaterThan(0);
    expect(early.every((f) => f.memcap?.finishedEarlyAt !== undefined)).toBe(true);
    const earlyIds = early.map((f) => f.id).sort((a, b) => a - b);
    expect(earlyIds).toEqual(Array.from({ length: early.length }, (_, i) => i + 1));
    // ... and judged with what was seen: an HTTP request not answered yet is no verdict of silence.
    const earlyHttp = flows.find((f) => f.endReason === 'memcap' && f.server === '10.0.0.80:80') as unknown as { verdicts: Array<{ code: string; summary: string }> };
    expect(earlyHttp.verdicts.map((v) => v.code)).not.toContain('no-response');
    expect(earlyHttp.verdicts.find((v) => v.code === 'capture-ended')?.summary).toMatch(/^the flow was finished early \(--memcap\)/);
    // Flows still open at the end were not touched.
    expect(flows.filter((f) => f.endReason === 'capture-end').every((f) => f.memcap?.finishedEarlyAt === undefined)).toBe(true);

    // The capture says it, once, with the counts.
    const d = doc.capture.diagnostics.filter((x: { code: string }) => x.code === 'MEMCAP');
    expect(d).toHaveLength(1);
    expect(d[0].message).toContain(`memory budget (--memcap 1 MiB) reached at packet ${m.reachedAtPacket}`);
    expect(d[0].message).toContain(`10 flows' payload no longer reassembled`);
    expect(d[0].message).toContain(`${m.flowsFinishedEarly} flows finished early`);
    expect(err).toContain('[MEMCAP]');
  });

  it('counts unanswered SYN attempts per service beyond their share, so that flows and counts add up', async () => {
    const attempts = ATTEMPTS_KEPT + 40;
    const convs = Array.from({ length: attempts }, (_, i) => conv({ client: `10.2.${i >> 8}.${i & 255}:5000`, server: '10.0.0.25:25' }).client('S', i * 0.001));
    // One real connection afterwards, answered and closed: a flow as usual.
    convs.push(conv({ client: '10.3.0.1:6000', server: '10.0.0.80:80' }).handshake(1).client('FA', 1.01).server('FA', 1.011).client('A', 1.012));
    const file = capture(convs);
    const { doc } = await analyze(file, '1M');
    const m = doc.capture.memcap;
    expect(m.attemptsCounted).toBeGreaterThan(0);
    // Every connection seen is a flow written or an attempt counted.
    expect(doc.capture.flows + m.attemptsCounted).toBe(attempts + 1);
    expect(doc.capture.flows).toBe(doc.flows.length);
    expect(m.countedAttempts).toEqual([
      expect.objectContaining({ service: '10.0.0.25:25', attempts: m.attemptsCounted, sources: m.attemptsCounted, sourcesApproximate: false, firstPacket: 1 }),
    ]);
    // The longest idle were counted: the attempts kept as flows are the last ones.
    const kept = doc.flows.filter((f: { server: string }) => f.server === '10.0.0.25:25').map((f: { firstPacket: number }) => f.firstPacket);
    expect(Math.min(...kept)).toBe(m.attemptsCounted + 1);
    expect(doc.flows.find((f: { server: string }) => f.server === '10.0.0.80:80').memcap).toBeUndefined();
    expect(doc.capture.diagnostics.map((x: { message: string }) => x.message).join('\n')).toContain(`${m.attemptsCounted} unanswered SYN attempts counted per service`);
    // The syn-flood verdict counts the attempts that were only counted, with those kept as flows.
    const flood = doc.verdicts.find((v: { code: string }) => v.code === 'syn-flood');
    expect(flood.facts).toMatchObject({ target: '10.0.0.25:25', halfOpen: attempts, sources: attempts });
  });

  it('counts an attempt whose SYN the capture holds twice at what its rare row adds, and one sent again at a bare attempt\'s', async () => {
    // The same attempts as above, each SYN seen again 0.5 ms later: a copy (the same IP ID) takes a
    // rare row; a retransmission (the next IP ID) counts in the flow's own row.
    const attempts = ATTEMPTS_KEPT + 40;
    const isn = 0x1000;
    const firstIpId = 0x1000;
    const keptOf = async (again: 'copy' | 'resend' | null) => {
      const convs = Array.from({ length: attempts }, (_, i) => {
        const c = conv({ client: `10.2.${i >> 8}.${i & 255}:5000`, server: '10.0.0.25:25', clientIsn: isn }).client('S', i * 0.001);
        if (again === null) return c;
        return c.client('S', i * 0.001 + 0.0005, '', { seq: isn, ipId: again === 'copy' ? firstIpId : firstIpId + 1 });
      });
      const { doc } = await analyze(capture(convs), '1M');
      expect(doc.capture.flows + doc.capture.memcap.attemptsCounted).toBe(attempts);
      const kept = doc.flows.filter((f: { server: string }) => f.server === '10.0.0.25:25');
      if (again === 'resend') expect(kept.every((f: { analysis: { client: { retransmission: number } } }) => f.analysis.client.retransmission === 1)).toBe(true);
      return doc.capture.flows;
    };
    const share = MEMCAP_SHARES.attempts * BUDGET;
    expectKeptWithin(await keptOf('copy'), share, ESTIMATED_BYTES.FLOW + ESTIMATED_BYTES.RARE_ROW);
    expectKeptWithin(await keptOf('resend'), share, ESTIMATED_BYTES.FLOW);
    expectKeptWithin(await keptOf(null), share, ESTIMATED_BYTES.FLOW);
  });

  it('counts an attempt whose SYN came again with a bad checksum at what its rare row adds, when checksums are verified', () => {
    // The SYN resent 0.5 ms later has its TCP checksum spoilt: the flow table drops it before the
    // analysis, counting the error in the rare row.
    const attempts = ATTEMPTS_KEPT + 40;
    const isn = 0x1000;
    const convs = Array.from({ length: attempts }, (_, i) => conv({ client: `10.7.${i >> 8}.${i & 255}:5000`, server: '10.0.0.25:25', clientIsn: isn }).client('S', i * 0.001).client('S', i * 0.001 + 0.0005, '', { seq: isn }));
    for (const c of convs) spoilTcpChecksum(c.packets[1].frame.bytes);
    const keptOf = (verifyChecksums: boolean) => {
      const result = analyzeFile(capture(convs), { memcapBytes: BUDGET, verifyChecksums });
      expect(result.flowCount + result.capture.memcap.attemptsCounted).toBe(attempts);
      return result.flowCount;
    };
    const share = MEMCAP_SHARES.attempts * BUDGET;
    expectKeptWithin(keptOf(true), share, ESTIMATED_BYTES.FLOW + ESTIMATED_BYTES.RARE_ROW);
    // Unverified, the spoilt SYN is a retransmission like any other.
    expectKeptWithin(keptOf(false), share, ESTIMATED_BYTES.FLOW);
  });

  it('counts an open flow that took a rare row at what the row adds', async () => {
    // Connections that open and wait, no payload (no dissector session); with `zero`, the server
    // advertises a zero window once, which takes a rare row.
    const flows = 120;
    const keptOf = async (zero: boolean) => {
      const convs = Array.from({ length: flows }, (_, i) => {
        const c = conv({ client: `10.4.${i >> 8}.${i & 255}:7000`, server: '10.0.0.90:9000' }).handshake(i * 0.01);
        return zero ? c.server('A', i * 0.01 + 0.002, '', { window: 0 }) : c;
      });
      const { doc } = await analyze(capture(convs), '1M');
      return doc.flows.filter((f: { endReason: string }) => f.endReason !== 'memcap').length;
    };
    const share = MEMCAP_SHARES.flows * BUDGET;
    expectKeptWithin(await keptOf(true), share, ESTIMATED_BYTES.FLOW + ESTIMATED_BYTES.RARE_ROW);
    expectKeptWithin(await keptOf(false), share, ESTIMATED_BYTES.FLOW);
  });

  it('sheds attempts that took their rare rows after the last new attempt, at its periodic look', async () => {
    // Every first SYN, a download's handshake, then copies of the 16 latest attempts' SYNs (all kept),
    // then the download's data: no new attempt comes after the resends, so only the look every
    // 1,024 packets finds the attempts' share exceeded.
    const attempts = ATTEMPTS_KEPT + 40;
    const isn = 0x1000;
    const clients = Array.from({ length: attempts }, (_, i) => conv({ client: `10.5.${i >> 8}.${i & 255}:5000`, server: '10.0.0.25:25', clientIsn: isn }).client('S', i * 0.001));
    // A copy comes within 0.5 s of its SYN, with the SYN's IP ID.
    for (const [i, c] of clients.entries()) if (i >= attempts - 16) c.client('S', 0.2 + i * 0.001, '', { seq: isn, ipId: 0x1000 });
    const download = conv({ client: '10.6.0.1:6000', server: '10.0.0.80:80' }).handshake(0.1);
    for (let k = 0; k < 1200; k++) download.server('A', 2.01 + k * 0.001, 'x');
    const { doc } = await analyze(capture([...clients, download]), '1M');
    const kept = doc.flows.filter((f: { server: string }) => f.server === '10.0.0.25:25').length;
    expectKeptWithin(kept, MEMCAP_SHARES.attempts * BUDGET, ESTIMATED_BYTES.FLOW + ESTIMATED_BYTES.RARE_ROW);
  });

  it('sheds nothing under the default budget, and says nothing', async () => {
    const file = capture(Array.from({ length: 30 }, (_, i) => opened(i, i * 0.01, i % 2 ? 'ssh' : 'http')));
    const io = memoryIo();
    await run(['analyze', file, '--json'], io);
    const doc = JSON.parse(io.out);
    expect(doc.capture.memcap).toMatchObject({ limitBytes: 512 * MiB, reachedAtPacket: null, flowsFinishedEarly: 0, attemptsCounted: 0, payloadStopped: 0 });
    expect(doc.flows.some((f: { memcap?: unknown }) => f.memcap)).toBe(false);
    expect(io.err).not.toContain('MEMCAP');
  });

  it('reads sizes as bytes or with k, M, G and refuses others', async () => {
    expect(parseSize('512M')).toBe(512 * MiB);
    expect(parseSize('2GiB')).toBe(2048 * MiB);
    expect(parseSize('300000000')).toBe(300_000_000);
    expect(parseSize('1.5g')).toBe(1536 * MiB);
    expect(parseSize('lots')).toBeNull();
    const io = memoryIo();
    expect(await run(['analyze', 'x.pcap', '--memcap', '10k'], io)).toBe(2);
    expect(io.err).toContain("--memcap takes a size of 1 MiB or more (bytes, or with k, M, G: 512M, 2G), got '10k'");
  });
});

describe('DistinctCount', () => {
  it('counts exactly up to its bound, then estimates within a few percent and says so', () => {
    const small = new DistinctCount(1000);
    for (let i = 0; i < 3000; i++) small.add(i % 1000);
    expect([small.count, small.approximate]).toEqual([1000, false]);
    const big = new DistinctCount(1000);
    for (let i = 0; i < 200_000; i++) big.add((0x0a000000 + i * 7) >>> 0);
    for (let i = 0; i < 200_000; i++) big.add(`2001:db8::${i.toString(16)}`);
    expect(big.approximate).toBe(true);
    expect(Math.abs(big.count - 400_000) / 400_000).toBeLessThan(0.05);
  });
});
