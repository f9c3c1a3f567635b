// Live sources on loopback: a refused connection captured through the tcpdump child and through
// cap, and the pieces that sort libpcap's messages. The messages below are libpcap 1.10's own
// words, as tcpdump 4.99 and cap print them.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { capLinkType, listInterfaces, loadCap, openLiveSource, prefixLength, LIVE_ERROR, type LiveSourceKind } from '../../src/capture/live.js';
import { classifyLibpcapError } from '../../src/capture/live-source.js';
import { cleanTcpdumpMessage, parseTcpdumpStats, tcpdumpArgs } from '../../src/capture/live-tcpdump.js';
import { LINKTYPE, type PacketRecord } from '../../src/capture/record.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { pickFreePort } from '../../scripts/lib/ports.mjs';
import { canCapture, liveSourcesHere } from '../helpers/traffic.js';

describe('libpcap messages', () => {
  it.each([
    ['tcpdump: nosuch0: No such device exists\n(No such device exists)\n', LIVE_ERROR.LIVE_NO_SUCH_INTERFACE],
    ["tcpdump: can't parse filter expression: syntax error\n", LIVE_ERROR.LIVE_BAD_FILTER],
    ['tcpdump: illegal port number 99999 > 65535\n', LIVE_ERROR.LIVE_BAD_FILTER],
    ["tcpdump: lo: You don't have permission to perform this capture on that device\n(socket: Operation not permitted)\n", LIVE_ERROR.LIVE_NO_PERMISSION],
    ['tcpdump: eth9: That device is not up\n', LIVE_ERROR.LIVE_OPEN_FAILED],
  ])('sorts %j as %s', (stderr, code) => {
    expect(classifyLibpcapError(stderr)).toBe(code);
  });

  it('drops the tcpdump prefix and the repeated parenthesised line', () => {
    expect(cleanTcpdumpMessage('tcpdump: nosuch0: No such device exists\n(No such device exists)\n')).toBe('nosuch0: No such device exists');
    expect(cleanTcpdumpMessage("tcpdump: lo: You don't have permission to capture on that device\n(socket: Operation not permitted)\n")).toBe(
      "lo: You don't have permission to capture on that device; (socket: Operation not permitted)",
    );
  });

  it("reads tcpdump's closing statistics", () => {
    expect(parseTcpdumpStats('120 packets captured\n130 packets received by filter\n10 packets dropped by kernel\n')).toEqual({ droppedByKernel: 10, droppedByInterface: null });
    expect(parseTcpdumpStats('1 packet captured\n1 packet received by filter\n0 packets dropped by kernel\n3 packets dropped by interface\n')).toEqual({ droppedByKernel: 0, droppedByInterface: 3 });
    expect(parseTcpdumpStats('killed')).toEqual({ droppedByKernel: null, droppedByInterface: null });
  });
});

describe('tcpdump arguments', () => {
  it('keeps promiscuous mode off unless asked, and passes snaplen and the filter after --', () => {
    expect(tcpdumpArgs({ iface: 'lo', filter: 'tcp port 80', snaplen: 96, promisc: false }, false)).toEqual(['-i', 'lo', '-w', '-', '-U', '--immediate-mode', '-n', '-B', '16384', '-s', '96', '-p', '--', 'tcp port 80']);
    expect(tcpdumpArgs({ iface: 'eth0', filter: '', snaplen: 0, promisc: true }, true)).toEqual(['-i', 'eth0', '-w', '-', '-U', '--immediate-mode', '-n', '-B', '16384', '-Z', 'root']);
  });
});

describe('cap adapter pieces', () => {
  it('maps cap link type names to LINKTYPE numbers', () => {
    expect(capLinkType('ETHERNET')).toBe(LINKTYPE.ETHERNET);
    expect(capLinkType('LINKTYPE_LINUX_SLL')).toBe(LINKTYPE.LINUX_SLL);
    expect(capLinkType('Unknown linktype 276')).toBe(276);
  });

  it('turns netmasks into prefix lengths', () => {
    expect(prefixLength('255.255.255.0')).toBe(24);
    expect(prefixLength('255.0.0.0')).toBe(8);
    expect(prefixLength('ffff:ffff:ffff:ffff::')).toBe(64);
    expect(prefixLength('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(128);
  });

  it('explains how to get libpcap when cap cannot be loaded', async () => {
    await expect(loadCap({ capModule: 'cap-not-installed-here' })).rejects.toMatchObject({
      code: LIVE_ERROR.LIVE_CAP_MISSING,
      message: expect.stringContaining('live capture needs libpcap: apt-get install libpcap-dev, then npm rebuild cap'),
    });
  });

  it('still lists interfaces without cap (from tcpdump -D or the kernel)', async () => {
    const list = await listInterfaces({ capModule: 'cap-not-installed-here' }, { linkTypes: false });
    const lo = list.find((i) => i.name === 'lo');
    expect(lo?.addresses).toContain('127.0.0.1/8');
  });
});

/** Refused connect to a closed loopback port while `kind` captures it; returns copies of the records. */
async function captureRefused(kind: LiveSourceKind) {
  const port = await pickFreePort();
  const decoder = new PacketDecoder();
  const tcpFlags = (r: PacketRecord) => (decoder.decode(r) === DECODED.TCP ? decoder.view.flags : -1);
  const records: { no: number; tsMicros: number; caplen: number; origLen: number; linkType: number; flags: number }[] = [];
  const source = await openLiveSource(kind, { iface: 'lo', filter: `tcp port ${port}`, snaplen: 0, promisc: false, maxLifetimeSec: 20 }, (r: PacketRecord) =>
    records.push({ no: r.no, tsMicros: r.tsMicros, caplen: r.caplen, origLen: r.origLen, linkType: r.linkType, flags: tcpFlags(r) }),
  );
  const before = Date.now() * 1000;
  await new Promise<void>((res) => net.connect(port, '127.0.0.1').once('error', () => res()));
  await new Promise((r) => setTimeout(r, 300));
  const stats = await source.stop();
  return { source, stats, records, before };
}

describe.skipIf(!canCapture())('live sources on loopback', () => {
  it.each(liveSourcesHere('test/capture/live.test.ts'))('%s delivers the SYN and the RST of a refused connect', async (kind) => {
    const { source, stats, records, before } = await captureRefused(kind);
    expect(source.kernelTimestamps).toBe(kind === 'tcpdump');
    expect(source.linkType).toBe(LINKTYPE.ETHERNET);
    expect(stats.packets).toBe(2);
    expect(records.map((r) => r.no)).toEqual([1, 2]);
    expect(records.map((r) => r.flags)).toEqual([0x02, 0x14]); // SYN, then RST+ACK
    for (const r of records) {
      expect(r.caplen).toBe(r.origLen);
      expect(Math.abs(r.tsMicros - before)).toBeLessThan(2_000_000);
    }
    expect(records[1].tsMicros).toBeGreaterThanOrEqual(records[0].tsMicros);
    if (kind === 'tcpdump') expect(stats.droppedByKernel).toBe(0);
    else expect(stats.droppedByKernel).toBeNull();
  });

  it('lists the loopback interface with its link type', async () => {
    const lo = (await listInterfaces()).find((i) => i.name === 'lo');
    expect(lo).toMatchObject({ loopback: true, linkTypes: ['EN10MB (Ethernet)'] });
  });

  it('names the real interfaces when the one asked for does not exist', async () => {
    const err = await openLiveSource('tcpdump', { iface: 'nosuch0', filter: '', snaplen: 0, promisc: false }, () => {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: LIVE_ERROR.LIVE_NO_SUCH_INTERFACE, message: expect.stringMatching(/interfaces here: .*\blo\b/) });
  });
});
