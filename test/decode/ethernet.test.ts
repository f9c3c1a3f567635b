import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { concat, fromTcpdumpHex, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('decodeEthernet', () => {
  it('decodes a real 802.1Q-tagged SYN with a vendor trailer after the IP packet', () => {
    // zeek/mixed-vlan-mpls.pcap: VLAN 4093, 60-byte IP packet followed by an F5 Ethernet trailer.
    // 14:53:22.069419 IP 10.20.80.1.50343 > 10.0.0.15.80: Flags [S], seq 4084526270, win 5760,
    //   options [mss 1440,sackOK,TS val 2995515157 ecr 0,nop,wscale 7], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  0010 f302 1c00 0001 d77e cc05 8100 0ffd  .........~......
	0x0010:  0800 4500 003c 02c5 4000 ff06 14d3 0a14  ..E..<..@.......
	0x0020:  5001 0a00 000f c4a7 0050 f374 ecbe 0000  P........P.t....
	0x0030:  0000 a002 1680 86a3 0000 0204 05a0 0402  ................
	0x0040:  080a b28b ef15 0000 0000 0103 0307 0114  ................
	0x0050:  0000 0001 0000 0000 0000 0000 0000 0000  ................
	0x0060:  0000 0000                                ....`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect([v.kind, formatAddr(v.src, 4), v.srcPort, v.seq, v.payloadLen]).toEqual([DECODED.TCP, '10.20.80.1', 50343, 4084526270, 0]);
    expect(v.ipOff).toBe(18);
  });

  it('decodes a real MPLS-labelled SYN (one label, bottom of stack)', () => {
    // zeek/mixed-vlan-mpls.pcap:
    // 18:49:06.874907 MPLS (label 29, tc 6, [S], ttl 255) IP 10.1.2.1.11001 > 10.34.0.1.23: Flags [S],
    //   seq 2553417723, win 4128, options [mss 536], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  0030 96e6 fc39 0030 9605 2838 8847 0001  .0...9.0..(8.G..
	0x0010:  ddff 45c0 002c 0000 0000 ff06 a4e7 0a01  ..E..,..........
	0x0020:  0201 0a22 0001 2af9 0017 9832 0ffb 0000  ..."..*....2....
	0x0030:  0000 6002 1020 a240 0000 0204 0218       ..\`....@......`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect([v.kind, formatAddr(v.dst, 4), v.dstPort, v.mss, v.ipOff]).toEqual([DECODED.TCP, '10.34.0.1', 23, 536, 18]);
  });

  it('decodes a real Cisco FabricPath frame (16-byte outer header, then an inner Ethernet frame)', () => {
    // zeek/cisco-fabric-path.pcap (eth:cfp:eth:ip:tcp):
    // 18:36:43.861732 IP 1.1.1.6.57005 > 2.2.2.2.48879: Flags [S], seq 0, win 8192, length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  15e9 fd9c 8100 424f cb82 ac6a 8903 0000  ......BO...j....
	0x0010:  9998 cf73 89eb 8290 70bf 47a7 0800 4500  ...s....p.G...E.
	0x0020:  0028 0001 0000 4006 74c5 0101 0106 0202  .(....@.t.......
	0x0030:  0202 dead beef 0000 0000 0000 0000 5002  ..............P.
	0x0040:  2000 ec3a 0000                           ...:..`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect([v.kind, formatAddr(v.src, 4), v.srcPort, v.dstPort, v.ipOff]).toEqual([DECODED.TCP, '1.1.1.6', 57005, 48879, 30]);
  });

  it.each([
    ['vlan', 18],
    ['qinq', 22],
    ['mpls', 22],
    ['fabricpath', 30],
  ] as const)('finds the IP header behind %s at offset %i', (link, ipOff) => {
    for (const src of ['10.0.0.1', 'fd00::1']) {
      const dst = src.includes(':') ? 'fd00::2' : '10.0.0.2';
      const v = decode(tcpFrame({ link, src, dst, payload: 'p' }));
      expect([v.kind, v.ipOff, v.payloadLen]).toEqual([DECODED.TCP, ipOff, 1]);
    }
  });

  it('skips other ethertypes with the ethertype in the reason, and 802.3 length frames as LLC', () => {
    const lldp = { bytes: concat([1, 0x80, 0xc2, 0, 0, 0x0e, 2, 0, 0, 0, 0, 1, 0x88, 0xcc], new Uint8Array(46)), linkType: LINKTYPE.ETHERNET };
    expect(decode(lldp).skipReason).toBe('ethertype-0x88cc');
    const stp = { bytes: concat([1, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x00, 0x26, 0x42, 0x42, 3], new Uint8Array(43)), linkType: LINKTYPE.ETHERNET };
    expect(decode(stp).skipReason).toBe('802.3-llc');
  });

  it('is MALFORMED LINK_TRUNCATED for a frame shorter than the Ethernet header', () => {
    const v = decode(tcpFrame(), { snap: 10 });
    expect([v.kind, v.malformedCode, v.malformedDetail]).toEqual([DECODED.MALFORMED, 'LINK_TRUNCATED', 'the link-layer header is cut short (10 of 14 bytes)']);
  });

  it('is MALFORMED VLAN_TRUNCATED and MPLS_TRUNCATED when a tag is cut off', () => {
    expect(decode(tcpFrame({ link: 'vlan' }), { snap: 16 }).malformedCode).toBe('VLAN_TRUNCATED');
    expect(decode(tcpFrame({ link: 'mpls' }), { snap: 16 }).malformedCode).toBe('MPLS_TRUNCATED');
  });

  it('gives up on an endless stack of VLAN tags with LINK_TOO_MANY_TAGS', () => {
    const tags = new Array(20).fill([0x81, 0x00, 0x00, 0x01]).flat();
    const frame = { bytes: concat([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], tags, new Uint8Array(40)), linkType: LINKTYPE.ETHERNET };
    expect(decode(frame).malformedCode).toBe('LINK_TOO_MANY_TAGS');
  });

  it('skips an MPLS payload that is neither IPv4 nor IPv6 (a pseudowire control word)', () => {
    const frame = { bytes: concat([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x47, 0, 1, 1, 64, 0, 0, 0, 0], new Uint8Array(40)), linkType: LINKTYPE.ETHERNET };
    expect(decode(frame).skipReason).toBe('mpls-payload');
  });
});
