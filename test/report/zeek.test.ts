// Zeek's logs of tcpwhy's flows: conn.log as Zeek's ASCII and JSON writers write it, and tcpwhy.log
// of the verdicts, keyed by uid. Field-by-field agreement with Zeek's own logs is in
// test/e2e/zeek-log.test.ts; this file holds the format and the command line.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { analyzeFile, type FlowResult } from '../../src/pipeline.js';
import { CONN_FIELDS, isLocalAddress, ZeekFlowStream, zeekTime, zeekUid } from '../../src/report/zeek.js';
import { memoryIo } from '../helpers/io.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-zeek-'));
const OPENED = new Date(2024, 0, 2, 3, 4, 5);

function logsOf(file: string, format: 'zeek' | 'zeek-json'): { conn: string; verdicts: string; flows: FlowResult[] } {
  const result = analyzeFile(sample(file));
  let conn = '';
  let verdicts = '';
  const out = new ZeekFlowStream(format, (s) => (conn += s), (s) => (verdicts += s), () => OPENED);
  for (const f of result.flows) out.flow(f);
  out.end(result);
  return { conn, verdicts, flows: result.flows };
}

/** Rows of a TSV log by field name, the way zeek-cut reads them (after #separator and #fields). */
function rowsOf(log: string): Array<Record<string, string>> {
  const lines = log.trimEnd().split('\n');
  expect(lines[0]).toBe('#separator \\x09');
  const fields = lines.find((l) => l.startsWith('#fields\t'))!.split('\t').slice(1);
  return lines.filter((l) => !l.startsWith('#')).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i], v])));
}

describe('conn.log as Zeek writes it', () => {
  it('has the ASCII writer header lines, the rows, then #close', () => {
    const { conn } = logsOf('refused.pcap', 'zeek');
    const lines = conn.trimEnd().split('\n');
    expect(lines.slice(0, 6)).toEqual(['#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', '#open\t2024-01-02-03-04-05']);
    expect(lines[6]).toBe(`#fields\t${CONN_FIELDS.map((f) => f.name).join('\t')}`);
    expect(lines[7]).toBe(
      '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount',
    );
    expect(lines.at(-1)).toBe('#close\t2024-01-02-03-04-05');
    expect(lines).toHaveLength(10);
  });

  it('fills a refused connection the way Zeek does: REJ, Sr, IP datagram bytes, local loopback', () => {
    const { conn, flows } = logsOf('refused.pcap', 'zeek');
    const [row] = rowsOf(conn);
    const f = flows[0];
    // tcpdump -r samples/refused.pcap: 127.0.0.1.51590 > 127.0.0.1.22057: Flags [S] length 0, answered by [R.]; IP lengths 60 and 40.
    expect(row).toMatchObject({
      uid: zeekUid(f),
      'id.orig_h': '127.0.0.1',
      'id.orig_p': '51590',
      'id.resp_h': '127.0.0.1',
      'id.resp_p': '22057',
      proto: 'tcp',
      service: '-',
      orig_bytes: '0',
      resp_bytes: '0',
      conn_state: 'REJ',
      local_orig: 'T',
      local_resp: 'T',
      missed_bytes: '0',
      history: 'Sr',
      orig_pkts: '1',
      orig_ip_bytes: '60',
      resp_pkts: '1',
      resp_ip_bytes: '40',
      tunnel_parents: '-',
      ip_proto: '6',
    });
    expect(row.ts).toBe(`${Math.floor(f.start / 1e6)}.${String(f.start % 1e6).padStart(6, '0')}`);
    expect(row.duration).toBe(((f.lastOpen - f.start) / 1e6).toFixed(6));
  });

  it('ends the duration at the last packet before both sides had closed, as Zeek does, and counts the bytes the sequence numbers span', () => {
    const { conn, flows } = logsOf('http-clean.pcap', 'zeek');
    const [row] = rowsOf(conn);
    const f = flows[0];
    expect(f.lastOpen).toBeLessThan(f.end); // the final ACK came after both FINs
    expect(row.duration).toBe(((f.lastOpen - f.start) / 1e6).toFixed(6));
    expect(row.service).toBe('http');
    expect(Number(row.orig_bytes)).toBe(f.clientSide.seqBytes);
    expect(f.clientSide.seqBytes).toBeGreaterThan(0);
  });

  it('names http and websocket in the order they started', () => {
    const { conn } = logsOf('ws-healthy.pcap', 'zeek');
    expect(rowsOf(conn).map((r) => r.service)).toContain('http,websocket');
    const tls = logsOf('tls-ok.pcap', 'zeek');
    expect(rowsOf(tls.conn).map((r) => r.service)).toContain('ssl');
  });

  it('leaves duration and byte counts unset when the duration is 0, as Zeek does', () => {
    const { flows } = analyzeFile(sample('refused.pcap'));
    let log = '';
    const out = new ZeekFlowStream('zeek', (s) => (log += s), null);
    out.flow({ ...flows[0], lastOpen: flows[0].start });
    out.end({ capture: { start: flows[0].start }, verdicts: [] } as never);
    expect(rowsOf(log)[0]).toMatchObject({ duration: '-', orig_bytes: '-', resp_bytes: '-', orig_pkts: '1' });
  });

  it('gives each flow its own uid, the same on every run', () => {
    const a = logsOf('port-scan.pcap', 'zeek');
    const b = logsOf('port-scan.pcap', 'zeek');
    const uids = rowsOf(a.conn).map((r) => r.uid);
    expect(uids.length).toBeGreaterThan(15);
    expect(new Set(uids).size).toBe(uids.length);
    expect(rowsOf(b.conn).map((r) => r.uid)).toEqual(uids);
    for (const uid of uids) expect(uid).toMatch(/^C[0-9A-Za-z]{12,18}$/);
  });

  it('writes the same rows as JSON lines, unset fields left out, times as Zeek computes the doubles', () => {
    const tsv = rowsOf((logsOf('nginx-ws-bad.pcap', 'zeek')).conn);
    const { conn, flows } = logsOf('nginx-ws-bad.pcap', 'zeek-json');
    const json = conn.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json).toHaveLength(tsv.length);
    json.forEach((row, i) => {
      const f = flows[i];
      expect(Object.keys(row)).toEqual(CONN_FIELDS.map((fd) => fd.name).filter((name) => tsv[i][name] !== '-'));
      expect(row.ts).toBe(zeekTime(f.start));
      expect(row.duration).toBe(zeekTime(f.lastOpen) - zeekTime(f.start));
      for (const [name, value] of Object.entries(row)) {
        if (name === 'ts' || name === 'duration') expect((value as number).toFixed(6)).toBe(tsv[i][name]);
        else if (typeof value === 'boolean') expect(value ? 'T' : 'F').toBe(tsv[i][name]);
        else expect(String(value)).toBe(tsv[i][name]);
      }
    });
  });
});

describe("Zeek's local networks", () => {
  it('are its private address space: RFC 1918, loopback, link-local, CGNAT, ULA and the reserved blocks', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '192.168.1.28', '127.0.0.1', '100.64.0.1', '169.254.1.1', '::1', 'fe80::1', 'fd00::5', '2001:db8::1', '2002:c0a8:101::1'])
      expect(isLocalAddress(a), a).toBe(true);
    for (const a of ['8.8.8.8', '172.32.0.1', '141.142.228.5', '2001:470:1f11:81f::1', '2a00:6020::10', '::ffff:10.0.0.1']) expect(isLocalAddress(a), a).toBe(false);
  });
});

describe('tcpwhy.log', () => {
  it('has one row per verdict, keyed by the uid of its conn.log row; capture-level verdicts have no uid', () => {
    const { conn, verdicts, flows } = logsOf('port-scan.pcap', 'zeek');
    expect(verdicts).toContain('#path\ttcpwhy\n');
    const rows = rowsOf(verdicts);
    const uids = new Map(rowsOf(conn).map((r) => [r.uid, r]));
    expect(rows).toHaveLength(flows.reduce((n, f) => n + f.verdicts.length, 0) + 1);
    for (const row of rows.slice(0, -1)) {
      const c = uids.get(row.uid);
      expect(c, row.uid).toBeDefined();
      expect([row['id.orig_h'], row['id.orig_p'], row['id.resp_p']]).toEqual([c!['id.orig_h'], c!['id.orig_p'], c!['id.resp_p']]);
    }
    expect(rows.at(-1)).toMatchObject({ uid: '-', 'id.orig_h': '-', code: 'port-scan', severity: 'warning' });
    expect(rows.at(-1)!.packets).toMatch(/^\d+(,\d+)+$/);
  });

  it('escapes what would break a TSV row, and marks an absent hint unset', () => {
    const { flows } = analyzeFile(sample('refused.pcap'));
    const verdict = { ...flows[0].verdicts[0], summary: 'tab\there\nand a back\\slash', hint: '' };
    let log = '';
    const out = new ZeekFlowStream('zeek', () => {}, (s) => (log += s));
    out.flow({ ...flows[0], verdicts: [verdict] });
    out.end({ capture: { start: flows[0].start }, verdicts: [] } as never);
    expect(rowsOf(log)[0]).toMatchObject({ summary: 'tab\\x09here\\x0aand a back\\x5cslash', hint: '-' });
  });

  it('escapes a value that would read as unset or empty, and writes whole seconds as doubles in JSON', () => {
    const { flows } = analyzeFile(sample('refused.pcap'));
    const logs = { zeek: '', 'zeek-json': '' };
    for (const format of ['zeek', 'zeek-json'] as const) {
      const out = new ZeekFlowStream(format, () => {}, (s) => (logs[format] += s));
      out.flow({ ...flows[0], verdicts: [{ ...flows[0].verdicts[0], summary: '-', hint: '(empty)' }] });
      out.end({ capture: { start: 1_700_000_000_000_000 }, verdicts: [{ ...flows[0].verdicts[0], summary: '' }] } as never);
    }
    const [row, capture] = rowsOf(logs.zeek);
    expect(row).toMatchObject({ summary: '\\x2d', hint: '\\x28empty)' });
    expect(capture).toMatchObject({ ts: '1700000000.000000', summary: '(empty)' });
    // Zeek's JSON writer gives a time on a whole second as 1700000000.0, a double, never as an integer.
    expect(logs['zeek-json'].trimEnd().split('\n')[1]).toMatch(/^\{"ts":1700000000\.0,/);
    expect(logs['zeek-json'].trimEnd().split('\n').map((l) => JSON.parse(l).summary)).toEqual(['-', '']);
  });
});

describe('tcpwhy analyze --format zeek', () => {
  it('writes conn.log on stdout and tcpwhy.log to --zeek-verdicts, exit 0', async () => {
    const io = memoryIo();
    const verdicts = join(dir, 'tcpwhy.log');
    expect(await run(['analyze', sample('nginx-ws-bad.pcap'), '--format', 'zeek', '--zeek-verdicts', verdicts], io)).toBe(0);
    const conn = rowsOf(io.out);
    expect(conn.map((r) => r.history)).toEqual(['ShADadfF', 'ShADadfF']);
    const codes = rowsOf(readFileSync(verdicts, 'utf8')).filter((r) => r.uid === conn[0].uid).map((r) => r.code);
    expect(codes).toContain('ws-fin-after-101');
  });

  it('writes the one flow --flow names', async () => {
    const io = memoryIo();
    expect(await run(['analyze', sample('port-scan.pcap'), '--format', 'zeek-json', '--flow', '3'], io)).toBe(0);
    const lines = io.out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ proto: 'tcp', conn_state: expect.any(String) });
  });

  it('refuses --zeek-verdicts without a Zeek format, --json with one, and an unknown format (exit 2)', async () => {
    for (const args of [
      ['--zeek-verdicts', join(dir, 'x.log')],
      ['--format', 'zeek', '--json'],
      ['--format', 'csv'],
      ['--format', 'zeek', '--zeek-verdicts', join(dir, 'no-such-dir', 'x.log')],
    ]) {
      const io = memoryIo();
      expect(await run(['analyze', sample('refused.pcap'), ...args], io), args.join(' ')).toBe(2);
      expect(io.out).toBe('');
    }
  });
});
