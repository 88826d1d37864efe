import { STATUS_CODES } from 'node:http';

/** What every {@link GetPageError} is built from: the URL it concerns and, where there is one, the underlying error. */
export interface GetPageErrorOptions {
  /** The URL that was being fetched when the failure happened (after redirects, the redirect target). */
  url: string;
  /** The error underneath (from undici, the socket or the resolver), when there is one. */
  cause?: unknown;
}

/**
 * The base class of every failure `getPage` delivers. Each subclass has its own `name` and a stable `code`; a
 * failure that fits none of them arrives as a plain `GetPageError` with code `ERR_GET_PAGE` and the original in
 * `cause`.
 */
export class GetPageError extends Error {
  /** A stable identifier, in the style of Node's and undici's error codes. */
  readonly code: string;
  /** The URL that was being fetched when the failure happened. */
  readonly url: string;

  constructor(message: string, options: GetPageErrorOptions, code = 'ERR_GET_PAGE') {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GetPageError';
    this.code = code;
    this.url = options.url;
  }
}

/** Headers as undici reports them: lower-case names, repeated headers as arrays. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** The reason phrase HTTP/1.1 uses for `status` (`Not Found` for 404), or `Unknown Status`. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown Status';
}

/**
 * The server answered with an error status (400 and up), or with a 3xx that was not followed (redirects switched off,
 * or no usable `Location`). Like Twisted's `twisted.web.error.Error`, its message is the status line: `404 Not Found`.
 */
export class HttpError extends GetPageError {
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
    super(`${status} ${text}`, options, 'ERR_HTTP');
    this.name = 'HttpError';
    this.status = status;
    this.statusText = text;
    this.headers = headers;
    this.body = body;
  }
}

/** The host name could not be resolved (`ENOTFOUND`, `EAI_AGAIN`): `DNS lookup failed: address 'x.invalid' not found`. */
export class DNSLookupError extends GetPageError {
  /** The host name that did not resolve. */
  readonly hostname: string;

  constructor(hostname: string, options: GetPageErrorOptions) {
    super(`DNS lookup failed: address '${hostname}' not found`, options, 'ERR_DNS_LOOKUP');
    this.name = 'DNSLookupError';
    this.hostname = hostname;
  }
}

/** Nobody listens at the address (`ECONNREFUSED`). */
export class ConnectionRefusedError extends GetPageError {
  constructor(options: GetPageErrorOptions) {
    super('Connection was refused by other side', options, 'ERR_CONNECTION_REFUSED');
    this.name = 'ConnectionRefusedError';
  }
}

/** The connection was reset or closed before the response was complete (`ECONNRESET`, a socket closed mid-body). */
export class ConnectionLostError extends GetPageError {
  constructor(options: GetPageErrorOptions) {
    super('Connection to the other side was lost in a non-clean fashion', options, 'ERR_CONNECTION_LOST');
    this.name = 'ConnectionLostError';
  }
}

/** The exchange took longer than the `timeout` option allows (undici's header and body timeouts arrive here too). */
export class TimeoutError extends GetPageError {
  /** The limit that was passed, in milliseconds, when known. */
  readonly timeout: number | undefined;

  constructor(timeout: number | undefined, options: GetPageErrorOptions) {
    super(
      timeout === undefined
        ? 'User timeout caused connection failure'
        : `User timeout caused connection failure: no complete response within ${timeout} ms`,
      options,
      'ERR_TIMEOUT',
    );
    this.name = 'TimeoutError';
    this.timeout = timeout;
  }
}

/** The body is larger than the `maxBytes` option allows; the transfer was cut off. */
export class ResponseTooLargeError extends GetPageError {
  /** The limit, in bytes. */
  readonly maxBytes: number;

  constructor(maxBytes: number, options: GetPageErrorOptions) {
    super(`Response body is larger than the limit of ${maxBytes} bytes`, options, 'ERR_RESPONSE_TOO_LARGE');
    this.name = 'ResponseTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** A redirect chain went past the `maxRedirects` option. */
export class TooManyRedirectsError extends GetPageError {
  /** The limit that was exceeded. */
  readonly maxRedirects: number;

  constructor(maxRedirects: number, options: GetPageErrorOptions) {
    super(`Too many redirects: more than ${maxRedirects}`, options, 'ERR_TOO_MANY_REDIRECTS');
    this.name = 'TooManyRedirectsError';
    this.maxRedirects = maxRedirects;
  }
}

/** The URL (given, or from a redirect's `Location`) does not parse, or its scheme is not `http:` or `https:`. */
export class InvalidURLError extends GetPageError {
  constructor(reason: string, options: GetPageErrorOptions) {
    super(`Invalid URL ${JSON.stringify(options.url)}: ${reason}`, options, 'ERR_INVALID_URL');
    this.name = 'InvalidURLError';
  }
}
