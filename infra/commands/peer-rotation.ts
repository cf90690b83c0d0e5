// When a POP leaves rotation: the POPs of every other region hold it in their `edge-router-<region>`
// cluster, and count it out of `membership_healthy` once their health checks (or DNS) drop it.
import type { PopOutput } from "../deploy-outputs.ts";
import { peerCluster } from "../topology/names.ts";
import { parsePrometheusText, sampleValue } from "../../load/lib/prometheus-text.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `envoy_cluster_membership_healthy` of one cluster in a Prometheus text page; undefined when absent. */
export function healthyMembers(prometheusText: string, cluster: string): number | undefined {
  return sampleValue(parsePrometheusText(prometheusText), "envoy_cluster_membership_healthy", { envoy_cluster_name: cluster });
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

export interface RotationExit {
  /** Seconds from `fromMs` until the last peer POP counted the member out; undefined unless all did. */
  seconds: number | undefined;
  /** Seconds after `fromMs` at which each peer POP first counted fewer healthy members than before. */
  byPeer: Record<string, number | undefined>;
}

/**
 * Watches every POP of another region until each counts fewer healthy members of `region`'s
 * cluster than `before` (its count before the fault), or `timeoutMs` passes. Polls every 200 ms.
 */
export async function rotationExit(
  pops: PopOutput[],
  region: string,
  before: Map<string, number | undefined>,
  fromMs: number,
  timeoutMs: number,
): Promise<RotationExit> {
  const byPeer: Record<string, number | undefined> = Object.fromEntries([...before.keys()].map((id) => [id, undefined]));
  const deadline = fromMs + timeoutMs;
  while (Date.now() < deadline && Object.values(byPeer).some((v) => v === undefined)) {
    const now = await peerViews(pops, region);
    const at = (Date.now() - fromMs) / 1000;
    for (const [id, count] of before) {
      const seen = now.get(id);
      if (byPeer[id] === undefined && count !== undefined && seen !== undefined && seen < count) byPeer[id] = at;
    }
    await sleep(200);
  }
  const times = Object.values(byPeer);
  return { seconds: times.every((t) => t !== undefined) ? Math.max(...(times as number[])) : undefined, byPeer };
}

/** Peer views before a fault, retried until every peer POP answered. */
export async function peerViewsBefore(pops: PopOutput[], region: string): Promise<Map<string, number | undefined>> {
  for (let attempt = 0; ; attempt++) {
    const views = await peerViews(pops, region);
    if ([...views.values()].every((v) => v !== undefined) || attempt >= 10) return views;
    await sleep(500);
  }
}

/** "peer 1.2 s, peer not seen" for a report. */
export function formatRotationExit(exit: RotationExit): string {
  return Object.entries(exit.byPeer)
    .map(([id, t]) => `${id} ${t === undefined ? "not seen" : `${t.toFixed(1)} s`}`)
    .join(", ");
}

/** Waits until every POP counts every POP of each other region healthy; returns the peers that still do not. */
export async function waitAllPeersHealthy(pops: PopOutput[], timeoutMs: number): Promise<string[]> {
  const regions = [...new Set(pops.map((p) => p.region))];
  const deadline = Date.now() + timeoutMs;
  let lagging: string[] = [];
  do {
    lagging = [];
    for (const region of regions) {
      const members = pops.filter((p) => p.region === region).length;
      for (const [id, healthy] of await peerViews(pops, region)) if (healthy !== members) lagging.push(`${id} sees ${healthy ?? "?"}/${members} of ${peerCluster(region)}`);
    }
    if (lagging.length === 0) return [];
    await sleep(500);
  } while (Date.now() < deadline);
  return lagging;
}
