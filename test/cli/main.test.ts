import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { memoryIo } from '../helpers/io.js';
import { toPcap } from '../helpers/capture.js';
import { conv } from '../helpers/conversation.js';

const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-cli-'));
function captureFile(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const refusedConv = conv().client('S', 0).server('RA', 0.0001);
const refusedFile = captureFile(
  'refused.pcap',
  toPcap(refusedConv.packets.map((p) => ({ tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6), data: p.frame.bytes }))),
);
const cleanConv = conv({ client: '10.0.0.5:40000' }).handshake(0).client('FA', 0.1).server('FA', 0.101).client('A', 0.102);
const mixedFile = captureFile(
  'mixed.pcap',
  toPcap([...refusedConv.packets, ...cleanConv.packets].sort((a, b) => a.t - b.t).map((p) => ({ tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6), data: p.frame.bytes }))),
);

describe('tcpwhy analyze', () => {
  it('prints the verdict and the packet accounting, exit 0', async () => {
    const io = memoryIo();
    expect(await run(['analyze', refusedFile], io)).toBe(0);
    expect(io.out).toContain('ERROR refused  RST: no listener on 10.0.0.2:80');
    expect(io.out).toMatch(/2 packets read = 2 decoded \+ 0 skipped \+ 0 malformed/);
  });

  it('treats a bare file argument as analyze', async () => {
    const io = memoryIo();
    expect(await run([refusedFile], io)).toBe(0);
    expect(io.out).toContain('REJ');
  });

  it('writes exactly one JSON document with the schema fields', async () => {
    const io = memoryIo();
    expect(await run(['analyze', mixedFile, '--json'], io)).toBe(0);
    const doc = JSON.parse(io.out);
    expect(doc.schemaVersion).toBe(2);
    expect(doc.detail).toBe(false);
    expect(doc.capture).toMatchObject({ file: mixedFile, format: 'pcap', linkTypes: [1], packets: 8, decoded: 8, skipped: {}, malformed: 0, diagnostics: [] });
    expect(doc.flows).toHaveLength(2);
    const refused = doc.flows.find((f: { client: string }) => f.client === '10.0.0.1:51000');
    expect(refused).toMatchObject({ id: 1, server: '10.0.0.2:80', state: 'REJ', history: 'Sr', packets: { client: 1, server: 1 } });
    expect(refused.bytes).toBeUndefined(); // no payload either way: a zero count is left out
    expect(refused.verdicts[0]).toMatchObject({ code: 'refused', severity: 'error', packets: [1, 3] });
    // The hint is written once, in the document's map, not in each verdict.
    expect(Object.keys(refused.verdicts[0]).sort()).toEqual(['code', 'facts', 'packets', 'severity', 'summary']);
    expect(doc.hints.refused).toMatch(/^ECONNREFUSED\. /);
    expect(doc.counts).toEqual({ flows: 2, worst: { error: 1, warning: 0, info: 1, none: 0 }, verdicts: { 'clean-close': 1, refused: 1 } });
    expect(doc.verdicts).toEqual([]);
  });

  it('takes --format from a closed list: table, json, jsonl; --json is --format json', async () => {
    const json = memoryIo();
    expect(await run(['analyze', mixedFile, '--format', 'json'], json)).toBe(0);
    const shorthand = memoryIo();
    expect(await run(['analyze', mixedFile, '--json'], shorthand)).toBe(0);
    expect(shorthand.out).toBe(json.out);
    const table = memoryIo();
    expect(await run(['analyze', mixedFile, '--format', 'table'], table)).toBe(0);
    expect(table.out).toContain('REJ');
    const lines = memoryIo();
    expect(await run(['analyze', mixedFile, '--format', 'jsonl'], lines)).toBe(0);
    expect(lines.out.trimEnd().split('\n').map((l) => JSON.parse(l).type)).toEqual(['flow', 'flow', 'summary']);
    // Anything else is a usage error that lists the choices, before any output.
    for (const args of [['--format', 'yaml'], ['--format', 'JSON'], ['--format', 'json', '--format', 'csv']]) {
      const io = memoryIo();
      expect(await run(['analyze', mixedFile, ...args], io), args.join(' ')).toBe(2);
      expect(io.err).toMatch(/Allowed choices are table, json, jsonl/);
      expect(io.out).toBe('');
    }
    const conflict = memoryIo();
    expect(await run(['analyze', mixedFile, '--json', '--format', 'table'], conflict)).toBe(2);
    expect(conflict.err).toContain('--json means --format json: it cannot go with --format table');
    const detail = memoryIo();
    expect(await run(['analyze', mixedFile, '--detail'], detail)).toBe(2);
    expect(detail.err).toContain('--detail widens the JSON formats (json, jsonl), not --format table');
    expect(detail.out).toBe('');
  });

  it('--detail adds every field of today\'s flow to the compact one', async () => {
    const compact = memoryIo();
    await run(['analyze', mixedFile, '--json'], compact);
    const detail = memoryIo();
    await run(['analyze', mixedFile, '--json', '--detail'], detail);
    const [c, d] = [JSON.parse(compact.out), JSON.parse(detail.out)];
    expect(d.detail).toBe(true);
    for (const [i, flow] of c.flows.entries()) {
      // Same values where both have the field; the detailed flow has more of them.
      for (const key of Object.keys(flow)) if (key !== 'verdicts') expect(d.flows[i][key], key).toEqual(flow[key]);
      expect(Object.keys(d.flows[i])).toEqual(expect.arrayContaining(['firstPacket', 'lastPacket', 'startEpoch', 'endReason', 'handshake', 'close', 'analysis', 'missedBytes', 'visibility']));
    }
    expect(d.hints).toEqual(c.hints);
  });

  it('filters flows with --only-problems, --filter and --flow', async () => {
    let io = memoryIo();
    await run(['analyze', mixedFile, '--json', '--only-problems'], io);
    expect(JSON.parse(io.out).flows.map((f: { id: number }) => f.id)).toEqual([1]);
    io = memoryIo();
    await run(['analyze', mixedFile, '--json', '--filter', 'host 10.0.0.5'], io);
    expect(JSON.parse(io.out).flows.map((f: { client: string }) => f.client)).toEqual(['10.0.0.5:40000']);
    io = memoryIo();
    await run(['analyze', mixedFile, '--json', '--flow', '2'], io);
    expect(JSON.parse(io.out).flows.map((f: { id: number }) => f.id)).toEqual([2]);
  });

  it('exits 1 with --fail-on error when an error verdict is present, 0 when not', async () => {
    expect(await run(['analyze', mixedFile, '--fail-on', 'error'], memoryIo())).toBe(1);
    expect(await run(['analyze', mixedFile, '--fail-on', 'error', '--filter', 'host 10.0.0.5'], memoryIo())).toBe(0);
  });

  it('exits 2 on usage errors', async () => {
    const io = memoryIo();
    expect(await run(['analyze', mixedFile, '--fail-on', 'sometimes'], io)).toBe(2);
    expect(io.err).toContain('sometimes');
    expect(await run(['analyze', mixedFile, '--filter', 'frobnicate 3'], memoryIo())).toBe(2);
    expect(await run(['analyze', mixedFile, '--flow', '99'], memoryIo())).toBe(2);
  });

  it.each([
    ['missing file', join(dir, 'nope.pcap'), /nope\.pcap/],
    ['empty file', captureFile('empty.pcap', ''), /empty\.pcap/],
    ['text file', captureFile('notes.txt', 'hello, this is not a capture\n'), /notes\.txt/],
  ])('exits 3 with a clear message on a %s', async (_name, file, re) => {
    const io = memoryIo();
    expect(await run(['analyze', file], io)).toBe(3);
    expect(io.err).toMatch(re);
    expect(io.out).toBe('');
  });

  it('keeps the results so far and names packet and offset when the file is cut short', async () => {
    const bytes = require_bytes(mixedFile);
    const cut = captureFile('cut.pcap', bytes.subarray(0, bytes.length - 10));
    const io = memoryIo();
    expect(await run(['analyze', cut, '--json'], io)).toBe(0);
    const doc = JSON.parse(io.out);
    expect(doc.capture.packets).toBe(7);
    expect(doc.capture.diagnostics[0].packet).toBe(8);
    expect(doc.capture.diagnostics[0].offset).toBeGreaterThan(0);
    expect(io.err).toMatch(/cut\.pcap: packet 8 \(file offset 0x[0-9a-f]+\)/);
    expect(doc.flows).toHaveLength(2);
  });
});

import { readFileSync } from 'node:fs';
function require_bytes(p: string): Uint8Array {
  return new Uint8Array(readFileSync(p));
}
