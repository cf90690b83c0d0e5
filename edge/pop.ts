import type { Topology } from "../infra/topology/model.ts";
import { findRegion } from "../infra/topology/inventory.ts";
import { DISCOVERY_CLUSTER, EDGE_HEALTH_PATH, localCluster, peerCluster, popId } from "../infra/topology/names.ts";
import type {
  Bootstrap, Cluster, EarlyHeaderMutationExtension, HeaderMutationRule, HttpFilter, OutlierDetection, Route,
  RouteConfiguration,
} from "./envoy-api.ts";
import { backboneListenerTls, peerClusterTls } from "./backbone-tls.ts";
import { FILTER_ROOT_ID, regionRouterConfig } from "./filter-config.ts";
import { BACKBONE_STRIPPED_HEADERS, CLAIM_HEADER, CLUSTER_HEADER, INTERNAL_HEADER_PREFIX } from "./headers.ts";
import { address, cluster, httpListener, overloadManager, RETRY_POLICY, ROUTER_FILTER, seconds } from "./hardening.ts";
import { accessLog, adminCluster, healthCheck, healthRoute, statsListener } from "./observability.ts";
import type { Placement, RenderInputs } from "./placement.ts";

/** Bootstrap of one POP of the outer rim. */

export const PUBLIC_LISTENER = "public";
export const BACKBONE_LISTENER = "backbone";
export const JWT_PROVIDER = "users";
export const JWT_FILTER = "envoy.filters.http.jwt_authn";
export const WASM_FILTER = "envoy.filters.http.wasm";

function headerMutation(rules: HeaderMutationRule[]): EarlyHeaderMutationExtension[] {
  return [
    {
      name: "envoy.http.early_header_mutation.header_mutation",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation",
        mutations: rules,
      },
    },
  ];
}

/** Clients may not set any internal header: each one means something only when the edge sets it. */
export const PUBLIC_HEADER_MUTATION = headerMutation([{ remove_on_match: { key_matcher: { prefix: INTERNAL_HEADER_PREFIX } } }]);
/** Peers keep the hop count (loop guard) but never choose the cluster or assert a claim. */
export const BACKBONE_HEADER_MUTATION = headerMutation(BACKBONE_STRIPPED_HEADERS.map((name) => ({ remove: name })));

const outlierDetection: OutlierDetection = {
  consecutive_5xx: 5,
  consecutive_gateway_failure: 3,
  interval: "5s",
  base_ejection_time: "30s",
  max_ejection_percent: 50,
};

function popFilters(topology: Topology, region: string, pop: string, inputs: RenderInputs): HttpFilter[] {
  return [
    {
      name: JWT_FILTER,
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers: {
          [JWT_PROVIDER]: {
            issuer: topology.jwt.issuer,
            audiences: topology.jwt.audiences,
            local_jwks: { filename: inputs.jwksPath },
            forward: true,
            claim_to_headers: [{ header_name: CLAIM_HEADER, claim_name: topology.jwt.regionClaim }],
            clear_route_cache: true,
          },
        },
        // Without a token the request passes (the tenant lookup decides); a bad token is a 401.
        rules: [
          {
            match: { prefix: "/" },
            requires: { requires_any: { requirements: [{ provider_name: JWT_PROVIDER }, { allow_missing: {} }] } },
          },
        ],
      },
    },
    {
      name: WASM_FILTER,
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        config: {
          name: FILTER_ROOT_ID,
          root_id: FILTER_ROOT_ID,
          configuration: {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            value: JSON.stringify(regionRouterConfig(topology, region, pop)),
          },
          vm_config: {
            vm_id: FILTER_ROOT_ID,
            runtime: "envoy.wasm.runtime.v8",
            code: { local: { filename: inputs.wasmPath } },
          },
          // A POP that cannot run the router must not forward at all.
          fail_open: false,
        },
      },
    },
    ROUTER_FILTER,
  ];
}

function appRoutes(topology: Topology): Route[] {
  return topology.apps.map((app) => ({
    name: app.name,
    match: { prefix: app.prefix },
    route: {
      cluster_header: CLUSTER_HEADER,
      cluster_not_found_response_code: "SERVICE_UNAVAILABLE",
      timeout: seconds(topology.timeouts.routeMs),
      retry_policy: RETRY_POLICY,
    },
  }));
}

function routeConfig(name: string, routes: Route[]): RouteConfiguration {
  return { name, virtual_hosts: [{ name, domains: ["*"], routes }] };
}

/** Exactly the clusters the region router can name, plus `discovery`. */
function popClusters(topology: Topology, region: string, pop: string, placement: Placement, inputs: RenderInputs): Cluster[] {
  const { connectMs } = topology.timeouts;
  const type = placement.clusterType;
  const local = topology.apps.map((app) => ({
    ...cluster({ name: localCluster(app.name, region), type, endpoints: placement.ingressEndpoints(region), protocol: "h2c", connectTimeoutMs: connectMs }),
    health_checks: [healthCheck(EDGE_HEALTH_PATH)],
    outlier_detection: outlierDetection,
  }));
  const peers = topology.regions
    .filter((peer) => peer.name !== region)
    .map((peer) => ({
      ...cluster({
        name: peerCluster(peer.name),
        type,
        endpoints: peer.pops.map((pop) => placement.popBackboneEndpoint(peer.name, pop.name, region)),
        protocol: "h2c",
        connectTimeoutMs: connectMs,
        transportSocket: peerClusterTls(topology, peer.name, inputs.backboneTls(region, pop)),
      }),
      health_checks: [healthCheck(EDGE_HEALTH_PATH)],
      outlier_detection: outlierDetection,
    }));
  const discovery = cluster({
    name: DISCOVERY_CLUSTER,
    type,
    endpoints: [placement.discoveryEndpoint(region)],
    protocol: "http1",
    connectTimeoutMs: connectMs,
  });
  return [...local, ...peers, discovery];
}

export function popBootstrap(topology: Topology, region: string, pop: string, placement: Placement, inputs: RenderInputs): Bootstrap {
  findRegion(topology, region);
  const listeners = placement.popListeners(region, pop);
  const filters = popFilters(topology, region, pop, inputs);
  const routes = appRoutes(topology);
  const limits = { timeouts: topology.timeouts, connections: topology.resources.connections };
  return {
    node: { id: popId(region, pop), cluster: region },
    admin: { address: address(listeners.admin) },
    static_resources: {
      listeners: [
        httpListener(PUBLIC_LISTENER, listeners.client, limits, {
          early_header_mutation_extensions: PUBLIC_HEADER_MUTATION,
          route_config: routeConfig(PUBLIC_LISTENER, routes),
          http_filters: filters,
          access_log: accessLog(),
        }),
        httpListener(BACKBONE_LISTENER, listeners.backbone, limits, {
          early_header_mutation_extensions: BACKBONE_HEADER_MUTATION,
          route_config: routeConfig(BACKBONE_LISTENER, [healthRoute([JWT_FILTER, WASM_FILTER]), ...routes]),
          http_filters: filters,
          access_log: accessLog(),
        }, backboneListenerTls(topology, inputs.backboneTls(region, pop))),
        statsListener(listeners.stats, limits),
      ],
      clusters: [...popClusters(topology, region, pop, placement, inputs), adminCluster(listeners.admin, topology.timeouts.connectMs)],
    },
    overload_manager: overloadManager(topology.resources.memoryMb.pop, topology.resources.connections),
  };
}
