// A bug met at one packet or one flow must cost that packet or that flow only, be named in a
// diagnostic, and leave the accounting exact: packets = decoded + skipped + malformed, and
// capture.flows = the flows written, in the table, --json and retained analyses. Faults are injected
// by wrapping the real code (the flow table's packet step, the flow rules, a dissector's end, the
// analysis' finish, the capture reader), so what runs is the production path with one throw added.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { run } from '../../src/cli/main.js';
import { AppSession } from '../../src/dissect/session.js';
import { FlowTable } from '../../src/flow/table.js';
import { Analyzer, analyzeFile, type AnalysisResult } from '../../src/pipeline.js';
import { memoryIo } from '../helpers/io.js';

/** The flow id whose rules throw (-1: none), read by the wrapped judgeFlow below. */
const fault = vi.hoisted(() => ({ flow: -1 }));

vi.mock('../../src/rules/rules.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/rules/rules.js')>();
  return {
    ...real,
    judgeFlow: (...args: Parameters<typeof real.judgeFlow>) => {
      if (args[0].id === fault.flow) throw new Error(`injected fault judging flow ${fault.flow}`);
      return real.judgeFlow(...args);
    },
  };
});

const SAMPLES = join(process.cwd(), 'samples');
/** 400 packets, 40 connections on 4 reused 4-tuples: flows end while later packets are read. */
const PORT_REUSE = join(SAMPLES, 'port-reuse.pcap');

/**
 * A request the server acknowledged and never answered, the capture stopped before either side
 * closed: samples/no-response.pcap up to its 5th packet (classic pcap: a 24-byte file header, then
 * records of a 16-byte header and the captured bytes), so its flow is open when the capture ends.
 */
function openRequestCapture(): string {
  const bytes = readFileSync(join(SAMPLES, 'no-response.pcap'));
  let end = 24;
  for (let i = 0; i < 5; i++) end += 16 + bytes.readUInt32LE(end + 8);
  const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-internal-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'open-request.pcap');
  writeFileSync(file, bytes.subarray(0, end));
  return file;
}

afterEach(() => {
  fault.flow = -1;
  vi.restoreAllMocks();
});

function skippedTotal(r: AnalysisResult): number {
  return Object.values(r.capture.skipped).reduce((a, b) => a + b, 0);
}

interface JsonDoc {
  flows: { id: number }[];
  capture: { packets: number; decoded: number; skipped: Record<string, number>; malformed: number; flows: number; stoppedEarly: boolean; diagnostics: { code: string; message: string; packet: number }[] };
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await run(args, io);
  return { code, out: io.out, err: io.err };
}

describe('an internal error at one packet', () => {
  it('counts the packet once, as malformed INTERNAL, and the rest of the capture as before', () => {
    const clean = analyzeFile(PORT_REUSE);
    const failAt = 57;
    const packet = FlowTable.prototype.packet;
    // Thrown after the table did its work, as a bug late in the packet's handling would.
    vi.spyOn(FlowTable.prototype, 'packet').mockImplementation(function (this: FlowTable, ...args: Parameters<FlowTable['packet']>) {
      packet.apply(this, args);
      if (args[2] === failAt) throw new Error('injected fault');
    });
    const r = analyzeFile(PORT_REUSE);
    expect(r.capture.packets).toBe(clean.capture.packets);
    expect(r.capture.decoded).toBe(clean.capture.decoded - 1);
    expect(r.capture.malformed).toBe(clean.capture.malformed + 1);
    expect(r.capture.malformedByCode.INTERNAL).toBe(1);
    expect(r.capture.decoded + skippedTotal(r) + r.capture.malformed).toBe(r.capture.packets);
    const d = r.capture.diagnostics.filter((x) => x.code === 'INTERNAL');
    expect(d.map((x) => x.packet)).toEqual([failAt]);
    expect(d[0].message).toMatch(/packet 57 \(file offset 0x[0-9a-f]+\): internal error, packet skipped \(Error: injected fault/);
    expect(r.flowCount).toBe(clean.flowCount);
    expect(r.flows.length).toBe(r.flowCount);
  });
});

describe('an internal error at one flow', () => {
  it('drops that flow with a diagnostic and keeps capture.flows equal to the flows written (--json)', async () => {
    const clean = await cli(['analyze', PORT_REUSE, '--json']);
    const cleanDoc = JSON.parse(clean.out) as JsonDoc;
    expect(cleanDoc.capture.flows).toBe(40);
    fault.flow = 5;
    const { code, out, err } = await cli(['analyze', PORT_REUSE, '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(out) as JsonDoc;
    expect(doc.flows.map((f) => f.id)).toEqual(cleanDoc.flows.map((f) => f.id).filter((id) => id !== 5));
    expect(doc.capture.flows).toBe(doc.flows.length);
    // The packet that ended the flow is not blamed: the packet accounting is the clean run's.
    expect([doc.capture.decoded, doc.capture.malformed]).toEqual([cleanDoc.capture.decoded, cleanDoc.capture.malformed]);
    const internal = doc.capture.diagnostics.filter((d) => d.code === 'INTERNAL');
    expect(internal.length).toBe(1);
    expect(internal[0].message).toMatch(/flow 5 \(first packet \d+\): internal error, flow not reported \(Error: injected fault judging flow 5/);
    expect(err).toContain(internal[0].message);
  });

  it('drops that flow from the table and from a retained analysis alike', async () => {
    fault.flow = 5;
    const table = await cli(['analyze', PORT_REUSE, '--all']);
    expect(table.code).toBe(0);
    const ids = [...table.out.matchAll(/^flow (\d+)  /gm)].map((m) => Number(m[1]));
    expect(ids.length).toBe(39);
    expect(ids).not.toContain(5);
    const retained = analyzeFile(PORT_REUSE);
    expect(retained.flows.length).toBe(39);
    expect(retained.flowCount).toBe(39);
    expect(retained.flows.map((f) => f.id)).not.toContain(5);
  });
});

describe("an internal error in a flow's dissector at its end", () => {
  it('still reports the flow, and says its payload analysis may be partial', () => {
    const file = openRequestCapture();
    const clean = analyzeFile(file);
    expect(clean.flows.map((f) => [f.endReason, f.state])).toEqual([['capture-end', 'S1']]);
    // Thrown once, as the flows still open at the capture's end are finished: a request the server
    // never answered. A dissector's error costs its flow's payload analysis only, whenever it comes
    // (dissect/guarded-session.ts): it is said as the flow is reported.
    const finishAll = FlowTable.prototype.finishAll;
    let armed = false;
    vi.spyOn(FlowTable.prototype, 'finishAll').mockImplementation(function (this: FlowTable) {
      armed = true;
      finishAll.call(this);
    });
    const onEnd = AppSession.prototype.onEnd;
    vi.spyOn(AppSession.prototype, 'onEnd').mockImplementation(function (this: AppSession, ts: number) {
      onEnd.call(this, ts);
      if (armed) {
        armed = false;
        throw new Error('injected fault in a dissector');
      }
    });
    const r = analyzeFile(file);
    expect(r.flowCount).toBe(clean.flowCount);
    expect(r.flows.length).toBe(r.flowCount);
    expect([r.capture.decoded, r.capture.malformed]).toEqual([clean.capture.decoded, clean.capture.malformed]);
    const internal = r.capture.diagnostics.filter((d) => d.code === 'INTERNAL');
    expect(internal.length).toBe(1);
    expect(internal[0].message).toMatch(/flow \d+: internal error in its payload analysis at packet \d+, which may be partial from there \(Error: injected fault in a dissector at .*\)$/);
  });
});

describe("an internal error in a flow's dissector mid-stream", () => {
  it('costs that flow its payload analysis from there, not the packet: its TCP analysis and the counts stay as they were', () => {
    const file = join(SAMPLES, 'port-reuse.pcap');
    const clean = analyzeFile(file);
    const onData = AppSession.prototype.onData;
    let calls = 0;
    vi.spyOn(AppSession.prototype, 'onData').mockImplementation(function (this: AppSession, ...args: Parameters<AppSession['onData']>) {
      if (++calls === 7) throw new Error('injected fault in a dissector');
      onData.apply(this, args);
    });
    const r = analyzeFile(file);
    expect([r.capture.decoded, r.capture.malformed, r.flowCount]).toEqual([clean.capture.decoded, clean.capture.malformed, clean.flowCount]);
    expect(r.flows.map((f) => [f.id, f.history, f.state])).toEqual(clean.flows.map((f) => [f.id, f.history, f.state]));
    const internal = r.capture.diagnostics.filter((d) => d.code === 'INTERNAL');
    expect(internal).toHaveLength(1);
    expect(internal[0].message).toMatch(/flow \d+: internal error in its payload analysis at packet \d+, which may be partial from there \(Error: injected fault in a dissector at /);
  });
});

describe('an internal error after the JSON document started', () => {
  it('closes the document with the flows written, the error in capture.diagnostics, and exits 3', async () => {
    const clean = JSON.parse((await cli(['analyze', PORT_REUSE, '--json'])).out) as JsonDoc;
    vi.spyOn(Analyzer.prototype, 'finish').mockImplementation(() => {
      throw new Error('injected fault finishing');
    });
    const { code, out, err } = await cli(['analyze', PORT_REUSE, '--json']);
    expect(code).toBe(3);
    expect(err).toMatch(/internal error: Error: injected fault finishing/);
    const doc = JSON.parse(out) as JsonDoc;
    // Flows that ended while the file was read were written; the ones open at its end never were.
    expect(doc.flows.length).toBeGreaterThan(0);
    expect(doc.flows.length).toBeLessThan(clean.flows.length);
    expect(doc.capture.flows).toBe(doc.flows.length);
    expect(doc.capture.stoppedEarly).toBe(true);
    expect(doc.capture.diagnostics.map((d) => d.code)).toEqual(['INTERNAL']);
  });

  it('analyses and writes what was read before the reader failed, then exits 3', async () => {
    const push = CaptureParser.prototype.push;
    vi.spyOn(CaptureParser.prototype, 'push').mockImplementation(function (this: CaptureParser, chunk: Uint8Array) {
      push.call(this, chunk);
      throw new Error('injected fault reading');
    });
    const { code, out, err } = await cli(['analyze', PORT_REUSE, '--json']);
    expect(code).toBe(3);
    expect(err).toMatch(/internal error, reading stopped \(Error: injected fault reading/);
    const doc = JSON.parse(out) as JsonDoc;
    const c = doc.capture;
    expect(c.packets).toBe(400);
    expect(c.decoded + Object.values(c.skipped).reduce((a, b) => a + b, 0) + c.malformed).toBe(c.packets);
    expect(c.flows).toBe(40);
    expect(doc.flows.length).toBe(40);
    expect(c.stoppedEarly).toBe(true);
  });

  it('keeps several files one document when one of them cannot be read', async () => {
    const { code, out, err } = await cli(['analyze', PORT_REUSE, join(SAMPLES, 'no-such.pcap'), '--json']);
    expect(code).toBe(3);
    expect(err).toMatch(/no-such\.pcap: no such file/);
    const doc = JSON.parse(out) as { files: JsonDoc[] };
    expect(doc.files.map((f) => f.capture.flows)).toEqual([40]);
  });
});
