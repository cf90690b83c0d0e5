import type { Topology } from "../infra/topology/model.ts";
import { findRegion } from "../infra/topology/inventory.ts";
import { DISCOVERY_CLUSTER, EDGE_HEALTH_PATH, LOCAL_CLUSTER_PATTERN, PEER_CLUSTER_PATTERN, TENANT_PATH_TEMPLATE, popId } from "../infra/topology/names.ts";
import { CLAIM_HEADER, CLUSTER_HEADER, HOP_HEADER, OWNER_HEADER, SOURCE_HEADER } from "./headers.ts";

/** Plugin configuration of the region-router Wasm filter (root_id `region_router`). */

export const FILTER_ROOT_ID = "region_router";

export interface RegionRouterConfig {
  region: string;
  pop: string;
  regions: string[];
  apps: { prefix: string; app: string }[];
  localClusterPattern: string;
  peerClusterPattern: string;
  clusterHeader: string;
  claimHeader: string;
  hopHeader: string;
  ownerHeader: string;
  sourceHeader: string;
  healthPath: string;
  maxHops: number;
  discovery: {
    cluster: string;
    authority: string;
    pathTemplate: string;
    timeoutMs: number;
    cacheTtlSeconds: number;
    negativeCacheTtlSeconds: number;
    negativeCacheMaxEntries: number;
    staleIfErrorSeconds: number;
    maxConcurrentLookups: number;
    failureBackoffMs: number;
  };
  fallback: { policy: "reject" } | { policy: "region"; region: string };
}

/** Every field is written out, defaults included, so the file alone shows what the POP does. */
export function regionRouterConfig(topology: Topology, region: string, pop: string): RegionRouterConfig {
  const own = findRegion(topology, region);
  if (!own.pops.some((candidate) => candidate.name === pop)) throw new Error(`unknown POP ${pop} in region ${region}`);
  const { discovery } = topology.routing;
  return {
    region,
    pop: popId(region, pop),
    regions: topology.regions.map((candidate) => candidate.name),
    apps: topology.apps.map((app) => ({ prefix: app.prefix, app: app.name })),
    localClusterPattern: LOCAL_CLUSTER_PATTERN,
    peerClusterPattern: PEER_CLUSTER_PATTERN,
    clusterHeader: CLUSTER_HEADER,
    claimHeader: CLAIM_HEADER,
    hopHeader: HOP_HEADER,
    ownerHeader: OWNER_HEADER,
    sourceHeader: SOURCE_HEADER,
    healthPath: EDGE_HEALTH_PATH,
    maxHops: topology.routing.maxHops,
    discovery: {
      cluster: DISCOVERY_CLUSTER,
      authority: DISCOVERY_CLUSTER,
      pathTemplate: TENANT_PATH_TEMPLATE,
      timeoutMs: discovery.timeoutMs,
      cacheTtlSeconds: discovery.cacheTtlSeconds,
      negativeCacheTtlSeconds: discovery.negativeCacheTtlSeconds,
      negativeCacheMaxEntries: discovery.negativeCacheMaxEntries,
      staleIfErrorSeconds: discovery.staleIfErrorSeconds,
      maxConcurrentLookups: discovery.maxConcurrentLookups,
      failureBackoffMs: discovery.failureBackoffMs,
    },
    fallback: topology.routing.fallback.policy === "region"
      ? { policy: "region", region: topology.routing.fallback.region }
      : { policy: "reject" },
  };
}
