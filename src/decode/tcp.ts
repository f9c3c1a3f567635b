// TCP header and options. Payload lengths come from the IP length (cur.wireEnd), captured bytes
// from cur.end, so a packet cut by the snap length is still a normal segment with less payload.

import { u16, u32 } from './bytes.js';
import type { Cursor } from './cursor.js';
import { TCP, TCP_OPT } from './layout.js';
import { MALFORMED, STATUS, markMalformed } from './status.js';
import type { DecodeStatus } from './status.js';
import { DECODED } from './view.js';
import type { PacketView } from './view.js';

export function decodeTcp(b: Uint8Array, cur: Cursor, v: PacketView): DecodeStatus {
  const off = cur.off;
  const captured = cur.end - off;
  if (captured < TCP.MIN_LEN) {
    return markMalformed(v, MALFORMED.TCP_TRUNCATED, off, cur.packetStart, captured < 0 ? 0 : captured, TCP.MIN_LEN);
  }
  const headerLen = (b[off + TCP.DATA_OFF] >> 4) * 4;
  const segmentLen = cur.wireEnd - off;
  if (headerLen < TCP.MIN_LEN) {
    return markMalformed(v, MALFORMED.TCP_BAD_DATA_OFFSET, off, cur.packetStart, headerLen, TCP.MIN_LEN);
  }
  if (headerLen > segmentLen) {
    return markMalformed(v, MALFORMED.TCP_BAD_DATA_OFFSET, off, cur.packetStart, headerLen, segmentLen);
  }

  v.kind = DECODED.TCP;
  v.tcpOff = off;
  v.tcpHeaderLen = headerLen;
  v.srcPort = u16(b, off + TCP.SRC_PORT);
  v.dstPort = u16(b, off + TCP.DST_PORT);
  v.seq = u32(b, off + TCP.SEQ);
  v.ack = u32(b, off + TCP.ACK);
  v.flags = b[off + TCP.FLAGS];
  v.window = u16(b, off + TCP.WINDOW);
  const payloadOff = off + headerLen;
  v.payloadOff = payloadOff;
  v.payloadLen = cur.wireEnd - payloadOff;
  v.payloadCaptured = cur.end > payloadOff ? cur.end - payloadOff : 0;

  // Options cut by the snap length are read as far as they were captured.
  const optionsEnd = payloadOff < cur.end ? payloadOff : cur.end;
  decodeTcpOptions(b, off + TCP.MIN_LEN, optionsEnd, payloadOff, v);
  return STATUS.OK;
}

/**
 * Reads options in [off, capturedEnd); headerEnd is where the data offset says they stop.
 * An option running past headerEnd (or with length < 2) sets tcpOptionsBad and stops the walk;
 * one running past capturedEnd only stops it.
 */
export function decodeTcpOptions(b: Uint8Array, off: number, capturedEnd: number, headerEnd: number, v: PacketView): void {
  let p = off;
  while (p < capturedEnd) {
    const kind = b[p];
    if (kind === TCP_OPT.EOL) return;
    if (kind === TCP_OPT.NOP) {
      p++;
      continue;
    }
    if (p + 1 >= capturedEnd) return;
    const len = b[p + 1];
    if (len < 2 || p + len > headerEnd) {
      v.tcpOptionsBad = true;
      return;
    }
    if (p + len > capturedEnd) return;
    switch (kind) {
      case TCP_OPT.MSS:
        if (len === TCP_OPT.MSS_LEN) v.mss = u16(b, p + 2);
        break;
      case TCP_OPT.WSCALE:
        if (len === TCP_OPT.WSCALE_LEN) v.wscale = b[p + 2];
        break;
      case TCP_OPT.SACK_PERMITTED:
        v.sackPermitted = true;
        break;
      case TCP_OPT.SACK: {
        let blocks = ((len - 2) / TCP_OPT.SACK_BLOCK_LEN) | 0;
        if (blocks > TCP_OPT.MAX_SACK_BLOCKS) blocks = TCP_OPT.MAX_SACK_BLOCKS;
        for (let i = 0; i < blocks; i++) {
          v.sackBlocks[2 * i] = u32(b, p + 2 + i * TCP_OPT.SACK_BLOCK_LEN);
          v.sackBlocks[2 * i + 1] = u32(b, p + 6 + i * TCP_OPT.SACK_BLOCK_LEN);
        }
        v.sackCount = blocks;
        break;
      }
      case TCP_OPT.TIMESTAMPS:
        if (len === TCP_OPT.TIMESTAMPS_LEN) {
          v.hasTimestamps = true;
          v.tsVal = u32(b, p + 2);
          v.tsEcr = u32(b, p + 6);
        }
        break;
      case TCP_OPT.FAST_OPEN:
        v.tfoCookieLen = len - 2;
        break;
      case TCP_OPT.EXPERIMENTAL:
        if (len >= 4 && u16(b, p + 2) === TCP_OPT.TFO_EXPERIMENTAL_MAGIC) v.tfoCookieLen = len - 4;
        break;
    }
    p += len;
  }
}
