import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { load } from 'js-yaml';
import { Lexer, Marked } from 'marked';
import { describe, expect, it } from 'vitest';
import type { NotebookInput, Target } from '../../../tools/export/index.ts';
import { exportNotebooks, parseNotebook } from '../../../tools/export/index.ts';
import type { Dialect } from '../../../tools/export/portable.ts';
import { codeBlock, hugoCommentForm, PortableWriter } from '../../../tools/export/portable.ts';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/export');

function hostile(): NotebookInput {
  const file = 'notebooks/hostile.ipynb';
  const text = readFileSync(join(FIXTURES, 'hostile.ipynb'), 'utf8');
  return { file, notebook: parseNotebook(text, file), modified: new Date('2025-06-01T00:00:00Z') };
}

function write(markdown: string, dialect: Dialect = 'plain'): string {
  const tokens = new Lexer({ gfm: true }).lex(markdown);
  return new PortableWriter({
    dialect,
    trustHtml: false,
    headingShift: 0,
    renderHtml: () => '<p>sanitised</p>',
  }).write(tokens);
}

const render = (markdown: string) =>
  (new Marked({ gfm: true }).parse(markdown, { async: false }) as string).replace(/\s+/g, ' ').trim();

/**
 * Code blocks as a CommonMark parser reads them, without trailing blank lines: the exporter drops those (`fence()`),
 * and an unclosed fence at the end of a cell keeps them in the source's reading ("```\na\n\n" reads as "a\n\n").
 */
const codeOf = (markdown: string) =>
  new Lexer({ gfm: true })
    .lex(markdown)
    .flatMap((token) => (token.type === 'code' ? [token.text.replace(/\n+$/, '')] : []));

/** The source text of everything a CommonMark parser reads as prose or raw HTML (not code), backslash escapes removed. */
function proseOf(markdown: string): string {
  const tokens = new Lexer({ gfm: true }).lex(markdown);
  let prose = '';
  new Marked().walkTokens(tokens, (token) => {
    if (token.type === 'text' && !('tokens' in token && token.tokens)) prose += token.raw;
    if (token.type === 'escape') prose += token.raw;
    // Raw HTML (Hugo's code fallback) may hold pipes and dollars; braces only as entities.
    if (token.type === 'html') prose += token.raw.replace(/[|$]/g, '');
  });
  return prose.replace(/\\./g, '');
}

describe('portable Markdown', () => {
  it('closes a fence the cell never closed, so what follows stays code in every engine', () => {
    for (const open of ['~~~', '```js', '````']) {
      const cell = `${open}\nunclosed\n\n<img src=x onerror="x()">\n\n{::nomarkdown}<script>x()</script>{:/}`;
      const out = write(cell);
      expect(codeOf(out)).toEqual(codeOf(cell));
      // The fence is closed by its own last line: nothing after it is left for kramdown to read as Markdown.
      expect(out.trimEnd().split('\n').pop()).toMatch(/^`{3,}$/);
    }
  });

  it('means the same to a CommonMark parser as the source', () => {
    const cases = [
      'Hello *world*, **strong**, ~~gone~~, `code` and [a link](http://x.y/a_b?c=1&d=2).',
      '# Title\n\n> a quote\n> - with a list\n>   1. nested',
      '- a\n- b\n\n  more of b\n\n  ```ts\n  code\n\n  more\n  ```\n- [x] done\n- [ ] to do',
      '3. three\n4. four\n\n* star\n+ plus',
      '| a | b |\n|:--|--:|\n| `x|y` | *e* |\n| c \\| d | |',
      'Not a list: 1. here\n\n\\* nor \\# these\n\nfoo\n---',
      'a_b_c snake*case*x *a*_b_ __x__ _y_ ***z***',
      'entities &amp; &#123; &lt;b&gt; AT&T',
      '~~~~\n```\n~~~~',
    ];
    for (const source of cases) expect(render(write(source)), source).toBe(render(source));
  });

  it('leaves no Liquid tag, kramdown extension or Hugo shortcode outside code, whatever the text', () => {
    const pieces = [
      '{{',
      '}}',
      '{%',
      '%}',
      '{{<',
      '{{%',
      '>}}',
      '{:',
      '{::',
      '$$',
      '|',
      '\n',
      ' ',
      'a',
      '`',
      '```',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 30 }), (parts) => {
        const source = parts.join('');
        for (const dialect of ['plain', 'jekyll', 'hugo'] as const) {
          const out = write(source, dialect);
          expect(proseOf(out)).not.toMatch(/[{}$|]/);
          if (dialect !== 'hugo') expect(codeOf(out)).toEqual(codeOf(source));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes Hugo shortcodes in code in Hugo’s comment form, or as HTML when that form cannot hold them', () => {
    expect(hugoCommentForm('x {{< a >}} {{% b %}}')).toBe('x {{</* a */>}} {{%/* b */%}}');
    expect(hugoCommentForm('{{< a %}} and {{% b >}}')).toBe('{{</* a %}} and {{% b */>}}');
    expect(hugoCommentForm('const s = "{{< oops";')).toBeUndefined();
    expect(codeBlock('const s = "{{< oops";', 'ts', 'hugo')).toBe(
      '<pre><code class="language-ts">const s = &quot;&#123;&#123;&lt; oops&quot;;</code></pre>',
    );
    expect(codeBlock('{{< oops', 'ts', 'jekyll')).toBe('```ts\n{{< oops\n```');
  });
});

describe('the Hugo export', () => {
  const files = (perNotebook: boolean, target: Target = 'hugo') =>
    exportNotebooks([hostile()], { formats: ['md'], target, perNotebook });
  const text = (path: string, all: ReturnType<typeof files>) =>
    String(all.find((file) => file.path === path)?.content ?? `missing ${path}`);

  it('escapes the series index as it escapes posts: no shortcode can run from a description or title', () => {
    const index = text('content/async-batching-walkthrough/_index.md', files(true));
    expect(index.replace(/^---\n[\s\S]*?\n---\n/, '')).not.toMatch(/\{\{[<%]/);
    expect(index).toContain('\\{\\{% gist alice 0123 %\\}\\}');
  });

  it('keeps the title in front matter as the notebook wrote it (no /* */ written into it)', () => {
    const post = files(true).find((file) => file.path.endsWith('/hostile/index.md'));
    const meta = load(String(post?.content).split('\n---\n')[0].slice(4)) as Record<string, string>;
    expect(meta.title).toBe(hostile().notebook.metadata.title);
  });
});
