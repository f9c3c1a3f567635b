// Decoder agreement with tshark over the whole public corpus: for every capture, the packets we
// classify as TCP (outside ICMP errors) must equal the frames of tshark's TCP conversations
// (oracle.json tcpConversations, computed with `-Y "tcp && !icmp && !icmpv6"`).
// Exceptions are listed below with the reason and checked, not just excused.

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { readCaptureFileSync } from '../../src/capture/open.js';
import { formatAddr, parseAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED, TUNNEL } from '../../src/decode/view.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();

interface OracleConversation {
  a: string;
  b: string;
  aToB: { frames: number };
  bToA: { frames: number };
}
interface ZeekConnRow {
  orig_h: string;
  orig_p: number;
  resp_h: string;
  resp_p: number;
  orig_pkts?: number;
  resp_pkts?: number;
  tunnel_parents?: string;
}
interface OracleEntry {
  file: string;
  packets: number;
  tcpConversations: OracleConversation[];
  zeekConn?: ZeekConnRow[];
}

/** Files where tshark's count is not ours, why, and how the difference is checked. */
const EXCEPTIONS: Record<string, string> = {
  'zeek/tunnels/Teredo.pcap':
    'tshark leaves Teredo off by default (teredo.heuristic_teredo), Zeek follows it: the extra TCP packets ' +
    "must be exactly the tunnelled IPv6 connection of Zeek's conn.log (orig_pkts + resp_pkts, same endpoints)",
};

interface FileCount {
  file: string;
  packets: number;
  tcp: number;
  /** TCP packets found inside a Teredo tunnel (tshark leaves Teredo off by default). */
  tcpInTeredo: number;
  teredoEndpoints: Set<string>;
  /** Distinct fragmented IP datagrams (source, destination, IP id) among packets held as fragments. */
  fragmentedDatagrams: Set<string>;
  /** TCP packets decoded from a datagram the packet's fragment completed. */
  tcpReassembled: number;
  skipped: Map<string, number>;
  malformed: Map<string, number>;
  icmpErrors: number;
  arp: number;
  /** UDP port-53 datagrams, handed to the DNS log. */
  dns: number;
}

function countFile(file: string): FileCount {
  const decoder = new PacketDecoder();
  const v = decoder.view;
  const count: FileCount = {
    file,
    packets: 0,
    tcp: 0,
    tcpInTeredo: 0,
    teredoEndpoints: new Set(),
    fragmentedDatagrams: new Set(),
    tcpReassembled: 0,
    skipped: new Map(),
    malformed: new Map(),
    icmpErrors: 0,
    arp: 0,
    dns: 0,
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  readCaptureFileSync(corpus.path(file), (rec) => {
    count.packets++;
    switch (decoder.decode(rec)) {
      case DECODED.TCP:
        count.tcp++;
        if (v.reassembled) count.tcpReassembled++;
        if (v.tunnelKind === TUNNEL.TEREDO) {
          count.tcpInTeredo++;
          count.teredoEndpoints.add(`${formatAddr(v.src, 6)} ${v.srcPort}`);
          count.teredoEndpoints.add(`${formatAddr(v.dst, 6)} ${v.dstPort}`);
        }
        break;
      case DECODED.ICMP_ERROR:
        count.icmpErrors++;
        break;
      case DECODED.ARP:
        count.arp++;
        break;
      case DECODED.DNS:
        count.dns++;
        break;
      case DECODED.SKIPPED:
        bump(count.skipped, v.skipReason);
        if (v.skipReason === 'ip-fragment') {
          count.fragmentedDatagrams.add(`${formatAddr(v.src, v.ipVersion || 4)} ${formatAddr(v.dst, v.ipVersion || 4)} ${v.ipId}`);
        }
        break;
      case DECODED.MALFORMED:
        bump(count.malformed, v.malformedCode);
        break;
    }
  });
  return count;
}

const oracle: OracleEntry[] = corpus.found ? JSON.parse(readFileSync(corpus.path('oracle.json'), 'utf8')) : [];

corpus.describe('decoder agreement with tshark on the corpus', () => {
  const counts = new Map<string, FileCount>();
  for (const entry of oracle) counts.set(entry.file, countFile(entry.file));

  it('prints per-file mismatches and the overall agreement', () => {
    let agreeing = 0;
    const lines: string[] = [];
    for (const entry of oracle) {
      const c = counts.get(entry.file)!;
      const expected = tsharkTcpFrames(entry);
      if (c.tcp === expected) agreeing++;
      else {
        const why = EXCEPTIONS[entry.file] ? ' [listed exception]' : '';
        lines.push(`  ${entry.file}: decoder ${c.tcp} TCP, tshark ${expected}${why}; skipped ${JSON.stringify([...c.skipped])}, malformed ${JSON.stringify([...c.malformed])}`);
      }
    }
    const percent = ((100 * agreeing) / oracle.length).toFixed(1);
    console.log(`corpus decode agreement: ${agreeing}/${oracle.length} files (${percent}%)\n${lines.join('\n')}`);
    expect(agreeing + Object.keys(EXCEPTIONS).length).toBe(oracle.length);
  });

  it.each(oracle.filter((e) => !(e.file in EXCEPTIONS)).map((e) => [e.file, e] as const))(
    'classifies as TCP exactly the frames of tshark\'s TCP conversations in %s',
    (file, entry) => {
      expect(counts.get(file)!.tcp).toBe(tsharkTcpFrames(entry));
    },
  );

  it.each(oracle.map((e) => [e.file] as const))('accounts for every packet of %s exactly once', (file) => {
    const c = counts.get(file)!;
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    expect(c.tcp + c.icmpErrors + c.arp + c.dns + sum(c.skipped) + sum(c.malformed)).toBe(c.packets);
    expect(c.packets).toBeGreaterThan(0);
  });

  it('finds the Teredo-tunnelled IPv6 connection that Zeek logs and tshark does not decode', () => {
    const entry = oracle.find((e) => e.file === 'zeek/tunnels/Teredo.pcap')!;
    const c = counts.get(entry.file)!;
    const tunnelled = entry.zeekConn!.filter((row) => row.tunnel_parents !== undefined && row.tunnel_parents !== '-');
    expect(tunnelled).toHaveLength(1);
    const row = tunnelled[0];
    expect(c.tcpInTeredo).toBe(row.orig_pkts! + row.resp_pkts!);
    expect(c.tcp - c.tcpInTeredo).toBe(tsharkTcpFrames(entry));
    const normalise = (h: string) => formatAddr(parseAddr(h).words, 6);
    expect([...c.teredoEndpoints].sort()).toEqual([`${normalise(row.orig_h)} ${row.orig_p}`, `${normalise(row.resp_h)} ${row.resp_p}`].sort());
  });

  it('finds the TCP segments of the GTP trace that travel in fragmented outer datagrams, as tshark does', () => {
    const entry = oracle.find((e) => e.file === 'zeek/tunnels/gtp/gtp2_different_udp_port.pcap')!;
    const c = counts.get(entry.file)!;
    // Each fragmented datagram is held at its first fragment and decoded at its last.
    expect(c.fragmentedDatagrams.size).toBeGreaterThan(0);
    expect(c.tcpReassembled).toBe(c.fragmentedDatagrams.size);
    expect(c.skipped.get('ip-fragment')).toBe(c.fragmentedDatagrams.size);
    expect(c.tcp).toBe(tsharkTcpFrames(entry));
    expect(c.malformed.size).toBe(0);
  });
});

function tsharkTcpFrames(entry: OracleEntry): number {
  return entry.tcpConversations.reduce((sum, c) => sum + c.aToB.frames + c.bToA.frames, 0);
}
