import { describe, expect, it } from 'vitest';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { formatAddr } from '../../src/decode/addr.js';
import { DECODED } from '../../src/decode/view.js';
import { IP_PROTOCOL, ipv4Packet, linkFrame, tcpFrame, tcpSegment, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('decodeIpv4', () => {
  it('fills addresses (word 3), TTL, id and DF', () => {
    const v = decode(tcpFrame({ src: '192.168.1.10', dst: '172.16.0.1', ttl: 17, ipId: 0xbeef, df: true }));
    expect(v.ipVersion).toBe(4);
    expect([...v.src]).toEqual([0, 0, 0, 0xc0a8010a]);
    expect(formatAddr(v.dst, 4)).toBe('172.16.0.1');
    expect([v.ttl, v.ipId, v.dontFragment, v.ipOff]).toEqual([17, 0xbeef, true, 14]);
  });

  it('skips header options using the header length', () => {
    const v = decode(tcpFrame({ ipOptions: [0x94, 0x04, 0, 0, 1, 1, 1, 0], sport: 4242, payload: 'abc' }));
    expect([v.kind, v.srcPort, v.tcpOff, v.payloadLen]).toEqual([DECODED.TCP, 4242, 14 + 28, 3]);
  });

  it('trims Ethernet padding and trailers to the total length, so they never count as payload', () => {
    // A bare ACK is 54 bytes; the builder pads it to 60 and we add a 4-byte trailer on top.
    const frame = tcpFrame({ flags: 'A', trailer: [0xde, 0xad, 0xbe, 0xef] });
    expect(frame.bytes.length).toBe(60);
    const v = decode(frame);
    expect([v.payloadLen, v.payloadCaptured]).toEqual([0, 0]);
  });

  it('uses the captured length when the total length is 0 (TSO on the sending host)', () => {
    const v = decode(tcpFrame({ ipLength: 0, payload: 'z'.repeat(3000), pad: false }));
    expect([v.kind, v.payloadLen, v.payloadCaptured]).toEqual([DECODED.TCP, 3000, 3000]);
  });

  it('uses the original length when the total length is 0 and the snap length cut the packet', () => {
    const v = decode(tcpFrame({ ipLength: 0, payload: 'z'.repeat(3000), pad: false }), { snap: 100 });
    expect([v.payloadLen, v.payloadCaptured]).toEqual([3000, 100 - 54]);
  });

  it('skips fragments as ip-fragment: a first fragment, a middle one and the last one', () => {
    for (const o of [{ mf: true }, { mf: true, fragOffset: 1480 }, { fragOffset: 2960 }]) {
      const v = decode(tcpFrame({ ...o, payload: 'f' }));
      expect([v.kind, v.skipReason]).toEqual([DECODED.SKIPPED, 'ip-fragment']);
      expect(v.ipVersion).toBe(4);
    }
  });

  it('is MALFORMED IPV4_BAD_HEADER_LENGTH when the header length is below 20', () => {
    const v = decode(tcpFrame({ ipHeaderLength: 16 }));
    expect([v.kind, v.malformedCode, v.malformedDetail, v.malformedAt]).toEqual([DECODED.MALFORMED, 'IPV4_BAD_HEADER_LENGTH', 'the IPv4 header length field says 16 bytes, less than the 20 of the smallest header', 14]);
  });

  it('is MALFORMED IPV4_BAD_TOTAL_LENGTH when the total length is shorter than the header', () => {
    const v = decode(tcpFrame({ ipLength: 12 }));
    expect([v.malformedCode, v.malformedDetail]).toEqual(['IPV4_BAD_TOTAL_LENGTH', 'the IPv4 total length field says 12 bytes, less than its own 20-byte header']);
  });

  it('is MALFORMED IPV4_TRUNCATED when the header was not captured, and when its options were cut', () => {
    expect(decode(tcpFrame(), { snap: 14 + 10 }).malformedDetail).toBe('the IPv4 header is cut short (10 of 20 bytes)');
    const withOptions = tcpFrame({ ipOptions: new Array(20).fill(1) });
    expect(decode(withOptions, { snap: 14 + 30 }).malformedDetail).toBe('the IPv4 header is cut short (30 of 40 bytes)');
  });

  it('is MALFORMED IP_BAD_VERSION when an IPv4 ethertype carries another version', () => {
    const v = decode(tcpFrame({ ipVersion: 5 }));
    expect([v.malformedCode, v.malformedDetail]).toEqual(['IP_BAD_VERSION', 'IP version 5 where 4 belongs']);
  });

  it('skips protocols tcpwhy does not analyse with their number', () => {
    const sctp = linkFrame(ipv4Packet(132, new Uint8Array(12)));
    expect(decode(sctp).skipReason).toBe('ip-proto-132');
    const udp = linkFrame(ipv4Packet(IP_PROTOCOL.UDP, new Uint8Array([0, 123, 0, 123, 0, 8, 0, 0])));
    expect(decode(udp).skipReason).toBe('udp');
  });

  it('decodes TCP inside IP-in-IP (protocol 4) and reports the tunnel', () => {
    const inner = ipv4Packet(IP_PROTOCOL.TCP, tcpSegment({ src: '10.1.1.1', dst: '10.2.2.2', sport: 7 }), { src: '10.1.1.1', dst: '10.2.2.2' });
    const v = decode(linkFrame(ipv4Packet(IP_PROTOCOL.IPIP, inner, { src: '192.0.2.1', dst: '192.0.2.2' })));
    expect([v.kind, v.srcPort, formatAddr(v.src, 4), v.tunnelDepth]).toEqual([DECODED.TCP, 7, '10.1.1.1', 1]);
  });
});
