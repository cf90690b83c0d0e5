// What gRPC puts on HTTP/2 that the app server reads and writes itself: the content type that makes
// a request gRPC, length-prefixed messages, and the status codes and message of the trailers.

/** The gRPC status codes this repository names (the full set is 0 to 16). */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

export const GRPC_CONTENT_TYPE = "application/grpc";

/**
 * Whether a request is gRPC, by Envoy's rule (so the app, the region router and Envoy's own replies
 * agree): the content type is exactly `application/grpc` or starts with `application/grpc+`.
 * `application/grpc-web` is not gRPC.
 */
export function isGrpcContentType(value: string | undefined): boolean {
  return value !== undefined && value.startsWith(GRPC_CONTENT_TYPE) && (value.length === GRPC_CONTENT_TYPE.length || value[GRPC_CONTENT_TYPE.length] === "+");
}

/** The largest request message the app accepts: gRPC's default receive limit. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const PREFIX_BYTES = 5;

/** One uncompressed message as gRPC frames it: flag byte 0, 4-byte big-endian length, the bytes. */
export function messageFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}

/** A request the app refuses while reading its messages, with the status it answers. */
export class GrpcError extends Error {
  constructor(
    readonly status: GrpcStatusCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Splits a request body into messages as its chunks arrive. A message over `maxBytes` is refused
 * from its length prefix alone (RESOURCE_EXHAUSTED), before its bytes are held; a compressed one
 * is refused too (UNIMPLEMENTED: the app accepts only the identity encoding).
 */
export class MessageReader {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number = MAX_MESSAGE_BYTES) {}

  /** The messages `chunk` completes; throws GrpcError for a message the app refuses. */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const messages: Buffer[] = [];
    while (this.buffered.length >= PREFIX_BYTES) {
      const compressed = this.buffered[0]!;
      const length = this.buffered.readUInt32BE(1);
      if (compressed !== 0) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, "compressed messages are not supported; expected grpc-encoding identity");
      if (length > this.maxBytes) {
        throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `request message of ${length} bytes is over the limit of ${this.maxBytes} bytes`);
      }
      if (this.buffered.length < PREFIX_BYTES + length) break;
      messages.push(this.buffered.subarray(PREFIX_BYTES, PREFIX_BYTES + length));
      this.buffered = this.buffered.subarray(PREFIX_BYTES + length);
    }
    return messages;
  }

  /** Bytes of a message that has not arrived whole (a body that ends here is cut short). */
  get pendingBytes(): number {
    return this.buffered.length;
  }
}

/** `grpc-message` as the gRPC spec encodes it: percent-encoding outside printable ASCII and of `%`. */
export function encodeGrpcMessage(text: string): string {
  let encoded = "";
  for (const byte of Buffer.from(text, "utf8")) {
    encoded += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}
