// The failures getPage delivers: GetPageError and its subclasses, under the package's root AsyncBatchingError, each
// with its own literal code and brand (see core/errors.ts). They live with getPage because they speak HTTP.
import { AsyncBatchingError, brand, type GetPageErrorCode } from '../../core/errors.js';
import { nodeHttp } from '../node-builtins.js';

/** What every {@link GetPageError} is built from: the URL it concerns and, where there is one, the underlying error. */
export interface GetPageErrorOptions {
  /** The URL that was being fetched when the failure happened (after redirects, the redirect target). */
  url: string;
  /** The error underneath (from undici, the socket or the resolver), when there is one. */
  cause?: unknown;
}

/**
 * The base class of every failure `getPage` delivers. Each subclass has its own `name` and a stable `code`; a
 * failure that fits none of them arrives as a plain `GetPageError` with code `AB_ERR_GET_PAGE` and the original in
 * `cause`.
 */
export class GetPageError extends AsyncBatchingError {
  override readonly code: GetPageErrorCode = 'AB_ERR_GET_PAGE';
  /**
   * Set by getPage's `retry` option (and `retrying`) on the failure it gave up with: how many attempts were made in
   * all. `undefined` on a failure of one attempt without retries. (`attemptsOf(error)` reads it on any error.)
   */
  declare attempts?: number;

  static {
    brand(GetPageError, 'AB_ERR_GET_PAGE');
  }

  /** The URL that was being fetched when the failure happened. */
  readonly url: string;

  constructor(message: string, options: GetPageErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GetPageError';
    this.url = options.url;
  }
}

/** Headers as undici reports them: lower-case names, repeated headers as arrays. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** @internal The reason phrase HTTP/1.1 uses for `status` (`Not Found` for 404), or `Unknown Status`. */
export function statusText(status: number): string {
  reasons ??= nodeHttp().STATUS_CODES;
  return reasons[status] ?? 'Unknown Status';
}

let reasons: Record<number, string | undefined> | undefined;

/**
 * The server answered with an error status (400 and up), or with a 3xx that was not followed (redirects switched off,
 * or no usable `Location`). Like Twisted's `twisted.web.error.Error`, its message is the status line: `404 Not Found`.
 */
export class HttpError extends GetPageError {
  override readonly code = 'AB_ERR_HTTP' as const;

  static {
    brand(HttpError, 'AB_ERR_HTTP');
  }

  /** The HTTP status code. */
  readonly status: number;
  /** The standard reason phrase for `status`. */
  readonly statusText: string;
  /** The response headers. */
  readonly headers: ResponseHeaders;
  /** The first KiB of the response body, decoded as text (it may end in the middle of a character). */
  readonly body: string;

  constructor(status: number, headers: ResponseHeaders, body: string, options: GetPageErrorOptions) {
    const text = statusText(status);
    super(`${status} ${text}`, options);
    this.name = 'HttpError';
    this.status = status;
    this.statusText = text;
    this.headers = headers;
    this.body = body;
  }
}

/** The host name could not be resolved (`ENOTFOUND`, `EAI_AGAIN`): `DNS lookup failed: address 'x.invalid' not found`. */
export class DNSLookupError extends GetPageError {
  override readonly code = 'AB_ERR_DNS_LOOKUP' as const;

  static {
    brand(DNSLookupError, 'AB_ERR_DNS_LOOKUP');
  }

  /** The host name that did not resolve. */
  readonly hostname: string;

  constructor(hostname: string, options: GetPageErrorOptions) {
    super(`DNS lookup failed: address '${hostname}' not found`, options);
    this.name = 'DNSLookupError';
    this.hostname = hostname;
  }
}

/** Nobody listens at the address (`ECONNREFUSED`). */
export class ConnectionRefusedError extends GetPageError {
  override readonly code = 'AB_ERR_CONNECTION_REFUSED' as const;

  static {
    brand(ConnectionRefusedError, 'AB_ERR_CONNECTION_REFUSED');
  }

  constructor(options: GetPageErrorOptions) {
    super('Connection was refused by other side', options);
    this.name = 'ConnectionRefusedError';
  }
}

/** The connection was reset or closed before the response was complete (`ECONNRESET`, a socket closed mid-body). */
export class ConnectionLostError extends GetPageError {
  override readonly code = 'AB_ERR_CONNECTION_LOST' as const;

  static {
    brand(ConnectionLostError, 'AB_ERR_CONNECTION_LOST');
  }

  constructor(options: GetPageErrorOptions) {
    super('Connection to the other side was lost in a non-clean fashion', options);
    this.name = 'ConnectionLostError';
  }
}

/** The exchange took longer than the `timeout` option allows (undici's header and body timeouts arrive here too). */
export class TimeoutError extends GetPageError {
  override readonly code = 'AB_ERR_TIMEOUT' as const;

  static {
    brand(TimeoutError, 'AB_ERR_TIMEOUT');
  }

  /** The limit that was passed, in milliseconds, when known. */
  readonly timeout: number | undefined;

  constructor(timeout: number | undefined, options: GetPageErrorOptions) {
    super(
      timeout === undefined
        ? 'User timeout caused connection failure'
        : `User timeout caused connection failure: no complete response within ${timeout} ms`,
      options,
    );
    this.name = 'TimeoutError';
    this.timeout = timeout;
  }
}

/** The body is larger than the `maxBytes` option allows; the transfer was cut off. */
export class ResponseTooLargeError extends GetPageError {
  override readonly code = 'AB_ERR_RESPONSE_TOO_LARGE' as const;

  static {
    brand(ResponseTooLargeError, 'AB_ERR_RESPONSE_TOO_LARGE');
  }

  /** The limit, in bytes. */
  readonly maxBytes: number;

  constructor(maxBytes: number, options: GetPageErrorOptions) {
    super(`Response body is larger than the limit of ${maxBytes} bytes`, options);
    this.name = 'ResponseTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** A redirect chain went past the `maxRedirects` option. */
export class TooManyRedirectsError extends GetPageError {
  override readonly code = 'AB_ERR_TOO_MANY_REDIRECTS' as const;

  static {
    brand(TooManyRedirectsError, 'AB_ERR_TOO_MANY_REDIRECTS');
  }

  /** The limit that was exceeded. */
  readonly maxRedirects: number;

  constructor(maxRedirects: number, options: GetPageErrorOptions) {
    super(`Too many redirects: more than ${maxRedirects}`, options);
    this.name = 'TooManyRedirectsError';
    this.maxRedirects = maxRedirects;
  }
}

/** The URL (given, or from a redirect's `Location`) does not parse, or its scheme is not `http:` or `https:`. */
export class InvalidURLError extends GetPageError {
  override readonly code = 'AB_ERR_INVALID_URL' as const;

  static {
    brand(InvalidURLError, 'AB_ERR_INVALID_URL');
  }

  constructor(reason: string, options: GetPageErrorOptions) {
    super(`Invalid URL ${JSON.stringify(options.url)}: ${reason}`, options);
    this.name = 'InvalidURLError';
  }
}

/**
 * The response is not valid HTTP, or not what it says it is: a malformed status line, header or chunk (undici's
 * `HTTPParserError`), headers larger than undici accepts, or a compressed body that does not decompress.
 */
export class BadResponseError extends GetPageError {
  override readonly code = 'AB_ERR_BAD_RESPONSE' as const;

  static {
    brand(BadResponseError, 'AB_ERR_BAD_RESPONSE');
  }

  constructor(options: GetPageErrorOptions) {
    super('The response was not valid HTTP', options);
    this.name = 'BadResponseError';
  }
}
