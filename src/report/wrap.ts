import { displayWidth } from './display-width.js';

// Text that fits a terminal: paragraphs wrapped at spaces, never inside a word (only a word wider
// than the whole width is cut).

/** Columns when the output is not a terminal and no --width is given. */
export const PIPED_WIDTH = 100;
/** Narrowest width the reports lay themselves out for. */
export const MIN_WIDTH = 40;

/** The width to lay a report out for: --width, else the terminal's columns, else PIPED_WIDTH. */
export function reportWidth(option: number | undefined, isTTY: boolean, columns: number | undefined): number {
  const width = option ?? (isTTY && columns ? columns : PIPED_WIDTH);
  return Math.max(MIN_WIDTH, width);
}

/**
 * `text` wrapped at spaces to `width` columns: the first line starts with `first` (counted in the
 * width), the others with `indent` spaces. A word longer than a continuation line has room for
 * (a long address, a URL) goes on a line of its own, at the left margin when it fits there; only a
 * word wider than the whole width is cut, into pieces of the width.
 */
export function wrap(text: string, width: number, first = '', indent = 0): string[] {
  const lines: string[] = [];
  const pad = ' '.repeat(indent);
  let line = first;
  let used = displayWidth(first);
  let empty = true; // nothing but the prefix on the line yet
  // Words and the runs of spaces between them: a run is kept within a line ("REJ  Sr"), dropped at a break.
  const parts = text.trim().split(/( +)/);
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i];
    const space = i > 0 ? parts[i - 1].length : 0;
    const w = displayWidth(word);
    if (!empty && used + space + w <= width) {
      line += ' '.repeat(space) + word;
      used += space + w;
      continue;
    }
    if (empty && used + w <= width) {
      line += word;
      used += w;
      empty = false;
      continue;
    }
    if (line.trim() !== '') lines.push(line);
    if (indent + w <= width) {
      line = pad + word;
      used = indent + w;
    } else if (w <= width) {
      line = word;
      used = w;
    } else {
      const pieces = cut(word, width);
      lines.push(...pieces.slice(0, -1));
      line = pieces[pieces.length - 1];
      used = displayWidth(line);
    }
    empty = false;
  }
  if (!empty || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}

function cut(word: string, width: number): string[] {
  const out: string[] = [];
  let piece = '';
  let w = 0;
  for (const ch of word) {
    const cw = displayWidth(ch);
    if (w + cw > width) {
      out.push(piece);
      piece = '';
      w = 0;
    }
    piece += ch;
    w += cw;
  }
  out.push(piece);
  return out;
}
