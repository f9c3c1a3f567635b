// PPPoE sessions and VXLAN: TCP found inside them, other encapsulations counted as skipped under
// their names. Every case is also written to a pcap and read by tshark, which must find the same
// inner TCP header (or none) where our decoder does.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePcap } from '../../src/capture/writer.js';
import { formatAddr } from '../../src/decode/addr.js';
import { PacketDecoder } from '../../src/decode/decoder.js';
import { DECODED, TUNNEL } from '../../src/decode/view.js';
import { pppoeFrame, tcpFrame, toRecord, udpFrame, vxlanFrame, type Frame, type RecordOptions } from '../helpers/packets.js';
import { hasTool } from '../helpers/tools.js';

const decoder = new PacketDecoder();
function decode(frame: Frame, o: RecordOptions = {}) {
  decoder.decode(toRecord(frame, o));
  return decoder.view;
}

const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-encap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** tshark's innermost TCP ports and payload length per frame ('' when it found no TCP). */
function tsharkTcp(frames: Frame[]): string[] {
  const path = join(dir, `f${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(path, encodePcap(frames.map((f, i) => ({ tsMicros: 1_700_000_000_000_000 + i, data: f.bytes })), { linkType: frames[0].linkType }));
  const out = execFileSync('tshark', ['-r', path, '-n', '-T', 'fields', '-E', 'occurrence=l', '-E', 'separator=|', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.len', '-e', 'ip.src', '-e', 'ipv6.src'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.replace(/\n$/, '').split('\n');
}

/** Our reading in the same form as tsharkTcp. */
function ours(frames: Frame[]): string[] {
  return frames.map((f) => {
    const v = decode(f);
    if (v.kind !== DECODED.TCP) return '||||';
    const addr = formatAddr(v.src, v.ipVersion === 6 ? 6 : 4);
    return `${v.srcPort}|${v.dstPort}|${v.payloadLen}|${v.ipVersion === 4 ? addr : ''}|${v.ipVersion === 6 ? addr : ''}`;
  });
}

const raw = (spec: Parameters<typeof tcpFrame>[0]) => tcpFrame({ ...spec, link: 'raw' }).bytes;

describe('PPPoE session frames', () => {
  const v4 = pppoeFrame(raw({ src: '100.64.1.2', dst: '198.51.100.80', sport: 40000, dport: 443, flags: 'PA', payload: 'hello' }));
  const v6 = pppoeFrame(raw({ src: '2001:db8:1::2', dst: '2001:db8:2::80', sport: 40001, dport: 80, flags: 'S' }));

  it('decodes IPv4 (PPP 0x0021) and IPv6 (PPP 0x0057) inside', () => {
    const a = decode(v4);
    expect([a.kind, formatAddr(a.src, 4), a.srcPort, a.dstPort, a.payloadLen]).toEqual([DECODED.TCP, '100.64.1.2', 40000, 443, 5]);
    const b = decode(v6);
    expect([b.kind, b.ipVersion, formatAddr(b.src, 6), b.dstPort]).toEqual([DECODED.TCP, 6, '2001:db8:1::2', 80]);
  });

  it('reads a protocol-compressed (one-byte) PPP field', () => {
    const packet = raw({ src: '100.64.1.2', dst: '198.51.100.80', sport: 40002, flags: 'S' });
    const frame = pppoeFrame(packet);
    // Drop the leading 0x00 of the protocol field and fix the PPPoE length.
    const bytes = new Uint8Array(frame.bytes.length - 1);
    bytes.set(frame.bytes.subarray(0, 20));
    bytes.set(frame.bytes.subarray(21), 20);
    const len = 1 + packet.length;
    bytes[18] = len >>> 8;
    bytes[19] = len & 0xff;
    expect([decode({ bytes, linkType: frame.linkType }).kind, decoder.view.srcPort]).toEqual([DECODED.TCP, 40002]);
  });

  it('keeps Ethernet padding after the PPPoE length out of the payload', () => {
    const v = decode(pppoeFrame(raw({ src: '100.64.1.2', dst: '198.51.100.80', flags: 'A' })));
    expect([v.kind, v.payloadLen]).toEqual([DECODED.TCP, 0]);
  });

  it('skips PPP control traffic and PPPoE discovery under their names', () => {
    const lcp = pppoeFrame(new Uint8Array([0x01, 0x01, 0x00, 0x04]), { pppProtocol: 0xc021 });
    expect(decode(lcp).skipReason).toBe('pppoe-not-ip');
    const padi = { ...lcp, bytes: lcp.bytes.slice() };
    padi.bytes[12] = 0x88;
    padi.bytes[13] = 0x63;
    padi.bytes[15] = 0x09;
    expect(decode(padi).skipReason).toBe('pppoe-discovery');
  });

  it('is MALFORMED PPPOE_TRUNCATED when the header is cut', () => {
    const v = decode(v4, { snap: 14 + 5 });
    expect([v.kind, v.malformedCode, v.malformedDetail]).toEqual([DECODED.MALFORMED, 'PPPOE_TRUNCATED', 'the PPPoE session header is cut short (5 of 8 bytes)']);
  });

  it.skipIf(!hasTool('tshark'))('reads the same TCP headers as tshark', () => {
    const frames = [v4, v6, pppoeFrame(new Uint8Array([0x01, 0x01, 0x00, 0x04]), { pppProtocol: 0xc021 })];
    expect(ours(frames)).toEqual(tsharkTcp(frames));
  });
});

describe('VXLAN', () => {
  const mirrored = tcpFrame({ src: '10.0.1.5', dst: '10.0.2.9', sport: 51515, dport: 5432, flags: 'PA', payload: 'SELECT 1;' });
  const mirrored6 = tcpFrame({ src: 'fd00::5', dst: 'fd00::9', sport: 51516, dport: 443, flags: 'S', link: 'vlan' });

  it('decodes the inner Ethernet frame of UDP 4789, as traffic mirroring delivers it', () => {
    const v = decode(vxlanFrame(mirrored));
    expect([v.kind, v.tunnelKind, v.tunnelDepth, formatAddr(v.src, 4), formatAddr(v.dst, 4), v.srcPort, v.dstPort, v.payloadLen]).toEqual([
      DECODED.TCP,
      TUNNEL.VXLAN,
      1,
      '10.0.1.5',
      '10.0.2.9',
      51515,
      5432,
      9,
    ]);
    const w = decode(vxlanFrame(mirrored6));
    expect([w.kind, w.ipVersion, w.dstPort]).toEqual([DECODED.TCP, 6, 443]);
  });

  it('decodes port 8472 (the Linux default, flannel) the same way', () => {
    expect(decode(vxlanFrame(mirrored, { dport: 8472 })).srcPort).toBe(51515);
  });

  it('skips a VXLAN header without the VNI flag, and is MALFORMED when the inner header is cut', () => {
    expect(decode(vxlanFrame(mirrored, { flags: 0 })).skipReason).toBe('vxlan-unsupported');
    const v = decode(vxlanFrame(mirrored), { snap: 14 + 20 + 8 + 8 + 10 });
    expect([v.malformedCode, v.malformedDetail]).toEqual(['VXLAN_TRUNCATED', 'the VXLAN header and its inner Ethernet header is cut short (18 of 22 bytes)']);
  });

  it('counts Geneve, VXLAN-GPE and L2TP as skipped under their names, other UDP as udp', () => {
    expect(decode(udpFrame({ sport: 40000, dport: 6081, payload: new Uint8Array(16) })).skipReason).toBe('geneve');
    expect(decode(udpFrame({ sport: 40000, dport: 4790, payload: new Uint8Array(16) })).skipReason).toBe('vxlan-gpe');
    expect(decode(udpFrame({ sport: 1701, dport: 1701, payload: new Uint8Array(16) })).skipReason).toBe('l2tp');
    expect(decode(udpFrame({ sport: 40000, dport: 123, payload: new Uint8Array(48) })).skipReason).toBe('udp');
  });

  it.skipIf(!hasTool('tshark'))('reads the same TCP headers as tshark', () => {
    const frames = [vxlanFrame(mirrored), vxlanFrame(mirrored6), vxlanFrame(mirrored, { flags: 0 })];
    const theirs = tsharkTcp(frames);
    // tshark decodes the VNI-less header anyway (it does not check the I flag); we skip it.
    // The outer header is IPv4 around the IPv6 frame: compare ports and lengths.
    const tcpOnly = (rows: string[]) => rows.map((r) => r.split('|').slice(0, 3).join('|'));
    expect(tcpOnly(ours(frames)).slice(0, 2)).toEqual(tcpOnly(theirs).slice(0, 2));
    expect(ours(frames)[2]).toBe('||||');
  });
});
