// A boxed text table with fixed column widths, drawn the way cli-table3 draws one with `colWidths`
// and `wordWrap: true` (same box characters, one space of padding, words wrapped at whitespace,
// overlong lines cut with '…'), at a few microseconds per row. cli-table3 measures every cell
// line through string-width and rebuilds its ANSI regexes for each measure: about 1-3 ms per row,
// which made the table of a 500 k-packet capture take 168 s against 9 s for --json.

const BOX = {
  top: ['┌', '┬', '┐'],
  mid: ['├', '┼', '┤'],
  bottom: ['└', '┴', '┘'],
  line: '─',
  side: '│',
} as const;

/** Colours a text, or returns it unchanged. */
export type Paint = (s: string) => string;
/** Colours one wrapped, padded line of a cell; `paragraph` is the paragraph it begins, or -1. */
export type LinePainter = (line: string, column: number, paragraph: number) => string;

const plain: Paint = (s) => s;

export interface TextTableStyle {
  /** Applied to each border segment. */
  border?: Paint;
  /** Applied to each header cell (its padding included). */
  head?: Paint;
}

/**
 * Column widths include the padding, as cli-table3's colWidths do. Cells are plain text; a cell's
 * lines are its '\n'-separated paragraphs, each wrapped to the column.
 */
export class TextTable {
  private readonly border: Paint;
  private readonly head: Paint;

  constructor(
    private readonly widths: readonly number[],
    style: TextTableStyle = {},
  ) {
    this.border = style.border ?? plain;
    this.head = style.head ?? plain;
  }

  /** The top border and the header row. */
  top(header: readonly string[]): string {
    return `${this.rule(BOX.top)}\n${this.row(header, this.head)}`;
  }

  /**
   * A row, preceded by the rule that separates it from the one above. `paintLine` may colour a
   * cell's line once it is wrapped and padded; `paragraph` is the index of the paragraph the line
   * begins, or -1 for a continuation line.
   */
  next(cells: readonly string[], paintLine?: LinePainter): string {
    return `${this.rule(BOX.mid)}\n${this.row(cells, plain, paintLine)}`;
  }

  bottom(): string {
    return this.rule(BOX.bottom);
  }

  private rule([left, mid, right]: readonly string[]): string {
    let out = '';
    for (let i = 0; i < this.widths.length; i++) out += this.border((i === 0 ? left : mid) + BOX.line.repeat(this.widths[i]));
    return out + this.border(right);
  }

  private row(cells: readonly string[], paintCell: Paint, paintLine?: LinePainter): string {
    const starts: number[][] = cells.map(() => []);
    const lines = cells.map((c, i) => wrapCell(c, this.widths[i] - 2, starts[i]));
    let height = 0;
    for (const l of lines) if (l.length > height) height = l.length;
    const out: string[] = [];
    for (let n = 0; n < height; n++) {
      let s = '';
      for (let i = 0; i < this.widths.length; i++) {
        const inner = this.widths[i] - 2;
        const text = lines[i][n];
        let cell = text === undefined ? ' '.repeat(inner) : fit(text, inner);
        if (text !== undefined && paintLine) cell = paintLine(cell, i, starts[i].lastIndexOf(n));
        s += this.border(BOX.side) + paintCell(` ${cell} `);
      }
      out.push(s + this.border(BOX.side));
    }
    return out.join('\n');
  }
}

/**
 * A cell's lines: each paragraph wrapped at whitespace to `width` columns (a word longer stays
 * whole, to be cut). `starts` receives, per paragraph, the index of its first line.
 */
export function wrapCell(text: string, width: number, starts: number[] = []): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    starts.push(lines.length);
    wrapParagraph(paragraph, width, lines);
  }
  return lines;
}

// cli-table3's wordWrap: words and the whitespace between them; a line takes words while they fit,
// keeping the whitespace run before each; an empty paragraph gives no line.
function wrapParagraph(text: string, width: number, out: string[]): void {
  const parts = text.split(/(\s+)/);
  let line = '';
  let lineWidth = 0;
  let space = '';
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i];
    const w = displayWidth(word);
    let next = lineWidth + w;
    if (lineWidth > 0 && space) next += space.length;
    if (next > width) {
      if (lineWidth !== 0) out.push(line);
      line = word;
      lineWidth = w;
    } else {
      line += space + word;
      lineWidth = next;
    }
    space = parts[i + 1] ?? '';
  }
  if (lineWidth) out.push(line);
}

/** `text` cut to `width` columns (ending in '…' when cut) and padded with spaces to exactly `width`. */
export function fit(text: string, width: number): string {
  let w = displayWidth(text);
  if (w > width) {
    text = cutToWidth(text, width - 1) + '…';
    w = displayWidth(text);
  }
  return w < width ? text + ' '.repeat(width - w) : text;
}

function cutToWidth(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) return text.slice(0, width);
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width) break;
    out += ch;
    w += cw;
  }
  return out;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Columns `text` takes in a terminal: control and combining characters none, wide (CJK, emoji) two. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let w = 0;
  for (const ch of text) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  return isWide(cp) ? 2 : 1;
}

// East Asian Wide and Fullwidth ranges (as is-fullwidth-code-point lists them) and the emoji planes.
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    cp === 0x2329 ||
    cp === 0x232a ||
    (cp >= 0x2e80 && cp <= 0x3247 && cp !== 0x303f) ||
    (cp >= 0x3250 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0xa4c6) ||
    (cp >= 0xa960 && cp <= 0xa97c) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6b) ||
    (cp >= 0xff01 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1b000 && cp <= 0x1b001) ||
    (cp >= 0x1f200 && cp <= 0x1f251) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}
