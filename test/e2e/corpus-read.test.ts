// Every public capture in the shared corpus must read back with tshark's packet count, and the
// pcap/pcapng twins of the Practical Packet Analysis traces must give identical packets.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { readCaptureFileSync } from '../../src/capture/open.js';
import type { PacketRecord } from '../../src/capture/record.js';
import { useCorpus } from '../helpers/corpus.js';
import { hasTool } from '../helpers/tools.js';

const corpus = useCorpus();

interface OracleEntry {
  file: string;
  format: string;
  packets: number;
  tsharkWarnings: string[];
  interfaceLinktypes: string[];
}

const oracle: OracleEntry[] = corpus.found ? JSON.parse(readFileSync(corpus.path('oracle.json'), 'utf8')) : [];

/** One line per packet: timestamp, lengths, link type and a digest of the bytes (cheap to compare). */
function describePacket(r: PacketRecord): string {
  const digest = createHash('sha1').update(r.bytes.subarray(r.off, r.end)).digest('hex');
  return `${r.tsMicros} ${r.caplen}/${r.origLen} lt=${r.linkType} ${digest}`;
}

function readAll(file: string, chunkSize?: number) {
  const packets: string[] = [];
  const tsMicros: number[] = [];
  const info = readCaptureFileSync(corpus.path(file), (r: PacketRecord) => {
    packets.push(describePacket(r));
    tsMicros.push(r.tsMicros);
  }, { chunkSize });
  return { packets, tsMicros, info };
}


/** tshark's epoch timestamps (seconds with 9 decimals) as integer microseconds, truncated as we do. */
function tsharkMicros(file: string): number[] {
  const out = execFileSync('tshark', ['-r', corpus.path(file), '-T', 'fields', '-e', 'frame.time_epoch'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [sec, frac = ''] = line.trim().split('.');
      return Number(sec) * 1_000_000 + Number(frac.padEnd(6, '0').slice(0, 6));
    });
}

corpus.describe('corpus captures', () => {
  it.each(oracle.map((e) => [e.file, e] as const))('%s reads with tshark\'s packet count', (_file, entry) => {
    const { packets, info } = readAll(entry.file);
    expect(info.packets).toBe(entry.packets);
    expect(packets.length).toBe(entry.packets);
    const expectedFormat = ({ nsecpcap: 'pcap-ns', modpcap: 'pcap-modified' } as Record<string, string>)[entry.format] ?? entry.format;
    expect(info.format).toBe(expectedFormat);
    if (entry.tsharkWarnings.some((w) => w.includes('cut short'))) {
      expect(info.stoppedEarly).toBe(true);
      expect(info.diagnostics.map((d) => d.code)).toContain('PCAP_TRUNCATED_RECORD');
      expect(info.diagnostics[0].packet).toBe(entry.packets + 1);
    } else {
      expect(info.diagnostics.filter((d) => d.code !== 'CAPTURE_TIME_BACKWARDS')).toEqual([]);
      expect(info.stoppedEarly).toBe(false);
    }
    // Time order as capinfos reports it ("Strict time order: False" in the oracle text).
    const strict = !/Strict time order:\s+False/.test(readFileSync(corpus.path(`${entry.file}.tshark.txt`), 'utf8'));
    expect(info.diagnostics.some((d) => d.code === 'CAPTURE_TIME_BACKWARDS')).toBe(!strict);
  });

  // Files whose timestamps exercise a particular path: ns pcap, big-endian pcap, pcapng named
  // .pcap, 126 interfaces with mixed if_tsresol, Linux SLL2.
  const timestampChecks = [
    'zeek/http/get-to-ssh-server.pcap',
    'tcpdump/tcp-handshake-nano.pcap',
    'tcpdump/pptp.pcap',
    'misc/onewesong-websocket_test/websocket.pcap',
    'zeek/ldap/gap-data-missing.pcapng',
    'ppa/ppa3/http_ip4and6.pcapng',
  ].filter((f) => oracle.some((e) => e.file === f));

  it.skipIf(!hasTool('tshark')).each(timestampChecks)('%s has the same timestamps as tshark', (file) => {
    expect(readAll(file).tsMicros).toEqual(tsharkMicros(file));
  });

  it('reads every corpus capture identically in 1 KiB chunks and in reads of the default size', () => {
    for (const entry of oracle) {
      const whole = readAll(entry.file);
      const small = readAll(entry.file, 1024);
      expect(small.packets, entry.file).toEqual(whole.packets);
      expect(small.info, entry.file).toEqual(whole.info);
    }
  });

  const twins = oracle
    .filter((e) => e.file.startsWith('ppa/ppa3/') && e.file.endsWith('.pcapng'))
    .map((e) => [e.file, e.file.replace('ppa/ppa3/', 'ppa/ppa2e/').replace(/\.pcapng$/, '.pcap')] as const)
    .filter(([, pcap]) => oracle.some((e) => e.file === pcap));

  it('finds ppa2e pcap twins of the ppa3 pcapng traces', () => {
    expect(twins.length).toBeGreaterThan(10);
  });

  it.each(twins)('%s and %s deliver the same packets', (ng, pcap) => {
    const a = readAll(ng);
    const b = readAll(pcap);
    expect(a.info.format).toBe('pcapng');
    expect(b.info.format).toBe('pcap');
    expect(a.packets.length).toBe(b.packets.length);
    expect(a.packets).toEqual(b.packets);
  });
});
