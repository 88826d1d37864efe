import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Highlight, NotebookInput, OutputFile } from '../../../tools/export/index.ts';
import {
  buildPosts,
  createHighlight,
  exportNotebooks,
  NotebookFormatError,
  parseNotebook,
} from '../../../tools/export/index.ts';
import { sanitizeFragment, sanitizeSvg, sanitizeSvgImage } from '../../../tools/export/sanitize.ts';
import { fence, stripAnsi } from '../../../tools/export/text.ts';
import type { Cell, Notebook, Output } from '../../../tools/nbformat/index.ts';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/export');
const MODIFIED = new Date('2025-06-01T12:00:00Z');

let highlight: Highlight;
beforeAll(async () => {
  highlight = await createHighlight();
});

function fixture(name: string): NotebookInput {
  const file = `notebooks/${name}`;
  return {
    file,
    notebook: parseNotebook(readFileSync(join(FIXTURES, name), 'utf8'), file),
    modified: MODIFIED,
  };
}

function notebook(
  cells: Cell[],
  metadata: Notebook['metadata'] = {},
  file = 'notebooks/01-test.ipynb',
): NotebookInput {
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'tslab', language: 'typescript', display_name: 'TypeScript' },
      ...metadata,
    },
    cells,
  };
  return { file, notebook: parseNotebook(JSON.stringify(nb), file), modified: MODIFIED };
}

const markdown = (source: string, tags?: string[]): Cell => ({
  cell_type: 'markdown',
  source,
  metadata: tags ? { tags } : {},
});
const code = (source: string, outputs: Output[], tags?: string[]): Cell => ({
  cell_type: 'code',
  source,
  metadata: tags ? { tags } : {},
  outputs,
  execution_count: 1,
});
const stdout = (text: string): Output => ({ output_type: 'stream', name: 'stdout', text });

function files(inputs: NotebookInput[], perNotebook = false): Map<string, OutputFile['content']> {
  const out = exportNotebooks(inputs, { formats: ['md', 'html'], perNotebook, highlight });
  return new Map(out.map((file) => [file.path, file.content]));
}

function text(map: Map<string, OutputFile['content']>, path: string): string {
  const content = map.get(path);
  if (typeof content !== 'string')
    throw new Error(`expected text file ${path}, have ${[...map.keys()].join(', ')}`);
  return content;
}

function frontMatterOf(md: string): Record<string, unknown> {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(md);
  if (!match) throw new Error('no front matter');
  return load(match[1]) as Record<string, unknown>;
}

/** The page's <article>, without the highlighted code (which quotes the source). */
function article(html: string): string {
  return html.slice(html.indexOf('<article>'), html.indexOf('</article>'));
}

describe('parseNotebook', () => {
  it('names the file and the reason when the text is not JSON', () => {
    expect(() => parseNotebook('{"cells": [', 'notebooks/broken.ipynb')).toThrowError(
      /^notebooks\/broken\.ipynb: not valid JSON/,
    );
  });

  it('rejects other nbformat versions and notebooks without cells', () => {
    expect(() => parseNotebook('{"nbformat": 3, "worksheets": []}', 'old.ipynb')).toThrowError(
      'old.ipynb: expected nbformat 4, got number 3',
    );
    expect(() => parseNotebook('{"nbformat": 4, "metadata": {}}', 'empty.ipynb')).toThrowError(
      /^empty\.ipynb: missing "cells" list/,
    );
    expect(() => parseNotebook('[1, 2]', 'list.ipynb')).toThrowError(
      'list.ipynb: expected a notebook object, got an array',
    );
  });

  it('points at the malformed cell or output', () => {
    const bad = readFileSync(join(FIXTURES, 'bad/bad-output.ipynb'), 'utf8');
    const error = (() => {
      try {
        parseNotebook(bad, 'bad-output.ipynb');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(NotebookFormatError);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as NotebookFormatError).file).toBe('bad-output.ipynb');
    expect((error as Error).message).toBe(
      'bad-output.ipynb: cells[1].outputs[0].text should be a string or a list of strings',
    );
  });
});

describe('Markdown export', () => {
  it('writes front matter that parses back, from notebook metadata', () => {
    const md = text(files([fixture('01-deferreds.ipynb')], true), '01-deferreds.md');
    expect(frontMatterOf(md)).toEqual({
      title: 'Deferreds: callbacks that wait',
      date: '2025-03-14',
      description: 'Create, fire and chain a Deferred, and see what a failure does to the chain.',
      tags: ['typescript', 'deferred', 'twisted'],
    });
  });

  it('defaults the front matter to the first heading, first paragraph and the file date', () => {
    const md = text(files([fixture('02-charts.ipynb')], true), '02-charts.md');
    expect(frontMatterOf(md)).toEqual({
      title: 'Charting a batch',
      date: '2025-06-01',
      description: 'Three ways to fetch twelve pages, drawn as a timeline so the difference is plain to see.',
      tags: ['typescript', 'async', 'concurrency', 'batching'],
    });
  });

  it('gathers all notebooks into one post with the default title, the newest date and every tag', () => {
    const out = files([fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')]);
    expect([...out.keys()]).toEqual([
      'async-batching-walkthrough.md',
      'assets/async-batching-walkthrough-1.svg',
      'assets/async-batching-walkthrough-2.png',
      'assets/async-batching-walkthrough-3.png',
      'assets/async-batching-walkthrough-4.svg',
      'async-batching-walkthrough.html',
    ]);
    const meta = frontMatterOf(text(out, 'async-batching-walkthrough.md'));
    expect(meta.title).toBe('Async batching in TypeScript: a walkthrough');
    expect(meta.date).toBe('2025-06-01');
    expect(meta.tags).toEqual(['typescript', 'deferred', 'twisted']);
    expect(typeof meta.description).toBe('string');
  });

  it('quotes front matter values that YAML would otherwise misread', () => {
    const input = notebook([markdown('# x')], {
      async_batching: {
        title: 'Deferreds: "quoted" # not a comment',
        tags: ['yes', 'null', '2025'],
        date: '2025-01-31',
      },
    });
    const meta = frontMatterOf(text(files([input], true), '01-test.md'));
    expect(meta).toMatchObject({
      title: 'Deferreds: "quoted" # not a comment',
      tags: ['yes', 'null', '2025'],
    });
  });

  it('copies Markdown cells as written and fences code as ts and outputs as text', () => {
    const rest = '- a *list*\n- with [a link](https://example.invalid/)\n\n```ts\nconst x = 1;\n```';
    const source = `## Step one\n\n${rest}`;
    const input = notebook([
      markdown(source),
      code('console.log("hi");\n', [stdout('hi\n'), stdout('there\n')]),
      code('1 + 1', [
        { output_type: 'execute_result', data: { 'text/plain': '2' }, execution_count: 2, metadata: {} },
      ]),
    ]);
    const md = text(files([input], true), '01-test.md');
    expect(md).toContain(source);
    expect(md).toContain(
      '```ts\nconsole.log("hi");\n```\n\n```text\nhi\nthere\n```\n\n```ts\n1 + 1\n```\n\n```text\n2\n```\n',
    );
  });

  it('keeps one H1 (the title, in front matter): notebook headings move down a level when a notebook has an H1', () => {
    const input = notebook([markdown('# Intro\n\nText.\n\n## Detail'), markdown('# Second part')]);
    const md = text(files([input], true), '01-test.md');
    expect(frontMatterOf(md).title).toBe('Intro');
    // The opening H1 repeats the title and goes; the other H1 becomes an H2, and its H2 an H3.
    expect(md).not.toMatch(/^# /m);
    expect(md).toContain('Text.\n\n### Detail');
    expect(md).toContain('## Second part');
  });

  it('writes author, original and canonical keys and the date from notebook metadata', () => {
    const original = {
      title: 'Async Batching with Twisted: A Walkthrough',
      author: 'Duncan McGreggor (oubiwann)',
      url: 'https://oubiwann.github.io/blog/archives/2008-06/20-020808/async-batching-with-twisted-a-walkthrough.html',
      date: '2008-06-20',
    };
    // The walkthrough notebooks' metadata schema, wider than the parser's declared type.
    const own = {
      title: 'A walkthrough',
      date: '2025-02-03',
      author: 'Edition Author',
      original,
      canonical: 'https://example.invalid/posts/a/',
    };
    const input = notebook([markdown('# x')], { async_batching: own });
    const md = text(files([input], true), '01-test.md');
    expect(frontMatterOf(md)).toMatchObject({
      date: '2025-02-03',
      author: 'Edition Author',
      original,
      canonical: 'https://example.invalid/posts/a/',
    });
    expect(md).toContain(
      `After [Async Batching with Twisted: A Walkthrough](${original.url}) by Duncan McGreggor (oubiwann) (2008).*`,
    );
    const html = text(files([input], true), '01-test.html');
    expect(html).toContain(
      `<p class="original">After <a href="${original.url}">Async Batching with Twisted: A Walkthrough</a>`,
    );
    const bad = notebook(
      [markdown('# x')],
      { async_batching: { original: { title: 't' } } as Notebook['metadata']['async_batching'] },
      'notebooks/o.ipynb',
    );
    expect(() => buildPosts([bad])).toThrowError(
      'notebooks/o.ipynb: metadata.async_batching.original should be an object with string title, author and url',
    );
  });

  it('lays out Jekyll posts with a dated file name, explicit permalinks and base-URL image links', () => {
    const out = exportNotebooks([fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')], {
      formats: ['md'],
      perNotebook: true,
      target: 'jekyll',
      baseUrl: '/blog',
    });
    const paths = out.map((file) => file.path);
    expect(paths).toContain('_posts/2025-03-14-01-deferreds.md');
    expect(paths).toContain('assets/02-charts-1.svg');
    expect(paths).toContain('async-batching-walkthrough/index.md');
    const first = String(out.find((file) => file.path === '_posts/2025-03-14-01-deferreds.md')?.content);
    expect(frontMatterOf(first)).toMatchObject({
      permalink: '/async-batching-walkthrough/01-deferreds/',
      render_with_liquid: false,
    });
    expect(first).toContain('Next: [Charting a batch](/blog/async-batching-walkthrough/02-charts/).');
    const second = String(out.find((file) => file.path.endsWith('-02-charts.md'))?.content);
    expect(second).toContain('](/blog/assets/02-charts-1.svg)');
    expect(second).toContain(
      'Previous: [Deferreds: callbacks that wait](/blog/async-batching-walkthrough/01-deferreds/).',
    );
    const index = String(out.find((file) => file.path === 'async-batching-walkthrough/index.md')?.content);
    expect(index).toContain(
      '1. [Deferreds: callbacks that wait](/blog/async-batching-walkthrough/01-deferreds/)',
    );
  });

  it('lays out Hugo posts as page bundles with relative links', () => {
    const out = exportNotebooks([fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')], {
      formats: ['md', 'html'],
      perNotebook: true,
      target: 'hugo',
      highlight,
    });
    const paths = out.map((file) => file.path).sort();
    expect(paths).toContain('content/async-batching-walkthrough/02-charts/index.md');
    expect(paths).toContain('content/async-batching-walkthrough/02-charts/02-charts-1.svg');
    expect(paths).toContain('content/async-batching-walkthrough/_index.md');
    expect(paths).toContain('static/standalone/index.html');
    const second = String(out.find((file) => file.path.endsWith('02-charts/index.md'))?.content);
    expect(second).toContain('](02-charts-1.svg)');
    expect(second).toContain('Previous: [Deferreds: callbacks that wait](../01-deferreds/).');
    const page = String(out.find((file) => file.path === 'static/standalone/02-charts.html')?.content);
    expect(page).toContain('<a href="01-deferreds.html" rel="prev">Deferreds: callbacks that wait</a>');
    expect(page).toContain('<a href="index.html">Async batching in TypeScript: a walkthrough</a>');
  });

  it('writes an error output as text with ANSI escapes stripped', () => {
    const md = text(files([fixture('01-deferreds.ipynb')], true), '01-deferreds.md');
    expect(md).toContain(
      '```text\nError: page not found: /missing\n    at getPage (async-batching/dist/get-page.js:41:11)\n    at async <cell 3>:2:1\n```',
    );
    expect(md).not.toContain('\u001b');
    expect(stripAnsi('\u001b[0;31mError\u001b[0m \u001b]8;;https://x\u0007link\u001b]8;;\u0007')).toBe(
      'Error link',
    );
  });

  it('keeps SVG and PNG outputs as asset files referenced as images', () => {
    const out = files([fixture('02-charts.ipynb')], true);
    const md = text(out, '02-charts.md');
    expect(md).toContain('![Total time per strategy (ms)](assets/02-charts-1.svg)');
    expect(md).toContain('![Figure 2](assets/02-charts-2.png)');
    expect(md).toContain('![bars](assets/02-charts-3.png)');
    const svg = text(out, 'assets/02-charts-1.svg');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 360 180"/);
    expect(svg).toContain('<clipPath id="plot">');
    const png = out.get('assets/02-charts-2.png') as Uint8Array;
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  });

  it('keeps a text/html output as sanitised HTML in one raw block', () => {
    const md = text(files([fixture('02-charts.ipynb')], true), '02-charts.md');
    expect(md).toMatch(/<div class="nb-output">\n<table class="results">[\s\S]*<\/table>\n<\/div>/);
    expect(md).toContain('<td style="text-align:right">1204</td>');
  });

  it('makes the fence longer than any run of backticks in the output', () => {
    const md = text(files([fixture('02-charts.ipynb')], true), '02-charts.md');
    expect(md).toContain('`````text\n<b>not bold</b> & not an entity: &amp;\na fence inside output:\n```\n');
    expect(fence('a ``` b', 'text')).toBe('````text\na ``` b\n````');
    expect(fence('plain\n\n', 'text')).toBe('```text\nplain\n```');
  });

  it('applies a terminal carriage return to progress output', () => {
    const md = text(files([fixture('02-charts.ipynb')], true), '02-charts.md');
    expect(md).toContain('```text\nfetched 12/12\ndone\n```');
  });
});

describe('cell tags', () => {
  const input = () =>
    notebook([
      code('startSite()', [stdout('SETUP OUTPUT\n')], ['remove-cell']),
      code('hidden()', [stdout('hidden output\n')], ['hide-input']),
      code('noOutput()', [stdout('REMOVED OUTPUT\n')], ['remove-output']),
      code('REMOVED_INPUT()', [stdout('only output\n')], ['remove-input']),
      code('closeSite()', [], ['remove_cell']),
      markdown('DROPPED MARKDOWN', ['remove-cell']),
      code('foldAll()', [stdout('folded output\n')], ['hide-cell']),
    ]);

  it('removes cells, inputs and outputs in both formats', () => {
    const out = files([input()], true);
    for (const content of [text(out, '01-test.md'), article(text(out, '01-test.html'))]) {
      for (const gone of [
        'startSite',
        'SETUP OUTPUT',
        'REMOVED OUTPUT',
        'REMOVED_INPUT',
        'closeSite',
        'DROPPED MARKDOWN',
      ]) {
        expect(content).not.toContain(gone);
      }
      for (const kept of ['hidden', 'noOutput', 'only output', 'foldAll', 'folded output'])
        expect(content).toContain(kept);
    }
  });

  it('folds hide-input code into a <details> in HTML and keeps it plain in Markdown', () => {
    const out = files([input()], true);
    const html = text(out, '01-test.html');
    expect(html).toMatch(
      /<details class="collapsed cell-input"><summary>Show code<\/summary><pre class="shiki[\s\S]*hidden[\s\S]*<\/details>/,
    );
    expect(html).toMatch(
      /<details class="collapsed cell-outputs"><summary>Show output<\/summary>[\s\S]*folded output/,
    );
    expect(html).toContain(
      '<div class="cell"><div class="cell-outputs"><div class="output output-stdout"><div class="output-label">Out</div><pre tabindex="0">only output</pre>',
    );
    expect(text(out, '01-test.md')).toContain('```ts\nhidden()\n```\n\n```text\nhidden output\n```');
  });
});

describe('HTML export', () => {
  it('is one page with inline CSS, a viewport, a CSP and no script or external resource', () => {
    const html = text(
      files([fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')]),
      'async-batching-walkthrough.html',
    );
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain("default-src 'none'");
    expect(html).toMatch(/<style>[\s\S]*prefers-color-scheme: dark[\s\S]*<\/style>/);
    expect(html).not.toMatch(/<script|<link|@import|https?:\/\/[^"\s]*\.(css|js|woff2?|png|svg)/i);
    expect(html).toContain('<img src="data:image/png;base64,iVBORw0KGgo');
    expect(html).toMatch(
      /<div class="figure" tabindex="0"><svg style="min-width: \d+px" aria-label="[^"]+" xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
  });

  it('inlines plain SVG but shows a styled SVG through <img>, so its CSS cannot reach the page', () => {
    const html = text(files([fixture('02-charts.ipynb')], true), '02-charts.html');
    expect(html).toMatch(
      /<div class="figure" tabindex="0"><svg style="min-width: \d+px" aria-label="Total time per strategy \(ms\)" xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* role="img"[^>]*>\s*<title>Total time/,
    );
    expect(html).toMatch(
      /<div class="figure" tabindex="0"><img src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="Timeline: DeferredSemaphore\(2\), 6 requests"( style="min-width: \d+px")?><\/div>/,
    );
    expect(article(html)).not.toContain('<style');
  });

  it('highlights code with shiki in a light and a dark theme', () => {
    const html = text(files([fixture('01-deferreds.ipynb')], true), '01-deferreds.html');
    expect(html).toContain('class="shiki shiki-themes github-light-default github-dark-default"');
    expect(html).toMatch(/<span style="color:#CF222E;--shiki-dark:#FF7B72">const<\/span>/);
  });

  it('builds a table of contents that links to anchored headings', () => {
    const html = text(
      files([fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')]),
      'async-batching-walkthrough.html',
    );
    const links = [...html.matchAll(/<nav class="toc"[\s\S]*?<\/nav>/g)][0][0].match(/href="#[^"]+"/g);
    expect(links).toEqual([
      'href="#deferreds-callbacks-that-wait"',
      'href="#firing-a-deferred"',
      'href="#when-something-fails"',
      'href="#what-we-saw"',
      'href="#charting-a-batch"',
      'href="#time-per-strategy"',
      'href="#the-same-as-a-bitmap"',
      'href="#numbers"',
      'href="#output-that-looks-like-markup"',
      'href="#a-chart-with-its-own-style-sheet"',
      'href="#recap"',
    ]);
    expect(html).toContain('<h2 id="deferreds-callbacks-that-wait">Deferreds: callbacks that wait</h2>');
    expect(html).toContain('<h3 id="firing-a-deferred">Firing a Deferred</h3>');
  });

  it('does not repeat a notebook title that the page header already shows', () => {
    const html = text(files([fixture('01-deferreds.ipynb')], true), '01-deferreds.html');
    expect(html.match(/Deferreds: callbacks that wait<\/h\d>/g)).toEqual([
      'Deferreds: callbacks that wait</h1>',
    ]);
  });

  it('shows output text as text: <b> is escaped, not bold', () => {
    const html = text(files([fixture('02-charts.ipynb')], true), '02-charts.html');
    expect(html).toContain('<pre tabindex="0">&lt;b&gt;not bold&lt;/b&gt; &amp; not an entity: &amp;amp;');
    expect(article(html)).not.toContain('<b>not bold</b>');
  });

  it('labels outputs apart from code', () => {
    const html = text(files([fixture('01-deferreds.ipynb')], true), '01-deferreds.html');
    expect(html).toContain(
      '<div class="output output-text"><div class="output-label">Out [2]</div><pre tabindex="0">3</pre></div>',
    );
    expect(html).toContain('<div class="output output-stderr"><div class="output-label">stderr</div>');
    expect(html).toContain(
      '<div class="output output-error"><div class="output-label">Error</div><pre tabindex="0">Error: page not found',
    );
  });

  it('strips script, handlers and dangerous URLs from every part of a hostile notebook', () => {
    const out = files([fixture('hostile.ipynb')], true);
    const html = text(out, 'hostile.html');
    const body = article(html);
    // Highlighted source is escaped by shiki, so `<script` in it is `&#x3C;script`.
    expect(body).not.toMatch(
      /<script|<iframe|<object|<embed|<foreignObject|<style|<meta|<link|<form|<video|<image|<use/i,
    );
    expect(body).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(body).not.toMatch(/(href|src)="\s*(javascript|data:text)/i);
    expect(body).not.toContain('127.0.0.1:9/paint');
    expect(body).not.toContain('background-image');
    expect(body).toContain('<a href="http://127.0.0.1:9/pixel.png">tracking pixel</a>');
    expect(html).toContain(
      '<title>Hostile &lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; {{% ref &quot;nope&quot; %}} {{ site.title }} /* notebook */</title>',
    );
    const svg = text(out, 'assets/hostile-1.svg');
    expect(svg).not.toMatch(/script|foreignObject|onload|onclick|javascript|127\.0\.0\.1/i);
    expect(svg).toContain('fill="#dc2626"');
  });
});

describe('sanitisers', () => {
  it('keeps SVG drawing elements with their camelCase names and drops everything active', () => {
    const svg = sanitizeSvg(
      '<svg viewBox="0 0 10 10" onload="x()"><linearGradient id="g" gradientUnits="userSpaceOnUse"><stop offset="0" stop-color="red"/></linearGradient>' +
        '<rect width="10" height="10" fill="url(#g)"/><script>x()</script><text x="1" y="9">a &lt; b</text></svg>',
    );
    expect(svg).toBe(
      '<svg viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg" role="img"><linearGradient id="g" gradientUnits="userSpaceOnUse">' +
        '<stop offset="0" stop-color="red"></stop></linearGradient><rect width="10" height="10" fill="url(#g)"></rect>' +
        '<text x="1" y="9">a &lt; b</text></svg>',
    );
  });

  it('rebuilds an SVG style sheet from its safe rules with css-tree, and says the drawing must be shown as an image', () => {
    const { svg, styled } = sanitizeSvgImage(
      '<svg width="4" height="4"><style>@import url(https://example.invalid/a.css); .a > b { fill: url(https://example.invalid/p) }' +
        ' .c { fill: url(#local) } &lt;/style&gt;&lt;script&gt;x()&lt;/script&gt;</style><rect class="c" width="4" height="4"/></svg>',
    );
    expect(styled).toBe(true);
    expect(svg).toBe(
      '<svg width="4" height="4" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4" role="img">' +
        '<style>.a&gt;b{}.c{fill:url(#local)}</style><rect class="c" width="4" height="4"></rect></svg>',
    );
    expect(sanitizeSvgImage('<svg><rect width="1" height="1"/></svg>').styled).toBe(false);
  });

  it('turns a remote image into a link, so reading the post fetches nothing', () => {
    expect(sanitizeFragment('<img src="https://example.invalid/a.png" alt="chart">')).toBe(
      '<a href="https://example.invalid/a.png">chart</a>',
    );
  });
});

describe('exportNotebooks', () => {
  it('writes one post per notebook with its own slug and asset numbers', () => {
    const out = files([fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')], true);
    expect([...out.keys()].sort()).toEqual([
      '01-deferreds.html',
      '01-deferreds.md',
      '02-charts.html',
      '02-charts.md',
      'assets/02-charts-1.svg',
      'assets/02-charts-2.png',
      'assets/02-charts-3.png',
      'assets/02-charts-4.svg',
      'index.html',
      'index.md',
    ]);
  });

  it('writes only the formats asked for', () => {
    const md = exportNotebooks([fixture('01-deferreds.ipynb')], { formats: ['md'], perNotebook: true });
    expect(md.map((file) => file.path)).toEqual(['01-deferreds.md', 'index.md']);
  });

  it('refuses empty input, no formats, HTML without a highlighter and distinct files with one slug', () => {
    expect(() => exportNotebooks([], { formats: ['md'] })).toThrowError(RangeError);
    expect(() => exportNotebooks([fixture('01-deferreds.ipynb')], { formats: [] })).toThrowError(/`formats`/);
    expect(() => exportNotebooks([fixture('01-deferreds.ipynb')], { formats: ['html'] })).toThrowError(
      /`highlight`/,
    );
    const a = notebook([markdown('# a')], {}, 'a/intro.ipynb');
    const b = notebook([markdown('# b')], {}, 'b/intro.ipynb');
    expect(() => buildPosts([a, b], { perNotebook: true })).toThrowError(/"intro" repeats/);
  });

  it('rejects metadata of the wrong shape, naming the file and field', () => {
    const input = notebook([markdown('# x')], { async_batching: { date: 'soon' } }, 'notebooks/dated.ipynb');
    expect(() => buildPosts([input])).toThrowError(
      'notebooks/dated.ipynb: metadata.async_batching.date should be a date like 2025-01-31, got "soon"',
    );
  });

  it('is deterministic', () => {
    const inputs = [fixture('01-deferreds.ipynb'), fixture('02-charts.ipynb')];
    expect(files(inputs)).toEqual(files(inputs));
  });
});
