#!/usr/bin/env node
// Completes package-lock.json with rollup's native packages for other platforms.
//
// The registry these machines reach serves only this platform's build of rollup's optional native
// packages, so `npm install` here writes a lock file without the others, and `npm ci` then refuses
// it as out of sync with rollup's optionalDependencies. This adds an entry per missing platform
// (version, os, cpu, libc, optional): npm skips them on any other platform and fetches the right
// one on its own. `npm install` keeps the entries. Run it after a lock file is regenerated:
//
//   node scripts/lock-platforms.mjs [package-lock.json]
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(file, 'utf8'));
const rollup = lock.packages['node_modules/rollup'];
if (!rollup) {
  console.error(`${file}: no node_modules/rollup entry; nothing to complete`);
  process.exit(1);
}
let added = 0;
for (const [name, version] of Object.entries(rollup.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  // @rollup/rollup-<os>-<cpu>[-<abi>], e.g. rollup-linux-arm-musleabihf, rollup-win32-x64-msvc
  const [os, cpu, abi] = name.replace('@rollup/rollup-', '').split('-');
  const entry = { version, cpu: [cpu], dev: true };
  if (os === 'linux' && abi) entry.libc = [abi.startsWith('musl') ? 'musl' : 'glibc'];
  Object.assign(entry, { license: 'MIT', optional: true, os: [os] });
  lock.packages[key] = entry;
  added++;
}
// npm keeps the root first and the rest in path order.
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${file}: ${added} platform entr${added === 1 ? 'y' : 'ies'} added`);
