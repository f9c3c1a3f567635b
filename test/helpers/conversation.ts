// Scripted TCP conversations for rule and flow tests: each side keeps its own sequence number,
// acks what the other side sent, and every packet carries a time in seconds.
//
//   const c = conv({ client: '10.0.0.1:51000', server: '10.0.0.2:80' });
//   c.client('S', 0).server('SA', 0.001).client('A', 0.002).client('PA', 0.003, 'GET / HTTP/1.1\r\n\r\n');
//   const result = analyzeConversation(c);
//
// Default ISNs sit just below 2^32 so sequence wrap-around is always exercised.

import type { CaptureInfo } from '../../src/capture/record.js';
import { Analyzer, type AnalysisResult, type AnalyzerOptions } from '../../src/pipeline.js';
import { tcpFrame, toRecord, type Frame, type TcpOptionsSpec } from './packets.js';

export interface ConvOptions {
  client?: string;
  server?: string;
  clientIsn?: number;
  serverIsn?: number;
  link?: 'ether' | 'null' | 'raw';
}

interface Side {
  ip: string;
  port: number;
  next: number;
  /** IPv4 ID of the side's next packet: counted up per packet, as Linux does per socket. */
  ipId: number;
}

export interface ScriptedPacket {
  frame: Frame;
  t: number;
}

function splitEndpoint(text: string): { ip: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(text) ?? /^(.+):(\d+)$/.exec(text);
  if (!m) throw new Error(`bad endpoint ${text}`);
  return { ip: m[1], port: Number(m[2]) };
}

export class Conversation {
  readonly packets: ScriptedPacket[] = [];
  readonly c: Side;
  readonly s: Side;
  private cStarted = false;
  private sStarted = false;

  constructor(readonly opts: ConvOptions = {}) {
    const c = splitEndpoint(opts.client ?? '10.0.0.1:51000');
    const s = splitEndpoint(opts.server ?? '10.0.0.2:80');
    this.c = { ...c, next: opts.clientIsn ?? 0xffff_fff0, ipId: 0x1000 };
    this.s = { ...s, next: opts.serverIsn ?? 0xffff_ff00, ipId: 0x8000 };
  }

  client(flags: string, t: number, payload: string | Uint8Array = '', extra: PacketExtra = {}): this {
    return this.send(this.c, this.s, flags, t, payload, extra, true);
  }

  server(flags: string, t: number, payload: string | Uint8Array = '', extra: PacketExtra = {}): this {
    return this.send(this.s, this.c, flags, t, payload, extra, false);
  }

  /** The usual three-way handshake starting at t. */
  handshake(t = 0, rtt = 0.001): this {
    return this.client('S', t, '', { options: { mss: 1460, wscale: 7, sackPerm: true } })
      .server('SA', t + rtt / 2, '', { options: { mss: 1460, wscale: 7, sackPerm: true } })
      .client('A', t + rtt);
  }

  private send(from: Side, to: Side, flags: string, t: number, payload: string | Uint8Array, extra: PacketExtra, fromClient: boolean): this {
    const started = fromClient ? this.cStarted : this.sStarted;
    const seq = extra.seq ?? from.next;
    const ackNum = extra.ack ?? (to.next >>> 0);
    const frame = tcpFrame({
      src: from.ip,
      dst: to.ip,
      sport: from.port,
      dport: to.port,
      seq: seq >>> 0,
      ack: flags.includes('A') ? ackNum : 0,
      flags,
      window: extra.window ?? 65535,
      ipId: extra.ipId ?? from.ipId,
      ttl: extra.ttl,
      options: extra.options,
      payload,
      link: this.opts.link ?? 'ether',
    });
    this.packets.push({ frame, t });
    from.ipId = (from.ipId + 1) & 0xffff;
    if (extra.seq === undefined) {
      let len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      if (flags.includes('S')) len++;
      if (flags.includes('F')) len++;
      if (!flags.includes('R')) from.next = (from.next + len) >>> 0;
    }
    if (fromClient) this.cStarted = true;
    else this.sStarted = true;
    void started;
    return this;
  }
}

export interface PacketExtra {
  /** IPv4 ID (default: the side's counter). */
  ipId?: number;
  seq?: number;
  ack?: number;
  window?: number;
  /** IP TTL (default 64, as Linux sends). */
  ttl?: number;
  options?: TcpOptionsSpec;
}

export function conv(opts: ConvOptions = {}): Conversation {
  return new Conversation(opts);
}

const BASE_MICROS = 1_700_000_000_000_000;

/** Runs frames (with times in seconds) through the whole pipeline in memory. */
export function analyzeFrames(
  packets: ScriptedPacket[],
  opts: { file?: string; verifyChecksums?: boolean; maxLingeringFlows?: number; maxAnswersKept?: number; slow?: AnalyzerOptions['slow']; keepExchanges?: boolean } = {},
): AnalysisResult {
  const file = opts.file ?? 'scripted.pcap';
  const analyzer = new Analyzer({ file, verifyChecksums: opts.verifyChecksums, maxLingeringFlows: opts.maxLingeringFlows, maxAnswersKept: opts.maxAnswersKept, slow: opts.slow, keepExchanges: opts.keepExchanges });
  packets.forEach((p, i) => analyzer.onRecord(toRecord(p.frame, { no: i + 1, tsMicros: BASE_MICROS + Math.round(p.t * 1e6) })));
  const info: CaptureInfo = { file, format: 'pcap', linkTypes: [1], snaplen: 262144, packets: packets.length, truncatedPackets: 0, truncatedBelowSnaplen: 0, diagnostics: [], stoppedEarly: false };
  return analyzer.finish(info);
}

export function analyzeConversation(...convs: Conversation[]): AnalysisResult {
  const all = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
  return analyzeFrames(all);
}

export function verdictCodes(result: AnalysisResult, flowIndex = 0): string[] {
  return result.flows[flowIndex].verdicts.map((v) => v.code).sort();
}
