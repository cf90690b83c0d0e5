/**
 * Names derived from the topology. Every part (infra, edge, filter configuration, load, tests)
 * derives names here so a container, an Envoy cluster and the filter's header value agree.
 * Replica numbers start at 1.
 */
import type { App } from "./model.ts";

/** Patterns the region-router filter expands; `localCluster`/`peerCluster` expand the same ones. */
export const LOCAL_CLUSTER_PATTERN = "{app}-{region}";
export const PEER_CLUSTER_PATTERN = "edge-router-{region}";
/**
 * Cluster in a POP that tries, in order and by health, the regions that may serve `{app}` for
 * requests owned by `{region}` (an aggregate of the per-region clusters below).
 */
export const FAILOVER_CLUSTER_PATTERN = "{app}-owned-by-{region}";
export const DISCOVERY_CLUSTER = "discovery";

/** A fully-qualified gRPC service name, e.g. edgerim.profile.v1.Profile: proto identifiers joined by '.'. */
export const GRPC_SERVICE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** The gRPC service a `protocol: grpc` app's replicas serve: its prefix without the leading '/'; none for an http app. */
export function grpcService(app: Pick<App, "prefix" | "protocol">): string | undefined {
  return app.protocol === "grpc" ? app.prefix.slice(1) : undefined;
}

/** POP id, e.g. region `r1` and pop `p1` give `r1-p1`. */
export function popId(region: string, pop: string): string {
  return `${region}-${pop}`;
}

export function popContainer(project: string, region: string, pop: string): string {
  return `${project}-pop-${region}-${pop}`;
}

/**
 * A POP's backbone identity, carried as the URI SAN of its certificate; peers verify each other by it.
 * The project is the trust domain, so two deployments never accept each other's POPs by name.
 */
/** A POP's public DNS name, which its public certificate names: `<pop>.<region>.<tls.domain>`. */
export function popPublicName(domain: string, region: string, pop: string): string {
  return `${pop}.${region}.${domain}`;
}

export function popSpiffeId(project: string, region: string, pop: string): string {
  return `spiffe://${project}/region/${region}/pop/${pop}`;
}

export function ingressContainer(project: string, region: string, replica: number): string {
  return `${project}-ingress-${region}-${replica}`;
}

export function appContainer(project: string, app: string, region: string, replica: number): string {
  return `${project}-app-${app}-${region}-${replica}`;
}

export function discoveryContainer(project: string, region: string): string {
  return `${project}-discovery-${region}`;
}

/**
 * The one expansion rule of cluster patterns: every `{app}`, then every `{region}`, is replaced;
 * nothing else is special. The region-router filter expands the patterns it is given with the same
 * rule (`fill` in its config.ts); a test feeds both the same cases.
 */
export function expandPattern(pattern: string, values: { app?: string; region: string }): string {
  const withApp = values.app === undefined ? pattern : pattern.replaceAll("{app}", values.app);
  return withApp.replaceAll("{region}", values.region);
}

/** Cluster in a POP of `region` that reaches `app` in that region's own datacenter. */
export function localCluster(app: string, region: string): string {
  return expandPattern(LOCAL_CLUSTER_PATTERN, { app, region });
}

/** Cluster in a POP of another region that reaches every POP of `region` over the backbone. */
export function peerCluster(region: string): string {
  return expandPattern(PEER_CLUSTER_PATTERN, { region });
}

/** Failover cluster of `app` for requests owned by `owner`. */
export function failoverCluster(app: string, owner: string): string {
  return expandPattern(FAILOVER_CLUSTER_PATTERN, { app, region: owner });
}

/**
 * Cluster in a POP of another region that reaches every POP of `region` over the backbone for one
 * app, health-checked through to that app in `region`'s datacenter; failover clusters use it.
 */
export function peerAppCluster(app: string, region: string): string {
  return `edge-router-${region}-${app}`;
}

/** Path every edge proxy answers itself with 200 (peer and ingress health checks); no app may claim it. */
export const EDGE_HEALTH_PATH = "/edge/healthz";

/**
 * Health of `app` behind a proxy: a POP's backbone listener and a datacenter ingress answer it with
 * 200 only while they can reach a healthy replica of the app.
 */
export function appHealthPath(app: string): string {
  return `${EDGE_HEALTH_PATH}/${app}`;
}

/** Path the app and discovery services answer their own health on. */
export const SERVICE_HEALTH_PATH = "/healthz";

/** Discovery's tenant lookup: GET TENANT_PATH_PREFIX + host answers `{"host", "region"}` or 404. */
export const TENANT_PATH_PREFIX = "/v1/tenants/";
/** The same path as a template the region-router filter fills with the tenant host. */
export const TENANT_PATH_TEMPLATE = `${TENANT_PATH_PREFIX}{host}`;
