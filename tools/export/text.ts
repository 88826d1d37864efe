/** Small text helpers shared by the Markdown and HTML writers. */
import { streamText } from '../nbformat/index.ts';

// CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks, titles) as terminals and Jupyter emit them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are made of control characters
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** Removes ANSI escape sequences (kernels colour their tracebacks). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * Makes recorded terminal text readable as plain text: strips ANSI escapes and applies carriage returns the way a
 * terminal would (a progress bar that rewrote its line keeps only its last state).
 */
export function terminalText(text: string): string {
  return streamText(stripAnsi(text));
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** The length of the longest run of `char` in `text` (a loop: no spread of a match list, whatever its size). */
export function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * Wraps text in a Markdown code fence long enough that no run of backticks inside can close it early
 * (CommonMark: a closing fence needs at least as many backticks as the opening one).
 */
export function fence(text: string, info: string): string {
  // An info string with a backtick would end a backtick fence at once; anything unusual is dropped, not escaped.
  const language = /^[\w+#.-]*$/.test(info) ? info : '';
  const bar = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  const body = text.replace(/\n+$/, '');
  return body === '' ? `${bar}${language}\n${bar}` : `${bar}${language}\n${body}\n${bar}`;
}

/** A URL- and file-name-safe slug: lower case ASCII letters, digits and single dashes. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Hands out unique heading anchors the way GitHub does: `intro`, `intro-1`, `intro-2`. */
export class AnchorSet {
  readonly #used = new Map<string, number>();

  /** Returns a fresh anchor for `text`. */
  take(text: string): string {
    const base = slugify(text) || 'section';
    let id = base;
    let n = this.#used.get(base) ?? 0;
    while (this.#used.has(id)) {
      n += 1;
      id = `${base}-${n}`;
    }
    this.#used.set(base, n);
    this.#used.set(id, 0);
    return id;
  }
}
