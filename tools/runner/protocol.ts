/**
 * The Jupyter messaging protocol (v5.3) as the runner speaks it: message types, the connection file, and the
 * HMAC-SHA256 signed multipart frames each message travels in over ZeroMQ. No sockets and no process here: `kernel.ts`
 * sends and receives what {@link MessageCodec} encodes and decodes.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

const DELIMITER = Buffer.from('<IDS|MSG>');
const PROTOCOL_VERSION = '5.3';

/** The header of a Jupyter message. */
export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

/** A decoded Jupyter message as it arrives from the kernel. */
export interface KernelMessage {
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** A kernel's connection file: where its five sockets listen and the key its messages are signed with. */
export interface ConnectionInfo {
  transport: 'tcp';
  ip: string;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
}

/**
 * Raised when the conversation with the kernel breaks: a message that is not valid Jupyter JSON, or a handler of
 * the caller's that threw while taking a message. The request in progress fails with it; the kernel is then killed.
 */
export class KernelProtocolError extends Error {
  override name = 'KernelProtocolError';
}

function sign(key: string, parts: readonly (string | Buffer)[]): string {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest('hex');
}

/** Encodes the client's messages and decodes the kernel's, for one session on one connection's key. */
export class MessageCodec {
  readonly #key: string;
  readonly #session = randomUUID();

  constructor(key: string) {
    this.#key = key;
  }

  /** The frames of a message of `msgType` (its id `msgId`), signed, as the kernel's ROUTER socket expects them. */
  encode(msgType: string, content: Record<string, unknown>, msgId: string): (string | Buffer)[] {
    const header: MessageHeader = {
      msg_id: msgId,
      msg_type: msgType,
      session: this.#session,
      username: 'async-batching',
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    };
    const parts = [JSON.stringify(header), '{}', '{}', JSON.stringify(content)];
    return [DELIMITER, sign(this.#key, parts), ...parts];
  }

  /**
   * The message in `frames`, or `null` for frames that are not a signed message (dropped, as Jupyter clients do).
   * Signatures are compared in constant time, as jupyter_client does, so the time taken says nothing about how much
   * of a forged signature was right.
   * @throws {KernelProtocolError} for a signed message that is not valid Jupyter JSON.
   */
  decode(frames: readonly Buffer[], channel: string): KernelMessage | null {
    const at = frames.findIndex((frame) => frame.equals(DELIMITER));
    if (at < 0 || frames.length < at + 6) return null;
    const parts = frames.slice(at + 2, at + 6);
    const expected = Buffer.from(sign(this.#key, parts), 'ascii');
    const signature = frames[at + 1];
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return null;
    let header: MessageHeader;
    let parent_header: Partial<MessageHeader>;
    let metadata: Record<string, unknown>;
    let content: Record<string, unknown>;
    try {
      [header, parent_header, metadata, content] = parts.map((part) => JSON.parse(part.toString('utf8')));
    } catch (error) {
      throw new KernelProtocolError(
        `a signed message on ${channel} is not valid JSON: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (typeof header?.msg_type !== 'string' || typeof content !== 'object' || content === null) {
      throw new KernelProtocolError(`a signed message on ${channel} has no msg_type or content`);
    }
    return { header, parent_header: parent_header ?? {}, metadata: metadata ?? {}, content };
  }
}
