/** Syntax highlighting with shiki: one light and one dark theme in the same markup, switched by CSS. */
import { createHighlighter } from 'shiki';

/** Turns code into highlighted `<pre class="shiki">` markup (trusted: shiki escapes the code). */
export type Highlight = (code: string, language: string) => string;

/**
 * Theme used when the reader's system is in light mode. GitHub's current palette: every token colour meets WCAG AA
 * (4.5:1) on its background, which github-light's orange (#e36209, 3.48:1) does not.
 */
export const LIGHT_THEME = 'github-light-default';
/** Theme used in dark mode (its colours travel as `--shiki-dark` variables); github-dark's comments are 3.04:1. */
export const DARK_THEME = 'github-dark-default';

const LANGUAGES = [
  'typescript',
  'javascript',
  'json',
  'shellscript',
  'html',
  'css',
  'python',
  'yaml',
  'diff',
];

/**
 * Loads the grammars and themes once and returns a synchronous highlighter. Unknown languages (and `text`) are shown
 * as plain, escaped code in the same frame.
 */
export async function createHighlight(): Promise<Highlight> {
  const highlighter = await createHighlighter({ themes: [LIGHT_THEME, DARK_THEME], langs: LANGUAGES });
  const known = new Set(highlighter.getLoadedLanguages());
  return (code, language) => {
    const lang = language.toLowerCase();
    return highlighter.codeToHtml(code, {
      lang: known.has(lang) ? lang : 'text',
      themes: { light: LIGHT_THEME, dark: DARK_THEME },
    });
  };
}
