import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCapture, streamCapture } from '../../src/cli/commands/analyze.js';
import { run } from '../../src/cli/main.js';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { memoryIo } from '../helpers/io.js';

// `tcpwhy analyze` judges and writes each flow as it ends and keeps only digests for the
// capture-level rules; analyzeFile keeps every flow and judges at the end. Both must say the same.

const SAMPLES = join(process.cwd(), 'samples');
const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.pcap'));

type Judged = { id: number; state: string; history: string; verdicts: { code: string; severity: string; summary: string }[] };

describe('streamed analyze report', () => {
  it.each(samples)('gives the same flows, verdicts and capture verdicts as the retained analysis: %s', async (name) => {
    const file = join(SAMPLES, name);
    const retained = analyzeFile(file);
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

// `flow FILE ID`, `analyze --flow ID` and `diff` keep only the flows they show (with the dissector
// events a ladder needs); every other flow is judged and dropped as it ends, as `analyze` does.
describe('picking flows out of a capture', () => {
  it('keeps only the named flows, with their events, and counts every flow', () => {
    const file = join(SAMPLES, 'nginx-ws-good.pcap');
    const all = analyzeFile(file);
    expect(all.flows.length).toBeGreaterThan(1);
    const picked = loadCapture(file, undefined, [2]);
    expect(picked.flows.map((f) => f.id)).toEqual([2]);
    expect(picked.flowCount).toBe(all.flows.length);
    expect(picked.flows[0].app?.events.length).toBeGreaterThan(0);
    const keep = (f: FlowResult) => ({ state: f.state, history: f.history, verdicts: f.verdicts.map((v) => v.summary), events: f.app?.events });
    expect(keep(picked.flows[0])).toEqual(keep(all.flows.find((f) => f.id === 2)!));
    // Streamed without events: how the candidates of a diff with no flow ids are gathered.
    const streamed: FlowResult[] = [];
    const light = streamCapture(file, undefined, (f) => streamed.push(f));
    expect(light.flows).toEqual([]);
    expect(streamed).toHaveLength(all.flows.length);
    expect(streamed.every((f) => (f.app?.events.length ?? 0) === 0)).toBe(true);
  });

  it('names a missing flow with the number of flows the capture has', async () => {
    const io = memoryIo();
    const file = join(SAMPLES, 'refused.pcap');
    expect(await run(['flow', file, '7'], io)).toBe(2);
    expect(io.err).toContain('no flow 7 (the capture has 1 TCP flows)');
  });
});
