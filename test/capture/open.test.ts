import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFileSync } from '../../src/capture/open.js';
import { CaptureOpenError, type PacketRecord } from '../../src/capture/record.js';
import { IS_NON_BLOCKING_SOURCE } from '../helpers/fd-flags.js';
import { collectRecords, patternFrame, toPcap, toPcapng, writeTempCapture } from '../helpers/capture.js';
import { hasTool } from '../helpers/tools.js';

function summarise(list: string[]) {
  return (r: PacketRecord) => list.push(`${r.no} ${r.tsMicros} ${r.caplen}/${r.origLen} ${Buffer.from(r.bytes.subarray(r.off, r.end)).toString('hex')}`);
}

const frames = Array.from({ length: 50 }, (_, i) => patternFrame(40 + i * 29, i));

const OPEN = JSON.stringify(new URL('../../dist/capture/open.js', import.meta.url).href);

/** What a child read with readCaptureFileSync('-'), as `tcpwhy analyze -` reads: 333 bytes per read. */
interface StdinRead {
  /** Whether its descriptor 0 was non-blocking (O_NONBLOCK in /proc/self/fdinfo/0) when it began to read. */
  nonBlocking: boolean;
  packets: number;
  stoppedEarly: boolean;
  diagnostics: { code: string; message: string }[];
  records: string[];
}

/**
 * The child's script, run after `setup`. It says "read" on stderr after its first read, and ends
 * stderr with what it read.
 */
function readStdinScript(setup = ''): string {
  return `import { readFileSync, writeSync } from 'node:fs';
    import { readCaptureFileSync } from ${OPEN};
    ${setup}
    const nonBlocking = ${IS_NON_BLOCKING_SOURCE}(0);
    const records = [];
    let first = true;
    const onProgress = () => {
      if (!first) return;
      first = false;
      writeSync(2, 'read\\n');
    };
    const info = readCaptureFileSync('-', (r) => records.push(
      \`\${r.no} \${r.tsMicros} \${r.caplen}/\${r.origLen} \${Buffer.from(r.bytes.subarray(r.off, r.end)).toString('hex')}\`,
    ), { chunkSize: 333, onProgress });
    const diagnostics = info.diagnostics.map((d) => ({ code: d.code, message: d.message }));
    writeSync(2, JSON.stringify({ nonBlocking, packets: info.packets, stoppedEarly: info.stoppedEarly, diagnostics, records }) + '\\n');
    process.exit(0);`;
}

/** Runs `child` (whose stderr is a pipe) to its end; `onRead` hears when it first read. */
async function stdinRead(child: ChildProcess, onRead: () => void = () => {}): Promise<StdinRead> {
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    if (!err.includes('read\n') && (err + s).includes('read\n')) onRead();
    err += s;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code, err).toBe(0);
  return JSON.parse(err.trimEnd().split('\n').pop()!) as StdinRead;
}

/**
 * A child reading its standard input from the test. Node's spawn gives it a Unix socket pair, not a
 * pipe; both answer reads alike (blocking, or EAGAIN once made non-blocking).
 */
function nodeReadingSocketPair(setup = ''): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', readStdinScript(setup)], { stdio: ['pipe', 'ignore', 'pipe'] });
}

/** A child whose standard input is a pipe from `command` (a bash command line reading "$1", which is `file`). */
function nodeAfterPipe(command: string, file: string): ChildProcess {
  return spawn('bash', ['-c', `${command} | exec "$0" --input-type=module -e "$2"`, process.execPath, file, readStdinScript()], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether bash opens /dev/tcp/HOST/PORT (Debian's does; a bash built without network redirections does not). */
function bashHasNetRedirections(): boolean {
  const r = spawnSync('bash', ['-c', ': < /dev/tcp/127.0.0.1/1'], { encoding: 'utf8' });
  return !r.error && !/No such file or directory/.test(r.stderr);
}

describe('readCaptureFileSync', () => {
  it('reads a file in small reads exactly as in one read, naming it as given', () => {
    const path = writeTempCapture(toPcapng(frames), 'fifty.pcapng');
    const small: string[] = [];
    const big: string[] = [];
    const infoSmall = readCaptureFileSync(path, summarise(small), { chunkSize: 7 });
    const infoBig = readCaptureFileSync(path, summarise(big));
    expect(small).toEqual(big);
    expect(small.length).toBe(50);
    expect(infoSmall).toEqual(infoBig);
    expect(infoSmall.file).toBe(path);
  });

  it('throws CAPTURE_NOT_FOUND for a missing file', () => {
    expect(() => readCaptureFileSync('no/such/file.pcap', () => {})).toThrow(
      expect.objectContaining({ code: 'CAPTURE_NOT_FOUND', message: 'no/such/file.pcap: no such file' }),
    );
  });

  it('throws CAPTURE_UNREADABLE for a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-dir-'));
    expect(() => readCaptureFileSync(dir, () => {})).toThrow(expect.objectContaining({ code: 'CAPTURE_UNREADABLE' }));
  });

  it('throws CAPTURE_EMPTY for an empty file', () => {
    const path = writeTempCapture(new Uint8Array(0), 'empty.pcap');
    expect(() => readCaptureFileSync(path, () => {})).toThrow(CaptureOpenError);
    expect(() => readCaptureFileSync(path, () => {})).toThrow(/empty\.pcap: the input is empty/);
  });

  it('rejects a chunk size that is not a positive integer', () => {
    const path = writeTempCapture(toPcap(frames), 'chunk.pcap');
    expect(() => readCaptureFileSync(path, () => {}, { chunkSize: 0 })).toThrow(RangeError);
  });

  it('reads a pcap file as well', () => {
    const path = writeTempCapture(toPcap(frames), 'fifty.pcap');
    const list: string[] = [];
    const info = readCaptureFileSync(path, summarise(list), { chunkSize: 1000 });
    expect(info.packets).toBe(50);
    expect(list.length).toBe(50);
  });
});

// Standard input is read with readSync on descriptor 0, as a file is; these tests give a child
// process a real pipe, socket pair or TCP socket there.
describe("standard input ('-')", () => {
  it('reads a pipe, records cut across reads', async () => {
    const bytes = toPcapng(frames);
    const read = await stdinRead(nodeAfterPipe('cat "$1"', writeTempCapture(bytes, 'cat.pcapng')));
    expect(read.nonBlocking).toBe(false);
    expect(read.packets).toBe(50);
    expect(read.diagnostics).toEqual([]);
    expect(read.records).toEqual(collectRecords(bytes).records.map((r) => `${r.no} ${r.tsMicros} ${r.caplen}/${r.origLen} ${Buffer.from(r.data).toString('hex')}`));
  });

  // An input made non-blocking (here by Node's stdin stream in the reader itself, as a Node parent
  // sharing the descriptor could) answers an empty read with EAGAIN: the reader waits for the rest
  // instead of stopping there. The writer pauses only once the child has read, so the child meets
  // an empty input.
  it('reads all of a non-blocking input whose writer pauses halfway', async () => {
    const bytes = toPcap(frames);
    const cut = Math.floor(bytes.length / 2);
    const child = nodeReadingSocketPair('void process.stdin;');
    child.stdin!.write(bytes.subarray(0, cut));
    const read = await stdinRead(child, () => setTimeout(() => child.stdin!.end(bytes.subarray(cut)), 300));
    expect(read.nonBlocking).toBe(true);
    expect(read.packets).toBe(50);
    expect(read.diagnostics).toEqual([]);
  });

  // `tcpwhy analyze - < /dev/tcp/sensor/port`: a capture streamed over TCP whose sender is reset
  // part way. What was read is kept and the reset is named.
  it.skipIf(!bashHasNetRedirections())('keeps what was read from a socket that is reset part way', async () => {
    const bytes = toPcap(frames);
    let sender: Socket | undefined;
    const server = createServer((s) => {
      sender = s;
      s.write(bytes.subarray(0, 1000));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const child = spawn('bash', ['-c', `exec "$0" --input-type=module -e "$1" < /dev/tcp/127.0.0.1/${port}`, process.execPath, readStdinScript()], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const read = await stdinRead(child, () => sender!.resetAndDestroy());
      expect(read.packets).toBeGreaterThan(0);
      expect(read.packets).toBeLessThan(50);
      expect(read.stoppedEarly).toBe(true);
      expect(read.diagnostics.map((d) => d.code)).toEqual(['CAPTURE_READ_ERROR']);
      expect(read.diagnostics[0].message).toMatch(/reading stopped: ECONNRESET/);
    } finally {
      child.kill();
      server.close();
    }
  });

  // `script` runs the child on a pseudo-terminal, as a user typing `tcpwhy analyze -` would (skipped
  // where no pseudo-terminal can be had).
  it.skipIf(!hasTool('script', ['-qec', 'true', '/dev/null']))('refuses a terminal, saying how to pipe a capture in', () => {
    const script = `import { readCaptureFileSync } from ${OPEN};
      try { readCaptureFileSync('-', () => {}); } catch (e) { console.log(e.code + ' ' + e.message); }`;
    const child = spawnSync('script', ['-qec', `"$TCPWHY_NODE" --input-type=module -e "$TCPWHY_SCRIPT"`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, TCPWHY_NODE: process.execPath, TCPWHY_SCRIPT: script },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
    expect(child.stdout).toContain('CAPTURE_UNREADABLE -: standard input is a terminal, not a capture; pipe one in, e.g. tcpdump -U -w - | tcpwhy analyze -');
  });

  const tcpdump = hasTool('tcpdump');
  it.skipIf(!tcpdump)('reads `tcpdump -r X -w -` through a pipe like the file tcpdump read', async () => {
    const source = writeTempCapture(toPcapng(frames), 'piped.pcapng');
    const read = await stdinRead(nodeAfterPipe('tcpdump -r "$1" -w - 2>/dev/null', source));
    const direct: string[] = [];
    readCaptureFileSync(source, summarise(direct));
    expect(read.packets).toBe(frames.length);
    expect(read.records).toEqual(direct);
  });
});
