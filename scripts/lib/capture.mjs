// Runs a scenario under tcpdump and leaves a pcap behind.
import { statSync } from 'node:fs';
import { startProcess, runCommand, sleep } from './proc.mjs';

const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;
// tcpdump -U flushes per packet, but the last segments of a close can still be in flight.
const SETTLE_MS = 200;

/**
 * Captures `iface` (inside namespace `netns` when given) into `file` while `scenario()` runs.
 *
 * Starts `tcpdump -i IFACE -w FILE -U --immediate-mode -n [-s SNAPLEN] [-Q DIRECTION] FILTER`, waits for its "listening on" line,
 * runs the scenario, waits 200 ms, stops tcpdump with SIGINT (by PID) and waits for it to exit.
 * tcpdump is stopped even when the scenario throws; the scenario's error is then rethrown.
 * `maxDurationMs` is a hard deadline for tcpdump itself (via coreutils `timeout`), in case the
 * caller never gets to stop it.
 *
 * @template T
 * `direction` 'in' or 'out' keeps only the packets the interface received or sent, as a capture of one direction does.
 *
 * @param {{ iface?: string, filter: string, file: string, netns?: string, snaplen?: number, direction?: 'in' | 'out', maxDurationMs?: number }} options
 * @param {() => Promise<T>} scenario
 * @returns {Promise<T>} whatever the scenario returned
 */
export async function withCapture({ iface = 'lo', filter, file, netns, snaplen, direction, maxDurationMs = 60_000 }, scenario) {
  if (!filter) throw new Error('withCapture: a filter is required (loopback carries other traffic too)');
  // --immediate-mode: with TPACKET_V3 buffering, packets still in an unretired ring block are lost
  // when tcpdump is interrupted, so a 200 ms scenario could come out empty.
  // -Z root: otherwise tcpdump drops to its own user before opening FILE and may not be able to write it.
  // -B 16384: loopback packets are up to 64 KiB and the default 2 MiB kernel buffer holds only a few
  // dozen of them, so a busy machine dropped packets from short scenarios ("N packets dropped by kernel").
  // In immediate mode the buffer is a ring of frames sized by the snap length, so it holds 128
  // packets on lo and 256 on a veth at the default one: a scenario sending bursts of packets without
  // payload passes a small `snaplen` (port-scan.mjs).
  const tcpdumpArgs = ['-i', iface, '-w', file, '-U', '--immediate-mode', '-B', '16384', '-n', '-Z', 'root'];
  if (snaplen !== undefined) tcpdumpArgs.push('-s', String(snaplen));
  if (direction !== undefined) tcpdumpArgs.push('-Q', direction);
  tcpdumpArgs.push(filter);
  // coreutils `timeout` stops tcpdump by itself even if this process dies first; it passes our
  // SIGINT on to tcpdump, so stopping early works the same.
  const maxSeconds = String(Math.ceil(maxDurationMs / 1000));
  const bounded = ['timeout', '--signal=INT', '--kill-after=5', maxSeconds, 'tcpdump', ...tcpdumpArgs];
  const [cmd, args] = netns ? ['ip', ['netns', 'exec', netns, ...bounded]] : [bounded[0], bounded.slice(1)];
  const tcpdump = await startProcess(cmd, args, {
    readyPattern: /listening on/,
    readyTimeoutMs: READY_TIMEOUT_MS,
    maxLifetimeMs: maxDurationMs,
  });
  let result;
  try {
    result = await scenario();
    await sleep(SETTLE_MS);
  } finally {
    // `ip netns exec` execs in place, so this PID is timeout's either way; it relays SIGINT to tcpdump.
    await tcpdump.stop({ signal: 'SIGINT', timeoutMs: STOP_TIMEOUT_MS });
  }
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(tcpdump.stderr)?.[1] ?? 0);
  if (dropped > 0) throw new CaptureDropError(file, dropped);
  return result;
}

/**
 * tcpdump reported packets the kernel dropped before it could read them: the file lacks packets
 * the scenario sent, so it shows something else than what happened (a busy machine).
 */
export class CaptureDropError extends Error {
  constructor(file, dropped) {
    super(`${file}: tcpdump says ${dropped} packets were dropped by the kernel: the capture is incomplete`);
    this.name = 'CaptureDropError';
  }
}

/** Number of packets in a capture file, counted by `tcpdump -r`. */
export async function countPackets(file) {
  const { stdout } = await runCommand('tcpdump', ['-r', file, '-nn', '-q'], { timeoutMs: 20_000 });
  return stdout.split('\n').filter((line) => line.trim() !== '').length;
}

/** Lines of `tcpdump -r FILE -nn` (for checks and debugging). */
export async function readCapture(file, extraArgs = []) {
  const { stdout } = await runCommand('tcpdump', ['-r', file, '-nn', ...extraArgs], { timeoutMs: 20_000 });
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

export function fileSize(file) {
  return statSync(file).size;
}
