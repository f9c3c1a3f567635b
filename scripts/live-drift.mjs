#!/usr/bin/env node
// Measures how far timestamps taken on arrival in JavaScript (the cap source) drift from the
// kernel's timestamps (tcpdump) for the same packets, on loopback, under light and heavy load.
//
//   node scripts/live-drift.mjs [--seconds 3] [--json]      (root; needs `npm run build` first)
//
// For each load level it runs, at the same time and on the same port:
//   - tcpdump -w FILE (kernel timestamps),
//   - cap in this process, stamping each packet on arrival and feeding it to the Analyzer as
//     `tcpwhy live --source cap` does (so the event loop carries the same work),
//   - a load generator in a child process (loopback TCP server and clients), stopped after --seconds.
// Packets are matched by their IP id, ports, sequence/ack numbers, flags and length. Reported per level:
//   offset      JS arrival minus kernel timestamp (latency: shifts every time alike)
//   interval    error of the gap between consecutive packets (what SYN retry intervals, "FIN 2 ms
//               after 101" and idle gaps are made of)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { pickFreePort } from './lib/ports.mjs';

const args = process.argv.slice(2);
const secondsAt = args.indexOf('--seconds');
const SECONDS = secondsAt >= 0 && Number(args[secondsAt + 1]) > 0 ? Math.min(30, Number(args[secondsAt + 1])) : 3;
const JSON_OUT = args.includes('--json');

const { openCapSource, wallClockMicros } = await import('../dist/capture/live.js');
const { readCaptureFileSync } = await import('../dist/capture/open.js');
const { Analyzer } = await import('../dist/pipeline.js');
const { PacketDecoder } = await import('../dist/decode/decoder.js');

// --- load generator (child mode) -------------------------------------------------------------
if (process.argv[2] === '--load') {
  const [, , , level, portText, secondsText] = process.argv;
  runLoad(level, Number(portText), Number(secondsText));
} else {
  await main();
}

function runLoad(level, port, seconds) {
  // Hard stop whatever happens.
  setTimeout(() => process.exit(0), (seconds + 3) * 1000).unref();
  const server = net.createServer((s) => {
    s.on('data', (d) => {
      if (level === 'light') s.write(d);
    });
    s.on('error', () => {});
  });
  server.listen(port, '127.0.0.1', () => {
    const end = Date.now() + seconds * 1000;
    if (level === 'light') {
      // ~20 short connections a second, each one request and its echo: a few hundred packets/s.
      const timer = setInterval(() => {
        if (Date.now() > end) {
          clearInterval(timer);
          setTimeout(() => server.close(() => process.exit(0)), 300);
          return;
        }
        const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        c.on('data', () => c.end());
        c.on('error', () => {});
      }, 50);
    } else {
      // Heavy: 8 connections writing 1400-byte chunks as fast as the socket takes them, plus 200
      // new connections a second: tens of thousands of packets/s on loopback.
      const chunk = Buffer.alloc(1400, 0x61);
      for (let i = 0; i < 8; i++) {
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => {});
        const pump = () => {
          while (Date.now() < end) if (!c.write(chunk)) return void c.once('drain', pump);
          c.end();
        };
        c.on('connect', pump);
      }
      const churn = setInterval(() => {
        if (Date.now() > end) return clearInterval(churn);
        const c = net.connect(port, '127.0.0.1', () => c.end('x'));
        c.on('error', () => {});
      }, 5);
      setTimeout(() => server.close(() => process.exit(0)), seconds * 1000 + 500);
    }
  });
}

// --- measurement ------------------------------------------------------------------------------
async function main() {
  if (process.getuid?.() !== 0) {
    console.error('live-drift: needs root (packet capture)');
    process.exit(3);
  }
  const results = [];
  for (const level of ['light', 'heavy']) results.push(await measure(level));
  if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
  else for (const r of results) printResult(r);
}

/** Key of an Ethernet/IPv4/TCP packet: IP id and length, ports, seq, ack, flags. */
function packetKey(decoder, rec) {
  const b = rec.bytes;
  const ip = rec.off + 14;
  if (rec.end - rec.off < 54 || b[rec.off + 12] !== 0x08) return null;
  const tcp = ip + (b[ip] & 0x0f) * 4;
  let k = '';
  for (let i = ip + 2; i < ip + 6; i++) k += b[i].toString(16).padStart(2, '0'); // total length, id
  for (let i = tcp; i < tcp + 14; i++) k += b[i].toString(16).padStart(2, '0'); // ports, seq, ack, offset, flags
  return k;
}

async function measure(level) {
  const port = await pickFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-drift-'));
  const file = join(dir, `${level}.pcap`);
  const filter = `tcp port ${port}`;
  const tcpdump = spawn('timeout', ['--signal=INT', '--kill-after=5', String(SECONDS + 20), 'tcpdump', '-i', 'lo', '-w', file, '-U', '--immediate-mode', '-n', '-p', '-Z', 'root', filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tcpdumpErr = '';
  await new Promise((res, rej) => {
    tcpdump.stderr.setEncoding('utf8').on('data', (s) => {
      tcpdumpErr += s;
      if (/listening on/.test(tcpdumpErr)) res();
    });
    tcpdump.once('exit', () => rej(new Error(`tcpdump: ${tcpdumpErr}`)));
  });

  const decoder = new PacketDecoder();
  const analyzer = new Analyzer({ file: 'live:lo', onFlowJudged: () => {} });
  const arrivals = new Map();
  let duplicates = 0;
  const source = await openCapSource({ iface: 'lo', filter, snaplen: 0, promisc: false }, (rec) => {
    const t = rec.tsMicros; // stamped by the cap source on arrival, before any work below
    analyzer.onRecord(rec);
    const k = packetKey(decoder, rec);
    if (k === null) return;
    if (arrivals.has(k)) duplicates++;
    else arrivals.set(k, t);
  });
  const tick = setInterval(() => analyzer.expireFlows(wallClockMicros() - 250_000), 500);

  const load = spawn(process.execPath, [new URL(import.meta.url).pathname, '--load', level, String(port), String(SECONDS)], { stdio: 'inherit' });
  const loadGuard = setTimeout(() => load.kill('SIGKILL'), (SECONDS + 10) * 1000);
  await new Promise((res) => load.once('exit', res));
  clearTimeout(loadGuard);
  await new Promise((r) => setTimeout(r, 500));
  const capStats = await source.stop();
  clearInterval(tick);
  tcpdump.kill('SIGINT');
  await new Promise((res) => tcpdump.once('exit', res));
  const dropped = /(\d+) packets? dropped by kernel/.exec(tcpdumpErr);

  const kernel = [];
  readCaptureFileSync(file, (rec) => {
    const k = packetKey(decoder, rec);
    if (k !== null) kernel.push([k, rec.tsMicros]);
  });
  rmSync(dir, { recursive: true, force: true });

  const offsets = [];
  const intervalErrors = [];
  let prev = null;
  let unmatched = 0;
  for (const [k, kts] of kernel) {
    const jts = arrivals.get(k);
    if (jts === undefined) {
      unmatched++;
      prev = null;
      continue;
    }
    offsets.push(jts - kts);
    if (prev) intervalErrors.push(Math.abs(jts - prev[1] - (kts - prev[0])));
    prev = [kts, jts];
  }
  const spanSec = kernel.length > 1 ? (kernel[kernel.length - 1][1] - kernel[0][1]) / 1e6 : 0;
  return {
    level,
    seconds: SECONDS,
    kernelPackets: kernel.length,
    packetsPerSecond: spanSec > 0 ? Math.round(kernel.length / spanSec) : 0,
    capPackets: capStats.packets,
    matched: offsets.length,
    missedByCap: unmatched,
    duplicateKeys: duplicates,
    tcpdumpDroppedByKernel: dropped ? Number(dropped[1]) : null,
    offsetMicros: summarize(offsets),
    intervalErrorMicros: summarize(intervalErrors),
    intervalErrorOver1ms: intervalErrors.filter((e) => e > 1000).length,
    intervalErrorOver2ms: intervalErrors.filter((e) => e > 2000).length,
  };
}

function summarize(xs) {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
  return { min: s[0], p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: s[s.length - 1] };
}

function printResult(r) {
  const f = (o) => (o ? `min ${o.min} / p50 ${o.p50} / p90 ${o.p90} / p99 ${o.p99} / p99.9 ${o.p999} / max ${o.max} µs` : 'n/a');
  console.log(`${r.level} load, ${r.seconds} s: ${r.kernelPackets} packets by tcpdump (${r.packetsPerSecond}/s), ${r.capPackets} by cap, ${r.matched} matched, ${r.missedByCap} missed by cap, tcpdump dropped ${r.tcpdumpDroppedByKernel}`);
  console.log(`  offset (JS arrival - kernel): ${f(r.offsetMicros)}`);
  console.log(`  interval error |Δjs - Δkernel|: ${f(r.intervalErrorMicros)}; ${r.intervalErrorOver1ms} gaps off by > 1 ms, ${r.intervalErrorOver2ms} by > 2 ms`);
}
