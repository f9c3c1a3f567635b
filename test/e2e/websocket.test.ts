// WebSocket verdicts on real traffic: a `ws` server and client (or a raw responder) on loopback,
// captured with tcpdump. Each scenario is checked twice with the same assertions: on the committed
// capture in samples/ (deterministic) and on a fresh capture made by the test.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import type { Verdict } from '../../src/rules/verdict.js';
import { collectRecords, toPcap, writeTempCapture } from '../helpers/capture.js';
import { internetChecksum } from '../helpers/packets.js';
import { canCapture, removeCaptureDirs, runCaptureScenario } from '../helpers/traffic.js';
import { expectProblemsOnlyFromResends, packetTime, resentDataSegments, wireSegments } from '../helpers/wire.js';

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));

afterAll(removeCaptureDirs);

function onlyFlow(file: string): FlowResult {
  const result = analyzeFile(file);
  expect(result.flows).toHaveLength(1);
  return result.flows[0]!;
}

const codes = (f: FlowResult) => f.verdicts.map((v) => v.code);
function verdict(f: FlowResult, code: string): Verdict {
  const v = f.verdicts.find((x) => x.code === code);
  if (!v) throw new Error(`flow ${f.id}: no ${code} verdict; got ${codes(f).join(', ')}`);
  return v;
}
const acceptFor = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

/**
 * What each scenario must yield from `file`; `scenario` is the scenario's own account when the
 * capture is fresh (null for the committed samples).
 */
const CHECKS: Record<string, (f: FlowResult, scenario: Record<string, unknown> | null, file: string) => void> = {
  'ws-healthy'(f, _scenario, file) {
    // Text, binary, ping and close from the client; welcome, two echoes, pong and close from the server.
    expectProblemsOnlyFromResends(f, wireSegments(file));
    expect(codes(f).filter((c) => c !== 'retransmission').sort()).toEqual(['clean-close', 'ws-close', 'ws-ok']);
    expect(verdict(f, 'ws-ok').facts).toMatchObject({ clientFrames: 4, serverFrames: 5, closeCode: 1000 });
    expect(verdict(f, 'ws-close').facts).toMatchObject({ code: 1000, reason: 'done', initiator: 'client', answered: true });
  },
  'ws-close-1011'(f, scenario) {
    const v = verdict(f, 'ws-close');
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ code: 1011, initiator: 'server', answered: true, answerCode: 1011 });
    expect(v.facts.reason).toBe(scenario?.wsCloseReason ?? 'database unavailable');
    expect(v.summary).toContain('1011 (Internal Error)');
    expect(codes(f)).not.toContain('ws-no-close-frame');
    // A session closed with 1011 is not OK, however clean its close handshake.
    expect(codes(f)).not.toContain('ws-ok');
    expect(f.verdicts.filter((x) => x.severity === 'error')).toEqual([]);
  },
  'ws-upgrade-404'(f) {
    const v = verdict(f, 'ws-upgrade-rejected');
    expect(v.severity).toBe('error');
    expect(v.summary).toMatch(/^Unexpected response code: 404 \(404 Not Found #\d+ to the WebSocket upgrade "GET \/socket HTTP\/1\.1"/);
    expect(v.facts).toMatchObject({ status: 404, target: '/socket' });
    // The rejection speaks for the 404; no second verdict for the same response.
    expect(codes(f)).not.toContain('http-error');
    expect(codes(f)).not.toContain('ws-ok');
  },
  'ws-non-http'(f, scenario) {
    const v = verdict(f, 'ws-non-http-response');
    expect(v.facts.guessedProtocol).toBe('SSH');
    const banner = String(scenario?.firstResponseBytes ?? 'SSH-2.0-');
    expect(banner.startsWith(String(v.facts.firstBytes).slice(0, 8))).toBe(true);
    expect(v.hint).toContain('ERR_INVALID_HTTP_RESPONSE');
    expect(codes(f)).not.toContain('no-response');
    expect(codes(f)).not.toContain('ws-upgrade-rejected');
  },
  'ws-bad-accept'(f, scenario) {
    const v = verdict(f, 'ws-bad-accept');
    const key = String(v.facts.key);
    expect(v.facts.expectedAccept).toBe(acceptFor(key));
    expect(v.facts.accept).not.toBe(acceptFor(key));
    if (scenario) {
      expect(key).toBe(scenario.secWebSocketKey);
      expect(v.facts.accept).toBe(scenario.sentAccept);
      expect(v.facts.expectedAccept).toBe(scenario.correctAccept);
    }
    // The ws client fails the connection itself: the client closes first.
    expect(v.facts.clientClosePacket).toBe(f.clientSide.fin?.no);
    expect(codes(f)).not.toContain('ws-ok');
    expect(codes(f)).not.toContain('ws-fin-after-101');
  },
  'ws-http10-fin'(f, _scenario, file) {
    expect(verdict(f, 'ws-upgrade-http10').facts).toMatchObject({ httpVersion: '1.0', target: '/ws' });
    const v = verdict(f, 'ws-fin-after-101');
    expect(v.severity).toBe('error');
    expect(v.summary).toMatch(/^server FIN [\d.]+ ms after 101 Switching Protocols .*the upgrade request was HTTP\/1\.0$/);
    expect(v.facts).toMatchObject({ closedBy: 'server', how: 'fin', requestHttpVersion: '1.0', server: 'swoole-http-server' });
    expect(v.facts.closePacket).toBe(f.serverSide.fin?.no);
    const delay = Number(v.facts.delayMs);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThan(50);
    // The delay is the one between the 101 and the FIN on the wire. (The client's own measure from
    // user space is no bound: a late-scheduled client reads the 101 and the FIN together.)
    const wire = wireSegments(file);
    const wireDelayMs = (packetTime(wire, Number(v.facts.closePacket)) - packetTime(wire, Number(v.facts.responsePacket))) / 1000;
    expect(delay).toBeCloseTo(wireDelayMs, 3);
    expect(codes(f)).not.toContain('ws-no-close-frame');
  },
};

describe('WebSocket verdicts on the committed samples', () => {
  for (const [name, check] of Object.entries(CHECKS)) {
    it(`${name}.pcap`, () => {
      const file = `${SAMPLES}${name}.pcap`;
      check(onlyFlow(file), null, file);
    });
  }
});

/**
 * The ws-healthy sample with the data segments at `indexes` (among data segments) sent again just
 * after the next packet, as a retransmission is: the same bytes under a new IP ID. (The same IP ID
 * would make it a copy of the one packet in the capture, which is no retransmission.)
 */
function withResentSegments(indexes: number[], name: string): string {
  const { records } = collectRecords(readFileSync(`${SAMPLES}ws-healthy.pcap`));
  expect(records[0]!.linkType).toBe(1); // Ethernet: the IPv4 header starts at byte 14
  const dataRecords = resentCandidates(`${SAMPLES}ws-healthy.pcap`);
  const out: { tsMicros: number; data: Uint8Array }[] = [];
  records.forEach((r, i) => {
    out.push({ tsMicros: r.tsMicros, data: r.data });
    const resend = records[i - 1];
    if (i > 0 && indexes.some((k) => dataRecords[k] === resend!.no)) out.push({ tsMicros: r.tsMicros + 1, data: withNewIpId(resend!.data, 14) });
  });
  return writeTempCapture(toPcap(out, { linkType: records[0]!.linkType }), name);
}

/** A copy of the frame whose IPv4 header (at `ip`) has another ID and a header checksum to match. */
function withNewIpId(frame: Uint8Array, ip: number): Uint8Array {
  const out = new Uint8Array(frame);
  const view = new DataView(out.buffer);
  view.setUint16(ip + 4, (view.getUint16(ip + 4) + 0x4000) & 0xffff);
  view.setUint16(ip + 10, 0);
  const headerLen = (out[ip]! & 0x0f) * 4;
  view.setUint16(ip + 10, internetChecksum(out.subarray(ip, ip + headerLen)));
  return out;
}
const resentCandidates = (file: string) => wireSegments(file).filter((s) => s.payloadLen > 0).map((s) => s.no);

describe('the ws-healthy check on the sample with segments resent', () => {
  it.each([
    [[2], 'one segment resent: an info line'],
    [[2, 5], 'two segments resent: a warning'],
  ])('%j: %s', (indexes, _what) => {
    const file = withResentSegments(indexes, `ws-healthy-resent-${indexes.join('-')}.pcap`);
    const f = onlyFlow(file);
    expect(resentDataSegments(wireSegments(file))).toHaveLength(indexes.length);
    CHECKS['ws-healthy']!(f, null, file);
    expect(codes(f)).toContain('retransmission');
  });
});

describe.skipIf(!canCapture())('WebSocket verdicts on fresh loopback captures', () => {
  for (const [name, check] of Object.entries(CHECKS)) {
    it(`${name} (ws server/client or raw responder, tcpdump on lo)`, async () => {
      const run = await runCaptureScenario(name);
      check(onlyFlow(run.file), run.expect, run.file);
    });
  }
});
