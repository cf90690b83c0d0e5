import type { Topology } from "../infra/topology/model.ts";
import { findRegion } from "../infra/topology/inventory.ts";
import { ingressContainer, SERVICE_HEALTH_PATH } from "../infra/topology/names.ts";
import type { Bootstrap, Cluster, Route } from "./envoy-api.ts";
import { address } from "./envoy-fields.ts";
import { httpListener, ROUTER_FILTER } from "./listeners.ts";
import { cluster } from "./clusters.ts";
import { overloadManager } from "./overload.ts";
import { appRoutes } from "./app-routes.ts";
import { datacenterConnectMs, failoverSettings, UNSERVED_MARK, unavailableReply } from "./failover.ts";
import { SERVED_HEADER } from "./headers.ts";
import { accessLog, adminCluster, appHealthRoute, healthRoute, statsListener } from "./observability.ts";
import type { Placement } from "./placement.ts";

/** Bootstrap of one datacenter ingress replica of the inner rim: app prefix -> app replicas. */

export const INGRESS_LISTENER = "ingress";

/** The served header's value on an answer no app gave: never a region name (names start with a letter). */
export const NO_REGION = "-";

export function ingressBootstrap(topology: Topology, region: string, replica: number, placement: Placement): Bootstrap {
  findRegion(topology, region);
  const listeners = placement.ingressListeners(region, replica);
  const limits = { timeouts: topology.timeouts, connections: topology.resources.connections };
  // Every answer an app gives names this region, so an entry POP can tell a failover; the ingress's
  // own unavailable reply overwrites it with a name no region has.
  const served = { header: { key: SERVED_HEADER, value: region }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" as const };
  // An app's health through this ingress: POPs check it for apps that fail over, so a region whose
  // app is down leaves the failover order.
  const appHealth = topology.apps.map((app) => appHealthRoute(app.name, app.name, [], SERVICE_HEALTH_PATH));
  const routes: Route[] = [
    healthRoute([]),
    ...appHealth,
    ...appRoutes(topology, (app) => ({ cluster: app })).map((route) => ({ ...route, response_headers_to_add: [served] })),
  ];
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
          // Marked unserved: no app saw the request, so an entry POP may try the app's next region.
          local_reply_config: unavailableReply(
            "app_unavailable",
            { message: "no replica of the app is available", app: "%ROUTE_NAME%", region },
            [UNSERVED_MARK, { ...served, header: { key: SERVED_HEADER, value: NO_REGION } }],
          ),
        }),
        statsListener(listeners.stats, limits),
      ],
      clusters: [...apps, adminCluster(listeners.admin, topology.timeouts.connectMs)],
    },
    overload_manager: overloadManager(topology.resources.memoryMb.ingress, topology.resources.connections),
  };
}
