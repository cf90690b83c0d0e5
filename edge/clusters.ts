import type { AggregateCluster, Cluster, Http2ProtocolOptions, HttpProtocolOptions, UpstreamTlsTransportSocket } from "./envoy-api.ts";
import type { Endpoint } from "./placement.ts";
import { address, seconds } from "./envoy-fields.ts";
import { BUFFER_LIMIT_BYTES, HTTP2_OPTIONS } from "./limits.ts";

/** The upstream clusters of every proxy of the edge: endpoints by priority, protocol, TLS. */

/**
 * Towards peers and datacenters, a PING every second finds a dead upstream (a stopped POP leaves
 * no one to send a reset) within about 2 s, so its streams reset and retry on another host.
 */
const UPSTREAM_HTTP2_OPTIONS: Http2ProtocolOptions = {
  ...HTTP2_OPTIONS,
  connection_keepalive: { interval: "1s", timeout: "1s" },
};

export type UpstreamProtocol = "h2c" | "http1";

/**
 * Containers are found by name on the Docker networks. A restarted one may come back on another
 * address, which a cluster learns only when it resolves again: every second, not Envoy's 5 s, so a
 * returning datacenter or POP is reached as soon as it answers (Docker's resolver is local).
 */
export const DNS_REFRESH_RATE = "1s";

/**
 * A priority keeps all of its traffic while any host of it is healthy. Envoy's default (140%) moves
 * a share of it to the next priority as soon as fewer than 72% of its hosts are healthy: in a
 * failover cluster, a peer region with one of two POPs out (or not yet checked after a start) would
 * send 30% of its owner's requests to the next region while the owner can serve them all. A lost POP
 * is not a lost region; 100x keeps a priority whole down to its last host in a hundred.
 */
export const OVERPROVISIONING_PERCENT = 10_000;

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
    ...(spec.type === "STRICT_DNS" ? { dns_lookup_family: "V4_ONLY" as const, dns_refresh_rate: DNS_REFRESH_RATE } : {}),
    connect_timeout: seconds(spec.connectTimeoutMs),
    lb_policy: "ROUND_ROBIN",
    per_connection_buffer_limit_bytes: BUFFER_LIMIT_BYTES,
    load_assignment: {
      cluster_name: spec.name,
      endpoints: [spec.endpoints, ...(spec.lowerPriorities ?? [])].map((endpoints, priority) => ({
        ...(priority > 0 ? { priority } : {}),
        lb_endpoints: endpoints.map((endpoint) => ({ endpoint: { address: address(endpoint) } })),
      })),
      policy: { overprovisioning_factor: OVERPROVISIONING_PERCENT },
    },
    typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": upstreamProtocol(spec.protocol) },
    ...(spec.transportSocket ? { transport_socket: spec.transportSocket } : {}),
  };
}

/** The clusters of `clusters` that have endpoints of their own (an aggregate cluster has none). */
export function hostClusters(clusters: readonly (Cluster | AggregateCluster)[]): Cluster[] {
  return clusters.filter((candidate): candidate is Cluster => !("cluster_type" in candidate));
}
