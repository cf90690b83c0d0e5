import type { ConnectionLimits, Timeouts } from "../infra/topology/model.ts";
import type {
  CircuitBreakers, HealthCheck, HeaderMatcher, HeaderValueOption, LocalReplyConfig, OutlierDetection, RetryPolicy,
} from "./envoy-api.ts";
import { seconds } from "./envoy-fields.ts";
import { UNSERVED_HEADER } from "./headers.ts";

/**
 * Failover settings shared by every cluster and route of the edge, derived from the topology.
 *
 * One rule holds them together: each hop retries only failures of its own upstream connection
 * (connect failures, refused or reset streams). No layer retries a 5xx response, so a failure is
 * retried at the hop where it happened and never again by the layers above it.
 */

/**
 * Connect timeout towards hosts on the same datacenter network (a POP's ingress, an ingress's apps).
 * A live host there answers a SYN within a millisecond; a dead container's address never answers, so
 * a longer wait only delays the failover. Backbone and discovery keep the topology's `connectMs`.
 */
export function datacenterConnectMs(timeouts: Timeouts): number {
  return Math.min(timeouts.connectMs, 250);
}

/** Retries after the first attempt. */
export const RETRIES = 2;

/** Methods a client may send twice (RFC 9110 §9.2.2): only these are retried once an upstream may have seen them. */
export const IDEMPOTENT_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"] as const;

export const IDEMPOTENT_METHOD_MATCHER: HeaderMatcher = {
  name: ":method",
  string_match: { safe_regex: { regex: `^(${IDEMPOTENT_METHODS.join("|")})$` } },
};

/** Failures where the upstream never received the request: safe to retry for any method. */
const NEVER_SENT = "connect-failure,refused-stream,reset-before-request";
/** Adds a stream reset after the request was sent (the upstream died mid-request). */
const SENT_MAYBE = "connect-failure,refused-stream,reset";

export type RetryClass = "idempotent" | "any-method";

/** The mark on a 503 that reached no app (see UNSERVED_HEADER), added by the replies that make one. */
export const UNSERVED_MARK: HeaderValueOption = { header: { key: UNSERVED_HEADER, value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" };

/** Tries a failover route gives each serving region before the next: a lost POP is not a lost region. */
export const TRIES_PER_REGION = 2;

/**
 * Each try is bounded so a hung upstream leaves time for another; the tries together fit the route
 * timeout. Retries go to a host not tried yet. `servingRegions` > 1 (the routes of an app with
 * failover, that many regions at most in a serving order): an answer marked unserved is retried
 * too, whatever the method (no app saw the request), with TRIES_PER_REGION tries per region, each
 * pair leaving the priorities tried before, which in a failover cluster is the next serving region.
 * Unserved answers come at once; the route timeout still bounds all tries together.
 */
export function retryPolicy(kind: RetryClass, timeouts: Timeouts, servingRegions = 1): RetryPolicy {
  const acrossRegions = servingRegions > 1;
  return {
    retry_on: (kind === "idempotent" ? SENT_MAYBE : NEVER_SENT) + (acrossRegions ? ",retriable-headers" : ""),
    num_retries: acrossRegions ? TRIES_PER_REGION * servingRegions - 1 : RETRIES,
    per_try_timeout: seconds(Math.floor(timeouts.routeMs / (RETRIES + 1))),
    retry_host_predicate: [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" },
      },
    ],
    host_selection_retry_max_attempts: 3,
    ...(acrossRegions
      ? {
          retriable_headers: [{ name: UNSERVED_HEADER, present_match: true as const }],
          retry_priority: {
            name: "envoy.retry_priorities.previous_priorities" as const,
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig" as const,
              update_frequency: TRIES_PER_REGION,
            },
          },
        }
      : {}),
  };
}

/** Share of active requests that may be retries at once; retries beyond it fail instead of piling on. */
export const RETRY_BUDGET_PERCENT = 25;
/** Retries always allowed however few requests are active, so a lost host mid-burst is still retried. */
export const MIN_RETRY_CONCURRENCY = 64;

/**
 * Sized from the proxy's own connection limits: an upstream may get as many connections and
 * requests as the proxy accepts downstream, never Envoy's defaults (1024 requests, 3 retries).
 */
export function circuitBreakers(connections: ConnectionLimits): CircuitBreakers {
  return {
    thresholds: [
      {
        priority: "DEFAULT",
        max_connections: connections.perListener,
        max_pending_requests: connections.perListener,
        max_requests: connections.global,
        retry_budget: { budget_percent: { value: RETRY_BUDGET_PERCENT }, min_retry_concurrency: MIN_RETRY_CONCURRENCY },
      },
    ],
  };
}

/**
 * Ejects a host on failures of the connection to it (connect failures, resets, timeouts), never on
 * the 5xx it answers: a peer POP's `503 owner_unavailable` or an app's own 500 says nothing about
 * that host's health. A passing active health check brings an ejected host back at once.
 */
export const OUTLIER_DETECTION: OutlierDetection = {
  split_external_local_origin_errors: true,
  consecutive_local_origin_failure: 2,
  enforcing_consecutive_local_origin_failure: 100,
  enforcing_consecutive_5xx: 0,
  enforcing_consecutive_gateway_failure: 0,
  enforcing_success_rate: 0,
  enforcing_local_origin_success_rate: 0,
  interval: "1s",
  base_ejection_time: "5s",
  max_ejection_time: "30s",
  max_ejection_percent: 100,
  successful_active_health_check_uneject_host: true,
};

/**
 * After a POP is drained (/healthcheck/fail), how long its peers need before it may stop: a peer's
 * own checks must have failed it (two misses at the one-second interval), not only the marked
 * response that took it out first.
 */
export const PEER_DRAIN_MS = 2 * 1000 + 1000;

/** How long one health check may take. */
export const HEALTH_CHECK_TIMEOUT_MS = 1000;

/**
 * Active HTTP/2 health check on `path`, every second whether or not the cluster has traffic: two
 * misses take a host out (about 2 s). A host that is out is checked four times a second and one
 * success brings it back: an app's health passes through up to three checks (ingress, its POP, a
 * peer POP), so a returning datacenter is back everywhere within about 0.75 s of its app answering.
 */
export function healthCheck(path: string, codec: "HTTP1" | "HTTP2" = "HTTP2", intervalMs = 1000): HealthCheck {
  const interval = `${intervalMs / 1000}s` as const;
  return {
    // A host that dies without closing its connections (its container's network gone) is found by
    // this timeout, so it stays short; an app's health crosses up to three proxies within it.
    timeout: `${HEALTH_CHECK_TIMEOUT_MS / 1000}s`,
    interval,
    no_traffic_interval: interval,
    unhealthy_interval: "0.25s",
    unhealthy_threshold: 2,
    healthy_threshold: 1,
    http_health_check: { path, codec_client_type: codec },
  };
}

/**
 * What a cluster of the edge adds to its endpoints: health checks, outlier detection, circuit
 * breakers, and no panic routing, so a cluster whose every host is down fails fast (no healthy
 * upstream) instead of trying dead hosts.
 */
export function failoverSettings(healthPath: string, connections: ConnectionLimits, codec: "HTTP1" | "HTTP2" = "HTTP2", intervalMs = 1000) {
  return {
    health_checks: [healthCheck(healthPath, codec, intervalMs)],
    outlier_detection: OUTLIER_DETECTION,
    circuit_breakers: circuitBreakers(connections),
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    close_connections_on_host_health_failure: true,
  };
}

/** Envoy response flags of a request that found no upstream able to take it. */
export const UNAVAILABLE_FLAGS = ["UH", "UF", "UO", "URX", "UC", "UR"] as const;

/**
 * Envoy's rule for a gRPC request (it answers a local reply to one trailers-only, the body as
 * grpc-message): content type exactly `application/grpc` or starting with `application/grpc+`.
 */
export const GRPC_REQUEST_MATCHER: HeaderMatcher = {
  name: "content-type",
  string_match: { safe_regex: { regex: "^application/grpc(\\+.*)?$" } },
};

/**
 * The grpc-message of an edge error, the JSON's fields as text: `<error>: <message> (<key>=<value> ...)`,
 * as the region router writes its own (routing.ts rejectionText).
 */
export function grpcErrorText(error: string, fields: Record<string, string>): string {
  const { message, ...rest } = fields;
  const pairs = Object.entries(rest).map(([key, value]) => `${key}=${value}`);
  return `${error}: ${message ?? error}${pairs.length > 0 ? ` (${pairs.join(" ")})` : ""}`;
}

/**
 * Rewrites Envoy's plain-text "no healthy upstream" / "upstream connect error" replies into the
 * edge's error with a 503, plus `headers`: JSON with `fields` (command operators allowed), or for a
 * gRPC request the same fields as text, which Envoy sends as grpc-message with UNAVAILABLE (14, its
 * mapping of 503). Without the gRPC mapper a gRPC call would get the JSON as its grpc-message.
 */
export function unavailableReply(error: string, fields: Record<string, string>, headers: HeaderValueOption[] = []): LocalReplyConfig {
  const unavailable = { response_flag_filter: { flags: [...UNAVAILABLE_FLAGS] } };
  const marked = headers.length > 0 ? { headers_to_add: headers } : {};
  return {
    mappers: [
      {
        filter: { and_filter: { filters: [unavailable, { header_filter: { header: GRPC_REQUEST_MATCHER } }] } },
        status_code: 503,
        ...marked,
        body_format_override: { text_format_source: { inline_string: grpcErrorText(error, fields) } },
      },
      {
        filter: unavailable,
        status_code: 503,
        ...marked,
        body_format_override: { json_format: { error, ...fields }, content_type: "application/json" },
      },
    ],
  };
}
