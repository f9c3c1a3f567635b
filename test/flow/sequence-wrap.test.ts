// A connection that carries more than 4 GiB one way: its sequence numbers wrap around 2^32 at least
// once, and every byte count taken from them must still be right. The capture keeps only the
// headers (tcpdump -s 54), as bulk-transfer captures usually are, so the test holds no payload.
import { describe, expect, it } from 'vitest';
import type { CaptureInfo } from '../../src/capture/record.js';
import { Analyzer, type AnalysisResult } from '../../src/pipeline.js';
import { tcpFrame, toRecord, type TcpSpec } from '../helpers/packets.js';

const CLIENT = { ip: '10.0.0.1', port: 51000 };
const SERVER = { ip: '10.0.0.2', port: 80 };
const SEGMENT = 65_000; // a TSO-sized segment, as a capture on the sending host shows it
const HEADERS = 14 + 20 + 20;
const BASE_MICROS = 1_700_000_000_000_000;

/**
 * An HTTP download of `segments` full body segments after the response head, the client
 * acknowledging every second one; then a small exchange, and both close.
 */
function bulkDownload(segments: number): AnalysisResult {
  const analyzer = new Analyzer({ file: 'bulk.pcap' });
  let no = 0;
  let t = 0;
  const cIsn = 0x1000_0000;
  const sIsn = 0xf000_0000; // wraps during the first 256 MiB as well
  const send = (spec: TcpSpec, payloadLength = 0): void => {
    const fromClient = spec.src === CLIENT.ip;
    const frame = tcpFrame({
      src: fromClient ? CLIENT.ip : SERVER.ip,
      dst: fromClient ? SERVER.ip : CLIENT.ip,
      sport: fromClient ? CLIENT.port : SERVER.port,
      dport: fromClient ? SERVER.port : CLIENT.port,
      window: 65535,
      ...spec,
    });
    const record = toRecord(frame, { no: ++no, tsMicros: BASE_MICROS + Math.round(t * 1e6), snap: payloadLength > 0 ? HEADERS : undefined });
    if (payloadLength > 0) {
      // The wire packet held the payload; the capture kept the headers only.
      const ipTotal = 20 + 20 + payloadLength;
      record.bytes[record.off + 16] = ipTotal >> 8;
      record.bytes[record.off + 17] = ipTotal & 0xff;
      record.origLen = HEADERS + payloadLength;
    }
    analyzer.onRecord(record);
  };
  let cSeq = cIsn;
  let sSeq = sIsn;
  send({ src: CLIENT.ip, flags: 'S', seq: cSeq, options: { mss: 1460, wscale: 7, sackPerm: true } });
  t += 0.0001;
  send({ src: SERVER.ip, flags: 'SA', seq: sSeq, ack: cSeq + 1, options: { mss: 1460, wscale: 7, sackPerm: true } });
  cSeq = (cSeq + 1) >>> 0;
  sSeq = (sSeq + 1) >>> 0;
  t += 0.0001;
  send({ src: CLIENT.ip, flags: 'A', seq: cSeq, ack: sSeq });
  const request = 'GET /backup.tar HTTP/1.1\r\nHost: files\r\n\r\n';
  send({ src: CLIENT.ip, flags: 'PA', seq: cSeq, ack: sSeq, payload: request });
  cSeq = (cSeq + request.length) >>> 0;
  const head = `HTTP/1.1 200 OK\r\nContent-Length: ${segments * SEGMENT}\r\n\r\n`;
  t += 0.001;
  send({ src: SERVER.ip, flags: 'PA', seq: sSeq, ack: cSeq, payload: head });
  sSeq = (sSeq + head.length) >>> 0;
  for (let i = 0; i < segments; i++) {
    t += 0.00005;
    send({ src: SERVER.ip, flags: 'A', seq: sSeq, ack: cSeq }, SEGMENT);
    sSeq = (sSeq + SEGMENT) >>> 0;
    if (i % 2 === 1 || i === segments - 1) send({ src: CLIENT.ip, flags: 'A', seq: cSeq, ack: sSeq });
  }
  // A second exchange on the same connection, placed in each stream after the first.
  const second = 'GET /done HTTP/1.1\r\nHost: files\r\n\r\n';
  t += 0.001;
  send({ src: CLIENT.ip, flags: 'PA', seq: cSeq, ack: sSeq, payload: second });
  cSeq = (cSeq + second.length) >>> 0;
  const noContent = 'HTTP/1.1 204 No Content\r\n\r\n';
  send({ src: SERVER.ip, flags: 'PA', seq: sSeq, ack: cSeq, payload: noContent });
  sSeq = (sSeq + noContent.length) >>> 0;
  send({ src: CLIENT.ip, flags: 'A', seq: cSeq, ack: sSeq });
  t += 0.001;
  send({ src: SERVER.ip, flags: 'FA', seq: sSeq, ack: cSeq });
  send({ src: CLIENT.ip, flags: 'FA', seq: cSeq, ack: (sSeq + 1) >>> 0 });
  send({ src: SERVER.ip, flags: 'A', seq: (sSeq + 1) >>> 0, ack: (cSeq + 1) >>> 0 });
  const info: CaptureInfo = { file: 'bulk.pcap', format: 'pcap', linkTypes: [1], snaplen: HEADERS, packets: no, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false };
  return analyzer.finish(info);
}

describe('sequence numbers past 2^32 on one connection', () => {
  const segments = 70_000; // 4.55 GB, past 2^32 from the server's ISN
  const body = segments * SEGMENT;
  const result = bulkDownload(segments);
  const flow = result.flows[0];
  const request = 'GET /backup.tar HTTP/1.1\r\nHost: files\r\n\r\n'.length;
  const download = `HTTP/1.1 200 OK\r\nContent-Length: ${body}\r\n\r\n`.length + body;
  const clientTotal = request + 'GET /done HTTP/1.1\r\nHost: files\r\n\r\n'.length;
  const total = download + 'HTTP/1.1 204 No Content\r\n\r\n'.length;

  it('counts every byte the server sent', () => {
    expect(total).toBeGreaterThan(2 ** 32);
    expect(flow.serverSide.seqBytes).toBe(total);
    expect(flow.clientSide.seqBytes).toBe(clientTotal);
  });

  it('follows the body to its end and places the next answer past 4 GiB into the stream', () => {
    const [first, next] = flow.app!.http;
    expect(first.response).toMatchObject({ status: 200, complete: true, streamOffset: 0 });
    expect(next.request).toMatchObject({ target: '/done', streamOffset: request });
    expect(next.response).toMatchObject({ status: 204, complete: true, streamOffset: download });
  });

  it("reads the client's FIN as acknowledging the whole download", () => {
    expect(flow.clientSide.finAckedBytes).toBe(total + 1);
    expect(flow.verdicts.filter((v) => v.severity !== 'info').map((v) => v.code)).toEqual([]);
  });

  it('between 2 and 4 GiB as well', () => {
    const mid = bulkDownload(40_000).flows[0]; // 2.6 GB
    const midTotal = `HTTP/1.1 200 OK\r\nContent-Length: ${40_000 * SEGMENT}\r\n\r\n`.length + 40_000 * SEGMENT + 'HTTP/1.1 204 No Content\r\n\r\n'.length;
    expect(mid.serverSide.seqBytes).toBe(midTotal);
    expect(mid.clientSide.finAckedBytes).toBe(midTotal + 1);
  });
});
