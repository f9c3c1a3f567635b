// The JSON report's times: start in ISO 8601 with microseconds, and epoch seconds.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { flowToJson } from '../../src/report/json.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

describe('flow start time in the JSON report', () => {
  it('is ISO 8601 to the microsecond, right across flows in different seconds', async () => {
    const { flows } = await analyzeFile(sample('nginx-ws-good.pcap'));
    const base = flows[0];
    // The same flow moved to other instants: within one second, across a second, a day and a year.
    const shifts = [0, 250_000, 1_000_000, 86_400_000_000 + 7, 366 * 86_400_000_000 + 999_999];
    for (const shift of [...shifts, 0]) {
      const start = base.start + shift;
      const doc = flowToJson({ ...base, start, end: start + (base.end - base.start) });
      const ms = Math.floor(start / 1000);
      const expected = new Date(ms).toISOString().replace('Z', `${String(start % 1000).padStart(3, '0')}Z`);
      expect(doc.start).toBe(expected);
      expect(doc.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(doc.startEpoch).toBe(Math.round(start) / 1e6);
    }
  });
});
