// Where the public capture corpora are, for the tests that read them.
//
//   corpus    $TCPWHY_CORPUS,  else ../shared/corpus beside the repository
//   corpus2   $TCPWHY_CORPUS2, else ../shared/corpus2
//
// A corpus is a folder holding oracle.json and the captures it lists (README: "Public capture
// corpora"). Tests that need one declare themselves through the handle useCorpus() returns
// (corpus.describe, corpus.it); when the corpus is absent they are skipped, and the file prints
// one line saying how many were skipped and why, so a run without the corpus is never silently
// thinner than one with it. Call useCorpus() at the top level of the test file.

import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, it, type TestContext } from 'vitest';
import { locateCorpus, type CorpusName } from '../../scripts/lib/corpus-labels.mjs';

export type { CorpusName };

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

type TestFn = (ctx: TestContext) => unknown;

export interface Corpus {
  name: CorpusName;
  /** Absolute folder of the corpus (whether or not it exists). */
  dir: string;
  found: boolean;
  /** Absolute path of a file given relative to the corpus. */
  path(file: string): string;
  /** A describe block whose tests need the corpus. */
  describe(name: string, factory: () => void): void;
  /** A test that needs the corpus. */
  it(name: string, fn: TestFn, timeout?: number): void;
}

export function useCorpus(name: CorpusName = 'corpus'): Corpus {
  const where = locateCorpus(name, REPO_ROOT);
  const skipped = new Set<string>();
  /** The describe blocks (or, for tests outside one, the tests) skipped, by name. */
  const groups = new Set<string>();
  const skipIfAbsent = (ctx: TestContext) => {
    if (where.found) return;
    skipped.add(ctx.task.id);
    groups.add(ctx.task.suite?.name || ctx.task.name);
    ctx.skip();
  };
  afterAll((file) => {
    if (skipped.size === 0) return;
    const path = 'filepath' in file ? relative(REPO_ROOT, file.filepath) : file.name;
    const what = [...groups].map((g) => `"${g}"`).join(', ');
    console.log(`skipped ${skipped.size} corpus test${skipped.size === 1 ? '' : 's'} in ${path} (${what}): ${where.missing}`);
  });
  return {
    name,
    dir: where.dir,
    found: where.found,
    path: (file) => `${where.dir}/${file}`,
    describe: (title, factory) =>
      describe(title, () => {
        beforeEach(skipIfAbsent);
        factory();
      }),
    it: (title, fn, timeout) =>
      it(
        title,
        (ctx) => {
          skipIfAbsent(ctx);
          return fn(ctx);
        },
        timeout,
      ),
  };
}
