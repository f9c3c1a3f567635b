// Seeded mutations of real captures: the parser must never throw anything but CaptureOpenError,
// must account for every packet it delivers, and must give the same answer however the input is
// split into chunks.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { CaptureOpenError, type CaptureInfo } from '../../src/capture/record.js';
import { encodePcap, PcapngBuilder } from '../../src/capture/writer.js';
import { collectRecords, patternFrame } from '../helpers/capture.js';
import { useCorpus } from '../helpers/corpus.js';
import { createRng, generateMutants, mutateStructure, STRUCTURE } from '../helpers/fuzz.js';

const corpus = useCorpus();
/** Mutants of the corpus captures, and of the two files the writer makes (which need no corpus). */
const CORPUS_MUTANTS = 8_000;
const WRITER_MUTANTS = 2_000;
/** Structural mutants of the samples (see mutateStructure); TCPWHY_FUZZ_MUTANTS scales them as the pipeline fuzz. */
const STRUCTURE_MUTANTS = Number(process.env.TCPWHY_FUZZ_MUTANTS ?? 1_000);
const SEED = 0x7c9a11;
/** Per-case wall-time bound; the inputs are at most 64 KiB. */
const CASE_BOUND_MS = 1000;
const MAX_SOURCE_BYTES = 64 * 1024;

function corpusSources(): { name: string; bytes: Uint8Array }[] {
  const entries: { file: string; fileBytes: number }[] = JSON.parse(readFileSync(corpus.path('oracle.json'), 'utf8'));
  return entries
    .filter((e) => e.fileBytes <= MAX_SOURCE_BYTES)
    .map((e) => ({ name: e.file, bytes: new Uint8Array(readFileSync(corpus.path(e.file))) }));
}

function writerSources(): { name: string; bytes: Uint8Array }[] {
  const b = new PcapngBuilder().section({ bigEndian: true });
  b.iface({ linkType: 1, snaplen: 200, tsresol: 9 });
  b.iface({ linkType: 101, tsresol: 0x80 | 20, tsoffset: 10 });
  for (let i = 0; i < 30; i++) {
    b.epb({ tsMicros: 1e15 + i, data: patternFrame(i * 13, i), interfaceId: i % 2 });
    if (i % 5 === 0) b.spb(patternFrame(i * 7, i));
    if (i % 9 === 0) b.opb({ tsMicros: 1e15 + i, data: patternFrame(i, i) });
  }
  b.section();
  b.iface({ linkType: 113 });
  b.epb({ tsMicros: 1e15, data: patternFrame(99, 1) });
  const pcap = encodePcap(Array.from({ length: 40 }, (_, i) => ({ tsMicros: 1e15 + i, data: patternFrame(i * 11, i) })), { nanos: true, bigEndian: true });
  return [
    { name: 'writer.pcapng', bytes: b.finish() },
    { name: 'writer.pcap', bytes: pcap },
  ];
}

interface Run {
  delivered: number;
  /** Per packet: no, time, lengths, link type and a cheap checksum of the bytes. */
  lines: string[];
  info: CaptureInfo | null;
  openError: string | null;
  problems: string[];
}

function run(bytes: Uint8Array, chunkSize: number): Run {
  const out: Run = { delivered: 0, lines: [], info: null, openError: null, problems: [] };
  const parser = new CaptureParser('fuzz.cap', (r) => {
    out.delivered++;
    if (!(r.off >= 0 && r.off <= r.end && r.end <= r.bytes.length)) out.problems.push(`packet ${r.no}: off ${r.off} end ${r.end} outside ${r.bytes.length}`);
    if (r.end - r.off !== r.caplen) out.problems.push(`packet ${r.no}: end - off ${r.end - r.off} != caplen ${r.caplen}`);
    if (r.no !== out.delivered) out.problems.push(`packet numbered ${r.no}, expected ${out.delivered}`);
    let sum = 0;
    for (let i = r.off; i < r.end; i++) sum = (sum * 31 + r.bytes[i]) | 0;
    out.lines.push(`${r.no} ${r.tsMicros} ${r.caplen}/${r.origLen} ${r.linkType}/${r.interfaceId} @${r.fileOffset} ${sum}`);
  });
  try {
    for (let at = 0; at < bytes.length; at += chunkSize) parser.push(bytes.subarray(at, Math.min(bytes.length, at + chunkSize)));
    out.info = parser.end();
  } catch (err) {
    if (!(err instanceof CaptureOpenError)) throw err;
    out.openError = err.code;
  }
  return out;
}

/** Runs `mutants` seeded byte mutations of `sources` through the parser, whole and in random chunks. */
function fuzz(sources: { name: string; bytes: Uint8Array }[], mutants: number) {
  const { kinds, withDiagnostics, openErrors } = check(
    Array.from(generateMutants(sources.map((s) => s.bytes), mutants, SEED), (m) => ({ ...m, label: `${sources[m.source].name} seed ${m.seed}: ${m.description}` })),
  );
  // The mutations must actually exercise the error paths, not just flip payload bits.
  expect(withDiagnostics).toBeGreaterThan(mutants / 4);
  expect(openErrors).toBeGreaterThan(0);
  expect([...kinds.keys()].sort()).toEqual(['bit-flip', 'length-max', 'length-random', 'length-zero', 'truncate']);
}

/** Each mutant through the parser, whole and in random chunks: the same records and info either way, each record inside its bytes. */
function check(mutants: Iterable<{ bytes: Uint8Array; kind: string; label: string }>) {
  const chunkRng = createRng(SEED ^ 0x5555);
  const kinds = new Map<string, number>();
  let withDiagnostics = 0;
  let openErrors = 0;
  for (const m of mutants) {
    const label = m.label;
    kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
    const started = performance.now();
    let whole: Run;
    let split: Run;
    const chunkSize = 1 + Math.floor(chunkRng() * 300);
    try {
      whole = run(m.bytes, Math.max(1, m.bytes.length));
      split = run(m.bytes, chunkSize);
    } catch (err) {
      throw new Error(`${label}: unexpected ${(err as Error).stack}`);
    }
    const elapsed = performance.now() - started;
    expect(elapsed, label).toBeLessThan(CASE_BOUND_MS);
    expect(whole.problems, label).toEqual([]);
    expect(split.problems, label).toEqual([]);
    expect(split.openError, label).toBe(whole.openError);
    if (whole.info) {
      expect(whole.delivered, label).toBe(whole.info.packets);
      expect(split.info, `${label}, chunk size ${chunkSize}`).toEqual(whole.info);
      expect(split.lines, `${label}, chunk size ${chunkSize}`).toEqual(whole.lines);
      if (whole.info.diagnostics.length > 0) withDiagnostics++;
      for (const d of whole.info.diagnostics) expect(d.message, label).toMatch(/^fuzz\.cap: (packet \d+|file header) \(file offset 0x[0-9a-f]+\): .+$/);
      for (const d of whole.info.diagnostics) expect(d.message, label).not.toMatch(/\[[A-Z][A-Z_]+\]/);
    } else {
      openErrors++;
      expect(whole.delivered, label).toBe(0);
    }
  }
  return { kinds, withDiagnostics, openErrors };
}

/** Seeded structural mutants (mutateStructure) of the bundled samples' packets. */
function* structureMutants(count: number) {
  const dir = join(process.cwd(), 'samples');
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => ({ name: f, packets: collectRecords(new Uint8Array(readFileSync(join(dir, f)))).records.slice(0, 100) }));
  for (let i = 0; i < count; i++) {
    const seed = (SEED + i * 0x9e3779b9) >>> 0;
    const source = sources[i % sources.length];
    const m = mutateStructure(source.packets, createRng(seed));
    yield { ...m, label: `samples/${source.name} seed ${seed} (${m.kind}): ${m.description}` };
  }
}

describe('capture parser fuzz', () => {
  it(`survives ${WRITER_MUTANTS} seeded mutations of the writer's pcap and pcapng`, () => fuzz(writerSources(), WRITER_MUTANTS));

  it(`reads ${STRUCTURE_MUTANTS} structural mutants of the samples the same whole and in chunks`, () => {
    const { kinds, withDiagnostics } = check(structureMutants(STRUCTURE_MUTANTS));
    expect([...kinds.keys()].sort()).toEqual(Object.values(STRUCTURE).sort());
    expect(withDiagnostics).toBeGreaterThan(STRUCTURE_MUTANTS / 10);
  });

  corpus.it(`survives ${CORPUS_MUTANTS} seeded mutations of the corpus captures up to ${MAX_SOURCE_BYTES / 1024} KiB`, () => {
    const sources = corpusSources();
    expect(sources.length).toBeGreaterThan(0);
    fuzz(sources, CORPUS_MUTANTS);
  });
});
