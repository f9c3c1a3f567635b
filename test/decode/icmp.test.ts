import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { IP_PROTOCOL, fromTcpdumpHex, icmpErrorFrame, icmpUnreachableFrame, ipPacket, linkFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

const SYN = { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 443, seq: 0xfffffff0, flags: 'S' } as const;
const SYN6 = { src: '2001:db8::1', dst: '2001:db8::2', sport: 51000, dport: 443, seq: 12345, flags: 'S' } as const;

describe('decodeIcmpError', () => {
  it('decodes a real ICMP host unreachable for a SYN (captured on lo, iptables REJECT icmp-host-unreachable)', () => {
    // 07:32:30.446482 IP 127.0.0.1 > 127.0.0.1: ICMP host 127.0.0.1 unreachable, length 68
    // quoting: IP 127.0.0.1.58716 > 127.0.0.1.9: Flags [S], seq 2484067237
    const frame = fromTcpdumpHex(
      `
	0x0000:  0000 0000 0000 0000 0000 0000 0800 45c0  ..............E.
	0x0010:  0058 0f68 0000 4001 6c7b 7f00 0001 7f00  .X.h..@.l{......
	0x0020:  0001 0301 1db8 0000 0000 4500 003c 1048  ..........E..<.H
	0x0030:  4000 4006 2c72 7f00 0001 7f00 0001 e55c  @.@.,r.........\\
	0x0040:  0009 940f dba5 0000 0000 a002 ffd7 fe30  ...............0
	0x0050:  0000 0204 ffd7 0402 080a 0851 d1d9 0000  ...........Q....
	0x0060:  0000 0103 030a                           ......`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect(v.kind).toBe(DECODED.ICMP_ERROR);
    expect([v.icmpType, v.icmpCode, v.quotedIpVersion]).toEqual([3, 1, 4]);
    expect([formatAddr(v.quotedSrc, 4), v.quotedSrcPort, formatAddr(v.quotedDst, 4), v.quotedDstPort, v.quotedSeq]).toEqual(['127.0.0.1', 58716, '127.0.0.1', 9, 2484067237]);
  });

  it('decodes a real ICMPv6 administratively prohibited for a SYN (captured on lo, ip6tables REJECT)', () => {
    // 07:32:30.446811 IP6 ::1 > ::1: ICMP6, destination unreachable, unreachable prohibited ::1, length 88
    // quoting: IP6 ::1.40898 > ::1.9: Flags [S], seq 3376980843
    const frame = fromTcpdumpHex(
      `
	0x0000:  0000 0000 0000 0000 0000 0000 86dd 600c  ..............\`.
	0x0010:  b31c 0058 3a40 0000 0000 0000 0000 0000  ...X:@..........
	0x0020:  0000 0000 0001 0000 0000 0000 0000 0000  ................
	0x0030:  0000 0000 0001 0101 cee4 0000 0000 6007  ..............\`.
	0x0040:  dc33 0028 0640 0000 0000 0000 0000 0000  .3.(.@..........
	0x0050:  0000 0000 0001 0000 0000 0000 0000 0000  ................
	0x0060:  0000 0000 0001 9fc2 0009 c948 a36b 0000  ...........H.k..
	0x0070:  0000 a002 ffc4 0030 0000 0204 ffc4 0402  .......0........
	0x0080:  080a 9012 9e74 0000 0000 0103 030a       .....t........`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect(v.kind).toBe(DECODED.ICMP_ERROR);
    expect([v.icmpType, v.icmpCode, v.quotedIpVersion, v.ipVersion]).toEqual([1, 1, 6, 6]);
    expect([formatAddr(v.quotedSrc, 6), v.quotedSrcPort, v.quotedDstPort, v.quotedSeq]).toEqual(['::1', 40898, 9, 3376980843]);
  });

  it('ties an ICMP error to the flow it quotes, with the outer addresses of the reporting router', () => {
    const v = decode(icmpUnreachableFrame({ quoted: SYN, from: '192.0.2.254', code: 13 }));
    expect([v.kind, v.icmpType, v.icmpCode]).toEqual([DECODED.ICMP_ERROR, 3, 13]);
    expect([formatAddr(v.src, 4), formatAddr(v.dst, 4)]).toEqual(['192.0.2.254', '10.0.0.1']);
    expect([formatAddr(v.quotedSrc, 4), v.quotedSrcPort, formatAddr(v.quotedDst, 4), v.quotedDstPort, v.quotedSeq]).toEqual(['10.0.0.1', 51000, '10.0.0.2', 443, 0xfffffff0]);
  });

  it('decodes time exceeded for IPv4 and both ICMPv6 error types', () => {
    expect(decode(icmpErrorFrame({ quoted: SYN, type: 11, code: 0 })).icmpType).toBe(11);
    const unreachable6 = decode(icmpUnreachableFrame({ quoted: SYN6, code: 4 }));
    expect([unreachable6.kind, unreachable6.icmpType, unreachable6.icmpCode, unreachable6.quotedSeq]).toEqual([DECODED.ICMP_ERROR, 1, 4, 12345]);
    expect(decode(icmpErrorFrame({ quoted: SYN6, type: 3, code: 0 })).kind).toBe(DECODED.ICMP_ERROR);
  });

  it('finds the quoted TCP header behind IPv4 options', () => {
    const v = decode(icmpUnreachableFrame({ quoted: { ...SYN, ipOptions: [1, 1, 1, 0] } }));
    expect([v.kind, v.quotedDstPort]).toEqual([DECODED.ICMP_ERROR, 443]);
  });

  it('skips an ICMP error quoting UDP as icmp / icmpv6', () => {
    expect(decode(icmpErrorFrame({ quoted: SYN, quotedProtocol: IP_PROTOCOL.UDP })).skipReason).toBe('icmp');
    expect(decode(icmpErrorFrame({ quoted: SYN6, quotedProtocol: IP_PROTOCOL.UDP })).skipReason).toBe('icmpv6');
  });

  it('skips ICMP that is not an error (echo request) as icmp / icmpv6', () => {
    expect(decode(linkFrame(ipPacket(IP_PROTOCOL.ICMP, new Uint8Array([8, 0, 0, 0, 0, 1, 0, 1])))).skipReason).toBe('icmp');
    expect(decode(linkFrame(ipPacket(IP_PROTOCOL.ICMPV6, new Uint8Array([128, 0, 0, 0, 0, 1, 0, 1]), { src: '::1', dst: '::1' }))).skipReason).toBe('icmpv6');
  });

  it('is MALFORMED ICMP_QUOTE_TRUNCATED when fewer than 8 TCP bytes are quoted', () => {
    const v = decode(icmpUnreachableFrame({ quoted: SYN, quoteTransportBytes: 4 }));
    expect([v.kind, v.malformedCode, v.malformedDetail]).toEqual([DECODED.MALFORMED, 'ICMP_QUOTE_TRUNCATED', 'the ICMP error quotes 4 bytes of the packet it is about, too few to name its connection (8 needed)']);
  });

  it('is MALFORMED ICMP_TRUNCATED when the ICMP header itself is cut', () => {
    const v = decode(icmpUnreachableFrame({ quoted: SYN }), { snap: 14 + 20 + 6 });
    expect([v.malformedCode, v.malformedDetail, v.malformedAt]).toEqual(['ICMP_TRUNCATED', 'the ICMP header is cut short (6 of 8 bytes)', 34]);
  });
});
