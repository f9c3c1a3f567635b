// Remembered closes: a ring in close order with a hash map on top. Lookups must survive the ring
// growing and wrapping; the oldest leaves first, past TIME_WAIT or when the ring is full.

import { describe, expect, it } from 'vitest';
import { AddressPair } from '../../src/flow/address-pair.js';
import { RecentCloses } from '../../src/flow/recent-closes.js';
import { SlotIndex } from '../../src/flow/tuple-ring.js';

const T0 = 1_700_000_000_000_000;
const KEEP = 60_000_000;
const client = (i: number) => new Uint32Array([0, 0, 0, (0x0a000000 + i) >>> 0]);
const server = new Uint32Array([0, 0, 0, 0xc0a80001]); // 192.168.0.1: a word above 2^31
/** A closed flow's addresses: `a` the client, the server as responder. */
function pair(a: Uint32Array): AddressPair {
  const p = new AddressPair();
  p.setAddrs(a, server);
  return p;
}

function fill(r: RecentCloses, from: number, to: number, at: (i: number) => number): void {
  for (let i = from; i < to; i++) r.add(1000 + i, i, at(i), 0, i % 2 ? 'SF' : 'REJ', pair(client(i)), 40000 + (i % 1000), 443, at(i));
}

describe('RecentCloses', () => {
  it('finds every close through the ring growing from 1,024 slots, with its fields intact', () => {
    const r = new RecentCloses(10_000, KEEP);
    fill(r, 0, 5_000, (i) => T0 + i);
    expect(r.size).toBe(5_000);
    for (const i of [0, 1, 1023, 1024, 2047, 4999]) {
      const slot = r.find(1000 + i);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect([r.flowId(slot), r.closedTs(slot), r.lingerUntil(slot), r.state(slot)]).toEqual([i, T0 + i, 0, i % 2 ? 'SF' : 'REJ']);
      expect(r.is(slot, client(i), 40000 + (i % 1000), server, 443)).toBe(true);
      expect(r.is(slot, server, 443, client(i), 40000 + (i % 1000))).toBe(false); // the other way round
      expect(r.is(slot, client(i + 1), 40000 + (i % 1000), server, 443)).toBe(false);
    }
    expect(r.find(999)).toBe(-1);
  });

  it('at its bound forgets the oldest first, also once the ring has wrapped', () => {
    const r = new RecentCloses(2_000, KEEP);
    fill(r, 0, 5_500, (i) => T0 + i);
    expect(r.size).toBe(2_000);
    expect(r.find(1000 + 3_499)).toBe(-1);
    for (const i of [3_500, 4_000, 5_499]) expect(r.flowId(r.find(1000 + i))).toBe(i);
  });

  it('keeps every lookup when the ring grows after it has wrapped', () => {
    const r = new RecentCloses(10_000, KEEP);
    const add = (id: number, ts: number) => r.add(1000 + id, id, ts, 0, 'SF', pair(client(id)), 40000, 443, ts);
    for (let id = 0; id < 1024; id++) add(id, T0 + id); // the first 1,024 slots, full
    // A minute later each close lets the oldest go: the ring turns without growing (head moves to 400).
    for (let id = 1024; id < 1324; id++) add(id, T0 + KEEP + 100 + (id - 1024));
    // Then a burst at one instant fills it again and it grows with its oldest slot in the middle.
    for (let id = 1324; id < 1824; id++) add(id, T0 + KEEP + 400);
    expect(r.size).toBe(1824 - 400);
    for (let id = 0; id < 1824; id++) {
      const slot = r.find(1000 + id);
      if (id < 400) expect(slot, `#${id}`).toBe(-1);
      else {
        expect(r.flowId(slot), `#${id}`).toBe(id);
        expect(r.is(slot, client(id), 40000, server, 443), `#${id}`).toBe(true);
      }
    }
  });

  it('forgets closes older than TIME_WAIT as packet time passes', () => {
    const r = new RecentCloses(10_000, KEEP);
    fill(r, 0, 100, (i) => T0 + i * 1_000_000); // one close a second for 100 s
    // Each add first lets go of what closed more than TIME_WAIT before it: at 99 s, those before 39 s.
    expect(r.size).toBe(61);
    expect(r.find(1000 + 38)).toBe(-1);
    expect(r.flowId(r.find(1000 + 39))).toBe(39);
  });

  it('takes a close back when a new connection reuses its 4-tuple, and keeps the newest of a shared hash', () => {
    const r = new RecentCloses(100, KEEP);
    r.add(7, 1, T0, 0, 'SF', pair(client(1)), 40001, 443, T0);
    r.add(7, 2, T0 + 1, T0 + 5_000_000, 'RSTO', pair(client(2)), 40002, 443, T0 + 1); // same hash, other tuple
    const slot = r.find(7);
    expect([r.flowId(slot), r.lingerUntil(slot), r.state(slot)]).toEqual([2, T0 + 5_000_000, 'RSTO']);
    r.forget(slot);
    expect(r.find(7)).toBe(-1);
    expect(r.size).toBe(0);
  });
});

/** The hashes (0 to 8,999) that `index` and `map` answer differently. */
function differences(index: SlotIndex, map: Map<number, number>): number[] {
  const out: number[] = [];
  for (let h = 0; h < 9_000; h++) if (index.get(h) !== (map.get(h) ?? -1)) out.push(h);
  return out;
}

describe('SlotIndex (the remembered closes by 4-tuple hash)', () => {
  it('answers as a Map would through adds, overwrites, deletes and growth', () => {
    const index = new SlotIndex();
    const map = new Map<number, number>();
    let seed = 12345;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    // Dense hashes, so that runs of the probe meet, overlap and wrap around the end.
    for (let step = 0; step < 60_000; step++) {
      const hash = rand(8_000);
      const op = rand(3);
      if (op < 2) {
        index.set(hash, step);
        map.set(hash, step);
      } else {
        index.delete(hash);
        map.delete(hash);
      }
      if (step % 997 === 0) expect(differences(index, map), `step ${step}`).toEqual([]);
    }
    expect(index.size).toBe(map.size);
    expect(differences(index, map)).toEqual([]);
  });

  it('renumbers every slot, and forgets nothing', () => {
    const index = new SlotIndex();
    for (let h = 0; h < 3_000; h++) index.set(h * 7, h);
    index.renumber((slot) => slot + 1);
    for (let h = 0; h < 3_000; h++) expect(index.get(h * 7)).toBe(h + 1);
    expect(index.get(1)).toBe(-1);
  });
});
