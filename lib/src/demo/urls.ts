import { checkObject, checkOptionalBoolean } from '../core/args.js';
import { PAGE_NAMES } from './content.js';

/** The environment variable that switches {@link exampleUrls} to the live web: set it to `1`. */
export const LIVE_ENV = 'ASYNC_BATCHING_LIVE';

/** True when the environment asks for live URLs (`ASYNC_BATCHING_LIVE=1` or `true`). */
export function isLive(): boolean {
  const value = process.env[LIVE_ENV];
  return value === '1' || value === 'true';
}

/** The URLs the notebooks fetch; see {@link exampleUrls}. */
export interface ExampleUrls {
  /** Whether these are live URLs on the internet. */
  live: boolean;
  /** Pages that answer 200 with HTML. */
  pages: string[];
  /** A URL that answers 404. */
  notFound: string;
  /** A URL whose host never resolves (under `.invalid`, RFC 6761), so it fails with a `DNSLookupError`. */
  unresolvable: string;
}

/** The live pages: stable, well-known sites that do not mind an occasional visitor. */
const LIVE_PAGES: readonly string[] = [
  'https://example.com/',
  'https://example.org/',
  'https://example.net/',
  'https://www.iana.org/help/example-domains',
  'https://www.rfc-editor.org/rfc/rfc2606.html',
  'https://www.rfc-editor.org/rfc/rfc6761.html',
  'https://twisted.org/',
  'https://docs.twisted.org/en/stable/core/howto/defer.html',
  'https://nodejs.org/en/about',
  'https://www.typescriptlang.org/',
];

/** The host used for the unresolvable example in both modes. */
export const UNRESOLVABLE_URL = 'http://nothing.invalid/';

/**
 * The URLs the notebooks use. Offline (the default) they point at the demo site `site`: ten `/page/<name>` pages,
 * and `/no/such/page` for the 404. With `live: true`, or when the environment variable
 * `ASYNC_BATCHING_LIVE=1` is set and `live` is not given, they are real sites on the internet and a real 404
 * (`https://httpbin.org/status/404`); `site` may then be omitted. The unresolvable URL is `http://nothing.invalid/`
 * in both modes: `.invalid` never resolves (RFC 6761), so offline and live runs fail the same way.
 *
 * @throws {TypeError} offline without a `site` that has a `url`.
 */
export function exampleUrls(site?: { url: string } | null, options: { live?: boolean } = {}): ExampleUrls {
  checkObject(options, 'options');
  const live = checkOptionalBoolean(options.live, 'live') ?? isLive();
  if (live) {
    return {
      live,
      pages: [...LIVE_PAGES],
      notFound: 'https://httpbin.org/status/404',
      unresolvable: UNRESOLVABLE_URL,
    };
  }
  if (typeof site?.url !== 'string' || !site.url.endsWith('/')) {
    throw new TypeError(
      'Expected `site` to be a running demo site (from startDemoSite()) when not in live mode',
    );
  }
  const base = site.url;
  return {
    live,
    pages: PAGE_NAMES.map((name) => `${base}page/${encodeURIComponent(name)}`),
    notFound: `${base}no/such/page`,
    unresolvable: UNRESOLVABLE_URL,
  };
}
