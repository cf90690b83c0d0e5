import type { App, Topology } from "../infra/topology/model.ts";
import { failsOver, findRegion, mostServingRegions, servingOrder } from "../infra/topology/inventory.ts";
import {
  DISCOVERY_CLUSTER, SERVICE_HEALTH_PATH, EDGE_HEALTH_PATH, appHealthPath, failoverCluster, localCluster, peerAppCluster, peerCluster,
  popId,
} from "../infra/topology/names.ts";
import type {
  AggregateCluster, Bootstrap, Cluster, EarlyHeaderMutationExtension, HeaderMutationRule, HealthCheckFilter, HttpFilter, LocalReplyConfig, Route,
  RouteConfiguration,
} from "./envoy-api.ts";
import { backboneListenerTls, peerClusterTls } from "./backbone-tls.ts";
import { publicListenerTls } from "./public-tls.ts";
import { JWT_FILTER, jwtAuthnFilter } from "./jwt-authn.ts";
import { FILTER_ROOT_ID, regionRouterConfig } from "./filter-config.ts";
import {
  BACKBONE_STRIPPED_HEADERS, CLAIM_HEADER, CLUSTER_HEADER, INTERNAL_HEADER_PREFIX, OWNER_HEADER, UNSERVED_HEADER,
} from "./headers.ts";
import { address, seconds } from "./envoy-fields.ts";
import { httpListener, ROUTER_FILTER } from "./listeners.ts";
import { cluster } from "./clusters.ts";
import { overloadManager } from "./overload.ts";
import { datacenterConnectMs, failoverSettings, UNSERVED_MARK, unavailableReply } from "./failover.ts";
import { appRoutes } from "./app-routes.ts";
import { fromRegionHeaders, wanDelayFilters } from "./wan.ts";
import { accessLog, adminCluster, appHealthRoute, healthRoute, statsListener } from "./observability.ts";
import type { Placement, RenderInputs } from "./placement.ts";

/** Bootstrap of one POP of the outer rim. */

export const PUBLIC_LISTENER = "public";
export const PUBLIC_TLS_LISTENER = "public_tls";
export const BACKBONE_LISTENER = "backbone";
export { JWT_FILTER, JWT_PROVIDER } from "./jwt-authn.ts";
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

function popFilters(topology: Topology, region: string, pop: string, inputs: RenderInputs): HttpFilter[] {
  return [
    jwtAuthnFilter(inputs.jwtAuthn),
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
          // A POP that cannot run the router must not forward at all (fail closed); a VM that fails
          // at run time is replaced by a fresh one on the next request instead of failing every
          // request until a restart.
          failure_policy: "FAIL_RELOAD",
        },
      },
    },
    ROUTER_FILTER,
  ];
}

/**
 * How a POP leaves its peers' rotation before it is replaced (rolling updates): after the admin's
 * POST /healthcheck/fail, every health check peers send it (`/edge/healthz...`) answers 503, and every
 * response it sends a peer carries `x-envoy-immediate-health-check-fail`, which takes it out of that
 * peer's clusters at once. Until then the checks pass through to their routes unchanged.
 */
export const DRAIN_FILTER: HealthCheckFilter = {
  name: "envoy.filters.http.health_check",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
    pass_through_mode: true,
    headers: [{ name: ":path", string_match: { prefix: EDGE_HEALTH_PATH } }],
  },
};

/** 301 to the same host and path over HTTPS on `port`, for every method and path. */
function httpsRedirect(port: number): Route {
  return { name: "https-redirect", match: { prefix: "/" }, redirect: { https_redirect: true, port_redirect: port, response_code: "MOVED_PERMANENTLY" } };
}

function routeConfig(name: string, routes: Route[], extra: Partial<RouteConfiguration> = {}): RouteConfiguration {
  return { name, virtual_hosts: [{ name, domains: ["*"], routes }], ...extra };
}

/**
 * Envoy's own reply when the owner region cannot take a request (every host of the local or peer
 * cluster is down): 503 JSON naming the owner the region router decided. Towards a peer it is
 * marked unserved, so the entry POP may try the app's next serving region.
 */
function ownerUnavailableReply(pop: string, towardsPeer: boolean): LocalReplyConfig {
  const fields = { message: "owner region unavailable", region: `%REQ(${OWNER_HEADER})%`, app: "%ROUTE_NAME%", pop };
  return unavailableReply("owner_unavailable", fields, towardsPeer ? [UNSERVED_MARK] : []);
}

/**
 * For an app that fails over, the clusters a failover cluster names: the local datacenter's app
 * cluster, or per other region that app's own backbone cluster, whose health is the app's health in
 * that region. By region; only regions some serving order names.
 */
function failoverClusters(topology: Topology, region: string, app: App): { aggregates: AggregateCluster[]; peers: string[] } {
  const step = (serving: string) => (serving === region ? localCluster(app.name, region) : peerAppCluster(app.name, serving));
  const peers = new Set<string>();
  const aggregates = topology.regions.flatMap((owner): AggregateCluster[] => {
    const order = servingOrder(topology, app, owner.name);
    if (order.length < 2) return [];
    for (const serving of order) if (serving !== region) peers.add(serving);
    return [{
      name: failoverCluster(app.name, owner.name),
      connect_timeout: seconds(topology.timeouts.connectMs),
      lb_policy: "CLUSTER_PROVIDED",
      cluster_type: {
        name: "envoy.clusters.aggregate",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig", clusters: order.map(step) },
      },
    }];
  });
  return { aggregates, peers: topology.regions.map((peer) => peer.name).filter((name) => peers.has(name)) };
}

/**
 * Exactly the clusters the region router can name, plus `discovery`. The tenant directory is
 * global, so discovery lists this region's service first and every other reachable region's as
 * lower priorities, in topology order.
 */
function popClusters(topology: Topology, region: string, pop: string, placement: Placement, inputs: RenderInputs): (Cluster | AggregateCluster)[] {
  const { connectMs } = topology.timeouts;
  const { connections } = topology.resources;
  const type = placement.clusterType;
  // Each app's local cluster checks that app's health through the ingress: a POP sends nothing to a
  // datacenter whose app is down (it answers owner_unavailable itself), a restarted datacenter gets
  // traffic only once its app answers, and a failover cluster moves on when the app is down here.
  const local = topology.apps.map((app) => ({
    ...cluster({
      name: localCluster(app.name, region),
      type,
      endpoints: placement.ingressEndpoints(region),
      protocol: "h2c",
      connectTimeoutMs: datacenterConnectMs(topology.timeouts),
    }),
    ...failoverSettings(appHealthPath(app.name), connections),
  }));
  const own = findRegion(topology, region);
  const others = topology.regions.filter((peer) => peer.name !== region);
  const backbone = (name: string, peer: string, healthPath: string): Cluster => ({
    ...cluster({
      name,
      type,
      endpoints: findRegion(topology, peer).pops.map((peerPop) => placement.popBackboneEndpoint(peer, peerPop.name, region)),
      protocol: "h2c",
      connectTimeoutMs: connectMs,
      transportSocket: peerClusterTls(topology, peer, inputs.backboneTls(region, pop)),
    }),
    ...failoverSettings(healthPath, connections),
  });
  const peers = others.map((peer) => backbone(peerCluster(peer.name), peer.name, EDGE_HEALTH_PATH));
  const failover = topology.apps.filter((app) => failsOver(topology, app)).flatMap((app) => {
    const { aggregates, peers: serving } = failoverClusters(topology, region, app);
    return [...serving.map((peer) => backbone(peerAppCluster(app.name, peer), peer, appHealthPath(app.name))), ...aggregates];
  });
  const discovery = {
    ...cluster({
      name: DISCOVERY_CLUSTER,
      type,
      endpoints: [placement.discoveryEndpoint(region)],
      // Another Docker host's discovery service is not reachable from here.
      lowerPriorities: others.filter((peer) => peer.dockerHost === own.dockerHost).map((peer) => [placement.discoveryEndpoint(peer.name)]),
      protocol: "http1",
      connectTimeoutMs: connectMs,
    }),
    ...failoverSettings(SERVICE_HEALTH_PATH, connections, "HTTP1"),
  };
  return [...local, ...peers, ...failover, discovery];
}

export function popBootstrap(topology: Topology, region: string, pop: string, placement: Placement, inputs: RenderInputs): Bootstrap {
  findRegion(topology, region);
  const listeners = placement.popListeners(region, pop);
  const filters = popFilters(topology, region, pop, inputs);
  const routes = appRoutes(
    topology,
    () => ({ cluster_header: CLUSTER_HEADER, cluster_not_found_response_code: "SERVICE_UNAVAILABLE" }),
    (app) => mostServingRegions(topology, app),
  );
  // Peers' failover clusters check each app that fails over through this POP to its datacenter.
  const appHealth = topology.apps
    .filter((app) => failsOver(topology, app))
    .map((app) => appHealthRoute(app.name, localCluster(app.name, region), [JWT_FILTER]));
  const id = popId(region, pop);
  const limits = { timeouts: topology.timeouts, connections: topology.resources.connections };
  const requestHeaders = fromRegionHeaders(topology, region);
  const fromRegion = requestHeaders.length > 0 ? { request_headers_to_add: requestHeaders } : {};
  // The client listeners, cleartext and TLS, serve alike; with redirectCleartext the cleartext one
  // answers only the health path and sends everything else to HTTPS on the POP's public TLS port.
  const publicParts = (name: string, served: boolean) => ({
    early_header_mutation_extensions: PUBLIC_HEADER_MUTATION,
    // The unserved mark is for the POP that holds the decision; the client never sees it.
    // Redirected requests are not decided: no token check, no region router, nothing forwarded.
    route_config: routeConfig(name, served ? routes : [healthRoute([]), httpsRedirect(placement.publicTlsPort(region, pop))], {
      response_headers_to_remove: [UNSERVED_HEADER],
      ...fromRegion,
    }),
    http_filters: served ? filters : [ROUTER_FILTER],
    access_log: accessLog(),
    local_reply_config: ownerUnavailableReply(id, false),
  });
  return {
    node: { id, cluster: region },
    admin: { address: address(listeners.admin) },
    static_resources: {
      listeners: [
        httpListener(PUBLIC_LISTENER, listeners.client, limits, publicParts(PUBLIC_LISTENER, !topology.tls.redirectCleartext)),
        httpListener(PUBLIC_TLS_LISTENER, listeners.clientTls, limits, publicParts(PUBLIC_TLS_LISTENER, true), publicListenerTls(inputs.publicTls(region, pop))),
        {
          ...httpListener(BACKBONE_LISTENER, listeners.backbone, limits, {
            early_header_mutation_extensions: BACKBONE_HEADER_MUTATION,
            // The health route skips jwt_authn but runs the region router, which lets the path through: a
            // POP whose Wasm VM failed fails its peers' health checks and leaves their rotation.
            route_config: routeConfig(BACKBONE_LISTENER, [healthRoute([JWT_FILTER]), ...appHealth, ...routes], fromRegion),
            http_filters: [DRAIN_FILTER, ...wanDelayFilters(topology, region), ...filters],
            access_log: accessLog(),
            local_reply_config: ownerUnavailableReply(id, true),
          }, backboneListenerTls(topology, inputs.backboneTls(region, pop))),
          // Draining for a rolling update fails the peers' health checks but keeps their connections:
          // with the default drain type every connection would be closed, failing the requests on it.
          drain_type: "MODIFY_ONLY",
        },
        statsListener(listeners.stats, limits),
      ],
      clusters: [...popClusters(topology, region, pop, placement, inputs), adminCluster(listeners.admin, topology.timeouts.connectMs)],
    },
    overload_manager: overloadManager(topology.resources.memoryMb.pop, topology.resources.connections),
  };
}
