#!/usr/bin/env node
// Checks the built tcpwhy (dist/: run `npx tsc -p tsconfig.json` first) against the corpus labels
// in test/labels/ and prints one summary per corpus and the checks that differ from
// test/labels/known-misses.json.
//   node scripts/corpus-labels.mjs                   figures, regressions and fixes
//   node scripts/corpus-labels.mjs --update-misses   also rewrite known-misses.json from this build
//   node scripts/corpus-labels.mjs --list            also print every failing check
// Corpora are found as the tests find them: $TCPWHY_CORPUS / $TCPWHY_CORPUS2, else ../shared/corpus[2].
// A corpus that is absent keeps its entries in known-misses.json untouched.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MISSES_FILE, checkCorpus, compareWithKnown, locateCorpus, missKey, missesOf, readKnownMisses, readLabelFiles, summaryLine,
} from './lib/corpus-labels.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LABELS = join(ROOT, 'test', 'labels');
const { analyzeFile } = await import(join(ROOT, 'dist', 'pipeline.js'));

const update = process.argv.includes('--update-misses');
const list = process.argv.includes('--list');
const known = readKnownMisses(LABELS);
const checked = [];
let failing = [];
let differs = false;
for (const labels of readLabelFiles(LABELS)) {
  const corpus = locateCorpus(labels.corpus, ROOT);
  if (!corpus.found) {
    console.log(`${labels.corpus}: not checked, ${corpus.missing}`);
    continue;
  }
  checked.push(labels.corpus);
  const { checks, figures } = await checkCorpus(labels, (file) => analyzeFile(join(corpus.dir, file), { keepEvents: false, keepExchanges: false }));
  console.log(summaryLine(labels.corpus, figures));
  const { regressions, fixed } = compareWithKnown(checks, known, [labels.corpus]);
  for (const r of regressions) console.log(`  failing, not in ${MISSES_FILE}: ${r}`);
  for (const f of fixed) console.log(`  in ${MISSES_FILE}, ${f}`);
  if (regressions.length || fixed.length) differs = true;
  const misses = missesOf(checks);
  if (list) for (const m of misses) console.log(`  miss: ${missKey(m)}: ${m.why}`);
  failing = failing.concat(misses);
}
if (update) {
  const kept = known.filter((m) => !checked.includes(m.corpus));
  const all = kept.concat(failing).sort((x, y) => (missKey(x) < missKey(y) ? -1 : missKey(x) > missKey(y) ? 1 : 0));
  writeFileSync(join(LABELS, MISSES_FILE), `[\n${all.map((m) => JSON.stringify(m)).join(',\n')}\n]\n`);
  console.log(`${MISSES_FILE}: ${all.length} known misses written`);
} else if (differs) {
  process.exitCode = 1;
}
