// A live capture the kernel dropped packets from: tcpwhy live on loopback through its tcpdump
// child, which is stopped (SIGSTOP) while a thousand connections come and go, so that the
// kernel's ring for the capture overflows. libpcap's count must reach the report as the kernel's
// drops, capture-loss warn first, and the JSON summary carry the count with its source.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../scripts/lib/proc.mjs';
import { analyzeFile } from '../../src/pipeline.js';
import { canCapture, connectionBurst } from '../helpers/traffic.js';

if (!canCapture()) console.log('live-drops.test.ts: skipped the live capture with kernel drops (needs root and tcpdump)');


/** The child processes of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

async function liveRun(format: string[]): Promise<{ out: string; err: string }> {
  const server = net.createServer((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  // --duration: the capture stops by itself; the child is killed too if the test dies first.
  const live = spawn(process.execPath, ['bin/tcpwhy.js', 'live', '-i', 'lo', '--duration', '6', ...format, `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  live.stdout.on('data', (c) => (out += c));
  live.stderr.on('data', (c) => (err += c));
  const ended = new Promise<void>((resolve) => live.on('close', () => resolve()));
  const killer = setTimeout(() => live.kill('SIGKILL'), 30_000);
  try {
    for (let waited = 0; !err.includes('listening on') && waited < 5_000; waited += 50) await sleep(50);
    await connectionBurst(port, 20, 5);
    await sleep(200);
    const tcpdump = childrenOf(live.pid!);
    expect(tcpdump.length).toBeGreaterThan(0);
    for (const pid of tcpdump) process.kill(pid, 'SIGSTOP');
    try {
      await connectionBurst(port, 1_000, 50);
    } finally {
      for (const pid of tcpdump) process.kill(pid, 'SIGCONT');
    }
    await ended;
  } finally {
    clearTimeout(killer);
    server.close();
  }
  return { out, err };
}

describe.skipIf(!canCapture())('a live capture the kernel dropped packets from', () => {
  it('says the kernel count in the text report, capture-loss first, in the jsonl summary, and in the pcapng file it writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-live-drops-'));
    const written = join(dir, 'live.pcapng');
    const text = await liveRun(['--write', written]);
    const dropped = Number(/live capture on lo [^\n]*: \d+ packets, (\d+) dropped by the kernel/.exec(text.out)?.[1]);
    // A thousand connections are some 19,000 packets; tcpdump's ring holds a few hundred at this snap length.
    expect(dropped, text.out + text.err).toBeGreaterThan(1_000);
    const n = new Intl.NumberFormat('en-US').format(dropped);
    // The report wraps at 100 columns when piped: its continuation lines are indented.
    expect(text.out.replace(/\n +/g, ' ')).toContain(`The capturing tool dropped ${n} packets by its own count (libpcap's count of the packets the kernel could not hand over): a verdict that rests on a packet never seen may be wrong (capture-loss).`);
    const groups = text.out.split('\n').filter((l) => /^(ERROR|WARN|INFO) /.test(l));
    expect(groups[0]).toMatch(new RegExp(`^WARN +the capturing tool dropped ${n} packets by its own count`));
    // Said by the report, so not again on stderr.
    expect(text.err).not.toContain('packets dropped by the kernel');
    // The file keeps the count, as dumpcap's do: analysing it later warns the same way.
    try {
      const kept = Number(/live capture on lo [^\n]*: (\d+) packets,/.exec(text.out)?.[1]);
      const later = analyzeFile(written);
      expect(later.capture.packets).toBe(kept);
      expect(later.capture.dropped).toMatchObject({ packets: dropped, inStatistics: dropped, source: 'file', interfaces: 1, counted: 1, largerCapture: null });
      expect(later.verdicts.find((v) => v.code === 'capture-loss')?.severity).toBe('warning');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const lines = await liveRun(['--format', 'jsonl']);
    const summary = JSON.parse(lines.out.trim().split('\n').pop()!);
    expect(summary.capture.dropped).toMatchObject({ inStatistics: summary.capture.dropped.packets, beforePackets: 0, source: 'live' });
    expect(summary.capture.dropped.packets).toBeGreaterThan(1_000);
    expect(summary.verdicts.find((v: { code: string }) => v.code === 'capture-loss')).toMatchObject({ severity: 'warning', facts: { dropCountFrom: 'live' } });
    expect(lines.err).toContain('packets dropped by the kernel: verdicts may rest on missing packets');
  }, 60_000);
});
