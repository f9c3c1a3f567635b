import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TCP_FLAG } from '../../src/decode/view.js';
import { FLOW_PACKET_KIND, readFlowPackets } from '../../src/diff/packets.js';
import { analyzeFile } from '../../src/pipeline.js';
import { toPcap, writeTempCapture } from '../helpers/capture.js';
import { conv } from '../helpers/conversation.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

describe('readFlowPackets', () => {
  it.each(['http-clean.pcap', 'nginx-ws-good.pcap', 'zero-window.pcap', 'lossy-transfer.pcap', 'refused.pcap'])(
    'finds exactly the packets the analysis counted for every flow of %s',
    (name) => {
      const file = sample(name);
      const result = analyzeFile(file);
      for (const flow of result.flows) {
        const { packets, dropped } = readFlowPackets(file, flow);
        expect(dropped).toBe(0);
        expect(packets.filter((p) => p.from === 0).length).toBe(flow.clientSide.packets);
        expect(packets.filter((p) => p.from === 1).length).toBe(flow.serverSide.packets);
        expect(packets[0].no).toBe(flow.firstPacket);
        expect(packets[packets.length - 1].no).toBe(flow.lastPacket);
      }
    },
  );

  it('keeps the flows of a reused 4-tuple apart (port-reuse: 40 connections over 4 tuples)', () => {
    const file = sample('port-reuse.pcap');
    const result = analyzeFile(file);
    expect(result.flows.length).toBe(40);
    const seen = new Set<number>();
    for (const flow of result.flows) {
      const { packets } = readFlowPackets(file, flow);
      expect(packets.length).toBe(flow.clientSide.packets + flow.serverSide.packets);
      // Each connection starts at its own SYN with relative sequence 0.
      expect(packets[0].flags & TCP_FLAG.SYN).toBeTruthy();
      expect(packets[0].relSeq).toBe(0);
      for (const p of packets) {
        expect(seen.has(p.no)).toBe(false);
        seen.add(p.no);
      }
    }
    expect(seen.size).toBe(result.capture.decoded);
  });

  it('numbers seq/ack from each side ISN across the 2^32 wrap, and scales the window after the handshake', () => {
    const c = conv({ clientIsn: 0xffff_fff0, serverIsn: 0xffff_ff00 })
      .handshake(0)
      .client('PA', 0.01, 'x'.repeat(40))
      .server('A', 0.011);
    const file = writeTempCapture(toPcap(c.packets.map((p) => ({ tsMicros: 1_700_000_000_000_000 + Math.round(p.t * 1e6), data: p.frame.bytes }))), 'wrap.pcap');
    const result = analyzeFile(file);
    const { packets } = readFlowPackets(file, result.flows[0]);
    expect(packets.map((p) => [p.relSeq, p.relAck])).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
      [1, 1],
      [1, 41],
    ]);
    expect(packets[0].window).toBe(65535); // SYN windows are never scaled
    expect(packets[2].window).toBe(65535 * 128); // wscale 7 on both sides
    expect(packets.every((p) => p.kind === FLOW_PACKET_KIND.TCP)).toBe(true);
  });
});
