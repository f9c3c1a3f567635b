import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { memoryIo } from '../helpers/io.js';
import { readFlowPackets } from '../../src/diff/packets.js';
import { analyzeFile } from '../../src/pipeline.js';
import { flagsText, renderLadder, secondsText } from '../../src/report/ladder.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv } from '../helpers/conversation.js';
import { icmpErrorFrame } from '../helpers/packets.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const golden = (name: string) => fileURLToPath(new URL(`../golden/${name}`, import.meta.url));

function ladderOf(name: string, id: number, maxLines?: number): string {
  const result = analyzeFile(sample(name));
  const flow = result.flows.find((f) => f.id === id)!;
  const { packets, dropped } = readFlowPackets(sample(name), flow);
  return renderLadder(flow, packets, { color: false, maxLines, file: `samples/${name}`, dropped });
}

const PACKET_LINE = /^ *(\d+) +(\d+\.\d{6}) +(\+\d+\.\d{6})? +\|([<-][^|]*[->])\|/;

/** Every packet line has its bars at the same two columns; no colour, no trailing blanks. */
function checkLayout(text: string): number {
  const bars = new Set<string>();
  let packetLines = 0;
  for (const line of text.split('\n')) {
    expect(line).not.toMatch(/\u001b/);
    expect(line).toBe(line.trimEnd());
    if (!PACKET_LINE.test(line)) continue;
    packetLines++;
    const first = line.indexOf('|');
    bars.add(`${first},${line.indexOf('|', first + 1)}`);
  }
  expect(bars.size).toBe(1);
  return packetLines;
}

const GOLDEN = [
  { name: 'nginx-ws-bad.pcap', id: 2, file: 'ladder-nginx-ws-bad-2.txt', lines: 10 },
  { name: 'syn-timeout.pcap', id: 1, file: 'ladder-syn-timeout-1.txt', lines: 3 },
  { name: 'zero-window.pcap', id: 1, file: 'ladder-zero-window-1.txt', lines: 13 },
  { name: 'refused.pcap', id: 1, file: 'ladder-refused-1.txt', lines: 2 },
  { name: 'ws-healthy.pcap', id: 1, file: 'ladder-ws-healthy-1.txt', lines: 22 },
  { name: 'lossy-transfer.pcap', id: 1, file: 'ladder-lossy-transfer-1-max40.txt', lines: 40, maxLines: 40 },
] as const;

describe('renderLadder', () => {
  it.each(GOLDEN)('matches the golden ladder of $name flow $id', async (g) => {
    const text = ladderOf(g.name, g.id, 'maxLines' in g ? g.maxLines : undefined);
    expect(checkLayout(text)).toBe(g.lines);
    await expect(`${text}\n`).toMatchFileSnapshot(golden(g.file));
  });

  it('marks verdicts at the packets they rest on and annotates the HTTP/1.0 upgrade and the 101', () => {
    const text = ladderOf('nginx-ws-bad.pcap', 2);
    const line = (no: number) => text.split('\n').find((l) => new RegExp(`^ *${no} `).test(l)) ?? '';
    expect(line(9)).toMatch(/-- PSH,ACK 226 -+>\|.*HTTP GET \/ws HTTP\/1\.0 .*<= ERROR ws-upgrade-http10/);
    expect(line(11)).toMatch(/\|<-+ PSH,ACK 184 -+\|.*101 Switching Protocols .*<= ERROR ws-fin-after-101/);
    expect(line(13)).toMatch(/FIN,ACK.*<= ERROR ws-fin-after-101/);
  });

  it('folds idle gaps into one line and shows retransmissions of the SYN', () => {
    const text = ladderOf('syn-timeout.pcap', 1);
    expect(text).toMatch(/:\s+\.\.\. 1\.01 s idle \.\.\.\s+:/);
    expect(text).toMatch(/\.\.\. 2\.02 s idle \.\.\./);
    // Each SYN is timed from the one before it: the timer doubled.
    expect(text).toMatch(/retransmission of #2 after 2\.02 s/);
  });

  it('folds the middle of a long flow under --max-lines and says what was folded', () => {
    const text = ladderOf('lossy-transfer.pcap', 1, 40);
    const m = /\.\.\. (\d+) packets folded \(#\d+\.\.#\d+: \d+ from the client, \d+ from the server, \d+ payload bytes/.exec(text);
    expect(m).not.toBeNull();
    expect(text).toMatch(/(\d+) of 912 packets folded to stay within --max-lines 40 \(--max-lines 0 shows all\)\./);
    const all = ladderOf('lossy-transfer.pcap', 1, 0);
    expect(checkLayout(all)).toBe(912);
    expect(all).toMatch(/dup ACK #2/);
  });

  it('shows an ICMP error about the flow as a line from the router back to the client', () => {
    const c = conv({ client: '10.0.0.1:51000', server: '10.0.0.2:80' }).client('S', 0);
    const icmp = icmpErrorFrame({ quoted: { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 80, flags: 'S', seq: 0xffff_fff0 }, from: '10.0.0.254' });
    const t0 = 1_700_000_000_000_000;
    const file = writeTempCapture(toPcap([{ tsMicros: t0, data: c.packets[0].frame.bytes }, { tsMicros: t0 + 2_000, data: icmp.bytes }]), 'icmp-ladder.pcap');
    const result = analyzeFile(file);
    const flow = result.flows[0];
    expect(flow.icmp.map((i) => i.no)).toEqual([2]);
    const { packets } = readFlowPackets(file, flow);
    const text = renderLadder(flow, packets, { color: false });
    expect(checkLayout(text)).toBe(2);
    expect(text).toMatch(/^ +2 +0\.002000 +\+0\.002000 +\|<-+ ICMP 3\/1 -+\|  host unreachable \(ttl 255\)/m);
  });

  it('names flags in Wireshark order and prints seconds with microseconds', () => {
    expect(flagsText(0x12)).toBe('SYN,ACK');
    expect(flagsText(0x11)).toBe('FIN,ACK');
    expect(flagsText(0x18)).toBe('PSH,ACK');
    expect(flagsText(0x14)).toBe('RST,ACK');
    expect(secondsText(59_981_230)).toBe('59.981230');
    expect(secondsText(11)).toBe('0.000011');
  });
});

describe('tcpwhy flow / analyze --flow', () => {
  it('prints the same ladder through both commands, plain when stdout is not a terminal', async () => {
    const a = memoryIo(false);
    const b = memoryIo(false);
    // Wide enough for the golden's longest line: the full layout, nothing wrapped.
    expect(await run(['flow', sample('nginx-ws-bad.pcap'), '2', '--width', '200'], a)).toBe(0);
    expect(await run(['analyze', sample('nginx-ws-bad.pcap'), '--flow', '2', '--width', '200'], b)).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).not.toMatch(/\u001b\[/);
    const expected = readFileSync(golden('ladder-nginx-ws-bad-2.txt'), 'utf8').split('\n').slice(1).join('\n');
    expect(a.out.split('\n').slice(1).join('\n')).toBe(expected);
  });

  it('colours the ladder only on a terminal, and not with NO_COLOR or TERM=dumb', async () => {
    const tty = memoryIo(true);
    await run(['flow', sample('refused.pcap'), '1'], tty);
    expect(tty.out).toMatch(/\u001b\[31m<-+ RST,ACK -+\u001b\[0m/);
    expect(tty.out).toMatch(/\u001b\[31m<= ERROR refused\u001b\[0m/);
    for (const env of [{ NO_COLOR: '1' }, { TERM: 'dumb' }]) {
      const io = memoryIo(true, env);
      await run(['flow', sample('refused.pcap'), '1'], io);
      expect(io.out).not.toMatch(/\u001b\[/);
      expect(io.out).toContain('<= ERROR refused');
    }
  });

  it('exits 2 for a missing flow or a bad --max-lines, 3 for an unreadable file', async () => {
    const io = memoryIo(false);
    expect(await run(['flow', sample('refused.pcap'), '7'], io)).toBe(2);
    expect(io.err).toMatch(/no flow 7 \(the capture has 1 TCP flows\)/);
    expect(await run(['flow', sample('refused.pcap'), '1', '--max-lines', '-3'], io)).toBe(2);
    expect(await run(['flow', sample('no-such.pcap'), '1'], io)).toBe(3);
    expect(await run(['flow', fileURLToPath(new URL('../../package.json', import.meta.url)), '1'], io)).toBe(3);
    expect(await run(['flow', sample('refused.pcap')], io)).toBe(2);
    // Standard input is refused before anything is read from it: a ladder reads its capture twice.
    for (const argv of [['flow', '-', '1'], ['analyze', '-', '--flow', '1']]) {
      const stdin = memoryIo(false);
      expect(await run(argv, stdin), argv.join(' ')).toBe(2);
      expect(stdin.err).toContain('the ladder reads the capture a second time: give a file, not standard input');
    }
  });

  it('--json lists the packets of the flow with relative numbers', async () => {
    const io = memoryIo(false);
    expect(await run(['flow', sample('refused.pcap'), '1', '--json'], io)).toBe(0);
    const doc = JSON.parse(io.out);
    expect(doc.flow.id).toBe(1);
    expect(doc.packets.map((p: { from: string; seq: number; ack: number }) => [p.from, p.seq, p.ack])).toEqual([
      ['client', 0, 0],
      ['server', 0, 1],
    ]);
  });
});
