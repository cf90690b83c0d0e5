/**
 * The edge network as one typed model: the single source that infra/, edge/, load/ and the
 * region-router filter configuration read. Produced only by `validateTopology` (see load.ts),
 * so every value here has passed the checks in schema.ts and rules.ts.
 */

export interface Topology {
  /** Prefix of every container name; a name (see NAME_RULE in schema.ts). */
  project: string;
  jwt: JwtSettings;
  /** Apps served by every region's datacenter, each under its own path prefix. */
  apps: App[];
  routing: Routing;
  timeouts: Timeouts;
  /** Ports inside the containers; host ports are per POP (`clientPort`, `statsPort`) or per region. */
  ports: Ports;
  resources: Resources;
  tls: PublicTls;
  regions: Region[];
  tenants: Tenant[];
  /** Emulated wide-area network between regions; absent means no added latency. */
  wan?: Wan;
}

/**
 * Round-trip times between regions, applied on the backbone: a request a POP forwards to a peer in
 * another region waits the pair's RTT at the receiving POP (the fault filter's fixed delay), so a
 * sideways hop costs what it would across that distance. Keys are `<region>/<region>`, either order,
 * each pair once; a pair not listed adds nothing.
 */
export interface Wan {
  rttMs: Record<string, number>;
}

/** TLS on every POP's public listener; the certificates come from the deploy's public CA. */
export interface PublicTls {
  /** DNS suffix of the POPs' public names: `<pop>.<region>.<domain>`. */
  domain: string;
  /** The cleartext client port answers 301 to HTTPS (except `/edge/healthz`) instead of serving. */
  redirectCleartext: boolean;
}

export interface JwtSettings {
  issuer: string;
  audiences: string[];
  /** Claim holding the user's owning region. */
  regionClaim: string;
  /**
   * Longest lifetime of a token signed here (`npm run token`, the load generators). A rotated-out
   * signing key stays in the JWKS this long (plus the allowed clock skew) after its last signature.
   */
  maxTokenTtlSeconds: number;
}

export interface App {
  name: string;
  /** Path prefix owned by the app; no prefix is a string prefix of another. */
  prefix: string;
  /**
   * `http`: the replicas answer every path with JSON. `grpc`: the prefix is `/<service>` (a
   * fully-qualified gRPC service name) and the replicas serve that service's gRPC calls with the
   * Profile methods (upstreams/grpc/profile.proto), and answer plain HTTP (health, routing checks)
   * as an http app does. The edge answers any gRPC request's errors as gRPC, whatever the app.
   */
  protocol: AppProtocol;
  /** Which regions may serve a request the owner region cannot; see `servingOrder` in inventory.ts. */
  placement: AppPlacement;
  /**
   * `jurisdiction`: a request is never served outside its owner region's jurisdiction, whatever the
   * placement says (a failover list may not name another jurisdiction's region); `none`: no bound.
   */
  residency: Residency;
}

export type AppProtocol = "http" | "grpc";

/**
 * `owner-only` (strict): only the owner region serves; when it cannot, the answer is 503.
 * `{ failover: [...] }`: the owner, then these regions in this order.
 * `{ failover: same-jurisdiction }`: the owner, then the other regions of its jurisdiction in topology order.
 * `{ failover: any }`: the owner, then every other region in topology order.
 */
export type AppPlacement = "owner-only" | { failover: string[] | "same-jurisdiction" | "any" };

export type Residency = "none" | "jurisdiction";

/** Where a request's owner may come from. */
export type IdentitySource = "jwt" | "tenant";

/**
 * When the token's region and the tenant's region both name an owner and differ:
 * `prefer-first` takes the first source of `precedence`; `reject` answers 403 owner_conflict.
 */
export type ConflictPolicy = "prefer-first" | "reject";

export type FallbackPolicy = { policy: "reject" } | { policy: "region"; region: string };

export interface Routing {
  fallback: FallbackPolicy;
  /** Sideways hops a request may take between POPs; 1 means one hop and never a loop. */
  maxHops: number;
  /** Identity sources in order, each at most once; the first that names an owner wins (see `conflict`). */
  precedence: IdentitySource[];
  conflict: ConflictPolicy;
  discovery: DiscoverySettings;
}

export interface DiscoverySettings {
  timeoutMs: number;
  cacheTtlSeconds: number;
  negativeCacheTtlSeconds: number;
  /**
   * Hosts each worker remembers in each of its own sets (unknown tenants, backed-off hosts, owners
   * read from shared data), oldest dropped first, so random Host headers cannot grow memory.
   */
  negativeCacheMaxEntries: number;
  /**
   * How long past its expiry a cached owner is still served (source `stale`) while one background
   * lookup per host refreshes it; 0 serves nothing stale.
   */
  staleIfErrorSeconds: number;
  /** Discovery calls one worker has in flight at most; a miss over it gets the no-owner outcome at once. */
  maxConcurrentLookups: number;
  /**
   * Discovery calls one worker starts per second at most (a bucket of one second's calls): a flood of
   * unknown Host values costs discovery a bounded rate. A miss over it gets the no-owner outcome at once.
   */
  maxLookupsPerSecond: number;
  /** After a failed lookup, requests for that host do not call discovery for this long. */
  failureBackoffMs: number;
}

export interface Timeouts {
  /** Upstream TCP connect timeout of every Envoy cluster. */
  connectMs: number;
  /** Time a client has to send all request headers. */
  requestHeadersMs: number;
  /** Whole-request limit on the downstream side, streaming bodies included. */
  requestMs: number;
  /** A stream with no activity for this long is reset. */
  streamIdleMs: number;
  /** Upstream response limit per route, retries included. */
  routeMs: number;
}

export interface Ports {
  popClient: number;
  popClientTls: number;
  popBackbone: number;
  envoyAdmin: number;
  envoyStats: number;
  ingress: number;
  app: number;
  discovery: number;
}

export interface Resources {
  envoyConcurrency: number;
  nofile: number;
  memoryMb: MemoryLimits;
  connections: ConnectionLimits;
}

export interface MemoryLimits {
  pop: number;
  ingress: number;
  app: number;
  discovery: number;
}

export interface ConnectionLimits {
  /** Downstream connections one listener accepts at once. */
  perListener: number;
  /** Downstream connections one Envoy accepts at once over all listeners. */
  global: number;
}

export interface Region {
  name: string;
  /** Legal area the region's datacenter is in (e.g. `us`, `eu`, `apac`); a name. Residency-bound apps stay inside it. */
  jurisdiction: string;
  /** Docker daemon for this region (`ssh://...` or `tcp://...`); absent means the local daemon. */
  dockerHost?: string;
  /**
   * First host port where this region's POPs publish their backbone listener for peers on other
   * Docker hosts: POP i (0-based, in listed order) publishes on `backbonePort + i`.
   */
  backbonePort?: number;
  /**
   * Address on the region's Docker host where peers on other hosts reach its published backbone ports;
   * required with `dockerHost` (a host name or IPv4 address, without port).
   */
  backboneAddress?: string;
  /**
   * Address on the region's Docker host that its POPs' client, TLS and stats ports are published on;
   * 127.0.0.1 when absent. A POP serving the public from its own host sets 0.0.0.0 or the host's
   * public address; the local multi-host harness sets each engine's private address.
   */
  publishAddress?: string;
  pops: Pop[];
  datacenter: Datacenter;
}

export interface Pop {
  name: string;
  /** Host port (127.0.0.1) publishing the public listener. */
  clientPort: number;
  /** Host port (127.0.0.1) publishing the stats listener. */
  statsPort: number;
  /** Host port (127.0.0.1) publishing the public TLS listener. */
  tlsPort: number;
}

export interface Datacenter {
  ingressReplicas: number;
  /** Exactly the global apps, keyed by app name. */
  apps: Record<string, DatacenterApp>;
}

export interface DatacenterApp {
  replicas: number;
}

export interface Tenant {
  /** Lowercase hostname, without port. */
  host: string;
  region: string;
}
