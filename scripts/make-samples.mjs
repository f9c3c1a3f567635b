// Regenerates samples/<name>.pcap from every scenario in scripts/scenarios/ (or only the names
// given): `npm run samples [-- name...] [-- --out DIR]`. Needs root (tcpdump, namespaces, iptables).
// Each scenario writes into a fresh temporary directory first, so a failed run never leaves a
// half-written sample behind. Prints every file with its packet count and size.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countPackets, fileSize } from './lib/capture.mjs';
import { listScenarios, runScenario } from './lib/scenario.mjs';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const SAMPLE_SIZE_LIMIT_BYTES = 200 * 1024;

function parseArgs(argv) {
  const names = [];
  let outDir = path.join(REPO_ROOT, 'samples');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') outDir = path.resolve(argv[++i]);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node scripts/make-samples.mjs [--out DIR] [scenario...]');
      console.log(`scenarios: ${listScenarios().join(' ')}`);
      process.exit(0);
    } else names.push(argv[i]);
  }
  return { names, outDir };
}

async function main() {
  const { names, outDir } = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('make-samples: run as root (tcpdump, ip netns and iptables need it)');
    return 2;
  }
  const known = listScenarios();
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    console.error(`make-samples: unknown scenario(s): ${unknown.join(', ')}; known: ${known.join(' ')}`);
    return 2;
  }
  const failures = [];
  for (const name of names.length > 0 ? names : known) {
    const workDir = await mkdtemp(path.join(os.tmpdir(), `tcpwhy-sample-${name}-`));
    const started = Date.now();
    try {
      const { file, expect } = await runScenario(name, { dir: workDir });
      const target = path.join(outDir, path.basename(file));
      await copyFile(file, target);
      const packets = await countPackets(target);
      const bytes = fileSize(target);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const shown = target.startsWith(REPO_ROOT + path.sep) ? path.relative(REPO_ROOT, target) : target;
      console.log(`${shown}\t${packets} packets\t${bytes} bytes\t${seconds} s`);
      console.log(`  ${expect?.description ?? ''}`);
      if (bytes > SAMPLE_SIZE_LIMIT_BYTES) console.warn(`  warning: larger than ${SAMPLE_SIZE_LIMIT_BYTES} bytes`);
      if (packets === 0) failures.push(`${name}: empty capture`);
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      console.error(`${name}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  if (failures.length > 0) {
    console.error(`\n${failures.length} scenario(s) failed:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
