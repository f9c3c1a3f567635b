import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { arpFrame, fromTcpdumpHex, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('decodeSll and decodeSll2 (Linux cooked captures)', () => {
  it('decodes a real LINUX_SLL SYN', () => {
    // tcpdump/tcp-handshake-nano.pcap, packet 1:
    // 17:16:09.924505 IP 131.155.215.69.46656 > 137.116.81.94.80: Flags [S], seq 797190859, win 27200,
    //   options [mss 1360,sackOK,TS val 1131021154 ecr 0,nop,wscale 7], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  0004 0200 0000 0000 0000 0000 0000 0800  ................
	0x0010:  4500 003c 29a9 4000 4006 db5f 839b d745  E..<).@.@.._...E
	0x0020:  8974 515e b640 0050 2f84 2acb 0000 0000  .tQ^.@.P/.*.....
	0x0030:  a002 6a40 50c4 0000 0204 0550 0402 080a  ..j@P......P....
	0x0040:  436a 0362 0000 0000 0103 0307            Cj.b........`,
      LINKTYPE.LINUX_SLL,
    );
    const v = decode(frame);
    expect([v.kind, formatAddr(v.src, 4), v.srcPort, v.seq, v.mss, v.ipOff]).toEqual([DECODED.TCP, '131.155.215.69', 46656, 797190859, 1360, 16]);
  });

  it('decodes a real LINUX_SLL2 SYN', () => {
    // zeek/tls/openjdk-25.0.2-zeek.org.pcap, packet 1:
    // 08:52:08.835142 ifb0  Out IP 192.168.64.6.55058 > 192.0.78.150.443: Flags [S], seq 974184494,
    //   win 64240, options [mss 1460,sackOK,TS val 2621143545 ecr 0,nop,wscale 7], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  0800 0000 0000 0002 0001 0406 fa37 dc8d  .............7..
	0x0010:  afab 0000 4500 003c 7ba7 4000 4006 afcf  ....E..<{.@.@...
	0x0020:  c0a8 4006 c000 4e96 d712 01bb 3a10 e02e  ..@...N.....:...
	0x0030:  0000 0000 a002 faf0 3488 0000 0204 05b4  ........4.......
	0x0040:  0402 080a 9c3b 79f9 0000 0000 0103 0307  .....;y.........`,
      LINKTYPE.LINUX_SLL2,
    );
    const v = decode(frame);
    expect([v.kind, formatAddr(v.dst, 4), v.dstPort, v.seq, v.ipOff]).toEqual([DECODED.TCP, '192.0.78.150', 443, 974184494, 20]);
  });

  it.each(['sll', 'sll2'] as const)('%s carries IPv4, IPv6 and ARP', (link) => {
    expect(decode(tcpFrame({ link })).kind).toBe(DECODED.TCP);
    expect(decode(tcpFrame({ link, src: 'fe80::1', dst: 'fe80::2' })).ipVersion).toBe(6);
    expect(decode(arpFrame({ link })).kind).toBe(DECODED.ARP);
  });

  it.each([
    ['sll', 16],
    ['sll2', 20],
  ] as const)('%s is MALFORMED LINK_TRUNCATED below its %i-byte header', (link, headerLen) => {
    const v = decode(tcpFrame({ link }), { snap: headerLen - 1 });
    expect(v.malformedDetail).toBe(`the link-layer header is cut short (${headerLen - 1} of ${headerLen} bytes)`);
  });

  it('skips netlink messages captured on the "any" interface', () => {
    const frame = tcpFrame({ link: 'sll' });
    frame.bytes.set([0x03, 0x38], 2); // ARPHRD_NETLINK
    expect(decode(frame).skipReason).toBe('netlink');
  });
});
