import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findDivergence, flowSteps } from '../../src/diff/align.js';
import { closeStory, compareFlows, describeClose, diffFacts, type DiffSide } from '../../src/diff/diff.js';
import { readFlowPackets } from '../../src/diff/packets.js';
import { choosePair, findSharedWebSocketKeys, keyedFlow } from '../../src/diff/select.js';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv, type Conversation } from '../helpers/conversation.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

function side(file: string, flow: FlowResult): DiffSide {
  return { file, flow, packets: readFlowPackets(file, flow).packets, chosen: null, candidates: 1 };
}

/** Analyses two files, picks the pair as `tcpwhy diff` does, and compares it. */
function diffFiles(goodName: string, badName: string) {
  const [gf, bf] = [sample(goodName), sample(badName)];
  const [g, b] = [analyzeFile(gf), analyzeFile(bf)];
  const pair = choosePair(g.flows, b.flows, gf === bf);
  return compareFlows(side(gf, pair.good as FlowResult), side(bf, pair.bad as FlowResult));
}

describe('tcpwhy diff on the samples', () => {
  it('nginx-ws-good vs nginx-ws-bad: picks the upstream legs and names HTTP/1.0 vs HTTP/1.1 and the close after 101', () => {
    const d = diffFiles('nginx-ws-good.pcap', 'nginx-ws-bad.pcap');
    // The upstream leg is the one nginx sent: its request carries nginx's header order, not the client's.
    expect(d.bad.flow.app?.http[0].request?.version).toBe('1.0');
    expect(d.good.flow.app?.http[0].request?.version).toBe('1.1');
    const fields = d.differences.map((x) => x.field);
    expect(fields).toContain('http.request.version');
    expect(fields).toContain('verdict.ws-upgrade-http10');
    expect(d.differences.find((x) => x.field === 'http.request.version')).toMatchObject({ good: 'HTTP/1.1', bad: 'HTTP/1.0' });
    expect(d.differences.find((x) => x.field === 'close')?.bad).toMatch(/^server FIN [\d.]+ ms after 101 Switching Protocols$/);
    // Ranked: weights never increase down the list.
    for (let i = 1; i < d.differences.length; i++) expect(d.differences[i].weight).toBeLessThanOrEqual(d.differences[i - 1].weight);
    expect(d.divergence).toMatchObject({ step: 'client request' });
    expect(d.divergence?.good?.label).toBe('HTTP GET /ws HTTP/1.1');
    expect(d.divergence?.bad?.label).toBe('HTTP GET /ws HTTP/1.0');
    expect(d.conclusion).toMatch(/^BAD sent its upgrade as HTTP\/1\.0 \(GOOD: HTTP\/1\.1\); the server closed \(FIN\) [\d.]+ ms after 101 Switching Protocols in BAD only/);
    expect(d.sameWebSocketKey).toBeNull();
  });

  it('nginx-ws-good vs nginx-ws-bad client legs: the close after 101 is the divergence', () => {
    const g = analyzeFile(sample('nginx-ws-good.pcap'));
    const b = analyzeFile(sample('nginx-ws-bad.pcap'));
    // Client legs are those answered by nginx.
    const clientLeg = (flows: FlowResult[]) => flows.find((f) => f.app?.http[0].response?.headers.server?.startsWith('nginx'))!;
    const d = compareFlows(side(sample('nginx-ws-good.pcap'), clientLeg(g.flows)), side(sample('nginx-ws-bad.pcap'), clientLeg(b.flows)));
    expect(d.differences.some((x) => x.field === 'http.request.version')).toBe(false);
    expect(d.divergence?.good).toMatchObject({ role: 0, kind: 'WS frame' });
    expect(d.divergence?.bad).toMatchObject({ role: 1, kind: 'FIN' });
    expect(d.conclusion).toMatch(/after 101 Switching Protocols in BAD only/);
  });

  it('tls-ok vs tls-version: the ClientHello offering TLS 1.2 only is the divergence, the alert the decisive difference', () => {
    const d = diffFiles('tls-ok.pcap', 'tls-version.pcap');
    const fields = d.differences.map((x) => x.field);
    expect(fields.slice(0, 2)).toEqual(['verdict.tls-alert', 'tls.alert']);
    expect(d.differences.find((x) => x.field === 'tls.offered')).toMatchObject({ good: 'TLS 1.3, TLS 1.2', bad: 'TLS 1.2' });
    expect(d.differences.find((x) => x.field === 'tls.version')).toMatchObject({ good: 'TLS 1.3', bad: null });
    expect(d.divergence).toMatchObject({ step: 'client TLS' });
    expect(d.divergence!.bad!.label).toBe('TLS ClientHello SNI localhost (TLS 1.2; ALPN http/1.1)');
    expect(d.conclusion).toMatch(/^BAD: TLS fatal alert protocol_version \(70\) from the server/);
  });

  it('http-clean vs refused: the SYN answered by RST is the divergence and the conclusion', () => {
    const d = diffFiles('http-clean.pcap', 'refused.pcap');
    expect(d.differences[0]).toMatchObject({ field: 'verdict.refused', good: null, weight: 100 });
    expect(d.differences.find((x) => x.field === 'state')).toMatchObject({ good: 'SF', bad: 'REJ' });
    expect(d.divergence).toMatchObject({ index: 1, step: 'server SYN-ACK' });
    expect(d.divergence?.bad).toMatchObject({ kind: 'RST', no: 2 });
    expect(d.conclusion).toMatch(/^BAD: RST: no listener on .*\(GOOD: SF, no problem found\); the server closed \(RST\) [\d.]+ ms after SYN in BAD only/);
  });

  it('refused vs http-clean (arguments swapped) says so', () => {
    const d = diffFiles('refused.pcap', 'http-clean.pcap');
    expect(d.conclusion).toMatch(/^GOOD is the one with problems \(refused: .*were GOOD and BAD swapped\?$/);
  });

  it('http-clean vs zero-window: the reset and the zero window, diverging at the first client data', () => {
    const d = diffFiles('http-clean.pcap', 'zero-window.pcap');
    const fields = d.differences.map((x) => x.field);
    expect(fields).toEqual(expect.arrayContaining(['verdict.rst-by-server', 'verdict.zero-window', 'server.zeroWindows', 'state']));
    expect(d.differences.find((x) => x.field === 'server.windowScale')).toMatchObject({ good: 10, bad: 0 });
    expect(d.divergence).toMatchObject({ index: 3, step: 'client request' });
    expect(d.divergence?.bad).toMatchObject({ kind: 'data', no: 4 });
    expect(d.conclusion).toMatch(/^BAD: connection reset by the server .*, with zero-window \(GOOD: SF, no problem found\)/);
  });

  it('the two legs of one proxied request carry the same Sec-WebSocket-Key and take the same steps', () => {
    const file = sample('nginx-ws-good.pcap');
    const r = analyzeFile(file);
    expect(r.flows.length).toBe(2);
    const d = compareFlows(side(file, r.flows[0]), side(file, r.flows[1]));
    expect(d.sameWebSocketKey).toBe(r.flows[0].app?.websocket?.key);
    expect(d.sameWebSocketKey).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(d.divergence).toBeNull();
    expect(d.conclusion).toMatch(/^no decisive difference .*Both flows carry Sec-WebSocket-Key .*: the same upgrade request seen on two hops/);
    expect(findSharedWebSocketKeys([{ file, flows: r.flows.map(keyedFlow).filter((k) => k !== null) }])).toEqual([
      { key: d.sameWebSocketKey, flows: r.flows.map((f) => ({ file, flow: f.id, client: f.client, server: f.server })) },
    ]);
  });
});

describe('comparison by role, not by address', () => {
  function upgrade(c: Conversation, version: string, closeAfter101: boolean): Conversation {
    c.handshake(0)
      .client('PA', 0.002, `GET /ws HTTP/${version}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)
      .server('PA', 0.003, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    if (closeAfter101) c.server('FA', 0.0031).client('FA', 0.004).server('A', 0.0041);
    else c.client('FA', 0.01).server('FA', 0.0101).client('A', 0.0102);
    return c;
  }
  function analyzed(c: Conversation, name: string) {
    const file = writeTempCapture(toPcap(c.packets.map((p) => ({ tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6), data: p.frame.bytes }))), name);
    const r = analyzeFile(file);
    return side(file, r.flows[0]);
  }

  it('finds no difference between the same exchange seen with other addresses, ports and ISNs', () => {
    const a = analyzed(upgrade(conv({ client: '10.0.0.1:50000', server: '10.0.0.2:80', clientIsn: 1, serverIsn: 2 }), '1.1', false), 'hop-a.pcap');
    const b = analyzed(upgrade(conv({ client: '192.168.7.9:61000', server: '172.16.0.5:8080', clientIsn: 0xffff_fff0, serverIsn: 0x8000_0000 }), '1.1', false), 'hop-b.pcap');
    const d = compareFlows(a, b);
    expect(d.differences).toEqual([]);
    expect(d.divergence).toBeNull();
    expect(d.sameWebSocketKey).toBe('dGhlIHNhbXBsZSBub25jZQ==');
  });

  it('finds the HTTP/1.0 upgrade and the close after 101 between captures from different points', () => {
    const good = analyzed(upgrade(conv({ client: '10.0.0.1:50000', server: '10.0.0.2:80' }), '1.1', false), 'good-hop.pcap');
    const bad = analyzed(upgrade(conv({ client: '10.9.9.9:41000', server: '10.9.9.1:8080', clientIsn: 7, serverIsn: 0xfffffffe }), '1.0', true), 'bad-hop.pcap');
    const d = compareFlows(good, bad);
    expect(d.differences.find((x) => x.field === 'http.request.version')).toMatchObject({ good: 'HTTP/1.1', bad: 'HTTP/1.0' });
    expect(d.differences.some((x) => x.field.includes('port') || String(x.bad).includes('10.9.9'))).toBe(false);
    expect(describeClose(closeStory(bad.flow, bad.packets))).toBe('server FIN 0.1 ms after 101 Switching Protocols');
    expect(d.conclusion).toBe('BAD sent its upgrade as HTTP/1.0 (GOOD: HTTP/1.1); the server closed (FIN) 0.1 ms after 101 Switching Protocols in BAD only (GOOD: client FIN 7.0 ms after 101 Switching Protocols). Both flows carry Sec-WebSocket-Key dGhlIHNhbXBsZSBub25jZQ==: the same upgrade request seen on two hops (one request traced through a proxy).');
    const steps = [flowSteps(good.flow, good.packets), flowSteps(bad.flow, bad.packets)];
    expect(findDivergence(steps[0], steps[1])?.index).toBe(3);
    expect(diffFacts(good.flow, good.flow)).toEqual([]);
  });
});

describe('choosing the pair among many flows', () => {
  it('pairs a healthy flow with a failed one in one capture, names the compared pair first and counts the pairs beyond five', () => {
    // 8 clean requests and 8 refused connects to one service, all in one capture.
    const convs: Conversation[] = [];
    for (let i = 0; i < 8; i++) {
      const t = i * 0.01;
      convs.push(
        conv({ client: `10.0.0.1:${40000 + i}`, server: '10.0.0.2:80' })
          .handshake(t)
          .client('PA', t + 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
          .server('PA', t + 0.003, 'HTTP/1.1 204 No Content\r\n\r\n')
          .client('FA', t + 0.004)
          .server('FA', t + 0.005)
          .client('A', t + 0.006),
      );
      convs.push(conv({ client: `10.0.0.1:${41000 + i}`, server: '10.0.0.2:80' }).client('S', t + 0.001).server('RA', t + 0.0011));
    }
    const packets = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
    const file = writeTempCapture(toPcap(packets.map((p) => ({ tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6), data: p.frame.bytes }))), 'many-pairs.pcap');
    const { flows } = analyzeFile(file);
    const pair = choosePair(flows, flows, true);
    expect(pair.pairs.length).toBeGreaterThan(5);
    // One capture on both sides: a clean request against a refused connect, not like with like.
    expect(pair.good.verdicts.map((v) => v.code)).toEqual(['clean-close']);
    expect(pair.bad.verdicts.map((v) => v.code)).toContain('refused');
    const listed = /flows paired by service: (.*); compared/.exec(pair.badReason ?? '')![1].split(', ');
    expect(listed[0]).toBe(`GOOD #${pair.good.id} ~ BAD #${pair.bad.id}`);
    expect(listed).toHaveLength(6);
    expect(listed[5]).toBe(`${pair.pairs.length - 5} more pairs`);
  });
});
