import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/capture/record.js';
import { encodePcap, encodePcapng, CaptureFileWriter, PcapngBuilder } from '../../src/capture/writer.js';
import { collectRecords, patternFrame, writeTempCapture } from '../helpers/capture.js';
import { hasTool } from '../helpers/tools.js';

const T0 = 1_700_000_000_123_456;

describe('encodePcap', () => {
  it.each([
    [false, false, 'd4c3b2a1'],
    [true, false, 'a1b2c3d4'],
    [false, true, '4d3cb2a1'],
    [true, true, 'a1b23c4d'],
  ])('writes the magic for bigEndian=%s nanos=%s as %s', (bigEndian, nanos, hex) => {
    expect(Buffer.from(encodePcap([], { bigEndian, nanos }).subarray(0, 4)).toString('hex')).toBe(hex);
  });

  it.skipIf(!hasTool('tcpdump'))('writes files that libpcap reads with the same timestamps and lengths', () => {
    for (const nanos of [false, true]) {
      const packets = Array.from({ length: 5 }, (_, i) => ({ tsMicros: T0 + i * 1_000_001, data: patternFrame(60 + i, i), origLen: 100 + i }));
      const path = writeTempCapture(encodePcap(packets, { nanos, bigEndian: nanos }), `libpcap-${nanos}.pcap`);
      const out = execFileSync('tcpdump', ['-r', path, '-tt', '-nn', '-q', '--time-stamp-precision=micro'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const lines = out.split('\n').filter((line) => /^\d+\.\d{6} /.test(line));
      expect(lines.length).toBe(5);
      lines.forEach((line, i) => {
        const ts = packets[i].tsMicros;
        expect(line.startsWith(`${Math.floor(ts / 1e6)}.${String(ts % 1e6).padStart(6, '0')} `)).toBe(true);
      });
    }
  });
});

describe('encodePcapng and PcapngBuilder', () => {
  it.skipIf(!hasTool('tshark'))('writes files that tshark reads with the same timestamps, interfaces and lengths', () => {
    const b = new PcapngBuilder().section({ bigEndian: true });
    b.iface({ linkType: LINKTYPE.ETHERNET, tsresol: 0x80 | 20, tsoffset: 1000 });
    b.iface({ linkType: LINKTYPE.RAW, tsresol: 9, snaplen: 64 });
    b.epb({ tsMicros: T0, data: patternFrame(60, 1), interfaceId: 0 });
    b.isb(1, T0);
    b.epb({ tsMicros: T0 + 1, data: patternFrame(40, 2), interfaceId: 1, origLen: 100 });
    b.section();
    b.iface({ linkType: LINKTYPE.LINUX_SLL });
    b.opb({ tsMicros: T0 + 2_500_000, data: patternFrame(30, 3) });
    const path = writeTempCapture(b.finish(), 'tshark-check.pcapng');
    const out = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const theirs = out.trim().split('\n').map((line) => {
      const [ts, cap, len] = line.split('\t');
      const [sec, frac] = ts.split('.');
      return [Number(sec) * 1e6 + Number(frac.slice(0, 6)), Number(cap), Number(len)];
    });
    const ours = collectRecords(readFileSync(path)).records.map((r) => [r.tsMicros, r.caplen, r.origLen]);
    expect(ours).toEqual([[T0, 60, 60], [T0 + 1, 40, 100], [T0 + 2_500_000, 30, 30]]);
    expect(theirs).toEqual(ours);
  });

  it('refuses a timestamp that does not fit the interface resolution', () => {
    expect(() => encodePcapng([{ tsMicros: T0, data: new Uint8Array(1) }], { interfaces: [{ linkType: 1, tsresol: 15 }] })).toThrow(RangeError);
  });
});

describe('CaptureFileWriter', () => {
  it('streams packets to a descriptor in big writes and reads back identically', () => {
    const path = writeTempCapture(new Uint8Array(0), 'stream.pcap');
    const fd = openSync(path, 'w');
    const w = new CaptureFileWriter(fd, { linkType: LINKTYPE.LINUX_SLL2 });
    const backing = patternFrame(5000, 7);
    const n = 3000; // about 4.5 MB: several buffer flushes
    for (let i = 0; i < n; i++) w.write(T0 + i * 10, backing, i % 100, (i % 100) + 1500, 1500);
    w.close();
    expect(() => fstatSync(fd)).toThrow(); // the writer owned and closed the descriptor
    const { records, info } = collectRecords(readFileSync(path), 'stream.pcap');
    expect(info).toMatchObject({ format: 'pcap', linkTypes: [LINKTYPE.LINUX_SLL2], packets: n, diagnostics: [] });
    expect(records[n - 1].tsMicros).toBe(T0 + (n - 1) * 10);
    expect(records[123].data).toEqual(backing.subarray(23, 1523));
  });

  it('cuts packets to the snap length and keeps the original length', () => {
    const path = writeTempCapture(new Uint8Array(0), 'snap.pcap');
    const fd = openSync(path, 'w');
    const w = new CaptureFileWriter(fd, { linkType: 1, snaplen: 96, keepOpen: true });
    w.write(T0, patternFrame(200, 1), 0, 200, 1514);
    w.write(T0 + 1, patternFrame(50, 2), 10, 50, 40);
    w.close();
    closeSync(fd); // still open: keepOpen
    const { records, info } = collectRecords(readFileSync(path));
    expect(records.map((r) => [r.caplen, r.origLen])).toEqual([[96, 1514], [40, 40]]);
    expect(info.snaplen).toBe(96);
    expect(info.truncatedPackets).toBe(1);
  });

  it('writes packets larger than its buffer straight through', () => {
    const path = writeTempCapture(new Uint8Array(0), 'jumbo.pcap');
    const w = new CaptureFileWriter(openSync(path, 'w'), { linkType: 1, snaplen: 4 << 20 });
    const jumbo = patternFrame(2 << 20, 3);
    w.write(T0, patternFrame(10, 1), 0, 10, 10);
    w.write(T0 + 1, jumbo, 0, jumbo.length, jumbo.length);
    w.write(T0 + 2, patternFrame(10, 2), 0, 10, 10);
    w.close();
    const bytes = readFileSync(path);
    // A 2 MiB record is above the 256 KiB readers accept, so check the framing by hand.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(dv.getUint32(24 + 26 + 8, true)).toBe(jumbo.length);
    expect(bytes.length).toBe(24 + 3 * 16 + 20 + jumbo.length);
    expect(Buffer.from(bytes.subarray(24 + 26 + 16, 24 + 26 + 16 + jumbo.length)).equals(Buffer.from(jumbo))).toBe(true);
  });
});

describe('CaptureFileWriter in pcapng', () => {
  it('streams packets of any length, pads each block, and closes with the kernel drop count in the statistics', () => {
    const path = writeTempCapture(new Uint8Array(0), 'stream.pcapng');
    const w = new CaptureFileWriter(openSync(path, 'w'), { linkType: LINKTYPE.ETHERNET, snaplen: 4 << 20, format: 'pcapng' });
    const backing = patternFrame(5000, 9);
    const n = 3000; // several buffer flushes, lengths 1 to 1,500 so every padding occurs
    for (let i = 0; i < n; i++) w.write(T0 + i * 10, backing, i % 100, (i % 100) + 1 + (i % 1500), 1 + (i % 1500));
    // Above the buffer: written straight through, then padded and closed.
    const jumbo = patternFrame((1 << 20) + 3, 4);
    w.write(T0 + n * 10, jumbo, 0, jumbo.length, jumbo.length);
    w.close({ received: n + 1, dropped: 17 });
    const { records, info } = collectRecords(readFileSync(path), 'stream.pcapng');
    expect(info).toMatchObject({ format: 'pcapng', linkTypes: [LINKTYPE.ETHERNET], packets: n + 1, diagnostics: [] });
    expect(records[1234].data).toEqual(backing.subarray(34, 34 + 1 + 1234));
    expect(records[n - 1].tsMicros).toBe(T0 + (n - 1) * 10);
    expect(records[n].data).toEqual(jumbo);
    expect(info.dropped).toEqual({ packets: 17, inStatistics: 17, beforePackets: 0, firstAfterLoss: 0, source: 'file', interfaces: 1, counted: 1, largerCapture: null });
  });

  it('says no drop count where the kernel gave none, and is a valid empty capture with no packet', () => {
    const path = writeTempCapture(new Uint8Array(0), 'empty.pcapng');
    new CaptureFileWriter(openSync(path, 'w'), { linkType: LINKTYPE.ETHERNET, format: 'pcapng' }).close({ received: 0, dropped: null });
    const { records, info } = collectRecords(readFileSync(path), 'empty.pcapng');
    expect(records).toEqual([]);
    expect(info).toMatchObject({ format: 'pcapng', packets: 0, diagnostics: [] });
    expect(info.dropped).toBeUndefined();
  });
});
