// The random-Host flood: one Wasm POP (the bare listener of arm C2, the router with the topology's
// own cache TTLs, discovery `directory`) gets FLOOD_RATE requests per second for hosts nobody
// knows, each host sent once, while a known-tenant stream runs at KNOWN_RATE. Both clients are
// open loop on the client core. Compared with the known stream alone: the proxy's CPU per flood
// request, the discovery calls the flood causes, and the known tenants' latency.
import { join } from "node:path";
import { envoyStats, filterStats, residentBytes } from "../envoy-memory.ts";
import { ARMS, type Arm } from "./arms.ts";
import { startVerifiedArm } from "./measure.ts";
import { runOpenLoop, startOpenLoop, writeOpenLoopRequests, type OpenLoopWindow } from "./openloop.ts";
import { CLIENT_CPUS, type BenchSession } from "./session.ts";

export const FLOOD_RATE = 10_000;
export const FLOOD_SECONDS = 30;
export const KNOWN_RATE = 500;
export const FLOOD_HOST_SUFFIX = ".flood.route-bench.test";

export interface FloodPlan {
  floodRate: number;
  floodSeconds: number;
  knownRate: number;
  unloadedSeconds: number;
}

export const FULL_FLOOD: FloodPlan = { floodRate: FLOOD_RATE, floodSeconds: FLOOD_SECONDS, knownRate: KNOWN_RATE, unloadedSeconds: 10 };
export const QUICK_FLOOD: FloodPlan = { floodRate: 500, floodSeconds: 1, knownRate: 100, unloadedSeconds: 0.5 };

export interface FloodResult {
  plan: FloodPlan;
  /** Known stream alone. */
  unloaded: OpenLoopWindow;
  /** Known stream during the flood. */
  known: OpenLoopWindow;
  flood: OpenLoopWindow;
  /** Proxy CPU per known (cached) request with no flood. */
  cachedCpuUs: number | null;
  /** Proxy CPU per request answered in the flood window (flood and known requests together). */
  floodCpuUs: number | null;
  /** Share of the proxy core busy during the flood. */
  proxyBusy: number;
  /** Tenant lookups discovery received per second of flood (its own counter, health checks taken out). */
  discoveryCallsPerSecond: number;
  /** Region-router counter changes over the flood (names after `edge_router.`). */
  routerStats: Record<string, number>;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  wasmMemoryBeforeBytes: number | null;
  wasmMemoryAfterBytes: number | null;
  problems: string[];
}

const HEALTH_CHECKS = "cluster.discovery.health_check.attempt";

/** C2's bootstrap and cases: the router as configured by regionRouterConfig, tenant cache in use. */
export const FLOOD_ARM: Arm = { ...ARMS.find((arm) => arm.id === "C2")!, id: "flood", title: "Wasm POP under a random-Host flood" };

export async function runFlood(session: BenchSession, plan: FloodPlan, log: (line: string) => void): Promise<FloodResult> {
  const { pop, envoy, cases } = await startVerifiedArm(session, FLOOD_ARM);
  try {
    log(`  flood POP: routing verified (${cases.length} cases)`);
    const knownFile = writeOpenLoopRequests(join(session.dir, "flood-known.json"), FLOOD_ARM.timed(session.context));
    const app = session.topology.apps[0]!;
    const floodFile = writeOpenLoopRequests(join(session.dir, "flood-hosts.json"), [{ path: `${app.prefix}/item-1`, headers: { host: `x${FLOOD_HOST_SUFFIX}` } }]);
    const pids = [envoy.pid];
    const unloaded = await runOpenLoop({ url: pop.url, requestFile: knownFile, rate: plan.knownRate, seconds: plan.unloadedSeconds, cpus: CLIENT_CPUS, measuredPids: pids });
    log(`    known tenants alone at ${plan.knownRate} rps: p99 ${unloaded.p99Ms.toFixed(2)} ms`);

    const statsBefore = await filterStats(pop.adminUrl);
    const checksBefore = (await envoyStats(pop.adminUrl, [HEALTH_CHECKS])).get(HEALTH_CHECKS) ?? 0;
    const lookupsBefore = await session.upstream.discoveryRequests("directory");
    const rssBeforeBytes = residentBytes(envoy.pid);
    // The known stream starts first and ends last, so it spans the whole flood.
    const margin = Math.min(1, plan.floodSeconds / 4);
    const known = startOpenLoop({ url: pop.url, requestFile: knownFile, rate: plan.knownRate, seconds: plan.floodSeconds + 2 * margin, cpus: CLIENT_CPUS, measuredPids: [] });
    await new Promise((resolve) => setTimeout(resolve, margin * 1000));
    const flood = await runOpenLoop({
      url: pop.url, requestFile: floodFile, rate: plan.floodRate, seconds: plan.floodSeconds, connections: 256,
      randomHostSuffix: FLOOD_HOST_SUFFIX, cpus: CLIENT_CPUS, measuredPids: pids,
    });
    const lookupsAfter = await session.upstream.discoveryRequests("directory");
    const checksAfter = (await envoyStats(pop.adminUrl, [HEALTH_CHECKS])).get(HEALTH_CHECKS) ?? 0;
    const knownDuring = await known.result;
    const statsAfter = await filterStats(pop.adminUrl);
    log(`    flood of ${plan.floodRate.toLocaleString("en-US")} unknown hosts/s: ${Math.round(flood.completed / flood.seconds).toLocaleString("en-US")} answered/s; known tenants p99 ${knownDuring.p99Ms.toFixed(2)} ms`);

    const proxyCpu = flood.cpuSeconds.get(envoy.pid) ?? 0;
    const cachedCpuUs = unloaded.completed > 0 ? ((unloaded.cpuSeconds.get(envoy.pid) ?? 0) / unloaded.completed) * 1e6 : null;
    // Known requests answered inside the flood window, at the known stream's rate.
    const knownInWindow = Math.min(knownDuring.completed, plan.knownRate * flood.seconds);
    // Not "less the known stream's share": per request, CPU at a low rate is mostly the fixed cost of
    // waking up for it, so subtracting the unloaded figure would undercount the flood.
    const floodCpuUs = flood.completed + knownInWindow > 0 ? (proxyCpu / (flood.completed + knownInWindow)) * 1e6 : null;
    const delta: Record<string, number> = {};
    for (const [name, value] of statsAfter) {
      if (name === "edge_router.wasm_memory_bytes") continue;
      const change = value - (statsBefore.get(name) ?? 0);
      if (change !== 0) delta[name] = change;
    }
    const problems: string[] = [];
    const non200Known = [unloaded, knownDuring].reduce((sum, window) => sum + window.scheduled - window.unsent - (window.statuses.get(200) ?? 0), 0);
    if (non200Known > 0) problems.push(`${non200Known} known-tenant request(s) did not get a 200`);
    if (flood.failed > 0) problems.push(`${flood.failed} flood request(s) got no response${flood.firstError ? ` (${flood.firstError})` : ""}`);
    return {
      plan,
      unloaded,
      known: knownDuring,
      flood,
      cachedCpuUs,
      floodCpuUs,
      proxyBusy: proxyCpu / flood.seconds,
      discoveryCallsPerSecond: (lookupsAfter - lookupsBefore - (checksAfter - checksBefore)) / flood.seconds,
      routerStats: delta,
      rssBeforeBytes,
      rssAfterBytes: residentBytes(envoy.pid),
      wasmMemoryBeforeBytes: statsBefore.get("edge_router.wasm_memory_bytes") ?? null,
      wasmMemoryAfterBytes: statsAfter.get("edge_router.wasm_memory_bytes") ?? null,
      problems,
    };
  } finally {
    await envoy.stop();
  }
}
