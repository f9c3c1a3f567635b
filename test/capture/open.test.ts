import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile, readCaptureFileSync } from '../../src/capture/open.js';
import { CaptureOpenError, type PacketRecord } from '../../src/capture/record.js';
import { collectRecords, patternFrame, toPcap, toPcapng, writeTempCapture } from '../helpers/capture.js';
import { hasTool } from '../helpers/tools.js';

function summarise(list: string[]) {
  return (r: PacketRecord) => list.push(`${r.no} ${r.tsMicros} ${r.caplen}/${r.origLen} ${Buffer.from(r.bytes.subarray(r.off, r.end)).toString('hex')}`);
}

const frames = Array.from({ length: 50 }, (_, i) => patternFrame(40 + i * 29, i));

async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
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
});

describe('readCaptureFile', () => {
  it('reads a regular file', async () => {
    const path = writeTempCapture(toPcap(frames), 'async.pcap');
    const list: string[] = [];
    const info = await readCaptureFile(path, summarise(list), { chunkSize: 1000 });
    expect(info.packets).toBe(50);
    expect(list.length).toBe(50);
  });

  it("reads standard input when the path is '-'", async () => {
    const bytes = toPcapng(frames);
    const list: string[] = [];
    const info = await readCaptureFile('-', summarise(list), { stdin: chunksOf(bytes, 333) });
    expect(info.file).toBe('-');
    expect(info.packets).toBe(50);
    expect(list).toEqual(collectRecords(bytes).records.map((r) => `${r.no} ${r.tsMicros} ${r.caplen}/${r.origLen} ${Buffer.from(r.data).toString('hex')}`));
  });

  it('keeps what was read when standard input fails part way', async () => {
    const bytes = toPcap(frames);
    async function* failing() {
      yield bytes.subarray(0, 500);
      throw new Error('EPIPE');
    }
    const info = await readCaptureFile('-', () => {}, { stdin: failing() });
    expect(info.packets).toBeGreaterThan(0);
    expect(info.stoppedEarly).toBe(true);
    expect(info.diagnostics.map((d) => d.code)).toEqual(['CAPTURE_READ_ERROR']);
    expect(info.diagnostics[0].message).toContain('reading stopped: EPIPE');
  });

  const tcpdump = hasTool('tcpdump');
  it.skipIf(!tcpdump)('reads `tcpdump -r X -w -` through a pipe like the file tcpdump read', async () => {
    const source = writeTempCapture(toPcapng(frames), 'piped.pcapng');
    const child = spawn('tcpdump', ['-r', source, '-w', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const piped: string[] = [];
    const info = await readCaptureFile('-', summarise(piped), { stdin: child.stdout });
    await new Promise((resolve) => child.on('close', resolve));
    const direct: string[] = [];
    readCaptureFileSync(source, summarise(direct));
    expect(info.format).toBe('pcap');
    expect(info.packets).toBe(frames.length);
    expect(piped).toEqual(direct);
  });

  // Standard input is read as a file is, with readSync. A pipe whose reader was made non-blocking
  // (here by Node's stdin stream, shared by every process that holds the pipe) answers an empty
  // read with EAGAIN: the reader waits for the rest instead of stopping there.
  it("reads all of a non-blocking pipe on '-' whose writer pauses halfway", async () => {
    const bytes = toPcap(frames);
    const script = `import { readCaptureFile } from ${JSON.stringify(new URL('../../dist/capture/open.js', import.meta.url).href)};
      void process.stdin;
      const info = await readCaptureFile('-', () => {});
      process.stderr.write(JSON.stringify({ packets: info.packets, diagnostics: info.diagnostics.map((d) => d.message) }));
      process.exit(0);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const cut = Math.floor(bytes.length / 2);
    child.stdin.write(bytes.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 300));
    child.stdin.end(bytes.subarray(cut));
    expect(await exited, err).toBe(0);
    expect(JSON.parse(err)).toEqual({ packets: frames.length, diagnostics: [] });
  });
});
