import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IS_NON_BLOCKING_SOURCE } from '../helpers/fd-flags.js';

// The report goes out through writeSync, which waits in the kernel for the reader while the pipe
// is in blocking mode. Node's stdout stream, once made for a pipe, switches the pipe to
// non-blocking: each write then stops at a full pipe buffer and writeAll waits 2 ms at a time.
// The children here write into what Node's spawn gives them, a Unix socket pair: it blocks, or
// stops at its buffer once non-blocking, as a pipe does.
const IO = new URL('../../dist/cli/io.js', import.meta.url).href;
const THREADS = new URL('../../dist/dissect/session-threads.js', import.meta.url).href;

/**
 * In a child whose stdout nobody reads yet: what one write of 1 MiB takes, after `setup`. Its
 * stdout is read from 200 ms after the child says it is about to write.
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
  it('leaves stdout blocking: one write of 1 MiB waits for the reader and goes out whole', async () => {
    expect(await oneWrite('const io = processIo();')).toEqual({ written: 1 << 20, isTTY: 'false', out: 1 << 20 });
  });

  it('leaves it blocking while dissector threads run (--workers): their stdio is not piped into it', async () => {
    const setup = `
      const io = processIo();
      const { SessionThreads } = await import(${JSON.stringify(THREADS)});
      new SessionThreads(2, null, () => {}).create({ id: 1, slot: 0, clientPort: 40000, serverPort: 80 }, false);`;
    expect(await oneWrite(setup)).toEqual({ written: 1 << 20, isTTY: 'false', out: 1 << 20 });
  });

  it('stops that write at the buffer once Node has made its stdout stream (what the tests above guard against)', async () => {
    const r = await oneWrite('const io = processIo(); void process.stdout;');
    expect(r.written).toBeGreaterThan(0);
    expect(r.written).toBeLessThan(1 << 20);
  });
});

// Whatever a command touches (commander, Node's warnings, the HTML writer, worker threads), its
// output must stay blocking. A preloaded hook reads the descriptors' flags as the process exits:
// O_NONBLOCK (octal 04000) in /proc/self/fdinfo. Linux only, as /proc is. Not `live`: see
// processIo for why its last lines may meet a non-blocking stderr.
const BIN = fileURLToPath(new URL('../../bin/tcpwhy.js', import.meta.url));
const SAMPLE = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

/**
 * Whether descriptors 0, 1 and 2 are non-blocking as `tcpwhy ...args` exits, with stdin from `input`
 * (or none) and stdout and stderr unread until then. `touchStdout`: the hook itself first makes
 * Node's process.stdout, which turns a pipe non-blocking (the control that the check sees it).
 */
async function flagsAtExit(args: string[], input?: Uint8Array, touchStdout = false): Promise<{ code: number | null; nonBlocking: boolean[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-fdflags-'));
  const hook = join(dir, 'hook.mjs');
  const out = join(dir, 'flags.json');
  writeFileSync(
    hook,
    `import { readFileSync, writeFileSync } from 'node:fs';
    ${touchStdout ? 'void process.stdout;' : ''}
    process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify([0, 1, 2].map(${IS_NON_BLOCKING_SOURCE}))));`,
  );
  const child = spawn(process.execPath, ['--import', pathToFileURL(hook).href, BIN, ...args], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  child.stdout.resume();
  child.stderr.resume();
  if (input) child.stdin!.end(input);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const nonBlocking = JSON.parse(readFileSync(out, 'utf8')) as boolean[];
  rmSync(dir, { recursive: true, force: true });
  return { code, nonBlocking };
}

describe.skipIf(!existsSync('/proc/self/fdinfo'))("every command's output", () => {
  const cases: [string, string[]][] = [
    ['the text report', ['analyze', SAMPLE('refused.pcap')]],
    ['--json --detail with a dissector thread', ['analyze', SAMPLE('nginx-ws-bad.pcap'), '--json', '--detail', '--workers', '2']],
    ['Zeek logs', ['analyze', SAMPLE('refused.pcap'), '--format', 'zeek']],
    ['the HTML report on stdout', ['analyze', SAMPLE('nginx-ws-bad.pcap'), '--html', '-']],
    ['a ladder', ['flow', SAMPLE('refused.pcap'), '1']],
    ['a diff', ['diff', SAMPLE('nginx-ws-good.pcap'), SAMPLE('nginx-ws-bad.pcap')]],
    ['help', ['help', 'analyze']],
    ['a usage error', ['analyze', '--no-such-option']],
    ['a missing file', ['analyze', 'no/such/file.pcap']],
  ];
  it('sees a pipe made non-blocking (the control: the hook touches process.stdout first)', async () => {
    const { nonBlocking } = await flagsAtExit(['analyze', SAMPLE('refused.pcap')], undefined, true);
    expect(nonBlocking[1]).toBe(true);
  });

  it.each(cases)('stays blocking: %s', async (_, args) => {
    const { nonBlocking } = await flagsAtExit(args);
    expect(nonBlocking.slice(1)).toEqual([false, false]);
  });

  it("stays blocking, and so does standard input, when the capture comes on '-'", async () => {
    const { code, nonBlocking } = await flagsAtExit(['analyze', '-'], readFileSync(SAMPLE('refused.pcap')));
    expect(code).toBe(0);
    expect(nonBlocking).toEqual([false, false, false]);
  });
});
