// Checks tcpwhy's verdicts against the hand-made labels of test/labels/<corpus>.json (what the
// packets of each public capture prove: codes that must and must not be said, the worst severity a
// flow deserves) and compares the labels it misses with test/labels/known-misses.json.
// Used by test/e2e/corpus-labels.test.ts (on the sources) and scripts/corpus-labels.mjs (on dist/).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export const SEVERITY_RANK = { info: 0, warning: 1, error: 2 };
export const MISSES_FILE = 'known-misses.json';

/** Environment variable naming each corpus's folder; the default is ../shared/<corpus> from the repository. */
export const CORPUS_ENV = { corpus: 'TCPWHY_CORPUS', corpus2: 'TCPWHY_CORPUS2' };

/**
 * Where corpus `name` is: $TCPWHY_CORPUS (corpus) or $TCPWHY_CORPUS2 (corpus2) when set, else
 * ../shared/<name> beside the repository. `found` is false when the folder or its oracle.json is
 * missing, and `missing` then says so in a clause for a skip message.
 */
export function locateCorpus(name, repoRoot, env = process.env) {
  const variable = CORPUS_ENV[name];
  const given = variable ? env[variable] : undefined;
  const dir = given ? (isAbsolute(given) ? given : resolve(repoRoot, given)) : join(repoRoot, '..', 'shared', name);
  const found = existsSync(join(dir, 'oracle.json'));
  // Why the corpus is unusable, as one clause: "../shared/corpus not found (set TCPWHY_CORPUS)".
  const missing = found ? '' : given ? `${variable}=${given} holds no oracle.json` : `../shared/${name} not found (set ${variable})`;
  return { name, dir, variable, found, missing };
}

/** Every label file of `labelsDir` (all *.json but the known-misses list), parsed. */
export function readLabelFiles(labelsDir) {
  return readdirSync(labelsDir)
    .filter((f) => f.endsWith('.json') && f !== MISSES_FILE)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(labelsDir, f), 'utf8')));
}

export function readKnownMisses(labelsDir) {
  const path = join(labelsDir, MISSES_FILE);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : [];
}

const flowName = (flow) => (flow === 'capture' ? 'capture' : `${flow.a} ${flow.b} #${flow.nth}`);

/** One key per check, to compare a run with the known misses. */
export const missKey = (m) => `${m.corpus} | ${m.file} | ${flowName(m.flow)} | ${m.check}`;

const worst = (verdicts) => verdicts.reduce((w, v) => Math.max(w, SEVERITY_RANK[v.severity] ?? 0), -1);
const said = (verdicts) => verdicts.map((v) => `${v.code} ${v.severity}`).join(', ') || 'nothing';

/**
 * Checks one corpus. `analyze(file)` gives tcpwhy's result for a capture path relative to the
 * corpus: { verdicts, flows: [{ client, server, verdicts }] } with flows in id (first packet) order.
 * Returns every check with its outcome and the corpus's figures.
 */
export async function checkCorpus(labels, analyze) {
  const checks = [];
  const figures = { files: 0, filesRight: 0, expected: 0, found: 0, falseAlarms: 0 };
  for (const cap of labels.captures) {
    const result = await analyze(cap.file);
    const before = checks.length;
    const add = (flow, check, ok, detail) => checks.push({ corpus: labels.corpus, file: cap.file, flow, check, ok, detail });
    const judge = (flow, label, verdicts) => {
      const codes = new Set(verdicts.map((v) => v.code));
      for (const code of label.must ?? []) {
        figures.expected++;
        if (codes.has(code)) figures.found++;
        add(flow, `must ${code}`, codes.has(code), `tcpwhy says ${said(verdicts)}`);
      }
      if (label.mustOneOf) {
        // Either of two true statements: a worm's probe is refused, or a probe of the scan it belongs to.
        const ok = label.mustOneOf.some((code) => codes.has(code));
        figures.expected++;
        if (ok) figures.found++;
        add(flow, `mustOneOf ${label.mustOneOf.join('|')}`, ok, `tcpwhy says ${said(verdicts)}`);
      }
      for (const code of label.mustNot ?? []) {
        if (codes.has(code)) figures.falseAlarms++;
        add(flow, `mustNot ${code}`, !codes.has(code), `tcpwhy says ${said(verdicts)}`);
      }
      if (label.maxSeverity) {
        const over = verdicts.filter((v) => (SEVERITY_RANK[v.severity] ?? 0) > SEVERITY_RANK[label.maxSeverity]);
        // A code already counted by mustNot is not counted twice.
        figures.falseAlarms += over.filter((v) => !(label.mustNot ?? []).includes(v.code)).length;
        add(flow, `maxSeverity ${label.maxSeverity}`, worst(verdicts) <= SEVERITY_RANK[label.maxSeverity], `tcpwhy says ${said(verdicts)}`);
      }
    };
    if (cap.capture) judge('capture', cap.capture, result.verdicts);
    for (const label of cap.flows ?? []) {
      const nth = label.nth ?? 0;
      const flow = { a: label.a, b: label.b, nth };
      const same = result.flows.filter((f) => (f.client === label.a && f.server === label.b) || (f.client === label.b && f.server === label.a));
      const match = same[nth];
      if (match) judge(flow, label, match.verdicts);
      else if (nth === 0) {
        // Every 4-tuple of the capture is at least one flow: a first flow missing is a wrong label or a lost connection.
        add(flow, 'flow found', false, 'tcpwhy has no flow between these endpoints');
        figures.expected += (label.must ?? []).length + (label.mustOneOf ? 1 : 0);
      } else {
        // A later flow that is not there (packets tcpwhy now counts as part of an earlier flow) says
        // nothing it must not say; only what it must say is missing.
        judge(flow, label, []);
      }
    }
    figures.files++;
    if (checks.slice(before).every((c) => c.ok)) figures.filesRight++;
  }
  return { checks, figures };
}

export function summaryLine(corpus, f) {
  return `${corpus}: files fully right ${f.filesRight} / ${f.files}, expected verdicts found ${f.found} / ${f.expected}, false alarms ${f.falseAlarms}`;
}

/** The failing checks as known-misses entries (one line each: what tcpwhy says instead). */
export function missesOf(checks) {
  return checks
    .filter((c) => !c.ok)
    .map((c) => ({ corpus: c.corpus, file: c.file, flow: c.flow, check: c.check, why: c.detail }));
}

/** Checks failing now but not listed (regressions) and listed but passing now (fixed: trim the list). */
export function compareWithKnown(checks, known, corpora) {
  const inScope = known.filter((m) => corpora.includes(m.corpus));
  const knownKeys = new Set(inScope.map(missKey));
  const failing = missesOf(checks);
  const failingKeys = new Set(failing.map(missKey));
  const allKeys = new Set(checks.map(missKey));
  return {
    regressions: failing.filter((m) => !knownKeys.has(missKey(m))).map((m) => `${missKey(m)}: ${m.why}`),
    fixed: inScope.filter((m) => !failingKeys.has(missKey(m))).map((m) => `${missKey(m)}${allKeys.has(missKey(m)) ? ' now passes' : ' is no longer labelled'}`),
  };
}
