import type { FlowFacts } from './facts.js';
import { fmtDuration, grouped, ms } from './format.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';

// Bufferbloat: a queue on the path, deep enough to hold a large part of a second of traffic, that a
// bulk transfer keeps full. The transfer's own round trip shows it: from its floor (the path with
// an empty queue) the ACK RTT climbs to many times that while the ACKs keep coming and the bytes in
// flight grow, and the rise is what those bytes take to drain at the rate the path delivers them
// (Little's law). Every other flow through that queue waits as long: a handshake, a DNS lookup, a
// keystroke. Seen only where the capture holds the sender's data and the receiver's ACKs.

/** Rises under this are within what delayed ACKs (40 ms Linux, up to 200 ms Windows, each caught by the gap test) and ordinary jitter give; above it people notice. */
const MIN_RISE_MICROS = 100_000;
/** ... and the rise must take the RTT to this many times its floor: a queue, not a long path. */
const MIN_RISE_FACTOR = 3;
/**
 * The ACKs kept coming: no two RTT samples from the floor to the rise more than this share of the
 * rise apart. A receiver that stops acknowledging for a while (a stalled host, a long delayed ACK)
 * makes one sample as large as its pause, with no sample in between.
 */
const MAX_SAMPLE_GAP_SHARE = 1 / 4;
/**
 * The flow's own bytes explain the rise: the most it had in flight, drained at the rate the path
 * delivered between the floor and the rise, took between half and twice the rise. Below, the queue
 * held other traffic (or the sender was not keeping the pipe full); above, bytes in flight were lost
 * or the rate was diluted by idle time.
 */
const LITTLE_MIN = 0.5;
const LITTLE_MAX = 2;
/** A queue worth the name: ten full-size segments or more in flight (an initial window). */
const MIN_IN_FLIGHT_BYTES = 14_480;

/** A round trip for a summary; under 10 µs the clock's resolution, not a time, is what shows. */
function rttText(micros: number): string {
  return micros < 10 ? 'under 0.01 ms' : fmtDuration(micros);
}

/** The rate in words: "240 KB/s (1.9 Mbit/s)". */
function rateText(bytesPerSecond: number): string {
  const mbit = (bytesPerSecond * 8) / 1e6;
  return `${grouped(Math.round(bytesPerSecond / 1000))} KB/s (${mbit >= 10 ? Math.round(mbit) : mbit.toFixed(1)} Mbit/s)`;
}

export const bufferbloat: FlowRule = {
  code: 'bufferbloat',
  needs: SHOWS.QUEUE_RISE,
  needsBothSides: true,
  evaluate(f: FlowFacts) {
    const a = f.analysis;
    if (!a) return null;
    for (const who of ['server', 'client'] as const) {
      const side = who === 'server' ? a.server : a.client;
      const rise = side.queueRise;
      const floor = side.dataRtt;
      if (!rise || !floor) continue;
      const riseMicros = (rise.rttMs - floor.minMs) * 1000;
      if (riseMicros < MIN_RISE_MICROS || rise.rttMs < MIN_RISE_FACTOR * floor.minMs) continue;
      if (rise.longestSampleGapMs * 1000 > MAX_SAMPLE_GAP_SHARE * riseMicros) continue;
      if (rise.inFlightBytes < MIN_IN_FLIGHT_BYTES || rise.ackedBytes <= 0 || rise.afterFloorMs <= 0) continue;
      const rate = rise.ackedBytes / (rise.afterFloorMs / 1000);
      const drainMicros = (rise.inFlightBytes / rate) * 1e6;
      if (drainMicros < LITTLE_MIN * riseMicros || drainMicros > LITTLE_MAX * riseMicros) continue;
      const peer = who === 'server' ? 'client' : 'server';
      return {
        code: 'bufferbloat',
        severity: 'warning',
        summary: `the round trip of the ${who}'s data rose from ${rttText(floor.minMs * 1000)} (#${floor.packet}) to ${fmtDuration(rise.rttMs * 1000)} (#${rise.packet}, ${fmtDuration(rise.afterFloorMs * 1000)} later) while the ${peer}'s ACKs kept coming (never more than ${fmtDuration(rise.longestSampleGapMs * 1000)} apart) and the ${who} had up to ${grouped(rise.inFlightBytes)} bytes in flight, delivered at ${rateText(rate)}: those bytes take ${fmtDuration(drainMicros)} to drain at that rate, about the rise, so they waited in a queue on the path that this transfer kept full (bufferbloat)`,
        packets: [floor.packet, rise.packet],
        facts: {
          sender: who,
          floorRttMs: floor.minMs,
          floorPacket: floor.packet,
          peakRttMs: rise.rttMs,
          peakPacket: rise.packet,
          afterFloorMs: rise.afterFloorMs,
          inFlightBytes: rise.inFlightBytes,
          deliveredBytesPerSecond: Math.round(rate),
          drainMs: ms(drainMicros),
          longestAckGapMs: rise.longestSampleGapMs,
        },
        hint: `A buffer on the path (a router, modem, shaper or Wi-Fi access point toward the ${peer}) holds far more than the link sends in a round trip, and a bulk transfer keeps it full: everything else through that link waits behind it, new connections' handshakes, DNS lookups, calls and keystrokes included. Give the bottleneck active queue management (fq_codel or cake: tc qdisc replace dev IFACE root cake bandwidth RATE), shape just below the link's real rate so the queue forms where it is managed, or shrink the buffer (a tbf or policer limit of a few ms of traffic, smaller driver rings with BQL). Pacing the sender (fq with BBR) keeps its own queue short.`,
      };
    }
    return null;
  },
};
