// The README's examples are real output: each block that starts with `$ tcpwhy ARGS` (and the quick
// start's block after `node bin/tcpwhy.js ARGS`) is run, and every line of the block must appear in
// the output, in order. A block may trim what it says it trims: lines of `...` and lines left out.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/tcpwhy.js', import.meta.url));

interface Example {
  args: string[];
  lines: string[];
}

/** The README's examples: command and the output lines shown for it. */
function examples(readme: string): Example[] {
  const blocks = [...readme.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m.index !== undefined ? { text: m[1], at: m.index } : null).filter((b) => b !== null);
  const out: Example[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const lines = blocks[i].text.replace(/\n$/, '').split('\n');
    const shown = /^\$ tcpwhy (.+)$/.exec(lines[0]);
    if (shown) out.push({ args: shown[1].split(' '), lines: lines.slice(1) });
    // The quick start: a command block, then its output block.
    const quick = lines.length === 1 ? /&& node bin\/tcpwhy\.js (.+)$/.exec(lines[0]) : null;
    if (quick && blocks[i + 1]) out.push({ args: quick[1].split(' '), lines: blocks[i + 1].text.replace(/\n$/, '').split('\n') });
  }
  return out;
}

describe('README examples', () => {
  const list = examples(readFileSync(`${REPO}README.md`, 'utf8'));

  it('has the quick start and the analyze, flow and diff examples', () => {
    expect(list.map((e) => e.args[0])).toEqual(expect.arrayContaining(['analyze', 'flow', 'diff']));
    expect(list.length).toBeGreaterThanOrEqual(4);
  });

  it('is what scripts/readme-examples.mjs writes from the current build, block for block', () => {
    const r = spawnSync(process.execPath, [`${REPO}scripts/readme-examples.mjs`, '--check'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it.each(list.map((e) => [e.args.join(' '), e] as const))('tcpwhy %s prints what the README shows', (_name, e) => {
    const r = spawnSync(process.execPath, [BIN, ...e.args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', COLUMNS: '' } });
    expect(r.error).toBeUndefined();
    const output = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trimEnd());
    let at = 0;
    for (const line of e.lines) {
      if (line.trim() === '...') continue;
      const found = output.indexOf(line.trimEnd(), at);
      expect(found, `README line not in the output (in order):\n${line}\n--- output ---\n${output.join('\n')}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });
});
