// The SYN answer log holds only the answers a flow yet to end may ask about: a busy listener's
// answers over the 200 s horizon would otherwise be kept for nothing.

import { describe, expect, it } from 'vitest';
import type { AnswerLog } from '../../src/rules/answer-log.js';
import { Analyzer, type FlowResult } from '../../src/pipeline.js';
import { conv, type Conversation } from '../helpers/conversation.js';
import { toRecord } from '../helpers/packets.js';

const T0 = 1_700_000_000_000_000;
const at = (s: number) => T0 + Math.round(s * 1e6);

/** Streams the conversations through an analyzer; returns the judged flows and the answer log's size after each packet. */
function stream(convs: Conversation[]) {
  const judged: FlowResult[] = [];
  const analyzer = new Analyzer({ file: 'answers', retainFlows: false, onFlowJudged: (flow) => judged.push(flow) });
  const answers = (analyzer as unknown as { answers: AnswerLog }).answers;
  const logSize: Array<{ t: number; size: number }> = [];
  let no = 0;
  for (const p of convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t)) {
    analyzer.onRecord(toRecord(p.frame, { no: ++no, tsMicros: at(p.t) }));
    logSize.push({ t: p.t, size: answers.size });
  }
  analyzer.finish({ file: 'answers', format: 'pcap', linkTypes: [1], snaplen: 65535, packets: no, diagnostics: [], stoppedEarly: false } as never);
  return { judged, logSize };
}

describe('the SYN answer log', () => {
  it('keeps the answers around a handshake still open, and drops them once no flow may ask', () => {
    // A listener answering 100 SYNs a second for 100 s, and one client whose SYNs (1, 2 and 4 s) it
    // drops: that attempt stays open until 60 s after its last SYN.
    const served = Array.from({ length: 10_000 }, (_, i) => conv({ client: `10.0.${1 + (i >> 8)}.${i & 255}:40000` }).handshake(i * 0.01));
    const retry = { seq: 0xffff_fff0 };
    const dropped = conv({ client: '10.0.0.1:40001' }).client('S', 1).client('S', 2, '', retry).client('S', 4, '', retry);
    const { judged, logSize } = stream([...served, dropped]);

    // Every answer between its first and last SYN counted: a SYN-ACK 0.1 ms after each SYN from 1.00 s to 3.99 s.
    const v = judged.find((f) => f.client === '10.0.0.1:40001')!.verdicts.find((x) => x.code === 'syn-timeout')!;
    expect(v.facts).toMatchObject({ otherSynsAnsweredMeanwhile: 300, listenerOverloaded: true });
    const sizeAt = (t: number) => logSize.findLast((s) => s.t <= t)!.size;
    // While it was open, the log reached back to its first SYN.
    expect(sizeAt(63)).toBeGreaterThanOrEqual((63 - 1) * 100);
    // Once it ended, the next trim (when the log had doubled) dropped every answer: none is asked about.
    expect(Math.min(...logSize.filter((s) => s.t > 64).map((s) => s.size))).toBeLessThan(10);
    expect(sizeAt(100)).toBeLessThan(4096);
  });
});
