#!/usr/bin/env node
// `npm run bench`: packets/s and peak RSS of `tcpwhy analyze --json --detail` (and of the default table report)
// against `tshark -q -z conv,tcp` on the same synthetic capture, with the page cache warmed first.
//
//   node scripts/bench.mjs [--packets 2M] [--concurrency N] [--file FILE] [--runs 3] [--tshark-runs 1] [--no-tshark]
//                          [--hostile syn-flood|open-flows|refused|dns-down|dns-busy] [--long-flows] [--growth] [--growth-sizes 1M,4M]
//                          [--cmd "node x.mjs {file}"] [--keep] [--json]
//
// Every figure is whole-process (start-up included), like the reference figures it is compared with:
// wall time measured around the child, peak RSS from `/usr/bin/time -f %M` (or polled VmHWM).

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultConcurrency, generateHostile, generateLongFlows, generateSyntheticCapture, HOSTILE_KINDS, MAX_CONCURRENCY, parseCount } from './gen-synthetic.mjs';
import { STAGES } from './lib/bench-stage.mjs';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TIME_BIN = '/usr/bin/time';
const GROWTH_CONCURRENCY = MAX_CONCURRENCY; // the same open-flow count at every size, so only the length grows
const CHUNK = 8 << 20;

const USAGE = `usage: node scripts/bench.mjs [options]
  --packets N        packets in the generated capture (default 2,000,000; 500k, 2M, 2e6 accepted)
  --seed S           generator seed (default 1)
  --concurrency N    flows open at once in the generated mix, from 1 up to the default (packets / 150,
                     at most 10,500): the same flows with fewer open at once show what the open
                     flows' memory costs (more would need more packets than --packets)
  --file FILE        benchmark an existing pcap/pcapng instead of generating one (never deleted)
  --hostile KIND     generate a hostile capture instead: syn-flood (1 M SYNs from 1 M spoofed sources
                     over 10 s; --packets sets the SYNs), open-flows (500 k flows that all stay open,
                     2 M packets; --packets sets the packets), refused (1 M connections refused by
                     one server, a SYN and an RST-ACK each), dns-down or dns-busy (1 M DNS lookups
                     of distinct names, each answered by ICMP port unreachable or by an A record);
                     --packets sets the packets
  --long-flows       generate a long-flow mix instead: --packets / 5,000 connections of 5,000 packets
                     (default 1 M packets, 200 connections), HTTP keep-alive and bulk downloads
  --runs N           timed tcpwhy runs (default 3), after --warmup N unmeasured ones (default 0)
  --tshark-runs N    timed tshark runs (default 1; tshark is slow)
  --table-runs N     timed runs of the default table report, 'analyze {file}' (default 1; 0 skips it)
  --workers-runs N   timed runs of 'analyze {file} --json --detail --workers 2', the dissectors in a
                     thread of their own (default 1; 0 skips it)
  --no-tshark        skip tshark
  --no-tcpwhy        skip tcpwhy (or the --cmd command): tshark figures only
  --cmd "CMD {file}" measure this command instead of 'node bin/tcpwhy.js analyze {file} --json --detail'
  --growth           also run tcpwhy on growing files (--growth-sizes, default 1M,4M) and print peak RSS
                     and its growth over the first size
  --growth-tshark    include tshark in the growth runs
  --stages           also time the pipeline stage by stage (read, decode, flows, dissect, report), one
                     process each, and print what each stage adds
  --check            one extra tcpwhy run that keeps its JSON and prints how many flows it reported
  --keep             keep the generated captures (their folder is printed)
  --json             print the results as JSON instead of the table
`;

// --- small helpers ----------------------------------------------------------------------------------

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtRate = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));
const fmtMiB = (kib) => (kib == null ? '?' : (kib / 1024).toFixed(1));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const log = (line) => process.stderr.write(`${line}\n`);

/** Splits a command template the way a shell would for plain words and '…' / "…" quotes. */
export function splitCommand(template, file) {
  const words = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(template))) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3]);
  if (!words.some((w) => w.includes('{file}'))) words.push('{file}');
  return words.map((w) => w.replaceAll('{file}', file));
}

/** Counts packet records of a classic pcap (either byte order, µs or ns) or a pcapng file. */
export function countPackets(file) {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    let filled = readSync(fd, buf, 0, CHUNK, 0);
    let fileOffset = filled;
    if (filled < 4) throw new Error(`${file}: too short to be a capture`);
    const magic = buf.readUInt32LE(0);
    const pcapng = magic === 0x0a0d0d0a;
    let little = true;
    if (!pcapng) {
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = true;
      else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = false;
      else throw new Error(`${file}: not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, '0')})`);
    }
    const u32 = (o) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    let at = pcapng ? 0 : 24;
    let packets = 0;
    for (;;) {
      const headerLen = pcapng ? 12 : 16;
      if (filled - at < headerLen) {
        // Move the partial record to the front and refill behind it.
        buf.copy(buf, 0, at, filled);
        filled -= at;
        at = 0;
        const n = readSync(fd, buf, filled, CHUNK - filled, fileOffset);
        if (n === 0) break;
        filled += n;
        fileOffset += n;
        continue;
      }
      let recordLen;
      if (pcapng) {
        const type = buf.readUInt32LE(at); // the SHB type reads the same in both byte orders
        if (type === 0x0a0d0d0a) little = buf.readUInt32LE(at + 8) === 0x1a2b3c4d; // each section sets its byte order
        recordLen = u32(at + 4);
        const blockType = u32(at);
        if (blockType === 6 || blockType === 3 || blockType === 2) packets++; // EPB, SPB, obsolete PB
        if (recordLen < 12) throw new Error(`${file}: pcapng block of ${recordLen} bytes at offset ${fileOffset - filled + at}`);
      } else {
        recordLen = 16 + u32(at + 8);
        packets++;
      }
      // Skip the record body without reading it into the buffer when it runs past the chunk.
      if (at + recordLen <= filled) at += recordLen;
      else {
        fileOffset += at + recordLen - filled;
        filled = 0;
        at = 0;
      }
    }
    return packets;
  } finally {
    closeSync(fd);
  }
}

/** Reads the whole file once so every timed run starts from the page cache. */
function warmPageCache(file) {
  const started = process.hrtime.bigint();
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  for (let n; (n = readSync(fd, buf, 0, CHUNK, null)) > 0; ) total += n;
  closeSync(fd);
  return { bytes: total, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** The command being measured, so an interrupted benchmark can stop it too. */
let currentChild = null;

function readVmHwmKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Runs argv once with stdout to /dev/null. Wall time is taken around the child (finer than %e);
 * peak RSS comes from GNU time's %M, or from polling VmHWM every 10 ms when /usr/bin/time is absent.
 */
function measureOnce(argv, { timeFile, stdoutFile } = {}) {
  return new Promise((resolvePromise) => {
    const useTime = existsSync(TIME_BIN);
    const full = useTime ? [TIME_BIN, '-f', '%e %M %U %S', '-o', timeFile, '--', ...argv] : argv;
    const out = openSync(stdoutFile ?? '/dev/null', 'w');
    const started = process.hrtime.bigint();
    // Its own process group, so that an interrupted benchmark can stop GNU time and the command together.
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', out, 'pipe'], cwd: REPO_ROOT, detached: true });
    currentChild = child;
    closeSync(out);
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let polledKiB = null;
    const poll = useTime
      ? null
      : setInterval(() => {
          const v = readVmHwmKiB(child.pid);
          if (v != null) polledKiB = v;
        }, 10);
    child.on('error', (err) => {
      if (poll) clearInterval(poll);
      resolvePromise({ wallSeconds: NaN, cpuSeconds: null, peakKiB: null, exitCode: -1, stderr: String(err) });
    });
    child.on('close', (code, signal) => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      currentChild = null;
      if (poll) clearInterval(poll);
      let peakKiB = polledKiB;
      let cpuSeconds = null;
      let exitCode = code ?? (signal ? 128 : -1);
      if (useTime) {
        // GNU time writes "Command exited with non-zero status N" before the format line.
        const lines = (existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '').trim().split('\n');
        const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(lines.at(-1) ?? '');
        peakKiB = m ? Number(m[2]) : null;
        cpuSeconds = m ? Number(m[3]) + Number(m[4]) : null;
        const status = /non-zero status (\d+)/.exec(lines.join('\n'));
        if (status) exitCode = Number(status[1]);
        const sig = /terminated by signal (\d+)/.exec(lines.join('\n'));
        if (sig) exitCode = 128 + Number(sig[1]);
      }
      resolvePromise({ wallSeconds, cpuSeconds, peakKiB, exitCode, stderr });
    });
  });
}

/** Warm-up runs, then timed runs; a run that exits outside okCodes stops the tool's series. */
async function measureTool({ name, argv, runs, warmup = 0, okCodes, packets, fileBytes, workDir }) {
  const timeFile = join(workDir, `time-${process.pid}.txt`);
  const results = [];
  for (let i = 0; i < warmup + runs; i++) {
    const r = await measureOnce(argv, { timeFile });
    // Node exits with 1 on an uncaught exception too, which would pass for tcpwhy's "findings" code.
    const crashed = /^\s+at .+:\d+:\d+\)?$/m.test(r.stderr);
    if (!okCodes.includes(r.exitCode) || crashed) {
      log(`  ${name}: exit code ${r.exitCode} after ${r.wallSeconds.toFixed(3)} s, peak RSS ${fmtMiB(r.peakKiB)} MiB, from: ${argv.join(' ')}`);
      if (r.stderr.trim()) log(r.stderr.trim().split('\n').slice(-12).map((l) => `    ${l}`).join('\n'));
      return { name, command: argv.join(' '), failed: true, exitCode: r.exitCode, wallSeconds: r.wallSeconds, peakRssMiB: r.peakKiB == null ? null : +(r.peakKiB / 1024).toFixed(1) };
    }
    const label = i < warmup ? 'warm-up' : `run ${i - warmup + 1}/${runs}`;
    log(`  ${name} ${label}: ${r.wallSeconds.toFixed(3)} s wall, ${r.cpuSeconds == null ? '?' : r.cpuSeconds.toFixed(2)} s cpu, peak RSS ${fmtMiB(r.peakKiB)} MiB`);
    if (i >= warmup) results.push(r);
  }
  rmSync(timeFile, { force: true });
  const walls = results.map((r) => r.wallSeconds);
  const peaks = results.map((r) => r.peakKiB).filter((v) => v != null);
  const cpu = results.map((r) => r.cpuSeconds).filter((v) => v != null);
  const wall = median(walls);
  return {
    name,
    command: argv.join(' '),
    runs,
    packets,
    wallSeconds: { median: wall, min: Math.min(...walls), max: Math.max(...walls) },
    // user + sys: less sensitive than wall time to other jobs on a shared machine
    cpuSecondsMedian: cpu.length ? +median(cpu).toFixed(2) : null,
    packetsPerSecond: packets / wall,
    megabytesPerSecond: fileBytes / 1e6 / wall,
    peakRssMiB: peaks.length ? +(Math.max(...peaks) / 1024).toFixed(1) : null,
    peakRssMedianMiB: peaks.length ? +(median(peaks) / 1024).toFixed(1) : null,
  };
}

/** tshark's median over this row's (wall, cpu): above 1, this row is faster; null when either is missing. */
function speedOverTshark(row, tshark) {
  if (!tshark || row.failed || row === tshark) return null;
  const cpu = row.cpuSecondsMedian && tshark.cpuSecondsMedian ? tshark.cpuSecondsMedian / row.cpuSecondsMedian : null;
  return { wall: tshark.wallSeconds.median / row.wallSeconds.median, cpu };
}

function renderTable(rows, tshark) {
  const head = ['tool', 'runs', 'packets', 'wall s median (min–max)', 'cpu s', 'packets/s wall', 'packets/s cpu', 'MB/s', 'peak RSS MiB', 'x tshark wall/cpu'];
  const ratio = (x) => (x == null ? '?' : `${x.toFixed(x < 10 ? 2 : 1)}`);
  const body = rows.map((r) => {
    if (r.failed) return [r.name, '1', '-', `failed: exit ${r.exitCode} after ${r.wallSeconds.toFixed(3)}`, '-', '-', '-', '-', r.peakRssMiB == null ? '?' : r.peakRssMiB.toFixed(1), '-'];
    const vs = speedOverTshark(r, tshark);
    return [
      r.name,
      String(r.runs),
      fmtInt(r.packets),
      `${r.wallSeconds.median.toFixed(3)} (${r.wallSeconds.min.toFixed(3)}–${r.wallSeconds.max.toFixed(3)})`,
      r.cpuSecondsMedian == null ? '?' : r.cpuSecondsMedian.toFixed(2),
      fmtRate(r.packetsPerSecond),
      r.cpuSecondsMedian ? fmtRate(r.packets / r.cpuSecondsMedian) : '?',
      r.megabytesPerSecond.toFixed(1),
      r.peakRssMiB == null ? '?' : r.peakRssMiB.toFixed(1),
      vs ? `${ratio(vs.wall)} / ${ratio(vs.cpu)}` : '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function toolVersion(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout || r.stderr).split('\n')[0].trim() : null;
}

/** --concurrency: at most the default for the packet count, which the generator's packets can fill. */
function concurrencyFor(text, packets) {
  const most = defaultConcurrency(packets);
  const n = parseCount(text);
  if (n > most) throw new Error(`--concurrency ${text}: at most ${fmtInt(most)} flows open at once fit ${fmtInt(packets)} packets`);
  return n;
}

// --- main -------------------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string', default: '2000000' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string' },
      file: { type: 'string' },
      hostile: { type: 'string' },
      'long-flows': { type: 'boolean', default: false },
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '0' },
      'tshark-runs': { type: 'string', default: '1' },
      'table-runs': { type: 'string', default: '1' },
      'workers-runs': { type: 'string', default: '1' },
      'no-tshark': { type: 'boolean', default: false },
      'no-tcpwhy': { type: 'boolean', default: false },
      cmd: { type: 'string' },
      growth: { type: 'boolean', default: false },
      'growth-sizes': { type: 'string', default: '1M,4M' },
      'growth-tshark': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      stages: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const runs = parseCount(values.runs);
  const warmup = Number(values.warmup);
  const tsharkRuns = parseCount(values['tshark-runs']);
  const tableRuns = Number(values['table-runs']);
  const workersRuns = Number(values['workers-runs']);
  const seed = Number(values.seed);

  const workDir = mkdtempSync(join(tmpdir(), 'tcpwhy-bench-'));
  const cleanup = () => {
    if (!values.keep) rmSync(workDir, { recursive: true, force: true });
  };
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
    process.once(signal, () => {
      if (currentChild) {
        try {
          process.kill(-currentChild.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      cleanup();
      process.exit(code);
    });
  }

  try {
    const tsharkVersion = values['no-tshark'] ? null : toolVersion(['tshark', '--version']);
    const tcpwhyBin = join(REPO_ROOT, 'bin', 'tcpwhy.js');
    const tcpwhyReady = existsSync(tcpwhyBin) && existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'));
    const toolName = values.cmd ? 'cmd' : 'tcpwhy --json --detail';
    const toolArgv = (file) => (values.cmd ? splitCommand(values.cmd, file) : [process.execPath, tcpwhyBin, 'analyze', file, '--json', '--detail']);
    const tsharkArgv = (file) => ['tshark', '-q', '-z', 'conv,tcp', '-r', file];
    if (!values['no-tcpwhy'] && !values.cmd && !tcpwhyReady) log(`tcpwhy is not built (${tcpwhyBin} or dist/cli/main.js missing): run 'npm run build', or pass --cmd. Skipping tcpwhy.`);
    if (!values['no-tshark'] && !tsharkVersion) log('tshark not found: skipping it (install tshark, or pass --no-tshark to silence this).');
    const runTool = !values['no-tcpwhy'] && (values.cmd || tcpwhyReady);

    /** Generates a capture in the work folder and returns what the table needs. */
    const prepare = (packets, label, concurrency) => {
      const out = join(workDir, `${label}.pcap`);
      log(`generating ${fmtInt(packets)} packets (seed ${seed}) -> ${out}`);
      const g = generateSyntheticCapture({ out, packets, seed, ...(concurrency ? { concurrency } : {}) });
      log(`  ${fmtInt(g.packets)} packets, ${(g.fileBytes / 1e6).toFixed(1)} MB, ${fmtInt(g.conversations)} flows, ` + `open flows mean ${fmtInt(g.openFlows.mean)} / max ${fmtInt(g.openFlows.max)}, in ${g.generateSeconds} s`);
      return { file: out, packets: g.packets, fileBytes: g.fileBytes, generator: g };
    };

    /** Generates one of the hostile captures (gen-synthetic.mjs --hostile). */
    const prepareHostile = (kind) => {
      const out = join(workDir, `${kind}.pcap`);
      const given = values.packets !== '2000000' ? parseCount(values.packets) : null;
      log(`generating ${kind} -> ${out}`);
      const g = generateHostile(kind, { out, packets: given, seed });
      if (!g) throw new Error(`--hostile takes one of ${HOSTILE_KINDS.join(', ')}, not ${kind}`);
      return { file: out, packets: g.packets, fileBytes: g.fileBytes, generator: null };
    };

    /** Generates the long-flow mix (gen-synthetic.mjs --long-flows). */
    const prepareLongFlows = () => {
      const out = join(workDir, 'long-flows.pcap');
      const packets = values.packets !== '2000000' ? parseCount(values.packets) : 1_000_000;
      log(`generating long flows -> ${out}`);
      const g = generateLongFlows({ out, flows: Math.max(1, Math.round(packets / 5_000)), seed });
      log(`  ${fmtInt(g.packets)} packets, ${(g.fileBytes / 1e6).toFixed(1)} MB, ${fmtInt(g.flows)} flows`);
      return { file: out, packets: g.packets, fileBytes: g.fileBytes, generator: null };
    };

    let capture;
    if (values.hostile) capture = prepareHostile(values.hostile);
    else if (values['long-flows']) capture = prepareLongFlows();
    else if (values.file) {
      const file = resolve(values.file);
      capture = { file, packets: countPackets(file), fileBytes: statSync(file).size, generator: null };
    } else {
      const packets = parseCount(values.packets);
      capture = prepare(packets, 'bench', values.concurrency === undefined ? undefined : concurrencyFor(values.concurrency, packets));
    }

    const warm = warmPageCache(capture.file);
    log(`page cache warmed: read ${(warm.bytes / 1e6).toFixed(1)} MB in ${warm.seconds.toFixed(3)} s before the timed runs`);

    const rows = [];
    const common = { packets: capture.packets, fileBytes: capture.fileBytes, workDir };
    if (runTool) rows.push(await measureTool({ name: toolName, argv: toolArgv(capture.file), runs, warmup, okCodes: [0, 1], ...common }));
    if (runTool && !values.cmd && workersRuns > 0) {
      rows.push(await measureTool({ name: `${toolName} --workers 2`, argv: [...toolArgv(capture.file), '--workers', '2'], runs: workersRuns, okCodes: [0, 1], ...common }));
    }
    if (runTool && !values.cmd && tableRuns > 0) {
      rows.push(await measureTool({ name: 'tcpwhy (table)', argv: [process.execPath, tcpwhyBin, 'analyze', capture.file], runs: tableRuns, okCodes: [0, 1], ...common }));
    }
    if (tsharkVersion) rows.push(await measureTool({ name: 'tshark -z conv,tcp', argv: tsharkArgv(capture.file), runs: tsharkRuns, okCodes: [0], ...common }));

    let stages = null;
    if (values.stages && tcpwhyReady) {
      const script = join(REPO_ROOT, 'scripts', 'lib', 'bench-stage.mjs');
      stages = [];
      for (const stage of STAGES) {
        const r = await measureTool({ name: `stage ${stage}`, argv: [process.execPath, script, stage, capture.file], runs: 1, okCodes: [0], ...common });
        stages.push({ stage, ...r });
        if (r.failed) break;
      }
    }

    let check = null;
    if (values.check && runTool) {
      const stdoutFile = join(workDir, 'check.json');
      const r = await measureOnce(toolArgv(capture.file), { timeFile: join(workDir, 'check-time.txt'), stdoutFile });
      try {
        const doc = JSON.parse(readFileSync(stdoutFile, 'utf8'));
        check = { exitCode: r.exitCode, flows: Array.isArray(doc.flows) ? doc.flows.length : null };
      } catch (err) {
        check = { exitCode: r.exitCode, error: `output is not JSON: ${err.message}` };
      }
      rmSync(stdoutFile, { force: true });
    }

    let growth = null;
    if (values.growth && runTool) {
      const sizes = values['growth-sizes'].split(',').map(parseCount);
      growth = [];
      for (const [i, size] of sizes.entries()) {
        const g = prepare(size, `growth-${i + 1}`, GROWTH_CONCURRENCY);
        warmPageCache(g.file);
        const gc = { packets: g.packets, fileBytes: g.fileBytes, workDir };
        const entry = { packets: g.packets, fileBytes: g.fileBytes, flows: g.generator.conversations };
        entry.tool = await measureTool({ name: toolName, argv: toolArgv(g.file), runs: 1, warmup: 0, okCodes: [0, 1], ...gc });
        if (values['growth-tshark'] && tsharkVersion) entry.tshark = await measureTool({ name: 'tshark -z conv,tcp', argv: tsharkArgv(g.file), runs: 1, okCodes: [0], ...gc });
        growth.push(entry);
        if (!values.keep) rmSync(g.file, { force: true });
      }
    }

    const tool = rows.find((r) => r.name === toolName && !r.failed);
    const tshark = rows.find((r) => r.name.startsWith('tshark') && !r.failed);
    const ratio = tool && tshark ? tshark.wallSeconds.median / tool.wallSeconds.median : null;
    const result = {
      file: values.file ? capture.file : '(generated)',
      packets: capture.packets,
      fileBytes: capture.fileBytes,
      generator: capture.generator && { seed, conversations: capture.generator.conversations, openFlows: capture.generator.openFlows, averageRecordBytes: capture.generator.averageRecordBytes },
      pageCache: 'warm',
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, tshark: tsharkVersion },
      rows: rows.map((r) => ({ ...r, tsharkOverThis: speedOverTshark(r, tshark) })),
      tsharkWallOverToolWall: ratio && +ratio.toFixed(2),
      tsharkCpuOverToolCpu: tool?.cpuSecondsMedian && tshark?.cpuSecondsMedian ? +(tshark.cpuSecondsMedian / tool.cpuSecondsMedian).toFixed(2) : null,
      check,
      stages,
      growth,
    };

    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const o = [];
      o.push('');
      o.push(`capture: ${values.file ? capture.file : 'synthetic'}, ${fmtInt(capture.packets)} packets, ${(capture.fileBytes / 1e6).toFixed(1)} MB` + (capture.generator ? `, ${fmtInt(capture.generator.conversations)} flows (${fmtInt(capture.generator.openFlows.mean)} open at once on average), seed ${seed}` : ''));
      o.push(`machine: ${result.machine.cpus} × ${result.machine.cpuModel}, ${result.machine.memoryGiB} GiB, Node ${process.version}${tsharkVersion ? `, ${tsharkVersion}` : ''}`);
      o.push('page cache: warm (the file was read once before the timed runs); times are whole-process, start-up included;');
      o.push('cpu s = user + sys (median), steadier than wall time when other jobs share the machine');
      o.push('');
      o.push(renderTable(rows, tshark));
      if (tshark) o.push(`x tshark: tshark's median time over the row's (wall, cpu): above 1 the row is faster than tshark`);
      o.push('');
      if (ratio) o.push(`tshark wall / ${toolName} wall: ${ratio.toFixed(ratio < 10 ? 2 : 1)}× (${ratio >= 1 ? `${toolName} is faster` : 'tshark is faster'})`);
      if (tool?.cpuSecondsMedian && tshark?.cpuSecondsMedian) o.push(`tshark cpu / ${toolName} cpu: ${(tshark.cpuSecondsMedian / tool.cpuSecondsMedian).toFixed(2)}×`);
      if (stages) {
        o.push('');
        o.push('stage by stage (one process each, start-up included; each stage runs the ones before it):');
        let before = null;
        for (const st of stages) {
          if (st.failed) {
            o.push(`  ${st.stage.padEnd(8)} failed (exit ${st.exitCode})`);
            break;
          }
          const wall = st.wallSeconds.median;
          const added = before === null ? wall : wall - before;
          o.push(`  ${st.stage.padEnd(8)} ${wall.toFixed(2).padStart(7)} s  ${fmtRate(st.packets / wall).padStart(8)} packets/s  peak ${String(st.peakRssMiB).padStart(7)} MiB  adds ${added.toFixed(2).padStart(6)} s (${((added * 1e6) / st.packets).toFixed(2)} µs/packet)`);
          before = wall;
        }
      }
      if (check) o.push(check.error ? `check: ${check.error}` : `check: ${toolName} reported ${check.flows ?? '?'} flows (generator: ${capture.generator ? fmtInt(capture.generator.conversations) : '?'}), exit ${check.exitCode}`);
      if (growth) {
        o.push('');
        o.push(`peak RSS as the file grows (same ${fmtInt(GROWTH_CONCURRENCY)} open flows, 1 run each):`);
        const first = growth[0].tool.failed ? null : growth[0].tool.peakRssMiB;
        // Each later size's peak over the first one's, as a flat-memory goal is stated.
        const fromFirst = (i, mib) => {
          if (i === 0 || !first || mib == null) return '';
          const percent = Math.round(((mib - first) / first) * 100);
          return ` (${percent >= 0 ? '+' : ''}${percent}%)`;
        };
        for (const [i, g] of growth.entries()) {
          const t = g.tool.failed ? `failed (exit ${g.tool.exitCode})` : `${g.tool.peakRssMiB} MiB${fromFirst(i, g.tool.peakRssMiB)}, ${g.tool.wallSeconds.median.toFixed(2)} s`;
          const ts = g.tshark ? (g.tshark.failed ? ', tshark failed' : `; tshark ${g.tshark.peakRssMiB} MiB, ${g.tshark.wallSeconds.median.toFixed(2)} s`) : '';
          o.push(`  ${fmtInt(g.packets).padStart(11)} packets (${fmtInt(g.flows)} flows): ${toolName} ${t}${ts}`);
        }
        const [a, b] = [growth[0], growth.at(-1)];
        if (growth.length > 1 && !a.tool.failed && !b.tool.failed) {
          const perPacket = ((b.tool.peakRssMiB - a.tool.peakRssMiB) * 1048576) / (b.packets - a.packets);
          o.push(`  growth: ${(b.tool.peakRssMiB - a.tool.peakRssMiB).toFixed(1)} MiB for ${fmtInt(b.packets - a.packets)} more packets (${perPacket.toFixed(1)} B/packet)`);
        }
      }
      if (values.keep) o.push(`captures kept in ${workDir}`);
      process.stdout.write(`${o.join('\n')}\n`);
    }
    return rows.some((r) => r.failed) || growth?.some((g) => g.tool.failed) ? 1 : 0;
  } finally {
    cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
