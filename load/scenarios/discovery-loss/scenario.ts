// discovery-loss: stop one region's discovery service for longer than the tenant cache TTL (full
// form: 10 minutes). Tenants cached before the loss must keep being served; a Host no tenant has
// gets the fallback outcome within the lookup timeout; nothing loops (508).
import { discoveryContainer } from "../../../infra/topology/names.ts";
import { checkRouting } from "../../../infra/commands/routing-check.ts";
import { UNKNOWN_OWNER } from "../../lib/edge-response.ts";
import {
  docker,
  dockerAsync,
  entryOutputsFile,
  MAX_ERROR_RATE,
  regionOf,
  runWithFault,
  scenarioResult,
  type Scenario,
} from "../scenario.ts";

/** Time the proxy path may add to the lookup timeout on this shared host before the reply leaves the POP. */
export const LOOKUP_REPLY_ALLOWANCE_MS = 250;

export const discoveryLoss: Scenario = {
  name: "discovery-loss",
  description: "stop one region's discovery past the cache TTL; 0 errors for tenants seen before, unknown tenants 503 no_owner within the lookup timeout, no 508",
  async run(ctx) {
    const region = regionOf(ctx);
    const { discovery, fallback } = ctx.topology.routing;
    if (fallback.policy !== "reject") throw new Error(`discovery-loss expects routing.fallback.policy reject (503 no_owner); the topology has ${fallback.policy}`);
    const container = discoveryContainer(ctx.topology.project, region.name);
    // Every POP looks every tenant up once now, so each tenant is cached everywhere before the loss.
    const cold = await checkRouting(ctx.topology, ctx.outputs.pops, ctx.outputs.ca, 30_000);
    if (cold.length > 0) throw new Error(`could not warm the tenant caches: ${cold.slice(0, 3).join("; ")}`);
    const downSeconds = ctx.form === "full" ? 600 : discovery.cacheTtlSeconds + 15;
    const run = await runWithFault(
      ctx,
      "discovery-loss",
      {
        unknownTenants: true,
        owners: {
          [UNKNOWN_OWNER]: {
            maxErrorRate: 0,
            expected: { status: 503, error: "no_owner" },
            degradedP99Ms: discovery.timeoutMs + LOOKUP_REPLY_ALLOWANCE_MS,
          },
        },
        sourceMaxErrorRate: { host: 0, jwt: MAX_ERROR_RATE },
      },
      entryOutputsFile(ctx, "discovery-loss"),
      { leadSeconds: 5, faultSeconds: downSeconds, tailSeconds: 0 },
      {
        async inject() {
          ctx.restores.push(`docker start ${container}`, () => docker(["start", container], region.dockerHost));
          await dockerAsync(["stop", "-t", "2", container], region.dockerHost);
        },
      },
    );
    const loops = run.load.failures.filter((f) => f.status === 508).length;
    return scenarioResult(ctx, "discovery-loss", `docker stop ${container} for ${downSeconds} s (cache TTL ${discovery.cacheTtlSeconds} s)`, run, [
      { name: "508 replies", value: loops, unit: "count", max: 0 },
    ]);
  },
};
