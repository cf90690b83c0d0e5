import type { Topology } from "../infra/topology/model.ts";
import type { Route, RouteAction } from "./envoy-api.ts";
import { IDEMPOTENT_METHOD_MATCHER, retryPolicy } from "./failover.ts";
import { seconds } from "./envoy-fields.ts";

/** Where an app's routes send a request: a fixed cluster (ingress) or the cluster header (POP). */
export type RouteTarget = { cluster: string } | { cluster_header: string; cluster_not_found_response_code: "SERVICE_UNAVAILABLE" };

/**
 * Two routes per app prefix, both named after the app: idempotent methods first, which may be retried
 * after the upstream saw them, then every other method, retried only when the upstream never got them.
 */
export function appRoutes(topology: Topology, target: (app: string) => RouteTarget): Route[] {
  const { timeouts } = topology;
  const action = (app: string, kind: "idempotent" | "any-method"): RouteAction => ({
    ...target(app),
    timeout: seconds(timeouts.routeMs),
    retry_policy: retryPolicy(kind, timeouts),
  });
  return topology.apps.flatMap((app) => [
    { name: app.name, match: { prefix: app.prefix, headers: [IDEMPOTENT_METHOD_MATCHER] }, route: action(app.name, "idempotent") },
    { name: app.name, match: { prefix: app.prefix }, route: action(app.name, "any-method") },
  ]);
}
