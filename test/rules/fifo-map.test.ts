import { describe, expect, it } from 'vitest';
import { FifoMap } from '../../src/rules/fifo-map.js';

/** A deterministic stream of numbers in [0, 1). */
function randoms(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('FifoMap', () => {
  it('answers as a Map does, in the same order, through 20,000 random sets, deletes, evictions and reads', () => {
    const map = new FifoMap<string, number>();
    const model = new Map<string, number>();
    const rand = randoms(7);
    let pushedOut = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = rand();
      const key = `k${Math.floor(rand() * 300)}`;
      if (r < 0.4) {
        map.set(key, step);
        model.set(key, step);
      } else if (r < 0.55) {
        // Moved to the end, as the logs do with a key seen again, the oldest pushed out past 150 entries.
        const pushOut = !model.delete(key) && model.size >= 150;
        if (pushOut) {
          model.delete(model.keys().next().value!);
          pushedOut++;
        }
        model.set(key, step);
        expect(map.setNewest(key, step, 150)).toBe(pushOut);
      } else if (r < 0.75) expect(map.delete(key)).toBe(model.delete(key));
      else if (r < 0.85) {
        const oldest = model.keys().next().value;
        expect(map.firstKey()).toBe(oldest);
        if (oldest !== undefined) {
          map.delete(oldest);
          model.delete(oldest);
        }
      } else {
        expect(map.get(key)).toBe(model.get(key));
      }
      expect(map.size).toBe(model.size);
      if (step % 500 === 0) expect([...map]).toEqual([...model]);
    }
    expect([...map.entries()]).toEqual([...model.entries()]);
    expect([...map.values()]).toEqual([...model.values()]);
    expect(pushedOut).toBeGreaterThan(100);
  });

  it('lets the entry just given be deleted while iterating, as a Map does', () => {
    const map = new FifoMap<string, number>();
    for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
    const seen: number[] = [];
    for (const [key, v] of map) {
      seen.push(v);
      if (v < 5) map.delete(key);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...map.values()]).toEqual([5, 6, 7, 8, 9]);
    expect(map.firstKey()).toBe('k5');
  });

  it('meets an entry set while iterating, as a Map does, even where the set would compact its order', () => {
    const map = new FifoMap<number, number>();
    const model = new Map<number, number>();
    for (let i = 0; i < 100; i++) {
      map.set(i, i);
      model.set(i, i);
    }
    for (let i = 0; i < 80; i++) {
      map.delete(i);
      model.delete(i);
    }
    const walk = (m: Map<number, number> | FifoMap<number, number>) => {
      const seen: number[] = [];
      for (const [k] of m) {
        seen.push(k);
        if (k === 85) m.set(1000, 1000);
      }
      return seen;
    };
    expect(walk(map)).toEqual(walk(model));
    expect(walk(map)).toContain(1000);
  });

  it('holds at most twice its entries in slots while the oldest is forgotten for each new one', () => {
    const map = new FifoMap<number, number>();
    const cap = 1_000;
    let mostOver = -Infinity;
    for (let i = 0; i < 200_000; i++) {
      if (map.size >= cap) map.delete(map.firstKey()!);
      map.set(i, i);
      mostOver = Math.max(mostOver, map.slots - 2 * map.size);
    }
    expect(mostOver).toBeLessThanOrEqual(34);
    expect(map.size).toBe(cap);
    expect(map.firstKey()).toBe(200_000 - cap);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.firstKey()).toBeUndefined();
  });
});
