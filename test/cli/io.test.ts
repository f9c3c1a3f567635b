import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The report goes out through writeSync, which waits in the kernel for the reader while the pipe
// is in blocking mode. Node's stdout stream, once made for a pipe, switches the pipe to
// non-blocking: each write then stops at a full pipe buffer and writeAll waits 2 ms at a time.
const IO = new URL('../../dist/cli/io.js', import.meta.url).href;
const THREADS = new URL('../../dist/dissect/session-threads.js', import.meta.url).href;

/**
 * In a child whose stdout is a pipe nobody reads yet: what one write of 1 MiB takes, after
 * `setup`. The pipe is read from 200 ms after the child says it is about to write.
 */
async function oneWrite(setup: string): Promise<{ written: number; isTTY: string; out: number }> {
  const script = `
    import { writeSync } from 'node:fs';
    import { processIo } from ${JSON.stringify(IO)};
    ${setup}
    writeSync(2, 'writing\\n');
    const written = writeSync(1, Buffer.alloc(1 << 20, 120));
    writeSync(2, written + ' ' + io.isTTY);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = 0;
  child.stdout.pause();
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (!err.includes('writing') && (err + s).includes('writing')) setTimeout(() => child.stdout.on('data', (b: Buffer) => (out += b.length)).resume(), 200);
    err += s;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code, err).toBe(0);
  const [written, isTTY] = (err.split('\n').find((line) => /^\d+ /.test(line)) ?? '').split(' ');
  return { written: Number(written), isTTY, out };
}

describe('the process output', () => {
  it('leaves a piped stdout blocking: one write of 1 MiB waits for the reader and goes out whole', async () => {
    expect(await oneWrite('const io = processIo();')).toEqual({ written: 1 << 20, isTTY: 'false', out: 1 << 20 });
  });

  it('leaves it blocking while dissector threads run (--workers): their stdio is not piped into it', async () => {
    const setup = `
      const io = processIo();
      const { SessionThreads } = await import(${JSON.stringify(THREADS)});
      new SessionThreads(2, null, () => {}).create({ id: 1, slot: 0, clientPort: 40000, serverPort: 80 }, false);`;
    expect(await oneWrite(setup)).toEqual({ written: 1 << 20, isTTY: 'false', out: 1 << 20 });
  });

  it('stops that write at the pipe buffer once Node has made its stdout stream (what the test above guards against)', async () => {
    const r = await oneWrite('const io = processIo(); void process.stdout;');
    expect(r.written).toBeGreaterThan(0);
    expect(r.written).toBeLessThan(1 << 20);
  });
});
