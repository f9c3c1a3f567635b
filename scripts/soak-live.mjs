#!/usr/bin/env node
// A bounded soak of `tcpwhy live` on loopback: a local server on a port the OS gives, a local client
// making many short connections to it from several 127.0.0.x source addresses (so TIME_WAIT does
// not run out of ports), and tcpwhy capturing them, its resident memory sampled as it goes.
//
//   node scripts/soak-live.mjs [--connections 60000] [--max-seconds 300] [--concurrency 32] [--rate N] [--sample-seconds 10] [--json]
//
// --rate caps the connections started per second: on a loaded machine tcpwhy may fall behind a
// faster client, the kernel then drops packets, and flows missing their close stay open.
//
// Needs capture rights (root, or tcpdump with CAP_NET_RAW) and a built dist/. Stops by itself after
// --connections or --max-seconds, whichever comes first, and ends only the processes it started.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
/**
 * After the last connection, tcpwhy is given time to decide the flows (5 s after each close, and a
 * busy machine may have left it behind): until every connection is decided or none was for
 * DRAIN_QUIET_MS, at most DRAIN_MAX_MS. Then it is stopped, and given STOP_GRACE_MS for its summary.
 */
const DRAIN_QUIET_MS = 10_000;
const DRAIN_MAX_MS = 120_000;
const STOP_GRACE_MS = 120_000;

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '60000' },
    'max-seconds': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '32' },
    rate: { type: 'string' },
    'sample-seconds': { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('usage: node scripts/soak-live.mjs [--connections 60000] [--max-seconds 300] [--concurrency 32] [--rate N] [--sample-seconds 10] [--json]\n');
  process.exit(0);
}
const TOTAL = Number(values.connections);
const MAX_MS = Number(values['max-seconds']) * 1000;
const CONCURRENCY = Number(values.concurrency);
const RATE = values.rate === undefined ? Infinity : Number(values.rate);
const SAMPLE_MS = Number(values['sample-seconds']) * 1000;

const log = (line) => process.stderr.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resident and peak resident memory of a process, in MiB (null once it is gone). */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

// The server: reads a line, answers it and closes (the server closes first, as an HTTP/1.0 server does).
const server = createServer((sock) => {
  sock.once('data', () => sock.end('ok\n'));
  sock.on('error', () => {});
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
log(`server on 127.0.0.1:${port}`);

const tcpwhy = spawn(process.execPath, [join(REPO_ROOT, 'bin/tcpwhy.js'), 'live', '-i', 'lo', `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
let decided = 0;
/** The final report's line counting the flows, and what the capture line says (packets, drops). */
let reportFlows = '';
let captureLine = '';
let stderrText = '';
let lineTail = '';
tcpwhy.stdout.on('data', (chunk) => {
  const text = lineTail + chunk.toString();
  const lines = text.split('\n');
  lineTail = lines.pop();
  for (const l of lines) {
    if (/ flow \d+ /.test(l)) decided++;
    else if (/^[\d,]+ TCP flows/.test(l)) reportFlows = l;
    else if (/^live capture on /.test(l)) captureLine = l;
  }
});
tcpwhy.stderr.on('data', (chunk) => (stderrText += chunk.toString()));
const exited = new Promise((r) => tcpwhy.once('exit', (code, signal) => r({ code, signal })));

// Wait until tcpwhy listens.
for (let waited = 0; !/listening on/.test(stderrText); waited += 100) {
  if (waited > 20_000 || tcpwhy.exitCode !== null) {
    log(`tcpwhy did not start: ${stderrText.trim()}`);
    tcpwhy.kill('SIGKILL');
    server.close();
    process.exit(1);
  }
  await sleep(100);
}

const started = Date.now();
const samples = [];
let done = 0;
let failed = 0;
const sample = () => {
  const m = memoryOf(tcpwhy.pid);
  if (m) samples.push({ seconds: Math.round((Date.now() - started) / 1000), connections: done, decided, rssMiB: +m.rss.toFixed(1), peakMiB: +m.hwm.toFixed(1) });
};
sample();
const sampler = setInterval(sample, SAMPLE_MS);

/** One short connection: connect from the next source address, send a line, read the answer, close. */
function oneConnection(i) {
  return new Promise((res) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress: SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length] });
    sock.setTimeout(5_000, () => sock.destroy());
    sock.once('connect', () => sock.write(`hello ${i}\n`));
    sock.on('data', () => {});
    sock.once('end', () => sock.end());
    sock.once('error', () => failed++);
    sock.once('close', () => {
      done++;
      res();
    });
  });
}

let next = 0;
const deadline = started + MAX_MS;
async function worker() {
  while (next < TOTAL && Date.now() < deadline) {
    const i = next++;
    const due = started + (i / RATE) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
    await oneConnection(i);
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const clientSeconds = (Date.now() - started) / 1000;
log(`${done} connections (${failed} failed) in ${clientSeconds.toFixed(1)} s`);

const drainUntil = Date.now() + DRAIN_MAX_MS;
for (let last = -1, quietSince = Date.now(); decided < done && Date.now() < drainUntil && Date.now() - quietSince < DRAIN_QUIET_MS; await sleep(1_000)) {
  if (decided !== last) {
    last = decided;
    quietSince = Date.now();
  }
}
await sleep(6_000); // the last closes' 5 s linger
sample();
clearInterval(sampler);
tcpwhy.kill('SIGINT');
const stopTimer = setTimeout(() => tcpwhy.kill('SIGKILL'), STOP_GRACE_MS);
const exit = await exited;
clearTimeout(stopTimer);
server.close();

const kernelDrops = /(\d+) packets dropped by the kernel/.exec(stderrText)?.[1] ?? '0';
const result = { port, connections: done, failed, clientSeconds: +clientSeconds.toFixed(1), flowsDecided: decided, reportFlows, captureLine, kernelDrops: Number(kernelDrops), tcpwhyExit: exit, samples };
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  process.stdout.write('| seconds | connections made | flows decided | RSS MiB | peak RSS MiB |\n| --- | --- | --- | --- | --- |\n');
  for (const s of samples) process.stdout.write(`| ${s.seconds} | ${s.connections.toLocaleString('en-US')} | ${s.decided.toLocaleString('en-US')} | ${s.rssMiB} | ${s.peakMiB} |\n`);
  process.stdout.write(`\n${done.toLocaleString('en-US')} connections (${failed} failed) in ${clientSeconds.toFixed(1)} s; tcpwhy decided ${decided.toLocaleString('en-US')} flows while they ran and exited ${exit.code ?? exit.signal}\n`);
  process.stdout.write(`final report: ${reportFlows}\n${captureLine}\n`);
}
