/** Which {@link GetPageError} subclass a failure of undici, of the network or of the decompressor becomes. */
import { undici } from './dispatcher.js';
import {
  BadResponseError,
  ConnectionLostError,
  ConnectionRefusedError,
  DNSLookupError,
  GetPageError,
  TimeoutError,
} from './errors.js';

const DNS_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_NODATA',
  'EAI_FAIL',
  'EAI_ADDRFAMILY',
]);
const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
/** The connection closed or broke under the exchange. */
const LOST_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
/** The connection closed before the response began, so an idempotent request may be sent again. */
const CLOSED_BEFORE_RESPONSE_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
/**
 * What the server sent is not HTTP, or not what it says it is: undici's parser errors with a code (`HPE_*`), headers
 * past undici's limit, and a compressed body zlib cannot read (`Z_*` and Brotli's codes).
 */
function isBadResponseCode(code: string): boolean {
  return (
    code.startsWith('HPE_') ||
    code === 'UND_ERR_HEADERS_OVERFLOW' ||
    code.startsWith('Z_') ||
    code.startsWith('ERR__ERROR_FORMAT') ||
    code === 'ERR_BROTLI_DECOMPRESSION_FAILED' ||
    code === 'ERR_ZSTD_DECOMPRESSION_FAILED'
  );
}

/** The first error found on `e`, its causes, or (for happy-eyeballs connection attempts) its aggregated errors. */
function coded(e: unknown): { code?: unknown; socket?: { bytesRead?: unknown } } | undefined {
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'string') return e as { code: string };
    const { errors } = e as { errors?: unknown };
    e = Array.isArray(errors) && errors.length > 0 ? errors[0] : (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns whatever undici or the caller's `finish` failed with into the failure the Deferred delivers. */
export function classify(e: unknown, url: URL): Error {
  if (e instanceof GetPageError) return e;
  const where = { url: url.href, cause: e };
  // undici's parser errors carry no code when llhttp gives none; their class (public) says what they are.
  if (e instanceof undici().errors.HTTPParserError) return new BadResponseError(where);
  const code = coded(e)?.code;
  if (typeof code === 'string') {
    if (DNS_CODES.has(code)) return new DNSLookupError(url.hostname, where);
    if (code === 'ECONNREFUSED') return new ConnectionRefusedError(where);
    if (TIMEOUT_CODES.has(code)) return new TimeoutError(undefined, where);
    if (LOST_CODES.has(code)) return new ConnectionLostError(where);
    if (isBadResponseCode(code)) return new BadResponseError(where);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new GetPageError(`Getting ${url.href} failed: ${message}`, where);
}

/**
 * Whether `e` says the connection closed or was reset before any of the response, on a connection that had served
 * earlier responses: what a keep-alive connection the server closed while the request was on its way looks like.
 * undici's "other side closed" reports the socket's byte counts, so a connection that never read a byte (a fresh one
 * the server dropped) is told apart; a reset reports none, and counts as such a connection.
 */
export function closedBeforeResponse(e: unknown): boolean {
  const found = coded(e);
  if (found === undefined || !CLOSED_BEFORE_RESPONSE_CODES.has(found.code as string)) return false;
  const bytesRead = found.socket?.bytesRead;
  return typeof bytesRead !== 'number' || bytesRead > 0;
}
