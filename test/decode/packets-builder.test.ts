// The frame builder checked by an outside decoder: tshark validates every checksum and must read
// the same fields our decoder reads, so builder and decoder cannot agree on the same mistake.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePcap } from '../../src/capture/writer.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED } from '../../src/decode/view.js';
import { arpFrame, icmpUnreachableFrame, tcpFrame, toRecord, type Frame, type LinkKind } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';


const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-builder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIELDS = ['ip.checksum.status', 'tcp.checksum.status', 'icmp.checksum.status', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.flags', 'tcp.len', 'tcp.options.mss_val', 'ipv6.src', 'ip.src'];

function tsharkFields(frames: Frame[]): string[][] {
  const path = join(dir, `f${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(path, encodePcap(frames.map((f, i) => ({ tsMicros: 1_700_000_000_000_000 + i, data: f.bytes })), { linkType: frames[0].linkType }));
  const args = ['-r', path, '-n', '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=|'];
  for (const f of FIELDS) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split('\n').map((line) => line.split('|'));
}

const CONVERSATION = (link: LinkKind, v6: boolean) => {
  const [a, b] = v6 ? ['2001:db8::10', '2001:db8::20'] : ['192.0.2.10', '192.0.2.20'];
  return [
    tcpFrame({ link, src: a, dst: b, sport: 50000, dport: 8080, seq: 0xffff_fff0, flags: 'S', options: { mss: 1460, sackPerm: true, ts: [1, 0], wscale: 7 } }),
    tcpFrame({ link, src: b, dst: a, sport: 8080, dport: 50000, seq: 77, ack: 0xffff_fff1, flags: 'SA', options: { mss: 1400 } }),
    tcpFrame({ link, src: a, dst: b, sport: 50000, dport: 8080, seq: 0xffff_fff1, ack: 78, flags: 'PA', payload: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' }),
    tcpFrame({ link, src: a, dst: b, sport: 50000, dport: 8080, seq: 0x0000_0010, ack: 78, flags: 'FA', options: { sack: [[1, 2]] } }),
  ];
};

describe.skipIf(!hasTool('tshark'))('test/helpers/packets.ts frames as tshark reads them', () => {
  const links: LinkKind[] = ['ether', 'vlan', 'qinq', 'null', 'loop', 'raw', 'sll', 'sll2'];
  it.each(links.flatMap((link) => [[link, false] as const, [link, true] as const]))('%s (IPv6: %s): checksums good, same fields as our decoder', (link, v6) => {
    const frames = CONVERSATION(link, v6);
    const rows = tsharkFields(frames);
    expect(rows).toHaveLength(frames.length);
    const decoder = new PacketDecoder();
    rows.forEach((row, i) => {
      const [ipSum, tcpSum, , sport, dport, seqRaw, flags, len, mss, ip6src, ip4src] = row;
      if (!v6) expect(ipSum).toBe('1');
      expect(tcpSum).toBe('1');
      expect(decoder.decode(toRecord(frames[i]))).toBe(DECODED.TCP);
      const v = decoder.view;
      expect([Number(sport), Number(dport), Number(seqRaw), Number(flags), Number(len)]).toEqual([v.srcPort, v.dstPort, v.seq, v.flags, v.payloadLen]);
      expect(mss === '' ? -1 : Number(mss)).toBe(v.mss);
      expect(v6 ? ip6src : ip4src).toBe(formatAddr(v.src, v6 ? 6 : 4));
    });
  });

  it('builds ICMP errors and ARP that tshark accepts', () => {
    const icmp = tsharkFields([icmpUnreachableFrame({ quoted: { flags: 'S' } })]);
    expect(icmp[0][0]).toBe('1');
    expect(icmp[0][2]).toBe('1');
    const path = join(dir, 'arp.pcap');
    writeFileSync(path, encodePcap([{ tsMicros: 0, data: arpFrame({ senderIp: '10.1.1.1', targetIp: '10.1.1.2' }).bytes }], { linkType: 1 }));
    const out = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'arp.src.proto_ipv4', '-e', 'arp.dst.proto_ipv4', '-e', 'arp.opcode'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out.trim()).toBe('10.1.1.1\t10.1.1.2\t1');
  });
});
