import * as fs from 'node:fs';
import { CaptureFileWriter } from '../../capture/writer.js';
import { CaptureOpenError, LINKTYPE, type CaptureInfo, type PacketRecord } from '../../capture/record.js';
import { listInterfaces, LIVE_SOURCES, openLiveSource, wallClockMicros, type LiveInterface, type LiveSource, type LiveSourceKind, type LiveStats } from '../../capture/live.js';
import { Analyzer, type FlowResult } from '../../pipeline.js';
import { JsonLinesStream } from '../../report/json.js';
import { ZeekFlowStream } from '../../report/zeek.js';
import { verdictLine } from '../../report/lines.js';
import { TextReport } from '../../report/text.js';
import { reportWidth } from '../../report/wrap.js';
import { fmtDuration } from '../../rules/format.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { memcapOf, slowThresholdsOf, type MemcapOption, type SlowOptions } from './analyze.js';
import { useColor, type CliIo } from '../io.js';
import { isZeekFormat, OUTPUT_FORMATS, outputFormatOf, type FormatOptions } from '../format.js';

// `tcpwhy live -i IFACE [filter]`: captures, prints each flow's verdicts as soon as the flow is
// decided (closed and lingered, refused, given up, idle), and on Ctrl-C, --duration or --count
// prints the same summary as `analyze`. No flow is kept once printed: the summary is built as flows
// are decided (counts, groups and the few problem flows the text report lists), so memory follows
// the open flows however long the capture runs.

export interface LiveOptions extends SlowOptions, FormatOptions, MemcapOption {
  interface?: string;
  list?: boolean;
  snaplen?: string;
  promisc?: boolean;
  source?: LiveSourceKind;
  duration?: string;
  count?: string;
  write?: string;
  onlyProblems?: boolean;
  idleTimeout?: string;
}

export { LIVE_SOURCES };

/** Live output streams as flows are decided: every format but the one JSON document (--json is --format jsonl here). */
export const LIVE_FORMATS = OUTPUT_FORMATS.filter((f) => f !== 'json');

/** Environment variable naming another module to load instead of `cap` (to test a missing cap). */
export const CAP_MODULE_ENV = 'TCPWHY_CAP_MODULE';

/** Wall-clock expiry runs this often while packets are quiet. */
const TICK_MS = 500;
/** The tick looks this far back, so a packet still in the pipe from tcpdump is not overtaken by its flow's expiry. */
const TICK_LAG_MICROS = 250_000;
/** The tcpdump child stops by itself this long after --duration even if tcpwhy dies. */
const CHILD_GRACE_SEC = 10;

export async function runLive(filterWords: string[], opts: LiveOptions, io: CliIo): Promise<ExitCode> {
  const capModule = io.env[CAP_MODULE_ENV];
  if (opts.list) {
    if (opts.interface || filterWords.length) throw new CliError('--list takes no interface or filter', EXIT.USAGE);
    io.stdout(`${renderInterfaces(await listInterfaces({ capModule }))}\n`);
    return EXIT.OK;
  }
  if (!opts.interface) throw new CliError("live needs an interface: -i IFACE (tcpwhy live --list shows them), e.g. tcpwhy live -i lo 'tcp port 8080'", EXIT.USAGE);
  const iface = opts.interface;
  const filter = filterWords.join(' ').trim();
  const snaplen = positiveInt(opts.snaplen, '--snaplen', 0) ?? 0;
  const durationSec = positiveNumber(opts.duration, '--duration');
  const count = positiveInt(opts.count, '--count', undefined);
  const idleSec = positiveNumber(opts.idleTimeout, '--idle-timeout') ?? 300;
  const kind = opts.source ?? 'tcpdump';
  const color = useColor(io);
  const format = outputFormatOf(opts, 'jsonl');
  const lines = format === 'jsonl' ? new JsonLinesStream((s) => io.stdout(s), { detail: opts.detail }) : null;
  const conn = isZeekFormat(format) ? new ZeekFlowStream(format, (s) => io.stdout(s), null) : null;
  // The report analyze writes: summary and problem groups first, healthy flows folded into counts.
  const report = lines || conn ? null : new TextReport({ color, width: reportWidth(undefined, io.isTTY, io.columns) }, (s) => io.stdout(s));

  let writeFd: number | null = null;
  if (opts.write) {
    try {
      writeFd = fs.openSync(opts.write, 'w');
    } catch (err) {
      throw new CliError(`--write ${opts.write}: cannot create the file: ${(err as Error).message}`, EXIT.INPUT);
    }
  }
  let writer: CaptureFileWriter | null = null;
  // A .pcapng file keeps the kernel's drop count in its statistics, as dumpcap's do; pcap cannot.
  const writeFormat = opts.write && /\.pcapng$/i.test(opts.write) ? 'pcapng' : 'pcap';

  const analyzer = new Analyzer({
    file: `live:${iface}`,
    idleTimeoutSec: idleSec,
    slow: slowThresholdsOf(opts),
    memcapBytes: memcapOf(opts),
    keepEvents: false,
    retainFlows: false,
    // A refused connection is said when it happens, not after the hour a scan could take to show.
    holdProbes: false,
    // Only --detail JSON lines list every HTTP exchange.
    keepExchanges: opts.detail === true,
    onFlowJudged: (f) => {
      // The text report counts every flow; --only-problems leaves the healthy ones out of what is printed as they end.
      report?.flow(f);
      if (opts.onlyProblems && !f.verdicts.some((v) => v.severity !== 'info')) return;
      if (lines) lines.flow(f);
      else if (conn) conn.flow(f);
      else io.stdout(`${liveFlowLine(f, color)}\n`);
    },
  });

  let packets = 0;
  let stopRequested: (() => void) | null = null;
  const stopSignal = new Promise<void>((res) => (stopRequested = res));
  const onPacket = (rec: PacketRecord): void => {
    if (count !== undefined && packets >= count) return; // the rest of a chunk already read after the count was reached
    packets++;
    if (writeFd !== null) {
      writer ??= new CaptureFileWriter(writeFd, { linkType: rec.linkType, snaplen: source?.snaplen || 262144, format: writeFormat });
      writer.write(rec.tsMicros, rec.bytes, rec.off, rec.end, rec.origLen);
    }
    analyzer.onRecord(rec);
    if (count !== undefined && packets >= count) stopRequested?.();
  };

  // Installed before "listening on" is printed: whoever reacts to that line may signal at once.
  const onSignal = () => stopRequested?.();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const removeSignals = () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };

  let source: LiveSource | null = null;
  try {
    source = await openLiveSource(kind, { iface, filter, snaplen, promisc: Boolean(opts.promisc), maxLifetimeSec: durationSec !== undefined ? durationSec + CHILD_GRACE_SEC : undefined }, onPacket, { capModule });
  } catch (err) {
    removeSignals();
    if (writeFd !== null) {
      fs.closeSync(writeFd);
      fs.rmSync(opts.write!, { force: true });
    }
    if (err instanceof CaptureOpenError) throw new CliError(err.message, EXIT.INPUT);
    throw err;
  }
  const startedAt = wallClockMicros();
  for (const w of source.warnings) io.stderr(`tcpwhy: ${w}\n`);
  io.stderr(
    `tcpwhy: listening on ${iface}${filter ? ` (filter '${filter}')` : ''}, source ${source.kind} with ${source.kernelTimestamps ? 'kernel' : 'arrival (approximate)'} timestamps; ` +
      `${durationSec !== undefined ? `stopping after ${durationSec} s` : count !== undefined ? `stopping after ${count} packets` : 'Ctrl-C to stop'}\n`,
  );

  const tick = setInterval(() => analyzer.expireFlows(wallClockMicros() - TICK_LAG_MICROS), TICK_MS);
  const timer = durationSec !== undefined ? setTimeout(() => stopRequested?.(), durationSec * 1000) : null;
  let stats: LiveStats;
  try {
    await Promise.race([stopSignal, source.ended]);
    stats = await source.stop();
  } finally {
    clearInterval(tick);
    if (timer) clearTimeout(timer);
    removeSignals();
  }
  const elapsed = wallClockMicros() - startedAt;

  if (writeFd !== null) {
    // No packet came: still leave a valid, empty capture behind.
    writer ??= new CaptureFileWriter(writeFd, { linkType: source.linkType >= 0 ? source.linkType : LINKTYPE.ETHERNET, snaplen: source.snaplen || 262144, format: writeFormat });
    writer.close({ received: packets, dropped: stats.droppedByKernel });
  }

  const info: CaptureInfo = {
    file: `live:${iface}`,
    format: 'live',
    linkTypes: source.linkType >= 0 ? [source.linkType] : [],
    snaplen: source.snaplen,
    packets,
    truncatedPackets: stats.truncated,
    // Straight from the kernel: only the snap length cuts a live packet.
    truncatedBelowSnaplen: 0,
    diagnostics: [],
    stoppedEarly: false,
    // The kernel's drops are packets the capture lacks; the interface's (ps_ifdrop, the whole
    // interface's receive drops) are packets the host lost too, and stay in the live line alone.
    dropped: stats.droppedByKernel === null ? null : { packets: stats.droppedByKernel, inStatistics: stats.droppedByKernel, beforePackets: 0, firstAfterLoss: 0, source: 'live', interfaces: 1, counted: 1, largerCapture: null },
  };
  const result = analyzer.finish(info);
  for (const d of result.capture.diagnostics) io.stderr(`${d.message}\n`);
  const captureLine = liveCaptureLine(iface, filter, source, stats, packets, elapsed, opts.write);
  if (lines) {
    lines.end(result, () => ({ live: liveJson(iface, filter, source, stats, packets, elapsed, opts.write) }));
  } else if (conn) {
    // conn.log holds the connections alone; what the capture saw and dropped goes to stderr.
    conn.end(result);
    io.stderr(`tcpwhy: ${captureLine}\n`);
  } else if (report) {
    report.end(result);
    io.stdout(`${captureLine}\n`);
  }
  // The text report says it in its capture line and capture-loss; the other formats' readers may only see stderr.
  if (stats.droppedByKernel && !report) io.stderr(`tcpwhy: ${stats.droppedByKernel} packets dropped by the kernel: verdicts may rest on missing packets (narrow the filter or lower the load)\n`);
  return EXIT.OK;
}

/** One line per decided flow: time, id, endpoints, state and history, then its verdicts. */
export function liveFlowLine(f: FlowResult, color: boolean): string {
  const time = new Date(Math.floor(f.end / 1000)).toISOString().slice(11, 23);
  const verdicts = f.verdicts.length ? f.verdicts.map((v) => verdictLine(v, color)).join(' | ') : '-';
  return `${time} flow ${f.id} ${f.client} -> ${f.server} ${f.state} ${f.history} (${fmtDuration(f.end - f.start)}, ${f.endReason}): ${verdicts}`;
}

function liveJson(iface: string, filter: string, source: LiveSource, stats: LiveStats, packets: number, elapsed: number, write: string | undefined) {
  return {
    interface: iface,
    filter,
    source: source.kind,
    kernelTimestamps: source.kernelTimestamps,
    seconds: Math.round(elapsed / 1000) / 1000,
    packets,
    droppedByKernel: stats.droppedByKernel,
    droppedByInterface: stats.droppedByInterface,
    written: write ?? null,
  };
}

function liveCaptureLine(iface: string, filter: string, source: LiveSource, stats: LiveStats, packets: number, elapsed: number, write: string | undefined): string {
  const drops =
    stats.droppedByKernel === null
      ? 'drops unknown (cap reports none)'
      : `${stats.droppedByKernel} dropped by the kernel${stats.droppedByInterface ? `, ${stats.droppedByInterface} by the interface` : ''}`;
  const parts = [
    `live capture on ${iface}${filter ? ` '${filter}'` : ''} for ${fmtDuration(elapsed)}: ${packets} packets, ${drops}`,
    `source ${source.kind} (${source.kernelTimestamps ? 'kernel timestamps' : 'arrival timestamps, approximate'})`,
  ];
  if (write) parts.push(`written to ${write}`);
  return parts.join('; ');
}

/** tcpdump's words when it lacks capture rights ("You don't have permission ...", "Operation not permitted"). */
const NO_PERMISSION = /permission|not permitted/i;

export function renderInterfaces(list: LiveInterface[]): string {
  if (list.length === 0) return "No capture interfaces found: libpcap, tcpdump -D and the kernel's address list name none.";
  const lines = list.map((i) => {
    const link = i.linkTypes.length ? i.linkTypes.join(', ') : `link type unknown (${linkTypesUnknown(i.linkTypesError)})`;
    const addrs = i.addresses.length ? i.addresses.join(' ') : 'no addresses';
    const desc = i.description ? ` (${i.description})` : '';
    return `${i.name}${i.loopback ? ' [loopback]' : ''}${desc}\n    ${addrs}\n    ${link}`;
  });
  return lines.join('\n');
}

/** Why no link type is shown: capture rights only when tcpdump said so, else tcpdump's own reason. */
function linkTypesUnknown(error: string): string {
  if (NO_PERMISSION.test(error)) return 'needs capture rights';
  return error || 'tcpdump -L named none';
}

function positiveInt(v: string | undefined, name: string, dflt: number | undefined): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} takes a whole number > 0, got '${v}'`, EXIT.USAGE);
  return n;
}

function positiveNumber(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new CliError(`${name} takes seconds > 0, got '${v}'`, EXIT.USAGE);
  return n;
}

