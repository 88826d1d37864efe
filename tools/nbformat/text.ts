/** Notebook text: joining and splitting nbformat's list-of-lines form, and stream text with carriage returns. */
import type { MultilineString } from './types.ts';

/** Joins nbformat's list-of-lines form back into one string; anything that is not text gives `''`. */
export function joinText(text: MultilineString | unknown): string {
  if (Array.isArray(text)) return text.join('');
  return typeof text === 'string' ? text : '';
}

// Python's str.splitlines line boundaries, which nbformat uses when it writes a notebook.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are line breaks to Python.
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** Splits text into lines keeping their endings, exactly like Python's `str.splitlines(True)`. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (const match of text.matchAll(LINE_BREAK)) {
    const end = match.index + match[0].length;
    lines.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/**
 * Applies carriage returns the way a terminal (and Jupyter's output area) does: text after a `\r` overwrites the
 * start of its line, so `"abc\rX"` shows `"Xbc"`. A trailing `\r` is kept, because the next chunk of the stream may
 * still overwrite the line; {@link streamText} drops it for display.
 */
export function applyCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  return text
    .replace(/\r+\n/g, '\n')
    .split('\n')
    .map((line) => {
      const pending = line.endsWith('\r');
      const parts = line.split(/\r+/);
      if (pending) parts.pop();
      let shown = parts[0] ?? '';
      for (const part of parts.slice(1)) shown = part + shown.slice(part.length);
      return pending ? `${shown}\r` : shown;
    })
    .join('\n');
}

/** Stream text as a reader sees it once the stream has ended: carriage returns applied, none left pending. */
export function streamText(text: string): string {
  const applied = applyCarriageReturns(text);
  return applied.endsWith('\r') ? applied.slice(0, -1) : applied;
}
