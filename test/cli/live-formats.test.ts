// live --format zeek|zeek-json|jsonl on packets played through a stand-in for cap
// (test/helpers/replay-cap.mjs): no interface, no capture rights, nothing on the network. Live
// timestamps are the wall clock's, so times, durations and uids differ from analyze's; every other
// field of a flow must be what analyze writes for the same file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { CAP_MODULE_ENV } from '../../src/cli/commands/live.js';
import { CONN_FIELDS } from '../../src/report/zeek.js';
import { toPcap } from '../helpers/capture.js';
import { conv } from '../helpers/conversation.js';
import { memoryIo } from '../helpers/io.js';

const SAMPLE = 'samples/nginx-ws-bad.pcap'; // 20 packets, two WebSocket upgrades refused by the backend
const PACKETS = '20';
const REPLAY = join(process.cwd(), 'test/helpers/replay-cap.mjs');

afterEach(() => {
  delete process.env.TCPWHY_REPLAY_PCAP;
});

async function live(args: string[], pcap = join(process.cwd(), SAMPLE), packets = PACKETS) {
  process.env.TCPWHY_REPLAY_PCAP = pcap;
  const io = memoryIo(false, { [CAP_MODULE_ENV]: REPLAY });
  const code = await run(['live', '-i', 'replay', '--source', 'cap', '--count', packets, ...args], io);
  return { code, out: io.out, err: io.err };
}

async function analyze(args: string[]) {
  const io = memoryIo();
  expect(await run(['analyze', SAMPLE, ...args], io)).toBe(0);
  return io.out;
}

/** A conn.log row as field -> value, without the fields that follow the clock. */
const CLOCK_FIELDS = new Set(['ts', 'uid', 'duration']);
function tsvRows(log: string): Array<Record<string, string>> {
  return log
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [CONN_FIELDS[i].name, v]).filter(([name]) => !CLOCK_FIELDS.has(name))));
}
const byPort = (a: Record<string, unknown>, b: Record<string, unknown>) => Number(a['id.orig_p']) - Number(b['id.orig_p']);

describe('live --format', () => {
  it('zeek: stdout is conn.log alone, its rows those of analyze --format zeek; the capture line goes to stderr', async () => {
    const { code, out, err } = await live(['--format', 'zeek']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('#separator \\x09');
    expect(lines.at(-1)).toMatch(/^#close\t/);
    for (const l of lines) if (!l.startsWith('#')) expect(l.split('\t')).toHaveLength(CONN_FIELDS.length);
    const rows = tsvRows(out).sort(byPort);
    expect(rows).toHaveLength(2);
    expect(rows).toEqual(tsvRows(await analyze(['--format', 'zeek'])).sort(byPort));
    expect(out).not.toContain('live capture on');
    expect(err).toContain('live capture on replay');
  });

  it('zeek-json: one object per decided flow, as analyze --format zeek-json writes it', async () => {
    const parse = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .map((row) => Object.fromEntries(Object.entries(row).filter(([name]) => !CLOCK_FIELDS.has(name))))
        .sort(byPort);
    const { code, out } = await live(['--format', 'zeek-json']);
    expect(code).toBe(0);
    const rows = parse(out);
    expect(rows.map((r) => r.conn_state)).toEqual(['SF', 'SF']);
    expect(rows).toEqual(parse(await analyze(['--format', 'zeek-json'])));
  });

  it('jsonl: a flow line per decided flow with the verdicts analyze finds, then the summary', async () => {
    const { code, out } = await live(['--format', 'jsonl']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; client?: string; verdicts?: Array<{ code: string }> });
    expect(lines.map((l) => l.type)).toEqual(['flow', 'flow', 'summary']);
    const codes = (ls: typeof lines) => ls.filter((l) => l.type === 'flow').map((l) => `${l.client} ${l.verdicts!.map((v) => v.code).join(',')}`).sort();
    const analyzed = (await analyze(['--format', 'jsonl'])).trim().split('\n').map((l) => JSON.parse(l) as (typeof lines)[number]);
    expect(codes(lines)).toEqual(codes(analyzed));
  });

  it('refuses --format json: live output streams', async () => {
    const io = memoryIo(false, { [CAP_MODULE_ENV]: REPLAY });
    expect(await run(['live', '-i', 'replay', '--source', 'cap', '--format', 'json'], io)).toBe(2);
    expect(io.err).toContain("Allowed choices are table, jsonl, zeek, zeek-json");
  });
});

describe('live table report', () => {
  it('counts every flow of a long capture and lists a problem flow from its start, keeping none once printed', async () => {
    // A refused connection, then more flows than a live capture could keep whole (a packet each, seen mid-stream).
    const OTHERS = 22_500;
    const convs = [conv({ client: '10.0.0.9:40000', server: '10.0.0.2:8080' }).client('S', 0).server('RA', 0.0001)];
    for (let i = 0; i < OTHERS; i++) convs.push(conv({ client: `10.0.${1 + (i >> 15)}.1:${20000 + (i & 0x7fff)}`, server: '10.0.0.2:80' }).client('A', 0.001 + i * 0.0001));
    const packets = convs.flatMap((c) => c.packets).sort((a, b) => a.t - b.t);
    const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-live-report-'));
    try {
      const pcap = join(dir, 'long.pcap');
      writeFileSync(pcap, toPcap(packets.map((p) => p.frame.bytes)));
      const { code, out } = await live([], pcap, String(packets.length));
      expect(code).toBe(0);
      expect(out).toMatch(/^22,501 TCP flows: 1 with errors, 22,500 without problems /m);
      expect(out).toMatch(/^Problem flows, most severe first:\nflow 1  10\.0\.0\.9:40000 -> 10\.0\.0\.2:8080  REJ .*\n  ERROR refused/m);
      expect(out).not.toContain('not in the table');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
