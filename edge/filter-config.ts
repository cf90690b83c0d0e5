import type { ConflictPolicy, DiscoverySettings, IdentitySource, Routing, Topology } from "../infra/topology/model.ts";
import { findRegion, servingOrder } from "../infra/topology/inventory.ts";
import {
  DISCOVERY_CLUSTER, EDGE_HEALTH_PATH, FAILOVER_CLUSTER_PATTERN, LOCAL_CLUSTER_PATTERN, PEER_CLUSTER_PATTERN, TENANT_PATH_TEMPLATE,
  popId,
} from "../infra/topology/names.ts";
import {
  CLAIM_HEADER, CLUSTER_HEADER, HOP_HEADER, OWNER_HEADER, POP_HEADER, ROUTE_HEADER, SERVED_HEADER, SOURCE_HEADER,
} from "./headers.ts";

/** Plugin configuration of the region-router Wasm filter (root_id `region_router`). */

export const FILTER_ROOT_ID = "region_router";

/**
 * Every field is required: the filter has no defaults, so each value has its one home on this side
 * (names.ts, headers.ts, the topology) and the file alone shows what the POP does.
 */
export interface RegionRouterConfig {
  region: string;
  pop: string;
  regions: string[];
  /**
   * Per app, `serving[i]`: the regions that may serve it for requests owned by `regions[i]`, in the
   * order they are tried (servingOrder in inventory.ts), owner first.
   */
  apps: RouterApp[];
  /** Expanded by the filter with names.ts `expandPattern`'s rule. */
  localClusterPattern: string;
  peerClusterPattern: string;
  /** The cluster that tries an app's serving regions for one owner in order (`{app}`, `{region}` = owner). */
  failoverClusterPattern: string;
  clusterHeader: string;
  claimHeader: string;
  hopHeader: string;
  ownerHeader: string;
  sourceHeader: string;
  popHeader: string;
  routeHeader: string;
  /** Response header the datacenter ingress sets: the region that served. */
  servedHeader: string;
  healthPath: string;
  maxHops: number;
  discovery: {
    cluster: string;
    authority: string;
    pathTemplate: string;
  } & DiscoverySettings;
  fallback: Routing["fallback"];
  precedence: IdentitySource[];
  conflict: ConflictPolicy;
}

export interface RouterApp {
  prefix: string;
  app: string;
  serving: string[][];
}

/** What differs between one POP's filter and another's; everything else is a fixed fact of the edge. */
export interface RouterNetwork {
  region: string;
  /** The POP id (names.ts `popId`). */
  pop: string;
  regions: string[];
  /** Per app, its serving order for each owner in `regions` order. */
  apps: RouterApp[];
  routing: Routing;
}

export function routerFilterConfig(network: RouterNetwork): RegionRouterConfig {
  const { routing } = network;
  return {
    region: network.region,
    pop: network.pop,
    regions: network.regions,
    apps: network.apps,
    localClusterPattern: LOCAL_CLUSTER_PATTERN,
    peerClusterPattern: PEER_CLUSTER_PATTERN,
    failoverClusterPattern: FAILOVER_CLUSTER_PATTERN,
    clusterHeader: CLUSTER_HEADER,
    claimHeader: CLAIM_HEADER,
    hopHeader: HOP_HEADER,
    ownerHeader: OWNER_HEADER,
    sourceHeader: SOURCE_HEADER,
    popHeader: POP_HEADER,
    routeHeader: ROUTE_HEADER,
    servedHeader: SERVED_HEADER,
    healthPath: EDGE_HEALTH_PATH,
    maxHops: routing.maxHops,
    discovery: { cluster: DISCOVERY_CLUSTER, authority: DISCOVERY_CLUSTER, pathTemplate: TENANT_PATH_TEMPLATE, ...routing.discovery },
    fallback: routing.fallback.policy === "region" ? { policy: "region", region: routing.fallback.region } : { policy: "reject" },
    precedence: routing.precedence,
    conflict: routing.conflict,
  };
}

/** The filter configuration of POP `pop` of `region`. */
export function regionRouterConfig(topology: Topology, region: string, pop: string): RegionRouterConfig {
  const own = findRegion(topology, region);
  if (!own.pops.some((candidate) => candidate.name === pop)) throw new Error(`unknown POP ${pop} in region ${region}`);
  return routerFilterConfig({
    region,
    pop: popId(region, pop),
    regions: topology.regions.map((candidate) => candidate.name),
    apps: topology.apps.map((app) => ({
      prefix: app.prefix,
      app: app.name,
      serving: topology.regions.map((owner) => servingOrder(topology, app, owner.name)),
    })),
    routing: topology.routing,
  });
}
