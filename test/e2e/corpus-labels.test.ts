// tcpwhy's verdicts against hand-made labels of every capture in the public corpora.
//
// test/labels/<corpus>.json says, for each capture, what its packets prove (each label judged with
// tshark and carrying one line of why): verdict codes a flow must and must not get, the worst
// severity it deserves ("info" for a healthy flow), and capture-level codes. Flows are matched by
// their two endpoints in either order and `nth` (which of several flows on one 4-tuple, in order of
// first packet). Each corpus prints one summary:
//   files fully right X / Y, expected verdicts found A / B, false alarms C
// (a false alarm is a warning or error beyond a flow's maxSeverity, or a mustNot code said).
// A label on a later flow of a 4-tuple (nth > 0) that tcpwhy does not make fails only its `must`
// codes: that is how a label says "these packets are no second connection" (a SYN retried after an
// RST: mustNot refused and port-reuse on nth 1).
//
// Labels state the truth, not what tcpwhy says today, so some fail. The test is a ratchet: the
// failing checks must be exactly those listed in test/labels/known-misses.json. A label that
// starts failing is a regression; a listed miss that now passes must be taken off the list, so the
// printed figures stay honest. After a change that fixes (or knowingly moves) labels:
//   npx tsc -p tsconfig.json && node scripts/corpus-labels.mjs --update-misses
// rewrites known-misses.json from the build (`node scripts/corpus-labels.mjs --list` shows every
// miss). Corpora are found by test/helpers/corpus.ts ($TCPWHY_CORPUS, $TCPWHY_CORPUS2).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import {
  CORPUS_ENV, checkCorpus, compareWithKnown, readKnownMisses, readLabelFiles, summaryLine,
} from '../../scripts/lib/corpus-labels.mjs';
import { useCorpus } from '../helpers/corpus.js';

const LABELS = 'test/labels';

/** Codes agreed for issue 13 that the README's verdict table may not list yet. */
const AGREED_CODES = [
  'one-sided-capture', 'capture-ended', 'response-cut-short', 'slow-handshake', 'slow-server', 'slow-client',
  'unroutable-address', 'dns-no-answer', 'dns-servfail', 'dns-nxdomain', 'dns-slow', 'os-fingerprint', 'distributed-scan',
];
const README_CODES = [...readFileSync('README.md', 'utf8').matchAll(/^\| (.*?) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([a-z0-9-]+)`/g)].map((c) => c[1]));
const KNOWN_CODES = new Set([...README_CODES, ...AGREED_CODES]);
const ENDPOINT = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\]):\d+$/;

const known = readKnownMisses(LABELS);
for (const labels of readLabelFiles(LABELS)) {
  if (!(labels.corpus in CORPUS_ENV)) throw new Error(`${LABELS}: unknown corpus '${labels.corpus}'`);
  const corpus = useCorpus(labels.corpus);
  corpus.describe(`${labels.corpus} labels`, () => {
    corpus.it('label every capture of the oracle, with well-formed labels', () => {
      const oracle = (JSON.parse(readFileSync(join(corpus.dir, 'oracle.json'), 'utf8')) as Array<{ file: string }>).map((e) => e.file);
      expect(labels.captures.map((c) => c.file).sort()).toEqual([...oracle].sort());
      const problems: string[] = [];
      for (const cap of labels.captures) {
        if (!cap.why) problems.push(`${cap.file}: no why`);
        const codes = [...(cap.capture?.must ?? []), ...(cap.capture?.mustNot ?? [])];
        for (const f of cap.flows) {
          const at = `${cap.file} ${f.a} ${f.b}`;
          if (!ENDPOINT.test(f.a) || !ENDPOINT.test(f.b)) problems.push(`${at}: endpoints are ip:port or [ipv6]:port`);
          if (!f.why) problems.push(`${at}: no why`);
          if (!f.must?.length && !f.mustOneOf?.length && !f.mustNot?.length && !f.maxSeverity) problems.push(`${at}: no check`);
          if (f.maxSeverity && !['info', 'warning', 'error'].includes(f.maxSeverity)) problems.push(`${at}: maxSeverity ${f.maxSeverity}`);
          codes.push(...(f.must ?? []), ...(f.mustOneOf ?? []), ...(f.mustNot ?? []));
        }
        for (const code of codes) if (!KNOWN_CODES.has(code)) problems.push(`${cap.file}: unknown verdict code ${code}`);
      }
      expect(problems).toEqual([]);
    });

    corpus.it('misses exactly the labels listed in known-misses.json', async () => {
      const { checks, figures } = await checkCorpus(labels, (file: string) => analyzeFile(corpus.path(file), { keepEvents: false, keepExchanges: false }));
      console.log(summaryLine(labels.corpus, figures));
      const { regressions, fixed } = compareWithKnown(checks, known, [labels.corpus]);
      expect(regressions, 'labels failing and not in known-misses.json').toEqual([]);
      expect(fixed, 'known misses that no longer fail: node scripts/corpus-labels.mjs --update-misses').toEqual([]);
    });
  });
}
