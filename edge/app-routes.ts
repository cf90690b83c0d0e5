import type { App, Topology } from "../infra/topology/model.ts";
import type { Route, RouteAction } from "./envoy-api.ts";
import { IDEMPOTENT_METHOD_MATCHER, retryPolicy } from "./failover.ts";
import { seconds } from "./envoy-fields.ts";

/** Where an app's routes send a request: a fixed cluster (ingress) or the cluster header (POP). */
export type RouteTarget = { cluster: string } | { cluster_header: string; cluster_not_found_response_code: "SERVICE_UNAVAILABLE" };

/**
 * Two routes per app prefix, both named after the app: idempotent methods first, which may be retried
 * after the upstream saw them, then every other method, retried only when the upstream never got them.
 * An app that `servingRegions` gives more than one region also retries unserved answers in the next
 * region (retryPolicy).
 */
export function appRoutes(
  topology: Topology,
  target: (app: string) => RouteTarget,
  servingRegions: (app: App) => number = () => 1,
): Route[] {
  const { timeouts } = topology;
  const action = (app: App, kind: "idempotent" | "any-method"): RouteAction => ({
    ...target(app.name),
    timeout: seconds(timeouts.routeMs),
    retry_policy: retryPolicy(kind, timeouts, servingRegions(app)),
  });
  return topology.apps.flatMap((app) => [
    { name: app.name, match: { prefix: app.prefix, headers: [IDEMPOTENT_METHOD_MATCHER] }, route: action(app, "idempotent") },
    { name: app.name, match: { prefix: app.prefix }, route: action(app, "any-method") },
  ]);
}
