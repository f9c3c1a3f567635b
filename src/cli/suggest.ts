// Suggestions for a mistyped command.

/**
 * Optimal string alignment distance (Levenshtein plus adjacent swaps), to suggest the command a
 * typo meant: 'analyse' -> analyze, 'flwo' -> flow.
 */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The command `word` most likely meant: at most 3 edits away, and edits fewer than 60 % of the longer word (commander's bounds for suggesting options). */
export function closestCommand(word: string, commands: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of commands) {
    const distance = editDistance(word.toLowerCase(), name);
    const similarity = (Math.max(word.length, name.length) - distance) / Math.max(word.length, name.length);
    if (distance <= 3 && similarity > 0.4 && distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}
