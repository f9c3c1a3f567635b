import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The report goes out through writeSync, which waits in the kernel for the reader while the pipe
// is in blocking mode. Node's stdout stream, once made for a pipe, switches the pipe to
// non-blocking: each write then stops at a full pipe buffer and writeAll waits 2 ms at a time.
const IO = new URL('../../dist/cli/io.js', import.meta.url).href;

/** In a child whose stdout is a pipe: what one write of 1 MiB takes, after `setup`. */
function oneWrite(setup: string): { written: number; isTTY: string; out: number } {
  const script = `
    import { writeSync } from 'node:fs';
    import { processIo } from ${JSON.stringify(IO)};
    ${setup}
    const written = writeSync(1, Buffer.alloc(1 << 20, 120));
    writeSync(2, written + ' ' + io.isTTY);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 4 << 20 });
  expect(r.status, r.stderr.toString()).toBe(0);
  const [written, isTTY] = r.stderr.toString().split(' ');
  return { written: Number(written), isTTY, out: r.stdout.length };
}

describe('the process output', () => {
  it('leaves a piped stdout blocking: one write of 1 MiB goes out whole', () => {
    const r = oneWrite('const io = processIo();');
    expect(r).toEqual({ written: 1 << 20, isTTY: 'false', out: 1 << 20 });
  });

  it('stops that write at the pipe buffer once Node has made its stdout stream (what the test above guards against)', () => {
    const r = oneWrite('const io = processIo(); void process.stdout;');
    expect(r.written).toBeLessThan(1 << 20);
    expect(r.written).toBeGreaterThan(0);
  });
});
