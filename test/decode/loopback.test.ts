import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { fromTcpdumpHex, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('decodeNullLink (NULL and LOOP)', () => {
  it('decodes a real macOS loopback IPv6 SYN (DLT_NULL, family 30 little-endian)', () => {
    // zeek/http/connect-with-header.pcap, packet 1:
    // 20:56:17.727740 IP6 ::1.52522 > ::1.80: Flags [S], seq 1321751229, win 65535,
    //   options [mss 16324,nop,wscale 5,nop,nop,TS val 1236829829 ecr 0,sackOK,eol], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  1e00 0000 6000 d08d 002c 0640 0000 0000  ....\`....,.@....
	0x0010:  0000 0000 0000 0000 0000 0001 0000 0000  ................
	0x0020:  0000 0000 0000 0000 0000 0001 cd2a 0050  .............*.P
	0x0030:  4ec8 52bd 0000 0000 b002 ffff 0034 0000  N.R..........4..
	0x0040:  0204 3fc4 0103 0305 0101 080a 49b8 8685  ..?.........I...
	0x0050:  0000 0000 0402 0000                      ........`,
      LINKTYPE.NULL,
    );
    const v = decode(frame);
    expect([v.kind, formatAddr(v.src, 6), v.srcPort, v.dstPort, v.seq]).toEqual([DECODED.TCP, '::1', 52522, 80, 1321751229]);
    expect([v.mss, v.wscale, v.tsVal, v.sackPermitted]).toEqual([16324, 5, 1236829829, true]);
  });

  const families = [
    [2, '10.0.0.1', '10.0.0.2'],
    [10, '::1', '::1'],
    [24, '::1', '::1'],
    [28, '::1', '::1'],
    [30, '::1', '::1'],
  ] as const;

  it.each(families)('accepts address family %i in either byte order on NULL and on LOOP', (family, src, dst) => {
    for (const link of ['null', 'loop'] as const) {
      for (const addressFamilyBigEndian of [false, true]) {
        const frame = tcpFrame({ link, src, dst, addressFamily: family, addressFamilyBigEndian, sport: 4000 + family });
        if (link === 'loop' && !addressFamilyBigEndian) {
          // LOOP is always written big-endian by the builder; flip it by hand to cover the wrong-order case.
          frame.bytes.set([family, 0, 0, 0], 0);
        }
        const v = decode(frame);
        expect(v.kind).toBe(DECODED.TCP);
        expect([v.ipVersion, v.srcPort]).toEqual([src.includes(':') ? 6 : 4, 4000 + family]);
      }
    }
    expect(tcpFrame({ link: 'loop', src, dst }).linkType).toBe(LINKTYPE.LOOP);
  });

  it('skips other address families', () => {
    expect(decode(tcpFrame({ link: 'null', addressFamily: 7 })).skipReason).toBe('address-family');
  });

  it('is MALFORMED LINK_TRUNCATED when the 4-byte family is cut', () => {
    expect(decode(tcpFrame({ link: 'null' }), { snap: 3 }).malformedDetail).toBe('the link-layer header is cut short (3 of 4 bytes)');
  });
});

describe('raw IP link types', () => {
  it.each([LINKTYPE.RAW, LINKTYPE.RAW_ALT12, LINKTYPE.RAW_ALT14])('link type %i picks IPv4 or IPv6 from the version nibble', (linkType) => {
    for (const src of ['192.0.2.1', '2001:db8::1']) {
      const frame = tcpFrame({ link: 'raw', src, dst: src });
      const v = decode({ bytes: frame.bytes, linkType });
      expect([v.kind, v.ipVersion, v.ipOff]).toEqual([DECODED.TCP, src.includes(':') ? 6 : 4, 0]);
    }
  });

  it('decodes LINKTYPE_IPV4 and LINKTYPE_IPV6 without looking at the nibble first', () => {
    expect(decode(tcpFrame({ link: 'ipv4' })).kind).toBe(DECODED.TCP);
    expect(decode(tcpFrame({ link: 'ipv6', src: '::1', dst: '::1' })).kind).toBe(DECODED.TCP);
  });

  it('is MALFORMED IP_BAD_VERSION for a raw packet that is neither IPv4 nor IPv6', () => {
    const v = decode(tcpFrame({ link: 'raw', ipVersion: 7 }));
    expect([v.malformedCode, v.malformedDetail]).toEqual(['IP_BAD_VERSION', 'IP version 7 where 4 or 6 belongs']);
  });
});
