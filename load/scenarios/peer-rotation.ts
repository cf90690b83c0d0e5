// When a POP leaves rotation: the POPs of every other region hold it in their `edge-router-<region>`
// cluster, and count it out of `membership_healthy` once their health checks (or DNS) drop it.
import type { PopOutput } from "../lib/edge-response.ts";
import { peerCluster } from "../../infra/topology/names.ts";
import { sleep } from "./scenario.ts";

/** `envoy_cluster_membership_healthy` of one cluster in a Prometheus text page; undefined when absent. */
export function healthyMembers(prometheusText: string, cluster: string): number | undefined {
  const line = prometheusText
    .split("\n")
    .find((l) => l.startsWith("envoy_cluster_membership_healthy{") && l.includes(`envoy_cluster_name="${cluster}"`));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).at(-1));
}

async function healthyIn(pop: PopOutput, cluster: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${pop.statsUrl}/stats/prometheus`, { signal: AbortSignal.timeout(1000) });
    return healthyMembers(await res.text(), cluster);
  } catch {
    return undefined;
  }
}

/** Healthy members of `region`'s peer cluster as each POP of another region sees them now. */
export async function peerViews(pops: PopOutput[], region: string): Promise<Map<string, number | undefined>> {
  const watchers = pops.filter((p) => p.region !== region);
  const views = await Promise.all(watchers.map((p) => healthyIn(p, peerCluster(region))));
  return new Map(watchers.map((p, i) => [p.id, views[i]]));
}

/**
 * Seconds from `fromMs` until every POP of another region counts fewer healthy members of
 * `region`'s cluster than `before` (its count before the fault); undefined when that did not happen
 * within `timeoutMs`. Polls every 200 ms.
 */
export async function secondsUntilOutOfRotation(
  pops: PopOutput[],
  region: string,
  before: Map<string, number | undefined>,
  fromMs: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = fromMs + timeoutMs;
  while (Date.now() < deadline) {
    const now = await peerViews(pops, region);
    const out = [...before].every(([id, count]) => count !== undefined && (now.get(id) ?? count) < count);
    if (out) return (Date.now() - fromMs) / 1000;
    await sleep(200);
  }
  return undefined;
}
