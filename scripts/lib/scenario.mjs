// Finds and runs the capture scenarios in scripts/scenarios/.
//
// A scenario is scripts/scenarios/<name>.mjs whose default export is
//   async ({ dir, port?, ...options }) => ({ file, expect: { description } })
// It writes one capture into `dir` (normally `<dir>/<name>.pcap`), stops by itself within a few
// seconds, and leaves no process, namespace or firewall rule behind.
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CaptureDropError } from './capture.mjs';

export const SCENARIO_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/** Scenario names (file names without .mjs), sorted. */
export function listScenarios() {
  return readdirSync(SCENARIO_DIR, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.mjs'))
    .map((entry) => entry.name.slice(0, -'.mjs'.length))
    .sort();
}

/** The scenario function exported by scripts/scenarios/<name>.mjs. */
export async function loadScenario(name) {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`bad scenario name: ${JSON.stringify(name)}`);
  const mod = await import(pathToFileURL(path.join(SCENARIO_DIR, `${name}.mjs`)).href);
  const run = mod.default ?? mod.run ?? mod.scenario;
  if (typeof run !== 'function') throw new Error(`scenario ${name}: no default export function`);
  return run;
}

/** Times a scenario is run before a capture with packets dropped by the kernel is an error. */
const CAPTURE_ATTEMPTS = 3;

/** Runs scenario `name`, writing its capture into `dir` (created if missing). */
export async function runScenario(name, { dir, ...options }) {
  if (!dir) throw new Error('runScenario: dir is required');
  await mkdir(dir, { recursive: true });
  const run = await loadScenario(name);
  let result;
  // A capture the kernel dropped packets from says nothing of the scenario: it is made again, up to
  // CAPTURE_ATTEMPTS times in all (a machine busy with parallel tests starved tcpdump twice in a row).
  for (let attempt = 1; ; attempt++) {
    try {
      result = await run({ dir, ...options });
      break;
    } catch (err) {
      if (!(err instanceof CaptureDropError) || attempt === CAPTURE_ATTEMPTS) throw err;
    }
  }
  if (!result || typeof result.file !== 'string') throw new Error(`scenario ${name}: returned no { file }`);
  return result;
}

/** `<dir>/<name>.pcap`: where a scenario writes its capture. */
export function captureFile(dir, name) {
  return path.join(dir, `${name}.pcap`);
}
