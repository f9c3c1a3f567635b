// A capture that really dropped packets: dumpcap on loopback with its smallest kernel buffer
// (1 MiB), stopped (SIGSTOP) while a thousand connections come and go, then let go on. The kernel
// drops what its ring cannot hold, dumpcap says so on stderr as it ends and writes its count into
// the file's interface statistics. The file's own count must reach the report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startProcess, sleep } from '../../scripts/lib/proc.mjs';
import { analyzeFile } from '../../src/pipeline.js';
import { hasTool } from '../helpers/tools.js';
import { connectionBurst } from '../helpers/traffic.js';

const canRunDumpcap = process.getuid?.() === 0 && hasTool('dumpcap', ['-v']);
if (!canRunDumpcap) console.log('drops.test.ts: skipped the dumpcap capture with drops (needs root and dumpcap, from the tshark package)');

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});


describe.skipIf(!canRunDumpcap)('a capture the kernel dropped packets from', () => {
  it('reports the count dumpcap wrote, as dumpcap itself says it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-drops-'));
    dirs.push(dir);
    const file = join(dir, 'drops.pcapng');
    const server = net.createServer((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    // -a duration: dumpcap stops by itself if this test never gets to stop it.
    const dumpcap = await startProcess('dumpcap', ['-i', 'lo', '-B', '1', '-q', '-f', `tcp port ${port}`, '-w', file, '-a', 'duration:30'], {
      readyPattern: /Capturing on/,
      readyTimeoutMs: 5_000,
      maxLifetimeMs: 40_000,
    });
    try {
      await connectionBurst(port, 20, 5);
      // Stopped within a millisecond of its last packets, dumpcap 4.0 here captured nothing more
      // after it went on; 200 ms of quiet first, and it drains its ring after SIGCONT.
      await sleep(200);
      process.kill(dumpcap.pid, 'SIGSTOP');
      try {
        await connectionBurst(port, 1_000, 50);
      } finally {
        process.kill(dumpcap.pid, 'SIGCONT');
      }
      await sleep(1_000);
      await connectionBurst(port, 20, 5);
      await sleep(200);
    } finally {
      await dumpcap.stop({ signal: 'SIGINT', timeoutMs: 5_000 });
      server.close();
    }
    const said = /Packets received\/dropped on interface '[^']*': (\d+)\/(\d+)/.exec(dumpcap.stderr);
    expect(said, dumpcap.stderr).not.toBeNull();
    const [received, dropped] = [Number(said![1]), Number(said![2])];
    // A thousand connections are some 19,000 packets; the 1 MiB ring holds a few thousand.
    expect(dropped, dumpcap.stderr).toBeGreaterThan(1_000);

    const { capture } = analyzeFile(file);
    expect(capture.packets).toBe(received);
    expect(capture.dropped).toEqual({ packets: dropped, inStatistics: dropped, beforePackets: 0, firstAfterLoss: 0, source: 'file', interfaces: 1, counted: 1, largerCapture: null });

    const text = spawnSync(process.execPath, ['bin/tcpwhy.js', 'analyze', '--width', '400', file], { encoding: 'utf8', timeout: 30_000 });
    const [n, kept] = [dropped, received].map((v) => new Intl.NumberFormat('en-US').format(v));
    const lines = text.stdout.split('\n');
    expect(lines[1]).toContain(`malformed. The capturing tool dropped ${n} packets by its own count (in the file's interface statistics): a verdict that rests on a packet never seen may be wrong (capture-loss).`);
    // Read first: the errors after it may rest on the packets it dropped.
    expect(lines.filter((l) => /^(ERROR|WARN|INFO) /.test(l))[0]).toBe(
      `WARN   the capturing tool dropped ${n} packets by its own count, against ${kept} kept: an answer, an ACK or a close the capture lacks may have crossed the network all the same, so verdicts that rest on one never seen (no-response, syn-timeout, half-open, half-closed, slow or stalled handshakes) may be the capture's loss, not the hosts'`,
    );
    const json = JSON.parse(spawnSync(process.execPath, ['bin/tcpwhy.js', 'analyze', '--json', file], { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }).stdout);
    expect(json.capture.dropped).toEqual({ packets: dropped, inStatistics: dropped, beforePackets: 0, firstAfterLoss: 0, source: 'file', interfaces: 1, counted: 1, largerCapture: null });
    const loss = json.verdicts.find((v: { code: string }) => v.code === 'capture-loss');
    expect(loss).toMatchObject({ severity: 'warning', facts: { droppedPackets: dropped, droppedInStatistics: dropped, droppedBeforePackets: 0, dropCountFrom: 'file' } });
  }, 60_000);
});
