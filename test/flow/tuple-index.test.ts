// The flow table finds open flows through an open-addressing index (src/flow/tuple-index.ts): every
// flow added and not removed must stay reachable from its hash's first place, through growth and
// through removals that shift later entries back, with many hashes sharing their low bits.

import { describe, expect, it } from 'vitest';
import type { Flow } from '../../src/flow/flow.js';
import { TupleIndex } from '../../src/flow/tuple-index.js';

/** Every flow the probe from `hash` reaches, in probe order. */
function reachable(index: TupleIndex<Flow>, hash: number): Flow[] {
  const out: Flow[] = [];
  for (let i = index.first(hash), h = index.hashAt(i); h >= 0; i = index.next(i), h = index.hashAt(i)) if (h === hash) out.push(index.itemAt(i));
  return out;
}

describe('TupleIndex', () => {
  it('keeps every added flow reachable through growth and removals, and no removed one', () => {
    const index = new TupleIndex<Flow>();
    const live: Flow[] = [];
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 1) / 0x7fffffff;
    for (let step = 0; step < 12_000; step++) {
      if (live.length > 0 && random() < 0.45) {
        const at = Math.floor(random() * live.length);
        const f = live[at];
        live[at] = live[live.length - 1];
        live.pop();
        index.remove(f);
      } else {
        // Few distinct low bits: long runs that wrap and removals that must shift entries back.
        const hash = (Math.floor(random() * 64) * 1024 + Math.floor(random() * 48)) & 0x3fffffff;
        const f = { hash } as Flow;
        index.add(f);
        live.push(f);
      }
      if (step % 997 === 0) for (const f of live) expect(reachable(index, f.hash)).toContain(f);
    }
    for (const f of live) expect(reachable(index, f.hash)).toContain(f);
    for (const f of live) {
      index.remove(f);
      expect(reachable(index, f.hash)).not.toContain(f);
    }
  });
});
