// pop-loss: SIGKILL one POP of a region (no drain) while clients enter every other POP. The
// region's traffic reaches it sideways through its remaining POPs.
import { popContainer, popId } from "../../../infra/topology/names.ts";
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
import { formatRotationExit, peerViewsBefore, rotationExit, type RotationExit } from "../../../infra/commands/peer-rotation.ts";

export const popLoss: Scenario = {
  name: "pop-loss",
  description: "docker kill one POP of a region; < 0.1% errors for that region's traffic, 0 misroutes",
  async run(ctx) {
    const region = regionOf(ctx);
    const victim = region.pops[0]!;
    const container = popContainer(ctx.topology.project, region.name, victim.name);
    const victimId = popId(region.name, victim.name);
    const entry = entryOutputsFile(ctx, "pop-loss", [victimId]);
    const before = await peerViewsBefore(ctx.outputs.pops, region.name);
    let rotation: RotationExit | undefined;
    const run = await runWithFault(
      ctx,
      "pop-loss",
      { owners: { [region.name]: { maxErrorRate: MAX_ERROR_RATE } } },
      entry,
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 120, tailSeconds: 0 } : { leadSeconds: 5, faultSeconds: 20, tailSeconds: 0 },
      {
        async inject() {
          ctx.restores.push(`docker start ${container}`, () => docker(["start", container], region.dockerHost));
          await dockerAsync(["kill", container], region.dockerHost);
        },
        async during(injectedAtMs) {
          rotation = await rotationExit(ctx.outputs.pops, region.name, before, injectedAtMs, 15_000);
        },
      },
    );
    return scenarioResult(ctx, "pop-loss", `docker kill ${container}`, run, [
      { name: `peers count the POP out (${rotation ? formatRotationExit(rotation) : "not watched"})`, value: rotation?.seconds ?? null, unit: "s" },
    ]);
  },
};
