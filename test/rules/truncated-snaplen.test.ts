import { describe, expect, it } from 'vitest';
import { encodePcap } from '../../src/capture/writer.js';
import { analyzeFile } from '../../src/pipeline.js';
import { writeTempCapture } from '../helpers/capture.js';
import { tcpFrame } from '../helpers/packets.js';

// A record stored shorter than its length on the wire was cut by the capture's snap length only
// when it stops at that length; one that stops short of it was shortened later (a tool that trims
// payloads) or is damaged, and capturing again with a larger snap length would not help.

const T0 = 1_700_000_000_000_000;
const request = tcpFrame({ flags: 'PA', payload: `GET / HTTP/1.1\r\nHost: x\r\n\r\n${'x'.repeat(1300)}` }).bytes;

function verdictOf(snaplen: number, cuts: number[]) {
  const packets = cuts.map((keep, i) => ({ tsMicros: T0 + i, data: request.subarray(0, keep), origLen: request.length }));
  const path = writeTempCapture(encodePcap(packets, { snaplen }), `cut-${snaplen}-${cuts.join('-')}.pcap`);
  const r = analyzeFile(path);
  return r.verdicts.find((v) => v.code === 'truncated-snaplen')!;
}

describe('truncated-snaplen', () => {
  it('a packet stopped at the snap length was cut by it: capture again with -s 0', () => {
    const v = verdictOf(96, [96]);
    expect(v.severity).toBe('warning');
    expect(v.summary).toBe('1 packet of 1 cut by the snap length (96 bytes): payload analysis (HTTP, WebSocket) is partial');
    expect(v.hint).toMatch(/tcpdump -s 0/);
  });

  it('records stopped short of a 65,535-byte snap length were cut by a smaller limit, trimmed or damaged', () => {
    const v = verdictOf(65_535, [80, 80]);
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ truncatedPackets: 2, truncatedBelowSnaplen: 2, payloadCutPackets: 2, snaplen: 65_535 });
    expect(v.summary).toBe("2 packets of 2 stored shorter than their length on the wire and than the file's snap length (65535 bytes): cut by a smaller limit than the file says, trimmed after the capture, or damaged; 2 TCP packets lost payload, so payload analysis (HTTP, WebSocket) is partial");
  });

  it('a record short only of what lies past the IP packet, or too short to decode, lost no payload: info', () => {
    // The frame check sequence counted in the length on the wire but not stored; and a record of 4 bytes.
    const packets = [{ tsMicros: T0, data: request, origLen: request.length + 4 }, { tsMicros: T0 + 1, data: request.subarray(0, 4), origLen: 60 }];
    const r = analyzeFile(writeTempCapture(encodePcap(packets, { snaplen: 65_535 }), 'fcs.pcap'));
    const v = r.verdicts.find((x) => x.code === 'truncated-snaplen')!;
    expect(v.severity).toBe('info');
    expect(v.facts).toMatchObject({ truncatedPackets: 2, payloadCutPackets: 0 });
    expect(v.summary).toMatch(/^2 packets of 2 stored shorter than their length on the wire, but no TCP payload is missing from them/);
    expect(r.capture.malformed).toBe(1);
  });

  it('records cut inside the TCP header could not be analysed: a warning, not "no payload is missing"', () => {
    // tcpdump -s 40: Ethernet (14) and IPv4 (20) headers, then 6 of the TCP header's 20 bytes.
    const v = verdictOf(40, [40, 40]);
    expect(v.severity).toBe('warning');
    expect(v.facts).toMatchObject({ truncatedPackets: 2, payloadCutPackets: 0, headerCutPackets: 2 });
    expect(v.summary).toBe('2 packets of 2 stored shorter than their length on the wire; the TCP header of 2 packets is cut (snap length 40 bytes), so they could not be analysed (counted as malformed)');
    expect(v.hint).toMatch(/tcpdump -s 0/);
  });

  it('both kinds in one file: the cuts at the snap length lead, the others are counted beside them', () => {
    const v = verdictOf(96, [96, 60, request.length]);
    expect(v.facts).toMatchObject({ truncatedPackets: 2, truncatedBelowSnaplen: 1 });
    expect(v.summary).toBe('1 packet of 3 cut by the snap length (96 bytes): payload analysis (HTTP, WebSocket) is partial; 1 more stored shorter than the snap length (cut by a smaller limit, trimmed after the capture, or damaged)');
  });
});
