import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseFlowSpec } from '../../src/cli/commands/diff.js';
import { memoryIo } from '../helpers/io.js';
import { run } from '../../src/cli/main.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { choosePair } from '../../src/diff/select.js';
import { analyzeFile, streamFlows, type FlowResult } from '../../src/pipeline.js';
import { collectRecords, toPcap, writeTempCapture } from '../helpers/capture.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

async function diffJson(...args: string[]) {
  const io = memoryIo();
  const code = await run(['diff', ...args, '--json'], io);
  expect(io.err).toBe('');
  return { code, doc: JSON.parse(io.out) };
}

/**
 * The two legs of nginx-ws-good as two captures, as if taken on the client host and on the
 * backend host: each file keeps only the packets of one server port.
 */
function splitLegs(): { clientSide: string; serverSide: string } {
  const file = sample('nginx-ws-good.pcap');
  const flows = analyzeFile(file).flows;
  const proxyPort = flows.find((f) => f.app?.http[0].response?.headers.server?.startsWith('nginx'))!.serverPort;
  const { records } = collectRecords(new Uint8Array(readFileSync(file)));
  const decoder = new PacketDecoder();
  const legs: [typeof records, typeof records] = [[], []];
  for (const r of records) {
    expect(decoder.decodeBytes(r.data, 0, r.data.length, r.linkType)).toBe(DECODED.TCP);
    const v = decoder.view;
    legs[v.srcPort === proxyPort || v.dstPort === proxyPort ? 0 : 1].push(r);
  }
  const write = (rs: typeof records, name: string) => writeTempCapture(toPcap(rs.map((r) => ({ tsMicros: r.tsMicros, data: r.data }))), name);
  return { clientSide: write(legs[0], 'leg-client-side.pcap'), serverSide: write(legs[1], 'leg-server-side.pcap') };
}

describe('tcpwhy diff', () => {
  it('nginx-ws-good vs nginx-ws-bad: JSON with ranked differences, divergence and the HTTP/1.0 conclusion', async () => {
    const { code, doc } = await diffJson(sample('nginx-ws-good.pcap'), sample('nginx-ws-bad.pcap'));
    expect(code).toBe(0);
    expect(Object.keys(doc)).toEqual(['schemaVersion', 'good', 'bad', 'differences', 'divergence', 'sameWebSocketKey', 'conclusion']);
    expect(doc.good).toMatchObject({ file: sample('nginx-ws-good.pcap'), flow: 2 });
    expect(doc.bad).toMatchObject({ file: sample('nginx-ws-bad.pcap'), flow: 2 });
    expect(doc.bad.chosen).toMatch(/^chosen of 2 flows: same service as GOOD \(HTTP GET \/ws, same request header order\)/);
    for (const d of doc.differences) expect(Object.keys(d)).toEqual(['field', 'good', 'bad', 'weight']);
    expect(doc.differences).toContainEqual({ field: 'http.request.version', good: 'HTTP/1.1', bad: 'HTTP/1.0', weight: 90 });
    expect(doc.divergence).toMatchObject({ step: 'client request', goodPacket: 9, badPacket: 9 });
    expect(doc.conclusion).toMatch(/^BAD sent its upgrade as HTTP\/1\.0 \(GOOD: HTTP\/1\.1\); the server closed \(FIN\) 0\.08 ms after 101 Switching Protocols in BAD only/);
  });

  it('prints the differences, the two ladders side by side around the divergence, and the conclusion', async () => {
    const io = memoryIo();
    expect(await run(['diff', sample('http-clean.pcap'), sample('refused.pcap'), '--width', '160'], io)).toBe(0);
    const out = io.out;
    expect(out).toMatch(/^GOOD +.*http-clean\.pcap flow 1: /m);
    expect(out).toMatch(/^ +100 +verdict\.refused +GOOD: -$/m);
    expect(out).toMatch(/First divergence at step 2 \(server SYN-ACK\):\n  GOOD #2 server SYN-ACK\n  BAD  #2 server RST/);
    // The divergence row holds both packets, separated by '>'.
    expect(out).toMatch(/#2 +[\d.]+ C<-+ SYN,ACK -+S +> +#2 +[\d.]+ C<-+ RST,ACK -+S/);
    expect(out).toMatch(/\nConclusion: BAD: RST: no listener on /);
    expect(out).not.toMatch(/\u001b\[/);
    // Narrower than 120 columns, one ladder above the other, the divergence marked on each.
    const narrow = memoryIo();
    expect(await run(['diff', sample('http-clean.pcap'), sample('refused.pcap'), '--width', '80'], narrow)).toBe(0);
    expect(narrow.out).toMatch(/\nGOOD:\n(?: .*\n)*> +#2 +[\d.]+ C<-+ SYN,ACK -+S\n(?:.*\n)*BAD:\n(?: .*\n)*> +#2 +[\d.]+ C<-+ RST,ACK -+S/);
    for (const line of narrow.out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('http-clean vs zero-window names the reset, the zero window and the first data that was not HTTP', async () => {
    const { doc } = await diffJson(sample('http-clean.pcap'), sample('zero-window.pcap'));
    expect(doc.differences[0]).toMatchObject({ field: 'verdict.rst-by-server', good: null, weight: 100 });
    expect(doc.differences.map((d: { field: string }) => d.field)).toContain('verdict.zero-window');
    expect(doc.divergence).toMatchObject({ goodPacket: 4, badPacket: 4, good: { kind: 'request' }, bad: { kind: 'data' } });
    expect(doc.conclusion).toMatch(/with zero-window/);
  });

  it('FILE#ID names the flow; the two legs of one proxied request share the Sec-WebSocket-Key', async () => {
    const { doc } = await diffJson(`${sample('nginx-ws-good.pcap')}#1`, `${sample('nginx-ws-good.pcap')}#2`);
    expect(doc.good.chosen).toBeNull();
    expect(doc.sameWebSocketKey).toMatch(/==$/);
    expect(doc.divergence).toBeNull();
    expect(doc.conclusion).toContain(`Both flows carry Sec-WebSocket-Key ${doc.sameWebSocketKey}`);
  });

  it('matches one upgrade across captures taken on two hops, by role and not by address', async () => {
    const { clientSide, serverSide } = splitLegs();
    const { doc } = await diffJson(clientSide, serverSide);
    expect(doc.good.server).not.toBe(doc.bad.server);
    expect(doc.sameWebSocketKey).toMatch(/==$/);
    expect(doc.differences.every((d: { weight: number }) => d.weight < 50)).toBe(true);

    const io = memoryIo();
    expect(await run(['analyze', clientSide, serverSide], io)).toBe(0);
    expect(io.out).toContain('Same Sec-WebSocket-Key in several flows (one upgrade request seen on several hops):');
    expect(io.out).toContain(`  ${doc.sameWebSocketKey}: ${clientSide} flow 1 (`);
    const json = memoryIo();
    expect(await run(['analyze', clientSide, serverSide, sample('ws-healthy.pcap'), '--json'], json)).toBe(0);
    const multi = JSON.parse(json.out);
    expect(multi.files.length).toBe(3);
    expect(multi.sharedKeys).toEqual([{ key: doc.sameWebSocketKey, flows: [expect.objectContaining({ file: clientSide, flow: 1 }), expect.objectContaining({ file: serverSide, flow: 1 })] }]);
  });

  it('--filter-good / --filter-bad narrow the candidates', async () => {
    const bad = analyzeFile(sample('nginx-ws-bad.pcap'));
    const clientLeg = bad.flows.find((f) => f.app?.http[0].response?.headers.server?.startsWith('nginx'))!;
    const { doc } = await diffJson(sample('nginx-ws-good.pcap'), sample('nginx-ws-bad.pcap'), '--filter-bad', `server ${clientLeg.server}`);
    expect(doc.bad.flow).toBe(clientLeg.id);
    expect(doc.bad.chosen).toBeNull();
    expect(doc.good.chosen).toMatch(/Server: nginx\/1\.22\.1/);
  });

  it('exit codes: 2 for usage errors, 3 for unreadable input', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['diff', sample('refused.pcap')], 2, /missing required argument 'bad'/],
      [['diff', `${sample('refused.pcap')}#x`, sample('http-clean.pcap')], 2, /flow id after # must be a flow number/],
      [['diff', `${sample('refused.pcap')}#9`, sample('http-clean.pcap')], 2, /no flow 9/],
      [['diff', sample('refused.pcap'), sample('http-clean.pcap'), '--filter-bad', 'port 1'], 2, /no flow matches --filter-bad 'port 1'/],
      [['diff', sample('refused.pcap'), sample('http-clean.pcap'), '--filter-bad', 'bogus'], 2, /--filter: cannot read 'bogus'/],
      [['diff', sample('no-such.pcap'), sample('http-clean.pcap')], 3, /no such file/],
      // Standard input can be read once, and diff reads each side's capture at least twice.
      [['diff', '-', sample('http-clean.pcap')], 2, /give files, not standard input/],
      [['diff', `${sample('refused.pcap')}#1`, '-'], 2, /give files, not standard input/],
      [['diff', sample('refused.pcap'), sample('arp-unanswered.pcap')], 3, /no TCP flow to compare/],
    ];
    for (const [argv, code, message] of cases) {
      const io = memoryIo();
      expect(await run(argv, io), argv.join(' ')).toBe(code);
      expect(io.err).toMatch(message);
    }
  });

  it('parses FILE#ID, keeping a file whose name really ends in #N', () => {
    expect(parseFlowSpec('a.pcap#3', () => false)).toEqual({ file: 'a.pcap', id: 3 });
    expect(parseFlowSpec('a.pcap', () => false)).toEqual({ file: 'a.pcap', id: null });
    expect(parseFlowSpec('odd#2', (p) => p === 'odd#2')).toEqual({ file: 'odd#2', id: null });
  });
});

describe('tcpwhy diff on a capture with more flows than it looks at', () => {
  it('keeps only the first candidates of each kind yet chooses as over every flow, and counts them all', async () => {
    // 431 clean requests and 39 refused connects; the clean ones end in an order other than their ids.
    const packets: { t: number; frame: { bytes: Uint8Array } }[] = [];
    const { conv } = await import('../helpers/conversation.js');
    for (let i = 0; i < 470; i++) {
      const t = i * 0.01;
      const c = conv({ client: `10.0.0.1:${20000 + i}`, server: '10.0.0.2:80' });
      if (i % 12 === 5) c.client('S', t).server('RA', t + 0.0001);
      else {
        const hold = (i % 7) * 0.05; // later ids can end first
        c.handshake(t).client('PA', t + 0.002, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').server('PA', t + 0.003, 'HTTP/1.1 204 No Content\r\n\r\n');
        c.client('FA', t + 0.004 + hold).server('FA', t + 0.005 + hold).client('A', t + 0.006 + hold);
      }
      packets.push(...c.packets);
    }
    packets.sort((a, b) => a.t - b.t);
    const file = writeTempCapture(toPcap(packets.map((p) => ({ tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6), data: p.frame.bytes }))), 'many-flows.pcap');

    const all: FlowResult[] = [];
    streamFlows(file, (f) => all.push(f), { keepEvents: false });
    all.sort((a, b) => a.id - b.id);
    const failed = all.filter((f) => f.verdicts.some((v) => v.severity !== 'info'));
    expect(failed.length).toBe(39);
    const expected = choosePair(all, all, true);

    const { doc } = await diffJson(file, file);
    expect([doc.good.flow, doc.bad.flow]).toEqual([expected.good.id, expected.bad.id]);
    expect(doc.good.chosen).toMatch(/^chosen of 431 healthy flows: /);
    expect(doc.bad.chosen).toMatch(/^chosen of 39 failed flows: /);
  });
});

describe('tcpwhy diff and flow on a cut capture', () => {
  it('name the cut (file, packet, offset) on stderr, and still work with what was read', async () => {
    const whole = readFileSync(sample('nginx-ws-good.pcap'));
    const file = writeTempCapture(new Uint8Array(whole.subarray(0, 3000)), 'cut-short.pcap');
    const diffIo = memoryIo();
    expect(await run(['diff', file, file], diffIo)).toBe(0);
    expect(diffIo.err).toMatch(/cut-short\.pcap: packet 25 \(file offset 0xb6d\): the file ends inside this packet .*cut short .*\n$/);
    expect(diffIo.out).toMatch(/^GOOD /);
    // Asked for a flow the cut removed: the cut is said first, then which flows there are.
    const flowIo = memoryIo();
    expect(await run(['analyze', file, '--flow', '9'], flowIo)).toBe(2);
    expect(flowIo.err).toMatch(/^.*cut-short\.pcap: packet 25 .*cut short .*\n.*no flow 9 \(the capture has 2 TCP flows\)/);
  });
});
