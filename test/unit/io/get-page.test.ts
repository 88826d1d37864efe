// HTTP semantics of getPage, without sockets. nock 15 intercepts at the `net` level (@mswjs/interceptors' http
// interceptor), below undici, so it sees the requests of getPage's own shared Agent: no need to swap in the global
// dispatcher. What nock cannot fake well (resets, refused ports, DNS, hanging sockets) is tested against the demo site
// in get-page-demo.test.ts.
import { Readable } from 'node:stream';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import {
  BadResponseError,
  CancelledError,
  DEFAULT_MAX_BYTES,
  Deferred,
  GetPageError,
  getPage,
  getPageBytes,
  getResponse,
  HttpError,
  InvalidURLError,
  ResponseTooLargeError,
  SAFE_CROSS_ORIGIN_HEADERS,
  TimeoutError,
  TooManyRedirectsError,
  VERSION,
} from 'async-batching';
import nock from 'nock';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { interceptWithNock } from '../../helpers/nock.ts';
import { failureOf } from '../../helpers/outcomes.ts';

const ORIGIN = 'http://pages.test';

interceptWithNock();

describe('getPage', () => {
  it('returns a Deferred that delivers the body as text to addCallback, with extra arguments', async () => {
    nock(ORIGIN).get('/hello').reply(200, 'Hello, world', { 'content-type': 'text/plain' });
    const d = getPage(`${ORIGIN}/hello`);
    expect(d).toBeInstanceOf(Deferred);
    const seen = await d.addCallback((page, url: string) => `${url}: ${page}`, 'the url');
    expect(seen).toBe('the url: Hello, world');
  });

  it('accepts a URL object', async () => {
    nock(ORIGIN).get('/u').reply(200, 'from a URL');
    expect(await getPage(new URL('/u', ORIGIN))).toBe('from a URL');
  });

  it('sends User-Agent async-batching/<version> by default', async () => {
    nock(ORIGIN)
      .get('/ua')
      .reply(200, (req: Request) => String(req.headers.get('user-agent')));
    expect(await getPage(`${ORIGIN}/ua`)).toBe(`async-batching/${VERSION}`);
  });

  it('uses the userAgent option, and a User-Agent header wins over it', async () => {
    // nock 15 hands a reply function the request as a Fetch API Request.
    const echo = (req: Request) => String(req.headers.get('user-agent'));
    nock(ORIGIN).get('/ua').times(2).reply(200, echo);
    expect(await getPage(`${ORIGIN}/ua`, { userAgent: 'twisted-fan/1.0' })).toBe('twisted-fan/1.0');
    expect(await getPage(`${ORIGIN}/ua`, { userAgent: 'no', headers: { 'User-Agent': 'header/2' } })).toBe(
      'header/2',
    );
  });

  it('sends the method, headers and body it is given', async () => {
    nock(ORIGIN, { reqheaders: { 'x-token': 'abc' } })
      .post('/submit', 'name=value')
      .reply(201, 'created');
    expect(
      await getPage(`${ORIGIN}/submit`, {
        method: 'post',
        headers: { 'X-Token': 'abc' },
        body: 'name=value',
      }),
    ).toBe('created');
  });

  it('delivers bytes undecoded with getPageBytes', async () => {
    nock(ORIGIN)
      .get('/bin')
      .reply(200, Buffer.from([0, 255, 1, 254]), { 'content-type': 'application/octet-stream' });
    const bytes = await getPageBytes(`${ORIGIN}/bin`);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([0, 255, 1, 254]);
  });

  it('delivers status, headers, final URL and redirect count with getResponse', async () => {
    nock(ORIGIN)
      .get('/from')
      .reply(302, '', { location: '/to' })
      .get('/to')
      .reply(200, 'arrived', { 'x-kind': 'end' });
    const response = await getResponse(`${ORIGIN}/from`);
    expect(response).toMatchObject({
      url: `${ORIGIN}/to`,
      status: 200,
      statusText: 'OK',
      body: 'arrived',
      redirects: 1,
    });
    expect(response.headers['x-kind']).toBe('end');
  });
});

describe('getPage decoding', () => {
  it('decodes with the charset of content-type', async () => {
    nock(ORIGIN)
      .get('/latin1')
      .reply(200, Buffer.from('café crème', 'latin1'), { 'content-type': 'text/plain; charset=ISO-8859-1' });
    expect(await getPage(`${ORIGIN}/latin1`)).toBe('café crème');
  });

  it('decodes as UTF-8 without a charset or with one it does not know', async () => {
    const utf8 = Buffer.from('naïve → ok', 'utf8');
    nock(ORIGIN)
      .get('/plain')
      .reply(200, utf8, { 'content-type': 'text/html' })
      .get('/odd')
      .reply(200, utf8, { 'content-type': 'text/html; charset="x-no-such-charset"' });
    expect(await getPage(`${ORIGIN}/plain`)).toBe('naïve → ok');
    expect(await getPage(`${ORIGIN}/odd`)).toBe('naïve → ok');
  });
});

describe('getPage HTTP errors', () => {
  it('fails with HttpError "404 Not Found" carrying status, headers and the first KiB of the body', async () => {
    nock(ORIGIN)
      .get('/missing')
      .reply(404, 'x'.repeat(5000), { 'content-type': 'text/plain', 'x-why': 'gone' });
    const error = await failureOf(getPage(`${ORIGIN}/missing`));
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toBeInstanceOf(GetPageError);
    const http = error as HttpError;
    expect(http.message).toBe('404 Not Found');
    expect(http.name).toBe('HttpError');
    expect(http.code).toBe('AB_ERR_HTTP');
    expect(http.status).toBe(404);
    expect(http.statusText).toBe('Not Found');
    expect(http.url).toBe(`${ORIGIN}/missing`);
    expect(http.headers['x-why']).toBe('gone');
    expect(http.body).toBe('x'.repeat(1024));
  });

  it('keeps the first KiB of a large error body and stops reading the rest', async () => {
    nock(ORIGIN)
      .get('/huge-error')
      .reply(500, () => Readable.from(Array.from({ length: 40 }, () => 'e'.repeat(8192))));
    const error = (await failureOf(getPage(`${ORIGIN}/huge-error`))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.body).toBe('e'.repeat(1024));
  });

  it('fails with HttpError for a 500, reaching the errback as a Failure', async () => {
    nock(ORIGIN).get('/boom').reply(500, 'Internal trouble');
    const message = await getPage(`${ORIGIN}/boom`).addErrback((failure) => {
      expect(failure.check(HttpError)).toBe(HttpError);
      return failure.getErrorMessage();
    });
    expect(message).toBe('500 Internal Server Error');
  });

  it('fails with HttpError for a 3xx when followRedirect is false', async () => {
    nock(ORIGIN).get('/moved').reply(301, 'see elsewhere', { location: '/elsewhere' });
    const error = (await failureOf(getPage(`${ORIGIN}/moved`, { followRedirect: false }))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.message).toBe('301 Moved Permanently');
    expect(error.headers.location).toBe('/elsewhere');
  });

  it('fails with HttpError for a redirect status without a Location', async () => {
    nock(ORIGIN).get('/nowhere').reply(302, 'no location');
    const error = (await failureOf(getPage(`${ORIGIN}/nowhere`))) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(302);
  });
});

describe('getPage redirects', () => {
  it('resolves a relative Location against the current URL', async () => {
    nock(ORIGIN)
      .get('/a/b/start')
      .reply(302, '', { location: '../c/next' })
      .get('/a/c/next')
      .reply(200, 'relative ok');
    expect(await getPage(`${ORIGIN}/a/b/start`)).toBe('relative ok');
  });

  it.each([301, 302, 303])('turns a POST into a GET without a body on %i', async (status) => {
    nock(ORIGIN)
      .post('/form', 'data')
      .reply(status, '', { location: '/result' })
      .get('/result')
      .reply(200, (req: Request) => `${req.method} ${req.headers.get('content-length') ?? 'no length'}`);
    expect(await getPage(`${ORIGIN}/form`, { method: 'POST', body: 'data' })).toBe('GET no length');
  });

  it.each([307, 308])('keeps the method and body on %i', async (status) => {
    nock(ORIGIN)
      .put('/doc', 'v1')
      .reply(status, '', { location: '/doc2' })
      .put('/doc2', 'v1')
      .reply(200, 'kept');
    expect(await getPage(`${ORIGIN}/doc`, { method: 'PUT', body: 'v1' })).toBe('kept');
  });

  it('drops credentials when a redirect leaves the origin', async () => {
    nock(ORIGIN).get('/login').reply(302, '', { location: 'http://other.test/landing' });
    nock('http://other.test')
      .get('/landing')
      .reply(200, (req: Request) => req.headers.get('authorization') ?? 'no credentials');
    expect(await getPage(`${ORIGIN}/login`, { headers: { authorization: 'Bearer secret' } })).toBe(
      'no credentials',
    );
  });

  it('a redirect to another origin drops every header the caller set but the safe ones (x-api-key too)', async () => {
    nock(ORIGIN).get('/login').reply(302, '', { location: 'http://other.test/landing' });
    nock('http://other.test')
      .get('/landing')
      .reply(200, (req: Request) =>
        ['x-api-key', 'x-custom', 'accept', 'accept-language']
          .map((n) => req.headers.get(n) ?? '-')
          .join(' '),
      );
    const headers = { 'X-Api-Key': 'k', 'x-custom': 'c', accept: 'text/html', 'accept-language': 'fr' };
    expect(await getPage(`${ORIGIN}/login`, { headers })).toBe('- - text/html fr');
    expect(SAFE_CROSS_ORIGIN_HEADERS).toContain('accept');
  });

  it('a redirect within the origin keeps every header', async () => {
    nock(ORIGIN)
      .get('/a')
      .reply(302, '', { location: '/b' })
      .get('/b')
      .reply(200, (req: Request) => `${req.headers.get('x-api-key')} ${req.headers.get('authorization')}`);
    expect(await getPage(`${ORIGIN}/a`, { headers: { 'x-api-key': 'k', authorization: 'Bearer t' } })).toBe(
      'k Bearer t',
    );
  });

  it('stripHeadersAcrossOrigins lists the headers dropped across origins, credentials always among them', async () => {
    nock(ORIGIN).get('/go').reply(302, '', { location: 'http://other.test/there' });
    nock('http://other.test')
      .get('/there')
      .reply(200, (req: Request) =>
        ['x-api-key', 'x-trace', 'cookie'].map((n) => req.headers.get(n) ?? '-').join(' '),
      );
    const headers = { 'x-api-key': 'k', 'x-trace': 't', cookie: 'c=1' };
    expect(await getPage(`${ORIGIN}/go`, { headers, stripHeadersAcrossOrigins: ['X-Api-Key'] })).toBe(
      '- t -',
    );
  });

  it('fails with TooManyRedirectsError past maxRedirects', async () => {
    nock(ORIGIN).get('/loop').times(4).reply(302, '', { location: '/loop' });
    const error = (await failureOf(getPage(`${ORIGIN}/loop`, { maxRedirects: 3 }))) as TooManyRedirectsError;
    expect(error).toBeInstanceOf(TooManyRedirectsError);
    expect(error.code).toBe('AB_ERR_TOO_MANY_REDIRECTS');
    expect(error.maxRedirects).toBe(3);
  });

  it.each(['file:///etc/passwd', 'data:text/plain,hello', 'javascript:alert(1)', 'ftp://files.test/x'])(
    'fails with InvalidURLError on a redirect to %s',
    async (location) => {
      nock(ORIGIN).get('/go').reply(302, '', { location });
      const error = (await failureOf(getPage(`${ORIGIN}/go`))) as InvalidURLError;
      expect(error).toBeInstanceOf(InvalidURLError);
      expect(error.code).toBe('AB_ERR_INVALID_URL');
      expect(error.url).toBe(new URL(location).href);
    },
  );
});

describe('getPage compressed bodies', () => {
  const text = 'compressed café '.repeat(200);

  it('sends Accept-Encoding, and decodes a gzip body', async () => {
    nock(ORIGIN, { reqheaders: { 'accept-encoding': /gzip/ } })
      .get('/gz')
      .reply(200, gzipSync(text), {
        'content-encoding': 'gzip',
        'content-type': 'text/plain; charset=utf-8',
      });
    expect(await getPage(`${ORIGIN}/gz`)).toBe(text);
  });

  it('decodes a br body, and getResponse says no content-encoding any more', async () => {
    nock(ORIGIN).get('/br').reply(200, brotliCompressSync(text), { 'content-encoding': 'br' });
    const response = await getResponse(`${ORIGIN}/br`);
    expect(response.body).toBe(text);
    expect(response.headers['content-encoding']).toBeUndefined();
  });

  it('keeps an Accept-Encoding the caller sets', async () => {
    nock(ORIGIN)
      .get('/ae')
      .reply(200, (req: Request) => String(req.headers.get('accept-encoding')));
    expect(await getPage(`${ORIGIN}/ae`, { headers: { 'accept-encoding': 'identity' } })).toBe('identity');
  });

  it('applies maxBytes to the decoded size: a compression bomb fails with ResponseTooLargeError', async () => {
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    nock(ORIGIN).get('/bomb').reply(200, bomb, { 'content-encoding': 'gzip' });
    const error = await failureOf(getPageBytes(`${ORIGIN}/bomb`, { maxBytes: 1024 * 1024 }));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
  });

  it('fails with BadResponseError when a gzip body does not decompress', async () => {
    nock(ORIGIN).get('/broken').reply(200, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    const error = (await failureOf(getPage(`${ORIGIN}/broken`))) as GetPageError;
    expect(error).toBeInstanceOf(BadResponseError);
    expect(error.code).toBe('AB_ERR_BAD_RESPONSE');
  });
});

describe('getPage size limit', () => {
  it('fails early when content-length is above maxBytes', async () => {
    nock(ORIGIN).get('/big').reply(200, 'y'.repeat(2000), { 'content-length': '2000' });
    const error = (await failureOf(getPage(`${ORIGIN}/big`, { maxBytes: 1000 }))) as ResponseTooLargeError;
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(error.code).toBe('AB_ERR_RESPONSE_TOO_LARGE');
    expect(error.maxBytes).toBe(1000);
  });

  it('cuts off a streamed body without content-length once it passes maxBytes', async () => {
    const chunks = Array.from({ length: 50 }, () => 'z'.repeat(100));
    nock(ORIGIN)
      .get('/stream')
      .reply(200, () => Readable.from(chunks));
    const error = await failureOf(getPage(`${ORIGIN}/stream`, { maxBytes: 1000 }));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
  });

  it('accepts a body exactly maxBytes long', async () => {
    nock(ORIGIN).get('/exact').reply(200, 'e'.repeat(1000));
    expect(await getPage(`${ORIGIN}/exact`, { maxBytes: 1000 })).toHaveLength(1000);
  });
});

// Aborting a request that nock is holding back trips an internal assertion in undici (nock's fake socket reports a
// message end for a request undici has already aborted), so delayed replies come from undici's own MockAgent here.
// The same failures over real sockets are tested against the demo site.
describe('getPage timeouts and cancellation', () => {
  let agent: MockAgent;

  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    agent.get(ORIGIN).intercept({ path: '/late', method: 'GET' }).reply(200, 'too late').delay(10_000);
  });

  afterEach(async () => {
    await agent.close();
  });

  it('fails with TimeoutError when the reply does not come within timeout', async () => {
    const error = (await failureOf(
      getPage(`${ORIGIN}/late`, { timeout: 20, dispatcher: agent }),
    )) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('AB_ERR_TIMEOUT');
    expect(error.timeout).toBe(20);
    expect(error.url).toBe(`${ORIGIN}/late`);
  });

  it('fails with CancelledError, cause = the reason, when the signal aborts', async () => {
    const controller = new AbortController();
    const d = getPage(`${ORIGIN}/late`, { signal: controller.signal, dispatcher: agent });
    const reason = new Error('user pressed stop');
    setImmediate(() => controller.abort(reason));
    const error = await failureOf(d);
    expect(error).toBeInstanceOf(CancelledError);
    expect(error.cause).toBe(reason);
  });

  it('fails at once with CancelledError when the signal is already aborted', async () => {
    const reason = new Error('already');
    const d = getPage(`${ORIGIN}/late`, { signal: AbortSignal.abort(reason), dispatcher: agent });
    expect(d.called).toBe(true);
    const error = await failureOf(d);
    expect(error).toBeInstanceOf(CancelledError);
    expect(error.cause).toBe(reason);
  });

  it('fails with CancelledError on cancel(), at once', async () => {
    const d = getPage(`${ORIGIN}/late`, { dispatcher: agent });
    d.cancel();
    expect(d.called).toBe(true);
    expect(await failureOf(d)).toBeInstanceOf(CancelledError);
  });

  it('ignores the signal once the page has arrived', async () => {
    const controller = new AbortController();
    nock(ORIGIN).get('/quick').reply(200, 'quick');
    expect(await getPage(`${ORIGIN}/quick`, { signal: controller.signal })).toBe('quick');
    controller.abort();
  });
});

describe('getPage with a dispatcher', () => {
  it('sends the request through the given undici dispatcher', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    agent.get(ORIGIN).intercept({ path: '/mocked', method: 'GET' }).reply(200, 'from MockAgent');
    try {
      expect(await getPage(`${ORIGIN}/mocked`, { dispatcher: agent })).toBe('from MockAgent');
    } finally {
      await agent.close();
    }
  });
});

describe('getPage input checks', () => {
  it.each([
    ['', 'does not parse'],
    ['not a url', 'does not parse'],
    ['http://', 'does not parse'],
    ['file:///etc/passwd', 'file:'],
    ['data:text/plain,hi', 'data:'],
    ['javascript:void(0)', 'javascript:'],
  ])('delivers InvalidURLError for %j as a failed Deferred, not a throw', async (url, words) => {
    const d = getPage(url);
    expect(d.called).toBe(true);
    const error = await failureOf(d);
    expect(error).toBeInstanceOf(InvalidURLError);
    expect(error.message).toContain(words);
  });

  it('throws TypeError for a url that is not a string or URL', () => {
    expect(() => getPage(42 as unknown as string)).toThrow(TypeError);
    expect(() => getPage(42 as unknown as string)).toThrow(/`url`/);
  });

  it.each([
    [{ timeout: -1 }, RangeError, 'timeout'],
    [{ timeout: Number.NaN }, RangeError, 'timeout'],
    [{ timeout: '10' }, TypeError, 'timeout'],
    [{ maxRedirects: 1.5 }, RangeError, 'maxRedirects'],
    [{ maxRedirects: -1 }, RangeError, 'maxRedirects'],
    [{ maxBytes: -1 }, RangeError, 'maxBytes'],
    [{ maxBytes: 0.5 }, RangeError, 'maxBytes'],
    [{ followRedirect: 'yes' }, TypeError, 'followRedirect'],
    [{ method: 'GE T' }, TypeError, 'method'],
    [{ headers: 'x' }, TypeError, 'headers'],
    [{ headers: { 'bad name': 'x' } }, TypeError, 'headers'],
    [{ headers: { ok: 'line\r\nbreak' } }, TypeError, 'headers'],
    [{ headers: { ok: 3 } }, TypeError, 'headers'],
    [{ body: 12 }, TypeError, 'body'],
    [{ signal: {} }, TypeError, 'signal'],
    [{ signal: { aborted: false, addEventListener() {} } }, TypeError, 'signal'],
    [{ headers: { 'x-name': 'Zoë ☃' } }, TypeError, 'headers'],
    [{ headers: { 'Transfer-Encoding': 'chunked' } }, TypeError, 'headers'],
    [{ headers: { upgrade: 'websocket' } }, TypeError, 'headers'],
    [{ headers: { host: ['a', 'b'] } }, TypeError, 'headers'],
    [{ stripHeadersAcrossOrigins: 'x-api-key' }, TypeError, 'stripHeadersAcrossOrigins'],
    [{ dispatcher: {} }, TypeError, 'dispatcher'],
    [{ userAgent: 5 }, TypeError, 'userAgent'],
  ])('throws at once for %j', (options, type, name) => {
    const call = () => getPage(`${ORIGIN}/x`, options as never);
    expect(call).toThrow(type);
    expect(call).toThrow(`\`${name}\``);
  });

  it('accepts a timeout beyond the 2^31-1 ms one host timer holds, and Infinity', async () => {
    nock(ORIGIN).get('/t').times(2).reply(200, 't');
    expect(await getPage(`${ORIGIN}/t`, { timeout: 2 ** 40 })).toBe('t');
    expect(await getPage(`${ORIGIN}/t`, { timeout: Number.POSITIVE_INFINITY })).toBe('t');
  });

  it.each([
    ['x-name', 'Zoë ☃'],
    ['X-Emoji', ['ok', '🙂']],
    ['Transfer-Encoding', 'chunked'],
    ['upgrade', 'websocket'],
    ['keep-alive', 'timeout=5'],
    ['expect', '100-continue'],
  ])('a %s header that undici would refuse late is a TypeError at the call, naming it', (name, value) => {
    const call = () => getPage(`${ORIGIN}/x`, { headers: { [name]: value } });
    expect(call).toThrow(TypeError);
    expect(call).toThrow(`"${name}"`);
  });

  it('a signal without removeEventListener is refused at the call, naming `signal`', () => {
    const signal = { aborted: false, addEventListener() {}, reason: undefined };
    expect(() => getPage(`${ORIGIN}/x`, { signal: signal as never })).toThrow(
      /Expected `signal` to be an AbortSignal, got an object/,
    );
  });

  it('throws TypeError for options that are not an object', () => {
    expect(() => getPage(`${ORIGIN}/x`, 'fast' as never)).toThrow(/`options`/);
  });

  it('has a 10 MiB default size limit', () => {
    expect(DEFAULT_MAX_BYTES).toBe(10 * 1024 * 1024);
  });
});
