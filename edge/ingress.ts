import type { Topology } from "../infra/topology/model.ts";
import { findRegion } from "../infra/topology/inventory.ts";
import { EDGE_HEALTH_PATH, ingressContainer } from "../infra/topology/names.ts";
import type { Bootstrap, Cluster, Route } from "./envoy-api.ts";
import { address, cluster, httpListener, overloadManager, RETRY_POLICY, ROUTER_FILTER, seconds } from "./hardening.ts";
import { accessLog, adminCluster, healthCheck, healthRoute, statsListener } from "./observability.ts";
import type { Placement } from "./placement.ts";

/** Bootstrap of one datacenter ingress replica of the inner rim: app prefix -> app replicas. */

export const INGRESS_LISTENER = "ingress";
/** Apps answer their own health on this path (see the app service API). */
export const APP_HEALTH_PATH = "/healthz";

export function ingressBootstrap(topology: Topology, region: string, replica: number, placement: Placement): Bootstrap {
  findRegion(topology, region);
  const listeners = placement.ingressListeners(region, replica);
  const limits = { timeouts: topology.timeouts, connections: topology.resources.connections };
  const routes: Route[] = [
    healthRoute([]),
    ...topology.apps.map((app) => ({
      name: app.name,
      match: { prefix: app.prefix },
      route: { cluster: app.name, timeout: seconds(topology.timeouts.routeMs), retry_policy: RETRY_POLICY },
    })),
  ];
  const apps: Cluster[] = topology.apps.map((app) => ({
    ...cluster({
      name: app.name,
      type: placement.clusterType,
      endpoints: placement.appEndpoints(region, app.name),
      protocol: "h2c",
      connectTimeoutMs: topology.timeouts.connectMs,
    }),
    health_checks: [healthCheck(APP_HEALTH_PATH)],
  }));
  return {
    node: { id: ingressContainer(topology.project, region, replica), cluster: region },
    admin: { address: address(listeners.admin) },
    static_resources: {
      listeners: [
        httpListener(INGRESS_LISTENER, listeners.ingress, limits, {
          route_config: { name: INGRESS_LISTENER, virtual_hosts: [{ name: INGRESS_LISTENER, domains: ["*"], routes }] },
          http_filters: [ROUTER_FILTER],
          access_log: accessLog(),
        }),
        statsListener(listeners.stats, limits),
      ],
      clusters: [...apps, adminCluster(listeners.admin, topology.timeouts.connectMs)],
    },
    overload_manager: overloadManager(topology.resources.memoryMb.ingress, topology.resources.connections),
  };
}
