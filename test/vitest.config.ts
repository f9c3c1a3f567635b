import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The repository root, so paths such as samples/ resolve as in the CLI.
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    // Many tests run the built program: it is built first when dist/ is behind src/.
    globalSetup: ['test/helpers/built.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests that capture real traffic on loopback use their own ports; keep file-level parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
