/**
 * A tiny line builder for emitters (after Prisma's ts-builders `Writer`): lines, indentation, joined lists.
 * Output always uses `\n` and ends with exactly one newline.
 */
export class CodeWriter {
  private readonly lines: string[] = [];
  private level = 0;

  constructor(private readonly unit = '  ') {}

  /** Appends one line at the current indentation (an empty line carries no indentation). */
  writeLine(text = ''): this {
    this.lines.push(text === '' ? '' : this.unit.repeat(this.level) + text);
    return this;
  }

  /** Appends several lines at the current indentation. */
  writeLines(texts: Iterable<string>): this {
    for (const t of texts) this.writeLine(t);
    return this;
  }

  /** Runs `body` one indentation level deeper. */
  indent(body: () => void): this {
    this.level++;
    try {
      body();
    } finally {
      this.level--;
    }
    return this;
  }

  /**
   * Writes `items` one per line, `separator` after every item but the last, `lastSuffix` after the last one.
   * Example: `joined(['a', 'b'], ' |', ';')` gives `a |` then `b;`.
   */
  writeJoined(items: readonly string[], separator: string, lastSuffix = ''): this {
    items.forEach((item, i) => this.writeLine(item + (i < items.length - 1 ? separator : lastSuffix)));
    return this;
  }

  /** The text written so far, `\n`-separated, with one trailing newline (empty string when nothing was written). */
  toString(): string {
    return this.lines.length === 0 ? '' : this.lines.join('\n') + '\n';
  }
}
