import { describe, expect, it } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { CaptureOpenError, LINKTYPE, type PacketRecord } from '../../src/capture/record.js';
import { encodePcap, encodePcapng, PcapngBuilder } from '../../src/capture/writer.js';
import { collectRecords, diffRecords, patternFrame, toPcap } from '../helpers/capture.js';

const T0 = 1_700_000_000_000_000;

function openError(bytes: Uint8Array, file = 'input.pcap'): CaptureOpenError {
  try {
    collectRecords(bytes, file);
  } catch (err) {
    if (err instanceof CaptureOpenError) return err;
    throw err;
  }
  throw new Error('expected a CaptureOpenError');
}

/** Every block type, two sections, both byte orders, frames from 0 to 1600 bytes. */
function mixedPcapng(): Uint8Array {
  const b = new PcapngBuilder().section();
  b.nrb([10, 0, 0, 1], 'a.example');
  b.iface({ linkType: LINKTYPE.ETHERNET, snaplen: 1600 });
  b.iface({ linkType: LINKTYPE.RAW, tsresol: 9 });
  for (let i = 0; i < 40; i++) {
    b.epb({ tsMicros: T0 + i * 17, data: patternFrame((i * 97) % 1601, i), interfaceId: i % 2 });
    if (i % 7 === 0) b.isb(0, T0 + i * 17);
    if (i % 11 === 0) b.spb(patternFrame(i * 3, i));
  }
  b.section({ bigEndian: true });
  b.iface({ linkType: LINKTYPE.LINUX_SLL, tsresol: 0x80 | 24, tsoffset: 1_000 });
  for (let i = 0; i < 20; i++) b.opb({ tsMicros: T0 + 1_000_000 + i, data: patternFrame(i * 5, i + 100) });
  return b.finish();
}

function mixedPcap(): Uint8Array {
  return encodePcap(
    Array.from({ length: 60 }, (_, i) => ({ tsMicros: T0 + i * 1001, data: patternFrame((i * 131) % 1515, i), origLen: 1515 })),
    { bigEndian: true, nanos: true },
  );
}

describe('CaptureParser', () => {
  it('recognises the format from the magic, not the file name', () => {
    expect(collectRecords(encodePcapng([]), 'looks-like.pcap').info.format).toBe('pcapng');
    expect(collectRecords(encodePcap([], { nanos: true }), 'looks-like.pcapng').info.format).toBe('pcap-ns');
  });

  it('throws CAPTURE_EMPTY for empty input', () => {
    const err = openError(new Uint8Array(0), 'empty.pcap');
    expect(err.code).toBe('CAPTURE_EMPTY');
    expect(err.message).toBe('empty.pcap: the input is empty');
  });

  it('throws CAPTURE_TRUNCATED_HEADER for input shorter than any magic', () => {
    expect(openError(Uint8Array.of(0xd4, 0xc3, 0xb2)).code).toBe('CAPTURE_TRUNCATED_HEADER');
  });

  it.each([
    ['text', new TextEncoder().encode('12:00:01.000 IP 10.0.0.1 > 10.0.0.2'), '31 32 3a 30', 'looks like text'],
    ['JSON', new TextEncoder().encode('[\n  {"_index": "packets"}]'), '5b 0a 20 20', 'looks like JSON'],
    ['gzip', Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0), '1f 8b 08 00', 'gzip-compressed'],
    ['zip', Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0), '50 4b 03 04', 'zip archive'],
    ['unknown binary', Uint8Array.of(0x00, 0x01, 0x02, 0x03, 0, 0), '00 01 02 03', 'expected a1b2c3d4'],
  ])('throws CAPTURE_BAD_MAGIC naming the bytes and a hint for %s', (_name, bytes, hex, hint) => {
    const err = openError(bytes, 'wrong.pcap');
    expect(err.code).toBe('CAPTURE_BAD_MAGIC');
    expect(err.message).toContain(`wrong.pcap: not a pcap or pcapng file: first bytes ${hex}`);
    expect(err.message).toContain(hint);
  });

  describe('gives the same records, diagnostics and info at every chunk size', () => {
    const cut = mixedPcap();
    const broken = mixedPcapng();
    // Break the framing of a block in the second section to check diagnostics survive splitting.
    new DataView(broken.buffer).setUint32(broken.length - 4, 1, false);
    const inputs = {
      'a pcapng with every block type and two sections': mixedPcapng(),
      'a big-endian nanosecond pcap': mixedPcap(),
      'a pcap cut inside its last record': cut.subarray(0, cut.length - 100),
      'a pcapng whose last block has a bad trailing length': broken,
    };
    const sizes = [...Array.from({ length: 64 }, (_, i) => i + 1), 100, 1000, 4093, 65536, 1 << 22];
    it.each(Object.entries(inputs))('%s', (_name, bytes) => {
      const whole = collectRecords(bytes, 'split.cap');
      expect(whole.records.length).toBeGreaterThan(20);
      for (const size of sizes) {
        const split = collectRecords(bytes, 'split.cap', size);
        expect(diffRecords(split.records, whole.records), `chunk size ${size}`).toBeNull();
        expect(split.info, `chunk size ${size}`).toEqual(whole.info);
      }
    });
  });

  it('delivers records inside a chunk as views into that chunk and copies only records that span chunks', () => {
    const bytes = toPcap([patternFrame(100, 1), patternFrame(100, 2), patternFrame(100, 3)]);
    const first = bytes.subarray(0, 24 + 116 + 50); // packet 2 is split here
    const second = bytes.subarray(first.length);
    const seen: { no: number; inFirst: boolean; inSecond: boolean }[] = [];
    const parser = new CaptureParser('views.pcap', (r) => {
      seen.push({ no: r.no, inFirst: r.bytes === first, inSecond: r.bytes === second });
    });
    parser.push(first);
    parser.push(second);
    parser.end();
    expect(seen).toEqual([
      { no: 1, inFirst: true, inSecond: false },
      { no: 2, inFirst: false, inSecond: false },
      { no: 3, inFirst: false, inSecond: true },
    ]);
  });

  it('hands out one reused record object for every packet', () => {
    const objects = new Set<PacketRecord>();
    const parser = new CaptureParser('reuse.pcapng', (r) => objects.add(r));
    parser.push(mixedPcapng());
    expect(parser.end().packets).toBeGreaterThan(60);
    expect(objects.size).toBe(1);
  });

  it('ignores input after it stopped and never throws for it', () => {
    const bytes = toPcap([patternFrame(10, 1), patternFrame(10, 2)]);
    new DataView(bytes.buffer).setUint32(24 + 26 + 8, 0xffffffff, true);
    let delivered = 0;
    const parser = new CaptureParser('stop.pcap', () => delivered++);
    parser.push(bytes);
    parser.push(patternFrame(5000, 3));
    const info = parser.end();
    expect(delivered).toBe(1);
    expect(info.packets).toBe(1);
    expect(info.diagnostics.map((d) => d.code)).toEqual(['PCAP_RECORD_TOO_LONG']);
  });

  it('records an I/O failure with abort() and keeps what was read', () => {
    const bytes = toPcap([patternFrame(10, 1), patternFrame(10, 2)]);
    const parser = new CaptureParser('io.pcap', () => {});
    parser.push(bytes.subarray(0, 60));
    parser.abort('reading stopped: EIO');
    parser.push(bytes.subarray(60));
    const info = parser.end();
    expect(info.packets).toBe(1);
    expect(info.stoppedEarly).toBe(true);
    expect(info.diagnostics).toEqual([
      { code: 'CAPTURE_READ_ERROR', packet: 2, offset: 60, message: 'io.pcap: packet 2 (file offset 0x3c): reading stopped: EIO' },
    ]);
  });

  it('exposes progress on .info while reading and returns the same object from end()', () => {
    const counts: number[] = [];
    const parser = new CaptureParser('progress.pcap', () => counts.push(parser.info.packets));
    parser.push(toPcap([patternFrame(10, 1), patternFrame(10, 2)]));
    expect(counts).toEqual([1, 2]);
    expect(parser.end()).toBe(parser.info);
  });
});
