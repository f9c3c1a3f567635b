import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { MALFORMED, MALFORMED_MESSAGE, numberedReason } from '../../src/decode/status.js';
import { DECODED, TUNNEL } from '../../src/decode/view.js';
import { arpFrame, icmpUnreachableFrame, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('PacketDecoder', () => {
  it('returns the kind it writes into its one reused view', () => {
    const d = new PacketDecoder();
    const view = d.view;
    expect(d.decode(toRecord(tcpFrame()))).toBe(DECODED.TCP);
    expect(d.decode(toRecord(arpFrame()))).toBe(DECODED.ARP);
    expect(d.view).toBe(view);
    expect(view.kind).toBe(DECODED.ARP);
  });

  it.each([
    ['ether', LINKTYPE.ETHERNET],
    ['vlan', LINKTYPE.ETHERNET],
    ['qinq', LINKTYPE.ETHERNET],
    ['null', LINKTYPE.NULL],
    ['loop', LINKTYPE.LOOP],
    ['raw', LINKTYPE.RAW],
    ['sll', LINKTYPE.LINUX_SLL],
    ['sll2', LINKTYPE.LINUX_SLL2],
    ['ipv4', LINKTYPE.IPV4],
  ] as const)('decodes the same segment identically over %s (link type %i)', (link, linkType) => {
    const frame = tcpFrame({ link, sport: 40001, dport: 8080, seq: 0xffff_ff00, ack: 99, flags: 'PA', payload: 'GET / HTTP/1.1\r\n\r\n', options: { ts: [7, 8] } });
    expect(frame.linkType).toBe(linkType);
    const v = decode(frame);
    expect([v.kind, v.srcPort, v.dstPort, v.seq, v.ack, v.payloadLen, v.tsVal, v.tsEcr]).toEqual([DECODED.TCP, 40001, 8080, 0xffff_ff00, 99, 18, 7, 8]);
  });

  it('skips unsupported link types with the number in the reason', () => {
    expect(decode({ bytes: new Uint8Array(64), linkType: 147 }).skipReason).toBe('link-type-147');
    expect(decode({ bytes: new Uint8Array(64), linkType: 127 }).skipReason).toBe('link-type-127');
  });

  it('resets every field between packets, so nothing leaks from the previous one', () => {
    const fresh = new PacketDecoder();
    fresh.decode(toRecord(icmpUnreachableFrame({ quoted: { flags: 'S' } })));
    fresh.decode(toRecord(tcpFrame({ flags: 'S', options: { mss: 1460, wscale: 7, sackPerm: true, ts: [1, 2], sack: [[1, 2]], tfoCookie: [1, 2] } })));
    fresh.decode(toRecord(tcpFrame({ ipOptions: [1, 2, 3, 0] }), { snap: 20 }));
    fresh.decode(toRecord(tcpFrame({ link: 'raw', flags: 'A' })));
    const reused = fresh.view;
    const clean = new PacketDecoder();
    clean.decode(toRecord(tcpFrame({ link: 'raw', flags: 'A' })));
    expect({ ...reused, src: [...reused.src], dst: [...reused.dst] }).toEqual({ ...clean.view, src: [...clean.view.src], dst: [...clean.view.dst] });
  });

  it('reports malformed offsets relative to the start of the packet, not of the buffer', () => {
    const v = decode(tcpFrame({ dataOffset: 8 }), { offset: 4096 });
    expect([v.malformedAt, v.malformedDetail]).toEqual([34, 'the TCP header length field says 8 bytes, less than the 20 of the smallest header']);
  });

  it('never reads past the record end: bytes after it in the shared buffer do not matter', () => {
    const frame = tcpFrame({ payload: 'abcdef', pad: false });
    const rec = toRecord(frame, { snap: frame.bytes.length - 3 });
    rec.bytes.fill(0xff, rec.end);
    decoder.decode(rec);
    expect([decoder.view.payloadLen, decoder.view.payloadCaptured]).toEqual([6, 3]);
  });

  it('reports no tunnel for plain packets', () => {
    const v = decode(tcpFrame());
    expect([v.tunnelDepth, v.tunnelKind]).toEqual([0, TUNNEL.NONE]);
  });

  it('has a message template for every malformed code', () => {
    for (const code of Object.values(MALFORMED)) expect(MALFORMED_MESSAGE[code](1, 2)).toMatch(/\d/);
  });

  it('builds numbered skip reasons once and reuses them', () => {
    expect(numberedReason('ethertype', 0x88cc)).toBe('ethertype-0x88cc');
    expect(numberedReason('ip-proto', 132)).toBe('ip-proto-132');
    expect(numberedReason('link-type', 147)).toBe(numberedReason('link-type', 147));
  });
});
