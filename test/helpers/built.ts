import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Many tests run the built program (bin/tcpwhy.js, or dist/ modules in child processes) rather than
// src/: `npm test` (also `npm test -- FILE`) builds it first, vitest run with this project's config
// does not (`npx vitest run --config test/vitest.config.ts FILE`, or watch mode). So that run builds
// it first when a src/ file is newer than its dist/ output or has none. (A plain `npx vitest run`
// finds no config at the top of the repository and runs without this check or its settings.) Newer is by file time: tsc writes every
// output on each build (the project has no incremental build), so a built file is never older than
// its source. Watch mode checks once, as it starts.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The src/ files whose dist/ .js is missing or older, relative to the repository. */
function staleBuilds(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = join(ROOT, 'dist', relative(join(ROOT, 'src'), path)).replace(/\.ts$/, '.js');
        let builtAt = -1;
        try {
          builtAt = statSync(built).mtimeMs;
        } catch {
          // Not built: stale.
        }
        if (builtAt < statSync(path).mtimeMs) stale.push(relative(ROOT, path));
      }
    }
  };
  walk(join(ROOT, 'src'));
  return stale;
}

/** Vitest's global setup: builds dist/ when it is behind src/; a build that fails ends the run. */
export default function buildIfStale(): void {
  const stale = staleBuilds();
  if (stale.length === 0) return;
  const named = stale.slice(0, 3).join(', ') + (stale.length > 3 ? ` and ${stale.length - 3} more` : '');
  process.stderr.write(`dist/ is behind src/ (${named}): building it first, as the tests run the built program\n`);
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status === 0) return;
  process.stderr.write('the build failed (above): the tests would run an old program, so none ran\n');
  process.exit(1);
}
