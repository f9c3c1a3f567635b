import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED, TCP_FLAG, TUNNEL } from '../../src/decode/view.js';
import { IP_PROTOCOL, concat, fromTcpdumpHex, ipv4Packet, linkFrame, tcpFrame, toRecord, udpDatagram, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

const OUTER = { src: '198.51.100.1', dst: '198.51.100.2' } as const;

function overUdp(sport: number, dport: number, payload: Uint8Array): Frame {
  return linkFrame(ipv4Packet(IP_PROTOCOL.UDP, udpDatagram(OUTER.src, OUTER.dst, sport, dport, payload), OUTER));
}

/** GTPv1-U G-PDU: flags 0x30 (version 1, PT), type 0xff, length, TEID; `extra` bytes come before the inner packet. */
function gtpU(inner: Uint8Array, flags = 0x30, extra: number[] = [], messageType = 0xff): Uint8Array {
  const len = extra.length + inner.length;
  return concat([flags, messageType, len >>> 8, len & 0xff, 0, 0, 0x12, 0x34], extra, inner);
}

const innerV4 = () => tcpFrame({ link: 'raw', src: '10.131.17.170', dst: '173.199.115.168', sport: 51803, dport: 80, flags: 'S' }).bytes;
const innerV6 = () => tcpFrame({ link: 'raw', src: '2001:db8::a', dst: '2001:db8::b', sport: 1286, dport: 80, flags: 'S' }).bytes;

describe('GTP-U', () => {
  it('decodes a real GTP-U frame from the corpus (TCP SYN inside, UDP 5906 -> 2152)', () => {
    // zeek/tunnels/gtp/gtp2_different_udp_port.pcap, packet 1:
    // 13:14:10.321642 IP 167.55.105.244.5906 > 207.233.125.40.2152: UDP, length 60
    // (inside: 10.131.17.170.51803 > 173.199.115.168.80: Flags [S], mss 1460, wscale 2, sackOK)
    const frame = fromTcpdumpHex(
      `
	0x0000:  0000 0c07 ace8 88e0 f3c8 bff0 0800 4500  ..............E.
	0x0010:  0058 a5e2 0000 3f11 7775 a737 69f4 cfe9  .X....?.wu.7i...
	0x0020:  7d28 1712 0868 0044 35ae 30ff 0034 9e40  }(...h.D5.0..4.@
	0x0030:  ba4f 4500 0034 3531 4000 8006 87f6 0a83  .OE..451@.......
	0x0040:  11aa adc7 73a8 ca5b 0050 e8ef 281f 0000  ....s..[.P..(...
	0x0050:  0000 8002 2000 35bf 0000 0204 05b4 0103  ......5.........
	0x0060:  0302 0101 0402                           ......`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect([v.kind, v.tunnelKind, v.tunnelDepth]).toEqual([DECODED.TCP, TUNNEL.GTP_U, 1]);
    expect([formatAddr(v.src, 4), v.srcPort, formatAddr(v.dst, 4), v.dstPort]).toEqual(['10.131.17.170', 51803, '173.199.115.168', 80]);
    expect([v.flags, v.mss, v.wscale, v.ipOff]).toEqual([TCP_FLAG.SYN, 1460, 2, 50]);
  });

  it('decodes IPv4 and IPv6 inside a G-PDU on port 2152, in either direction', () => {
    expect(decode(overUdp(40000, 2152, gtpU(innerV4()))).srcPort).toBe(51803);
    const v = decode(overUdp(2152, 40000, gtpU(innerV6())));
    expect([v.kind, v.ipVersion, formatAddr(v.src, 6), v.tunnelKind]).toEqual([DECODED.TCP, 6, '2001:db8::a', TUNNEL.GTP_U]);
  });

  it('skips the sequence number, N-PDU number and extension headers', () => {
    // E flag: optional 4 bytes end with next-extension type 0x85 (PDU session container), one 4-byte extension, then none.
    const v = decode(overUdp(2152, 2152, gtpU(innerV4(), 0x34, [0, 0, 0, 0x85, 1, 0x10, 0x09, 0x00])));
    expect([v.kind, v.srcPort]).toEqual([DECODED.TCP, 51803]);
    expect(decode(overUdp(2152, 2152, gtpU(innerV4(), 0x32, [0x00, 0x07, 0, 0]))).kind).toBe(DECODED.TCP);
  });

  it('recognises a G-PDU on other ports by content when its length matches the datagram exactly', () => {
    expect(decode(overUdp(5906, 6000, gtpU(innerV4()))).tunnelKind).toBe(TUNNEL.GTP_U);
    const wrongLength = gtpU(innerV4());
    wrongLength[3] += 4;
    expect(decode(overUdp(5906, 6000, wrongLength)).skipReason).toBe('udp');
  });

  it('leaves GTP control messages and non-IP payloads as plain UDP', () => {
    expect(decode(overUdp(2152, 2152, gtpU(innerV4(), 0x30, [], 0x01))).skipReason).toBe('udp');
    expect(decode(overUdp(2152, 2152, gtpU(new Uint8Array([0x12, 0, 0, 0]))))).toMatchObject({ skipReason: 'udp' });
  });
});

describe('Teredo', () => {
  it('decodes a real Teredo frame on non-3544 ports (IPv6 TCP SYN inside)', () => {
    // zeek/tunnels/Teredo.pcap:
    // 15:51:01.312379 IP 192.168.2.16.3797 > 83.170.1.38.32900: UDP, length 64
    // (inside: 2001:0:4137:9e50:8000:f12a:b9c8:2815.1286 > 2001:4860:0:2001::68.80: Flags [S], mss 1220)
    const frame = fromTcpdumpHex(
      `
	0x0000:  001d 5adc cff1 0016 cf41 9c20 0800 4500  ..Z......A....E.
	0x0010:  005c 87de 0000 8011 9b2a c0a8 0210 53aa  .\\.......*....S.
	0x0020:  0126 0ed5 8084 0048 f201 6000 0000 0018  .&.....H..\`.....
	0x0030:  0680 2001 0000 4137 9e50 8000 f12a b9c8  ......A7.P...*..
	0x0040:  2815 2001 4860 0000 2001 0000 0000 0000  (...H\`..........
	0x0050:  0068 0506 0050 7c7b 6b46 0000 0000 6002  .h...P|{kF....\`.
	0x0060:  4000 90a2 0000 0204 04c4                 @.........`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect([v.kind, v.tunnelKind, v.ipVersion]).toEqual([DECODED.TCP, TUNNEL.TEREDO, 6]);
    expect([formatAddr(v.src, 6), v.srcPort, formatAddr(v.dst, 6), v.dstPort]).toEqual(['2001:0:4137:9e50:8000:f12a:b9c8:2815', 1286, '2001:4860:0:2001::68', 80]);
    expect([v.flags, v.mss]).toEqual([TCP_FLAG.SYN, 1220]);
  });

  it('skips the authentication and origin indications in front of the IPv6 packet', () => {
    const auth = [0, 1, 2, 3, 0xaa, 0xbb, 1, 2, 3, ...new Array(8).fill(9), 0];
    const origin = [0, 0, 0xf2, 0x3b, 0xbe, 0xad, 0xfd, 0xef];
    const v = decode(overUdp(3544, 50000, concat(auth, origin, innerV6())));
    expect([v.kind, v.tunnelKind, v.srcPort]).toEqual([DECODED.TCP, TUNNEL.TEREDO, 1286]);
    expect(decode(overUdp(50000, 3544, concat(origin, innerV6()))).kind).toBe(DECODED.TCP);
  });

  it('does not take UDP for Teredo when the IPv6 payload length does not match the datagram', () => {
    const bogus = innerV6();
    bogus[5] += 1;
    expect(decode(overUdp(3544, 50000, bogus)).skipReason).toBe('udp');
  });
});

describe('plain UDP', () => {
  it('is SKIPPED udp', () => {
    expect(decode(overUdp(123, 123, new Uint8Array([1, 2, 3, 4]))).skipReason).toBe('udp');
  });

  it('is DNS to or from port 53, with its payload located for the DNS log', () => {
    const v = decode(overUdp(40000, 53, new Uint8Array(20)));
    expect([v.kind, v.srcPort, v.dstPort, v.payloadOff, v.payloadLen, v.payloadCaptured]).toEqual([DECODED.DNS, 40000, 53, 14 + 20 + 8, 20, 20]);
    const cut = decode(overUdp(53, 40000, new Uint8Array(20)), { snap: 14 + 20 + 8 + 5 });
    expect([cut.kind, cut.payloadLen, cut.payloadCaptured]).toEqual([DECODED.DNS, 20, 5]);
  });

  it('is MALFORMED UDP_TRUNCATED when the 8-byte header is cut', () => {
    const v = decode(overUdp(53, 53, new Uint8Array(4)), { snap: 14 + 20 + 5 });
    expect([v.malformedCode, v.malformedDetail, v.malformedAt]).toEqual(['UDP_TRUNCATED', 'the UDP header is cut short (5 of 8 bytes)', 34]);
  });

  it('skips a tunnel nested deeper than the limit as tunnel-too-deep', () => {
    let packet = tcpFrame({ link: 'raw', src: '10.9.9.1', dst: '10.9.9.2' }).bytes;
    for (let i = 0; i < 5; i++) packet = ipv4Packet(IP_PROTOCOL.IPIP, packet, { src: `10.0.0.${i + 1}`, dst: '10.0.0.99' });
    expect(decode(linkFrame(packet)).skipReason).toBe('tunnel-too-deep');
  });
});
