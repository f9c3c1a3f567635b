import type { PacketView } from './view.js';

/**
 * Verifies the TCP checksum of a fully captured segment (RFC 793 pseudo-header + segment).
 * Returns true when it is right or cannot be checked (snaplen-cut). Captures taken on the sending
 * host often carry wrong checksums because the NIC fills them in later (offload), so this is only
 * used when asked for (Zeek's default; Zeek's -C and tshark skip it).
 */
export function tcpChecksumOk(b: Uint8Array, v: PacketView): boolean {
  if (v.payloadCaptured < v.payloadLen) return true;
  const tcpLen = v.tcpHeaderLen + v.payloadLen;
  let sum = 0;
  const words = v.ipVersion === 6 ? 4 : 1;
  for (let i = 4 - words; i < 4; i++) {
    sum += (v.src[i] >>> 16) + (v.src[i] & 0xffff) + (v.dst[i] >>> 16) + (v.dst[i] & 0xffff);
  }
  sum += 6 + tcpLen;
  const start = v.tcpOff;
  const end = start + tcpLen;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
