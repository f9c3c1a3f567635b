// Probe-like flows held back for a scan that may still count them (src/rules/probe-hold.ts): the
// per-pair lists are swept of judged keys once many are held, and a sweep must never drop a list
// that still holds a flow.

import { describe, expect, it } from 'vitest';
import type { FlowFacts } from '../../src/rules/facts.js';
import { ProbeHold } from '../../src/rules/probe-hold.js';
import type { ScanMark } from '../../src/rules/probe-log.js';

const T0 = 1_700_000_000_000_000;

/** A probe-like flow: one SYN from `client` to `server` at `ts` (the facts ProbeHold reads). */
function probe(id: number, client: string, server: string, ts: number): FlowFacts {
  return { id, clientIp: client, serverIp: server, start: ts, syns: [{ no: id, ts }], synAcks: [] } as unknown as FlowFacts;
}

function portScan(scanner: string, target: string): ScanMark {
  return { scanner, kind: 'port-scan', target, targets: 20, attempts: 20, answered: 0, since: T0 } as ScanMark;
}

describe('ProbeHold', () => {
  it('still hands a scan its held probes after 10,000 other client/host pairs were held and judged around them', () => {
    const hold = new ProbeHold();
    const judged: FlowFacts[] = [];
    // The scanner's first probes, held before the crowd.
    for (let i = 0; i < 3; i++) judged.push(...hold.hold(probe(i + 1, '10.9.9.9', '10.0.0.1', T0 + i)));
    // 10,000 one-probe pairs; past 4,096 held flows the oldest is judged to make room, so the
    // pairs' lists fill with judged flows and are swept as new pairs come.
    for (let i = 0; i < 10_000; i++) judged.push(...hold.hold(probe(100 + i, `10.1.${i >> 8}.${i & 255}`, '10.0.0.2', T0 + 1_000 + i)));
    // The scanner's flows were held first, so the bound judged them: the scan finds none to claim.
    expect(judged.filter((f) => f.clientIp === '10.9.9.9').map((f) => f.id)).toEqual([1, 2, 3]);
    expect(hold.claim(portScan('10.9.9.9', '10.0.0.1'), T0)).toEqual([]);
    // Probes held after the crowd, then 4,000 more pairs: the lists are swept again on the way (the
    // map reaches twice what the last sweep kept), while the scanner's three are still among the
    // 4,096 newest held. The scan claims them whole.
    for (let i = 0; i < 3; i++) judged.push(...hold.hold(probe(20_000 + i, '10.9.9.8', '10.0.0.1', T0 + 20_000 + i)));
    for (let i = 0; i < 4_000; i++) judged.push(...hold.hold(probe(30_000 + i, `10.2.${i >> 8}.${i & 255}`, '10.0.0.3', T0 + 30_000 + i)));
    expect(judged.filter((f) => f.clientIp === '10.9.9.8')).toEqual([]);
    expect(hold.claim(portScan('10.9.9.8', '10.0.0.1'), T0 + 20_000).map((f) => f.id)).toEqual([20_000, 20_001, 20_002]);
  });
});
