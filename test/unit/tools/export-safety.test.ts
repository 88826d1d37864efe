import { readFileSync } from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getElementsByTagName } from 'domutils';
import { parseDocument } from 'htmlparser2';
import { Marked } from 'marked';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanDeclarations, cleanStyleSheet } from '../../../tools/export/css.ts';
import type { NotebookInput, OutputFile, Target } from '../../../tools/export/index.ts';
import { exportNotebooks, parseNotebook } from '../../../tools/export/index.ts';
import { sanitizeFragment, sanitizeSvgImage } from '../../../tools/export/sanitize.ts';
import { fence } from '../../../tools/export/text.ts';
import type { FolderFs } from '../../../tools/export/write.ts';
import { EXPORT_MARKER, replaceFolder } from '../../../tools/export/write.ts';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/export');
const MODIFIED = new Date('2025-06-01T12:00:00Z');
const MB = 1024 * 1024;

function fixture(name: string): NotebookInput {
  const file = `notebooks/${name}`;
  return {
    file,
    notebook: parseNotebook(readFileSync(join(FIXTURES, name), 'utf8'), file),
    modified: MODIFIED,
  };
}

function markdownFiles(target: Target, trustMarkdown = false): OutputFile[] {
  return exportNotebooks([fixture('hostile.ipynb')], { formats: ['md'], target, trustMarkdown });
}

function postText(files: OutputFile[]): string {
  const post = files.find((file) => file.path.endsWith('.md'));
  if (!post || typeof post.content !== 'string') throw new Error('no post');
  return post.content;
}

/** What a Markdown engine that allows raw HTML (kramdown, goldmark with unsafe) would put in the page. */
function activeParts(markdown: string): string[] {
  const html = new Marked({ gfm: true }).parse(markdown.replace(/^---\n[\s\S]*?\n---\n/, ''), {
    async: false,
  });
  const found: string[] = [];
  const document = parseDocument(html);
  for (const element of getElementsByTagName(() => true, document, true)) {
    if (['script', 'iframe', 'object', 'embed', 'foreignobject', 'style'].includes(element.name))
      found.push(element.name);
    for (const [name, value] of Object.entries(element.attribs)) {
      if (name.startsWith('on')) found.push(`${element.name} ${name}`);
      if (/^\s*(javascript|vbscript|data:text)/i.test(value)) found.push(`${element.name} ${name}=${value}`);
      if (['src', 'href', 'xlink:href'].includes(name) && /127\.0\.0\.1:9/.test(value) && name === 'src') {
        found.push(`${element.name} fetches ${value}`);
      }
    }
  }
  return found;
}

describe('Markdown as safe as the HTML page', () => {
  it.each(['plain', 'jekyll', 'hugo'] as const)(
    'leaves nothing that runs or fetches in the %s Markdown of the hostile notebook',
    (target) => {
      const md = postText(markdownFiles(target));
      expect(activeParts(md)).toEqual([]);
      // Payloads survive as harmless text or links, so a reader sees what was there.
      expect(md).toContain('<h4>Markdown output</h4>');
      expect(md).toContain('<a href="http://127.0.0.1:9/markdown-output.png">remote</a>');
    },
  );

  it('sanitises raw HTML in the author’s Markdown cells unless --trust-markdown', () => {
    const md = postText(markdownFiles('plain'));
    expect(md).not.toContain("<script>window.__pwned = 'markdown script'");
    const trusted = postText(markdownFiles('plain', true));
    expect(trusted).toContain("<script>window.__pwned = 'markdown script'");
    // Trust covers the author's cells only: outputs and raw Markdown cells are sanitised all the same.
    expect(trusted).not.toContain('markdown output img');
    expect(trusted).not.toContain('raw markdown img');
  });

  it('fences code so nothing inside can close the fence, and drops a language name that could', () => {
    const md = postText(markdownFiles('plain'));
    expect(md).toContain("```text\n// </script><script>window.__pwned = 'code source'</script>");
    expect(md).not.toContain('```typescript`');
    expect(fence('a ```` b', 'ts`x')).toBe('`````\na ```` b\n`````');
    expect(fence('x', 'c++')).toBe('```c++\nx\n```');
  });

  it('keeps Liquid and shortcode text as text: Liquid off for Jekyll, shortcodes escaped for Hugo', () => {
    const jekyll = postText(markdownFiles('jekyll'));
    expect(jekyll).toContain('render_with_liquid: false');
    const hugo = postText(markdownFiles('hugo'));
    expect(hugo).toContain('{{</* figure src="x" */>}}');
    expect(hugo).not.toMatch(/\{\{<(?!\/\*)/);
  });
});

describe('a sanitiser that parses', () => {
  it('drops CSS written with escapes, remote url() and @import, and keeps custom properties and var()', () => {
    const sheet = cleanStyleSheet(
      String.raw`@im\port 'http://x/a.css'; @import url(http://x/b.css); .a { fill: u\72l(http://x/p); stroke: var(--line, currentColor); --bar: #0b63c7 }` +
        String.raw` @media (prefers-color-scheme: dark) { .a { --bar: #6cb6ff } } .b { fill: url(#grad); color: r\65 d } @font-face { src: url(http://x/f) }`,
    );
    expect(sheet).toBe(
      '.a{stroke:var(--line,currentColor);--bar:#0b63c7}@media (prefers-color-scheme:dark){.a{--bar:#6cb6ff}}.b{fill:url(#grad)}',
    );
    expect(
      cleanDeclarations(String.raw`fill: u\72l(http://x); color: var(--fg); background-image: url(http://x)`),
    ).toBe('color:var(--fg)');
  });

  it('gives standalone SVG assets the guarantees of inline ones', () => {
    const files = exportNotebooks([fixture('hostile.ipynb')], { formats: ['md'], perNotebook: true });
    for (const file of files.filter((f) => f.path.endsWith('.svg'))) {
      const svg = String(file.content);
      expect(svg).not.toMatch(/127\.0\.0\.1|script|onload|onclick|javascript|\\|@import|foreignObject/i);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    }
  });

  it('takes a chart’s alt text from its own title and description, not from a bar’s tooltip', () => {
    const { label, svg } = sanitizeSvgImage(
      '<svg role="img"><title>Three strategies</title><desc>Serial takes longest.</desc><g><title>/page/item-0: 0 ms</title><rect width="1" height="1"/></g></svg>',
    );
    expect(label).toBe('Three strategies. Serial takes longest.');
    expect(svg).toContain('<desc>Serial takes longest.</desc>');
    expect(sanitizeSvgImage('<svg aria-label="Named"><title>t</title></svg>').label).toBe('Named');
  });

  it('keeps what a dark-mode chart needs: role, aria-label, title, desc and CSS custom properties', () => {
    const { svg } = sanitizeSvgImage(
      '<svg role="img" aria-label="Timeline"><title>Timeline</title><desc>d</desc>' +
        '<style>svg{--ab-bar:#4e79a7;color:#1f2328}@media (prefers-color-scheme: dark){svg{--ab-bar:#76b7f2;color:#e6edf3}}</style>' +
        '<rect style="fill: var(--ab-bar)" width="1" height="1"/><text fill="currentColor">x</text></svg>',
    );
    expect(svg).toContain('role="img" aria-label="Timeline"');
    expect(svg).toContain('@media (prefers-color-scheme:dark){svg{--ab-bar:#76b7f2;color:#e6edf3}}');
    expect(svg).toContain('style="fill:var(--ab-bar)"');
    expect(svg).toContain('fill="currentColor"');
  });

  it('completes on 1 MB hostile inputs (regular expressions that remain are linear)', () => {
    const inputs = [
      `<svg>${'<title'.repeat(MB / 6)}`,
      `<svg>${'<style>'.repeat(MB / 7)}`,
      `<svg><style>${'.a{fill:u\\72l('.repeat(MB / 14)}</style></svg>`,
      `<svg>${'<g>'.repeat(MB / 3)}`,
      `<svg ${'a'.repeat(MB)}`,
      `<svg><rect style="${'url( '.repeat(MB / 5)}"/></svg>`,
    ];
    for (const input of inputs) expect(typeof sanitizeSvgImage(input).svg).toBe('string');
    expect(typeof sanitizeFragment(`<a ${'<a '.repeat(MB / 3)}`)).toBe('string');
    expect(typeof sanitizeFragment(`<img src="${'url('.repeat(MB / 4)}">`)).toBe('string');
    const cell = {
      cell_type: 'markdown' as const,
      metadata: {},
      source: `${'<b>'.repeat(MB / 6)}${'[x]('.repeat(MB / 8)}`,
    };
    const notebook = parseNotebook(
      JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [cell] }),
      'big',
    );
    const files = exportNotebooks([{ file: 'big.ipynb', notebook, modified: MODIFIED }], { formats: ['md'] });
    expect(files.length).toBe(1);
  }, 300_000);
});

describe('all or nothing', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'export-write-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function previousExport(name: string): Promise<string> {
    const out = join(work, name);
    await mkdir(join(out, 'assets'), { recursive: true });
    await writeFile(join(out, 'post.md'), 'previous');
    await writeFile(join(out, 'assets', 'post-1.svg'), '<svg/>');
    return out;
  }

  function failing(step: 'writeFile' | 'rename', after: number): FolderFs {
    let calls = 0;
    const fail = () => {
      calls += 1;
      if (calls === after + 1) throw Object.assign(new Error(`${step} failed on purpose`), { code: 'EIO' });
    };
    return {
      ...fsPromises,
      writeFile: (async (...args: Parameters<typeof fsPromises.writeFile>) => {
        if (step === 'writeFile') fail();
        return fsPromises.writeFile(...args);
      }) as typeof fsPromises.writeFile,
      rename: (async (from: string, to: string) => {
        if (step === 'rename') fail();
        return fsPromises.rename(from, to);
      }) as typeof fsPromises.rename,
    };
  }

  const files: OutputFile[] = [
    { path: 'post.md', content: 'new' },
    { path: 'assets/post-1.svg', content: '<svg/>' },
    { path: 'assets/post-2.png', content: new Uint8Array([1, 2]) },
  ];

  it.each([
    ['a write fails half way', 'writeFile', 1],
    ['the new folder cannot be moved in', 'rename', 1],
    ['the old folder cannot be moved aside', 'rename', 0],
  ] as const)(
    'leaves the previous output untouched when %s, and no staging folder behind',
    async (_what, step, after) => {
      const out = await previousExport(`${step}-${after}`);
      await expect(replaceFolder(out, files, failing(step, after))).rejects.toThrow('failed on purpose');
      expect(await readFile(join(out, 'post.md'), 'utf8')).toBe('previous');
      expect((await readdir(out)).sort()).toEqual(['assets', 'post.md']);
      expect((await readdir(work)).filter((name) => name.includes('staging'))).toEqual([]);
    },
  );

  it('replaces the folder whole when every step succeeds', async () => {
    const out = await previousExport('ok');
    await replaceFolder(out, files);
    expect((await readdir(out)).sort()).toEqual([EXPORT_MARKER, 'assets', 'post.md']);
    expect((await readdir(join(out, 'assets'))).sort()).toEqual(['post-1.svg', 'post-2.png']);
    expect(await readFile(join(out, 'post.md'), 'utf8')).toBe('new');
  });
});
