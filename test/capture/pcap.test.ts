import { describe, expect, it } from 'vitest';
import { CaptureOpenError, LINKTYPE } from '../../src/capture/record.js';
import { encodePcap, type WriterPacket } from '../../src/capture/writer.js';
import { collectRecords, patternFrame } from '../helpers/capture.js';

const T0 = 1_700_000_000_123_456;
const packets: WriterPacket[] = [
  { tsMicros: T0, data: patternFrame(60, 1) },
  { tsMicros: T0 + 999_999, data: patternFrame(1514, 2) },
  { tsMicros: T0 + 1_000_000, data: patternFrame(54, 3), origLen: 1000 },
  { tsMicros: T0 + 3_600_000_001, data: patternFrame(0, 4) },
];

/** Overwrites a 32-bit field of an encoded capture (the header layout is fixed by the format). */
function patchU32(bytes: Uint8Array, offset: number, value: number, littleEndian = true): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(offset, value, littleEndian);
  return bytes;
}

/** File offset of the record header of packet `no` (1-based) in an encodePcap output. */
function recordOffset(list: WriterPacket[], no: number): number {
  let at = 24;
  for (let i = 0; i < no - 1; i++) at += 16 + list[i].data.length;
  return at;
}

describe('classic pcap', () => {
  it.each([
    ['little-endian microseconds', { bigEndian: false, nanos: false }, 'pcap'],
    ['big-endian microseconds', { bigEndian: true, nanos: false }, 'pcap'],
    ['little-endian nanoseconds', { bigEndian: false, nanos: true }, 'pcap-ns'],
    ['big-endian nanoseconds', { bigEndian: true, nanos: true }, 'pcap-ns'],
  ] as const)('round-trips %s through the writer', (_name, opts, format) => {
    const bytes = encodePcap(packets, { ...opts, linkType: LINKTYPE.LINUX_SLL, snaplen: 65535 });
    const { records, info } = collectRecords(bytes, 'rt.pcap');
    expect(info).toMatchObject({ file: 'rt.pcap', format, linkTypes: [LINKTYPE.LINUX_SLL], snaplen: 65535, packets: 4, truncatedPackets: 1, stoppedEarly: false, diagnostics: [] });
    expect(records.map((r) => r.no)).toEqual([1, 2, 3, 4]);
    expect(records.map((r) => r.tsMicros)).toEqual(packets.map((p) => p.tsMicros));
    expect(records.map((r) => r.data)).toEqual(packets.map((p) => p.data));
    expect(records.map((r) => r.origLen)).toEqual([60, 1514, 1000, 0]);
    expect(records.map((r) => r.caplen)).toEqual([60, 1514, 54, 0]);
    expect(records.map((r) => r.fileOffset)).toEqual([1, 2, 3, 4].map((n) => recordOffset(packets, n)));
    expect(records.every((r) => r.linkType === LINKTYPE.LINUX_SLL && r.interfaceId === 0)).toBe(true);
  });

  it.each([false, true])("reads Kuznetsov's modified pcap (magic a1b2cd34, 24-byte record headers), big-endian %s", (bigEndian) => {
    // The same records as a plain pcap, each header followed by ifindex, protocol, pkt_type and a pad byte.
    const plain = encodePcap(packets, { bigEndian, linkType: LINKTYPE.LINUX_SLL, snaplen: 65535 });
    const parts: number[] = [...plain.subarray(0, 24)];
    let at = 24;
    for (const p of packets) {
      parts.push(...plain.subarray(at, at + 16), 0, 0, 0, 2, 0x08, 0x00, 4, 0);
      parts.push(...plain.subarray(at + 16, at + 16 + p.data.length));
      at += 16 + p.data.length;
    }
    const bytes = Uint8Array.from(parts);
    bytes.set(bigEndian ? [0xa1, 0xb2, 0xcd, 0x34] : [0x34, 0xcd, 0xb2, 0xa1], 0);
    const { records, info } = collectRecords(bytes, 'mod.pcap');
    expect(info).toMatchObject({ format: 'pcap-modified', packets: 4, stoppedEarly: false, diagnostics: [] });
    expect(records.map((r) => r.tsMicros)).toEqual(packets.map((p) => p.tsMicros));
    expect(records.map((r) => r.data)).toEqual(packets.map((p) => p.data));
    expect(records.map((r) => r.fileOffset)).toEqual([24, 24 + 24 + 60, 24 + 2 * 24 + 60 + 1514, 24 + 3 * 24 + 60 + 1514 + 54]);
  });

  it('truncates nanosecond fractions to whole microseconds', () => {
    const bytes = encodePcap([{ tsMicros: 5_000_000, data: patternFrame(10, 1) }], { nanos: true });
    patchU32(bytes, 24 + 4, 123_456_789); // ts_frac of record 1
    expect(collectRecords(bytes).records[0].tsMicros).toBe(5_123_456);
  });

  it('takes the link type from the low 16 bits and ignores the FCS flags above them', () => {
    for (const bigEndian of [false, true]) {
      const bytes = encodePcap(packets, { bigEndian });
      // libpcap: LT_FCS_LENGTH_PRESENT is 0x04000000, LT_FCS_LENGTH the top 4 bits (here 4 bytes).
      patchU32(bytes, 20, 0x0400_0000 | (4 << 28) | LINKTYPE.ETHERNET, !bigEndian);
      const { records, info } = collectRecords(bytes);
      expect(info.linkTypes).toEqual([LINKTYPE.ETHERNET]);
      expect(records[0].linkType).toBe(LINKTYPE.ETHERNET);
    }
  });

  it('reads a file with only a header as zero packets and no diagnostics', () => {
    const { records, info } = collectRecords(encodePcap([]));
    expect(records).toEqual([]);
    expect(info).toMatchObject({ packets: 0, diagnostics: [], stoppedEarly: false, format: 'pcap' });
  });

  it('throws CAPTURE_TRUNCATED_HEADER when the file is shorter than its 24-byte header', () => {
    const bytes = encodePcap([]).subarray(0, 20);
    expect(() => collectRecords(bytes, 'short.pcap')).toThrow(CaptureOpenError);
    try {
      collectRecords(bytes, 'short.pcap');
    } catch (err) {
      expect((err as CaptureOpenError).code).toBe('CAPTURE_TRUNCATED_HEADER');
      expect((err as Error).message).toBe('short.pcap: too short for a pcap file: its header needs 24 bytes, the input has 20');
    }
  });

  it('stops at an absurd record length, keeping the packets before it', () => {
    const bytes = encodePcap(packets);
    const at = recordOffset(packets, 3);
    patchU32(bytes, at + 8, 0xffffffff);
    const { records, info } = collectRecords(bytes, 'capture.pcap');
    expect(records.map((r) => r.no)).toEqual([1, 2]);
    expect(info.stoppedEarly).toBe(true);
    expect(info.diagnostics).toEqual([
      {
        code: 'PCAP_RECORD_TOO_LONG',
        packet: 3,
        offset: at,
        message: `capture.pcap: packet 3 (file offset 0x${at.toString(16)}): a packet record claims 4294967295 bytes, more than the 262144 any capture tool writes, so the file is corrupt from here on and reading stopped`,
      },
    ]);
  });

  it('reports a last record cut short inside its data and keeps the complete ones', () => {
    const bytes = encodePcap(packets.slice(0, 3));
    const at = recordOffset(packets, 3);
    const { records, info } = collectRecords(bytes.subarray(0, at + 16 + 20), 'cut.pcap');
    expect(records.length).toBe(2);
    expect(info.packets).toBe(2);
    expect(info.stoppedEarly).toBe(true);
    expect(info.diagnostics.map((d) => [d.code, d.packet, d.offset])).toEqual([['PCAP_TRUNCATED_RECORD', 3, at]]);
    expect(info.diagnostics[0].message).toBe(`cut.pcap: packet 3 (file offset 0x${at.toString(16)}): the file ends inside this packet (36 of its 70 bytes), so it was cut short (copied while still being written, a full disk, a capture killed mid-write)`);
  });

  it('reports a last record cut short inside its header', () => {
    const bytes = encodePcap(packets.slice(0, 3));
    const at = recordOffset(packets, 3);
    const { info } = collectRecords(bytes.subarray(0, at + 5), 'cut.pcap');
    expect(info.packets).toBe(2);
    expect(info.diagnostics.map((d) => [d.code, d.packet, d.offset])).toEqual([['PCAP_TRUNCATED_RECORD', 3, at]]);
    expect(info.diagnostics[0].message).toContain("the file ends inside this packet's record header (5 of 16 bytes)");
  });

  it('delivers a record longer than the snap length, with a diagnostic, and reads on', () => {
    const bytes = encodePcap(packets, { snaplen: 100 });
    const { records, info } = collectRecords(bytes, 'snap.pcap');
    expect(records.length).toBe(4);
    expect(records[1].caplen).toBe(1514);
    expect(info.stoppedEarly).toBe(false);
    expect(info.diagnostics.map((d) => [d.code, d.packet, d.offset])).toEqual([['PCAP_CAPLEN_EXCEEDS_SNAPLEN', 2, recordOffset(packets, 2)]]);
    expect(info.diagnostics[0].message).toContain("the packet holds 1514 bytes, more than the file's snap length of 100 (read all the same)");
  });

  it('does not treat a zero or oversized snap length in the header as a limit', () => {
    for (const snaplen of [0, 0x7fffffff]) {
      expect(collectRecords(encodePcap(packets, { snaplen })).info.diagnostics).toEqual([]);
    }
  });

  it('delivers a record whose caplen exceeds its original length, with a diagnostic', () => {
    const list = [{ tsMicros: T0, data: patternFrame(60, 9), origLen: 40 }, ...packets];
    const { records, info } = collectRecords(encodePcap(list), 'orig.pcap');
    expect(records.length).toBe(5);
    expect(info.truncatedPackets).toBe(1);
    expect(info.diagnostics.map((d) => [d.code, d.packet, d.offset])).toEqual([['PCAP_CAPLEN_EXCEEDS_ORIGLEN', 1, 24]]);
    expect(info.diagnostics[0].message).toBe('orig.pcap: packet 1 (file offset 0x18): the packet holds 60 bytes, more than its length on the wire, 40 (read all the same)');
  });

  it('keeps the first 100 diagnostics of a file that repeats one problem and counts the rest', () => {
    const list = Array.from({ length: 150 }, (_, i) => ({ tsMicros: T0 + i, data: patternFrame(20, i), origLen: 10 }));
    const { records, info } = collectRecords(encodePcap(list));
    expect(records.length).toBe(150);
    expect(info.diagnostics.length).toBe(101);
    expect(info.diagnostics[100].code).toBe('CAPTURE_DIAGNOSTICS_SUPPRESSED');
    expect(info.diagnostics[100].message).toContain("50 more problems with the file's records not shown (the first 100 are)");
  });
});
