// residency: lose the datacenter of a region of jurisdiction eu under load, then start it again.
// Traffic that region owns enters every region. An app that fails over must be served by its next
// region, marked failover=1; a residency-bound app must get 503 owner_unavailable and never be
// served outside the owner's jurisdiction; once the datacenter is back, the owner serves its
// traffic again within 5 s.
import { engineOfRegion } from "../../../infra/commands/engines.ts";
import { secondsUntilLastFailure } from "../../lib/fault-log.ts";
import { datacenterContainers, datacenterLossPlan, stopDatacenter } from "../datacenter-loss/scenario.ts";
import { RECOVERY_TARGET_SECONDS } from "../recovery/scenario.ts";
import { dockerAsync, entryOutputsFile, runWithFault, scenarioResult, type Scenario, type ScenarioContext } from "../scenario.ts";

/** The jurisdiction whose region the scenario takes down unless --region chooses one. */
export const RESIDENCY_JURISDICTION = "eu";

/**
 * The region it takes down: the chosen one, else the first of jurisdiction eu. The topology must
 * have an app that fails over for that owner and a residency-bound one that cannot leave its
 * jurisdiction, or the scenario would prove nothing.
 */
export function residencyRegion(ctx: ScenarioContext): string {
  const region = ctx.regionChosen ? ctx.region : (ctx.topology.regions.find((r) => r.jurisdiction === RESIDENCY_JURISDICTION)?.name ?? ctx.region);
  const apps = ctx.outputs.apps;
  const failsOver = apps.some((app) => (app.serving[region]?.length ?? 0) > 1);
  const bound = apps.some((app) => app.residency === "jurisdiction");
  if (!failsOver || !bound) {
    throw new Error(`residency needs, for owner region ${region}, an app with a failover placement and an app with residency: jurisdiction; the topology has ${failsOver ? "no residency-bound app" : "no app that fails over for it"}`);
  }
  return region;
}

export const residency: Scenario = {
  name: "residency",
  description:
    "stop an eu region's datacenter under load from every region, then start it: its failover app is served by the next region (failover=1), its residency-bound app gets 503 owner_unavailable and 0 answers outside eu; the owner serves again within 5 s",
  async run(outer) {
    const ctx: ScenarioContext = { ...outer, region: residencyRegion(outer) };
    const containers = datacenterContainers(ctx);
    const run = await runWithFault(
      ctx,
      "residency",
      datacenterLossPlan(ctx),
      entryOutputsFile(ctx, "residency"),
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 60, tailSeconds: 30 } : { leadSeconds: 5, faultSeconds: 15, tailSeconds: 10 },
      {
        inject: () => stopDatacenter(ctx, containers),
        async restoreInRun() {
          await dockerAsync(["start", ...containers], engineOfRegion(ctx.topology, ctx.region));
        },
      },
    );
    const restartedAtMs = run.restoredAtMs!;
    const owned = run.load.failures.filter((f) => f.ownerRegion === ctx.region);
    const during = owned.filter((f) => f.startMs >= run.injectedAtMs && f.startMs < restartedAtMs);
    const summary = run.load.summary;
    return scenarioResult(ctx, "residency", `docker stop, then docker start, of ${containers.join(" ")}`, run, [
      { name: `answers outside the owner's jurisdiction (${ctx.region})`, value: summary?.outsideJurisdiction ?? null, unit: "count", max: 0 },
      { name: "served by failover during the loss", value: during.filter((f) => f.outcome === "failover").length, unit: "count", min: 1 },
      { name: "503 owner_unavailable during the loss", value: during.filter((f) => f.outcome === "expected_degraded").length, unit: "count", min: 1 },
      // Counted from when Docker reports the containers started, as in recovery.
      {
        name: "owner serves again after docker start returned",
        value: secondsUntilLastFailure(owned, restartedAtMs, (f) => f.outcome === "failover" || f.outcome === "expected_degraded"),
        unit: "s",
        max: RECOVERY_TARGET_SECONDS,
      },
    ]);
  },
};
