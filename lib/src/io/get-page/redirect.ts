/** Redirect policy: which responses are followed, and what the next request keeps of the last one. */
import { SAFE_CROSS_ORIGIN_HEADERS, type Settings } from './options.js';

/** The headers a cross-origin redirect keeps by default (the ones getPage adds, User-Agent and Accept-Encoding, among them). */
const SAFE: ReadonlySet<string> = new Set(SAFE_CROSS_ORIGIN_HEADERS);

/** The statuses followed when `followRedirect` is on and a `Location` is given. */
export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers that describe a body: dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language'];

/** One request of an exchange: what the next redirect hop is built from. */
export interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string | string[]>;
  body: string | Uint8Array | undefined;
}

/**
 * Makes `hop` the request for `next`, after a response of `status`: 301, 302 and 303 turn into a GET without a body
 * (HEAD stays HEAD), as browsers do; 307 and 308 keep method and body. Leaving the origin drops the headers of
 * `s.stripAcrossOrigins` (credentials always; by default every header but the safe ones), so what was meant for one
 * site does not travel to the next.
 */
export function redirectHop(hop: Hop, status: number, next: URL, s: Settings): void {
  if (status === 301 || status === 302 || status === 303) {
    if (hop.method !== 'HEAD') hop.method = 'GET';
    hop.body = undefined;
    hop.headers = { ...hop.headers };
    for (const name of BODY_HEADERS) delete hop.headers[name];
  }
  if (next.origin !== hop.url.origin) {
    const strip = s.stripAcrossOrigins;
    const kept: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(hop.headers)) {
      if (strip === null ? SAFE.has(name) : !strip.has(name)) kept[name] = value;
    }
    hop.headers = kept;
  }
  hop.url = next;
}
