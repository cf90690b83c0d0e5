// The Profile service (profile.proto) as a gRPC app replica serves it, on the app's own HTTP/2 server:
// unary Get and server-streaming Watch, each reply saying where the call was served. Messages are
// encoded with protobufjs from the .proto; framing, status and trailers are written here (wire.ts).
import { readFileSync } from "node:fs";
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Stream } from "node:http2";
import protobuf from "protobufjs";
import type { AppReply } from "../app/server.ts";
import { PROFILE_PROTO_FILE, PROFILE_SERVICE } from "./profile-names.ts";
import { GRPC_CONTENT_TYPE, GrpcError, GrpcStatus, MessageReader, encodeGrpcMessage, messageFrame, type GrpcStatusCode } from "./wire.ts";

/**
 * Next to this module in the repository, and next to the bundled app in the image (infra/upstreams-image.ts
 * copies it there): both resolve it from the module's own URL.
 */
export const PROFILE_PROTO = new URL(`./${PROFILE_PROTO_FILE}`, import.meta.url);
export { PROFILE_SERVICE };

const root = protobuf.parse(readFileSync(PROFILE_PROTO, "utf8")).root;
root.lookupService(PROFILE_SERVICE);
const GetRequest = root.lookupType("edgerim.profile.v1.GetRequest");
const WatchRequest = root.lookupType("edgerim.profile.v1.WatchRequest");
const ProfileReply = root.lookupType("edgerim.profile.v1.ProfileReply");

export const WATCH_LIMITS = { count: { min: 1, max: 1000 }, intervalMs: { min: 0, max: 10_000 } } as const;

function replyMessage(facts: AppReply, sequence: number, receivedBytes: number): Uint8Array {
  return ProfileReply.encode(
    ProfileReply.fromObject({
      ...facts,
      // Unset, not 0 or "", when the hops header was no count or no token was verified.
      hops: facts.hops ?? undefined,
      user: facts.user ?? undefined,
      sequence,
      receivedBytes,
    }),
  ).finish();
}

const closed = (stream: ServerHttp2Stream) => stream.closed || stream.destroyed;

/** Waits `ms` unless the caller goes away first; false means there is no one left to answer. */
function pause(stream: ServerHttp2Stream, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!closed(stream));
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      stream.removeListener("close", onClose);
      resolve(!closed(stream));
    }, ms);
    stream.once("close", onClose);
  });
}

/**
 * A status without messages: trailers-only (one HEADERS frame that ends the stream), as gRPC answers
 * an error. A request the caller is still sending is then cut with RST_STREAM NO_ERROR, which asks
 * it to stop sending without failing the answer (RFC 9113, 8.1).
 */
function answerStatus(res: Http2ServerResponse, status: GrpcStatusCode, message: string): void {
  const stream = res.stream;
  if (closed(stream)) return;
  if (res.headersSent) {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  res.statusCode = 200;
  res.setHeader("content-type", GRPC_CONTENT_TYPE);
  res.setHeader("grpc-status", String(status));
  res.setHeader("grpc-message", encodeGrpcMessage(message));
  // Headers not sent before end(): they go out as one frame with END_STREAM.
  res.end();
  if (!stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

/** Response headers, then each message `replies` yields, then trailers with OK. */
async function answerMessages(res: Http2ServerResponse, replies: AsyncGenerator<Uint8Array>): Promise<void> {
  res.writeHead(200, { "content-type": GRPC_CONTENT_TYPE, "grpc-accept-encoding": "identity" });
  for await (const message of replies) {
    if (closed(res.stream)) return;
    res.write(messageFrame(message));
  }
  if (closed(res.stream)) return;
  res.addTrailers({ "grpc-status": String(GrpcStatus.OK) });
  res.end();
}

function decode<T>(type: protobuf.Type, bytes: Buffer): T {
  try {
    return type.toObject(type.decode(bytes), { defaults: true }) as T;
  } catch (error) {
    throw new GrpcError(GrpcStatus.INTERNAL, `request is not a ${type.name}: ${(error as Error).message}`);
  }
}

async function* getReplies(facts: AppReply, receivedBytes: number, stream: ServerHttp2Stream, delayMs: number): AsyncGenerator<Uint8Array> {
  if (await pause(stream, delayMs)) yield replyMessage(facts, 0, receivedBytes);
}

interface WatchPlan {
  count: number;
  intervalMs: number;
}

function watchPlan(request: Buffer): WatchPlan {
  const { count, intervalMs } = decode<WatchPlan>(WatchRequest, request);
  const { count: countLimits, intervalMs: intervalLimits } = WATCH_LIMITS;
  if (count < countLimits.min || count > countLimits.max) {
    throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `count ${count} is out of range; expected ${countLimits.min} to ${countLimits.max}`);
  }
  if (intervalMs > intervalLimits.max) {
    throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `interval_ms ${intervalMs} is out of range; expected ${intervalLimits.min} to ${intervalLimits.max}`);
  }
  return { count, intervalMs };
}

async function* watchReplies(facts: AppReply, receivedBytes: number, plan: WatchPlan, stream: ServerHttp2Stream, delayMs: number): AsyncGenerator<Uint8Array> {
  if (!(await pause(stream, delayMs))) return;
  for (let sequence = 1; sequence <= plan.count; sequence++) {
    if (sequence > 1 && !(await pause(stream, plan.intervalMs))) return;
    yield replyMessage(facts, sequence, receivedBytes);
  }
}

/**
 * Serves one gRPC call of the service `service` (a fully-qualified name; its methods are Profile's):
 * `/<service>/Get` and `/<service>/Watch`; any other method is UNIMPLEMENTED. The request is one
 * message of at most MAX_MESSAGE_BYTES (else RESOURCE_EXHAUSTED, before the rest is read).
 * `delayMs` of simulated service time comes before the first reply.
 */
export function serveProfileCall(req: Http2ServerRequest, res: Http2ServerResponse, service: string, facts: AppReply, delayMs: number): void {
  const stream = req.stream;
  const method = facts.path.startsWith(`/${service}/`) ? facts.path.slice(service.length + 2) : undefined;
  if (method !== "Get" && method !== "Watch") {
    answerStatus(res, GrpcStatus.UNIMPLEMENTED, `unknown method ${facts.path}; expected /${service}/Get or /${service}/Watch`);
    return;
  }
  const reader = new MessageReader();
  const messages: Buffer[] = [];
  let refused = false;
  const refuse = (error: unknown) => {
    refused = true;
    if (error instanceof GrpcError) answerStatus(res, error.status, error.message);
    else answerStatus(res, GrpcStatus.INTERNAL, (error as Error).message);
  };
  // Read through the compatibility request, which pauses the stream while it is unread; answers go
  // through the response (setHeader, write, addTrailers), which owns the stream's trailers.
  req.on("data", (chunk: Buffer) => {
    if (refused) return;
    try {
      messages.push(...reader.push(chunk));
    } catch (error) {
      refuse(error);
    }
  });
  req.on("end", () => {
    if (refused) return;
    let replies: AsyncGenerator<Uint8Array>;
    try {
      const request = messages[0];
      if (messages.length !== 1 || request === undefined || reader.pendingBytes > 0) {
        throw new GrpcError(GrpcStatus.INTERNAL, `expected one request message, got ${messages.length}${reader.pendingBytes > 0 ? " and a cut one" : ""}`);
      }
      if (method === "Get") {
        decode(GetRequest, request);
        replies = getReplies(facts, request.length, stream, delayMs);
      } else {
        replies = watchReplies(facts, request.length, watchPlan(request), stream, delayMs);
      }
    } catch (error) {
      refuse(error);
      return;
    }
    answerMessages(res, replies).catch(() => {
      if (!closed(stream)) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  });
}
