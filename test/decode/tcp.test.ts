import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED, TCP_FLAG } from '../../src/decode/view.js';
import { fromTcpdumpHex, tcpFrame, toRecord, type Frame, type RecordOptions } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

describe('decodeTcp', () => {
  it('decodes a real SYN from the corpus (Ethernet, IPv4, MSS/wscale/SACK-permitted)', () => {
    // ppa/ppa3/tcp_handshake.pcapng, packet 1:
    // 19:38:34.341715 IP 172.16.16.128.2826 > 212.58.226.142.80: Flags [S], seq 3691127924, win 8192,
    //   options [mss 1460,nop,wscale 2,nop,nop,sackOK], length 0
    const frame = fromTcpdumpHex(
      `
	0x0000:  0005 5d21 994c 0021 6a5b 7d4a 0800 4500  ..]!.L.!j[}J..E.
	0x0010:  0034 317f 4000 8006 55eb ac10 1080 d43a  .41.@...U......:
	0x0020:  e28e 0b0a 0050 dc02 2474 0000 0000 8002  .....P..$t......
	0x0030:  2000 cfeb 0000 0204 05b4 0103 0302 0101  ................
	0x0040:  0402                                     ..`,
      LINKTYPE.ETHERNET,
    );
    const v = decode(frame);
    expect(v.kind).toBe(DECODED.TCP);
    expect([v.srcPort, v.dstPort, v.seq, v.ack]).toEqual([2826, 80, 3691127924, 0]);
    expect(v.flags).toBe(TCP_FLAG.SYN);
    expect(v.window).toBe(8192);
    expect([v.mss, v.wscale, v.sackPermitted, v.hasTimestamps]).toEqual([1460, 2, true, false]);
    expect([v.tcpOff, v.tcpHeaderLen, v.payloadOff, v.payloadLen, v.payloadCaptured]).toEqual([34, 32, 66, 0, 0]);
  });

  it('reads ports, seq, ack, flags, window and the payload span', () => {
    const rec = toRecord(tcpFrame({ sport: 443, dport: 50123, seq: 0xffff_fffe, ack: 7, flags: 'PA', window: 501, payload: 'hello' }));
    decoder.decode(rec);
    const v = decoder.view;
    expect(v.kind).toBe(DECODED.TCP);
    expect([v.srcPort, v.dstPort, v.seq, v.ack, v.window]).toEqual([443, 50123, 0xffff_fffe, 7, 501]);
    expect(v.flags).toBe(TCP_FLAG.PSH | TCP_FLAG.ACK);
    expect([v.payloadLen, v.payloadCaptured]).toEqual([5, 5]);
    expect(new TextDecoder().decode(rec.bytes.subarray(v.payloadOff, v.payloadOff + v.payloadLen))).toBe('hello');
  });

  it('decodes every option tcpwhy uses: MSS, window scale, SACK-permitted, timestamps', () => {
    const v = decode(tcpFrame({ flags: 'S', options: { mss: 1460, wscale: 7, sackPerm: true, ts: [0xdead_beef, 0] } }));
    expect([v.mss, v.wscale, v.sackPermitted]).toEqual([1460, 7, true]);
    expect([v.hasTimestamps, v.tsVal, v.tsEcr]).toEqual([true, 0xdead_beef, 0]);
    expect(v.tcpHeaderLen).toBe(40);
  });

  it('decodes up to four SACK blocks', () => {
    const blocks: Array<[number, number]> = [
      [0xffff_fff0, 0x10],
      [100, 200],
      [300, 400],
      [500, 600],
    ];
    const v = decode(tcpFrame({ options: { sack: blocks } }));
    expect(v.sackCount).toBe(4);
    expect([...v.sackBlocks]).toEqual(blocks.flat());
  });

  it('reads a TFO cookie request, a cookie in option 34 and one in the experimental option 254', () => {
    expect(decode(tcpFrame({ flags: 'S', options: { tfoCookie: [] } })).tfoCookieLen).toBe(0);
    expect(decode(tcpFrame({ flags: 'S', options: { tfoCookie: [1, 2, 3, 4, 5, 6, 7, 8] } })).tfoCookieLen).toBe(8);
    expect(decode(tcpFrame({ flags: 'S', options: { tfoExperimentalCookie: [1, 2, 3, 4, 5, 6, 7, 8] } })).tfoCookieLen).toBe(8);
    expect(decode(tcpFrame({ flags: 'S', options: { raw: [254, 6, 0x12, 0x34, 0, 0] } })).tfoCookieLen).toBe(-1);
  });

  it('reports absent options as -1 / false', () => {
    const v = decode(tcpFrame());
    expect([v.mss, v.wscale, v.sackPermitted, v.hasTimestamps, v.sackCount, v.tfoCookieLen]).toEqual([-1, -1, false, false, 0, -1]);
  });

  it('stops at an option whose length is below 2 and flags the options as bad, keeping the segment', () => {
    const v = decode(tcpFrame({ options: { mss: 1200, raw: [3, 1, 0, 0] } }));
    expect(v.kind).toBe(DECODED.TCP);
    expect(v.mss).toBe(1200);
    expect(v.tcpOptionsBad).toBe(true);
  });

  it('flags an option that runs past the data offset', () => {
    const v = decode(tcpFrame({ options: { raw: [2, 8, 5, 0xb4] } }));
    expect([v.kind, v.mss, v.tcpOptionsBad]).toEqual([DECODED.TCP, -1, true]);
  });

  it('is MALFORMED TCP_BAD_DATA_OFFSET with the numbers when the data offset is below 20', () => {
    const v = decode(tcpFrame({ dataOffset: 12 }));
    expect(v.kind).toBe(DECODED.MALFORMED);
    expect(v.malformedCode).toBe('TCP_BAD_DATA_OFFSET');
    expect(v.malformedDetail).toBe('the TCP header length field says 12 bytes, less than the 20 of the smallest header');
    expect(v.malformedAt).toBe(34);
  });

  it('is MALFORMED TCP_BAD_DATA_OFFSET when the data offset exceeds the segment the IP header claims', () => {
    const v = decode(tcpFrame({ dataOffset: 60, payload: 'abc' }));
    expect(v.malformedCode).toBe('TCP_BAD_DATA_OFFSET');
    expect(v.malformedDetail).toBe('the TCP header length field says 60 bytes, more than the 23 bytes of the segment');
  });

  it('is MALFORMED TCP_TRUNCATED only when the fixed 20 bytes were not captured', () => {
    const frame = tcpFrame({ payload: 'x'.repeat(100) });
    const v = decode(frame, { snap: 14 + 20 + 19 });
    expect(v.kind).toBe(DECODED.MALFORMED);
    expect(v.malformedCode).toBe('TCP_TRUNCATED');
    expect(v.malformedDetail).toBe('the TCP header is cut short (19 of 20 bytes)');
  });

  it('decodes the options that were captured when the snap length cuts them', () => {
    const frame = tcpFrame({ flags: 'S', options: { mss: 1460, sackPerm: true, ts: [5, 6], wscale: 7 } });
    // Keeps MSS (4) and SACK-permitted (2) plus half of the timestamps option.
    const v = decode(frame, { snap: 14 + 20 + 20 + 10 });
    expect(v.kind).toBe(DECODED.TCP);
    expect([v.mss, v.sackPermitted, v.hasTimestamps, v.wscale, v.tcpOptionsBad]).toEqual([1460, true, false, -1, false]);
    expect([v.payloadLen, v.payloadCaptured]).toEqual([0, 0]);
  });

  it('gives payloadCaptured < payloadLen for a packet cut by the snap length, without calling it malformed', () => {
    const v = decode(tcpFrame({ payload: 'y'.repeat(1000) }), { snap: 96 });
    expect(v.kind).toBe(DECODED.TCP);
    expect([v.payloadLen, v.payloadCaptured]).toEqual([1000, 96 - 54]);
  });

  it('decodes a header that sits at a non-zero offset of a shared buffer', () => {
    const v = decode(tcpFrame({ sport: 1234, payload: 'abc' }), { offset: 1000 });
    expect([v.kind, v.srcPort, v.payloadOff, v.payloadLen]).toEqual([DECODED.TCP, 1234, 1000 + 54, 3]);
  });
});
