import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfProgram, BpfProgramError } from '../../src/capture/bpf.js';
import { CaptureFilter, CaptureFilterError, compileWithTcpdump } from '../../src/capture/capture-filter.js';
import { readCaptureFileSync } from '../../src/capture/open.js';
import { LINKTYPE } from '../../src/capture/record.js';
import { encodePcap, encodePcapng } from '../../src/capture/writer.js';
import { collectRecords, writeTempCapture, type CollectedRecord } from '../helpers/capture.js';
import { useCorpus } from '../helpers/corpus.js';
import { tcpFrame } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';

// The interpreter is checked against libpcap itself: for captures of every link type tcpwhy reads,
// the packets a compiled filter keeps must be exactly the ones `tcpdump -r FILE -w - EXPR` writes.

const corpus = useCorpus('corpus', { tools: ['tcpdump'] });
const corpus2 = useCorpus('corpus2', { tools: ['tcpdump'] });
const TCPDUMP = hasTool('tcpdump');
if (!TCPDUMP) console.log('skipped the tests of test/capture/bpf.test.ts that compile filters: tcpdump not installed');
const withTcpdump = TCPDUMP ? describe : describe.skip;

/** Expressions that exercise every kind of instruction libpcap emits for them. */
const EXPRESSIONS = [
  'tcp',
  'tcp port 80 or tcp port 443',
  'ip6 or arp',
  "tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0",
  // Payload length: ALU on the IP and TCP header lengths, scratch memory.
  'tcp and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) != 0',
  // An HTTP request: a load at an offset computed from the TCP header length.
  "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420 or tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x48545450",
  'greater 600 and not udp',
  'vlan or (net 10.0.0.0/8 and less 100)',
  'ip[8] < 64 or ip6[7] < 64',
  'udp port 53 or icmp or icmp6',
  // A byte of the UDP payload (a BOOTP request), or the wire length of a packet the snap length cut.
  'udp[8] = 1 or (udp and greater 320)',
];

/** Packet numbers of `records` (one interface's, in order) that tcpdump's own selection holds. */
function matchSelection(records: CollectedRecord[], selected: CollectedRecord[]): number[] {
  const kept: number[] = [];
  let i = 0;
  for (const s of selected) {
    while (i < records.length && !sameRecord(records[i], s)) i++;
    if (i === records.length) throw new Error(`tcpdump wrote a packet (${s.origLen} bytes at ${s.tsMicros}) not found in order in the input`);
    kept.push(records[i++].no);
  }
  return kept;
}

/** Same bytes and wire length (times may not survive a split: pcapng-example's second interface has stamps past 2^64 µs). */
function sameRecord(a: CollectedRecord, b: CollectedRecord): boolean {
  if (a.origLen !== b.origLen || a.data.length !== b.data.length) return false;
  for (let k = 0; k < a.data.length; k++) if (a.data[k] !== b.data[k]) return false;
  return true;
}

/** What tcpdump keeps of a file it can read: its records re-read, or null when libpcap refused the expression. */
function tcpdumpSelection(path: string, expression: string): CollectedRecord[] | null {
  const r = spawnSync('tcpdump', ['-r', path, '-w', '-', '--', expression], { maxBuffer: 1 << 28 });
  if (r.status !== 0) return null;
  return collectRecords(new Uint8Array(r.stdout)).records;
}

/**
 * The packet numbers tcpdump keeps, per interface: libpcap reads a pcapng file only when all its
 * interfaces share a link type and snap length, so a file it cannot read is split into one pcap
 * per interface first. `refused` lists the interfaces whose link type libpcap refused the expression for.
 */
function tcpdumpKeeps(path: string, records: CollectedRecord[], expression: string): { kept: number[]; refused: number[] } {
  const readable = spawnSync('tcpdump', ['-r', path, '-w', '/dev/null'], { stdio: 'ignore' }).status === 0;
  const byInterface = new Map<number, CollectedRecord[]>();
  for (const r of records) {
    const id = readable ? 0 : r.interfaceId;
    byInterface.set(id, [...(byInterface.get(id) ?? []), r]);
  }
  const kept: number[] = [];
  const refused: number[] = [];
  for (const [id, recs] of byInterface) {
    const file = readable
        ? path
        : writeTempCapture(encodePcap(recs.map((r) => ({ tsMicros: r.tsMicros, data: r.data, origLen: r.origLen })), { linkType: recs[0].linkType, snaplen: 262144 }), `iface${id}.pcap`);
    const selected = tcpdumpSelection(file, expression);
    if (selected === null) refused.push(id);
    else kept.push(...matchSelection(recs, selected));
  }
  return { kept: kept.sort((a, b) => a - b), refused };
}

/** What tcpwhy keeps, or 'refused' when the expression does not compile for the capture's first link type. */
function tcpwhyKeeps(path: string, expression: string): { kept: number[]; uncompiledLinkTypes: number[] } | 'refused' {
  const filter = new CaptureFilter(expression);
  const kept: number[] = [];
  try {
    readCaptureFileSync(path, (rec) => {
      if (filter.accepts(rec)) kept.push(rec.no);
    });
  } catch (err) {
    if (err instanceof CaptureFilterError && err.reason === 'bad-expression') return 'refused';
    throw err;
  }
  return { kept, uncompiledLinkTypes: filter.uncompiled.map((u) => u.linkType) };
}

function agreeOn(path: string): void {
  const { records } = collectRecords(new Uint8Array(readFileSync(path)));
  let partial = 0;
  for (const expression of EXPRESSIONS) {
    const ours = tcpwhyKeeps(path, expression);
    const theirs = tcpdumpKeeps(path, records, expression);
    if (ours === 'refused') {
      // Refused for the first packet's link type: tcpdump refuses it for that interface too.
      expect(theirs.refused.length, expression).toBeGreaterThan(0);
      continue;
    }
    expect(ours.kept, expression).toEqual(theirs.kept);
    const refusedLinkTypes = [...new Set(theirs.refused.map((id) => records.find((r) => r.interfaceId === id)!.linkType))];
    expect(ours.uncompiledLinkTypes.sort(), expression).toEqual(refusedLinkTypes.sort());
    if (ours.kept.length > 0 && ours.kept.length < records.length) partial++;
  }
  // Some expressions select something and leave something out, so the comparison says something.
  expect(partial).toBeGreaterThanOrEqual(1);
}

const CAPTURES: Array<[typeof corpus, string, string]> = [
  [corpus, 'ppa/ppa3/http_espn_fail.pcapng', 'Ethernet (pcapng)'],
  [corpus, 'ppa/ppa3/http_ip4and6.pcapng', 'Ethernet, IPv4 and IPv6'],
  [corpus2, 'fpcap/linux-cooked-unsw-nb15.pcap', 'Linux cooked (SLL)'],
  [corpus2, 'ndn-tools/linux-sll-tcp6.pcap', 'Linux cooked (SLL), IPv6'],
  [corpus2, 'filesamples/simple_http_sll2.pcap', 'Linux cooked v2 (SLL2)'],
  [corpus2, 'ndpi/ocs.pcap', 'raw IP'],
  [corpus, 'zeek/tcp-syslog.pcap', 'raw IPv4 (link type 228)'],
  [corpus2, 'gopacket/test_loopback.pcap', 'BSD loopback (null)'],
  [corpus, 'misc/onewesong-websocket_test/websocket.pcap', 'BSD loopback (null), pcapng'],
  [corpus2, 'libtrace/vlan.pcap', 'VLAN-tagged Ethernet'],
  [corpus, 'zeek/mixed-vlan-mpls.pcap', 'VLAN and MPLS'],
  [corpus2, 'gopacket/test006.pcapng', 'pcapng: Ethernet and loopback interfaces, snap length 96'],
  [corpus2, 'fpcap/pcapng-example.pcapng', 'pcapng: Ethernet and Linux cooked interfaces'],
  [corpus, 'zeek/ldap/gap-data-missing.pcapng', 'pcapng: many interfaces of three link types'],
];

describe('the BPF interpreter keeps the packets tcpdump keeps', () => {
  for (const [c, file, what] of CAPTURES) {
    c.it(`${what}: ${file}`, () => agreeOn(c.path(file)));
  }
});

withTcpdump('filters on writer-built captures', () => {
  const syn = (len: number) => tcpFrame({ flags: 'S', payload: new Uint8Array(len) }).bytes;

  it('a packet the snap length cut is judged on its captured bytes and its length on the wire', () => {
    const full = syn(1200);
    // Cut after the IP header: 'greater' reads the wire length; a TCP field load past the captured bytes rejects.
    const cut = full.subarray(0, 14 + 20 + 4);
    const path = writeTempCapture(encodePcap([{ tsMicros: 1e15, data: cut, origLen: full.length }, { tsMicros: 1e15 + 1, data: full }]), 'cut.pcap');
    const { records } = collectRecords(new Uint8Array(readFileSync(path)));
    for (const expression of ['greater 1000', 'len < 100', 'tcp[13] & 2 != 0', 'tcp dst port 80', 'tcp[20:4] = 0']) {
      const ours = tcpwhyKeeps(path, expression);
      expect(ours, expression).not.toBe('refused');
      expect((ours as { kept: number[] }).kept, expression).toEqual(tcpdumpKeeps(path, records, expression).kept);
    }
    expect((tcpwhyKeeps(path, 'greater 1000') as { kept: number[] }).kept).toEqual([1, 2]);
    expect((tcpwhyKeeps(path, 'tcp[13] & 2 != 0') as { kept: number[] }).kept).toEqual([2]);
  });

  it('a link type met later that the expression does not apply to filters its packets out', () => {
    const frame = syn(10);
    const bytes = encodePcapng(
      [
        { tsMicros: 1e15, data: frame, interfaceId: 0 },
        { tsMicros: 1e15 + 1, data: frame.subarray(14), interfaceId: 1 },
      ],
      { interfaces: [{ linkType: LINKTYPE.ETHERNET }, { linkType: LINKTYPE.RAW }] },
    );
    const path = writeTempCapture(bytes, 'two-link-types.pcapng');
    const filter = new CaptureFilter('ether host 02:00:00:00:00:01 or ether broadcast or tcp');
    const kept: number[] = [];
    readCaptureFileSync(path, (rec) => {
      if (filter.accepts(rec)) kept.push(rec.no);
    });
    expect(kept).toEqual([1]);
    expect(filter.uncompiled).toEqual([expect.objectContaining({ linkType: LINKTYPE.RAW, packets: 1, firstPacket: 2 })]);
    expect(filter.uncompiled[0].message).toMatch(/^bad capture filter .* for link type RAW \(Raw IP\): ethernet addresses supported only on/);
  });

  it('a bad expression is refused with libpcap\'s words', () => {
    expect(() => compileWithTcpdump('tcp portt 80', LINKTYPE.ETHERNET)).toThrow("bad capture filter 'tcp portt 80' for link type EN10MB (Ethernet): can't parse filter expression: syntax error");
  });

  it('no tcpdump: the message says what to install', () => {
    let err: unknown;
    try {
      compileWithTcpdump('tcp', LINKTYPE.ETHERNET, '/nonexistent/tcpdump');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CaptureFilterError);
    expect((err as CaptureFilterError).reason).toBe('no-compiler');
    expect((err as Error).message).toContain('apt-get install tcpdump');
  });
});

describe('BpfProgram', () => {
  const bytes = Uint8Array.from([0x45, 0x00, 0x00, 0x54, 0xab, 0xcd, 0xef, 0x01]);
  const run = (insns: Array<[number, number, number, number]>, caplen = bytes.length, wirelen = 100) => new BpfProgram(insns).run(bytes, 0, caplen, wirelen);

  it('loads words, halves and bytes big-endian, and the wire length', () => {
    expect(run([[0x20, 0, 0, 4], [0x16, 0, 0, 0]])).toBe(0xabcdef01); // ld [4]; ret a
    expect(run([[0x28, 0, 0, 2], [0x16, 0, 0, 0]])).toBe(0x54); // ldh [2]
    expect(run([[0x30, 0, 0, 7], [0x16, 0, 0, 0]])).toBe(0x01); // ldb [7]
    expect(run([[0x80, 0, 0, 0], [0x16, 0, 0, 0]])).toBe(100); // ld len
  });

  it('rejects a load past the captured bytes, absolute or indexed', () => {
    expect(run([[0x20, 0, 0, 5], [0x06, 0, 0, 1]])).toBe(0); // ld [5]: 5 + 4 > 8
    expect(run([[0x30, 0, 0, 7], [0x06, 0, 0, 1]], 7)).toBe(0); // ldb [7] of 7 captured bytes
    expect(run([[0x28, 0, 0, 7], [0x06, 0, 0, 1]])).toBe(0); // ldh [7]: its second byte is past the 8
    expect(run([[0x28, 0, 0, 6], [0x06, 0, 0, 1]])).toBe(1); // ldh [6] fits
    expect(run([[0x01, 0, 0, 6], [0x48, 0, 0, 1], [0x06, 0, 0, 1]])).toBe(0); // ldx #6; ldh [x + 1]
    expect(run([[0x01, 0, 0, 6], [0x48, 0, 0, 0], [0x16, 0, 0, 0]])).toBe(0xef01); // ldh [x + 0]
    expect(run([[0x01, 0, 0, 0xffffffff], [0x50, 0, 0, 2], [0x06, 0, 0, 1]])).toBe(0); // no wrap-around of x + k
    expect(run([[0xb1, 0, 0, 8], [0x06, 0, 0, 1]])).toBe(0); // ldxb 4*([8]&0xf)
  });

  it('computes the IP header length, uses scratch memory and unsigned arithmetic', () => {
    // ldxb 4*([0]&0xf); stx M[3]; ld #1; sub #2; st M[0]; ldx M[3]; txa; ret a
    expect(run([[0xb1, 0, 0, 0], [0x03, 0, 0, 3], [0x00, 0, 0, 1], [0x14, 0, 0, 2], [0x02, 0, 0, 0], [0x61, 0, 0, 3], [0x87, 0, 0, 0], [0x16, 0, 0, 0]])).toBe(20);
    expect(run([[0x00, 0, 0, 1], [0x14, 0, 0, 2], [0x16, 0, 0, 0]])).toBe(0xffffffff); // 1 - 2 wraps
    expect(run([[0x00, 0, 0, 0x80000000], [0x24, 0, 0, 2], [0x16, 0, 0, 0]])).toBe(0); // mul wraps
    expect(run([[0x00, 0, 0, 7], [0x01, 0, 0, 0], [0x3c, 0, 0, 0], [0x06, 0, 0, 1]])).toBe(0); // div by x = 0 rejects
    expect(run([[0x00, 0, 0, 1], [0x01, 0, 0, 40], [0x6c, 0, 0, 0], [0x16, 0, 0, 0]])).toBe(0); // a << 40 is 0
    expect(run([[0x00, 0, 0, 5], [0x84, 0, 0, 0], [0x16, 0, 0, 0]])).toBe(0xfffffffb); // neg
  });

  it('jumps on unsigned comparisons', () => {
    // ld #0xffffffff; jgt #1, +1; ret #0; ret #1
    expect(run([[0x00, 0, 0, 0xffffffff], [0x25, 0, 1, 1], [0x06, 0, 0, 7], [0x06, 0, 0, 9]])).toBe(7);
    // ld #6; jset #2, +0, +1 -> ret #7; ja +1 skips ret #8
    expect(run([[0x00, 0, 0, 6], [0x45, 0, 1, 2], [0x05, 0, 0, 1], [0x06, 0, 0, 8], [0x06, 0, 0, 7]])).toBe(7);
  });

  it('refuses what libpcap would not run', () => {
    expect(() => new BpfProgram([])).toThrow(BpfProgramError);
    expect(() => new BpfProgram([[0x15, 0, 5, 1], [0x06, 0, 0, 0]])).toThrow(/jumps past the end/);
    expect(() => new BpfProgram([[0x02, 0, 0, 16], [0x06, 0, 0, 0]])).toThrow(/scratch memory index 16/);
    expect(() => new BpfProgram([[0x34, 0, 0, 0], [0x06, 0, 0, 0]])).toThrow(/division by 0/);
    expect(() => new BpfProgram([[0x00, 0, 0, 0]])).toThrow(/does not return/);
    expect(() => new BpfProgram([[0xff, 0, 0, 0], [0x06, 0, 0, 0]])).toThrow(/unknown opcode/);
    expect(() => BpfProgram.parse('2\n6 0 0 1\n')).toThrow(/expected a count line/);
  });
});
