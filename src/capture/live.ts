// Live capture: picks a source, lists interfaces, and adapts `cap` (the libpcap binding).
// This is the only module that imports `cap`, lazily, so tcpwhy runs without it.
//
// Two sources:
//   tcpdump (default)  a child `tcpdump -w -`; kernel timestamps, original lengths, drop counts,
//                      honours --snaplen and --promisc (see live-tcpdump.ts for why it is the default)
//   cap                in-process libpcap; timestamps taken on arrival in JavaScript (approximate),
//                      snaplen fixed at 65535, always promiscuous, no drop counts (cap's binding
//                      exposes none of these)

import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { LINKTYPE, type PacketCallback, type PacketRecord } from './record.js';
import {
  classifyLibpcapError,
  describeOpenError,
  LIVE_ERROR,
  LiveCaptureError,
  wallClockMicros,
  type LiveOpenOptions,
  type LiveSource,
  type LiveSourceKind,
  type LiveStats,
} from './live-source.js';
import { openTcpdumpSource } from './live-tcpdump.js';

export * from './live-source.js';

/** The slice of cap's API we use (its package ships no types). */
interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(event?: string): void;
}
interface CapDevice {
  name: string;
  description?: string;
  addresses: { addr: string; netmask?: string }[];
  flags?: string;
}
interface CapModule {
  Cap: { new (): CapHandle; deviceList(): CapDevice[] };
}

export interface LiveModuleOptions {
  /** Module specifier to load instead of 'cap' (tests point it at a missing module). */
  capModule?: string;
}

const CAP_MISSING_MESSAGE = 'live capture needs libpcap: apt-get install libpcap-dev, then npm rebuild cap';

/** Loads `cap`; throws LIVE_CAP_MISSING when it is not installed or its native addon is not built. */
export async function loadCap(opts: LiveModuleOptions = {}): Promise<CapModule> {
  const specifier = opts.capModule ?? 'cap';
  try {
    // cap is CommonJS with a native addon: import() hands back module.exports as the default.
    const ns = (await import(specifier)) as { default?: CapModule } & Partial<CapModule>;
    const mod = (ns.default ?? ns) as CapModule;
    if (typeof mod?.Cap !== 'function') throw new Error(`'${specifier}' has no Cap export`);
    return mod;
  } catch (err) {
    throw new LiveCaptureError(`${CAP_MISSING_MESSAGE} (${firstLine((err as Error).message)})`, LIVE_ERROR.LIVE_CAP_MISSING);
  }
}

const CAP_LINKTYPES: Record<string, number> = {
  NULL: LINKTYPE.NULL,
  ETHERNET: LINKTYPE.ETHERNET,
  RAW: LINKTYPE.RAW,
  LINKTYPE_LINUX_SLL: LINKTYPE.LINUX_SLL,
  IEEE802_11_RADIO: 127,
};

/** cap's open() returns a name for a few link types and "Unknown linktype N" for the rest. */
export function capLinkType(name: string): number {
  if (name in CAP_LINKTYPES) return CAP_LINKTYPES[name];
  const m = /(\d+)/.exec(name);
  return m ? Number(m[1]) : -1;
}

const CAP_SNAPLEN = 65535;
/** libpcap's kernel ring for cap: large enough for a few seconds of a busy link. */
const CAP_RING_BYTES = 16 * 1024 * 1024;

/**
 * Every cap handle opened, kept referenced until exit (one per live session). cap 0.2.1's native
 * destructor crashes the process when the garbage collector frees a handle whose open() failed part
 * way (it stops a libuv poll handle that was never started), and freeing closed handles in a busy
 * process crashed too; a handle never collected never runs that destructor.
 */
const capHandles: unknown[] = [];

export async function openCapSource(opts: LiveOpenOptions, onPacket: PacketCallback, mod: LiveModuleOptions = {}): Promise<LiveSource> {
  const cap = await loadCap(mod);
  const handle = new cap.Cap();
  capHandles.push(handle);
  // cap writes every packet into this one buffer; records are views into it, valid during the callback.
  const buffer = Buffer.alloc(CAP_SNAPLEN);
  let linkName: string;
  try {
    linkName = handle.open(opts.iface, opts.filter, CAP_RING_BYTES, buffer);
  } catch (err) {
    const message = (err as Error).message;
    const code = classifyLibpcapError(message);
    throw new LiveCaptureError(describeOpenError(code, opts, message), code);
  }
  const linkType = capLinkType(linkName);
  const rec: PacketRecord = { no: 0, tsMicros: 0, caplen: 0, origLen: 0, linkType, interfaceId: 0, bytes: buffer, off: 0, end: 0, fileOffset: -1, droppedBefore: 0, droppedSincePacket: 0, droppedSinceTs: 0 };
  let truncated = 0;
  handle.on('packet', (nbytes, trunc) => {
    rec.no++;
    rec.tsMicros = wallClockMicros();
    rec.caplen = nbytes;
    // cap passes no original length; a packet cut by the buffer is at least one byte longer.
    rec.origLen = trunc ? nbytes + 1 : nbytes;
    rec.end = nbytes;
    if (trunc) truncated++;
    onPacket(rec);
  });
  const warnings: string[] = ['--source cap: timestamps are taken when JavaScript sees each packet, not by the kernel (intervals below a few ms are approximate)'];
  if (!opts.promisc) warnings.push('--source cap always opens the interface in promiscuous mode');
  if (opts.snaplen > 0 && opts.snaplen !== CAP_SNAPLEN) warnings.push(`--source cap ignores --snaplen ${opts.snaplen} (cap captures up to ${CAP_SNAPLEN} bytes)`);
  let endNow!: () => void;
  const ended = new Promise<void>((res) => (endNow = res));
  let stats: LiveStats | null = null;
  const source: LiveSource = {
    kind: 'cap',
    linkType,
    snaplen: CAP_SNAPLEN,
    kernelTimestamps: false,
    warnings,
    ended,
    async stop() {
      if (!stats) {
        handle.removeAllListeners('packet');
        handle.close();
        stats = { packets: rec.no, truncated, droppedByKernel: null, droppedByInterface: null };
        endNow();
      }
      return stats;
    },
  };
  return source;
}

/** Opens a live source of the given kind; an unknown interface error lists the real ones. */
export async function openLiveSource(kind: LiveSourceKind, opts: LiveOpenOptions, onPacket: PacketCallback, mod: LiveModuleOptions = {}): Promise<LiveSource> {
  try {
    return kind === 'cap' ? await openCapSource(opts, onPacket, mod) : await openTcpdumpSource(opts, onPacket);
  } catch (err) {
    if (err instanceof LiveCaptureError && err.code === LIVE_ERROR.LIVE_NO_SUCH_INTERFACE) {
      const names = (await listInterfaces(mod, { linkTypes: false })).map((i) => i.name);
      const message = err.message.replace(/ \[LIVE_NO_SUCH_INTERFACE\]$/, '');
      throw new LiveCaptureError(`${message}; interfaces here: ${names.join(', ') || 'none found'}`, LIVE_ERROR.LIVE_NO_SUCH_INTERFACE);
    }
    throw err;
  }
}

export interface LiveInterface {
  name: string;
  description: string;
  /** Addresses as text, IPv4 and IPv6, with prefix length when known. */
  addresses: string[];
  loopback: boolean;
  /** libpcap link type names (tcpdump -L), e.g. EN10MB; empty when they could not be read. */
  linkTypes: string[];
  /** Why tcpdump -L read no link types, in its own words ("That device is not up"); empty otherwise. */
  linkTypesError: string;
}

/**
 * Interfaces libpcap can capture on: from cap when it loads, else from `tcpdump -D`, else the
 * kernel's list (os.networkInterfaces). Link types come from `tcpdump -L` (needs capture rights).
 */
export async function listInterfaces(mod: LiveModuleOptions = {}, opts: { linkTypes?: boolean } = {}): Promise<LiveInterface[]> {
  let list: LiveInterface[];
  try {
    const cap = await loadCap(mod);
    list = cap.Cap.deviceList().map((d) => ({
      name: d.name,
      description: d.description ?? '',
      addresses: d.addresses.filter((a) => a.addr).map((a) => (a.netmask ? `${a.addr}/${prefixLength(a.netmask)}` : a.addr)),
      loopback: /LOOPBACK/.test(d.flags ?? ''),
      linkTypes: [],
      linkTypesError: '',
    }));
  } catch {
    list = [];
  }
  if (list.length === 0) list = interfacesFromTcpdump() ?? interfacesFromOs();
  if (opts.linkTypes !== false) for (const i of list) Object.assign(i, tcpdumpLinkTypes(i.name));
  return list;
}

function interfacesFromTcpdump(): LiveInterface[] | null {
  const r = spawnSync('tcpdump', ['-D'], { encoding: 'utf8', timeout: 5_000 });
  if (r.status !== 0 || !r.stdout?.trim()) return null;
  const os = networkInterfaces();
  // "1.eth0 [Up, Running, Connected]" or "3.any (Pseudo-device that captures on all interfaces) [Up, Running]"
  return r.stdout
    .split('\n')
    .map((l) => /^\d+\.(\S+)(?: \(([^)]*)\))?(?: \[(.*)\])?/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      name: m[1],
      description: m[2] ?? '',
      addresses: (os[m[1]] ?? []).map((a) => a.cidr ?? a.address),
      loopback: /Loopback/i.test(m[3] ?? ''),
      linkTypes: [],
      linkTypesError: '',
    }));
}

function interfacesFromOs(): LiveInterface[] {
  return Object.entries(networkInterfaces()).map(([name, addrs]) => ({
    name,
    description: '',
    addresses: (addrs ?? []).map((a) => a.cidr ?? a.address),
    loopback: (addrs ?? []).some((a) => a.internal),
    linkTypes: [],
    linkTypesError: '',
  }));
}

function tcpdumpLinkTypes(name: string): Pick<LiveInterface, 'linkTypes' | 'linkTypesError'> {
  const r = spawnSync('tcpdump', ['-L', '-i', name], { encoding: 'utf8', timeout: 3_000 });
  if (r.error) return { linkTypes: [], linkTypesError: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'tcpdump is not on PATH' : r.error.message };
  if (r.status !== 0) {
    // "tcpdump: ifb0: That device is not up" -> "ifb0: That device is not up"; some messages take two lines.
    const said = (r.stderr ?? '').trim().split('\n').join(' ');
    return { linkTypes: [], linkTypesError: said.replace(/^tcpdump: /, '') || `tcpdump -L exited with status ${r.status}` };
  }
  // tcpdump prints the list to stderr: "Data link types for lo ...:" then "  EN10MB (Ethernet)" lines.
  const linkTypes = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
    .split('\n')
    .filter((l) => /^\s+\S/.test(l))
    .map((l) => l.trim());
  return { linkTypes, linkTypesError: '' };
}

/** 255.255.255.0 -> 24; ffff:ffff:ffff:ffff:: -> 64. */
export function prefixLength(netmask: string): number {
  let bits = 0;
  if (netmask.includes(':')) {
    for (const part of netmask.split(':')) if (part) bits += popcount(parseInt(part, 16));
  } else {
    for (const part of netmask.split('.')) bits += popcount(Number(part));
  }
  return bits;
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v &= v - 1) n++;
  return n;
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
