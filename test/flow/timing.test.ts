// FlowTiming keeps a flow's timing numbers in one array, with SideTiming and SampleStats as views
// over their slices: every field must own its slot, start at its initial value, and keep the value
// written to it whatever is written elsewhere.

import { describe, expect, it } from 'vitest';
import { FlowTiming, SampleStats, SideTiming } from '../../src/flow/timing.js';

const BIG = 1_700_000_000_123_456; // a µs time: too large for a small integer

/** The accessor fields of a view, from its prototype. */
function fieldsOf(proto: object): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(proto))
    .filter(([, d]) => d.get && d.set)
    .map(([name]) => name);
}

describe('FlowTiming', () => {
  it('starts every field at its initial value', () => {
    const t = new FlowTiming();
    expect([t.closeSide, t.firstThink, t.side[0].lastTsVal, t.side[1].lastTsVal, t.side[0].dataRttMin]).toEqual([-1, -1, -1, -1, -1]);
    expect([t.synTs, t.requestEndTs, t.gaveUpNo, t.side[1].zeroTotal]).toEqual([0, 0, 0, 0]);
    expect([t.awaitingResponse, t.closeWasRst, t.gaveUpRst, t.serverSpokeAfterResume, t.side[0].tsPending]).toEqual([false, false, false, false, false]);
    expect([t.think.count, t.rto.count, t.side[0].ackRtt.count, t.side[1].tsEchoRtt.count]).toEqual([0, 0, 0, 0]);
  });

  it('gives every field of the flow, both sides and all six statistics a slot of its own', () => {
    const t = new FlowTiming();
    const flowFields = fieldsOf(FlowTiming.prototype);
    const sideFields = fieldsOf(SideTiming.prototype);
    const views: Array<[Record<string, unknown>, string[]]> = [
      [t as unknown as Record<string, unknown>, flowFields],
      [t.side[0] as unknown as Record<string, unknown>, sideFields],
      [t.side[1] as unknown as Record<string, unknown>, sideFields],
    ];
    let k = 0;
    for (const [view, fields] of views) for (const f of fields) view[f] = typeof view[f] === 'boolean' ? true : BIG + k++;
    const stats: SampleStats[] = [t.think, t.rto, t.side[0].ackRtt, t.side[0].tsEchoRtt, t.side[1].ackRtt, t.side[1].tsEchoRtt];
    stats.forEach((s, i) => s.add(1000 * (i + 1), 10 + i));
    k = 0;
    for (const [view, fields] of views) for (const f of fields) expect(view[f], f).toBe(typeof view[f] === 'boolean' ? true : BIG + k++);
    stats.forEach((s, i) => expect([s.count, s.min, s.max, s.sum, s.maxNo]).toEqual([1, 1000 * (i + 1), 1000 * (i + 1), 1000 * (i + 1), 10 + i]));
    expect(flowFields.length).toBeGreaterThan(30);
    expect(sideFields.length).toBe(57);
  });

  it('keeps running statistics: count, min, max with its packet, sum', () => {
    const t = new FlowTiming();
    for (const [v, no] of [[300, 5], [100, 6], [900, 7], [200, 8]]) t.rto.add(v, no);
    expect([t.rto.count, t.rto.min, t.rto.max, t.rto.maxNo, t.rto.sum]).toEqual([4, 100, 900, 7, 1500]);
    expect(t.rto.toJson()).toEqual({ samples: 4, minMs: 0.1, avgMs: 0.375, maxMs: 0.9, maxPacket: 7 });
    expect(new FlowTiming().rto.toJson()).toBeNull();
  });
});
