// The JSON report: times (start in ISO 8601 with microseconds, and epoch seconds), a document kept
// whole after a failure, and hints written once per code.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { flowToJson, HintTable, isoSecondText, JsonFlowStream, renderJson, writeJson } from '../../src/report/json.js';
import type { Verdict } from '../../src/rules/verdict.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

describe('flow start time in the JSON report', () => {
  it('is ISO 8601 to the microsecond, right across flows in different seconds', () => {
    const { flows } = analyzeFile(sample('nginx-ws-good.pcap'));
    const base = flows[0];
    // The same flow moved to other instants: within one second, across a second, a day and a year.
    const shifts = [0, 250_000, 1_000_000, 86_400_000_000 + 7, 366 * 86_400_000_000 + 999_999];
    for (const shift of [...shifts, 0]) {
      const start = base.start + shift;
      const doc = flowToJson({ ...base, start, end: start + (base.end - base.start) }, { detail: true });
      const ms = Math.floor(start / 1000);
      const expected = new Date(ms).toISOString().replace('Z', `${String(start % 1000).padStart(3, '0')}Z`);
      expect(doc.start).toBe(expected);
      expect(doc.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(doc.startEpoch).toBe(Math.round(start) / 1e6);
    }
  });
});

describe('ISO dates beyond what a JavaScript Date holds', () => {
  it('matches Date.toISOString wherever Date reaches, before 1970 included', () => {
    // Seconds from year -271,820 to +275,759 (Date's whole range), in uneven steps through leap days.
    for (let s = -8_639_000_000_000; s < 8_639_000_000_000; s += 123_456_789_017) {
      expect(isoSecondText(s)).toBe(new Date(s * 1000).toISOString().slice(0, -5));
    }
    for (const s of [-1, -86_400, -86_401, 0, 951_782_400, 4_107_542_400, 253_402_300_799, 253_402_300_800]) {
      expect(isoSecondText(s)).toBe(new Date(s * 1000).toISOString().slice(0, -5));
    }
  });

  it('formats flows before 1970 and far beyond Date range, with a fraction that is never negative', () => {
    const { flows } = analyzeFile(sample('nginx-ws-good.pcap'));
    const at = (start: number) => flowToJson({ ...flows[0], start, end: start + 1 }).start;
    expect(at(-1_500_000)).toBe('1969-12-31T23:59:58.500000Z');
    expect(at(-1)).toBe('1969-12-31T23:59:59.999999Z');
    // pcapng if_tsresol 2^-0 read as seconds by a writer that meant microseconds: year 586,524.
    expect(at(18_446_744_073_709_551_615)).toMatch(/^\+586524-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(at(-9.2e24)).toMatch(/^-\d{6,}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
  });
});

describe('the JSON document after a failure', () => {
  it('writes nothing of a flow that cannot be written, and stays whole around it', () => {
    const result = analyzeFile(sample('port-reuse.pcap'));
    let out = '';
    const stream = new JsonFlowStream((s) => (out += s));
    const broken = { ...result.flows[0], clientSide: null } as unknown as (typeof result.flows)[0];
    expect(() => stream.flow(broken)).toThrow(TypeError);
    expect(out).toBe('');
    stream.flow(result.flows[1]);
    stream.end({ ...result, flowCount: 1 });
    const doc = JSON.parse(out);
    expect(doc.flows.map((f: { id: number }) => f.id)).toEqual([result.flows[1].id]);
    expect(doc.capture.flows).toBe(1);
  });

  it('closes the document when a flow fails part way through writeJson, and throws on', () => {
    const result = analyzeFile(sample('port-reuse.pcap'));
    const flows = [...result.flows.slice(0, 3), { ...result.flows[3], verdicts: undefined as never, serverSide: undefined as never }];
    let out = '';
    expect(() => writeJson(result, flows, (s) => (out += s))).toThrow(TypeError);
    const doc = JSON.parse(out);
    expect(doc.flows.length).toBe(3);
    expect(doc.capture.flows).toBe(3);
    expect(doc.capture.stoppedEarly).toBe(true);
    expect(doc.capture.diagnostics[0].message).toMatch(/^.*port-reuse\.pcap: internal error, analysis stopped: .+ \[INTERNAL\]$/);
    expect(doc.verdicts).toEqual([]);
  });

  it('closes the document when the capture summary cannot be written', () => {
    const result = analyzeFile(sample('http-clean.pcap'));
    let out = '';
    const stream = new JsonFlowStream((s) => (out += s));
    for (const f of result.flows) stream.flow(f);
    const capture = { ...result.capture, diagnostics: null as never };
    expect(() => stream.end({ ...result, capture })).toThrow(TypeError);
    const doc = JSON.parse(out);
    expect(doc.flows.length).toBe(result.flows.length);
    expect(doc.capture).toMatchObject({ flows: result.flows.length, stoppedEarly: true });
  });
});

describe('hints written once per code', () => {
  const verdict = (code: string, hint: string): Verdict => ({ code, severity: 'warning', summary: `${code} happened`, packets: [1], facts: {}, hint });

  it("keeps each code's first hint in the map, and a verdict's own hint only where it differs", () => {
    const table = new HintTable();
    const written = [
      verdict('rst-by-server', 'The server aborted.'),
      verdict('rst-by-server', 'The server aborted.'),
      verdict('rst-by-server', 'The client aborted.'),
      verdict('clean-close', ''),
      verdict('clean-close', 'A hint this time.'),
      verdict('refused', 'ECONNREFUSED.'),
    ].map(table.verdict);
    expect(written.map((v) => v.hint)).toEqual([undefined, undefined, 'The client aborted.', undefined, 'A hint this time.', undefined]);
    // A code whose first verdict had no hint is not in the map: its verdicts without one carry none.
    expect(JSON.parse(JSON.stringify(table))).toEqual({ refused: 'ECONNREFUSED.', 'rst-by-server': 'The server aborted.' });
  });

  it('gives every verdict of a document back its hint: verdict.hint ?? hints[code] ?? ""', () => {
    const result = analyzeFile(sample('port-reuse.pcap'));
    const doc = JSON.parse(renderJson(result));
    const written = [...doc.flows.flatMap((f: { verdicts: unknown[] }) => f.verdicts), ...doc.verdicts] as { code: string; hint?: string }[];
    const hints = written.map((v) => v.hint ?? doc.hints[v.code] ?? '');
    expect(hints).toEqual([...result.flows.flatMap((f) => f.verdicts), ...result.verdicts].map((v) => v.hint));
    expect(written.some((v) => v.hint === undefined && doc.hints[v.code])).toBe(true);
  });
});

describe('facts of the compact flow', () => {
  it('leave out the members that say nothing (null, "", [], {}) and keep every other one, zeros and false included, as --detail writes it', () => {
    const nothing = (v: unknown) => v === null || v === '' || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0);
    let dropped = 0;
    let keptFalsy = 0;
    for (const name of ['lossy-transfer.pcap', 'nginx-ws-bad.pcap', 'tls-unknown-ca.pcap', 'listen-overflow.pcap', 'syn-timeout.pcap']) {
      const result = analyzeFile(sample(name));
      const compact = JSON.parse(renderJson(result));
      const detail = JSON.parse(renderJson(result, result.flows, { detail: true }));
      for (const [i, flow] of compact.flows.entries()) {
        for (const [j, v] of flow.verdicts.entries()) {
          const full = detail.flows[i].verdicts[j].facts as Record<string, unknown>;
          for (const [key, value] of Object.entries(full)) {
            const label = `${name} flow ${flow.id} ${v.code} ${key}`;
            if (nothing(value)) {
              expect(v.facts, label).not.toHaveProperty([key]);
              dropped++;
            } else if (typeof value !== 'object') {
              expect(v.facts[key], label).toBe(value);
              if (!value) keptFalsy++;
            }
          }
        }
      }
    }
    expect(dropped).toBeGreaterThan(0);
    expect(keptFalsy).toBeGreaterThan(0);
  });
});
