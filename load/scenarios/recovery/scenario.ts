// recovery: lose a region's datacenter, then start it again under load. The region's requests must
// stop failing, and stop being served elsewhere, within 5 s of the restart.
import { engineOfRegion } from "../../../infra/commands/engines.ts";
import { secondsUntilLastFailure } from "../../lib/fault-log.ts";
import { datacenterContainers, datacenterLossOwners, failoverTargets, OWNER_UNAVAILABLE, stopDatacenter } from "../datacenter-loss/scenario.ts";
import { dockerAsync, entryOutputsFile, runWithFault, scenarioResult, type Scenario } from "../scenario.ts";

export const RECOVERY_TARGET_SECONDS = 5;

export const recovery: Scenario = {
  name: "recovery",
  description: "start a lost datacenter again under load; its region's errors and failovers stop within 5 s of the restart",
  async run(ctx) {
    const containers = datacenterContainers(ctx);
    let restartIssuedAtMs = 0;
    const run = await runWithFault(
      ctx,
      "recovery",
      { owners: datacenterLossOwners(ctx, { expected: OWNER_UNAVAILABLE }), failover: failoverTargets(ctx) },
      entryOutputsFile(ctx, "recovery"),
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 60, tailSeconds: 60 } : { leadSeconds: 5, faultSeconds: 10, tailSeconds: 15 },
      {
        inject: () => stopDatacenter(ctx, containers),
        async restoreInRun() {
          restartIssuedAtMs = Date.now();
          await dockerAsync(["start", ...containers], engineOfRegion(ctx.topology, ctx.region));
        },
      },
    );
    const restartedAtMs = run.restoredAtMs!;
    const ownedByLost = (f: { ownerRegion: string }) => f.ownerRegion === ctx.region;
    const failuresDuringLoss = run.load.failures.filter((f) => ownedByLost(f) && f.startMs >= run.injectedAtMs && f.startMs < restartedAtMs).length;
    return scenarioResult(ctx, "recovery", `docker stop, then docker start, of ${containers.join(" ")}`, run, [
      // The target counts from when Docker reports the containers started; the edge cannot react sooner.
      { name: "errors stop after docker start returned", value: secondsUntilLastFailure(run.load.failures, restartedAtMs, ownedByLost), unit: "s", max: RECOVERY_TARGET_SECONDS },
      { name: "errors stop after docker start was issued", value: secondsUntilLastFailure(run.load.failures, restartIssuedAtMs, ownedByLost), unit: "s" },
      { name: "docker start took", value: (restartedAtMs - restartIssuedAtMs) / 1000, unit: "s" },
      { name: "requests of the lost region not ok during the loss", value: failuresDuringLoss, unit: "count" },
    ]);
  },
};
