import { INTERNAL, type AnalysisResult, type CaptureSummary, type FlowResult } from '../pipeline.js';

// The versioned JSON document of `tcpwhy analyze --json`. Times: start in ISO 8601 and epoch
// seconds, durations in seconds; packet numbers are 1-based as in Wireshark.

export const SCHEMA_VERSION = 1;

/**
 * ISO 8601 with microseconds, for any time a capture can hold: Date covers only +-8.64e15 ms, and a
 * pcapng if_tsresol or if_tsoffset can put a packet far outside it. Years outside 0..9999 take the
 * expanded form (+YYYYYY, -YYYYYY) as Date.toISOString does. The date and time up to the second are
 * formatted once per second.
 */
function iso(micros: number): string | null {
  if (!micros || !Number.isFinite(micros)) return null;
  const second = Math.floor(micros / 1e6);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = isoSecondText(second);
  }
  // Far from the epoch a double holds no microseconds; the fraction is then 0, never negative.
  const fraction = Math.max(0, Math.min(999_999, Math.round(micros - second * 1e6)));
  return `${isoPrefix}.${String(fraction).padStart(6, '0')}Z`;
}
let isoSecond = Number.NaN;
let isoPrefix = '';

/** YYYY-MM-DDTHH:MM:SS of a second since the epoch, in the proleptic Gregorian calendar (no range limit). */
export function isoSecondText(second: number): string {
  const days = Math.floor(second / 86_400);
  const secOfDay = second - days * 86_400;
  // Days to civil date: H. Hinnant's days_from_civil inverse, in eras of 400 years (146,097 days).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const yearText = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(secOfDay / 3600);
  const m = Math.floor((secOfDay % 3600) / 60);
  return `${yearText}-${two(month)}-${two(day)}T${two(h)}:${two(m)}:${two(secOfDay % 60)}`;
}
const secs = (micros: number) => Math.round(micros) / 1e6;

export function flowToJson(f: FlowResult): Record<string, unknown> {
  const app = f.app;
  return {
    id: f.id,
    client: f.client,
    server: f.server,
    state: f.state,
    history: f.history,
    ...(f.zeekConnections > 1 ? { zeekConnections: f.zeekConnections } : {}),
    firstPacket: f.firstPacket,
    lastPacket: f.lastPacket,
    start: iso(f.start),
    startEpoch: secs(f.start),
    duration: secs(f.end - f.start),
    packets: { client: f.clientSide.packets, server: f.serverSide.packets },
    bytes: { client: f.clientSide.bytes, server: f.serverSide.bytes },
    rolesGuessed: f.rolesGuessed,
    ...(f.afterIdle ? { afterIdle: { flow: f.afterIdle.flowId, idleSeconds: secs(f.afterIdle.idleMicros) } } : {}),
    endReason: f.endReason,
    handshake: {
      syn: f.syns.map((s) => s.no),
      synAck: f.synAcks.map((s) => s.no),
      ack: f.handshakeAck?.no ?? null,
      rttMs: f.syns.length && f.synAcks.length && f.handshakeAck ? (f.handshakeAck.ts - f.syns[f.syns.length - 1].ts) / 1000 : null,
      options: {
        client: { mss: f.clientSide.mss, windowScale: f.clientSide.windowScale, sackPermitted: f.clientSide.sackPermitted, timestamps: f.clientSide.timestamps, ttl: f.clientSide.ttl },
        server: { mss: f.serverSide.mss, windowScale: f.serverSide.windowScale, sackPermitted: f.serverSide.sackPermitted, timestamps: f.serverSide.timestamps, ttl: f.serverSide.ttl },
      },
    },
    close: {
      clientFin: f.clientSide.fin?.no ?? null,
      serverFin: f.serverSide.fin?.no ?? null,
      clientRst: f.clientSide.rst?.no ?? null,
      serverRst: f.serverSide.rst?.no ?? null,
    },
    visibility: f.visibility.seen,
    ...(f.visibility.proof ? { visibilityProof: { ...f.visibility.proof, ...(f.peerUnseen ? { acknowledgedBytes: f.peerUnseen.acknowledgedBytes, synAckUnseen: f.peerUnseen.synAckUnseen } : {}) } } : {}),
    missedBytes: { client: f.clientSide.missedBytes, server: f.serverSide.missedBytes },
    ...(f.analysis ? { analysis: f.analysis } : {}),
    ...(app && app.http.length ? { http: app.http } : {}),
    ...(app && app.websocket ? { websocket: app.websocket } : {}),
    ...(app && app.tls ? { tls: app.tls } : {}),
    ...(app && app.errors.length ? { appErrors: app.errors } : {}),
    ...(f.dns ? { dns: f.dns } : {}),
    ...(f.memcap ? { memcap: f.memcap } : {}),
    ...(f.clientSide.copies || f.serverSide.copies ? { capturedTwice: { client: f.clientSide.copies?.packets ?? 0, server: f.serverSide.copies?.packets ?? 0 } } : {}),
    verdicts: f.verdicts,
  };
}

/** The whole document as one string (small captures, tests). */
export function renderJson(result: AnalysisResult, flows: FlowResult[] = result.flows): string {
  let out = '';
  writeJson(result, flows, (s) => (out += s));
  return out;
}

/**
 * Writes the document in pieces, one flow at a time, so a capture with hundreds of thousands of
 * flows never needs one giant string (V8 strings stop at 512 MiB). Whatever fails on the way, the
 * document written is whole (see JsonFlowStream.abort) and the error is thrown on.
 */
export function writeJson(result: AnalysisResult, flows: FlowResult[], write: (s: string) => void): void {
  const stream = new JsonFlowStream(write);
  try {
    for (const f of flows) stream.flow(f);
  } catch (err) {
    stream.abort(result.capture.file, err);
    throw err;
  }
  stream.end(result);
}

function captureToJson(c: CaptureSummary, flowCount: number): Record<string, unknown> {
  return {
    file: c.file,
    format: c.format,
    linkTypes: c.linkTypes,
    snaplen: c.snaplen,
    packets: c.packets,
    decoded: c.decoded,
    skipped: c.skipped,
    malformed: c.malformed,
    truncatedPackets: c.truncatedPackets,
    fragments: c.fragments,
    lingerLimit: c.lingerLimit,
    memcap: c.memcap,
    flows: flowCount,
    start: iso(c.start),
    duration: secs(c.end - c.start),
    stoppedEarly: c.stoppedEarly,
    diagnostics: c.diagnostics.map((d) => ({ code: d.code, message: d.message, packet: d.packet, offset: d.offset })),
    diagnosticsDropped: c.diagnosticsDropped,
  };
}

const indent = (json: string, by: string) => json.replace(/\n/g, `\n${by}`);

/**
 * The document written as flows arrive: schemaVersion and the flows first, one at a time (so a
 * capture with hundreds of thousands of flows never needs one giant string, and analyze can write
 * each flow as it ends), then the capture summary and the capture-level verdicts.
 */
export class JsonFlowStream {
  private count = 0;
  private started = false;
  private ended = false;

  constructor(private readonly write: (s: string) => void) {}

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.write(`{\n  "schemaVersion": ${SCHEMA_VERSION},\n  "flows": [`);
  }

  /** One flow per line, compact: a capture's flows stay quick to write and easy to grep or jq. A flow that cannot be written throws and writes nothing. */
  flow(f: FlowResult): void {
    const line = JSON.stringify(flowToJson(f));
    this.start();
    this.write(`${this.count++ ? ',' : ''}\n    ${line}`);
  }

  /** The capture summary and the capture-level verdicts; if they cannot be written, the document is aborted (and the error thrown on). */
  end(result: AnalysisResult): void {
    let tail: string;
    try {
      const capture = indent(JSON.stringify(captureToJson(result.capture, result.flowCount), null, 2), '  ');
      const verdicts = indent(JSON.stringify(result.verdicts, null, 2), '  ');
      tail = `,\n  "capture": ${capture},\n  "verdicts": ${verdicts}\n}`;
    } catch (err) {
      this.abort(result.capture.file, err);
      throw err;
    }
    this.close(tail);
  }

  /**
   * Ends the document after a failure that left no capture summary to write: the flows written so
   * far stay, and the capture says how many there are, that reading stopped, and why (an INTERNAL
   * diagnostic). Does nothing if the document was already ended.
   */
  abort(file: string, err: unknown): void {
    if (this.ended) return;
    const message = `${file}: internal error, analysis stopped: ${err instanceof Error ? err.message : String(err)} [${INTERNAL}]`;
    const capture = { file, flows: this.count, stoppedEarly: true, diagnostics: [{ code: INTERNAL, message, packet: -1, offset: -1 }] };
    this.close(`,\n  "capture": ${indent(JSON.stringify(capture, null, 2), '  ')},\n  "verdicts": []\n}`);
  }

  private close(tail: string): void {
    this.start();
    this.ended = true;
    this.write(`${this.count ? '\n  ' : ''}]${tail}`);
  }
}
