import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import type { Topology } from "../../infra/topology/model.ts";
import { validateTopology } from "../../infra/topology/load.ts";
import {
  DISCOVERY_CLUSTER, EDGE_HEALTH_PATH, SERVICE_HEALTH_PATH, appHealthPath, localCluster, peerAppCluster, peerCluster, popContainer, popSpiffeId,
} from "../../infra/topology/names.ts";
import { mostServingRegions, servingOrder } from "../../infra/topology/inventory.ts";
import { RETRIES, TRIES_PER_REGION } from "../failover.ts";
import { bootstrapYaml, renderProxies, type RenderedProxy } from "../bootstraps.ts";
import { hostClusters } from "../clusters.ts";
import type { Bootstrap, Cluster, HttpConnectionManager, Listener, RouteAction, WasmFilter } from "../envoy-api.ts";
import type { RegionRouterConfig } from "../filter-config.ts";
import { CLAIM_HEADER, CLUSTER_HEADER, HOP_HEADER, INTERNAL_HEADER_PREFIX, POP_HEADER, ROUTE_HEADER } from "../headers.ts";
import { dockerPlacement, loopbackPlacement, type Placement } from "../placement.ts";
import { defaultTopology, fourRegionTopology, sequentialPorts } from "./fixtures.ts";

const inputs = {
  wasmPath: "/opt/region_router.wasm",
  jwtAuthn: { path: "/opt/jwt/jwt-authn.json", watchedDir: "/opt/jwt" },
  topologyPath: "/work/topologies/t.yaml",
  backboneTls: (region: string, pop: string) => ({
    caCertPath: "/opt/backbone/ca.crt",
    certPath: `/opt/backbone/${region}-${pop}.crt`,
    keyPath: `/opt/backbone/${region}-${pop}.key`,
  }),
  publicTls: (region: string, pop: string) => ({ sdsPath: `/opt/public-tls/${region}-${pop}/pop.yaml`, watchedDir: `/opt/public-tls/${region}-${pop}` }),
};
const INTERNAL_HEADERS = [CLUSTER_HEADER, HOP_HEADER, CLAIM_HEADER, POP_HEADER, ROUTE_HEADER];

function listener(bootstrap: Bootstrap, name: string): Listener {
  const found = bootstrap.static_resources.listeners.find((candidate) => candidate.name === name);
  assert.ok(found, `listener ${name} missing`);
  return found;
}

function connectionManager(target: Listener): HttpConnectionManager {
  const filter = target.filter_chains[0]?.filters.find((candidate) => candidate.name === "envoy.filters.network.http_connection_manager");
  assert.ok(filter && filter.name === "envoy.filters.network.http_connection_manager");
  return filter.typed_config;
}

function clusterNamed(bootstrap: Bootstrap, name: string): Cluster {
  const found = hostClusters(bootstrap.static_resources.clusters).find((candidate) => candidate.name === name);
  assert.ok(found, `cluster ${name} missing`);
  return found;
}

function endpointsOf(target: Cluster): string[] {
  return target.load_assignment.endpoints.flatMap((group) =>
    group.lb_endpoints.map(({ endpoint }) => `${endpoint.address.socket_address.address}:${endpoint.address.socket_address.port_value}`),
  );
}

function filterConfig(bootstrap: Bootstrap, listenerName: string): RegionRouterConfig {
  const wasm = connectionManager(listener(bootstrap, listenerName)).http_filters.find(
    (filter): filter is WasmFilter => filter.name === "envoy.filters.http.wasm",
  );
  assert.ok(wasm, `no wasm filter on ${listenerName}`);
  return JSON.parse(wasm.typed_config.config.configuration.value) as RegionRouterConfig;
}

/** Every cluster the region router can put in the cluster header, from its own configuration. */
function clustersTheFilterCanName(config: RegionRouterConfig): string[] {
  const local = config.apps.map(({ app }) => config.localClusterPattern.replace("{app}", app).replace("{region}", config.region));
  const peers = config.regions.filter((region) => region !== config.region).map((region) => config.peerClusterPattern.replace("{region}", region));
  const failover = config.apps.flatMap(({ app, serving }) =>
    serving.flatMap((order, owner) => (order.length > 1 ? [config.failoverClusterPattern.replace("{app}", app).replace("{region}", config.regions[owner]!)] : [])));
  return [...local, ...peers, ...failover];
}

/**
 * What each failover cluster the filter can name must try, in order: per serving region of its
 * owner, the local app cluster or that region's app backbone cluster.
 */
function failoverSteps(config: RegionRouterConfig): Map<string, string[]> {
  const steps = new Map<string, string[]>();
  for (const { app, serving } of config.apps) {
    serving.forEach((order, owner) => {
      if (order.length < 2) return;
      const name = config.failoverClusterPattern.replace("{app}", app).replace("{region}", config.regions[owner]!);
      steps.set(name, order.map((region) => (region === config.region ? localCluster(app, region) : peerAppCluster(app, region))));
    });
  }
  return steps;
}

function pops(proxies: RenderedProxy[]) {
  return proxies.flatMap((proxy) => (proxy.kind === "pop" ? [proxy] : []));
}

function ingresses(proxies: RenderedProxy[]) {
  return proxies.flatMap((proxy) => (proxy.kind === "ingress" ? [proxy] : []));
}

const topologies: [string, () => Topology][] = [
  ["default topology", defaultTopology],
  ["four-region topology", fourRegionTopology],
];

for (const [label, build] of topologies) {
  const topology = build();
  const placements: [string, Placement][] = [
    ["docker", dockerPlacement(topology)],
    ["loopback", loopbackPlacement(topology, sequentialPorts())],
  ];
  for (const [placementLabel, placement] of placements) {
    describe(`${label}, ${placementLabel} placement`, () => {
      const proxies = renderProxies(topology, placement, inputs);

      it("Render: one bootstrap per POP and per ingress replica", () => {
        const popCount = topology.regions.reduce((sum, region) => sum + region.pops.length, 0);
        const ingressCount = topology.regions.reduce((sum, region) => sum + region.datacenter.ingressReplicas, 0);
        assert.equal(pops(proxies).length, popCount);
        assert.equal(ingresses(proxies).length, ingressCount);
        assert.equal(new Set(proxies.map((proxy) => proxy.container)).size, proxies.length);
      });

      it("POP: every peer region has an edge-router cluster with all of that region's POPs", () => {
        for (const proxy of pops(proxies)) {
          for (const peer of topology.regions.filter((region) => region.name !== proxy.region)) {
            const peerRouters = clusterNamed(proxy.bootstrap, peerCluster(peer.name));
            const expected = peer.pops.map((pop) => placement.popBackboneEndpoint(peer.name, pop.name, proxy.region));
            assert.deepEqual(endpointsOf(peerRouters), expected.map((endpoint) => `${endpoint.address}:${endpoint.port}`));
            assert.equal(peerRouters.health_checks?.[0]?.http_health_check.path, EDGE_HEALTH_PATH);
            assert.ok(peerRouters.outlier_detection);
          }
          assert.equal(
            proxy.bootstrap.static_resources.clusters.some((candidate) => candidate.name === peerCluster(proxy.region)),
            false,
            "a POP never has a peer cluster for its own region",
          );
        }
      });

      it("POP: the backbone listener requires a client certificate from the backbone CA naming a POP of the topology", () => {
        const everyPop = topology.regions.flatMap((region) => region.pops.map((pop) => popSpiffeId(topology.project, region.name, pop.name)));
        for (const proxy of pops(proxies)) {
          const tls = listener(proxy.bootstrap, "backbone").filter_chains[0]?.transport_socket?.typed_config;
          assert.ok(tls, "backbone listener has TLS");
          assert.equal(tls.require_client_certificate, true);
          const context = tls.common_tls_context;
          assert.equal(context.validation_context!.trusted_ca.filename, "/opt/backbone/ca.crt");
          assert.deepEqual(context.validation_context!.match_typed_subject_alt_names.map((san) => [san.san_type, san.matcher]), everyPop.map((id) => ["URI", { exact: id }]));
          assert.deepEqual(context.tls_certificates!, [{
            certificate_chain: { filename: `/opt/backbone/${proxy.region}-${proxy.pop}.crt` },
            private_key: { filename: `/opt/backbone/${proxy.region}-${proxy.pop}.key` },
          }]);
          assert.deepEqual(context.alpn_protocols, ["h2"]);
          assert.equal(context.tls_params.tls_minimum_protocol_version, "TLSv1_2");
          assert.equal(listener(proxy.bootstrap, "public").filter_chains[0]?.transport_socket, undefined, "clients connect in cleartext");
        }
      });

      it("POP: each peer cluster presents this POP's certificate and verifies exactly the target region's POP SANs", () => {
        for (const proxy of pops(proxies)) {
          for (const peer of topology.regions.filter((region) => region.name !== proxy.region)) {
            const tls = clusterNamed(proxy.bootstrap, peerCluster(peer.name)).transport_socket?.typed_config;
            assert.ok(tls, `${peerCluster(peer.name)} has TLS`);
            const context = tls.common_tls_context;
            assert.deepEqual(
              context.validation_context!.match_typed_subject_alt_names,
              peer.pops.map((pop) => ({ san_type: "URI", matcher: { exact: popSpiffeId(topology.project, peer.name, pop.name) } })),
            );
            assert.equal(context.validation_context!.trusted_ca.filename, "/opt/backbone/ca.crt");
            assert.equal(context.tls_certificates?.[0]?.certificate_chain.filename, `/opt/backbone/${proxy.region}-${proxy.pop}.crt`);
            assert.deepEqual(context.alpn_protocols, ["h2"]);
            assert.equal(tls.sni, peerCluster(peer.name));
          }
          for (const local of [...topology.apps.map((app) => localCluster(app.name, proxy.region)), DISCOVERY_CLUSTER, "admin"]) {
            assert.equal(clusterNamed(proxy.bootstrap, local).transport_socket, undefined, `${local} stays inside the region, in cleartext`);
          }
        }
      });

      it("POP: the clusters are exactly those the filter can name, plus discovery and admin", () => {
        for (const proxy of pops(proxies)) {
          const config = filterConfig(proxy.bootstrap, "public");
          const nameable = clustersTheFilterCanName(config);
          const steps = failoverSteps(config);
          const { clusters } = proxy.bootstrap.static_resources;
          const aggregates = clusters.flatMap((candidate) => ("cluster_type" in candidate ? [candidate] : []));
          assert.deepEqual(
            new Map(aggregates.map((aggregate) => [aggregate.name, aggregate.cluster_type.typed_config.clusters])),
            steps,
            "each failover cluster tries its owner's serving regions in order",
          );
          const stepped = [...new Set([...steps.values()].flat())].filter((name) => !nameable.includes(name));
          const names = clusters.map((candidate) => candidate.name);
          assert.deepEqual([...names].sort(), [...nameable, ...stepped, DISCOVERY_CLUSTER, "admin"].sort());
          assert.equal(names.length, new Set(names).size);
          const expectedLocal = topology.apps.map((app) => localCluster(app.name, proxy.region));
          for (const local of expectedLocal) {
            assert.deepEqual(
              endpointsOf(clusterNamed(proxy.bootstrap, local)),
              placement.ingressEndpoints(proxy.region).map((endpoint) => `${endpoint.address}:${endpoint.port}`),
            );
          }
          // The tenant directory is global: own region's discovery at priority 0, then every other region's, in topology order.
          const byPriority = clusterNamed(proxy.bootstrap, DISCOVERY_CLUSTER).load_assignment.endpoints.map((group) => [
            group.priority ?? 0,
            group.lb_endpoints.map(({ endpoint }) => `${endpoint.address.socket_address.address}:${endpoint.address.socket_address.port_value}`),
          ]);
          const order = [proxy.region, ...topology.regions.map((r) => r.name).filter((name) => name !== proxy.region)];
          assert.deepEqual(byPriority, order.map((region, priority) => {
            const at = placement.discoveryEndpoint(region);
            return [priority, [`${at.address}:${at.port}`]];
          }));
        }
      });

      it("POP: the filter configuration names its own region and POP and every region", () => {
        for (const proxy of pops(proxies)) {
          for (const listenerName of ["public", "backbone"]) {
            const config = filterConfig(proxy.bootstrap, listenerName);
            assert.equal(config.region, proxy.region);
            assert.equal(config.pop, `${proxy.region}-${proxy.pop}`);
            assert.deepEqual(config.regions, topology.regions.map((region) => region.name));
            assert.deepEqual(config.apps, topology.apps.map((app) => ({
              prefix: app.prefix,
              app: app.name,
              serving: topology.regions.map((owner) => servingOrder(topology, app, owner.name)),
            })));
            assert.deepEqual([config.precedence, config.conflict], [topology.routing.precedence, topology.routing.conflict]);
            assert.equal(config.maxHops, topology.routing.maxHops);
            assert.deepEqual(config.fallback, topology.routing.fallback);
            assert.equal(config.discovery.timeoutMs, topology.routing.discovery.timeoutMs);
            assert.deepEqual(config, proxy.filterConfig);
          }
        }
      });

      it("POP: the public listener strips every internal request header before any filter", () => {
        for (const proxy of pops(proxies)) {
          const hcm = connectionManager(listener(proxy.bootstrap, "public"));
          const mutations = hcm.early_header_mutation_extensions?.flatMap((extension) => extension.typed_config.mutations) ?? [];
          assert.deepEqual(mutations, [{ remove_on_match: { key_matcher: { prefix: INTERNAL_HEADER_PREFIX } } }]);
          for (const header of INTERNAL_HEADERS) assert.ok(header.startsWith(INTERNAL_HEADER_PREFIX), header);
        }
      });

      it("POP: the backbone strips the cluster and claim headers but keeps the hop count", () => {
        for (const proxy of pops(proxies)) {
          const hcm = connectionManager(listener(proxy.bootstrap, "backbone"));
          const mutations = hcm.early_header_mutation_extensions?.flatMap((extension) => extension.typed_config.mutations) ?? [];
          const removed = mutations.map((mutation) => ("remove" in mutation ? mutation.remove : `match:${JSON.stringify(mutation)}`));
          assert.deepEqual(removed.sort(), [CLAIM_HEADER, CLUSTER_HEADER].sort());
          assert.equal(removed.includes(HOP_HEADER), false);
        }
      });

      it("POP: JWT is verified before the region router, which runs before the router", () => {
        for (const proxy of pops(proxies)) {
          for (const listenerName of ["public", "backbone"]) {
            const all = connectionManager(listener(proxy.bootstrap, listenerName)).http_filters;
            // Peers' health checks of a POP can be failed (drained) before a rolling replacement.
            assert.equal(all[0]!.name === "envoy.filters.http.health_check", listenerName === "backbone");
            const filters = all.filter((filter) => filter.name !== "envoy.filters.http.health_check");
            assert.deepEqual(filters.map((filter) => filter.name), [
              "envoy.filters.http.jwt_authn", "envoy.filters.http.wasm", "envoy.filters.http.router",
            ]);
            const jwt = filters[0];
            assert.ok(jwt && "config_discovery" in jwt, "jwt_authn's config is discovered from the watched file");
            assert.deepEqual(jwt.config_discovery.config_source.path_config_source, { path: inputs.jwtAuthn.path, watched_directory: { path: inputs.jwtAuthn.watchedDir } });
            const wasm = filters[1];
            assert.ok(wasm?.name === "envoy.filters.http.wasm");
            assert.equal(wasm.typed_config.config.root_id, "region_router");
            assert.equal(wasm.typed_config.config.failure_policy, "FAIL_RELOAD");
            assert.equal(wasm.typed_config.config.vm_config.code.local.filename, inputs.wasmPath);
          }
        }
      });

      it("POP: each app prefix routes by the cluster header (idempotent methods first), 503 when the cluster is unknown", () => {
        for (const proxy of pops(proxies)) {
          const routes = connectionManager(listener(proxy.bootstrap, "public")).route_config.virtual_hosts.flatMap((host) => host.routes);
          assert.deepEqual(
            routes.map((route) => [route.name, "prefix" in route.match ? route.match.prefix : route.match.path, route.match.headers?.[0]?.name ?? "any method"]),
            topology.apps.flatMap((app) => [[app.name, app.prefix, ":method"], [app.name, app.prefix, "any method"]]),
          );
          for (const route of routes) {
            const action = route.route as Extract<RouteAction, { cluster_header: string }>;
            assert.equal(action.cluster_header, CLUSTER_HEADER);
            assert.equal(action.cluster_not_found_response_code, "SERVICE_UNAVAILABLE");
            // Two tries per region of the longest serving order for an app that fails over.
            const app = topology.apps.find((candidate) => candidate.name === route.name)!;
            const regions = mostServingRegions(topology, app);
            assert.equal(action.retry_policy?.num_retries, regions > 1 ? TRIES_PER_REGION * regions - 1 : RETRIES, route.name);
            assert.equal(action.retry_policy?.retry_host_predicate[0]?.name, "envoy.retry_host_predicates.previous_hosts");
          }
          const backbone = connectionManager(listener(proxy.bootstrap, "backbone")).route_config.virtual_hosts.flatMap((host) => host.routes);
          const health = backbone[0]!;
          assert.deepEqual(health.match, { path: EDGE_HEALTH_PATH });
          assert.equal(health.direct_response?.status, 200);
          assert.deepEqual(Object.keys(health.typed_per_filter_config ?? {}).sort(), ["envoy.filters.http.jwt_authn"], "the health check runs through the region router");
        }
      });

      it("Proxy: admin listens on 127.0.0.1 and the stats listener forwards only metrics and readiness", () => {
        for (const proxy of proxies) {
          const admin = proxy.bootstrap.admin.address.socket_address;
          assert.equal(admin.address, "127.0.0.1");
          assert.deepEqual(endpointsOf(clusterNamed(proxy.bootstrap, "admin")), [`127.0.0.1:${admin.port_value}`]);
          const routes = connectionManager(listener(proxy.bootstrap, "stats")).route_config.virtual_hosts.flatMap((host) => host.routes);
          const forwarded = routes.filter((route) => route.route !== undefined);
          assert.deepEqual(forwarded.map((route) => route.match), [{ path: "/stats/prometheus" }, { path: "/ready" }]);
          assert.deepEqual(routes.at(-1), { name: "not-exposed", match: { prefix: "/" }, direct_response: { status: 404 } });
          for (const current of proxy.bootstrap.static_resources.listeners) {
            assert.notEqual(current.address.socket_address.port_value, admin.port_value);
          }
        }
      });

      it("Proxy: edge hardening applies to every listener and cluster", () => {
        for (const proxy of proxies) {
          const memory = proxy.kind === "pop" ? topology.resources.memoryMb.pop : topology.resources.memoryMb.ingress;
          const heap = proxy.bootstrap.overload_manager.resource_monitors.find((monitor) => monitor.name === "envoy.resource_monitors.fixed_heap");
          assert.ok(heap?.name === "envoy.resource_monitors.fixed_heap");
          assert.ok(heap.typed_config.max_heap_size_bytes < memory * 1024 * 1024, "heap limit below the container limit");
          assert.ok(heap.typed_config.max_heap_size_bytes >= memory * 1024 * 1024 * 0.5);
          assert.deepEqual(
            proxy.bootstrap.overload_manager.actions.map((action) => [action.name, action.triggers[0]?.threshold.value]),
            [["envoy.overload_actions.shrink_heap", 0.95], ["envoy.overload_actions.stop_accepting_requests", 0.98]],
          );
          for (const current of proxy.bootstrap.static_resources.listeners) {
            assert.equal(current.per_connection_buffer_limit_bytes, 32768);
            const limit = current.filter_chains[0]!.filters[0]!;
            assert.ok(limit.name === "envoy.filters.network.connection_limit");
            assert.equal(limit.typed_config.max_connections, topology.resources.connections.perListener);
            const hcm = connectionManager(current);
            assert.equal(hcm.use_remote_address, true);
            assert.equal(hcm.common_http_protocol_options.headers_with_underscores_action, "REJECT_REQUEST");
            assert.equal(hcm.normalize_path && hcm.merge_slashes, true);
            assert.equal(hcm.max_request_headers_kb, 60);
            assert.deepEqual(hcm.http2_protocol_options, { max_concurrent_streams: 100, initial_stream_window_size: 65536, initial_connection_window_size: 1048576 });
          }
          for (const current of hostClusters(proxy.bootstrap.static_resources.clusters)) {
            assert.equal(current.per_connection_buffer_limit_bytes, 32768);
            assert.equal(current.type, current.name === "admin" ? "STATIC" : placement.clusterType);
          }
        }
      });

      it("Ingress: each app prefix routes to that app's replicas, health checked over HTTP/2", () => {
        for (const proxy of ingresses(proxies)) {
          const routes = connectionManager(listener(proxy.bootstrap, "ingress")).route_config.virtual_hosts.flatMap((host) => host.routes);
          const appNames = topology.apps.map((app) => app.name);
          const appRoutes = routes.filter((route) => appNames.includes(route.name));
          // Each app's health through the ingress goes to that app's health path.
          assert.deepEqual(
            routes.filter((route) => route.name.startsWith("edge-healthz-")).map((route) => [route.match, route.route]),
            topology.apps.map((app) => [
              { path: appHealthPath(app.name) },
              { cluster: app.name, prefix_rewrite: SERVICE_HEALTH_PATH, timeout: "0.8s" },
            ]),
          );
          assert.deepEqual(
            appRoutes.map((route) => [("prefix" in route.match ? route.match.prefix : ""), route.route && "cluster" in route.route ? route.route.cluster : ""]),
            topology.apps.flatMap((app) => [[app.prefix, app.name], [app.prefix, app.name]]),
          );
          for (const app of topology.apps) {
            const appCluster = clusterNamed(proxy.bootstrap, app.name);
            assert.deepEqual(
              endpointsOf(appCluster),
              placement.appEndpoints(proxy.region, app.name).map((endpoint) => `${endpoint.address}:${endpoint.port}`),
            );
            assert.equal(appCluster.health_checks?.[0]?.http_health_check.path, SERVICE_HEALTH_PATH);
            const protocol = appCluster.typed_extension_protocol_options?.["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
            assert.ok(protocol && "http2_protocol_options" in protocol.explicit_http_config);
          }
          assert.deepEqual(routes[0]?.match, { path: EDGE_HEALTH_PATH });
        }
      });

      it("YAML: starts with the generated header and parses back to the same bootstrap", () => {
        for (const proxy of proxies) {
          const text = bootstrapYaml(proxy.bootstrap, inputs.topologyPath);
          assert.equal(text.split("\n")[0], "# generated from the topology (/work/topologies/t.yaml); do not edit");
          assert.deepEqual(parse(text), proxy.bootstrap);
        }
      });
    });
  }
}

describe("placements", () => {
  it("Docker placement: POPs reach peers by container name on the backbone port", () => {
    const topology = fourRegionTopology();
    const placement = dockerPlacement(topology);
    assert.deepEqual(placement.popBackboneEndpoint("eu-central", "ams", "na-west"), {
      address: popContainer("rim4", "eu-central", "ams"),
      port: 10443,
    });
    assert.deepEqual(placement.ingressEndpoints("ap-north").map((endpoint) => endpoint.address), [
      "rim4-ingress-ap-north-1", "rim4-ingress-ap-north-2", "rim4-ingress-ap-north-3",
    ]);
    assert.deepEqual(placement.appEndpoints("na-west", "media"), [
      { address: "rim4-app-media-na-west-1", port: 8080 },
      { address: "rim4-app-media-na-west-2", port: 8080 },
      { address: "rim4-app-media-na-west-3", port: 8080 },
    ]);
    assert.deepEqual(placement.discoveryEndpoint("sa-east"), { address: "rim4-discovery-sa-east", port: 8080 });
    assert.equal(placement.popListeners("sa-east", "gru").admin.address, "127.0.0.1");
  });

  it("Docker placement: a region on another Docker host is reached at its backboneAddress on its published backbone port", () => {
    const topology = validateTopology({
      project: "split",
      jwt: { issuer: "https://id.split.test", audiences: ["split"] },
      apps: [{ name: "web", prefix: "/web" }],
      regions: [
        {
          name: "left",
          jurisdiction: "eu",
          dockerHost: "ssh://ops@left.hosts.test",
          backboneAddress: "left.hosts.test",
          backbonePort: 18400,
          pops: [{ name: "a", clientPort: 18001, statsPort: 19001, tlsPort: 18301 }],
          datacenter: { apps: { web: { replicas: 1 } } },
        },
        {
          name: "right",
          jurisdiction: "eu",
          dockerHost: "tcp://10.9.8.7:2376",
          backboneAddress: "10.9.8.7",
          backbonePort: 18500,
          pops: [
            { name: "a", clientPort: 18011, statsPort: 19011, tlsPort: 18311 },
            { name: "b", clientPort: 18012, statsPort: 19012, tlsPort: 18312 },
          ],
          datacenter: { apps: { web: { replicas: 1 } } },
        },
      ],
    });
    const placement = dockerPlacement(topology);
    const [leftPop] = pops(renderProxies(topology, placement, inputs));
    assert.ok(leftPop && leftPop.region === "left");
    assert.deepEqual(endpointsOf(clusterNamed(leftPop.bootstrap, "edge-router-right")), ["10.9.8.7:18500", "10.9.8.7:18501"]);
    assert.deepEqual(placement.popBackboneEndpoint("left", "a", "right"), { address: "left.hosts.test", port: 18400 });
    // Inside a region everything stays on its own Docker network.
    assert.deepEqual(endpointsOf(clusterNamed(leftPop.bootstrap, "web-left")), ["split-ingress-left-1:8080"]);
  });

  it("Loopback placement: every listener and service gets its own port on 127.0.0.1", () => {
    const topology = fourRegionTopology();
    const placement = loopbackPlacement(topology, sequentialPorts(50000));
    const endpoints = topology.regions.flatMap((region) => [
      ...region.pops.flatMap((pop) => Object.values(placement.popListeners(region.name, pop.name))),
      ...Array.from({ length: region.datacenter.ingressReplicas }, (_, index) => Object.values(placement.ingressListeners(region.name, index + 1))).flat(),
      ...topology.apps.flatMap((app) => placement.appEndpoints(region.name, app.name)),
      placement.discoveryEndpoint(region.name),
    ]);
    assert.ok(endpoints.every((endpoint) => endpoint.address === "127.0.0.1"));
    assert.equal(new Set(endpoints.map((endpoint) => endpoint.port)).size, endpoints.length);
    assert.equal(placement.clusterType, "STATIC");
  });
});
