/** Turning a body's bytes into text: the charset `content-type` names, UTF-8 otherwise. */

/** The first value of a header that may come as several. */
export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
const UTF8 = new TextDecoder('utf-8');
/**
 * Decoders by lower-cased charset label. A TextDecoder not asked to stream keeps no state between `decode()` calls,
 * so one per label serves every response. Labels TextDecoder does not know map to UTF-8; the map stops growing at
 * MAX_DECODERS labels, after which a new label gets a decoder of its own each time.
 */
const decoders = new Map<string, TextDecoder>();
const MAX_DECODERS = 64;
let lastContentType: string | undefined;
let lastDecoder = UTF8;

/** The decoder for the charset `content-type` names; UTF-8 when it names none or one TextDecoder does not know. */
export function decoderFor(contentType: string | string[] | undefined): TextDecoder {
  const type = single(contentType);
  if (type === undefined) return UTF8;
  if (type === lastContentType) return lastDecoder;
  const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
  let decoder = charset === undefined ? UTF8 : decoders.get(charset);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(charset);
    } catch {
      decoder = UTF8;
    }
    if (decoders.size < MAX_DECODERS) decoders.set(charset as string, decoder);
  }
  lastContentType = type;
  lastDecoder = decoder;
  return decoder;
}

/** The body as it arrived, in chunks (undici's views of the socket's reads, or the decompressor's output). */
export interface BodyChunks {
  chunks: Buffer[];
  /** Bytes in all. */
  total: number;
}

/** The body in one buffer (the chunk itself when there is only one). */
export function joined(b: BodyChunks): Buffer {
  const [only] = b.chunks;
  return b.chunks.length === 1 && only !== undefined ? only : Buffer.concat(b.chunks, b.total);
}

/** Decodes with the charset `content-type` names; UTF-8 when it names none or one TextDecoder does not know. */
export function decodeBody(b: BodyChunks, contentType: string | string[] | undefined): string {
  return decoderFor(contentType).decode(joined(b));
}
