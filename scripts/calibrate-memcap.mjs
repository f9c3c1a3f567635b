#!/usr/bin/env node
// Measures what the memory budget's estimates (src/flow/memcap.ts ESTIMATED_BYTES) stand for: heap
// bytes per open flow after a full collection, for bare SYN attempts, for attempts whose SYN was sent
// twice (kept in their flow slots), for attempts whose SYN the capture holds twice (a copy, which takes a rare row,
// src/flow/columns.ts RareRow), for attempts parked while they wait (src/flow/table.ts: sent again
// 200 ms after their first SYN, 20,000 a second, so that some 4,000 hold a flow slot at a time),
// for flows with a handshake and data (dissectors off), and for the same flows with their HTTP
// sessions.
//
//   node --expose-gc scripts/calibrate-memcap.mjs [--flows 50000]
//
// Needs a built dist/. The captures come from gen-synthetic.mjs --hostile and are deleted after.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateOpenFlows, generateSynFlood } from './gen-synthetic.mjs';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { flows: { type: 'string', default: '50000' } } });
const flows = Number(values.flows);
if (typeof globalThis.gc !== 'function') {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
const { Analyzer } = await import(pathToFileURL(join(REPO_ROOT, 'dist/pipeline.js')).href);
const { readCaptureFileSync } = await import(pathToFileURL(join(REPO_ROOT, 'dist/capture/open.js')).href);

/** The JS heap in use and the memory outside it (`external` counts the ArrayBuffers, which hold the flow columns). */
const heap = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

/** Heap bytes per flow still open once the file is read (a budget large enough that nothing is shed). */
async function perOpenFlow(file, dissect, parkAttempts = true) {
  const analyzer = new Analyzer({ file, dissect, parkAttempts, retainFlows: false, keepEvents: false, memcapBytes: 2 ** 40, onFlowJudged: () => {} });
  const before = heap();
  readCaptureFileSync(file, analyzer.onRecord);
  const bytes = (heap() - before) / analyzer.openFlows;
  return { open: analyzer.openFlows, rareRows: analyzer.rareRows, parked: analyzer.parkedAttempts, bytes: Math.round(bytes) };
}

const dir = mkdtempSync(join(tmpdir(), 'tcpwhy-calibrate-'));
try {
  const flood = join(dir, 'attempts.pcap');
  const retried = join(dir, 'retried.pcap');
  const copied = join(dir, 'copied.pcap');
  const parked = join(dir, 'parked.pcap');
  const open = join(dir, 'open.pcap');
  generateSynFlood({ out: flood, syns: flows, seconds: 1 });
  generateSynFlood({ out: retried, syns: flows, seconds: 1, resendAfterUs: 500_000 });
  generateSynFlood({ out: copied, syns: flows, seconds: 1, resendAfterUs: 50, resendAsCopy: true });
  generateSynFlood({ out: parked, syns: flows, seconds: flows / 20_000, resendAfterUs: 200_000 });
  generateOpenFlows({ out: open, flows });
  const attempt = await perOpenFlow(flood, true);
  // Kept in their slots: their retries would park them, and leave the slots taken before to the next flows.
  const retriedAttempt = await perOpenFlow(retried, true, false);
  const copiedAttempt = await perOpenFlow(copied, true);
  const parkedAttempt = await perOpenFlow(parked, true);
  const flow = await perOpenFlow(open, false);
  const withSession = await perOpenFlow(open, true);
  process.stdout.write(
    `bare SYN attempt: ${attempt.bytes} bytes (${attempt.open} open)\n` +
      `SYN attempt sent twice, kept in its slot: ${retriedAttempt.bytes} bytes (${retriedAttempt.open} open, ${retriedAttempt.rareRows} with a rare row)\n` +
      `SYN attempt held twice (a copy): ${copiedAttempt.bytes} bytes (${copiedAttempt.open} open, ${copiedAttempt.rareRows} with a rare row)\n` +
      `SYN attempt sent again and parked: ${parkedAttempt.bytes} bytes (${parkedAttempt.open} open, ${parkedAttempt.parked} parked)\n` +
      `flow with handshake and data: ${flow.bytes} bytes (${flow.open} open)\n` +
      `its HTTP session and reassemblers: ${withSession.bytes - flow.bytes} bytes\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
