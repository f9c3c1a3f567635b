import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus2 = useCorpus('corpus2');

const idleClose = (f: { verdicts: { code: string }[] }) => f.verdicts.find((v) => v.code === 'idle-close') as { severity: string; summary: string; facts: Record<string, unknown> } | undefined;

describe('a reset after keep-alive probes nobody answered (idle-close)', () => {
  /** An HTTP exchange, 400 s of silence, then two server keep-alive probes 14 s apart and its RST; `clientAnswers`: the client ACKs the first probe. */
  const probed = (clientAnswers: boolean) => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 204 No Content\r\n\r\n').client('A', 0.03);
    const probeSeq = (c.s.next - 1) >>> 0;
    c.server('A', 400, '', { seq: probeSeq });
    if (clientAnswers) c.client('A', 400.01);
    return c.server('A', 414, '', { seq: probeSeq }).server('RA', 428);
  };

  it('says the server\'s probes got no answer and it reset: the client no longer answered', () => {
    const flows = analyzeConversation(probed(false)).flows;
    const v = idleClose(flows[flows.length - 1])!;
    expect(v.severity).toBe('warning');
    expect(v.summary).toMatch(/then the server's 2 keep-alive probes \(from #\d+\) got no answer and it reset the connection \(RST #\d+\): the client no longer answered$/);
    expect(v.facts).toMatchObject({ closer: 'server', how: 'rst', unansweredKeepAlives: 2 });
  });

  it('a probe the client answered is no unanswered probe: the reset is said as before', () => {
    const flows = analyzeConversation(probed(true)).flows;
    const v = idleClose(flows[flows.length - 1])!;
    expect(v.summary).toMatch(/then the server reset the connection \(RST #\d+\)$/);
    expect(v.facts).toMatchObject({ unansweredKeepAlives: 0 });
  });

  it('a reset after the idle with no probe before it is said as before, though the client sent nothing', () => {
    const c = conv().handshake(0).client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').server('PA', 0.02, 'HTTP/1.1 204 No Content\r\n\r\n').client('A', 0.03);
    const flows = analyzeConversation(c.server('RA', 428)).flows;
    const v = idleClose(flows[flows.length - 1])!;
    expect(v.summary).toMatch(/then the server reset the connection \(RST #\d+\)$/);
    expect(v.facts).toMatchObject({ unansweredKeepAlives: 0 });
  });

  corpus2.it('nDPI avast.pcap flows 16 and 18: the server probed twice, 14 s apart, and reset; the client sent nothing', () => {
    const r = analyzeFile(corpus2.path('ndpi/avast.pcap'));
    for (const id of [16, 18]) {
      const v = idleClose(r.flows.find((f) => f.id === id)!)!;
      expect(v.summary).toContain("then the server's 2 keep-alive probes (from #");
      expect(v.facts).toMatchObject({ unansweredKeepAlives: 2 });
    }
  });
});
