import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Many tests run the built program (bin/tcpwhy.js, or dist/ modules in child processes) rather than
// src/: `npm test` builds it first, but `npx vitest run FILE` does not. A run on a dist/ older than
// src/ would test code that is no longer there, so it stops at once and says how to build.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The src/ files whose dist/ .js is missing or older, relative to the repository. */
export function staleBuilds(root = ROOT): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = join(root, 'dist', relative(join(root, 'src'), path)).replace(/\.ts$/, '.js');
        let builtAt = -1;
        try {
          builtAt = statSync(built).mtimeMs;
        } catch {
          // missing: stale
        }
        if (builtAt < statSync(path).mtimeMs) stale.push(relative(root, path));
      }
    }
  };
  walk(join(root, 'src'));
  return stale;
}

/** Vitest's global setup: refuses to run the tests on a stale build. */
export default function checkBuilt(): void {
  const stale = staleBuilds();
  if (stale.length === 0) return;
  const named = stale.slice(0, 3).join(', ') + (stale.length > 3 ? ` and ${stale.length - 3} more` : '');
  throw new Error(`dist/ is older than src/ (${named}): the tests run the built program, so build it first (npx tsc -p tsconfig.json, or npm test, which does)`);
}
