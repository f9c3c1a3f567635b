import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PROGRESS_INTERVAL_MS, PROGRESS_MIN_BYTES, ProgressLine, progressLine, showsProgress } from '../../src/cli/progress.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { memoryIo } from '../helpers/io.js';
import { tcpFrame } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/tcpwhy.js', import.meta.url));
const MB = 1024 * 1024;

describe('progress on stderr', () => {
  it('shows only on a terminal, for inputs of 50 MB or more, and never with --quiet', () => {
    expect(showsProgress({ stderrIsTTY: true }, false, PROGRESS_MIN_BYTES)).toBe(true);
    expect(showsProgress({ stderrIsTTY: true }, false, PROGRESS_MIN_BYTES - 1)).toBe(false);
    expect(showsProgress({ stderrIsTTY: true }, true, 10 * PROGRESS_MIN_BYTES)).toBe(false);
    expect(showsProgress({ stderrIsTTY: false }, false, 10 * PROGRESS_MIN_BYTES)).toBe(false);
    expect(showsProgress({ stderrIsTTY: true }, false, 0)).toBe(false); // a pipe: no size
  });

  it('says bytes read of the total, packets per second and the time left', () => {
    expect(progressLine('big.pcap', 120 * MB, 800 * MB, 310_000, 1000)).toBe('big.pcap: 120 of 800 MB (15%), 310,000 packets/s, 0:06 left');
    expect(progressLine('big.pcap', 10 * MB, 4000 * MB, 1000, 10_000)).toBe('big.pcap: 10 of 4,000 MB (0%), 100 packets/s, 1:06:30 left');
  });

  it('is redrawn at most every interval, erased before report lines on the same terminal and at the end', () => {
    const io = memoryIo(true);
    io.stderrIsTTY = true;
    io.stderrColumns = 200;
    let now = 0;
    const progress = new ProgressLine(io, 'big.pcap', () => now);
    const total = 100 * MB;
    now = 100;
    progress.update(4 * MB, total, 1000);
    now = 100 + PROGRESS_INTERVAL_MS / 2;
    progress.update(8 * MB, total, 2000); // too soon: not drawn
    progress.io.stdout('a report line\n');
    now = 100 + PROGRESS_INTERVAL_MS;
    progress.update(12 * MB, total, 3000);
    progress.erase();
    progress.erase(); // nothing drawn since: nothing to erase
    expect(io.err).toBe('\r\u001b[Kbig.pcap: 4 of 100 MB (4%), 10,000 packets/s, 0:03 left\r\u001b[K\r\u001b[Kbig.pcap: 12 of 100 MB (12%), 8,571 packets/s, 0:03 left\r\u001b[K');
    expect(io.out).toBe('a report line\n');
  });

  it('is cut to the width of the terminal, so that erasing it erases it whole', () => {
    const io = memoryIo(false);
    io.stderrIsTTY = true;
    io.stderrColumns = 30;
    new ProgressLine(io, 'a-capture-with-a-long-name.pcap', () => 0).update(MB, 100 * MB, 10);
    expect(io.err).toBe('\r\u001b[Ka-capture-with-a-long-name.p…');
  });

  // On a real pseudo-terminal: `script` runs tcpwhy with stdout and stderr on a terminal.
  const script = hasTool('script', ['--version']);
  if (!script) console.log('skipped the pseudo-terminal test of test/cli/progress.test.ts: script (util-linux) not installed');
  it.skipIf(!script)('on a terminal, a 52 MB capture shows progress lines and erases them; --quiet and a pipe show none', () => {
    // One flow of full-size segments: 52 MB in about 36,000 packets.
    const payload = new Uint8Array(1400);
    const frames = [tcpFrame({ flags: 'S', seq: 0 }).bytes];
    for (let seq = 1; frames.length * 1470 < 52 * MB; seq += payload.length) frames.push(tcpFrame({ flags: 'A', seq, payload }).bytes);
    const file = writeTempCapture(toPcap(frames, { stepMicros: 10 }), 'big.pcap');
    const onTerminal = (args: string) => spawnSync('script', ['-qec', `${process.execPath} ${BIN} analyze ${file} ${args}`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    const shown = onTerminal('');
    expect(shown.status).toBe(0);
    // A progress text is what lies between two erases (the last erase is followed by the report).
    const lines = [...shown.stdout.matchAll(/\r\u001b\[K([^\r\u001b]*)(?=\r\u001b\[K)/g)].map((m) => m[1]).filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${file}: \\d+ of 5[23] MB \\(\\d+%\\), [\\d,]+ packets/s, \\d+:\\d\\d left$`));
    // Erased: the last progress text is followed by an erase before the report.
    expect(shown.stdout).toMatch(/left\r\u001b\[K[\s\S]*packets read = /);
    expect(onTerminal('--quiet').stdout).not.toContain('packets/s');
    const piped = spawnSync(process.execPath, [BIN, 'analyze', file], { encoding: 'utf8', timeout: 120_000 });
    expect(piped.stderr).toBe('');
  }, 180_000);
});
