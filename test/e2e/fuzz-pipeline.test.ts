// The whole pipeline under seeded mutations of real captures: no exception escapes (other than
// CaptureOpenError for input with nothing readable), every run ends in bounded time, and the
// packet accounting adds up: packets = decoded + skipped + malformed.

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { CaptureOpenError } from '../../src/capture/record.js';
import { Analyzer } from '../../src/pipeline.js';
import { useCorpus } from '../helpers/corpus.js';
import { generateMutants } from '../helpers/fuzz.js';

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
