import { hash } from 'node:crypto';
import { parseAddr } from '../decode/addr.js';
import type { AnalysisResult, FlowResult } from '../pipeline.js';
import { inPrefix } from '../rules/address-rules.js';
import type { Verdict } from '../rules/verdict.js';

// Zeek's logs of tcpwhy's flows: conn.log (one row per TCP flow, Zeek's fields, types and header
// lines as its ASCII writer writes them, or JSON lines as its JSON writer does) and tcpwhy.log (one
// row per verdict, keyed by the conn.log uid). Values are computed the way Zeek computes them (see
// connRow); tcpwhy tracks TCP only, so UDP and ICMP connections have no row.

export const ZEEK_FORMATS = ['zeek', 'zeek-json'] as const;
export type ZeekFormat = (typeof ZEEK_FORMATS)[number];

type ZeekType = 'time' | 'string' | 'addr' | 'port' | 'enum' | 'interval' | 'count' | 'bool' | 'set[string]' | 'vector[count]';

interface ZeekField {
  name: string;
  type: ZeekType;
}

/** A field's value: null is unset (`-`); times and intervals are seconds as Zeek holds them (a double). */
export type ZeekValue = string | number | boolean | string[] | number[] | null;

const field = (name: string, type: ZeekType): ZeekField => ({ name, type });

/** The connection's 4-tuple (Zeek's conn_id), as both logs name it. */
const ID_FIELDS: readonly ZeekField[] = [
  field('id.orig_h', 'addr'),
  field('id.orig_p', 'port'),
  field('id.resp_h', 'addr'),
  field('id.resp_p', 'port'),
];

/** conn.log's fields in Zeek's order, as its current release writes them (with ip_proto last). */
export const CONN_FIELDS: readonly ZeekField[] = [
  field('ts', 'time'),
  field('uid', 'string'),
  ...ID_FIELDS,
  field('proto', 'enum'),
  field('service', 'string'),
  field('duration', 'interval'),
  field('orig_bytes', 'count'),
  field('resp_bytes', 'count'),
  field('conn_state', 'string'),
  field('local_orig', 'bool'),
  field('local_resp', 'bool'),
  field('missed_bytes', 'count'),
  field('history', 'string'),
  field('orig_pkts', 'count'),
  field('orig_ip_bytes', 'count'),
  field('resp_pkts', 'count'),
  field('resp_ip_bytes', 'count'),
  field('tunnel_parents', 'set[string]'),
  field('ip_proto', 'count'),
];

/** tcpwhy.log: one row per verdict; capture-level verdicts have no uid nor id. */
const VERDICT_FIELDS: readonly ZeekField[] = [
  field('ts', 'time'),
  field('uid', 'string'),
  ...ID_FIELDS,
  field('code', 'string'),
  field('severity', 'string'),
  field('summary', 'string'),
  field('packets', 'vector[count]'),
  field('hint', 'string'),
];

/** A time in integer microseconds as the double Zeek makes of a packet's timestamp: seconds + microseconds / 1e6. */
export function zeekTime(micros: number): number {
  const seconds = Math.floor(micros / 1e6);
  return seconds + (micros - seconds * 1e6) / 1e6;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The unsigned number `high` * 2^32 + `low` in base 62, lowest digit first (divided in two 32-bit halves: exact in doubles). */
function base62(high: number, low: number): string {
  let out = '';
  do {
    const rest = (high % 62) * 0x1_0000_0000 + low; // below 62 * 2^32
    high = Math.floor(high / 62);
    low = Math.floor(rest / 62);
    out += BASE62[rest % 62];
  } while (high > 0 || low > 0);
  return out;
}

/**
 * A connection uid in Zeek's form ('C' and 96 bits in base 62), taken from what identifies the flow
 * in its capture (id, 4-tuple, first packet time) rather than drawn at random as Zeek does: the
 * same file always gives the same uids, so logs of two runs join.
 */
export function zeekUid(f: FlowResult): string {
  const digest = hash('sha256', `${f.id} ${f.client} ${f.server} ${f.start}`, 'buffer');
  return `C${base62(digest.readUInt32BE(0), digest.readUInt32BE(4))}${base62(0, digest.readUInt32BE(8))}`;
}

/** Site::private_address_space as Zeek defines it, which its default Site::local_nets holds (local_orig, local_resp). */
const LOCAL_NETS = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4', '255.255.255.255/32',
  '2002::/24', '2002:a00::/24', '2002:6440::/26', '2002:7f00::/24', '2002:a9fe::/32', '2002:ac10::/28', '2002:c000::/40',
  '2002:c000:200::/40', '2002:c0a8::/32', '2002:c612::/31', '2002:c633:6400::/40', '2002:cb00:7100::/40', '2002:f000::/20',
  '2002:ffff:ffff::/48', '::/128', '::1/128', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:2::/48', '2001:db8::/32',
  'fc00::/7', 'fe80::/10',
].map((text) => {
  const [addr, bits] = text.split('/');
  return { ...parseAddr(addr), bits: Number(bits) };
});

/**
 * isLocalAddress of the addresses met lately: a capture's flows share few servers (and often
 * clients), and parsing an address costs more than the lookup. Emptied when full, so it stays small.
 */
const localByAddress = new Map<string, boolean>();

function isLocalCached(address: string): boolean {
  let local = localByAddress.get(address);
  if (local === undefined) {
    if (localByAddress.size >= 4096) localByAddress.clear();
    local = isLocalAddress(address);
    localByAddress.set(address, local);
  }
  return local;
}

/** The address is in Zeek's default local networks. */
export function isLocalAddress(address: string): boolean {
  const a = parseAddr(address);
  return LOCAL_NETS.some((net) => {
    if (net.version !== a.version) return false;
    if (a.version === 4) return inPrefix(a.words[3], net.words[3], net.bits);
    for (let i = 0, left = net.bits; i < 4 && left > 0; i++, left -= 32) if (!inPrefix(a.words[i], net.words[i], Math.min(32, left))) return false;
    return true;
  });
}

/** Zeek's HTTP::ports: on these its HTTP analyzer starts with the connection; elsewhere only once the server's bytes read as HTTP. */
const ZEEK_HTTP_PORTS = new Set([80, 81, 631, 1080, 3128, 8000, 8080, 8888]);

/**
 * The protocols Zeek would have confirmed on the flow, of those tcpwhy reads, in the order they
 * started: http at a parsed request (on another port only with a parsed response, as Zeek's
 * protocol detection needs the server to answer in HTTP), websocket after its 101, ssl at a
 * ClientHello.
 */
function zeekService(f: FlowResult): string[] {
  const app = f.app;
  if (!app) return [];
  const found: Array<{ name: string; at: number }> = [];
  const exchange = app.http.find((x) => x.request && (x.response || ZEEK_HTTP_PORTS.has(f.serverPort)));
  if (exchange) found.push({ name: 'http', at: exchange.request!.packet });
  if (app.websocket?.upgraded) found.push({ name: 'websocket', at: app.websocket.responsePacket ?? app.websocket.requestPacket });
  if (app.tls?.clientHello) found.push({ name: 'ssl', at: app.tls.clientHello.no });
  return found.sort((a, b) => a.at - b.at).map((s) => s.name);
}

/**
 * The flow's conn.log row, as Zeek's Conn::set_conn fills it at the end of the connection:
 * duration and byte counts are left unset when the duration is 0, history when empty; bytes are
 * what the sequence numbers span (Zeek's endpoint size), packets and IP bytes what was captured.
 */
function connRow(f: FlowResult, uid: string): ZeekValue[] {
  const start = zeekTime(f.start);
  const duration = zeekTime(f.lastOpen) - start;
  const lasted = duration > 0;
  const service = zeekService(f);
  return [
    start,
    uid,
    f.clientIp,
    f.clientPort,
    f.serverIp,
    f.serverPort,
    'tcp',
    service.length ? service.join(',') : null,
    lasted ? duration : null,
    lasted ? f.clientSide.seqBytes : null,
    lasted ? f.serverSide.seqBytes : null,
    f.state,
    isLocalCached(f.clientIp),
    isLocalCached(f.serverIp),
    f.clientSide.missedBytes + f.serverSide.missedBytes,
    f.history || null,
    f.clientSide.packets,
    f.clientSide.ipBytes,
    f.serverSide.packets,
    f.serverSide.ipBytes,
    null,
    6,
  ];
}

function verdictRow(ts: number, uid: string | null, f: FlowResult | null, v: Verdict): ZeekValue[] {
  return [ts, uid, f?.clientIp ?? null, f?.clientPort ?? null, f?.serverIp ?? null, f?.serverPort ?? null, v.code, v.severity, v.summary, v.packets, v.hint || null];
}

/** Zeek's ASCII writer escapes its separator, backslashes and bytes that do not print as \xNN. */
function escapeTsv(text: string): string {
  // Most values have nothing to escape: testing first costs less than a replace that finds nothing.
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(ESCAPED, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\x00-\x1f\x7f\\]/;
// eslint-disable-next-line no-control-regex
const ESCAPED = /[\x00-\x1f\x7f\\]/g;

function tsvValue(type: ZeekType, value: ZeekValue): string {
  if (value === null) return '-';
  if (type === 'time' || type === 'interval') return (value as number).toFixed(6);
  if (type === 'bool') return value ? 'T' : 'F';
  if (Array.isArray(value)) return value.length ? value.map((v) => escapeTsv(String(v))).join(',') : '(empty)';
  const text = String(value);
  if (text === '') return '(empty)';
  // A value that reads as unset or empty has its first character escaped.
  if (text === '-' || text === '(empty)') return `\\x${text.charCodeAt(0).toString(16)}${escapeTsv(text.slice(1))}`;
  return escapeTsv(text);
}

/** A double as Zeek's JSON writer (rapidjson) writes it: shortest round-trip digits, a '.0' on whole numbers. */
function jsonDouble(x: number): string {
  const text = String(x);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

function jsonValue(type: ZeekType, value: ZeekValue): string {
  if (type === 'time' || type === 'interval') return jsonDouble(value as number);
  return JSON.stringify(value);
}

/** `#open` and `#close` stamps: the wall clock in local time, as Zeek writes them. */
function stamp(now: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}-${two(now.getHours())}-${two(now.getMinutes())}-${two(now.getSeconds())}`;
}

/**
 * One Zeek log: TSV with the header lines Zeek's ASCII writer puts before the rows and the #close
 * line after them, or JSON lines (one object per row, unset fields left out, no header).
 */
class ZeekLog {
  private opened = false;

  constructor(
    private readonly path: string,
    private readonly fields: readonly ZeekField[],
    private readonly format: ZeekFormat,
    private readonly write: (s: string) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private open(): void {
    if (this.opened || this.format !== 'zeek') return;
    this.opened = true;
    this.write(
      '#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n' +
        `#path\t${this.path}\n#open\t${stamp(this.now())}\n` +
        `#fields\t${this.fields.map((f) => f.name).join('\t')}\n#types\t${this.fields.map((f) => f.type).join('\t')}\n`,
    );
  }

  row(values: ZeekValue[]): void {
    if (this.format === 'zeek') {
      this.open();
      let line = tsvValue(this.fields[0].type, values[0]);
      for (let i = 1; i < values.length; i++) line += `\t${tsvValue(this.fields[i].type, values[i])}`;
      this.write(`${line}\n`);
      return;
    }
    const members: string[] = [];
    for (let i = 0; i < values.length; i++) if (values[i] !== null) members.push(`${JSON.stringify(this.fields[i].name)}:${jsonValue(this.fields[i].type, values[i])}`);
    this.write(`{${members.join(',')}}\n`);
  }

  /** A TSV log with no row still has its header: an empty log, not an empty file. */
  close(): void {
    if (this.format !== 'zeek') return;
    this.open();
    this.write(`#close\t${stamp(this.now())}\n`);
  }
}

/**
 * `analyze --format zeek|zeek-json`: conn.log rows as flows end, and, when asked, tcpwhy.log rows
 * of their verdicts; the capture-level verdicts at the end.
 */
export class ZeekFlowStream {
  private readonly conn: ZeekLog;
  private readonly verdicts: ZeekLog | null;

  constructor(format: ZeekFormat, writeConn: (s: string) => void, writeVerdicts: ((s: string) => void) | null, now?: () => Date) {
    this.conn = new ZeekLog('conn', CONN_FIELDS, format, writeConn, now);
    this.verdicts = writeVerdicts ? new ZeekLog('tcpwhy', VERDICT_FIELDS, format, writeVerdicts, now) : null;
  }

  flow(f: FlowResult): void {
    const uid = zeekUid(f);
    this.conn.row(connRow(f, uid));
    if (this.verdicts) for (const v of f.verdicts) this.verdicts.row(verdictRow(zeekTime(f.start), uid, f, v));
  }

  end(result: AnalysisResult): void {
    this.conn.close();
    if (!this.verdicts) return;
    for (const v of result.verdicts) this.verdicts.row(verdictRow(zeekTime(result.capture.start), null, null, v));
    this.verdicts.close();
  }
}
