// Thin wrappers over the proxy-wasm host ABI (0.2.x) used by the router.
// They call the ABI directly: the SDK's wrappers abort the VM on non-Ok results, cannot tell an
// absent header from an empty one, and its shared-data wrappers do not pass the CAS through.

import * as abi from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";

export enum HeaderMap { Request = 0, Response = 2, HttpCallResponse = 6 }
export enum HostBuffer { HttpCallResponseBody = 4, PluginConfiguration = 7 }
export enum LogLevel { Trace, Debug, Info, Warn, Error, Critical }
export enum MetricKind { Counter = 0, Gauge = 1, Histogram = 2 }

const OK: u32 = 0;
export const CAS_MISMATCH: u32 = 8;

// Out-parameters written by the host: pointer at 0, size at 4, cas / metric id / token / time at 8.
const OUT = new ArrayBuffer(16);
const NO_PAIRS: Array<string> = [];

// @ts-ignore: decorator
@inline function outAt(offset: usize): usize {
  return changetype<usize>(OUT) + offset;
}

/** Decodes the buffer the host just returned (allocated through our `malloc`) and frees it. */
function takeHostString(): string {
  let ptr = load<usize>(outAt(0));
  let text = String.UTF8.decodeUnsafe(ptr, load<u32>(outAt(4)));
  if (ptr != 0) free(ptr);
  return text;
}

function clearOut(): usize {
  store<usize>(outAt(0), 0);
  store<u32>(outAt(4), 0);
  return outAt(0);
}

export function log(level: LogLevel, message: string): void {
  let text = String.UTF8.encode(message);
  abi.proxy_log(level, changetype<usize>(text), text.byteLength);
}

/** `text` as the bytes the host reads. Constant names and values are encoded once, at plugin start. */
export function encode(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

/** A header's value; null when the header is absent. `name` is encoded (see `encode`). */
export function getHeader(map: HeaderMap, name: ArrayBuffer): string | null {
  if (abi.proxy_get_header_map_value(map, changetype<usize>(name), name.byteLength, clearOut(), outAt(4)) != OK) return null;
  return takeHostString();
}

/**
 * Reads the first value of each header in `names` (encoded, lower-case) into `values` (null when
 * absent) with one host call for the whole map, instead of one call (and one allocation by the
 * host) per header. The host's layout: count, (key size, value size)*, then each key and value
 * NUL-terminated.
 */
export function getHeaders(map: HeaderMap, names: Array<ArrayBuffer>, values: Array<string | null>): void {
  for (let i = 0; i < names.length; i++) unchecked(values[i] = null);
  if (abi.proxy_get_header_map_pairs(map, clearOut(), outAt(4)) != OK) return;
  let base = load<usize>(outAt(0));
  if (base == 0) return;
  let count = load<u32>(base);
  let data = base + 4 + (<usize>count << 3);
  let missing = names.length;
  for (let pair: u32 = 0; pair < count && missing > 0; pair++) {
    let keySize = load<u32>(base + 4 + (<usize>pair << 3));
    let valueSize = load<u32>(base + 8 + (<usize>pair << 3));
    for (let i = 0; i < names.length; i++) {
      let name = unchecked(names[i]);
      if (unchecked(values[i]) == null && <u32>name.byteLength == keySize
        && memory.compare(data, changetype<usize>(name), keySize) == 0) {
        unchecked(values[i] = String.UTF8.decodeUnsafe(data + keySize + 1, valueSize));
        missing--;
        break;
      }
    }
    data += keySize + valueSize + 2;
  }
  free(base);
}

/** Sets a header to exactly one value, dropping every value it had. Both are encoded. */
export function replaceHeader(map: HeaderMap, name: ArrayBuffer, value: ArrayBuffer): void {
  abi.proxy_replace_header_map_value(map, changetype<usize>(name), name.byteLength, changetype<usize>(value), value.byteLength);
}

export function readBuffer(buffer: HostBuffer, size: u32): string {
  if (abi.proxy_get_buffer_bytes(buffer, 0, size, clearOut(), outAt(4)) != OK) return "";
  return takeHostString();
}

export function nowMs(): i64 {
  abi.proxy_get_current_time_nanoseconds(outAt(8));
  return <i64>(load<u64>(outAt(8)) / 1000000);
}

export function defineMetric(kind: MetricKind, name: string): u32 {
  let text = String.UTF8.encode(name);
  abi.proxy_define_metric(kind, changetype<usize>(text), text.byteLength, outAt(8));
  return load<u32>(outAt(8));
}

export function incrementMetric(id: u32): void {
  abi.proxy_increment_metric(id, 1);
}

export function recordMetric(id: u32, value: i64): void {
  abi.proxy_record_metric(id, value);
}

/** CAS of the value the last `getSharedData` returned. */
export let sharedDataCas: u32 = 0;

/** The value stored under `key` (its CAS in `sharedDataCas`); null if there is none. */
export function getSharedData(key: string): string | null {
  let name = String.UTF8.encode(key);
  if (abi.proxy_get_shared_data(changetype<usize>(name), name.byteLength, clearOut(), outAt(4), outAt(8)) != OK) return null;
  sharedDataCas = load<u32>(outAt(8));
  return takeHostString();
}

/** Stores `value` if the entry still has `cas` (0: unconditionally). Returns the host's result code. */
export function setSharedData(key: string, value: string, cas: u32): u32 {
  let name = String.UTF8.encode(key);
  let text = String.UTF8.encode(value);
  return abi.proxy_set_shared_data(changetype<usize>(name), name.byteLength, changetype<usize>(text), text.byteLength, cas);
}

/**
 * Header pairs in the ABI layout: count, (key size, value size)*, then each key and value
 * NUL-terminated. Every header this filter sends is ASCII (fixed texts and validated names),
 * so each character is one byte.
 */
function serializePairs(pairs: Array<string>): ArrayBuffer {
  let n = pairs.length;
  let size = 4 + n * 4;
  for (let i = 0; i < n; i++) size += pairs[i].length + 1;
  let result = new ArrayBuffer(size);
  let base = changetype<usize>(result);
  store<u32>(base, n >> 1);
  let data = base + 4 + n * 4;
  for (let i = 0; i < n; i++) {
    let text = pairs[i];
    store<u32>(base + 4 + i * 4, text.length);
    for (let j = 0; j < text.length; j++) store<u8>(data++, text.charCodeAt(j));
    data++; // NUL: the buffer is zero-filled
  }
  return result;
}

/** Dispatches an HTTP call; the token, or -1 if the host refused it (e.g. unknown cluster). */
export function httpCall(cluster: string, headers: Array<string>, timeoutMs: u32): i64 {
  let upstream = String.UTF8.encode(cluster);
  let headerPairs = serializePairs(headers);
  let noTrailers = serializePairs(NO_PAIRS);
  let result = abi.proxy_http_call(changetype<usize>(upstream), upstream.byteLength,
    changetype<usize>(headerPairs), headerPairs.byteLength, 0, 0,
    changetype<usize>(noTrailers), noTrailers.byteLength, timeoutMs, outAt(8));
  return result == OK ? <i64>load<u32>(outAt(8)) : -1;
}

/** No gRPC status: Envoy maps the HTTP status for a gRPC request (u32.MAX_VALUE is the SDKs' -1). */
export const NO_GRPC_STATUS: u32 = u32.MAX_VALUE;

/**
 * Envoy answers a gRPC request's local reply trailers-only: `:status` 200, `grpc-status`
 * (`grpcStatus`, else mapped from `status`) and the body as `grpc-message`. Other requests get
 * `status` and the body; `grpcStatus` is then ignored.
 */
export function sendLocalReply(status: u32, details: string, body: string, headers: Array<string>, grpcStatus: u32 = NO_GRPC_STATUS): void {
  let detailBytes = String.UTF8.encode(details);
  let bodyBytes = String.UTF8.encode(body);
  let headerPairs = serializePairs(headers);
  abi.proxy_send_local_response(status, changetype<usize>(detailBytes), detailBytes.byteLength,
    changetype<usize>(bodyBytes), bodyBytes.byteLength, changetype<usize>(headerPairs), headerPairs.byteLength, grpcStatus);
}

export function continueRequest(): void {
  abi.proxy_continue_stream(0);
}

/** Makes later header and reply calls act on the stream `contextId` (used from root-context callbacks). */
export function setEffectiveContext(contextId: u32): void {
  abi.proxy_set_effective_context(contextId);
}
