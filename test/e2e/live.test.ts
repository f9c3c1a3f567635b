// `tcpwhy live` end to end: the real binary captures loopback while real servers and clients
// (scripts/scenarios) talk, and its streamed per-flow verdicts, its summary and its --write file
// (read back by `tcpwhy analyze`) are checked. Every capture is bounded by --duration.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickFreePort } from '../../scripts/lib/ports.mjs';
import { canCapture, liveSourcesHere, runCaptureScenario } from '../helpers/traffic.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'bin/tcpwhy.js');

interface LiveRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout lines with the ms (since spawn) at which each arrived. */
  lines: { text: string; at: number }[];
  exitedAt: number;
}

interface StartedLive {
  /** Resolves when tcpwhy says it is listening (rejects if it exits first). */
  listening: Promise<void>;
  done: Promise<LiveRun>;
}

function startLive(args: string[], env: Record<string, string> = {}, wrap: string[] = []): StartedLive {
  const t0 = Date.now();
  const argv = [...wrap, process.execPath, BIN, 'live', ...args];
  const child = spawn(argv[0], argv.slice(1), { cwd: REPO, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Bounded even if an assertion never lets the run finish.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: LiveRun['lines'] = [];
  let onListening!: () => void;
  let onFailed!: (e: Error) => void;
  const listening = new Promise<void>((res, rej) => ((onListening = res), (onFailed = rej)));
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    partial += s;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      lines.push({ text: partial.slice(0, nl), at: Date.now() - t0 });
      partial = partial.slice(nl + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (/listening on/.test(stderr)) onListening();
  });
  const done = new Promise<LiveRun>((res) =>
    child.on('close', (code) => {
      clearTimeout(guard);
      onFailed(new Error(`tcpwhy live exited (${code}) before listening: ${stderr}`));
      res({ code, stdout, stderr, lines, exitedAt: Date.now() - t0 });
    }),
  );
  return { listening, done };
}

const runTcpwhy = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });

type JsonFlow = { type: string; id: number; client: string; server: string; state: string; verdicts: { code: string; severity: string }[] };
const codesOf = (f: { verdicts: { code: string }[] }) => f.verdicts.map((v) => v.code);

describe.skipIf(!canCapture())('tcpwhy live on loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-live-'));
  const ports = { refused: 0, http: 0, ws: 0, wsFin: 0 };
  let run: LiveRun;
  let refusedDoneAt = 0;
  const written = join(dir, 'live.pcap');

  beforeAll(async () => {
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await pickFreePort();
    const filter = Object.values(ports)
      .map((p) => `tcp port ${p}`)
      .join(' or ');
    const t0 = Date.now();
    const live = startLive(['-i', 'lo', '--duration', '16', '--json', '--write', written, filter]);
    await live.listening;
    // The scenarios run their own tcpdump too; both capture the same packets.
    await runCaptureScenario('refused', { dir, port: ports.refused });
    refusedDoneAt = Date.now() - t0;
    await runCaptureScenario('http-clean', { dir, port: ports.http });
    await runCaptureScenario('ws-healthy', { dir, port: ports.ws });
    await runCaptureScenario('ws-http10-fin', { dir, port: ports.wsFin });
    run = await live.done;
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const flowLines = (): (JsonFlow & { at: number })[] =>
    run.lines.map((l) => ({ ...(JSON.parse(l.text) as JsonFlow), at: l.at })).filter((o) => o.type === 'flow');
  const summary = () => JSON.parse(run.lines[run.lines.length - 1].text) as { type: string; flows?: JsonFlow[]; capture: { packets: number; flows: number }; live: Record<string, unknown> };
  const onPort = (flows: JsonFlow[], port: number) => flows.filter((f) => f.server.endsWith(`:${port}`));

  it('exits 0 after --duration and ends with the summary document', () => {
    expect(run.code, run.stderr).toBe(0);
    const s = summary();
    expect(s.type).toBe('summary');
    expect(s.live.source).toBe('tcpdump');
    expect(s.live.kernelTimestamps).toBe(true);
    expect(s.live.droppedByKernel).toBe(0);
    expect(s.capture.packets).toBeGreaterThan(20);
  });

  it('streams a refused verdict seconds after the refusal, long before the capture ends', () => {
    const refused = onPort(flowLines(), ports.refused);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(codesOf(refused[0])).toContain('refused');
    // Decided once the 5 s close linger passed (plus a tick), not at the end of the 16 s capture.
    expect(refused[0].at).toBeLessThan(refusedDoneAt + 7_000);
    expect(refused[0].at).toBeLessThan(run.exitedAt - 3_000);
  });

  it('says a clean HTTP exchange closed cleanly, with no warning or error', () => {
    const http = onPort(flowLines(), ports.http);
    expect(http.length).toBeGreaterThanOrEqual(1);
    for (const f of http) {
      expect(f.state).toBe('SF');
      expect(codesOf(f)).toContain('clean-close');
      expect(f.verdicts.filter((v) => v.severity === 'error')).toEqual([]);
    }
  });

  it('recognises a healthy WebSocket session', () => {
    const ws = onPort(flowLines(), ports.ws);
    expect(ws.length).toBeGreaterThanOrEqual(1);
    expect(ws.some((f) => codesOf(f).includes('ws-ok') && codesOf(f).includes('ws-close'))).toBe(true);
  });

  it('flags a server that closes right after its 101 (an HTTP/1.0 upgrade)', () => {
    const fin = onPort(flowLines(), ports.wsFin);
    expect(fin.length).toBeGreaterThanOrEqual(1);
    expect(fin.some((f) => codesOf(f).includes('ws-fin-after-101'))).toBe(true);
    expect(fin.some((f) => codesOf(f).includes('ws-upgrade-http10'))).toBe(true);
  });

  it('prints each flow once, and the summary counts them without holding them again', () => {
    const streamed = flowLines();
    expect(new Set(streamed.map((f) => f.id)).size).toBe(streamed.length);
    expect(summary().capture.flows).toBe(streamed.length);
    expect(summary().flows).toBeUndefined();
  });

  it('--write saves a pcap that analyze reads back with the same verdicts', () => {
    const r = runTcpwhy(['analyze', '--json', written]);
    expect(r.status, r.stderr).toBe(0);
    const offline = JSON.parse(r.stdout) as { capture: { packets: number; format: string }; flows: JsonFlow[] };
    expect(offline.capture.format).toBe('pcap');
    expect(offline.capture.packets).toBe(summary().capture.packets);
    const key = (f: JsonFlow) => `${f.client}>${f.server}`;
    const liveByKey = new Map(flowLines().map((f) => [key(f), codesOf(f).sort()]));
    expect(offline.flows.length).toBe(liveByKey.size);
    for (const f of offline.flows) expect(codesOf(f).sort(), key(f)).toEqual(liveByKey.get(key(f)));
  });
});

describe.skipIf(!canCapture())('tcpwhy live stopping and listing', () => {
  it('stops by itself after --count packets and prints the table', async () => {
    const port = await pickFreePort();
    const live = startLive(['-i', 'lo', '--count', '2', '--duration', '20', `tcp port ${port}`]);
    await live.listening;
    const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-live-count-'));
    try {
      await runCaptureScenario('refused', { dir, port });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const run = await live.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.exitedAt).toBeLessThan(15_000);
    expect(run.stdout).toMatch(/ERROR refused: RST: no listener on 127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/live capture on lo 'tcp port \d+' for .*: 2 packets, 0 dropped by the kernel/);
  }, 30_000);

  it('stops on SIGINT and still prints the summary', async () => {
    const port = await pickFreePort();
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, 'live', '-i', 'lo', '--duration', '30', `tcp port ${port}`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const listening = new Promise<void>((res) => child.stderr.setEncoding('utf8').on('data', (s: string) => ((err += s), /listening on/.test(err) && res())));
    await listening;
    child.kill('SIGINT');
    const [code, signal] = await new Promise<[number | null, string | null]>((res) => child.on('close', (c, s) => res([c, s])));
    expect({ code, signal }, err).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(out).toMatch(/^0 TCP flows\.$/m);
    expect(out).toMatch(/0 packets, 0 dropped by the kernel/);
  }, 30_000);

  it('--list shows the loopback interface with its addresses and link type', () => {
    const r = runTcpwhy(['live', '--list']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^lo \[loopback\]\n\s+127\.0\.0\.1\/8.*\n\s+EN10MB \(Ethernet\)/m);
  });
});

describe.skipIf(!canCapture())('tcpwhy live errors (exit 3)', () => {
  it('names an unknown interface and lists the real ones', () => {
    const r = runTcpwhy(['live', '-i', 'nosuch0', '--duration', '2', 'tcp']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/no interface named 'nosuch0' \(nosuch0: No such device exists\); interfaces here: .*\blo\b/);
  });

  it.each(liveSourcesHere('test/e2e/live.test.ts'))('shows libpcap’s message for a bad filter (--source %s)', (source) => {
    const r = runTcpwhy(['live', '-i', 'lo', '--source', source, '--duration', '2', 'tcp', 'portt', '80']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("bad capture filter 'tcp portt 80': can't parse filter expression: syntax error");
  });

  it('says how to get cap when it cannot be loaded', () => {
    const r = spawnSync(process.execPath, [BIN, 'live', '-i', 'lo', '--source', 'cap', '--duration', '1', 'tcp'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, TCPWHY_CAP_MODULE: 'cap-not-installed-here' },
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('live capture needs libpcap: apt-get install libpcap-dev, then npm rebuild cap');
  });

  const setpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!setpriv)('names CAP_NET_RAW when run without capture rights', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, BIN, 'live', '-i', 'lo', '--duration', '2', 'tcp'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no permission to capture on lo: live capture needs CAP_NET_RAW /);
  });

  it('rejects a missing interface as a usage error (exit 2)', () => {
    const r = runTcpwhy(['live', 'tcp port 80']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/live needs an interface: -i IFACE/);
  });
});
