import { INTERNAL, type AnalysisResult, type CaptureSummary, type FlowResult } from '../pipeline.js';
import { dropsFacts } from '../rules/capture-drops.js';
import type { SideFacts } from '../rules/facts.js';
import { SEVERITY, type Verdict } from '../rules/verdict.js';

// The versioned JSON documents of `tcpwhy analyze --format json|jsonl` (schema/analysis.v2.schema.json).
// Times: start in ISO 8601 (and epoch seconds under --detail), durations in seconds; packet numbers
// are 1-based as in Wireshark.

export const SCHEMA_VERSION = 2;

export interface JsonOptions {
  /** Every field the analysis has (HTTP exchanges, WebSocket, TLS, handshake, analysis counters); otherwise the compact flow. */
  detail?: boolean;
}

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

/** A string, or a value of any other kind, as JSON.stringify writes it. */
const text = (v: unknown): string => JSON.stringify(v);

/** A number as JSON.stringify writes it: null for NaN and the infinities, and for null. */
const num = (n: number | null): string => (n !== null && Number.isFinite(n) ? String(n) : 'null');

/** An array of numbers as JSON.stringify writes it. */
function numbers(ns: readonly number[]): string {
  let out = '[';
  for (let i = 0; i < ns.length; i++) out += i ? `,${num(ns[i])}` : num(ns[i]);
  return `${out}]`;
}

const pair = (client: number, server: number) => `{"client":${num(client)},"server":${num(server)}}`;

/**
 * Each verdict code's hint, written once per document instead of in every verdict: the map holds the
 * hint of the code's first verdict, and a verdict whose hint differs from it (a hint naming a side
 * or an address) carries its own. A reader takes `verdict.hint ?? hints[verdict.code] ?? ''`. Holds
 * one entry per code, whatever the number of flows.
 */
export class HintTable {
  private readonly byCode = new Map<string, string>();

  /** `compact`: facts without their empty members (see compactFacts). */
  constructor(private readonly compact = false) {}

  /** The verdict as written (JSON text): code, severity, summary, packets, facts, and its hint only where the map's differs. */
  verdictText(v: Verdict): string {
    const facts = text(this.compact ? compactFacts(v.facts) : v.facts);
    const out = `{"code":${text(v.code)},"severity":${text(v.severity)},"summary":${text(v.summary)},"packets":${numbers(v.packets)},"facts":${facts}`;
    const first = this.byCode.get(v.code);
    if (first === undefined) this.byCode.set(v.code, v.hint);
    else if (first !== v.hint) return `${out},"hint":${text(v.hint)}}`;
    return `${out}}`;
  }

  /** The verdict as written, as an object. */
  readonly verdict = (v: Verdict): Record<string, unknown> => JSON.parse(this.verdictText(v));

  /** Code -> hint for the codes seen, in code order; codes whose first verdict had no hint are left out. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const code of [...this.byCode.keys()].sort()) {
      const hint = this.byCode.get(code)!;
      if (hint) out[code] = hint;
    }
    return out;
  }
}

/** Nothing to say: null, '', [] or {}. */
const isEmpty = (v: unknown): boolean =>
  v === null || v === undefined || v === '' || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0);

/**
 * Facts of the compact document: members that are null, '', [] or {} (after the same is done inside
 * them) are left out, so a missing member reads as null. Zeros and false stay: they are findings.
 * Array elements keep their places.
 */
function compactFacts(facts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in facts) {
    const value = compactValue(facts[key]);
    if (!isEmpty(value)) out[key] = value;
  }
  return out;
}

function compactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(compactValue);
  if (v !== null && typeof v === 'object') return compactFacts(v as Record<string, unknown>);
  return v;
}

/** The flows written, by their worst verdict, and their verdicts by code: the figures a summary starts from. */
class FlowCounts {
  private flows = 0;
  private readonly worst = { error: 0, warning: 0, info: 0, none: 0 };
  private readonly verdicts = new Map<string, number>();

  add(f: FlowResult): void {
    this.flows++;
    let worst = -1;
    for (const v of f.verdicts) {
      worst = Math.max(worst, SEVERITY[v.severity]);
      this.verdicts.set(v.code, (this.verdicts.get(v.code) ?? 0) + 1);
    }
    this.worst[worst === SEVERITY.error ? 'error' : worst === SEVERITY.warning ? 'warning' : worst === SEVERITY.info ? 'info' : 'none']++;
  }

  toJSON(): Record<string, unknown> {
    const verdicts: Record<string, number> = {};
    for (const code of [...this.verdicts.keys()].sort()) verdicts[code] = this.verdicts.get(code)!;
    return { flows: this.flows, worst: { ...this.worst }, verdicts };
  }
}

/**
 * One flow of the document, as JSON text written member by member in the document's order (a flow
 * is the bulk of a report: no object is built to be stringified). Compact (the default): who,
 * state, history, times, the counts that are not zero and the verdicts. `detail` adds everything
 * the analysis knows of the flow (handshake and close packets, options, analysis counters and RTTs,
 * HTTP, WebSocket, TLS, DNS origin). The members that hold what the analysis built (analysis, http,
 * tls, ...) are written as JSON.stringify writes them.
 */
function flowText(f: FlowResult, opts: JsonOptions = {}, hints: HintTable = new HintTable(!opts.detail)): string {
  const client = f.clientSide;
  const server = f.serverSide;
  const copies = client.copies || server.copies ? pair(client.copies?.packets ?? 0, server.copies?.packets ?? 0) : null;
  const afterIdle = f.afterIdle ? `,"afterIdle":{"flow":${num(f.afterIdle.flowId)},"idleSeconds":${num(secs(f.afterIdle.idleMicros))}}` : '';
  const visibilityProof = f.visibility.proof
    ? `,"visibilityProof":${text({ ...f.visibility.proof, ...(f.peerUnseen ? { acknowledgedBytes: f.peerUnseen.acknowledgedBytes, synAckUnseen: f.peerUnseen.synAckUnseen } : {}) })}`
    : '';
  let out = `{"id":${num(f.id)},"client":${text(f.client)},"server":${text(f.server)},"state":${text(f.state)},"history":${text(f.history)}`;
  if (f.zeekConnections > 1) out += `,"zeekConnections":${num(f.zeekConnections)}`;
  out += `,"start":${text(iso(f.start))}`;
  if (!opts.detail) {
    out += `,"duration":${num(secs(f.end - f.start))}`;
    if (f.rolesGuessed) out += ',"rolesGuessed":true';
    out += `${afterIdle},"packets":${pair(client.packets, server.packets)}`;
    if (client.bytes || server.bytes) out += `,"bytes":${pair(client.bytes, server.bytes)}`;
    if (client.missedBytes || server.missedBytes) out += `,"missedBytes":${pair(client.missedBytes, server.missedBytes)}`;
    if (copies) out += `,"capturedTwice":${copies}`;
    if (f.visibility.seen !== 'both') out += `,"visibility":${text(f.visibility.seen)}${visibilityProof}`;
    if (f.memcap) out += `,"memcap":${text(f.memcap)}`;
    if (f.captureDrops) out += `,"captureDrops":${text(dropsFacts(f.captureDrops))}`;
    return `${out},"verdicts":${verdictsText(f, hints)}}`;
  }
  const app = f.app;
  const ack = f.handshakeAck;
  const rttMs = f.syns.length && f.synAcks.length && ack ? (ack.ts - f.syns[f.syns.length - 1].ts) / 1000 : null;
  out +=
    `,"firstPacket":${num(f.firstPacket)},"lastPacket":${num(f.lastPacket)},"startEpoch":${num(secs(f.start))},"duration":${num(secs(f.end - f.start))}` +
    `,"rolesGuessed":${f.rolesGuessed}${afterIdle},"packets":${pair(client.packets, server.packets)},"bytes":${pair(client.bytes, server.bytes)}` +
    `,"endReason":${text(f.endReason)}` +
    `,"handshake":{"syn":${numbers(f.syns.map((s) => s.no))},"synAck":${numbers(f.synAcks.map((s) => s.no))},"ack":${num(ack?.no ?? null)},"rttMs":${num(rttMs)}` +
    `,"options":{"client":${optionsText(client)},"server":${optionsText(server)}}}` +
    `,"close":{"clientFin":${num(client.fin?.no ?? null)},"serverFin":${num(server.fin?.no ?? null)},"clientRst":${num(client.rst?.no ?? null)},"serverRst":${num(server.rst?.no ?? null)}}` +
    `,"visibility":${text(f.visibility.seen)}${visibilityProof},"missedBytes":${pair(client.missedBytes, server.missedBytes)}`;
  if (f.analysis) out += `,"analysis":${text(f.analysis)}`;
  if (app && app.http.length) out += `,"http":${text(app.http)}`;
  if (app && app.httpDropped) out += `,"httpDropped":${text(app.httpDropped)}`;
  if (app && app.websocket) out += `,"websocket":${text(app.websocket)}`;
  if (app && app.tls) out += `,"tls":${text(app.tls)}`;
  if (app && app.errors.length) out += `,"appErrors":${text(app.errors)}`;
  if (f.dns) out += `,"dns":${text(f.dns)}`;
  if (f.memcap) out += `,"memcap":${text(f.memcap)}`;
  if (f.captureDrops) out += `,"captureDrops":${text(dropsFacts(f.captureDrops))}`;
  if (copies) out += `,"capturedTwice":${copies}`;
  return `${out},"verdicts":${verdictsText(f, hints)}}`;
}

/** The TCP options a side sent in its SYN. */
const optionsText = (s: SideFacts) =>
  `{"mss":${num(s.mss)},"windowScale":${num(s.windowScale)},"sackPermitted":${s.sackPermitted},"timestamps":${s.timestamps},"ttl":${num(s.ttl)}}`;

function verdictsText(f: FlowResult, hints: HintTable): string {
  let out = '[';
  for (let i = 0; i < f.verdicts.length; i++) out += (i ? ',' : '') + hints.verdictText(f.verdicts[i]);
  return `${out}]`;
}

/** One flow of the document as an object (see flowText). */
export function flowToJson(f: FlowResult, opts: JsonOptions = {}, hints?: HintTable): Record<string, unknown> {
  return JSON.parse(flowText(f, opts, hints));
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
    filtered: c.filtered,
    captureFilter: c.captureFilter,
    malformed: c.malformed,
    truncatedPackets: c.truncatedPackets,
    fragments: c.fragments,
    lingerLimit: c.lingerLimit,
    memcap: { ...c.memcap, countedAttempts: c.memcap.countedAttempts.map((a) => ({ ...a, firstTs: iso(a.firstTs), lastTs: iso(a.lastTs) })) },
    flows: flowCount,
    start: iso(c.start),
    duration: secs(c.end - c.start),
    stoppedEarly: c.stoppedEarly,
    dropped: c.dropped,
    diagnostics: c.diagnostics.map((d) => ({ code: d.code, message: d.message, packet: d.packet, offset: d.offset })),
    diagnosticsDropped: c.diagnosticsDropped,
  };
}

/** A report written flow by flow as flows end, then closed with the capture's summary (see analyze). */
export interface FlowReport {
  flow(f: FlowResult): void;
  end(result: AnalysisResult): void;
}

/** A machine-readable report, which stays whole (parseable) after a failure: see abort. */
export interface JsonReport extends FlowReport {
  /**
   * Ends the report after a failure that left no capture summary to write: the flows written so far
   * stay, and the capture says how many there are, that reading stopped, and why (an INTERNAL
   * diagnostic). Does nothing if the report was already ended.
   */
  abort(file: string, err: unknown): void;
}

/**
 * What ends both documents: the capture, the counts of the flows written, the capture-level
 * verdicts and the hints of every verdict written. Built whole before anything is written, so a
 * failure leaves the report to abort.
 */
abstract class JsonReportBase implements JsonReport {
  protected readonly hints: HintTable;
  protected readonly counts = new FlowCounts();
  protected written = 0;
  private ended = false;

  constructor(
    protected readonly write: (s: string) => void,
    protected readonly opts: JsonOptions = {},
  ) {
    this.hints = new HintTable(!opts.detail);
  }

  /** A flow that cannot be written throws and writes nothing. */
  flow(f: FlowResult): void {
    this.writeFlow(flowText(f, this.opts, this.hints));
    this.written++;
    this.counts.add(f);
  }

  /** `extra`: fields written after the summary's own (live capture: `live`). */
  end(result: AnalysisResult, extra: (report: this) => Record<string, unknown> = () => ({})): void {
    let summary: Record<string, unknown>;
    try {
      const capture = captureToJson(result.capture, result.flowCount);
      const verdicts = result.verdicts.map(this.hints.verdict);
      const more = extra(this); // before the hints are listed: its flows' verdicts may add to them
      summary = { capture, counts: this.counts.toJSON(), verdicts, hints: this.hints.toJSON(), ...more };
    } catch (err) {
      this.abort(result.capture.file, err);
      throw err;
    }
    this.finish(summary);
  }

  abort(file: string, err: unknown): void {
    if (this.ended) return;
    const message = `${file}: internal error, analysis stopped: ${err instanceof Error ? err.message : String(err)} [${INTERNAL}]`;
    const capture = { file, flows: this.written, stoppedEarly: true, diagnostics: [{ code: INTERNAL, message, packet: -1, offset: -1 }] };
    this.finish({ capture, counts: this.counts.toJSON(), verdicts: [], hints: this.hints.toJSON() });
  }

  private finish(summary: Record<string, unknown>): void {
    this.ended = true;
    this.writeSummary(summary);
  }

  /** `json`: the flow's JSON text (see flowText). */
  protected abstract writeFlow(json: string): void;
  protected abstract writeSummary(summary: Record<string, unknown>): void;
}

const indent = (json: string, by: string) => json.replace(/\n/g, `\n${by}`);

/**
 * `--format json`: one document, written as flows arrive: schemaVersion and the flows first, one
 * per line (so a capture with hundreds of thousands of flows never needs one giant string, and
 * analyze can write each flow as it ends), then the capture summary, counts, capture-level verdicts
 * and hints.
 */
export class JsonFlowStream extends JsonReportBase {
  private started = false;

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.write(`{\n  "schemaVersion": ${SCHEMA_VERSION},\n  "detail": ${Boolean(this.opts.detail)},\n  "flows": [`);
  }

  protected writeFlow(json: string): void {
    this.start();
    this.write(`${this.written ? ',' : ''}\n    ${json}`);
  }

  protected writeSummary(summary: Record<string, unknown>): void {
    this.start();
    let tail = '';
    for (const [key, value] of Object.entries(summary)) tail += `,\n  ${JSON.stringify(key)}: ${indent(JSON.stringify(value, null, 2), '  ')}`;
    this.write(`${this.written ? '\n  ' : ''}]${tail}\n}`);
  }
}

/**
 * `--format jsonl`: one line per flow as it ends (`"type": "flow"`), then one summary line
 * (`"type": "summary"`, schemaVersion, capture, counts, capture-level verdicts, hints). Nothing is
 * kept per flow, so a capture of any size streams.
 */
export class JsonLinesStream extends JsonReportBase {
  protected writeFlow(json: string): void {
    this.write(`{"type":"flow",${json.slice(1)}\n`);
  }

  protected writeSummary(summary: Record<string, unknown>): void {
    this.write(`${JSON.stringify({ type: 'summary', schemaVersion: SCHEMA_VERSION, detail: Boolean(this.opts.detail), ...summary })}\n`);
  }
}

/** Writes `flows` and the summary to `report`; whatever fails on the way, the report is closed whole (see abort) and the error thrown on. */
export function writeReport(report: JsonReport, result: AnalysisResult, flows: FlowResult[]): void {
  try {
    for (const f of flows) report.flow(f);
  } catch (err) {
    report.abort(result.capture.file, err);
    throw err;
  }
  report.end(result);
}

/** The whole `--format json` document, written in pieces (a capture with many flows never needs one giant string). */
export function writeJson(result: AnalysisResult, flows: FlowResult[], write: (s: string) => void, opts: JsonOptions = {}): void {
  writeReport(new JsonFlowStream(write, opts), result, flows);
}

/** The whole document as one string (small captures, tests). */
export function renderJson(result: AnalysisResult, flows: FlowResult[] = result.flows, opts: JsonOptions = {}): string {
  let out = '';
  writeJson(result, flows, (s) => (out += s), opts);
  return out;
}
