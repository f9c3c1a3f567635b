import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatIpv4 } from '../../src/decode/addr.js';
import { ARP_OP } from '../../src/decode/arp.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { arpFrame, fromTcpdumpHex, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('decodeArp', () => {
  it('decodes a real ARP request from the corpus', () => {
    // ppa/ppa3/nowebaccess1.pcapng:
    // 11:32:21.445645 ARP, Request who-has 172.16.0.10 tell 172.16.0.8, length 28
    const frame = fromTcpdumpHex(
      `
	0x0000:  ffff ffff ffff 0025 b3bf 91ee 0806 0001  .......%........
	0x0010:  0800 0604 0001 0025 b3bf 91ee ac10 0008  .......%........
	0x0020:  0000 0000 0000 ac10 000a                 ..........`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect(v.kind).toBe(DECODED.ARP);
    expect([v.arpOp, formatIpv4(v.arpSenderIp), formatIpv4(v.arpTargetIp)]).toEqual([ARP_OP.REQUEST, '172.16.0.8', '172.16.0.10']);
  });

  it('decodes requests and replies, also behind a VLAN tag', () => {
    const reply = decode(arpFrame({ op: 'reply', senderIp: '192.168.1.1', targetIp: '192.168.1.77', link: 'vlan' }));
    expect([reply.kind, reply.arpOp, formatIpv4(reply.arpSenderIp), formatIpv4(reply.arpTargetIp)]).toEqual([DECODED.ARP, ARP_OP.REPLY, '192.168.1.1', '192.168.1.77']);
  });

  it('skips ARP for other protocol or hardware types', () => {
    const frame = arpFrame();
    frame.bytes[14 + 2] = 0x86; // protocol type 0x86dd
    frame.bytes[14 + 3] = 0xdd;
    expect(decode(frame).skipReason).toBe('arp-not-ipv4');
  });

  it('is MALFORMED ARP_TRUNCATED when the 28 bytes are not all there', () => {
    const v = decode(arpFrame({ pad: false }), { snap: 14 + 20 });
    expect([v.malformedCode, v.malformedDetail]).toEqual(['ARP_TRUNCATED', 'the ARP packet is cut short (20 of 28 bytes)']);
  });
});
