import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED, TCP_FLAG } from '../../src/decode/view.js';
import { IP_PROTOCOL, fromTcpdumpHex, ipv6Packet, linkFrame, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}
const V6 = { src: '2001:db8::1', dst: '2001:db8::2' } as const;

describe('decodeIpv6', () => {
  it('decodes a real IPv6 SYN from the corpus', () => {
    // ppa/ppa3/http_ip4and6.pcapng:
    // 17:58:16.399450 IP6 2001:db8:1:2::1002.35023 > 2001:db8:1:2::1000.80: Flags [S], seq 3425944284,
    //   win 28800, options [mss 1440,sackOK,TS val 418281 ecr 0,nop,wscale 7], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  000c 291f a755 000c 29d3 46dd 86dd 6000  ..)..U..).F...\`.
	0x0010:  0000 0028 0640 2001 0db8 0001 0002 0000  ...(.@..........
	0x0020:  0000 0000 1002 2001 0db8 0001 0002 0000  ................
	0x0030:  0000 0000 1000 88cf 0050 cc33 c2dc 0000  .........P.3....
	0x0040:  0000 a002 7080 e1fa 0000 0204 05a0 0402  ....p...........
	0x0050:  080a 0006 61e9 0000 0000 0103 0307       ....a.........`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect(v.kind).toBe(DECODED.TCP);
    expect([formatAddr(v.src, 6), formatAddr(v.dst, 6)]).toEqual(['2001:db8:1:2::1002', '2001:db8:1:2::1000']);
    expect([v.srcPort, v.dstPort, v.seq, v.flags, v.ttl]).toEqual([35023, 80, 3425944284, TCP_FLAG.SYN, 64]);
    expect([v.mss, v.wscale, v.sackPermitted, v.tsVal]).toEqual([1440, 7, true, 418281]);
  });

  it('fills the four address words and the hop limit', () => {
    const v = decode(tcpFrame({ ...V6, ttl: 3 }));
    expect([v.ipVersion, v.ttl, v.ipOff]).toEqual([6, 3, 14]);
    expect([...v.src]).toEqual([0x20010db8, 0, 0, 1]);
  });

  it('walks hop-by-hop, routing, destination options and AH headers to TCP', () => {
    const v = decode(
      tcpFrame({
        ...V6,
        sport: 999,
        payload: 'data',
        ipv6Ext: [{ type: 'hop-by-hop' }, { type: 'routing', length: 24 }, { type: 'ah' }, { type: 'destination', length: 16 }],
      }),
    );
    expect([v.kind, v.srcPort, v.tcpOff, v.payloadLen]).toEqual([DECODED.TCP, 999, 14 + 40 + 8 + 24 + 24 + 16, 4]);
  });

  it('accepts an atomic fragment header (offset 0, no more fragments)', () => {
    const v = decode(tcpFrame({ ...V6, ipv6Ext: [{ type: 'fragment' }] }));
    expect(v.kind).toBe(DECODED.TCP);
  });

  it('skips real fragments as ip-fragment', () => {
    expect(decode(tcpFrame({ ...V6, ipv6Ext: [{ type: 'fragment', more: true }] })).skipReason).toBe('ip-fragment');
    expect(decode(tcpFrame({ ...V6, ipv6Ext: [{ type: 'fragment', offset: 1448 }] })).skipReason).toBe('ip-fragment');
  });

  it('skips ESP and "no next header" packets with their reasons', () => {
    expect(decode(linkFrame(ipv6Packet(50, new Uint8Array(16), V6))).skipReason).toBe('ipsec-esp');
    expect(decode(linkFrame(ipv6Packet(59, new Uint8Array(0), V6))).skipReason).toBe('ipv6-no-next-header');
  });

  it('uses the captured length when the payload length is 0 (jumbogram or TSO)', () => {
    const v = decode(tcpFrame({ ...V6, ipLength: 0, payload: 'j'.repeat(1200) }));
    expect([v.kind, v.payloadLen]).toEqual([DECODED.TCP, 1200]);
  });

  it('is MALFORMED IPV6_TRUNCATED when the fixed header was not captured', () => {
    const v = decode(tcpFrame(V6), { snap: 14 + 39 });
    expect([v.malformedCode, v.malformedDetail, v.malformedAt]).toEqual(['IPV6_TRUNCATED', 'the IPv6 header is cut short (39 of 40 bytes)', 14]);
  });

  it('is MALFORMED IPV6_EXT_TRUNCATED when an extension header runs past the packet', () => {
    const v = decode(tcpFrame({ ...V6, ipv6Ext: [{ type: 'hop-by-hop', length: 32 }] }), { snap: 14 + 40 + 16 });
    expect([v.malformedCode, v.malformedDetail, v.malformedAt]).toEqual(['IPV6_EXT_TRUNCATED', 'an IPv6 extension header is cut short (16 of 32 bytes)', 54]);
  });

  it('decodes IPv4 inside IPv6 (protocol 4) as a tunnel', () => {
    const inner = tcpFrame({ src: '10.0.0.9', dst: '10.0.0.8', link: 'raw' }).bytes;
    const v = decode(linkFrame(ipv6Packet(IP_PROTOCOL.IPIP, inner, V6)));
    expect([v.kind, v.ipVersion, formatAddr(v.src, 4), v.tunnelDepth]).toEqual([DECODED.TCP, 4, '10.0.0.9', 1]);
  });
});
