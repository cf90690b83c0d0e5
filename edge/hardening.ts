import type { ConnectionLimits, Timeouts } from "../infra/topology/model.ts";
import type {
  Address, Cluster, ConnectionLimitFilter, DownstreamTlsTransportSocket, Duration, Http2ProtocolOptions, HttpConnectionManager, HttpFilter,
  HttpProtocolOptions, Listener, OverloadManager, UpstreamTlsTransportSocket,
} from "./envoy-api.ts";
import type { Endpoint } from "./placement.ts";

/** Settings from Envoy's edge best practices, shared by every proxy of the edge. */

export const BUFFER_LIMIT_BYTES = 32 * 1024;
export const MAX_REQUEST_HEADERS_KB = 60;
/** Share of the container memory limit the Envoy heap may use, leaving room for V8 and stacks, so overload actions fire before the OOM killer. */
export const HEAP_SHARE_OF_MEMORY = 0.75;

export const HTTP2_OPTIONS: Http2ProtocolOptions = {
  max_concurrent_streams: 100,
  initial_stream_window_size: 65_536,
  initial_connection_window_size: 1_048_576,
};

/**
 * Towards peers and datacenters, a PING every second finds a dead upstream (a stopped POP leaves
 * no one to send a reset) within about 2 s, so its streams reset and retry on another host.
 */
const UPSTREAM_HTTP2_OPTIONS: Http2ProtocolOptions = {
  ...HTTP2_OPTIONS,
  connection_keepalive: { interval: "1s", timeout: "1s" },
};

export function seconds(milliseconds: number): Duration {
  return `${milliseconds / 1000}s`;
}

export function address(endpoint: Endpoint): Address {
  return { socket_address: { address: endpoint.address, port_value: endpoint.port } };
}

export function overloadManager(memoryMb: number, connections: ConnectionLimits): OverloadManager {
  const heapTrigger = (value: number) => [{ name: "envoy.resource_monitors.fixed_heap" as const, threshold: { value } }];
  return {
    refresh_interval: "0.25s",
    resource_monitors: [
      {
        name: "envoy.resource_monitors.fixed_heap",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
          max_heap_size_bytes: Math.floor(memoryMb * HEAP_SHARE_OF_MEMORY) * 1024 * 1024,
        },
      },
      {
        name: "envoy.resource_monitors.global_downstream_max_connections",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
          max_active_downstream_connections: connections.global,
        },
      },
    ],
    actions: [
      { name: "envoy.overload_actions.shrink_heap", triggers: heapTrigger(0.95) },
      { name: "envoy.overload_actions.stop_accepting_requests", triggers: heapTrigger(0.98) },
    ],
  };
}

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

export type UpstreamProtocol = "h2c" | "http1";

function upstreamProtocol(protocol: UpstreamProtocol): HttpProtocolOptions {
  return {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    common_http_protocol_options: { idle_timeout: "60s" },
    explicit_http_config: protocol === "h2c" ? { http2_protocol_options: UPSTREAM_HTTP2_OPTIONS } : { http_protocol_options: {} },
  };
}

export interface ClusterSpec {
  name: string;
  type: "STATIC" | "STRICT_DNS";
  endpoints: Endpoint[];
  /** Lower priorities, in order: each takes traffic only while the ones before it are unhealthy. */
  lowerPriorities?: Endpoint[][];
  protocol: UpstreamProtocol;
  connectTimeoutMs: number;
  /** TLS towards the endpoints; cleartext when absent. */
  transportSocket?: UpstreamTlsTransportSocket;
}

export function cluster(spec: ClusterSpec): Cluster {
  return {
    name: spec.name,
    type: spec.type,
    ...(spec.type === "STRICT_DNS" ? { dns_lookup_family: "V4_ONLY" as const } : {}),
    connect_timeout: seconds(spec.connectTimeoutMs),
    lb_policy: "ROUND_ROBIN",
    per_connection_buffer_limit_bytes: BUFFER_LIMIT_BYTES,
    load_assignment: {
      cluster_name: spec.name,
      endpoints: [spec.endpoints, ...(spec.lowerPriorities ?? [])].map((endpoints, priority) => ({
        ...(priority > 0 ? { priority } : {}),
        lb_endpoints: endpoints.map((endpoint) => ({ endpoint: { address: address(endpoint) } })),
      })),
    },
    typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": upstreamProtocol(spec.protocol) },
    ...(spec.transportSocket ? { transport_socket: spec.transportSocket } : {}),
  };
}
