import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();

const synAckRetry = (f: { verdicts: { code: string }[] }) => f.verdicts.find((v) => v.code === 'synack-retry') as { severity: string; summary: string; facts: Record<string, unknown> } | undefined;

describe('a SYN-ACK re-sent by a listener deferring accept (synack-retry, info)', () => {
  /** SYN, SYN-ACK, the client's ACK, then the SYN-ACK again `resendAt` s after the first. */
  const resentAfterAck = (resendAt: number) => {
    const c = conv().client('S', 0).server('SA', 0.001).client('A', 0.002);
    const isn = (c.s.next - 1) >>> 0;
    return c.server('SA', 0.001 + resendAt, '', { seq: isn }).client('A', 0.002 + resendAt, '', { seq: c.c.next });
  };

  it('one re-send 7 s after the first, the ACK captured before it and no data: a deferred accept, info', () => {
    const v = synAckRetry(analyzeConversation(resentAfterAck(7)).flows[0])!;
    expect(v.severity).toBe('info');
    expect(v.facts).toMatchObject({ deferredAccept: true });
    expect(v.summary).toBe("server re-sent its SYN-ACK 1 time (#4) only 7.00 s after the first, though the client's final ACK #3 had come: a deferred accept (TCP_DEFER_ACCEPT) waiting for the client's first byte, which never came");
  });

  it('a re-send after 1 s or 3 s is the server missing the ACK: a warning, as before', () => {
    for (const at of [1, 3]) {
      const v = synAckRetry(analyzeConversation(resentAfterAck(at)).flows[0])!;
      expect(v.severity).toBe('warning');
      expect(v.summary).toContain("the client's final ACK was lost or ignored");
    }
  });

  it('samples/deferred-accept.pcap, a python listener with TCP_DEFER_ACCEPT 5 s on loopback: the SYN-ACK again at 7 s, told as a deferred accept', () => {
    const f = analyzeFile('samples/deferred-accept.pcap').flows[0];
    const v = synAckRetry(f)!;
    expect(v.severity).toBe('info');
    expect(v.summary).toMatch(/only 7\.\d\d s after the first, though the client's final ACK #3 had come: a deferred accept \(TCP_DEFER_ACCEPT\) waiting for the client's first byte, which came only at #6$/);
    expect(f.verdicts.every((x) => x.severity === 'info')).toBe(true);
  });

  corpus.it('PPA sessionhijacking.pcapng flows 5 and 6: the SYN-ACK again only at 31.2 s after the client\'s ACK', () => {
    const r = analyzeFile(corpus.path('ppa/ppa3/sessionhijacking.pcapng'));
    for (const id of [5, 6]) expect(synAckRetry(r.flows.find((f) => f.id === id)!)).toMatchObject({ severity: 'info', facts: { deferredAccept: true } });
  });
});
