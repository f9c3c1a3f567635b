// The whole pipeline under seeded mutations of real captures: no exception escapes (other than
// CaptureOpenError for input with nothing readable), every run ends in bounded time, and the
// packet accounting adds up: packets = decoded + skipped + malformed.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { CaptureOpenError } from '../../src/capture/record.js';
import { JsonFlowStream } from '../../src/report/json.js';
import { TextReport } from '../../src/report/text.js';
import { run } from '../../src/cli/main.js';
import { Analyzer } from '../../src/pipeline.js';
import { collectRecords, writeTempCapture } from '../helpers/capture.js';
import { useCorpus } from '../helpers/corpus.js';
import { createRng, encodeStructure, generateMutants, mutateStructure, STRUCTURE, type ModelPacket } from '../helpers/fuzz.js';
import { memoryIo } from '../helpers/io.js';
import { backToEventLoop } from '../helpers/event-loop.js';

const corpus = useCorpus();
const MUTANTS = 2_500;
const SEED = 0x5eed_2026;
const MAX_SOURCE_BYTES = 48 * 1024;
const CASE_BOUND_MS = 2000;

function sources(): Uint8Array[] {
  const entries: { file: string; fileBytes: number }[] = JSON.parse(readFileSync(corpus.path('oracle.json'), 'utf8'));
  return entries.filter((e) => e.fileBytes <= MAX_SOURCE_BYTES).map((e) => new Uint8Array(readFileSync(corpus.path(e.file))));
}

corpus.describe('pipeline fuzz', () => {
  it(`survives ${MUTANTS} mutated corpus captures with the packet accounting intact`, () => {
    let opened = 0;
    let rejected = 0;
    let packets = 0;
    let withDiagnostics = 0;
    for (const m of generateMutants(sources(), MUTANTS, SEED)) {
      const t0 = performance.now();
      const analyzer = new Analyzer({ file: `mutant-${m.seed}` });
      const parser = new CaptureParser(`mutant-${m.seed}`, analyzer.onRecord);
      try {
        // Feed in uneven chunks, as a pipe would.
        for (let off = 0; off < m.bytes.length; off += 4093) parser.push(m.bytes.subarray(off, off + 4093));
        const info = parser.end();
        const result = analyzer.finish(info);
        const c = result.capture;
        const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0);
        expect(c.packets, `mutant ${m.seed} (${m.kind})`).toBe(info.packets);
        expect(c.decoded + skipped + c.malformed, `mutant ${m.seed} (${m.kind})`).toBe(c.packets);
        expect(c.malformedByCode.INTERNAL ?? 0, `mutant ${m.seed}: ${c.diagnostics.find((d) => d.code === 'INTERNAL')?.message}`).toBe(0);
        for (const f of result.flows) expect(f.clientSide.packets + f.serverSide.packets).toBeGreaterThan(0);
        expect(result.flows.length, `mutant ${m.seed} (${m.kind})`).toBe(result.flowCount);
        opened++;
        packets += c.packets;
        if (c.diagnostics.length) withDiagnostics++;
      } catch (err) {
        if (!(err instanceof CaptureOpenError)) throw err;
        rejected++;
      }
      expect(performance.now() - t0, `mutant ${m.seed} took too long`).toBeLessThan(CASE_BOUND_MS);
    }
    console.log(`pipeline fuzz: ${opened} mutants analysed (${packets} packets, ${withDiagnostics} with diagnostics), ${rejected} rejected as unreadable`);
    expect(opened + rejected).toBe(MUTANTS);
    expect(opened).toBeGreaterThan(MUTANTS / 2);
  });
});

// Structure-aware mutants (test/helpers/fuzz.ts mutateStructure): the packets of the bundled
// samples (and of the corpus when present) written back with one pcapng, pcap or packet-header
// field changed, so the reader gets past the framing and meets the field. Every mutant is analysed
// in process into both reports (JSON and table) as `tcpwhy analyze` streams them; one in CLI_EVERY
// also goes through the command line in process, and PROCESS_SAMPLE through the built binary.
// TCPWHY_FUZZ_MUTANTS sets how many (default below); every failure's label names its source and seed.

const STRUCTURE_MUTANTS = Number(process.env.TCPWHY_FUZZ_MUTANTS ?? 1500);
const STRUCTURE_SEED = 0x57_2026;
/** Mutants also run through bin/tcpwhy.js as a process (spawning is slow). */
const PROCESS_SAMPLE = 3;
/** Every this many mutants, the command line runs in process too (it writes a file per mutant). */
const CLI_EVERY = 10;
/** Packets kept per source: enough for handshakes, closes and reuse, small enough to run hundreds. */
const MAX_SOURCE_PACKETS = 200;
const SAMPLES = join(process.cwd(), 'samples');
const BIN = join(process.cwd(), 'bin/tcpwhy.js');

function modelOf(bytes: Uint8Array): ModelPacket[] {
  return collectRecords(bytes).records.slice(0, MAX_SOURCE_PACKETS).map((r) => ({ tsMicros: r.tsMicros, data: r.data, origLen: r.origLen, linkType: r.linkType }));
}

function structureSources(): { name: string; packets: ModelPacket[] }[] {
  const out = readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => ({ name: `samples/${f}`, packets: modelOf(new Uint8Array(readFileSync(join(SAMPLES, f)))) }));
  if (corpus.found) {
    const entries: { file: string; fileBytes: number }[] = JSON.parse(readFileSync(corpus.path('oracle.json'), 'utf8'));
    for (const e of entries.filter((x) => x.fileBytes <= MAX_SOURCE_BYTES)) out.push({ name: e.file, packets: modelOf(new Uint8Array(readFileSync(corpus.path(e.file)))) });
  }
  return out.filter((s) => s.packets.length > 0);
}

interface Checked {
  code: number;
  packets: number;
  /** Dates written with a year outside 0-9999 (JSON only). */
  farDates?: number;
}

const ISO_DATE = /^([+-]\d{6,}|\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/;

/** `tcpwhy analyze FILE --json` and the table, with every promise of the report checked; returns the exit code. */
function checkReports(label: string, code: number, out: string, err: string, json: boolean): Checked {
  expect([0, 1, 3], `${label}: exit ${code}: ${err}`).toContain(code);
  expect(err, label).not.toMatch(/internal error/);
  if (code === 3) {
    // Nothing readable: said on stderr, and stdout holds no half document.
    expect(err, label).toMatch(/^tcpwhy: .+\n$/);
    expect(err, label).not.toMatch(/\[[A-Z][A-Z_]+\]/); // a sentence, no internal code
    expect(out, label).toBe('');
    return { code, packets: 0 };
  }
  if (json) {
    let doc: { flows: { start: string | null }[]; capture: { start: string | null; packets: number; decoded: number; skipped: Record<string, number>; malformed: number; flows: number; diagnostics: { code: string }[] } };
    try {
      doc = JSON.parse(out);
    } catch (e) {
      throw new Error(`${label}: not one JSON document (${(e as Error).message}): ...${out.slice(-200)}`);
    }
    const c = doc.capture;
    const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0);
    expect(c.decoded + skipped + c.malformed, label).toBe(c.packets);
    expect(doc.flows.length, label).toBe(c.flows);
    expect(c.diagnostics.filter((d) => d.code === 'INTERNAL'), label).toEqual([]);
    // Any time a capture can hold is written as a date, years beyond 0-9999 included.
    let farDates = 0;
    for (const start of [c.start, ...doc.flows.map((f) => f.start)]) {
      if (start === null) continue;
      expect(start, label).toMatch(ISO_DATE);
      if (/^[+-]/.test(start)) farDates++;
    }
    return { code, packets: c.packets, farDates };
  }
  // The text report (with --all): the capture's accounting and flow count in its header (its
  // wrapped lines joined), then one block per flow.
  const header = out.slice(0, out.indexOf('\n\n') >>> 0).replace(/\n  /g, ' ');
  const line = /^([\d,]+) packets read = ([\d,]+) decoded \+ ([\d,]+) skipped(?: \([^)]*\))? \+ ([\d,]+) malformed\./m.exec(header);
  expect(line, `${label}: no accounting line in ${header}`).not.toBeNull();
  const [packets, decoded, skipped, malformed] = line!.slice(1, 5).map((n) => Number(n.replace(/,/g, '')));
  expect(decoded + skipped + malformed, label).toBe(packets);
  const flows = /^([\d,]+) TCP flows?[:.]/m.exec(header);
  expect(flows, `${label}: no flow count in ${header}`).not.toBeNull();
  const blocks = [...out.matchAll(/^flow (\d+)  /gm)].length;
  expect(blocks, label).toBe(Number(flows![1].replace(/,/g, '')));
  return { code, packets };
}

/**
 * The two reports `tcpwhy analyze` writes, made in process as it makes them (flows streamed to both
 * writers as they end), without a file or a command line; null when nothing is readable.
 */
function reportsInProcess(bytes: Uint8Array): { json: string; table: string } | null {
  let json = '';
  let table = '';
  const jsonOut = new JsonFlowStream((s) => (json += s));
  const tableOut = new TextReport({ color: false, width: 160, all: true }, (s) => (table += s));
  const analyzer = new Analyzer({
    file: 'mutant.cap',
    keepEvents: false,
    retainFlows: false,
    onFlowJudged: (f) => {
      jsonOut.flow(f);
      tableOut.flow(f);
    },
  });
  const parser = new CaptureParser('mutant.cap', analyzer.onRecord);
  try {
    parser.push(bytes);
    const result = analyzer.finish(parser.end());
    jsonOut.end(result);
    tableOut.end(result);
  } catch (err) {
    if (err instanceof CaptureOpenError) return null;
    throw err;
  }
  return { json, table };
}

describe('structure-aware pipeline fuzz', () => {
  it(`keeps every report whole and every count exact for ${STRUCTURE_MUTANTS} structural mutants, in both output modes`, async () => {
    const sources = structureSources();
    const rng = createRng(STRUCTURE_SEED);
    const kinds = new Map<string, number>();
    let unreadable = 0;
    let packets = 0;
    let sameAsSource = 0;
    let withFarDates = 0;
    const plainReports = new Map<object, { json: string; table: string }>();
    let cliRuns = 0;
    const spawnAt = new Set(Array.from({ length: PROCESS_SAMPLE }, (_, i) => Math.floor((i * STRUCTURE_MUTANTS) / PROCESS_SAMPLE)));
    for (let i = 0; i < STRUCTURE_MUTANTS; i++) {
      if (i % 100 === 0) await backToEventLoop();
      const seed = (STRUCTURE_SEED + i * 0x9e3779b9) >>> 0;
      const source = sources[Math.floor(rng() * sources.length)];
      const m = mutateStructure(source.packets, createRng(seed));
      const label = `${source.name} seed ${seed} (${m.kind}): ${m.description}`;
      kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
      const t0 = performance.now();
      let reports: ReturnType<typeof reportsInProcess>;
      try {
        reports = reportsInProcess(m.bytes);
      } catch (err) {
        throw new Error(`${label}: ${(err as Error).stack}`);
      }
      if (reports) {
        const checked = checkReports(label, 0, reports.json, '', true);
        packets += checked.packets;
        if (checked.farDates) withFarDates++;
        checkReports(label, 0, reports.table, '', false);
      } else unreadable++;
      if (m.sameAsSource) {
        // Another encoding of the same packets: the same report, byte for byte.
        const plain = plainReports.get(source) ?? reportsInProcess(encodeStructure(source.packets))!;
        plainReports.set(source, plain);
        expect(reports?.json, label).toBe(plain.json);
        sameAsSource++;
      }
      expect(performance.now() - t0, `${label} took too long`).toBeLessThan(CASE_BOUND_MS);
      // The command line itself, in process, for one mutant in CLI_EVERY; and as a process for a few.
      if (i % CLI_EVERY !== 0 && !spawnAt.has(i)) continue;
      const file = writeTempCapture(m.bytes, 'structure-mutant.cap');
      for (const json of [true, false]) {
        const io = memoryIo();
        const code = await run(['analyze', file, ...(json ? ['--json'] : ['--all'])], io);
        checkReports(`${label} (cli)`, code, io.out, io.err, json);
        expect(code === 3, label).toBe(reports === null);
        cliRuns++;
        if (!spawnAt.has(i)) continue;
        const p = spawnSync(process.execPath, [BIN, 'analyze', file, ...(json ? ['--json'] : ['--all'])], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 28 });
        checkReports(`${label} (process)`, p.status ?? -1, p.stdout, p.stderr, json);
      }
    }
    console.log(`structure-aware pipeline fuzz: ${STRUCTURE_MUTANTS} mutants of ${sources.length} captures (${packets} packets, ${unreadable} unreadable, ${sameAsSource} re-encodings reported as their source, ${withFarDates} with dates beyond year 9999 or before year 0), ${cliRuns} command-line runs; ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    expect([...kinds.keys()].sort()).toEqual(Object.values(STRUCTURE).sort());
    // Most mutants must be read: the structure is changed, the framing kept.
    expect(unreadable).toBeLessThan(STRUCTURE_MUTANTS / 4);
    // if_tsresol and if_tsoffset must reach the dates a JavaScript Date cannot hold.
    expect(withFarDates).toBeGreaterThan(0);
  }, 300_000);
});
