import { describe, expect, it } from 'vitest';
import { CaptureOpenError, LINKTYPE } from '../../src/capture/record.js';
import { encodePcapng, PcapngBuilder, type WriterPacket } from '../../src/capture/writer.js';
import { collectRecords, patternFrame } from '../helpers/capture.js';

const T0 = 1_700_000_000_123_456;

function patchU32(bytes: Uint8Array, offset: number, value: number, littleEndian = true): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(offset, value, littleEndian);
  return bytes;
}

function codes(info: { diagnostics: { code: string; packet: number; offset: number }[] }) {
  return info.diagnostics.map((d) => [d.code, d.packet, d.offset]);
}

describe('pcapng', () => {
  const packets: WriterPacket[] = [
    { tsMicros: T0, data: patternFrame(60, 1) },
    { tsMicros: T0 + 1, data: patternFrame(61, 2) },
    { tsMicros: T0 + 2_000_000, data: patternFrame(62, 3), origLen: 1500 },
    { tsMicros: T0 + 2_000_003, data: patternFrame(63, 4) },
  ];

  it.each([false, true])('round-trips one interface (bigEndian=%s)', (bigEndian) => {
    const bytes = encodePcapng(packets, { bigEndian, interfaces: [{ linkType: LINKTYPE.RAW, snaplen: 2000 }] });
    const { records, info } = collectRecords(bytes, 'rt.pcapng');
    expect(info).toMatchObject({ format: 'pcapng', linkTypes: [LINKTYPE.RAW], snaplen: 2000, packets: 4, truncatedPackets: 1, diagnostics: [], stoppedEarly: false });
    expect(records.map((r) => r.tsMicros)).toEqual(packets.map((p) => p.tsMicros));
    expect(records.map((r) => r.data)).toEqual(packets.map((p) => p.data));
    expect(records.map((r) => r.origLen)).toEqual([60, 61, 1500, 63]);
    expect(records.every((r) => r.linkType === LINKTYPE.RAW)).toBe(true);
  });

  it('gives each packet the link type of its own interface', () => {
    const bytes = encodePcapng(
      [
        { tsMicros: T0, data: patternFrame(40, 1), interfaceId: 2 },
        { tsMicros: T0 + 1, data: patternFrame(41, 2), interfaceId: 0 },
        { tsMicros: T0 + 2, data: patternFrame(42, 3), interfaceId: 1 },
      ],
      { interfaces: [{ linkType: LINKTYPE.ETHERNET, snaplen: 9000 }, { linkType: LINKTYPE.LINUX_SLL }, { linkType: LINKTYPE.RAW }] },
    );
    const { records, info } = collectRecords(bytes);
    expect(info.linkTypes).toEqual([LINKTYPE.ETHERNET, LINKTYPE.LINUX_SLL, LINKTYPE.RAW]);
    expect(info.snaplen).toBe(9000);
    expect(records.map((r) => [r.interfaceId, r.linkType])).toEqual([
      [2, LINKTYPE.RAW],
      [0, LINKTYPE.ETHERNET],
      [1, LINKTYPE.LINUX_SLL],
    ]);
  });

  it.each([
    ['nanoseconds (10^-9)', 9],
    ['milliseconds never losing whole ms (10^-3)', 3],
    ['2^-20 seconds', 0x80 | 20],
    ['2^-32 seconds', 0x80 | 32],
    ['10^-12 seconds (2023 fits in 64 bits only with a tsoffset)', 12],
  ])('converts timestamps in %s to microseconds', (_name, tsresol) => {
    const ts = tsresol === 3 ? [T0 - 456, T0 + 999_544] : [T0, T0 + 1, T0 + 999_999];
    const tsoffset = tsresol === 12 ? 1_699_990_000 : undefined;
    const bytes = encodePcapng(ts.map((t, i) => ({ tsMicros: t, data: patternFrame(20, i) })), { interfaces: [{ linkType: 1, tsresol, tsoffset }] });
    expect(collectRecords(bytes).records.map((r) => r.tsMicros)).toEqual(ts);
  });

  it('adds if_tsoffset seconds to every timestamp, per interface', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: 1, tsoffset: 1_600_000_000, tsresol: 9 });
    b.iface({ linkType: 1 });
    b.epb({ tsMicros: T0, data: patternFrame(20, 1), interfaceId: 0 });
    b.epb({ tsMicros: T0 + 5, data: patternFrame(20, 2), interfaceId: 1 });
    const bytes = b.finish();
    expect(collectRecords(bytes).records.map((r) => r.tsMicros)).toEqual([T0, T0 + 5]);
  });

  it('cuts simple packet blocks to the original length, the snap length and the block', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET, snaplen: 64 });
    b.epb({ tsMicros: T0, data: patternFrame(30, 1) });
    b.spb(patternFrame(100, 2), 100); // snaplen wins: 64
    b.spb(patternFrame(48, 3), 46); // origLen wins: 46 (the 2 extra bytes are padding)
    b.spb(patternFrame(40, 4), 1500); // the block wins: 40
    const { records, info } = collectRecords(b.finish());
    expect(records.map((r) => [r.caplen, r.origLen])).toEqual([[30, 30], [64, 100], [46, 46], [40, 1500]]);
    expect(records[1].data).toEqual(patternFrame(100, 2).subarray(0, 64));
    // SPBs carry no timestamp: they keep the previous packet's.
    expect(records.map((r) => r.tsMicros)).toEqual([T0, T0, T0, T0]);
    expect(info.truncatedPackets).toBe(2);
    expect(info.diagnostics).toEqual([]);
  });

  it('reads obsolete packet blocks like enhanced ones', () => {
    const b = new PcapngBuilder().section({ bigEndian: true });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.NULL, tsresol: 9 });
    b.opb({ tsMicros: T0, data: patternFrame(33, 1), interfaceId: 1, origLen: 99 });
    b.epb({ tsMicros: T0 + 7, data: patternFrame(34, 2) });
    const { records } = collectRecords(b.finish());
    expect(records.map((r) => [r.tsMicros, r.linkType, r.caplen, r.origLen])).toEqual([
      [T0, LINKTYPE.NULL, 33, 99],
      [T0 + 7, LINKTYPE.ETHERNET, 34, 34],
    ]);
  });

  it('skips name resolution, statistics, decryption secrets, custom and unknown blocks', () => {
    const plain = new PcapngBuilder().section();
    const busy = new PcapngBuilder().section();
    busy.nrb([127, 0, 0, 1], 'localhost');
    for (const b of [plain, busy]) b.iface({ linkType: 1 });
    packets.forEach((p, i) => {
      plain.epb(p);
      busy.epb(p);
      if (i === 0) busy.isb(0, p.tsMicros);
      if (i === 1) busy.block(0x0a, patternFrame(13, 5)); // DSB
      if (i === 2) busy.block(0x0bad, patternFrame(8, 6)).block(0x7777, new Uint8Array(0));
    });
    const a = collectRecords(plain.finish());
    const b = collectRecords(busy.finish());
    expect(b.info.diagnostics).toEqual([]);
    expect(b.records.map(({ fileOffset: _o, ...r }) => r)).toEqual(a.records.map(({ fileOffset: _o, ...r }) => r));
  });

  it('starts a fresh interface list, and byte order, with every section', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.RAW });
    b.epb({ tsMicros: T0, data: patternFrame(20, 1), interfaceId: 1 });
    b.section({ bigEndian: true });
    b.iface({ linkType: LINKTYPE.LINUX_SLL2, tsresol: 9 });
    b.epb({ tsMicros: T0 + 1, data: patternFrame(21, 2), interfaceId: 0 });
    const unknownAt = b.length;
    b.epb({ tsMicros: T0 + 2, data: patternFrame(22, 3), interfaceId: 1 }); // only existed in section 1
    b.epb({ tsMicros: T0 + 3, data: patternFrame(23, 4), interfaceId: 0 });
    const { records, info } = collectRecords(b.finish(), 'sections.pcapng');
    expect(records.map((r) => [r.no, r.tsMicros, r.linkType])).toEqual([
      [1, T0, LINKTYPE.RAW],
      [2, T0 + 1, LINKTYPE.LINUX_SLL2],
      [3, T0 + 3, LINKTYPE.LINUX_SLL2],
    ]);
    expect(info.linkTypes).toEqual([LINKTYPE.ETHERNET, LINKTYPE.RAW, LINKTYPE.LINUX_SLL2]);
    expect(info.stoppedEarly).toBe(false);
    expect(codes(info)).toEqual([['PCAPNG_UNKNOWN_INTERFACE', 3, unknownAt]]);
    expect(info.diagnostics[0].message).toBe(
      `sections.pcapng: packet 3 (file offset 0x${unknownAt.toString(16)}): the packet names interface 1, but its section describes only interface 0, so it is skipped`,
    );
  });

  describe('bad input', () => {
    /** SHB, IDB, three EPBs; returns the bytes and the offset of each EPB. */
    function threePackets(bigEndian = false) {
      const b = new PcapngBuilder().section({ bigEndian });
      b.iface({ linkType: 1, snaplen: 100 });
      const at: number[] = [];
      for (let i = 0; i < 3; i++) {
        at.push(b.length);
        b.epb({ tsMicros: T0 + i, data: patternFrame(40 + i, i) });
      }
      return { bytes: b.finish(), at };
    }

    it('stops when leading and trailing block lengths disagree, keeping earlier packets', () => {
      const { bytes, at } = threePackets();
      const len = new DataView(bytes.buffer).getUint32(at[1] + 4, true);
      patchU32(bytes, at[1] + len - 4, len + 4);
      const { records, info } = collectRecords(bytes, 'capture.pcapng');
      expect(records.length).toBe(1);
      expect(info.stoppedEarly).toBe(true);
      expect(codes(info)).toEqual([['PCAPNG_BLOCK_LENGTH_MISMATCH', 2, at[1]]]);
      expect(info.diagnostics[0].message).toBe(
        `capture.pcapng: packet 2 (file offset 0x${at[1].toString(16)}): a block's two length fields disagree (${len} at its start, ${len + 4} at its end; block type 0x00000006), so the file is corrupt from here on and reading stopped`,
      );
    });

    it.each([
      ['a zero block length', 0, 'PCAPNG_BLOCK_TOO_SHORT', 'a block claims 0 bytes, fewer than the 12 of the smallest'],
      ['an absurd block length', 0xffffffff, 'PCAPNG_BLOCK_TOO_LONG', 'a block claims 4294967295 bytes, more than the 16777216 any capture tool writes'],
      ['a block length not a multiple of 4', 62, 'PCAPNG_BLOCK_UNALIGNED', 'a block claims 62 bytes, not a multiple of 4 as every pcapng block is'],
    ])('stops at %s', (_name, value, code, detail) => {
      for (const bigEndian of [false, true]) {
        const { bytes, at } = threePackets(bigEndian);
        patchU32(bytes, at[2] + 4, value, !bigEndian);
        const { records, info } = collectRecords(bytes);
        expect(records.length).toBe(2);
        expect(info.stoppedEarly).toBe(true);
        expect(codes(info)).toEqual([[code, 3, at[2]]]);
        expect(info.diagnostics[0].message).toContain(detail);
      }
    });

    it('skips a packet whose caplen exceeds its block and reads on', () => {
      const { bytes, at } = threePackets();
      patchU32(bytes, at[0] + 20, 1000);
      const { records, info } = collectRecords(bytes);
      expect(records.map((r) => r.caplen)).toEqual([41, 42]);
      expect(info.stoppedEarly).toBe(false);
      expect(codes(info)).toEqual([['PCAPNG_CAPLEN_EXCEEDS_BLOCK', 1, at[0]]]);
      expect(info.diagnostics[0].message).toContain('the packet claims 1000 captured bytes, its block holds 40, so it is skipped');
    });

    it('skips a packet naming an undescribed interface and reads on', () => {
      const { bytes, at } = threePackets(true);
      patchU32(bytes, at[1] + 8, 7, false);
      const { records, info } = collectRecords(bytes);
      expect(records.map((r) => [r.no, r.caplen])).toEqual([[1, 40], [2, 42]]);
      expect(codes(info)).toEqual([['PCAPNG_UNKNOWN_INTERFACE', 2, at[1]]]);
    });

    it('delivers packets longer than the snap length or the original length, with diagnostics', () => {
      const b = new PcapngBuilder().section();
      b.iface({ linkType: 1, snaplen: 50 });
      b.epb({ tsMicros: T0, data: patternFrame(60, 1) });
      const second = b.length;
      b.epb({ tsMicros: T0, data: patternFrame(30, 2), origLen: 20 });
      const { records, info } = collectRecords(b.finish());
      expect(records.length).toBe(2);
      expect(codes(info)).toEqual([
        ['PCAPNG_CAPLEN_EXCEEDS_SNAPLEN', 1, 28 + 20 + 0],
        ['PCAPNG_CAPLEN_EXCEEDS_ORIGLEN', 2, second],
      ]);
    });

    it('reports a file cut inside a block, keeping the complete packets', () => {
      const { bytes, at } = threePackets();
      for (const cut of [at[2] + 3, at[2] + 12, at[2] + 40]) {
        const { records, info } = collectRecords(bytes.subarray(0, cut), 'cut.pcapng');
        expect(records.length).toBe(2);
        expect(info.stoppedEarly).toBe(true);
        expect(codes(info)).toEqual([['PCAPNG_TRUNCATED_BLOCK', 3, at[2]]]);
      }
    });

    it('stops at a section of an unknown major version', () => {
      const b = new PcapngBuilder().section();
      b.iface({ linkType: 1 });
      b.epb({ tsMicros: T0, data: patternFrame(20, 1) });
      const at = b.length;
      b.section({ major: 2 });
      const { records, info } = collectRecords(b.finish());
      expect(records.length).toBe(1);
      expect(codes(info)).toEqual([['PCAPNG_UNSUPPORTED_VERSION', 2, at]]);
    });

    it('stops at a later section header without a byte-order magic', () => {
      const b = new PcapngBuilder().section();
      b.iface({ linkType: 1 });
      b.epb({ tsMicros: T0, data: patternFrame(20, 1) });
      const at = b.length;
      b.section();
      const bytes = patchU32(b.finish(), at + 8, 0x12345678);
      const { info } = collectRecords(bytes);
      expect(codes(info)).toEqual([['PCAPNG_BAD_BYTE_ORDER', 2, at]]);
    });

    it('throws CAPTURE_BAD_MAGIC when the first section header has no byte-order magic', () => {
      const bytes = patchU32(encodePcapng(packets), 8, 0x12345678);
      expect(() => collectRecords(bytes)).toThrow(expect.objectContaining({ code: 'CAPTURE_BAD_MAGIC' }));
    });

    it('throws CAPTURE_TRUNCATED_HEADER when the first section header is cut', () => {
      const bytes = encodePcapng(packets).subarray(0, 20);
      expect(() => collectRecords(bytes)).toThrow(CaptureOpenError);
      expect(() => collectRecords(bytes)).toThrow(/section header needs 28 bytes, the input has 20/);
    });

    it('ignores options that run past their block and keeps the interface', () => {
      const b = new PcapngBuilder().section();
      const idbAt = b.length;
      b.iface({ linkType: 1, tsresol: 9 });
      b.epb({ tsMicros: T0, data: patternFrame(20, 1) });
      const bytes = b.finish();
      new DataView(bytes.buffer).setUint16(idbAt + 16 + 2, 200, true); // if_tsresol length 1 -> 200
      const { records, info } = collectRecords(bytes);
      expect(records.length).toBe(1);
      expect(codes(info)).toEqual([['PCAPNG_BAD_OPTION', 1, idbAt + 16]]);
    });
  });
});

describe('pcapng drop counts', () => {
  const frame = (i: number): WriterPacket => ({ tsMicros: T0 + i, data: patternFrame(60, i) });
  /** The drops a file says, with the file's interfaces that carried packets and how many have a count. */
  const said = (packets: number, inStatistics: number, beforePackets: number, firstAfterLoss: number, interfaces = 1, counted = interfaces) => ({
    packets,
    inStatistics,
    beforePackets,
    firstAfterLoss,
    source: 'file',
    interfaces,
    counted,
    largerCapture: null,
  });

  it('says nothing of drops when the file says nothing', () => {
    expect(collectRecords(encodePcapng([frame(1), frame(2)])).info.dropped).toBeUndefined();
  });

  it('takes the interface and OS drops of each interface\'s last statistics block, summed over interfaces', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).isb(0, T0 + 5, { received: 1, droppedByInterface: 3 });
    b.epb({ ...frame(2), interfaceId: 1 });
    // Counts run from the start of the capture: the later block replaces the earlier one, and an equal count is no fall.
    b.isb(0, T0 + 9, { received: 1, droppedByInterface: 7, droppedByOs: 2 });
    b.isb(0, T0 + 9, { received: 1, droppedByInterface: 7, droppedByOs: 2 });
    b.isb(1, T0 + 9, { received: 1, droppedByOs: 5 });
    const { info, records } = collectRecords(b.finish());
    expect(records).toHaveLength(2);
    expect(info.dropped).toEqual(said(14, 14, 0, 0, 2));
    expect(info.diagnostics).toEqual([]);
  });

  it('keeps the counts of ended sections, whose interface numbers the next section reuses', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).isb(0, T0 + 2, { droppedByInterface: 4 });
    b.section({ bigEndian: true });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(3)).isb(0, T0 + 4, { droppedByInterface: 6 });
    expect(collectRecords(b.finish()).info.dropped).toEqual(said(10, 10, 0, 0, 2));
  });

  it("starts each section's packet-block counts anew", () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb({ ...frame(1), droppedBefore: 3 });
    b.section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(2)).epb(frame(3));
    // The second section's interface 0 has no count of its own.
    expect(collectRecords(b.finish()).info.dropped).toEqual(said(3, 0, 3, 1, 2, 1));
  });

  it('tells statistics that count no drop from none at all', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).isb(0, T0 + 2, { received: 1 });
    expect(collectRecords(b.finish()).info.dropped).toBeUndefined();
    b.isb(0, T0 + 3, { received: 1, droppedByInterface: 0 });
    expect(collectRecords(b.finish()).info.dropped).toEqual(said(0, 0, 0, 0));
  });

  it('keeps apart statistics that count more packets received than the file holds: the capture it was cut from', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).epb({ ...frame(2), interfaceId: 1 });
    // Interface 0: 1 packet held of 85,309 received; interface 1: 1 held of 1 received plus 2 dropped.
    b.isb(0, T0 + 9, { received: 85_309, droppedByInterface: 40 });
    b.isb(1, T0 + 9, { received: 1, droppedByInterface: 2 });
    expect(collectRecords(b.finish()).info.dropped).toEqual({ ...said(2, 2, 0, 0, 2, 1), largerCapture: { interfaces: 1, received: 85_309, held: 1, dropped: 40 } });
  });

  it.each([1, 64, 100_000])('reads drop counts on packet blocks, on the fast path and the general one (chunks of %i bytes)', (chunk) => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET, snaplen: 64 });
    b.epb(frame(1)).epb({ ...frame(2), droppedBefore: 0 }).epb({ ...frame(3), droppedBefore: 5 });
    b.opb({ ...frame(4), droppedBefore: 2 });
    // Over the snap length: read on the general path, which reports it.
    b.epb({ ...frame(5), data: patternFrame(80, 5), droppedBefore: 1 });
    const { info, records } = collectRecords(b.finish(), 'drops.pcapng', chunk);
    expect(records.map((r) => r.data.length)).toEqual([60, 60, 60, 60, 80]);
    // Each record says what was lost since the packet before it.
    expect(records.map((r) => [r.droppedBefore, r.droppedSincePacket])).toEqual([[0, 0], [0, 1], [5, 2], [2, 3], [1, 4]]);
    expect(info.dropped).toEqual(said(8, 0, 8, 3));
    expect(codes(info).map((c) => c[0])).toEqual(['PCAPNG_CAPLEN_EXCEEDS_SNAPLEN']);
  });

  it("gives per interface the larger of its statistics and its packet blocks' counts, which may count the same losses, summed over interfaces", () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).epb({ ...frame(2), droppedBefore: 3 }).isb(0, T0 + 9, { droppedByInterface: 4 });
    expect(collectRecords(b.finish()).info.dropped).toEqual(said(4, 4, 3, 2));
    // Interface 1's losses are its own: 10 by its packet blocks beside interface 0's 4 by statistics.
    b.epb({ ...frame(3), interfaceId: 1, droppedBefore: 10 });
    expect(collectRecords(b.finish()).info.dropped).toEqual(said(14, 4, 13, 2, 2));
  });

  it("places a packet block's losses after its own interface's previous packet, in every kind of packet block", () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).epb({ ...frame(2), interfaceId: 1 }).epb(frame(3)).epb({ ...frame(4), droppedBefore: 2 });
    b.opb({ ...frame(5), interfaceId: 1, droppedBefore: 3 }).spb(frame(6).data).opb({ ...frame(7), droppedBefore: 0xffff });
    // A new section's interfaces are new ones: no packet of its interface came before its first.
    b.section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb({ ...frame(8), droppedBefore: 1 });
    const { records } = collectRecords(b.finish(), 'interfaces.pcapng');
    expect(records.map((r) => [r.no, r.interfaceId, r.droppedBefore, r.droppedSincePacket])).toEqual([
      [1, 0, 0, 0],
      [2, 1, 0, 0],
      [3, 0, 0, 1],
      [4, 0, 2, 3],
      [5, 1, 3, 2],
      [6, 0, 0, 4],
      [7, 0, 0, 6],
      [8, 0, 1, 0],
    ]);
  });

  it("keeps a skipped packet block's losses for its own interface's next packet", () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb({ ...frame(1), interfaceId: 1 });
    const skipped = b.length;
    b.opb({ ...frame(2), interfaceId: 1, droppedBefore: 5 });
    b.epb(frame(3)).epb({ ...frame(4), interfaceId: 1 });
    // The obsolete block claims more bytes than it holds: skipped, and said.
    const { records, info } = collectRecords(patchU32(b.finish(), skipped + 20, 1_000), 'skipped.pcapng');
    expect(codes(info).map((c) => c[0])).toEqual(['PCAPNG_CAPLEN_EXCEEDS_BLOCK']);
    expect(records.map((r) => [r.no, r.interfaceId, r.droppedBefore, r.droppedSincePacket])).toEqual([
      [1, 1, 0, 0],
      [2, 0, 0, 0],
      [3, 1, 5, 1],
    ]);
  });

  it("reads an obsolete packet block's count of 0xFFFF as unknown, as the format defines it", () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.opb({ ...frame(1), droppedBefore: 0xffff }).opb({ ...frame(2), droppedBefore: 2 });
    expect(collectRecords(b.finish()).info.dropped).toEqual(said(2, 0, 2, 2, 1, 1));
  });

  it('reads no options where a caplen past the block would place them, inside the header', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    const at = b.length;
    // caplen 0xfffffff0, whose padding wraps to -16 in 32-bit arithmetic: options would then start
    // at the timestamp, whose high word reads as an epb_dropcount of 8 bytes.
    const body = new Uint8Array(20 + 64);
    const dv = new DataView(body.buffer);
    dv.setUint16(4, 4, true);
    dv.setUint16(6, 8, true);
    dv.setUint32(8, 7, true);
    dv.setUint32(12, 0xfffffff0, true);
    dv.setUint32(16, 60, true);
    b.block(6, body);
    b.epb(frame(2));
    const { info, records } = collectRecords(b.finish(), 'wrap.pcapng');
    expect(records).toHaveLength(1);
    expect(info.dropped).toBeUndefined();
    expect(codes(info)).toEqual([['PCAPNG_CAPLEN_EXCEEDS_BLOCK', 1, at]]);
  });

  it('reports counts it cannot take, and keeps the rest', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1)).isb(0, T0 + 2, { droppedByInterface: 50 });
    const fallingAt = b.length;
    b.isb(0, T0 + 3, { droppedByInterface: 5 });
    // isb_ifdrop of all ones (unknown to its writer: said nothing of), then isb_osdrop of 1: half a count, none.
    b.block(5, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 8, 0, ...new Array(8).fill(0xff), 7, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const hugeAt = b.length;
    // isb_ifdrop of 2^60 beside a good isb_osdrop of 1: the block is refused whole, with no report of a fall.
    b.block(5, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 7, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const shortAt = b.length;
    // isb_ifdrop of 4 bytes.
    b.block(5, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 4, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
    const tinyAt = b.length;
    b.block(5, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]));
    const { info } = collectRecords(b.finish(), 'counts.pcapng');
    expect(info.dropped).toEqual(said(50, 50, 0, 0));
    expect(codes(info)).toEqual([
      ['PCAPNG_BAD_OPTION', 2, fallingAt],
      ['PCAPNG_BAD_OPTION', 2, hugeAt + 20],
      ['PCAPNG_BAD_OPTION', 2, shortAt + 20],
      ['PCAPNG_BLOCK_TOO_SHORT', 2, tinyAt],
    ]);
    expect(info.diagnostics.map((d) => d.message.replace(/^counts\.pcapng: packet 2 \(file offset 0x[0-9a-f]+\): /, ''))).toEqual([
      'interface statistics count 5 packets dropped on interface 0, fewer than the 50 an earlier block counted, so the larger count is kept',
      'isb_ifdrop claims 1.153e+18 packets, more than any capture holds, so it is ignored',
      'isb_ifdrop is 4 bytes long, not the 8 of a 64-bit count, so it is ignored',
      'an interface statistics block of 20 bytes, too short to hold one (24 at least), ignored',
    ]);
  });

  it('takes an option that fills its block to the last byte, with no end-of-options', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1));
    b.block(5, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 8, 0, 6, 0, 0, 0, 0, 0, 0, 0]));
    const { info } = collectRecords(b.finish());
    expect(info.dropped).toEqual(said(6, 6, 0, 0));
    expect(info.diagnostics).toEqual([]);
  });


  it('reports statistics it cannot use, and a packet block whose options overrun it, and reads on', () => {
    const b = new PcapngBuilder().section();
    b.iface({ linkType: LINKTYPE.ETHERNET });
    b.epb(frame(1));
    const unknownAt = b.length;
    b.isb(3, T0 + 2, { droppedByInterface: 9 });
    const isbAt = b.length;
    // An ISB whose only option claims 16 bytes where 8 are left.
    b.block(5, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
    const epbAt = b.length;
    const data = patternFrame(60, 2);
    const body = new Uint8Array(20 + 60 + 12);
    const dv = new DataView(body.buffer);
    dv.setUint32(4, Math.floor((T0 + 2) / 2 ** 32), true);
    dv.setUint32(8, (T0 + 2) % 2 ** 32, true);
    dv.setUint32(12, 60, true);
    dv.setUint32(16, 60, true);
    body.set(data, 20);
    // epb_dropcount claiming 12 bytes of the 8 the block has left after it.
    dv.setUint16(80, 4, true);
    dv.setUint16(82, 12, true);
    b.block(6, body);
    b.epb(frame(3));
    const { info, records } = collectRecords(b.finish(), 'bad.pcapng');
    expect(records).toHaveLength(3);
    expect(info.dropped).toBeUndefined();
    expect(codes(info)).toEqual([
      ['PCAPNG_UNKNOWN_INTERFACE', 2, unknownAt],
      ['PCAPNG_BAD_OPTION', 2, isbAt + 20],
      ['PCAPNG_BAD_OPTION', 2, epbAt + 88],
    ]);
    expect(info.diagnostics[0].message).toContain('interface statistics name interface 3');
    expect(info.diagnostics[2].message).toMatch(/^bad\.pcapng: packet 2 .*an option of a packet block \(code 4, 12 bytes\) runs past the end of its block/);
  });
});
