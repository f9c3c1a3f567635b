import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { analyzeFile } from '../../src/pipeline.js';
import { memoryIo } from '../helpers/io.js';

// `tcpwhy analyze` judges and writes each flow as it ends and keeps only digests for the
// capture-level rules; analyzeFile keeps every flow and judges at the end. Both must say the same.

const SAMPLES = join(process.cwd(), 'samples');
const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.pcap'));

type Judged = { id: number; state: string; history: string; verdicts: { code: string; severity: string; summary: string }[] };

describe('streamed analyze report', () => {
  it.each(samples)('gives the same flows, verdicts and capture verdicts as the retained analysis: %s', async (name) => {
    const file = join(SAMPLES, name);
    const retained = await analyzeFile(file);
    const io = memoryIo();
    expect(await run(['analyze', file, '--json'], io)).toBe(0);
    const doc = JSON.parse(io.out);
    const byId = (flows: Judged[]) => [...flows].sort((a, b) => a.id - b.id).map((f) => ({ id: f.id, state: f.state, history: f.history, verdicts: f.verdicts.map((v) => [v.code, v.severity, v.summary]) }));
    expect(byId(doc.flows)).toEqual(byId(retained.flows));
    expect(doc.capture.flows).toBe(retained.flows.length);
    expect(doc.verdicts.map((v: { code: string; summary: string }) => [v.code, v.summary])).toEqual(retained.verdicts.map((v) => [v.code, v.summary]));
  });

  it('reports the capture-level verdicts from digests: port exhaustion and listen-queue overflow', async () => {
    for (const [name, code] of [
      ['port-reuse.pcap', 'port-exhaustion'],
      ['listen-overflow.pcap', 'listen-queue-overflow'],
    ]) {
      const io = memoryIo();
      await run(['analyze', join(SAMPLES, name), '--json'], io);
      expect(JSON.parse(io.out).verdicts.map((v: { code: string }) => v.code)).toContain(code);
    }
  });
});
