// One HTTP stream as the host drives it: the calls Envoy makes into the module for a request, and
// the maps and buffers the module may touch, open only while Envoy would let it.

import { FilterDataStatus, FilterHeadersStatus } from "./abi.ts";
import { addHeaderValue, getHeaderValue, lowerCaseKeys, removeHeaderValues, type HeaderList } from "./header-map.ts";
import type { WasmValue } from "./wasm-api.ts";

export type FilterAction = "continue" | "pause";

export interface LocalResponse {
  status: number;
  body: string;
  /** The extra headers the module asked for, keys lower-cased. */
  headers: HeaderList;
  /** Response code details; whitespace becomes "_", as in Envoy. */
  details: string;
  /** The gRPC status the module gave (used only for a gRPC request); undefined when it gave none (-1). */
  grpcStatus?: number;
}

/** The highest gRPC status code Envoy accepts from a module (UNAUTHENTICATED). */
export const MAX_GRPC_STATUS = 16;

/**
 * Envoy's rule for a gRPC request (Grpc::Common::hasGrpcContentType): the content type is exactly
 * `application/grpc` or starts with `application/grpc+`; `application/grpc-web` is not.
 */
export function isGrpcRequest(headers: HeaderList): boolean {
  const type = getHeaderValue(headers, "content-type");
  return type !== undefined && (type === "application/grpc" || type.startsWith("application/grpc+"));
}

/** Envoy's gRPC status for a local reply's HTTP status when the reply names none (Grpc::Utility::httpToGrpcStatus). */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

/** `grpc-message` as Envoy writes it: percent-encoded outside printable ASCII and for `%`. */
function percentEncoded(text: string): string {
  let encoded = "";
  for (const byte of utf8Encoder.encode(text)) {
    encoded += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

export interface HttpContextHandle {
  id: number;
  onRequestHeaders(headers: HeaderList, endOfStream?: boolean): FilterAction;
  onRequestBody(body: string, endOfStream?: boolean): FilterAction;
  onResponseHeaders(headers: HeaderList, endOfStream?: boolean): FilterAction;
  /** Live maps: the module's edits show here (keys lower-cased). */
  requestHeaders: HeaderList;
  /** The upstream response, or the local reply, after the module's edits. */
  responseHeaders: HeaderList;
  /** The last request body chunk as the module left it. */
  requestBody: string;
  getRequestHeader(name: string): string | undefined;
  getResponseHeader(name: string): string | undefined;
  /** The first local reply the module sent on this stream. */
  localResponse?: LocalResponse;
  /** The module called proxy_continue_stream for this stream. */
  continued: boolean;
  /** The module called proxy_close_stream for this stream. */
  closed: boolean;
  onDone(): void;
  onLog(): void;
  onDelete(): void;
}

export interface CallStatus {
  code: number;
  message: string;
}

export interface CallOutcome {
  value: number | undefined;
  /** The module sent a local reply during the call: Envoy then stops iteration whatever it returned. */
  stopped: boolean;
}

/** What a stream needs from its host: calls into the module, and forgetting a deleted stream. */
export interface StreamDriver {
  call(context: HttpContext, exportName: string, ...args: WasmValue[]): CallOutcome;
  forget(context: HttpContext): void;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

export class HttpContext implements HttpContextHandle {
  readonly kind = "http";
  readonly status: CallStatus = { code: 0, message: "" };
  /** Values the module stored with proxy_set_property (Envoy keeps them in the stream's filter state). */
  readonly properties = new Map<string, Uint8Array>();
  requestHeaders: HeaderList = [];
  responseHeaders: HeaderList = [];
  requestBodyBytes: Uint8Array = new Uint8Array();
  localResponse?: LocalResponse;
  continued = false;
  closed = false;
  /** Envoy hands a map to the module only during its callback, or until continue after a pause. */
  requestHeadersOpen = false;
  responseHeadersOpen = false;
  requestBodyOpen = false;
  private responseStarted = false;

  constructor(
    readonly id: number,
    private readonly driver: StreamDriver,
  ) {}

  get requestBody(): string {
    return utf8Decoder.decode(this.requestBodyBytes);
  }

  onRequestHeaders(headers: HeaderList, endOfStream = true): FilterAction {
    this.requestHeaders = lowerCaseKeys(headers);
    this.requestHeadersOpen = true;
    const outcome = this.driver.call(this, "proxy_on_request_headers", this.id, this.requestHeaders.length, endOfStream ? 1 : 0);
    const action = headersAction(outcome);
    if (action === "continue") this.requestHeadersOpen = false;
    return action;
  }

  onRequestBody(body: string, endOfStream = true): FilterAction {
    this.requestBodyBytes = utf8Encoder.encode(body);
    this.requestBodyOpen = true;
    const outcome = this.driver.call(this, "proxy_on_request_body", this.id, this.requestBodyBytes.length, endOfStream ? 1 : 0);
    const status = outcome.value ?? FilterDataStatus.Continue;
    const action: FilterAction = outcome.stopped || status !== FilterDataStatus.Continue ? "pause" : "continue";
    if (action === "continue") this.requestBodyOpen = false;
    return action;
  }

  onResponseHeaders(headers: HeaderList, endOfStream = false): FilterAction {
    if (this.responseStarted) {
      throw new Error(`stream ${this.id} already has a response (a local reply goes through onResponseHeaders by itself)`);
    }
    return this.encodeHeaders(lowerCaseKeys(headers), endOfStream);
  }

  /**
   * Envoy sends a local reply through the stream's encoder filters, this one included, so the
   * module's proxy_on_response_headers sees the reply it sent. Headers as Envoy builds them:
   * `:status`, the module's extra headers, then content-length and (if absent) a text/plain
   * content-type for a non-empty body; an empty body drops both. To a gRPC request (see
   * isGrpcRequest) Envoy answers trailers-only instead: `:status` 200, the module's headers,
   * content-type application/grpc, `grpc-status` (the module's, else mapped from the HTTP status,
   * unless a header already set it) and the body as `grpc-message`; no body, the stream ends.
   */
  encodeLocalReply(): void {
    const reply = this.localResponse;
    if (reply === undefined || this.responseStarted) return;
    if (isGrpcRequest(this.requestHeaders)) {
      this.encodeGrpcLocalReply(reply);
      return;
    }
    const headers: HeaderList = [[":status", String(reply.status)]];
    for (const [key, value] of reply.headers) addHeaderValue(headers, key, value);
    const bodyBytes = utf8Encoder.encode(reply.body).length;
    if (bodyBytes > 0) {
      const length = headers.find(([key]) => key === "content-length");
      if (length !== undefined) length[1] = String(bodyBytes);
      else headers.push(["content-length", String(bodyBytes)]);
      if (getHeaderValue(headers, "content-type") === undefined) headers.push(["content-type", "text/plain"]);
    } else {
      removeHeaderValues(headers, "content-length");
      removeHeaderValues(headers, "content-type");
    }
    this.encodeHeaders(headers, bodyBytes === 0);
  }

  private encodeGrpcLocalReply(reply: LocalResponse): void {
    const headers: HeaderList = [[":status", "200"]];
    for (const [key, value] of reply.headers) addHeaderValue(headers, key, value);
    const type = headers.find(([key]) => key === "content-type");
    if (type !== undefined) type[1] = "application/grpc";
    else headers.push(["content-type", "application/grpc"]);
    if (getHeaderValue(headers, "grpc-status") === undefined) {
      headers.push(["grpc-status", String(reply.grpcStatus ?? httpToGrpcStatus(reply.status))]);
    }
    const message = reply.body.endsWith("\n") ? reply.body.slice(0, -1) : reply.body;
    if (message.length > 0) headers.push(["grpc-message", percentEncoded(message)]);
    removeHeaderValues(headers, "content-length");
    this.encodeHeaders(headers, true);
  }

  private encodeHeaders(headers: HeaderList, endOfStream: boolean): FilterAction {
    this.responseStarted = true;
    this.responseHeaders = headers;
    this.responseHeadersOpen = true;
    const outcome = this.driver.call(this, "proxy_on_response_headers", this.id, headers.length, endOfStream ? 1 : 0);
    const action = headersAction(outcome);
    if (action === "continue") this.responseHeadersOpen = false;
    return action;
  }

  getRequestHeader(name: string): string | undefined {
    return getHeaderValue(this.requestHeaders, name);
  }

  getResponseHeader(name: string): string | undefined {
    return getHeaderValue(this.responseHeaders, name);
  }

  onDone(): void {
    this.driver.call(this, "proxy_on_done", this.id);
  }

  onLog(): void {
    this.driver.call(this, "proxy_on_log", this.id);
  }

  onDelete(): void {
    this.driver.call(this, "proxy_on_delete", this.id);
    this.driver.forget(this);
  }
}

/** Envoy turns every header status except Continue (and ContinueAndEndStream) into a full stop. */
function headersAction(outcome: CallOutcome): FilterAction {
  const status = outcome.value ?? FilterHeadersStatus.Continue;
  const continues = status === FilterHeadersStatus.Continue || status === FilterHeadersStatus.ContinueAndEndStream;
  return outcome.stopped || !continues ? "pause" : "continue";
}
