// The capture filter of `analyze FILE EXPR`: a pcap-filter expression, as tcpdump and `live` take
// it, compiled by libpcap (through `tcpdump -ddd`) once per link type of the capture and run on
// each record before it is decoded (bpf.ts). A pcapng file may hold interfaces of several link
// types; each gets its own program, as libpcap compiles a filter for one link type only.

import { spawnSync } from 'node:child_process';
import { BpfProgram } from './bpf.js';
import { cleanTcpdumpMessage } from './live-tcpdump.js';
import { LINKTYPE, type PacketRecord } from './record.js';

/** Why a filter cannot be used: tcpdump is missing, or libpcap refused the expression. */
export class CaptureFilterError extends Error {
  constructor(
    message: string,
    readonly reason: 'no-compiler' | 'bad-expression',
  ) {
    super(message);
    this.name = 'CaptureFilterError';
  }
}

/** Compiles `expression` for one link type: the program, or a CaptureFilterError. */
export type FilterCompiler = (expression: string, linkType: number) => BpfProgram;

const PCAP_HEADER_LEN = 24;
const COMPILE_TIMEOUT_MS = 30_000;

/**
 * libpcap's program for `expression` on packets of `linkType`, as `tcpdump -r FILE -ddd EXPR`
 * prints it for a file of that link type: tcpdump reads a bare pcap file header from its standard
 * input, so libpcap itself maps the file's link type to its own (no table of names here).
 */
export function compileWithTcpdump(expression: string, linkType: number, tcpdumpPath = 'tcpdump'): BpfProgram {
  const header = new DataView(new ArrayBuffer(PCAP_HEADER_LEN));
  header.setUint32(0, 0xa1b2c3d4, true);
  header.setUint16(4, 2, true);
  header.setUint16(6, 4, true);
  header.setUint32(16, 262144, true);
  header.setUint32(20, linkType, true);
  const r = spawnSync(tcpdumpPath, ['-r', '-', '-ddd', '--', expression], {
    input: new Uint8Array(header.buffer),
    encoding: 'utf8',
    timeout: COMPILE_TIMEOUT_MS,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CaptureFilterError(
        'a capture filter is compiled by libpcap through tcpdump, which is not installed (or not on PATH): apt-get install tcpdump (dnf install tcpdump, brew install tcpdump), or filter flows with --filter',
        'no-compiler',
      );
    }
    throw new CaptureFilterError(`cannot run tcpdump to compile the capture filter: ${r.error.message}`, 'no-compiler');
  }
  if (r.status !== 0) {
    const said = cleanTcpdumpMessage(r.stderr.replace(/^reading from file -.*$/m, ''));
    throw new CaptureFilterError(`bad capture filter '${expression}' for ${linkTypeOf(r.stderr, linkType)}: ${said || `tcpdump exited with status ${r.status}`}`, 'bad-expression');
  }
  return BpfProgram.parse(r.stdout);
}

/** "link type EN10MB (Ethernet)" from tcpdump's "reading from file -, link-type EN10MB (Ethernet), ..." line. */
function linkTypeOf(stderr: string, linkType: number): string {
  const m = /link-type ([^,]+),/.exec(stderr);
  return m && !/^\d+$/.test(m[1]) ? `link type ${m[1]}` : `link type ${linkType}`;
}

/** A link type the filter could not be compiled for, met after the capture's first one. */
export interface UncompiledLinkType {
  linkType: number;
  message: string;
  /** Packets of that link type, each counted as filtered. */
  packets: number;
  firstPacket: number;
}

/**
 * A compiled capture filter: accepts(rec) runs the program of the record's link type, compiled
 * on first use of each link type and kept. The first link type of a capture must compile: a bad
 * expression throws there, before any packet was judged (so before any output). A link type met
 * later that libpcap refuses (`ether host` on a Linux cooked interface of a pcapng file) filters
 * its packets out and is listed in `uncompiled`.
 */
export class CaptureFilter {
  private readonly programs = new Map<number, BpfProgram | null>();
  private lastLinkType = -1;
  private lastProgram: BpfProgram | null = null;
  private lastUncompiled: UncompiledLinkType | null = null;
  readonly uncompiled: UncompiledLinkType[] = [];

  constructor(
    readonly expression: string,
    private readonly compile: FilterCompiler = compileWithTcpdump,
  ) {}

  /** True when the filter keeps the packet. Throws CaptureFilterError at the capture's first link type. */
  accepts(rec: PacketRecord): boolean {
    if (rec.linkType !== this.lastLinkType) this.switchTo(rec);
    const program = this.lastProgram;
    if (program === null) {
      this.lastUncompiled!.packets++;
      return false;
    }
    return program.run(rec.bytes, rec.off, rec.caplen, rec.origLen) !== 0;
  }

  /**
   * A capture with no packet never compiled the expression: compile it for the capture's first
   * link type (Ethernet when none is known), so a bad expression is reported all the same.
   */
  checkExpression(linkTypes: readonly number[]): void {
    if (this.programs.size === 0) this.compile(this.expression, linkTypes[0] ?? LINKTYPE.ETHERNET);
  }

  private switchTo(rec: PacketRecord): void {
    const linkType = rec.linkType;
    this.lastLinkType = linkType;
    if (!this.programs.has(linkType)) {
      const first = this.programs.size === 0;
      let program: BpfProgram | null = null;
      try {
        program = this.compile(this.expression, linkType);
      } catch (err) {
        if (first || !(err instanceof CaptureFilterError) || err.reason !== 'bad-expression') throw err;
        this.uncompiled.push({ linkType, message: err.message, packets: 0, firstPacket: rec.no });
      }
      this.programs.set(linkType, program);
    }
    this.lastProgram = this.programs.get(linkType)!;
    this.lastUncompiled = this.uncompiled.find((u) => u.linkType === linkType) ?? null;
  }
}
