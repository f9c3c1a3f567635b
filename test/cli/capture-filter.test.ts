import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { splitFilesAndFilter } from '../../src/cli/capture-filter.js';
import { LINKTYPE } from '../../src/capture/record.js';
import { encodePcapng } from '../../src/capture/writer.js';
import { writeTempCapture } from '../helpers/capture.js';
import { memoryIo } from '../helpers/io.js';
import { tcpFrame } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';

// `analyze FILE EXPR`, `flow FILE ID EXPR`, `diff GOOD BAD EXPR` and --bpf, on a capture of nginx
// proxying two WebSocket upgrades (flows on ports 20004 and 27100).

const TCPDUMP = hasTool('tcpdump');
if (!TCPDUMP) console.log('skipped the tests of test/cli/capture-filter.test.ts that compile filters: tcpdump not installed');
const withTcpdump = TCPDUMP ? describe : describe.skip;

const BAD = 'samples/nginx-ws-bad.pcap';
const GOOD = 'samples/nginx-ws-good.pcap';

/** Packets tcpdump prints for the expression (one line each with -q). */
function tcpdumpCount(file: string, expression: string): number {
  const r = spawnSync('tcpdump', ['-r', file, '-n', '-q', '--', expression], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l !== '').length;
}

withTcpdump('capture filter on the command line', () => {
  it('analyze FILE EXPR keeps the packets tcpdump keeps and counts the rest as filtered', async () => {
    const io = memoryIo();
    expect(await run(['analyze', BAD, 'tcp port 20004'], io)).toBe(0);
    const kept = tcpdumpCount(BAD, 'tcp port 20004');
    expect(kept).toBe(10);
    expect(io.out).toContain(`20 packets read = ${kept} decoded + 0 skipped + ${20 - kept} filtered (by 'tcp port 20004') + 0 malformed.\n1 TCP flow`);
    expect(io.out).toContain('127.0.0.1:20004');
    expect(io.out).not.toContain('127.0.0.1:27100');
  });

  it('the words of the expression may come separately, or with --bpf; JSON counts filtered packets', async () => {
    const io = memoryIo();
    expect(await run(['analyze', BAD, '--json', 'tcp', 'port', '27100'], io)).toBe(0);
    const doc = JSON.parse(io.out);
    expect(doc.capture).toMatchObject({ packets: 20, decoded: tcpdumpCount(BAD, 'tcp port 27100'), filtered: 20 - tcpdumpCount(BAD, 'tcp port 27100'), captureFilter: 'tcp port 27100' });
    expect(doc.flows.map((f: { server: string }) => f.server)).toEqual(['127.0.0.1:27100']);
    const viaOption = memoryIo();
    expect(await run(['analyze', BAD, '--json', '--bpf', 'tcp port 27100'], viaOption)).toBe(0);
    expect(JSON.parse(viaOption.out).capture).toEqual(doc.capture);
    const none = memoryIo();
    expect(await run(['analyze', BAD, '--json'], none)).toBe(0);
    expect(JSON.parse(none.out).capture).toMatchObject({ filtered: 0, captureFilter: null });
  });

  it('several files, then the expression, each filtered', async () => {
    const io = memoryIo();
    expect(await run(['analyze', GOOD, BAD, 'tcp[tcpflags] & tcp-syn != 0'], io)).toBe(0);
    for (const file of [GOOD, BAD]) {
      const kept = tcpdumpCount(file, 'tcp[tcpflags] & tcp-syn != 0');
      expect(io.out).toMatch(new RegExp(`${file}: pcap, .*\\n(\\d+) packets read = ${kept} decoded \\+ 0 skipped \\+ \\d+ filtered`));
    }
  });

  it('flow FILE ID EXPR analyses and shows only the kept packets', async () => {
    const io = memoryIo();
    expect(await run(['flow', BAD, '1', 'tcp port 20004 and tcp[tcpflags] & tcp-fin != 0'], io)).toBe(0);
    // Without its SYNs the flow is seen from its first FIN, as tcpdump's selection alone would show it.
    expect(io.out).toContain('flow 1: 127.0.0.1:20004 -> 127.0.0.1:52716  SF  Ff  packets #13..#16');
    const ladderLines = io.out.split('\n').filter((l) => /^\s+\d+\s+\d+\.\d{6}/.test(l));
    expect(ladderLines.map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([13, 16]);
    expect(ladderLines.every((l) => l.includes('FIN'))).toBe(true);
  });

  it('diff GOOD BAD EXPR compares the flows the filter keeps on both sides', async () => {
    const io = memoryIo();
    expect(await run(['diff', GOOD, BAD, 'tcp port 23629 or tcp port 20004'], io)).toBe(0);
    expect(io.out).toMatch(/^GOOD samples\/nginx-ws-good.pcap flow 1: 127.0.0.1:\d+ -> 127.0.0.1:23629/m);
    expect(io.out).toMatch(/^BAD  samples\/nginx-ws-bad.pcap flow 1: 127.0.0.1:52716 -> 127.0.0.1:20004/m);
  });

  it("a bad expression: libpcap's words, exit 2, nothing on stdout", async () => {
    const io = memoryIo();
    expect(await run(['analyze', BAD, 'tcp portt 80'], io)).toBe(2);
    expect(io.out).toBe('');
    expect(io.err).toBe("tcpwhy: bad capture filter 'tcp portt 80' for link type EN10MB (Ethernet): can't parse filter expression: syntax error\n");
  });

  it('a mistyped file name after the first is named as such', async () => {
    let io = memoryIo();
    expect(await run(['analyze', BAD, 'samples/nginx-ws-gud.pcap'], io)).toBe(3);
    expect(io.err).toContain('samples/nginx-ws-gud.pcap: no such file');
    io = memoryIo();
    expect(await run(['analyze', BAD, 'samples/nginx-ws-gud'], io)).toBe(2);
    expect(io.err).toMatch(/^tcpwhy: no file named 'samples\/nginx-ws-gud', and as a capture filter: bad capture filter/);
    io = memoryIo();
    expect(await run(['analyze', BAD, 'net 10.0.0.0/8'], io)).toBe(0);
  });

  it('an interface whose link type the expression does not fit: its packets left out, with a diagnostic', async () => {
    const syn = tcpFrame({ flags: 'S' }).bytes;
    const file = writeTempCapture(
      encodePcapng(
        [
          { tsMicros: 1e15, data: syn, interfaceId: 0 },
          { tsMicros: 1e15 + 1, data: syn.subarray(14), interfaceId: 1 },
          { tsMicros: 1e15 + 2, data: syn.subarray(14), interfaceId: 1 },
        ],
        { interfaces: [{ linkType: LINKTYPE.ETHERNET }, { linkType: LINKTYPE.RAW }] },
      ),
      'ether-and-raw.pcapng',
    );
    const io = memoryIo();
    expect(await run(['analyze', file, '--json', 'ether broadcast or tcp'], io)).toBe(0);
    const c = JSON.parse(io.out).capture;
    expect(c).toMatchObject({ packets: 3, decoded: 1, filtered: 2 });
    expect(c.diagnostics).toEqual([expect.objectContaining({ code: 'CAPTURE_FILTER_NOT_APPLICABLE', packet: 2 })]);
    expect(io.err).toBe(`${c.diagnostics[0].message}\n`);
    expect(io.err).toMatch(/packet 2: libpcap cannot apply the capture filter to the link type of this packet's interface, so the 2 packets of that link type were left out \(bad capture filter 'ether broadcast or tcp' for link type RAW \(Raw IP\): not a broadcast link\)/);
  });

  it('the filter given twice is a usage error', async () => {
    const io = memoryIo();
    expect(await run(['flow', BAD, '1', 'tcp', '--bpf', 'udp'], io)).toBe(2);
    expect(io.err).toContain("give the capture filter once: either after the arguments ('tcp') or with --bpf ('udp')");
  });
});

describe('analyze arguments', () => {
  it('are captures up to the first word that is no file, then the capture filter', () => {
    const exists = (p: string) => p.endsWith('.pcap');
    expect(splitFilesAndFilter(['a.pcap', 'b.pcap', 'tcp', 'port', '80'], exists)).toEqual({ files: ['a.pcap', 'b.pcap'], filterWords: ['tcp', 'port', '80'] });
    expect(splitFilesAndFilter(['-', 'host 10.0.0.1'], exists)).toEqual({ files: ['-'], filterWords: ['host 10.0.0.1'] });
    expect(splitFilesAndFilter(['a.pcap', 'missing.pcapng', 'net', '10.0.0.0/8'], () => false)).toEqual({ files: ['a.pcap', 'missing.pcapng'], filterWords: ['net', '10.0.0.0/8'] });
    // The first argument is always a capture, existing or not (its own error names it).
    expect(splitFilesAndFilter(['missing', 'tcp'], () => false)).toEqual({ files: ['missing'], filterWords: ['tcp'] });
  });
});
