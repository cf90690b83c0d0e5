import type { ConnectionLimits, Timeouts } from "../infra/topology/model.ts";
import { appHealthPath, EDGE_HEALTH_PATH } from "../infra/topology/names.ts";
import type { AccessLog, Cluster, Listener, Route } from "./envoy-api.ts";
import { POP_HEADER, ROUTE_HEADER, SERVED_HEADER } from "./headers.ts";
import { seconds } from "./envoy-fields.ts";
import { HEALTH_CHECK_TIMEOUT_MS } from "./failover.ts";
import { httpListener, ROUTER_FILTER } from "./listeners.ts";
import { cluster } from "./clusters.ts";
import type { Endpoint } from "./placement.ts";

/** Access log, health answers, and the stats listener that exposes only metrics and readiness. */

export const STATS_LISTENER = "stats";
export const ADMIN_CLUSTER = "admin";
/** Admin paths the stats listener forwards; the rest of the admin API stays on 127.0.0.1. */
export const STATS_PATHS = ["/stats/prometheus", "/ready"] as const;

export function accessLog(): AccessLog[] {
  return [
    {
      name: "envoy.access_loggers.stdout",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
        log_format: {
          json_format: {
            start_time: "%START_TIME%",
            method: "%REQ(:METHOD)%",
            path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
            authority: "%REQ(:AUTHORITY)%",
            protocol: "%PROTOCOL%",
            status: "%RESPONSE_CODE%",
            response_flags: "%RESPONSE_FLAGS%",
            upstream_cluster: "%UPSTREAM_CLUSTER%",
            upstream_host: "%UPSTREAM_HOST%",
            duration_ms: "%DURATION%",
            edge_route: `%RESP(${ROUTE_HEADER})%`,
            edge_pop: `%RESP(${POP_HEADER})%`,
            edge_served: `%RESP(${SERVED_HEADER})%`,
            request_id: "%REQ(X-REQUEST-ID)%",
          },
        },
      },
    },
  ];
}

export function statsListener(stats: Endpoint, limits: { timeouts: Timeouts; connections: ConnectionLimits }): Listener {
  const routes: Route[] = [
    ...STATS_PATHS.map((path) => ({
      name: `admin${path.replaceAll("/", "-")}`,
      match: { path },
      route: { cluster: ADMIN_CLUSTER, timeout: "5s" as const },
    })),
    { name: "not-exposed", match: { prefix: "/" }, direct_response: { status: 404 } },
  ];
  return httpListener(STATS_LISTENER, stats, limits, {
    route_config: { name: STATS_LISTENER, virtual_hosts: [{ name: STATS_LISTENER, domains: ["*"], routes }] },
    http_filters: [ROUTER_FILTER],
    access_log: [],
  });
}

/** The admin API as an upstream of the stats listener; always a literal loopback address. */
export function adminCluster(admin: Endpoint, connectTimeoutMs: number): Cluster {
  return cluster({ name: ADMIN_CLUSTER, type: "STATIC", endpoints: [admin], protocol: "http1", connectTimeoutMs });
}

function skipping(skipFilters: string[]): Pick<Route, "typed_per_filter_config"> {
  if (skipFilters.length === 0) return {};
  return {
    typed_per_filter_config: Object.fromEntries(
      skipFilters.map((filter) => [filter, { "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig" as const, disabled: true }]),
    ),
  };
}

/**
 * Answered 200 by the proxy itself with every HTTP filter named in `skipFilters` disabled, so a
 * health check needs no token and never reaches the region router.
 */
export function healthRoute(skipFilters: string[]): Route {
  return {
    name: "edge-healthz",
    match: { path: EDGE_HEALTH_PATH },
    direct_response: { status: 200, body: { inline_string: "ok\n" } },
    ...skipping(skipFilters),
  };
}

/**
 * `app`'s health through this proxy: the app health path, passed on to `cluster` as it is (with
 * `rewrite`, as that path instead), so it answers 200 only while the cluster has a healthy host
 * that answers 200. No retry: a health check wants the truth of one try.
 */
export function appHealthRoute(app: string, cluster: string, skipFilters: string[], rewrite?: string): Route {
  return {
    name: `edge-healthz-${app}`,
    match: { path: appHealthPath(app) },
    route: { cluster, timeout: seconds(APP_HEALTH_TIMEOUT_MS), ...(rewrite === undefined ? {} : { prefix_rewrite: rewrite }) },
    ...skipping(skipFilters),
  };
}

/** Within the health check's own timeout (failover.ts healthCheck), leaving the hop before it time to answer. */
const APP_HEALTH_TIMEOUT_MS = HEALTH_CHECK_TIMEOUT_MS - 200;
