// Live capture through a tcpdump child: `tcpdump -w -` streams a pcap with the kernel's
// timestamps and original lengths, which CaptureParser reads as it arrives. This is the default
// source because arrival times taken in JavaScript drift from the kernel's by up to milliseconds
// under load (see the README's live capture section), enough to move a "FIN 2 ms after 101" or
// a SYN retry interval; cap's binding also fixes snaplen 65535 and promiscuous mode and reports no drops.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { CaptureParser } from './parser.js';
import { CaptureOpenError, type PacketCallback } from './record.js';
import { classifyLibpcapError, LIVE_ERROR, LiveCaptureError, describeOpenError, type LiveOpenOptions, type LiveSource, type LiveStats } from './live-source.js';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Seconds `timeout` waits after its SIGINT before it sends SIGKILL. */
const KILL_AFTER_SEC = 5;
const KERNEL_BUFFER_KIB = 16 * 1024;

export interface TcpdumpOptions extends LiveOpenOptions {
  /** tcpdump binary (default 'tcpdump' on PATH). */
  tcpdumpPath?: string;
}

/** tcpdump's arguments for a live capture to standard output. */
export function tcpdumpArgs(opts: LiveOpenOptions, isRoot: boolean): string[] {
  // -U: write each packet as it comes (no 4 KiB stdio buffering); --immediate-mode: no TPACKET_V3
  // block timeout, so a quiet link still delivers its last packets at once.
  // -B: a 16 MiB kernel buffer instead of libpcap's 2 MiB; bursts on a busy link otherwise drop.
  const args = ['-i', opts.iface, '-w', '-', '-U', '--immediate-mode', '-n', '-B', String(KERNEL_BUFFER_KIB)];
  if (opts.snaplen > 0) args.push('-s', String(opts.snaplen));
  if (!opts.promisc) args.push('-p');
  // Otherwise tcpdump switches to its own user after opening the device, which may not exist here.
  if (isRoot) args.push('-Z', 'root');
  if (opts.filter.trim() !== '') args.push('--', opts.filter);
  return args;
}

/** Reads tcpdump's closing statistics ("3 packets dropped by kernel"). */
export function parseTcpdumpStats(stderr: string): { droppedByKernel: number | null; droppedByInterface: number | null } {
  const kernel = /(\d+) packets? dropped by kernel/.exec(stderr);
  const iface = /(\d+) packets? dropped by interface/.exec(stderr);
  return { droppedByKernel: kernel ? Number(kernel[1]) : null, droppedByInterface: iface ? Number(iface[1]) : null };
}

/** libpcap's words without tcpdump's prefix and its repeated "(same message)" line. */
export function cleanTcpdumpMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^tcpdump: /, '').trim())
    .filter((l) => l !== '');
  return lines.filter((l) => !(/^\(.*\)$/.test(l) && lines.some((o) => o !== l && o.includes(l.slice(1, -1))))).join('; ');
}

export async function openTcpdumpSource(opts: TcpdumpOptions, onPacket: PacketCallback): Promise<LiveSource> {
  const isRoot = process.getuid?.() === 0;
  const args = tcpdumpArgs(opts, isRoot);
  const bin = opts.tcpdumpPath ?? 'tcpdump';
  // coreutils `timeout` bounds the child even if this process is killed first; it passes our SIGINT on.
  const [cmd, argv] = opts.maxLifetimeSec !== undefined ? ['timeout', ['--signal=INT', `--kill-after=${KILL_AFTER_SEC}`, String(Math.ceil(opts.maxLifetimeSec)), bin, ...args]] : [bin, args];
  const parser = new CaptureParser(`live:${opts.iface}`, onPacket);
  const child = spawn(cmd, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcessByStdio<null, Readable, Readable>;

  let stderr = '';
  let ready = false;
  let parseError: Error | null = null;
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const readyPromise = new Promise<void>((res, rej) => ((resolveReady = res), (rejectReady = rej)));

  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 64 * 1024) stderr += s;
    if (!ready && /listening on /.test(stderr)) {
      ready = true;
      resolveReady();
    }
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (parseError) return;
    try {
      parser.push(chunk);
    } catch (err) {
      // Only the file header can throw; tcpdump always writes a valid one, so this is a bug or a wrong binary.
      parseError = err as Error;
    }
  });
  const stdoutEnded = new Promise<void>((res) => child.stdout.once('close', () => res()));
  const exited = new Promise<number | null>((res) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code === 'ENOENT' ? LIVE_ERROR.LIVE_TCPDUMP_MISSING : LIVE_ERROR.LIVE_OPEN_FAILED;
      const msg = err.code === 'ENOENT' ? `live capture needs ${cmd === 'timeout' ? 'tcpdump and coreutils timeout' : 'tcpdump'} on PATH: apt-get install tcpdump (or use --source cap)` : `cannot start ${cmd}: ${err.message}`;
      rejectReady(new LiveCaptureError(msg, code));
      res(null);
    });
    child.once('exit', (code) => res(code));
  });
  void exited.then(() => {
    if (!ready) {
      const missing = /timeout: failed to run command|No such file or directory/.test(stderr) && !/listening/.test(stderr);
      const code = missing ? LIVE_ERROR.LIVE_TCPDUMP_MISSING : classifyLibpcapError(stderr);
      rejectReady(new LiveCaptureError(describeOpenError(code, opts, cleanTcpdumpMessage(stderr) || 'tcpdump exited before capturing'), code));
    }
  });

  const timer = setTimeout(() => {
    if (!ready) {
      child.kill('SIGKILL');
      rejectReady(new LiveCaptureError(`tcpdump did not start capturing on ${opts.iface} within ${READY_TIMEOUT_MS / 1000} s: ${cleanTcpdumpMessage(stderr)}`, LIVE_ERROR.LIVE_OPEN_FAILED));
    }
  }, READY_TIMEOUT_MS);
  try {
    await readyPromise;
  } finally {
    clearTimeout(timer);
  }

  const ended = Promise.all([exited, stdoutEnded]).then(() => undefined);
  let stopped: Promise<LiveStats> | null = null;
  const source: LiveSource = {
    kind: 'tcpdump',
    // tcpdump writes the pcap header before "listening on" is printed; until the first chunk
    // arrives the link type is unknown, so read it lazily.
    get linkType() {
      return parser.info.linkTypes[0] ?? -1;
    },
    get snaplen() {
      return parser.info.snaplen;
    },
    kernelTimestamps: true,
    warnings: [],
    ended,
    stop() {
      if (stopped) return stopped;
      stopped = (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await ended;
        clearTimeout(killTimer);
        try {
          parser.end();
        } catch (err) {
          if (!(err instanceof CaptureOpenError)) throw err;
        }
        const drops = parseTcpdumpStats(stderr);
        return { packets: parser.info.packets, truncated: parser.info.truncatedPackets, ...drops };
      })();
      return stopped;
    },
  };
  return source;
}
