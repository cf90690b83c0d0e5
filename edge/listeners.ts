import type { ConnectionLimits, Timeouts } from "../infra/topology/model.ts";
import type {
  ConnectionLimitFilter, DownstreamTlsTransportSocket, HttpConnectionManager, HttpFilter, Listener,
} from "./envoy-api.ts";
import type { Endpoint } from "./placement.ts";
import { address, seconds } from "./envoy-fields.ts";
import { BUFFER_LIMIT_BYTES, HTTP2_OPTIONS } from "./limits.ts";

/** The HTTP listeners of every proxy of the edge, hardened as Envoy's edge best practices say. */

export const MAX_REQUEST_HEADERS_KB = 60;

export function connectionLimit(statPrefix: string, connections: ConnectionLimits): ConnectionLimitFilter {
  return {
    name: "envoy.filters.network.connection_limit",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit",
      stat_prefix: statPrefix,
      max_connections: connections.perListener,
    },
  };
}

/** The hardened HTTP connection manager; callers add routes, filters and header mutations. */
export function hardenedConnectionManager(
  statPrefix: string,
  timeouts: Timeouts,
  parts: ConnectionManagerParts,
): HttpConnectionManager {
  return {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: statPrefix,
    codec_type: "AUTO",
    use_remote_address: true,
    normalize_path: true,
    merge_slashes: true,
    max_request_headers_kb: MAX_REQUEST_HEADERS_KB,
    request_timeout: seconds(timeouts.requestMs),
    request_headers_timeout: seconds(timeouts.requestHeadersMs),
    stream_idle_timeout: seconds(timeouts.streamIdleMs),
    common_http_protocol_options: { idle_timeout: "3600s", headers_with_underscores_action: "REJECT_REQUEST" },
    http2_protocol_options: HTTP2_OPTIONS,
    ...(parts.early_header_mutation_extensions ? { early_header_mutation_extensions: parts.early_header_mutation_extensions } : {}),
    route_config: parts.route_config,
    http_filters: parts.http_filters,
    access_log: parts.access_log,
    ...(parts.local_reply_config ? { local_reply_config: parts.local_reply_config } : {}),
  };
}

export type ConnectionManagerParts = Pick<
  HttpConnectionManager,
  "route_config" | "http_filters" | "access_log" | "early_header_mutation_extensions" | "local_reply_config"
>;

/** An HTTP listener (HTTP/1.1 and h2c, or TLS when given) behind a per-listener connection limit. */
export function httpListener(
  name: string,
  endpoint: Endpoint,
  limits: { timeouts: Timeouts; connections: ConnectionLimits },
  parts: ConnectionManagerParts,
  transportSocket?: DownstreamTlsTransportSocket,
): Listener {
  return {
    name,
    address: address(endpoint),
    per_connection_buffer_limit_bytes: BUFFER_LIMIT_BYTES,
    filter_chains: [
      {
        ...(transportSocket ? { transport_socket: transportSocket } : {}),
        filters: [
          connectionLimit(name, limits.connections),
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: hardenedConnectionManager(name, limits.timeouts, parts),
          },
        ],
      },
    ],
  };
}

export const ROUTER_FILTER: HttpFilter = {
  name: "envoy.filters.http.router",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
};
