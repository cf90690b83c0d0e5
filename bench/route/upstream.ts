// The one upstream every arm routes to: a separate Envoy process (pinned with the client, so its
// CPU is never counted as the proxy's) with one direct_response listener per cluster the measured
// POP can name. Each listener answers 200 with the cluster it stands for, in the body and in
// UPSTREAM_CLUSTER_HEADER: a request can only reach that listener through that cluster, so the
// answer proves where the proxy routed it. Two discovery listeners answer tenant lookups.
import type { Topology } from "../../infra/topology/model.ts";
import { localCluster, peerCluster, SERVICE_HEALTH_PATH, TENANT_PATH_PREFIX } from "../../infra/topology/names.ts";
import { backboneListenerTls, type BackboneTlsFiles } from "../../edge/backbone-tls.ts";
import { CLUSTER_HEADER } from "../../edge/headers.ts";
import type { DownstreamTlsTransportSocket } from "../../edge/envoy-api.ts";
import type { Endpoint } from "../../edge/placement.ts";
import { envoyStats } from "../envoy-memory.ts";
import { startEnvoy, type BenchEnvoy } from "./envoy-process.ts";

/** Response header naming the cluster whose upstream listener answered. */
export const UPSTREAM_CLUSTER_HEADER = "x-route-bench-cluster";
/** Echo of the x-edge-cluster request header the upstream received (for error messages). */
export const ECHOED_CLUSTER_HEADER = "x-route-bench-cluster-header";

/**
 * `directory` knows the topology's tenants (200 with their region, 404 for any other host);
 * `any` answers every host with the home region, so every lookup succeeds (arm C3).
 */
export type DiscoveryKind = "directory" | "any";

export interface BenchUpstream {
  envoy: BenchEnvoy;
  /** Listener standing for a cluster of the measured POP; undefined for a name it does not serve. */
  endpointOf(cluster: string): Endpoint | undefined;
  discovery(kind: DiscoveryKind): Endpoint;
  /** Requests a discovery listener has received so far (health checks included). */
  discoveryRequests(kind: DiscoveryKind): Promise<number>;
  stop(): Promise<void>;
}

export interface UpstreamOptions {
  topology: Topology;
  homeRegion: string;
  /** Backbone TLS material the peer listeners present: a POP certificate of that peer region. */
  peerTls(region: string): BackboneTlsFiles;
  ports: () => number;
  dir: string;
  cpus: string | null;
}

interface DirectRoute {
  name: string;
  match: { prefix: string } | { path: string };
  direct_response: { status: number; body: { inline_string: string } };
  response_headers_to_add?: { header: { key: string; value: string } }[];
}

const address = (endpoint: Endpoint) => ({ socket_address: { address: endpoint.address, port_value: endpoint.port } });
const statPrefix = (name: string) => `up_${name.replaceAll(/[^a-z0-9]/g, "_")}`;

function listener(name: string, endpoint: Endpoint, routes: DirectRoute[], tls?: DownstreamTlsTransportSocket) {
  return {
    name,
    address: address(endpoint),
    filter_chains: [
      {
        ...(tls ? { transport_socket: tls } : {}),
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: statPrefix(name),
              codec_type: "AUTO",
              http2_protocol_options: { max_concurrent_streams: 1000 },
              route_config: { name, virtual_hosts: [{ name, domains: ["*"], routes }] },
              http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
            },
          },
        ],
      },
    ],
  };
}

function clusterRoute(cluster: string): DirectRoute {
  return {
    name: cluster,
    match: { prefix: "/" },
    direct_response: { status: 200, body: { inline_string: `{"cluster":"${cluster}"}\n` } },
    response_headers_to_add: [
      { header: { key: UPSTREAM_CLUSTER_HEADER, value: cluster } },
      { header: { key: ECHOED_CLUSTER_HEADER, value: `%REQ(${CLUSTER_HEADER})%` } },
    ],
  };
}

const json = (status: number, body: unknown, name: string, match: DirectRoute["match"]): DirectRoute => ({
  name,
  match,
  direct_response: { status, body: { inline_string: JSON.stringify(body) } },
  response_headers_to_add: [{ header: { key: "content-type", value: "application/json" } }],
});

function discoveryRoutes(kind: DiscoveryKind, topology: Topology, homeRegion: string): DirectRoute[] {
  const health = json(200, { status: "ok" }, "health", { path: SERVICE_HEALTH_PATH });
  if (kind === "any") {
    return [health, json(200, { host: "x", region: homeRegion }, "any-tenant", { prefix: TENANT_PATH_PREFIX })];
  }
  return [
    health,
    ...topology.tenants.map((tenant) => json(200, { host: tenant.host, region: tenant.region }, tenant.host, { path: `${TENANT_PATH_PREFIX}${tenant.host}` })),
    json(404, { error: "unknown tenant" }, "unknown-tenant", { prefix: "/" }),
  ];
}

export async function startBenchUpstream(options: UpstreamOptions): Promise<BenchUpstream> {
  const { topology, homeRegion } = options;
  const endpoints = new Map<string, Endpoint>();
  const at = (): Endpoint => ({ address: "127.0.0.1", port: options.ports() });
  const listeners: unknown[] = [];
  for (const app of topology.apps) {
    const cluster = localCluster(app.name, homeRegion);
    endpoints.set(cluster, at());
    listeners.push(listener(cluster, endpoints.get(cluster)!, [clusterRoute(cluster)]));
  }
  for (const region of topology.regions.filter((candidate) => candidate.name !== homeRegion)) {
    const cluster = peerCluster(region.name);
    endpoints.set(cluster, at());
    // The peer POP's backbone listener TLS: the measured POP's mTLS client really handshakes.
    listeners.push(listener(cluster, endpoints.get(cluster)!, [clusterRoute(cluster)], backboneListenerTls(topology, options.peerTls(region.name))));
  }
  const discovery = new Map<DiscoveryKind, Endpoint>();
  for (const kind of ["directory", "any"] as const) {
    discovery.set(kind, at());
    listeners.push(listener(`discovery-${kind}`, discovery.get(kind)!, discoveryRoutes(kind, topology, homeRegion)));
  }
  const admin = at();
  const envoy = await startEnvoy({
    name: "upstream",
    bootstrap: { node: { id: "route-bench-upstream", cluster: "route-bench" }, admin: { address: address(admin) }, static_resources: { listeners } },
    dir: options.dir,
    adminUrl: `http://${admin.address}:${admin.port}`,
    concurrency: 1,
    cpus: options.cpus,
  });
  return {
    envoy,
    endpointOf: (cluster) => endpoints.get(cluster),
    discovery: (kind) => discovery.get(kind)!,
    async discoveryRequests(kind) {
      const name = `http.${statPrefix(`discovery-${kind}`)}.downstream_rq_total`;
      return (await envoyStats(envoy.adminUrl, [name])).get(name) ?? 0;
    },
    stop: () => envoy.stop(),
  };
}
