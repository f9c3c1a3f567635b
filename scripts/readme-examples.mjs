#!/usr/bin/env node
// Rewrites the README's example outputs with what the current build prints (run `npm run build`
// first). An example is a code block whose first line is `$ tcpwhy ARGS` (its output follows in
// the block), or the quick start's block ending `&& node bin/tcpwhy.js ARGS` (its output is the
// next block). A block preceded by `<!-- excerpt: 1-12, 30- -->` shows only those lines of the
// output (1-based, inclusive; `30-` runs to the end), with a `...` line where lines are left out.
// Commands run from the repository root, piped and without colour, as test/report/readme.test.ts
// runs them; it checks every line of every block against the output.
//
//   node scripts/readme-examples.mjs          rewrite README.md
//   node scripts/readme-examples.mjs --check  exit 1 if README.md is not what it would write

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const README = `${REPO}README.md`;
const BIN = `${REPO}bin/tcpwhy.js`;

function outputOf(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', COLUMNS: '' } });
  if (r.error) throw r.error;
  return `${r.stdout}${r.stderr}`.replace(/\n+$/, '').split('\n').map((l) => l.trimEnd());
}

/** The lines an excerpt comment selects, with '...' between the runs it leaves out. */
function excerpt(lines, spec) {
  if (!spec) return lines;
  const out = [];
  let last = 0;
  for (const range of spec.split(',')) {
    const m = /^\s*(\d+)-(\d*)\s*$/.exec(range);
    if (!m) throw new Error(`bad excerpt range '${range}' (want N-M or N-)`);
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : lines.length;
    if (from > last + 1 || (out.length === 0 && from > 1)) out.push('...');
    out.push(...lines.slice(from - 1, to));
    last = to;
  }
  if (last < lines.length) out.push('...');
  return out;
}

const FENCE = /(<!-- excerpt: ([^>]*?) -->\n)?```([a-z]*)\n([\s\S]*?)```/g;

export function regenerate(readme) {
  const blocks = [...readme.matchAll(FENCE)];
  const replacements = [];
  for (let i = 0; i < blocks.length; i++) {
    const [, , spec, lang, body] = blocks[i];
    const lines = body.replace(/\n$/, '').split('\n');
    const shown = /^\$ tcpwhy (.+)$/.exec(lines[0]);
    if (shown) {
      const args = shown[1].split(' ');
      replacements.push({ block: blocks[i], body: [lines[0], ...excerpt(outputOf(args), spec)].join('\n'), lang });
    }
    const quick = lines.length === 1 ? /&& node bin\/tcpwhy\.js (.+)$/.exec(lines[0]) : null;
    if (quick && blocks[i + 1]) {
      const next = blocks[i + 1];
      replacements.push({ block: next, body: excerpt(outputOf(quick[1].split(' ')), next[2]).join('\n'), lang: next[3] });
    }
  }
  let out = '';
  let at = 0;
  for (const { block, body, lang } of replacements.sort((a, b) => a.block.index - b.block.index)) {
    const fenceAt = block.index + (block[1]?.length ?? 0);
    out += readme.slice(at, fenceAt) + '```' + lang + '\n' + body + '\n```';
    at = block.index + block[0].length;
  }
  return out + readme.slice(at);
}

const before = readFileSync(README, 'utf8');
const after = regenerate(before);
if (process.argv.includes('--check')) {
  if (after !== before) {
    console.error('README.md examples differ from the current build: run node scripts/readme-examples.mjs');
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(README, after);
  console.log('README.md examples rewritten');
} else console.log('README.md examples already up to date');
