import type { Topology } from "../infra/topology/model.ts";
import { findRegion } from "../infra/topology/inventory.ts";
import { ingressContainer, SERVICE_HEALTH_PATH } from "../infra/topology/names.ts";
import type { Bootstrap, Cluster, Route } from "./envoy-api.ts";
import { address } from "./envoy-fields.ts";
import { httpListener, ROUTER_FILTER } from "./listeners.ts";
import { cluster } from "./clusters.ts";
import { overloadManager } from "./overload.ts";
import { appRoutes } from "./app-routes.ts";
import { datacenterConnectMs, failoverSettings, unavailableReply } from "./failover.ts";
import { accessLog, adminCluster, healthRoute, statsListener } from "./observability.ts";
import type { Placement } from "./placement.ts";

/** Bootstrap of one datacenter ingress replica of the inner rim: app prefix -> app replicas. */

export const INGRESS_LISTENER = "ingress";

export function ingressBootstrap(topology: Topology, region: string, replica: number, placement: Placement): Bootstrap {
  findRegion(topology, region);
  const listeners = placement.ingressListeners(region, replica);
  const limits = { timeouts: topology.timeouts, connections: topology.resources.connections };
  const routes: Route[] = [healthRoute([]), ...appRoutes(topology, (app) => ({ cluster: app }))];
  const apps: Cluster[] = topology.apps.map((app) => ({
    ...cluster({
      name: app.name,
      type: placement.clusterType,
      endpoints: placement.appEndpoints(region, app.name),
      protocol: "h2c",
      connectTimeoutMs: datacenterConnectMs(topology.timeouts),
    }),
    ...failoverSettings(SERVICE_HEALTH_PATH, topology.resources.connections),
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
          // Every replica of an app down: JSON naming the app and the region, never Envoy's plain text.
          local_reply_config: unavailableReply("app_unavailable", { message: "no replica of the app is available", app: "%ROUTE_NAME%", region }),
        }),
        statsListener(listeners.stats, limits),
      ],
      clusters: [...apps, adminCluster(listeners.admin, topology.timeouts.connectMs)],
    },
    overload_manager: overloadManager(topology.resources.memoryMb.ingress, topology.resources.connections),
  };
}
