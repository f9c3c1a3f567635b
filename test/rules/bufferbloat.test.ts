// Bufferbloat: a bulk transfer that fills a deep queue on the path. Its ACK round trip climbs from
// the floor while the ACKs keep coming, and the bytes it has in flight, drained at the rate the path
// delivers, take as long as the rise. A receiver slow to acknowledge, delayed ACKs and a fast path
// without a queue do not look so.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

const MSS = 1448;

/**
 * A download in slow start through a bottleneck of `rate` bytes/s with a queue as deep as it needs,
 * on a path of `rtt` s, captured at the server. The client acknowledges every segment as it arrives,
 * but holds every ACK due between `pauseFrom` and `pauseFrom + pauseFor` until the pause ends (a
 * stalled receiver).
 */
function download({ rate = 125_000, rtt = 0.02, bytes = 100_000, pauseFrom = -1, pauseFor = 0 } = {}) {
  const segments = Math.ceil(bytes / MSS);
  const events: Array<{ t: number; data?: number; acked?: number }> = [];
  const acks: Array<{ t: number; acked: number }> = [];
  let sent = 0;
  let acked = 0;
  let cwnd = 10;
  let linkFree = 0;
  const sendAt = (t: number) => {
    for (; sent < segments && sent - acked < cwnd; sent++, t += 0.000001) {
      events.push({ t, data: sent });
      linkFree = Math.max(linkFree, t + rtt / 2) + MSS / rate;
      let ackT = linkFree + rtt / 2;
      if (pauseFrom >= 0 && ackT >= pauseFrom && ackT < pauseFrom + pauseFor) ackT = pauseFrom + pauseFor;
      acks.push({ t: ackT, acked: sent + 1 });
    }
  };
  sendAt(0.01);
  for (let i = 0; i < acks.length; i++) {
    events.push({ t: acks[i].t, acked: acks[i].acked });
    acked = acks[i].acked;
    cwnd++;
    sendAt(acks[i].t + 0.000002);
  }
  events.sort((x, y) => x.t - y.t);
  const c = conv({ client: '10.5.0.1:52000', server: '10.5.0.2:80' }).handshake(0, rtt);
  c.client('PA', rtt + 0.0001, 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  const start = c.s.next;
  const payload = 'b'.repeat(MSS);
  const base = rtt + 0.001;
  for (const e of events) {
    if (e.data !== undefined) c.server('A', base + e.t, payload, { seq: (start + e.data * MSS) >>> 0 });
    else c.client('A', base + e.t, '', { ack: (start + e.acked! * MSS) >>> 0 });
  }
  const end = base + events[events.length - 1].t;
  c.client('FA', end + 0.01, '', { ack: (start + segments * MSS) >>> 0 }).server('FA', end + 0.011, '', { seq: (start + segments * MSS) >>> 0 });
  return analyzeConversation(c).flows[0].verdicts.find((v) => v.code === 'bufferbloat');
}

describe('bufferbloat', () => {
  it('is named in a capture of a download through a 1 Mbit/s shaper with a 1 MB queue', () => {
    const { flows } = analyzeFile(sample('bufferbloat.pcap'));
    const v = flows[0].verdicts.find((x) => x.code === 'bufferbloat');
    expect(v?.severity).toBe('warning');
    // tshark: tcp.analysis.ack_rtt of the server's data is 3 us at its least (#13) and 308.6 ms at
    // its most (#80, 0.42 s later); tcp.analysis.bytes_in_flight reaches 36,874; the ACKs of #13
    // and #80 are 54,250 bytes apart, 129 KB/s.
    expect(v?.facts).toMatchObject({ sender: 'server', floorPacket: 13, peakPacket: 80, peakRttMs: 308.584 });
    expect(v?.facts.inFlightBytes).toBeGreaterThan(30_000);
    expect(v?.summary).toMatch(/^the round trip of the server's data rose from under 0\.01 ms \(#13\) to 309 ms \(#80, 421 ms later\) while the client's ACKs kept coming \(never more than \d+ ms apart\) and the server had up to [\d,]+ bytes in flight, delivered at 129 KB\/s \(1\.0 Mbit\/s\): those bytes take \d+ ms to drain at that rate, about the rise, so they waited in a queue on the path that this transfer kept full \(bufferbloat\)$/);
    expect(v?.hint).toMatch(/fq_codel or cake/);
  });

  it('is told of a transfer whose bytes in flight grow in a queue at the bottleneck, and not of the same transfer on a path without one', () => {
    const v = download();
    expect(v?.facts).toMatchObject({ sender: 'server' });
    expect(v!.facts.peakRttMs as number).toBeGreaterThan(300);
    // 100 Mbit/s: the link keeps up with the window, no queue builds.
    expect(download({ rate: 12_500_000 })).toBeUndefined();
  });

  it('is not told of a receiver that stops acknowledging for a while (its RTT sample is its pause)', () => {
    // No queue; the client holds its ACKs for 600 ms with the window of data in flight.
    expect(download({ rate: 12_500_000, bytes: 300_000, pauseFrom: 0.05, pauseFor: 0.6 })).toBeUndefined();
  });

  it('is not told of a receiver whose delayed ACKs (200 ms, as Windows may) make the round trip of a trickle rise', () => {
    // The server writes a segment every 300 ms; the client acknowledges the first ones at once and
    // the rest 200 ms late. The positive control is the download above.
    const c = conv({ client: '10.5.0.1:52000', server: '10.5.0.2:80' }).handshake(0, 0.02).client('PA', 0.03, 'SUBSCRIBE\r\n');
    for (let k = 0; k < 20; k++) {
      const t = 0.05 + k * 0.3;
      c.server('PA', t, 'e'.repeat(200)).client('A', t + (k < 5 ? 0.02 : 0.22));
    }
    c.client('FA', 7).server('FA', 7.01).client('A', 7.03);
    expect(analyzeConversation(c).flows[0].verdicts.map((v) => v.code)).not.toContain('bufferbloat');
  });

  it('takes no round trip from an ACK of bytes sent again (Karn), however late it came', () => {
    // tshark: in pmtu-probed.pcap the 1,448-byte segment #16 is never acknowledged as sent; its
    // bytes, resent cut differently, are acknowledged 6.47 s after it (ack_rtt 6.47 s).
    const { flows } = analyzeFile(sample('pmtu-probed.pcap'));
    expect(flows[0].analysis?.server.queueRise?.rttMs).toBeLessThan(1);
  });

  it('is said of no other bundled sample', () => {
    const others = readdirSync(fileURLToPath(new URL('../../samples/', import.meta.url))).filter((n) => n.endsWith('.pcap') && n !== 'bufferbloat.pcap');
    for (const name of others) {
      const { flows } = analyzeFile(sample(name));
      expect(flows.flatMap((f) => f.verdicts.map((x) => x.code)), name).not.toContain('bufferbloat');
    }
  });
});
