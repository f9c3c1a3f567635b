// The close linger is bounded: past maxLingeringFlows closed flows, the one closed longest ago is
// finished early; its late packets are counted, not turned into a new connection.

import { describe, expect, it } from 'vitest';
import { analyzeFrames, conv, type Conversation } from '../helpers/conversation.js';

/** Handshake, one request and response, then a clean close (server FIN first) ending at t + 0.006. */
function exchange(port: number, t: number): Conversation {
  return conv({ client: `10.0.0.1:${port}`, server: '10.0.0.2:80' })
    .handshake(t)
    .client('PA', t + 0.002, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    .server('PA', t + 0.003, 'HTTP/1.1 204 No Content\r\n\r\n')
    .server('FA', t + 0.004)
    .client('FA', t + 0.005)
    .server('A', t + 0.006);
}

function run(convs: Conversation[], maxLingeringFlows?: number) {
  return analyzeFrames(convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t), { maxLingeringFlows });
}

describe('close linger bound', () => {
  it('finishes the longest-lingering closed flow early and keeps its late ACK out of the flow list', () => {
    const first = exchange(40001, 0);
    const others = [exchange(40002, 0.1), exchange(40003, 0.2)];
    first.server('A', 0.3); // a duplicate of the last ACK, after flow 1 was finished early
    const bounded = run([first, ...others], 1);
    expect(bounded.flows).toHaveLength(3);
    expect(bounded.capture.lingerLimit).toEqual({ closedEarly: 2, latePackets: 1 });
    expect(bounded.capture.diagnostics.map((d) => d.code)).toContain('LINGER_LIMIT');
    for (const f of bounded.flows) expect(f.state).toBe('SF');

    // Without the bound, the late ACK lands in flow 1 as Zeek would count it; every flow is still SF.
    const full = run([exchange(40001, 0).server('A', 0.3), exchange(40002, 0.1), exchange(40003, 0.2)]);
    expect(full.flows).toHaveLength(3);
    expect(full.capture.lingerLimit).toEqual({ closedEarly: 0, latePackets: 0 });
    expect(full.flows[0].serverSide.packets).toBe(bounded.flows[0].serverSide.packets + 1);
    expect(full.flows.map((f) => [f.state, f.history])).toEqual(bounded.flows.map((f) => [f.state, f.history]));
  });

  it('a new SYN on an early-finished 4-tuple is a new connection (port reuse), not a late packet', () => {
    const first = exchange(40001, 0);
    const again = exchange(40001, 0.4); // same 4-tuple, new ISN
    const bounded = run([first, exchange(40002, 0.1), exchange(40003, 0.2), again], 1);
    expect(bounded.flows).toHaveLength(4);
    expect(bounded.capture.lingerLimit.latePackets).toBe(0);
    const reused = bounded.flows.find((f) => f.start > 1_700_000_000_300_000)!;
    expect(reused.verdicts.map((v) => v.code)).toContain('port-reuse');
  });

  it('a late packet after the linger would have ended starts a new flow, as without the bound', () => {
    const first = exchange(40001, 0);
    first.client('PA', 6, 'late'); // past the 5 s linger
    const bounded = run([first, exchange(40002, 0.1), exchange(40003, 0.2)], 1);
    const full = run([exchange(40001, 0).client('PA', 6, 'late'), exchange(40002, 0.1), exchange(40003, 0.2)]);
    expect(bounded.flows).toHaveLength(4);
    expect(full.flows).toHaveLength(4);
    expect(bounded.capture.lingerLimit.latePackets).toBe(0);
  });
});
