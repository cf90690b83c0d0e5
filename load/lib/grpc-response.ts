// What a gRPC call through the edge says about its route, for the k6 gRPC script. Pure functions with
// no k6 imports (Node tests run them too); a served call is classified exactly as an HTTP request is.
import { classifyResponse, NOT_SERVED, type Classification, type EdgeResponse, type RoutedRequest } from "./edge-response.ts";

export const GRPC_OK = 0;
export const GRPC_INTERNAL = 13;

/** The part of a k6 gRPC response the classification reads; k6 gives each metadata key a list of values. */
export interface GrpcEdgeResponse {
  status: number;
  message: { region?: string; hops?: number } | null;
  headers: Record<string, string[] | string>;
  trailers: Record<string, string[] | string>;
  error: { message: string } | null;
}

/** Metadata with the first value of each key. */
export function firstValues(metadata: Record<string, string[] | string> | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) values[key] = first;
  }
  return values;
}

/**
 * The call as an HTTP answer: OK is a 200 whose body is the reply, other statuses carry no body. An
 * answer without messages (trailers-only, every edge error) has its metadata in the trailers.
 */
export function asEdgeResponse(response: GrpcEdgeResponse): EdgeResponse {
  const headers = { ...firstValues(response.trailers), ...firstValues(response.headers) };
  return response.status === GRPC_OK
    ? { status: 200, body: JSON.stringify(response.message ?? null), headers }
    : { status: 0, body: null, headers };
}

/**
 * ok / failover / misroute as for HTTP (classifyResponse) when the call was answered OK; INTERNAL
 * loop_detected (the POPs disagreed about the owner) is a misroute; any other status is an error.
 */
export function classifyGrpcResponse(request: RoutedRequest, response: GrpcEdgeResponse, regions: string[]): Classification {
  if (response.status === GRPC_OK) return classifyResponse(request, asEdgeResponse(response), regions);
  const message = response.error?.message ?? "";
  if (response.status === GRPC_INTERNAL && message.startsWith("loop_detected:")) {
    return { outcome: "misroute", servingRegion: NOT_SERVED, reason: `INTERNAL ${message}` };
  }
  return { outcome: "error", servingRegion: NOT_SERVED, reason: `gRPC status ${response.status}${message ? ` ${message}` : ""}` };
}
