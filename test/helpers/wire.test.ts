// The wire helpers read the packets alone; checked here against captures whose content is known.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { expectProblemsOnlyFromResends, flowSegments, packetTime, resentDataSegments, wireSegments } from './wire.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}.pcap`, import.meta.url));

describe('wire helpers', () => {
  it('find the resent segments a retransmission verdict rests on (lossy transfer through iptables drops)', () => {
    const file = sample('lossy-transfer');
    const resent = resentDataSegments(wireSegments(file));
    const verdict = analyzeFile(file).flows.flatMap((f) => f.verdicts).find((v) => v.code === 'retransmission');
    expect(resent.length).toBeGreaterThan(0);
    expect(verdict!.packets.filter((no) => resent.includes(no)).length).toBeGreaterThan(0);
  });

  it('find no resent segment in a clean WebSocket session, and give packet times', () => {
    const wire = wireSegments(sample('ws-healthy'));
    expect(wire.length).toBeGreaterThan(10);
    expect(resentDataSegments(wire)).toEqual([]);
    expect(packetTime(wire, 2) - packetTime(wire, 1)).toBeGreaterThanOrEqual(0);
    expect(() => packetTime(wire, 99_999)).toThrow(/#99999/);
  });

  it('tell a flow\'s resent segments from another\'s, and refuse a retransmission verdict without resent bytes', () => {
    const lossy = sample('lossy-transfer');
    const [flow] = analyzeFile(lossy).flows;
    const wire = wireSegments(lossy);
    expect(flowSegments(wire, flow!)).toHaveLength(wire.length);
    expect(flowSegments(wire, { clientPort: 1, serverPort: 2 })).toEqual([]);
    // lossy-transfer resends many segments: a warning resting on them.
    expectProblemsOnlyFromResends(flow!, wire);
    // The same verdict against a capture where nothing was resent is refused.
    expect(() => expectProblemsOnlyFromResends(flow!, wireSegments(sample('ws-healthy')))).toThrow();
  });
});
