// capture-loss: bytes the hosts acknowledged that the capture never held, and packets the
// capturing tool says it dropped.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PcapngBuilder } from '../../src/capture/writer.js';
import { analyzeFile } from '../../src/pipeline.js';
import { writeTempCapture } from '../helpers/capture.js';
import { analyzeConversation, conv, type Conversation } from '../helpers/conversation.js';

/** A download of `segments` 1,000-byte segments, `dropped` of which (from the second) the capture did not keep. */
const downloadConversation = (segments: number, dropped: number): Conversation => {
  const c = conv({ client: '10.7.0.1:51000', server: '10.7.0.2:80' }).handshake(0).client('PA', 0.01, 'GET /f HTTP/1.1\r\nHost: x\r\n\r\n');
  c.server('PA', 0.02, `HTTP/1.1 200 OK\r\nContent-Length: ${segments * 1000}\r\n\r\n`);
  const body = c.s.next;
  for (let i = 0; i < segments; i++) {
    const seq = (body + i * 1000) >>> 0;
    if (i >= 1 && i <= dropped) continue;
    c.server('A', 0.03 + i * 0.001, 'b'.repeat(1000), { seq });
    c.client('A', 0.0305 + i * 0.001, '', { ack: (seq + 1000) >>> 0 });
  }
  return c;
};
const download = (segments: number, dropped: number) => analyzeConversation(downloadConversation(segments, dropped)).verdicts.find((v) => v.code === 'capture-loss');

const T0 = 1_700_000_000_000_000;

/** The conversation as a pcapng file with the drop counts given: an interface statistics block at the end, and packet blocks' counts by packet number. */
function withDropCounts(c: Conversation, name: string, statistics: { droppedByInterface?: number; droppedByOs?: number } | null, beforePacket: Record<number, number> = {}) {
  const b = new PcapngBuilder().section();
  b.iface({ linkType: c.packets[0].frame.linkType });
  c.packets.forEach((p, i) => b.epb({ tsMicros: T0 + Math.round(p.t * 1e6), data: p.frame.bytes, droppedBefore: beforePacket[i + 1] }));
  if (statistics) b.isb(0, T0 + 10_000_000, statistics);
  return analyzeFile(writeTempCapture(b.finish(), name));
}

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

  describe("by the capturing tool's own count", () => {
    it('warns of the packets the tool dropped, though every byte acknowledged is in the file', () => {
      const { verdicts, capture } = withDropCounts(downloadConversation(20, 0), 'tool-drops.pcapng', { droppedByInterface: 1_200, droppedByOs: 34 });
      expect(capture.dropped).toEqual({ packets: 1_234, inStatistics: 1_234, beforePackets: 0, firstAfterLoss: 0, source: 'file', interfaces: 1, counted: 1, largerCapture: null });
      const v = verdicts.find((x) => x.code === 'capture-loss');
      expect(v).toMatchObject({ severity: 'warning', facts: { droppedPackets: 1_234, droppedInStatistics: 1_234, droppedBeforePackets: 0 } });
      expect(v?.facts).not.toHaveProperty('missedBytes');
      expect(v?.summary).toBe(
        "the capturing tool dropped 1,234 packets by its own count, against 45 kept: an answer, an ACK or a close the capture lacks may have crossed the network all the same, so verdicts that rest on one never seen (no-response, syn-timeout, half-open, half-closed, slow or stalled handshakes) may be the capture's loss, not the hosts'",
      );
    });

    it('says the missed bytes too, in one verdict', () => {
      const { verdicts } = withDropCounts(downloadConversation(20, 5), 'both.pcapng', { droppedByInterface: 10 });
      const all = verdicts.filter((x) => x.code === 'capture-loss');
      expect(all).toHaveLength(1);
      expect(all[0].facts).toMatchObject({ droppedPackets: 10, missedBytes: 5000, flows: 1, worstFlow: 1 });
      expect(all[0].summary).toMatch(/^the capturing tool dropped 10 packets by its own count, against 35 kept, and the capture missed 5,000 bytes the hosts acknowledged \(2\d\.\d% of the TCP stream bytes\) in 1 flow, most in flow 1 \(5,000 bytes\): an answer/);
    });

    it('names the first packet a packet block says came after lost packets', () => {
      const { verdicts } = withDropCounts(downloadConversation(20, 0), 'epb-drops.pcapng', null, { 9: 3, 30: 2 });
      expect(verdicts.find((x) => x.code === 'capture-loss')?.facts).toMatchObject({ droppedPackets: 5, droppedInStatistics: 0, droppedBeforePackets: 5, firstPacketAfterLoss: 9 });
    });

    it('is silent when the statistics count no drop, as when the file says nothing', () => {
      expect(withDropCounts(downloadConversation(20, 0), 'no-drops.pcapng', { droppedByInterface: 0, droppedByOs: 0 }).verdicts.some((x) => x.code === 'capture-loss')).toBe(false);
      expect(withDropCounts(downloadConversation(20, 0), 'no-stats.pcapng', null).verdicts.some((x) => x.code === 'capture-loss')).toBe(false);
    });
  });
});
