// Real Jekyll and Hugo sites built from the exporter's output, for the site tests: the exporter run as `npm run export`
// runs it, a Jekyll blog made by `jekyll new` as it comes (the minima theme), a Hugo site configured as the README says.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { promisify } from 'node:util';
import { getElementsByTagName, textContent } from 'domutils';
import { parseDocument } from 'htmlparser2';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURES = join(ROOT, 'test/fixtures/export');
const run = promisify(execFile);

/** Fails the test (never skips it) when Debian's jekyll, hugo or chromium is missing. */
export function requireTools(tools: readonly string[]): void {
  for (const tool of tools) {
    if (!existsSync(tool)) {
      throw new Error(
        `${tool} not found. The site tests need Debian's jekyll, jekyll-theme-minima, hugo and chromium packages ` +
          '(node tools/launch.mjs --needs sites,chromium installs them). They are not skipped, so a missing tool ' +
          'cannot pass as green.',
      );
    }
  }
}

/** Runs `npm run export` (tools/export.ts) with `args`, writing to `out`. */
export async function exportTo(out: string, args: readonly string[]): Promise<void> {
  await run(process.execPath, [join(ROOT, 'tools/export.ts'), ...args, '--out', out], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  });
}

async function build(command: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(command, args, { cwd, maxBuffer: 1 << 26 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stderr ?? ''}${stdout ?? ''}`);
  }
}

/**
 * A blog as `jekyll new` makes it (minima theme, jekyll-feed, its welcome post), with the export copied in and built
 * as it comes: no layout, default or style written here. Returns the built site's folder.
 */
export async function jekyllBlog(site: string, exportDir: string): Promise<string> {
  await build('jekyll', ['new', '--skip-bundle', site], ROOT);
  await cp(exportDir, site, {
    recursive: true,
    filter: (path) => !path.endsWith('.async-batching-export'),
  });
  await build('jekyll', ['build', '--quiet', '--source', site, '--destination', join(site, '_site')], site);
  return join(site, '_site');
}

/** The smallest Hugo layouts that show a page as themes do: title, description, author, content. */
const HUGO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }}</title><meta name="description" content="{{ .Description }}"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/site.css"></head>
<body><header><p>Test blog</p></header><main><article>
<h1>{{ .Title }}</h1>
{{ with .Params.author }}<p class="author">{{ . }}</p>{{ end }}
{{ with .Description }}<p class="description">{{ . }}</p>{{ end }}
{{ .Content }}
</article></main></body></html>
`;

/**
 * A Hugo site configured as the README says (goldmark's `unsafe = true`, for sanitised HTML outputs) with `css` as its
 * style sheet and the export copied in. Returns the built site's folder.
 */
export async function hugoSite(site: string, exportDir: string, css = ''): Promise<string> {
  await mkdir(join(site, 'layouts/_default'), { recursive: true });
  await mkdir(join(site, 'static'), { recursive: true });
  await writeFile(
    join(site, 'config.toml'),
    'baseURL = "http://127.0.0.1/"\ntitle = "Test blog"\ndisableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT"]\n' +
      '[markup.goldmark.renderer]\nunsafe = true\n',
  );
  for (const name of ['_default/single.html', '_default/list.html', 'index.html']) {
    await writeFile(join(site, 'layouts', name), HUGO_PAGE);
  }
  await writeFile(join(site, 'static/site.css'), css);
  await cp(exportDir, site, {
    recursive: true,
    filter: (path) => !path.endsWith('.async-batching-export'),
  });
  await build('hugo', ['--quiet', '--source', site, '--destination', join(site, 'public')], site);
  return join(site, 'public');
}

/** Every `.html` file under `dir`, as paths relative to it. */
export async function htmlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.html'))
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

const ACTIVE_ELEMENTS = new Set([
  'script',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'base',
  'portal',
]);
const URL_ATTRIBUTES = new Set([
  'href',
  'src',
  'xlink:href',
  'action',
  'formaction',
  'data',
  'poster',
  'background',
]);

/**
 * Everything in an HTML document that could run script or load a frame: script elements (other than JSON-LD that
 * parses as JSON), frames, plugins, event-handler attributes, script and data URLs, meta refreshes. Empty when the
 * page is inert.
 */
export function activeParts(html: string): string[] {
  const found: string[] = [];
  const document = parseDocument(html);
  for (const element of getElementsByTagName(() => true, document, true)) {
    const name = element.name.toLowerCase();
    if (name === 'script' && element.attribs.type === 'application/ld+json') {
      try {
        JSON.parse(textContent(element));
      } catch {
        found.push(`script ld+json that is not JSON: ${textContent(element).slice(0, 80)}`);
      }
    } else if (ACTIVE_ELEMENTS.has(name)) {
      found.push(`<${name}> ${textContent(element).slice(0, 60)}${element.attribs.src ?? ''}`);
    }
    if (name === 'meta' && /refresh/i.test(element.attribs['http-equiv'] ?? '')) found.push('meta refresh');
    for (const [attribute, value] of Object.entries(element.attribs)) {
      const lower = attribute.toLowerCase();
      if (lower.startsWith('on')) found.push(`<${name} ${attribute}="${value}">`);
      if (lower === 'srcdoc') found.push(`<${name} srcdoc>`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: browsers skip these inside a URL's scheme
      const squeezed = value.replace(/[\s\u0000-\u001f]+/g, '').toLowerCase();
      if (URL_ATTRIBUTES.has(lower) && /^(?:javascript|vbscript|data:text|data:application)/.test(squeezed)) {
        found.push(`<${name} ${attribute}="${value}">`);
      }
    }
  }
  return found;
}

/** The text a reader sees in `html`'s body: whitespace collapsed, typographic quotes made straight. */
export function visibleText(html: string): string {
  const document = parseDocument(html);
  const body = getElementsByTagName('body', document, true)[0] ?? document;
  return normalise(textContent(body));
}

/** Whitespace collapsed and curly quotes made straight (kramdown and goldmark set quotes typographically). */
export function normalise(text: string): string {
  return text
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

/** The text of every `<pre>` in `html`, trailing newlines trimmed: code as a reader would copy it. */
export function preTexts(html: string): string[] {
  return getElementsByTagName('pre', parseDocument(html), true).map((pre) =>
    textContent(pre).replace(/\n+$/, ''),
  );
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.xml': 'application/xml',
};

/**
 * Serves a built site from 127.0.0.1 as a static host does (folder URLs give their index.html). With `charset: false`
 * HTML goes out with no charset in its content type, so a page that does not name its own encoding shows mojibake.
 */
export async function serveStatic(
  dir: string,
  { charset }: { charset: boolean },
): Promise<{ url: string; server: Server }> {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    const file = join(dir, path.endsWith('/') ? `${path}index.html` : path);
    try {
      const body = await readFile(file);
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      response.writeHead(200, {
        'content-type': charset && type === 'text/html' ? `${type}; charset=utf-8` : type,
      });
      response.end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}`, server };
}
