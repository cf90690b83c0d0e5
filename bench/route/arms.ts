// The arms: each is the generated POP bootstrap (edge/pop.ts, as the loopback edge renders it)
// with parts removed or swapped by bootstrap-edits.ts, the routing cases it must pass before it is
// timed, and the requests its timed windows replay.
import type { Topology } from "../../infra/topology/model.ts";
import { localCluster, peerCluster } from "../../infra/topology/names.ts";
import type { Bootstrap } from "../../edge/envoy-api.ts";
import type { RegionRouterConfig } from "../../edge/filter-config.ts";
import { CLAIM_HEADER, CLUSTER_HEADER } from "../../edge/headers.ts";
import { JWT_FILTER, WASM_FILTER } from "../../edge/pop.ts";
import {
  withClusterEndpoints, withInternalHeaderStripExcept, withLuaFilter, withoutAccessLog, withoutHttpFilter, withoutInternalHeaderStrip,
  withRouterConfig,
} from "./bootstrap-edits.ts";
import { luaRouterSource } from "./lua-router.ts";
import { tenantHost, TENANTS_PER_REGION } from "./topology.ts";
import type { BenchUpstream, DiscoveryKind } from "./upstream.ts";

export interface BenchRequest {
  path: string;
  /** Lowercase names; `host` always present. */
  headers: Record<string, string>;
}

/** A request and where the proxy must send it. */
export interface RoutingCase {
  name: string;
  request: BenchRequest;
  /** The cluster whose upstream listener must answer. */
  cluster: string;
  /** `source=` the region router must report in x-edge-route; unchecked when absent. */
  source?: string;
  /** Send the request once, unchecked, before checking it (fills the tenant cache). */
  warm?: boolean;
}

export interface ArmContext {
  topology: Topology;
  region: string;
  peer: string;
  /** regionRouterConfig(topology, region, pop): what the generated POP runs. */
  routerConfig: RegionRouterConfig;
  upstream: BenchUpstream;
  /** Signed RS256 user tokens per region (upstreams/tokens), several per region. */
  tokens: Map<string, string[]>;
}

export interface Arm {
  id: string;
  title: string;
  /** What the arm is, for the report. */
  description: string;
  /** The arm's bootstrap from a freshly generated POP bootstrap (clusters already at the upstream). */
  bootstrap(generated: Bootstrap, context: ArmContext): Bootstrap;
  cases(context: ArmContext): RoutingCase[];
  /** Replayed in order, round robin, by every timed window. */
  timed(context: ArmContext): BenchRequest[];
  /** Sent once each before timing (tenant cache warm-up). */
  warmup?(context: ArmContext): BenchRequest[];
}

/** Host sent with requests whose owner does not come from the Host (claim, cluster header, token). */
export const API_HOST = "api.route-bench.test";
/** C3: hosts every lookup answers (discovery `any`); more than the connections in flight, so no two concurrent misses share a lookup. */
export const MISS_HOSTS = 1024;
/** C3's per-worker lookup cap: above the most connections the search opens, so no miss is shed. */
export const MISS_LOOKUP_CAP = 4096;
/** C3's per-worker lookup rate: above any rate one worker reaches here, so no miss is rate-limited. */
export const MISS_LOOKUP_RATE = 100_000;

const appPath = (prefix: string, n: number) => `${prefix}/item-${n % 97}`;

function request(path: string, headers: Record<string, string>, host = API_HOST): BenchRequest {
  return { path, headers: { host, ...headers } };
}

/** Requests alternating over the apps, `count` of them, each with `headers(app, n)`. */
function overApps(context: ArmContext, count: number, headers: (app: string, n: number) => Record<string, string>, host?: (n: number) => string): BenchRequest[] {
  const { apps } = context.topology;
  return Array.from({ length: count }, (_, n) => {
    const app = apps[n % apps.length]!;
    return request(appPath(app.prefix, n), headers(app.name, n), host?.(n));
  });
}

const bearer = (context: ArmContext, region: string, n: number) => {
  const tokens = context.tokens.get(region)!;
  return { authorization: `Bearer ${tokens[n % tokens.length]}` };
};

/** Per app, a case sending `headers` that must reach that app's local cluster; then one for the peer region. */
function regionCases(context: ArmContext, headersFor: (region: string, cluster: string) => Record<string, string>, source?: string): RoutingCase[] {
  const { topology, region, peer } = context;
  const local = topology.apps.map((app) => {
    const cluster = localCluster(app.name, region);
    return { name: `${app.name}, owner ${region} (local)`, request: request(appPath(app.prefix, 1), headersFor(region, cluster)), cluster, ...(source ? { source } : {}) };
  });
  const app = topology.apps[0]!;
  const cluster = peerCluster(peer);
  return [...local, { name: `${app.name}, owner ${peer} (sideways hop)`, request: request(appPath(app.prefix, 2), headersFor(peer, cluster)), cluster, ...(source ? { source } : {}) }];
}

function tenantCases(context: ArmContext): RoutingCase[] {
  const { topology, region, peer } = context;
  const app = topology.apps[0]!;
  return [
    { name: `tenant of ${region}, cached`, request: request(appPath(app.prefix, 3), {}, tenantHost(region, 0)), cluster: localCluster(app.name, region), source: "cache", warm: true },
    { name: `tenant of ${peer}, cached`, request: request(appPath(app.prefix, 4), {}, tenantHost(peer, 0)), cluster: peerCluster(peer), source: "cache", warm: true },
  ];
}

const homeTenants = (context: ArmContext) => overApps(context, TENANTS_PER_REGION * context.topology.apps.length, () => ({}), (n) => tenantHost(context.region, n % TENANTS_PER_REGION));

/** Discovery of the POP at the upstream listener of `kind`. */
const discoveryAt = (bootstrap: Bootstrap, context: ArmContext, kind: DiscoveryKind) =>
  withClusterEndpoints(bootstrap, (cluster) => (cluster === context.routerConfig.discovery.cluster ? context.upstream.discovery(kind) : undefined));

/** The public listener with only the routing under test: no jwt_authn, no access log, no header strip. */
function bare(generated: Bootstrap, keepWasm: boolean): Bootstrap {
  const withoutJwt = withoutHttpFilter(generated, JWT_FILTER);
  return withoutInternalHeaderStrip(withoutAccessLog(keepWasm ? withoutJwt : withoutHttpFilter(withoutJwt, WASM_FILTER)));
}

const claimCases = (context: ArmContext, source?: string) => regionCases(context, (region) => ({ [CLAIM_HEADER]: region }), source);
const claimTimed = (context: ArmContext) => overApps(context, 2, () => ({ [CLAIM_HEADER]: context.region }));
const tokenTimed = (context: ArmContext) => overApps(context, 64, (_, n) => bearer(context, context.region, n));

function fullPopCases(context: ArmContext): RoutingCase[] {
  const app = context.topology.apps[0]!;
  return [
    ...regionCases(context, (region) => bearer(context, region, 0), "jwt"),
    ...tenantCases(context),
    {
      name: `client-sent ${CLUSTER_HEADER} is stripped`,
      request: request(appPath(app.prefix, 5), { ...bearer(context, context.region, 1), [CLUSTER_HEADER]: peerCluster(context.peer) }),
      cluster: localCluster(app.name, context.region),
      source: "jwt",
    },
  ];
}

export const ARMS: Arm[] = [
  {
    id: "A",
    title: "native cluster_header",
    description: `the client sends ${CLUSTER_HEADER}; the route's cluster_header picks the cluster (no routing filter)`,
    bootstrap: (generated) => bare(generated, false),
    cases: (context) => regionCases(context, (_, cluster) => ({ [CLUSTER_HEADER]: cluster })),
    timed: (context) => overApps(context, 2, (app) => ({ [CLUSTER_HEADER]: localCluster(app, context.region) })),
  },
  {
    id: "B",
    title: "Lua, claim",
    description: `a Lua filter reads ${CLAIM_HEADER} and sets ${CLUSTER_HEADER} (the region router's claim-path decision)`,
    bootstrap: (generated, context) => withLuaFilter(bare(generated, false), luaRouterSource(context.routerConfig)),
    cases: (context) => claimCases(context),
    timed: claimTimed,
  },
  {
    id: "C",
    title: "Wasm, claim",
    description: `the region router, claim path: the client sends ${CLAIM_HEADER} (no jwt_authn)`,
    bootstrap: (generated) => bare(generated, true),
    cases: (context) => claimCases(context, "jwt"),
    timed: claimTimed,
  },
  {
    id: "C2",
    title: "Wasm, tenant cached",
    description: `the region router, tenant Host found in its cache (${TENANTS_PER_REGION} hosts, warmed first)`,
    bootstrap: (generated, context) => discoveryAt(bare(generated, true), context, "directory"),
    cases: tenantCases,
    timed: homeTenants,
    warmup: homeTenants,
  },
  {
    id: "C3",
    title: "Wasm, tenant miss",
    description: `the region router, every request a cache miss: one lookup at a direct_response discovery (cacheTtlSeconds 0, staleIfErrorSeconds 0, lookup cap and rate lifted, ${MISS_HOSTS} hosts in turn)`,
    bootstrap: (generated, context) => {
      const config = context.routerConfig;
      const missing = { ...config, discovery: { ...config.discovery, cacheTtlSeconds: 0, staleIfErrorSeconds: 0, maxConcurrentLookups: MISS_LOOKUP_CAP, maxLookupsPerSecond: MISS_LOOKUP_RATE } };
      return discoveryAt(withRouterConfig(bare(generated, true), missing), context, "any");
    },
    cases: (context) => {
      const app = context.topology.apps[0]!;
      const host = `m0000.miss.route-bench.test`;
      return [0, 1].map((n) => ({ name: `unseen tenant, lookup ${n + 1}`, request: request(appPath(app.prefix, n), {}, host), cluster: localCluster(app.name, context.region), source: "lookup" }));
    },
    timed: (context) => overApps(context, MISS_HOSTS, () => ({}), (n) => `m${String(n).padStart(4, "0")}.miss.route-bench.test`),
  },
  {
    id: "D",
    title: "full POP",
    description: "the generated POP bootstrap as deployed: header strip, jwt_authn (RS256 tokens), the region router, access log",
    bootstrap: (generated, context) => discoveryAt(generated, context, "directory"),
    cases: fullPopCases,
    timed: tokenTimed,
    warmup: (context) => tenantCases(context).map((routingCase) => routingCase.request),
  },
  {
    id: "D-log",
    title: "full POP − access log",
    description: "D without its access log",
    bootstrap: (generated, context) => discoveryAt(withoutAccessLog(generated), context, "directory"),
    cases: fullPopCases,
    timed: tokenTimed,
  },
  {
    id: "D-jwt",
    title: "full POP − jwt_authn",
    description: `D without jwt_authn: the client sends ${CLAIM_HEADER} itself, which the strip now lets through (every other internal header is still stripped)`,
    bootstrap: (generated, context) => discoveryAt(withInternalHeaderStripExcept(withoutHttpFilter(generated, JWT_FILTER), CLAIM_HEADER), context, "directory"),
    cases: (context) => claimCases(context, "jwt"),
    timed: claimTimed,
  },
  {
    id: "D-wasm",
    title: "full POP − Wasm",
    description: `D without the region router: the client sends ${CLUSTER_HEADER} (and its token), which the strip now lets through`,
    bootstrap: (generated, context) => discoveryAt(withInternalHeaderStripExcept(withoutHttpFilter(generated, WASM_FILTER), CLUSTER_HEADER), context, "directory"),
    cases: (context) => regionCases(context, (_, cluster) => ({ ...bearer(context, context.region, 2), [CLUSTER_HEADER]: cluster })),
    timed: (context) => overApps(context, 64, (app, n) => ({ ...bearer(context, context.region, n), [CLUSTER_HEADER]: localCluster(app, context.region) })),
  },
];
