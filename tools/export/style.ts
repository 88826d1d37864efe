/**
 * The stylesheet inlined into every exported page: system fonts only (no web fonts, nothing fetched), light and dark
 * palettes switched by `prefers-color-scheme`, a single readable column on phones and a sticky contents sidebar on
 * wide screens.
 */
export const PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --fg: #1f2328;
  --muted: #59636e;
  --border: #d1d9e0;
  --accent: #0b63c7;
  --accent-soft: #ddeeff;
  --code-inline-bg: #eff2f5;
  --code-bg: #f6f8fa;
  --out-bg: #fbfaf4;
  --out-border: #d9cf9c;
  --out-label: #7a6a1d;
  --err-bg: #fff1f0;
  --err-border: #e5a4a0;
  --err-fg: #9f1c14;
  --stderr-bg: #fff8ec;
  --shadow: 0 1px 2px rgb(31 35 40 / 6%);
  --radius: 8px;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1419;
    --fg: #e6edf3;
    --muted: #9aa5b1;
    --border: #30363d;
    --accent: #6cb6ff;
    --accent-soft: #15304d;
    --code-inline-bg: #1f2630;
    --code-bg: #161b22;
    --out-bg: #17191c;
    --out-border: #5c5330;
    --out-label: #d6c27a;
    --err-bg: #2a1414;
    --err-border: #7d2a25;
    --err-fg: #ffaba5;
    --stderr-bg: #231d12;
    --shadow: none;
  }
  .shiki, .shiki span {
    color: var(--shiki-dark) !important;
    background-color: var(--shiki-dark-bg) !important;
    font-style: var(--shiki-dark-font-style) !important;
    font-weight: var(--shiki-dark-font-weight) !important;
    text-decoration: var(--shiki-dark-text-decoration) !important;
  }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; scroll-padding-top: 1rem; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
  font: 1.0625rem/1.65 var(--sans);
  overflow-wrap: break-word;
}
main, article, .notebook, .cell, .cell-input, .cell-outputs, .output { min-width: 0; max-width: 100%; }
a { color: var(--accent); text-underline-offset: 0.15em; }
.page {
  max-width: 46rem;
  margin: 0 auto;
  padding: 1.5rem 1.1rem 3rem;
}
.post-header { margin: 1rem 0 1.75rem; }
.post-header h1 { font-size: clamp(1.8rem, 1.3rem + 2.4vw, 2.6rem); line-height: 1.15; margin: 0 0 0.6rem; letter-spacing: -0.02em; }
.post-meta { color: var(--muted); font-size: 0.9rem; display: flex; flex-wrap: wrap; gap: 0.4rem 0.9rem; align-items: center; }
.tags { display: flex; flex-wrap: wrap; gap: 0.35rem; margin: 0; padding: 0; list-style: none; }
.tags li { background: var(--accent-soft); color: var(--accent); border-radius: 999px; padding: 0.05rem 0.6rem; font-size: 0.8rem; }
.lede { font-size: 1.15rem; color: var(--muted); margin: 0.9rem 0 0; }
.toc {
  border: 1px solid var(--border);
  border-radius: var(--radius);
  padding: 0.6rem 1rem;
  margin: 0 0 2rem;
  font-size: 0.93rem;
}
.toc summary { cursor: pointer; font-weight: 600; }
.toc ol { margin: 0.4rem 0; padding-left: 0; list-style: none; }
.toc ol ol { font-size: 0.9em; padding-left: 0.9rem; margin: 0.15rem 0 0.4rem; }
.toc ol ol a { color: var(--muted); }
.toc li { margin: 0.15rem 0; }
.toc a { color: inherit; text-decoration: none; }
.toc a:hover { color: var(--accent); text-decoration: underline; }
article h2, article h3, article h4, article h5, article h6 { line-height: 1.25; margin: 2.2rem 0 0.8rem; }
article h2 { font-size: 1.7rem; letter-spacing: -0.01em; }
.notebook + .notebook { border-top: 1px solid var(--border); margin-top: 3rem; padding-top: 1rem; }
article h3 { font-size: 1.3rem; }
article h4 { font-size: 1.1rem; }
article img { max-width: 100%; height: auto; }
article table { border-collapse: collapse; display: block; max-width: 100%; overflow-x: auto; margin: 1rem 0; font-size: 0.93rem; }
article th, article td { border: 1px solid var(--border); padding: 0.35rem 0.7rem; text-align: left; }
article th { background: var(--code-bg); }
article blockquote { margin: 1rem 0; padding: 0.1rem 1rem; border-left: 4px solid var(--border); color: var(--muted); }
article hr { border: 0; border-top: 1px solid var(--border); margin: 2rem 0; }
:not(pre) > code {
  font-family: var(--mono);
  font-size: 0.88em;
  background: var(--code-inline-bg);
  padding: 0.1em 0.35em;
  border-radius: 4px;
}
pre {
  font-family: var(--mono);
  font-size: 0.86rem;
  line-height: 1.55;
  margin: 0;
  padding: 0.85rem 1rem;
  /* Code and output keep their lines (a table drawn in box characters, a string): a long one scrolls inside its block,
     which takes keyboard focus (tabindex), and never widens the page. */
  white-space: pre;
  overflow-x: auto;
  overflow-wrap: normal;
  max-width: 100%;
  tab-size: 2;
  border-radius: var(--radius);
}
pre code { font-family: inherit; }
pre.shiki { border: 1px solid var(--border); box-shadow: var(--shadow); }
article > section > pre.shiki, .markdown pre.shiki { margin: 1rem 0; }
.cell { margin: 1.2rem 0; }
.cell-outputs { margin-top: 0.5rem; display: grid; gap: 0.5rem; }
.output {
  position: relative;
  background: var(--out-bg);
  border: 1px solid var(--out-border);
  border-left-width: 4px;
  border-radius: var(--radius);
  padding: 1.55rem 0 0;
  min-width: 0;
}
.output-label {
  position: absolute;
  top: 0.3rem;
  left: 0.85rem;
  font: 600 0.7rem/1.2 var(--sans);
  letter-spacing: 0.06em;
  text-transform: uppercase;
  color: var(--out-label);
}
.output pre { background: transparent; padding-top: 0.15rem; border-radius: 0 0 var(--radius) var(--radius); }
.output-stderr { background: var(--stderr-bg); }
.output-error { background: var(--err-bg); border-color: var(--err-border); }
.output-error .output-label, .output-error pre { color: var(--err-fg); }
.output-html { padding: 1.55rem 1rem 0.6rem; overflow-x: auto; }
.output-html > :first-child { margin-top: 0; }
.output-html > :last-child { margin-bottom: 0; }
.output-image { padding: 1.55rem 0.75rem 0.75rem; }
/* Charts draw with currentColor and CSS variables, so they follow the page into dark mode. */
.output-image .figure {
  background: var(--bg);
  color: var(--fg);
  border-radius: 6px;
  padding: 0.5rem;
  text-align: center;
}
.output-image .figure { overflow-x: auto; }
/* A chart keeps a width at which its labels stay legible (set per chart) and scrolls inside its frame below it. */
.output-image svg, .output-image img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
details.collapsed > summary {
  cursor: pointer;
  color: var(--muted);
  font-size: 0.88rem;
  padding: 0.3rem 0.1rem;
  user-select: none;
}
details.collapsed[open] > summary { margin-bottom: 0.35rem; }
.original { color: var(--muted); font-size: 0.95rem; margin: 0.6rem 0 0; }
.series { margin: 2.5rem 0 0; padding: 0.8rem 1rem; border: 1px solid var(--border); border-radius: var(--radius); }
.series ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.3rem; }
.series-index li { margin: 0.8rem 0; }
.series-index p { margin: 0.2rem 0 0; color: var(--muted); }
.post-footer { margin-top: 3.5rem; padding-top: 1rem; border-top: 1px solid var(--border); color: var(--muted); font-size: 0.85rem; }
.post-footer ul { padding-left: 1.2rem; margin: 0.3rem 0 0; }
@media (min-width: 76rem) {
  .page {
    max-width: 76rem;
    display: grid;
    grid-template-columns: 15rem minmax(0, 48rem);
    grid-template-areas: "toc header" "toc article" "toc footer";
    grid-template-rows: auto 1fr auto;
    column-gap: 3.5rem;
    justify-content: center;
  }
  .post-header { grid-area: header; }
  .toc {
    grid-area: toc;
    position: sticky;
    top: 1.5rem;
    align-self: start;
    max-height: calc(100vh - 3rem);
    overflow-y: auto;
    border: 0;
    border-right: 1px solid var(--border);
    border-radius: 0;
    padding: 0.5rem 1rem 0.5rem 0;
    margin-top: 1.2rem;
  }
  .toc summary { list-style: none; pointer-events: none; text-transform: uppercase; font-size: 0.75rem; letter-spacing: 0.08em; color: var(--muted); }
  .toc summary::-webkit-details-marker { display: none; }
  /* Beside the post only the parts are listed, so every one of them fits without scrolling the contents. */
  .toc ol ol { display: none; }
  main { grid-area: article; min-width: 0; }
  .post-footer { grid-area: footer; }
}
@media (max-width: 30rem) {
  body { font-size: 1rem; }
  .page { padding: 1rem 0.8rem 2.5rem; }
  pre { font-size: 0.8rem; padding: 0.7rem 0.75rem; }
}
@media print {
  .toc { display: none; }
  details.collapsed > :not(summary) { display: block; }
}
`;
