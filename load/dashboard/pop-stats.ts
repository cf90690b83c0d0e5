// One reading of a POP through its stats listener (the only part of admin a deploy exposes):
// `/ready`, and the region router's counters and the local clusters' health from `/stats/prometheus`.
import { localCluster } from "../../infra/topology/names.ts";
import type { PopOutput } from "../../infra/deploy-outputs.ts";
import { parsePrometheusText, prometheusName, sampleValue, type PrometheusPage } from "../lib/prometheus-text.ts";

/** The filter's stats are `edge_router.<name>` (filters/region-router/assembly/router.ts). */
const ROUTER = "edge_router.";

/** Cumulative counters of the region router in one POP, since that Envoy started. */
export interface RouterCounters {
  routedLocal: number;
  /** Requests that arrived over the backbone with an owner another POP decided (also counted as routed). */
  carried: number;
  forwarded: Record<string, number>;
  fallback: number;
  rejected: Record<string, number>;
  lookups: number;
  lookupErrors: number;
  cacheHits: number;
  staleHits: number;
  /** Per app, per serving region: answers another region gave for an owner (failover). */
  failover: Record<string, Record<string, number>>;
  /** Discovery lookup latency histogram (ms); Envoy refreshes histograms at its stats flush (5 s). */
  lookupMs: { count: number; sum: number; buckets: { le: number; count: number }[] };
}

/** Health-check view of one cluster: healthy members now, and the checks so far. */
export interface ClusterHealth {
  healthy: number;
  checksPassed: number;
  checksFailed: number;
  /** Failed checks that did not reach the ingress at all (connection refused, reset or timed out). */
  networkFailures: number;
}

export type PopReading =
  | { state: "up"; counters: RouterCounters; clusters: Record<string, ClusterHealth> }
  | { state: "down"; reason: string };

/** The names a reading needs: the deploy's regions and apps. */
export interface StatNames {
  regions: string[];
  apps: string[];
}

function counter(page: PrometheusPage, stat: string): number {
  return sampleValue(page, prometheusName(ROUTER + stat)) ?? 0;
}

/** Rejections by code, as the filter names them (`rejected.<code>`; codes are snake_case, so the name is the code). */
function rejections(page: PrometheusPage): Record<string, number> {
  const prefix = prometheusName(`${ROUTER}rejected.`);
  const counts: Record<string, number> = {};
  for (const [name, samples] of page) if (name.startsWith(prefix)) counts[name.slice(prefix.length)] = samples[0]?.value ?? 0;
  return counts;
}

export function routerCounters(page: PrometheusPage, names: StatNames): RouterCounters {
  const byName = (list: string[], stat: (name: string) => string) =>
    Object.fromEntries(list.map((name) => [name, counter(page, stat(name))]));
  const histogram = prometheusName(`${ROUTER}lookup_ms`);
  const buckets = (page.get(`${histogram}_bucket`) ?? [])
    .map((sample) => ({ le: sample.labels.le === "+Inf" ? Infinity : Number(sample.labels.le), count: sample.value }))
    .filter((bucket) => !Number.isNaN(bucket.le));
  return {
    routedLocal: counter(page, "routed_local"),
    carried: counter(page, "carried"),
    forwarded: byName(names.regions, (region) => `forwarded.${region}`),
    fallback: counter(page, "fallback"),
    rejected: rejections(page),
    lookups: counter(page, "lookups"),
    lookupErrors: counter(page, "lookup_errors"),
    cacheHits: counter(page, "cache_hits"),
    staleHits: counter(page, "stale_hits"),
    failover: Object.fromEntries(names.apps.map((app) => [app, byName(names.regions, (region) => `failover.${app}.${region}`)])),
    lookupMs: {
      count: sampleValue(page, `${histogram}_count`) ?? 0,
      sum: sampleValue(page, `${histogram}_sum`) ?? 0,
      buckets,
    },
  };
}

/** Health of the POP's clusters to its own datacenter, `<app>-<region>`. */
export function localClusterHealth(page: PrometheusPage, region: string, apps: string[]): Record<string, ClusterHealth> {
  const health: Record<string, ClusterHealth> = {};
  for (const app of apps) {
    const cluster = { envoy_cluster_name: localCluster(app, region) };
    const healthy = sampleValue(page, "envoy_cluster_membership_healthy", cluster);
    if (healthy === undefined) continue;
    health[app] = {
      healthy,
      checksPassed: sampleValue(page, "envoy_cluster_health_check_success", cluster) ?? 0,
      checksFailed: sampleValue(page, "envoy_cluster_health_check_failure", cluster) ?? 0,
      networkFailures: sampleValue(page, "envoy_cluster_health_check_network_failure", cluster) ?? 0,
    };
  }
  return health;
}

async function getText(url: string, signal: AbortSignal): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal });
  return { status: res.status, body: await res.text() };
}

function failure(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  if (cause) return cause;
  return error instanceof Error ? (error.name === "TimeoutError" ? "timed out" : error.message) : String(error);
}

/**
 * The stats the page reads (the region router's and the clusters' health checks), as Envoy's own
 * filter: a POP's whole Prometheus page is some 450 KB, this part of it 10 KB, read four times a
 * second from every POP.
 */
export const DASHBOARD_STATS_FILTER = "edge_router\\.|^cluster\\.[^.]+\\.(health_check\\.|membership_healthy$)";

/**
 * Reads one POP; a stats listener that does not answer within `timeoutMs`, or a POP not ready, is
 * `down` with the reason. `/ready` and the stats are asked at once, so a reading is one round trip.
 */
export async function readPop(pop: PopOutput, names: StatNames, timeoutMs = 800): Promise<PopReading> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const [ready, stats] = await Promise.all([
      getText(`${pop.statsUrl}/ready`, signal),
      getText(`${pop.statsUrl}/stats/prometheus?filter=${encodeURIComponent(DASHBOARD_STATS_FILTER)}`, signal),
    ]);
    if (ready.status !== 200) return { state: "down", reason: `/ready answered ${ready.status}` };
    if (stats.status !== 200) return { state: "down", reason: `/stats/prometheus answered ${stats.status}` };
    const page = parsePrometheusText(stats.body);
    return { state: "up", counters: routerCounters(page, names), clusters: localClusterHealth(page, pop.region, names.apps) };
  } catch (error) {
    return { state: "down", reason: `stats listener unreachable (${failure(error)})` };
  }
}
