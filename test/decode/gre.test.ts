import { describe, expect, it } from 'vitest';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED, TUNNEL } from '../../src/decode/view.js';
import { IP_PROTOCOL, concat, ipv4Packet, linkFrame, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

function overGre(greHeader: number[], inner: Uint8Array): Frame {
  return linkFrame(ipv4Packet(IP_PROTOCOL.GRE, concat(greHeader, inner), { src: '203.0.113.1', dst: '203.0.113.2' }));
}
const innerTcp = (src = '10.7.0.1', dst = '10.7.0.2') => tcpFrame({ link: 'raw', src, dst, sport: 2222, payload: 'in' }).bytes;

describe('decodeGre', () => {
  it('decodes IPv4 and IPv6 inside a basic GRE header', () => {
    const v = decode(overGre([0, 0, 0x08, 0x00], innerTcp()));
    expect([v.kind, formatAddr(v.src, 4), v.srcPort, v.payloadLen, v.tunnelKind]).toEqual([DECODED.TCP, '10.7.0.1', 2222, 2, TUNNEL.GRE]);
    expect(decode(overGre([0, 0, 0x86, 0xdd], innerTcp('fd00::7', 'fd00::8'))).ipVersion).toBe(6);
  });

  it('skips the optional checksum, key and sequence fields', () => {
    const v = decode(overGre([0xb0, 0, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7], innerTcp()));
    expect([v.kind, v.srcPort]).toEqual([DECODED.TCP, 2222]);
  });

  it('decodes a whole Ethernet frame inside GRE (transparent Ethernet bridging)', () => {
    const ethernet = tcpFrame({ src: '10.8.0.1', dst: '10.8.0.2', sport: 3333 }).bytes;
    const v = decode(overGre([0, 0, 0x65, 0x58], ethernet));
    expect([v.kind, v.srcPort, formatAddr(v.src, 4)]).toEqual([DECODED.TCP, 3333, '10.8.0.1']);
  });

  it('skips PPTP enhanced GRE (version 1) and unknown payloads', () => {
    expect(decode(overGre([0x30, 0x01, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1], new Uint8Array(4))).skipReason).toBe('gre-unsupported');
    expect(decode(overGre([0, 0, 0x88, 0xcc], new Uint8Array(4))).skipReason).toBe('gre-unsupported');
  });

  it('is MALFORMED GRE_TRUNCATED when the optional fields are cut', () => {
    // The key flag promises 4 more bytes that the IP packet does not have.
    const v = decode(overGre([0x20, 0, 0x08, 0x00, 0, 0], new Uint8Array(0)));
    expect([v.malformedCode, v.malformedDetail, v.malformedAt]).toEqual(['GRE_TRUNCATED', 'the GRE header is cut short (6 of 8 bytes)', 34]);
  });
});
