// capture-loss: bytes the hosts acknowledged that the capture never held.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';

/** A download of `segments` 1,000-byte segments, `dropped` of which (from the second) the capture did not keep. */
const download = (segments: number, dropped: number) => {
  const c = conv({ client: '10.7.0.1:51000', server: '10.7.0.2:80' }).handshake(0).client('PA', 0.01, 'GET /f HTTP/1.1\r\nHost: x\r\n\r\n');
  c.server('PA', 0.02, `HTTP/1.1 200 OK\r\nContent-Length: ${segments * 1000}\r\n\r\n`);
  const body = c.s.next;
  for (let i = 0; i < segments; i++) {
    const seq = (body + i * 1000) >>> 0;
    if (i >= 1 && i <= dropped) continue;
    c.server('A', 0.03 + i * 0.001, 'b'.repeat(1000), { seq });
    c.client('A', 0.0305 + i * 0.001, '', { ack: (seq + 1000) >>> 0 });
  }
  return analyzeConversation(c).verdicts.find((v) => v.code === 'capture-loss');
};

describe('capture-loss', () => {
  it('warns when the hosts acknowledged bytes the capture does not hold, 1% or more of the stream', () => {
    const v = download(20, 5);
    expect(v?.severity).toBe('warning');
    expect(v?.facts).toMatchObject({ missedBytes: 5000, flows: 1, worstFlow: 1 });
    expect(v?.summary).toMatch(/^the capture missed 5,000 bytes the hosts acknowledged \(2\d\.\d% of the TCP stream bytes\) in 1 flow/);
  });

  it('is a line below 1%, and silent when the capture holds every byte', () => {
    expect(download(200, 1)?.severity).toBe('info');
    expect(download(20, 0)).toBeUndefined();
  });

  it('is not said of a capture whose snap length cut the payload: truncated-snaplen tells it', () => {
    const { verdicts } = analyzeFile(fileURLToPath(new URL('../../samples/lossy-transfer.pcap', import.meta.url)));
    expect(verdicts.some((v) => v.code === 'truncated-snaplen')).toBe(true);
    expect(verdicts.some((v) => v.code === 'capture-loss')).toBe(false);
  });
});
