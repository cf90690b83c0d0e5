// datacenter-loss: stop every ingress and app container of one region's datacenter. Requests that
// region owns must get a fast 503 owner_unavailable naming it; every other region's traffic,
// wherever it enters, keeps being served.
import {
  docker,
  dockerAsync,
  entryOutputsFile,
  MAX_ERROR_RATE,
  otherRegions,
  regionOf,
  runWithFault,
  scenarioResult,
  type Scenario,
  type ScenarioContext,
} from "../scenario.ts";
import { listContainers } from "../../../infra/topology/inventory.ts";
import type { ExpectedReply } from "../../lib/edge-response.ts";
import type { FailoverTarget, OwnerTarget } from "../../lib/fault-plan.ts";

/** The reply the edge owes a request whose owner region's datacenter is down. */
export const OWNER_UNAVAILABLE: ExpectedReply = { status: 503, error: "owner_unavailable", namesOwnerRegion: true };

/** Every container of the region's datacenter: ingress replicas, then app replicas. */
export function datacenterContainers(ctx: ScenarioContext): string[] {
  const region = regionOf(ctx);
  return listContainers(ctx.topology)
    .filter((c) => c.region === region.name && (c.role === "ingress" || c.role === "app"))
    .map((c) => c.name);
}

/** Stops the datacenter's containers, with their start pushed as the undo first. */
export async function stopDatacenter(ctx: ScenarioContext, containers: string[]): Promise<void> {
  const region = regionOf(ctx);
  ctx.restores.push(`docker start ${containers.join(" ")}`, () => docker(["start", ...containers], region.dockerHost));
  await dockerAsync(["stop", "-t", "2", ...containers], region.dockerHost);
}

/** Other regions must stay under the error target; the lost region's owned requests get OWNER_UNAVAILABLE. */
export function datacenterLossOwners(ctx: ScenarioContext, lost: OwnerTarget): Record<string, OwnerTarget> {
  return { ...Object.fromEntries(otherRegions(ctx).map((r) => [r, { maxErrorRate: MAX_ERROR_RATE }])), [ctx.region]: lost };
}

/**
 * What the lost region's apps must show: one that fails over is served by the next region of its
 * serving order (only by that one, the rest being up), one that is owner-only by none.
 */
export function failoverTargets(ctx: ScenarioContext): FailoverTarget[] {
  return ctx.outputs.apps.map((app) => ({ ownerRegion: ctx.region, app: app.name, servedBy: app.serving[ctx.region]?.[1] ?? null }));
}

/**
 * The fault load's targets while the region's datacenter is lost: its owner-only apps answer
 * OWNER_UNAVAILABLE with p99 <= 1 s, its failover apps fail over to their next region, and no owner
 * region gets more than MAX_ERROR_RATE errors.
 */
export function datacenterLossPlan(ctx: ScenarioContext) {
  return {
    owners: datacenterLossOwners(ctx, { expected: OWNER_UNAVAILABLE, degradedP99Ms: 1000, maxErrorRate: MAX_ERROR_RATE }),
    failover: failoverTargets(ctx),
  };
}

export const datacenterLoss: Scenario = {
  name: "datacenter-loss",
  description:
    "stop a region's ingress and app containers; its owner-only apps' requests get 503 owner_unavailable with p99 <= 1 s, its failover apps' are served by their next region, other regions < 0.1% errors",
  async run(ctx) {
    const containers = datacenterContainers(ctx);
    const run = await runWithFault(
      ctx,
      "datacenter-loss",
      datacenterLossPlan(ctx),
      entryOutputsFile(ctx, "datacenter-loss"),
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 120, tailSeconds: 0 } : { leadSeconds: 5, faultSeconds: 20, tailSeconds: 0 },
      { inject: () => stopDatacenter(ctx, containers) },
    );
    return scenarioResult(ctx, "datacenter-loss", `docker stop ${containers.join(" ")}`, run);
  },
};
