// Where the public capture corpora are, for the tests that read them.
//
//   corpus    $TCPWHY_CORPUS,  else ../shared/corpus beside the repository
//   corpus2   $TCPWHY_CORPUS2, else ../shared/corpus2
//
// A corpus is a folder holding oracle.json and the captures it lists (README: "Public capture
// corpora"). Tests that need one declare themselves through the handle useCorpus() returns
// (corpus.describe, corpus.it); when the corpus is absent, or a tool the handle was asked for
// (useCorpus('corpus', { tools: ['tshark'] })), they are skipped, and the file prints one line
// saying how many were skipped and why, so a run without the corpus is never silently thinner
// than one with it. Call useCorpus() at the top level of the test file, once per corpus.

import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, it, type TestContext } from 'vitest';
import { locateCorpus, type CorpusName } from '../../scripts/lib/corpus-labels.mjs';
import { hasTool } from './tools.js';

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

/**
 * What this test file skipped, over all its handles (vitest loads the helper afresh for each
 * file), reported in one line when the file is done.
 */
const skipped = { tests: new Set<string>(), groups: new Set<string>(), reasons: new Set<string>(), reporting: false };

function reportSkipsOnce(): void {
  if (skipped.reporting) return;
  skipped.reporting = true;
  afterAll((file) => {
    const n = skipped.tests.size;
    if (n === 0) return;
    const path = 'filepath' in file ? relative(REPO_ROOT, file.filepath) : file.name;
    const what = [...skipped.groups].map((g) => `"${g}"`).join(', ');
    console.log(`skipped ${n} corpus test${n === 1 ? '' : 's'} in ${path} (${what}): ${[...skipped.reasons].join('; ')}`);
  });
}

export function useCorpus(name: CorpusName = 'corpus', options: { tools?: string[] } = {}): Corpus {
  const where = locateCorpus(name, REPO_ROOT);
  reportSkipsOnce();
  /** Why this handle's tests cannot run here ('' when they can); tools are asked for on first use. */
  let why: string | undefined;
  const whyNot = () => {
    if (why === undefined) {
      const absentTools = (options.tools ?? []).filter((tool) => !hasTool(tool));
      why = !where.found ? where.missing : absentTools.length > 0 ? `${absentTools.join(', ')} not installed` : '';
    }
    return why;
  };
  const skipIfAbsent = (ctx: TestContext) => {
    const reason = whyNot();
    if (reason === '') return;
    skipped.tests.add(ctx.task.id);
    skipped.groups.add(ctx.task.suite?.name || ctx.task.name);
    skipped.reasons.add(reason);
    ctx.skip();
  };
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

/** The capture files under `dir`, at any depth, sorted by path (a corpus, the samples). */
export function capturesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(pcap|pcapng|cap|trace|dmp)(\.gz)?$/i.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
