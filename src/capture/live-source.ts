// What every live capture source (tcpdump child, libpcap via `cap`) looks like to the command,
// and the stable codes for why one could not be opened.

import { CaptureOpenError, type PacketCallback } from './record.js';

export const LIVE_ERROR = {
  /** The `cap` module is not installed or its native part is not built. */
  LIVE_CAP_MISSING: 'LIVE_CAP_MISSING',
  /** tcpdump is not installed (or not on PATH). */
  LIVE_TCPDUMP_MISSING: 'LIVE_TCPDUMP_MISSING',
  /** The capture needs CAP_NET_RAW (and CAP_NET_ADMIN for some devices), e.g. root. */
  LIVE_NO_PERMISSION: 'LIVE_NO_PERMISSION',
  LIVE_NO_SUCH_INTERFACE: 'LIVE_NO_SUCH_INTERFACE',
  /** libpcap could not compile the BPF filter; the message carries libpcap's own words. */
  LIVE_BAD_FILTER: 'LIVE_BAD_FILTER',
  /** Anything else libpcap refused while opening (interface down, unsupported link type, ...). */
  LIVE_OPEN_FAILED: 'LIVE_OPEN_FAILED',
} as const;
export type LiveErrorCode = (typeof LIVE_ERROR)[keyof typeof LIVE_ERROR];

/** A live capture that could not start. A CaptureOpenError, so the CLI maps it to exit 3 like an unreadable file. */
export class LiveCaptureError extends CaptureOpenError {
  constructor(message: string, override readonly code: LiveErrorCode) {
    super(message, code);
    this.name = 'LiveCaptureError';
  }
}

export const LIVE_SOURCES = ['tcpdump', 'cap'] as const;
export type LiveSourceKind = (typeof LIVE_SOURCES)[number];

export interface LiveOpenOptions {
  iface: string;
  /** BPF filter in tcpdump syntax ('' captures everything). */
  filter: string;
  /** Bytes kept per packet; 0 means the tool's default (262144 for tcpdump). */
  snaplen: number;
  promisc: boolean;
  /** Hard upper bound on the capture's life, in seconds (the child stops by itself even if we die). */
  maxLifetimeSec?: number;
}

export interface LiveStats {
  /** Packets delivered to the callback. */
  packets: number;
  /** Packets the kernel dropped because the capture buffer was full; null when the source cannot tell. */
  droppedByKernel: number | null;
  /** Packets the interface (driver) dropped; null when unknown. */
  droppedByInterface: number | null;
  /** Packets cut by the snap length (caplen < original length). */
  truncated: number;
}

export interface LiveSource {
  readonly kind: LiveSourceKind;
  /** pcap LINKTYPE of the packets delivered. */
  readonly linkType: number;
  readonly snaplen: number;
  /** True when timestamps are the kernel's; false when taken on arrival in JavaScript (approximate). */
  readonly kernelTimestamps: boolean;
  /** Warnings worth telling the user once (options the source cannot honour). */
  readonly warnings: string[];
  /** Resolves when the capture has ended by itself (the child exited, the device went away). */
  readonly ended: Promise<void>;
  /** Stops capturing, delivers what is still buffered, and returns the counts. Safe to call twice. */
  stop(): Promise<LiveStats>;
}

/** Opens a source: resolves once packets are being captured; each packet goes to onPacket (a reused view). */
export type LiveOpener = (opts: LiveOpenOptions, onPacket: PacketCallback) => Promise<LiveSource>;

/** Wall-clock microseconds, finer than Date.now(): the epoch origin plus the monotonic clock. */
export function wallClockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Sorts libpcap's open error (as tcpdump or cap passes it on) into a stable code. */
export function classifyLibpcapError(message: string): LiveErrorCode {
  if (/permission|not permitted|Operation not permitted|EPERM/i.test(message)) return LIVE_ERROR.LIVE_NO_PERMISSION;
  if (/No such device|no suitable device|doesn't exist/i.test(message)) return LIVE_ERROR.LIVE_NO_SUCH_INTERFACE;
  if (/filter expression|syntax error|illegal|unknown (host|port|proto|network|ether)|not known|invalid|expression|qualifier|bad dst|bad src/i.test(message)) {
    return LIVE_ERROR.LIVE_BAD_FILTER;
  }
  return LIVE_ERROR.LIVE_OPEN_FAILED;
}

export function describeOpenError(code: string, opts: LiveOpenOptions, libpcapMessage: string): string {
  switch (code) {
    case LIVE_ERROR.LIVE_NO_PERMISSION:
      return `no permission to capture on ${opts.iface}: live capture needs CAP_NET_RAW (and CAP_NET_ADMIN), e.g. run as root or grant tcpdump the capabilities (setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)) (${libpcapMessage})`;
    case LIVE_ERROR.LIVE_NO_SUCH_INTERFACE:
      return `no interface named '${opts.iface}' (${libpcapMessage})`;
    case LIVE_ERROR.LIVE_BAD_FILTER:
      return `bad capture filter '${opts.filter}': ${libpcapMessage}`;
    default:
      return `cannot capture on ${opts.iface}: ${libpcapMessage}`;
  }
}
