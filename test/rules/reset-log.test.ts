// The connections that ended with a reset, found again by 4-tuple either way round, the latest
// 65,536 of them, each within five minutes of its reset.

import { describe, expect, it } from 'vitest';
import { AddressPair } from '../../src/flow/address-pair.js';
import { tupleHash } from '../../src/flow/table.js';
import { ResetLog, type ResetTuple } from '../../src/rules/reset-log.js';

const SERVER = new Uint32Array([0, 0, 0, 0xc6120001]); // 198.18.0.1, a word above 2^31
const clientAddr = (i: number) => new Uint32Array([0, 0, 0, (0x0a000000 + i) >>> 0]);

/** A flow's 4-tuple as the flow table has it: A the client, B the server. */
function tuple(a: Uint32Array, aPort: number, b: Uint32Array, bPort: number): ResetTuple {
  const pair = new AddressPair();
  pair.setAddrs(a, b);
  return Object.assign(pair, { hash: tupleHash(a, aPort, b, bPort), origPort: aPort, respPort: bPort });
}
const fromClient = (i: number) => tuple(clientAddr(i), 40000, SERVER, 80);
const toClient = (i: number) => tuple(SERVER, 80, clientAddr(i), 40000);
const reset = (flowId: number, by: 'client' | 'server' = 'server') => ({ flowId, by, rstPacket: flowId + 1, rstTs: flowId });

describe('ResetLog', () => {
  it('forgets the oldest resets past its 65,536, and a 4-tuple reset again counts from its latest', () => {
    const log = new ResetLog();
    log.record(fromClient(0), reset(0));
    for (let i = 1; i < 70_000; i++) {
      log.record(fromClient(i), reset(i));
      // Tuple 0 reset again before it would be forgotten: it is found at its latest reset.
      if (i === 60_000) log.record(fromClient(0), reset(60_000));
    }
    const at = 70_000;
    expect(log.before(fromClient(0), 'c', 's', at)?.flowId).toBe(60_000);
    // 70,001 resets, 65,536 remembered: the oldest 4,465 (tuple 0's first, then tuples 1 to 4,464) are forgotten.
    expect(log.before(fromClient(1), 'c', 's', at)).toBeNull();
    expect(log.before(fromClient(4_464), 'c', 's', at)).toBeNull();
    expect(log.before(fromClient(4_465), 'c', 's', at)).toMatchObject({ flowId: 4_465, rstPacket: 4_466, rstTs: 4_465 });
  });

  it('finds a reset from either direction of its 4-tuple, and names its sender by this flow\'s texts', () => {
    const log = new ResetLog();
    log.record(fromClient(1), reset(10, 'server'));
    log.record(fromClient(2), reset(20, 'client'));
    // The same way round: the earlier flow's server is this flow's server.
    expect(log.before(fromClient(1), '10.0.0.1:40000', '198.18.0.1:80', 100)).toEqual({ flowId: 10, by: 'server', resetter: '198.18.0.1:80', rstPacket: 11, rstTs: 10 });
    // Turned round (the server's address is this flow's client): the resetter is this flow's client.
    expect(log.before(toClient(1), '198.18.0.1:80', '10.0.0.1:40000', 100)?.resetter).toBe('198.18.0.1:80');
    expect(log.before(toClient(2), '198.18.0.1:80', '10.0.0.2:40000', 100)).toMatchObject({ by: 'client', resetter: '10.0.0.2:40000' });
    // Another port, another address: nothing.
    expect(log.before(tuple(clientAddr(1), 40001, SERVER, 80), 'c', 's', 100)).toBeNull();
    expect(log.before(fromClient(3), 'c', 's', 100)).toBeNull();
  });

  it('holds a reset for five minutes after it, and not before it', () => {
    const log = new ResetLog();
    log.record(fromClient(1), reset(1_000_000));
    expect(log.before(fromClient(1), 'c', 's', 999_999)).toBeNull();
    expect(log.before(fromClient(1), 'c', 's', 301_000_000)?.flowId).toBe(1_000_000);
    expect(log.before(fromClient(1), 'c', 's', 301_000_001)).toBeNull();
  });
});
