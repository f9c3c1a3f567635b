import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { formatAddr } from '../../src/decode/addr.js';
import { NDP_TYPE } from '../../src/decode/ndp.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { fromTcpdumpHex, ndpFrame, toRecord, type Frame } from '../helpers/packets.js';

const decoder = new PacketDecoder();
function decode(frame: Frame) {
  decoder.decode(toRecord(frame));
  return decoder.view;
}

describe('decodeNdp', () => {
  it('decodes a real solicitation and its solicited advertisement', () => {
    // samples/ndp-unanswered.pcap #1 and #2 (Linux, veth):
    // IP6 fd31:96ff::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fd31:96ff::2
    const solicitation = decode(
      fromTcpdumpHex(
        `
	0x0000:  3333 ff00 0002 aa7e c7ee fbba 86dd 6000
	0x0010:  0000 0020 3aff fd31 96ff 0000 0000 0000
	0x0020:  0000 0000 0001 ff02 0000 0000 0000 0000
	0x0030:  0001 ff00 0002 8700 e30e 0000 0000 fd31
	0x0040:  96ff 0000 0000 0000 0000 0000 0002 0101
	0x0050:  aa7e c7ee fbba`,
        LINKTYPE.ETHERNET,
      ),
    );
    expect([solicitation.kind, solicitation.ndpType, formatAddr(solicitation.ndpTarget, 6), formatAddr(solicitation.src, 6)]).toEqual([DECODED.NDP, NDP_TYPE.SOLICITATION, 'fd31:96ff::2', 'fd31:96ff::1']);
    // IP6 fd31:96ff::2 > fd31:96ff::1: ICMP6, neighbor advertisement, tgt is fd31:96ff::2 (solicited, override)
    const advertisement = decode(
      fromTcpdumpHex(
        `
	0x0000:  aa7e c7ee fbba 0664 b75b 57cf 86dd 6000
	0x0010:  0000 0020 3aff fd31 96ff 0000 0000 0000
	0x0020:  0000 0000 0002 fd31 96ff 0000 0000 0000
	0x0030:  0000 0000 0001 8800 437b 6000 0000 fd31
	0x0040:  96ff 0000 0000 0000 0000 0000 0002 0201
	0x0050:  0664 b75b 57cf`,
        LINKTYPE.ETHERNET,
      ),
    );
    expect([advertisement.kind, advertisement.ndpType, advertisement.ndpSolicited, formatAddr(advertisement.ndpTarget, 6)]).toEqual([DECODED.NDP, NDP_TYPE.ADVERTISEMENT, true, 'fd31:96ff::2']);
  });

  it('reads the Solicited flag, clear in an announcement', () => {
    expect(decode(ndpFrame({ op: 'advertise', solicited: false })).ndpSolicited).toBe(false);
    expect(decode(ndpFrame({ op: 'advertise' })).ndpSolicited).toBe(true);
  });

  it('skips as icmpv6 a message with a hop limit other than 255 (not from the link, RFC 4861 7.1) or too short to hold the target', () => {
    expect(decode(ndpFrame({ op: 'solicit' })).kind).toBe(DECODED.NDP);
    expect(decode(ndpFrame({ op: 'solicit', hopLimit: 64 })).skipReason).toBe('icmpv6');
    const short = ndpFrame({ op: 'solicit' });
    const cut = { ...short, bytes: short.bytes.subarray(0, short.bytes.length - 4) };
    cut.bytes[14 + 4] = 0;
    cut.bytes[14 + 5] = 20; // IPv6 payload length: 20 bytes, 4 short of the target's end
    expect(decode(cut).skipReason).toBe('icmpv6');
  });
});
