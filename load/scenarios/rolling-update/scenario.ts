// rolling-update: every POP of a region replaced one at a time (`npm run deploy -- --roll`, the same
// steps a changed filter or POP config takes) while the other regions' clients send that region's
// traffic to it. Each POP leaves its peers' rotation before it stops, so no forwarded request fails
// and the region is never down.
import { terraformEnv } from "../../../infra/commands/cdktf-cli.ts";
import { deployedPops, rollPops, type RolledPop } from "../../../infra/commands/rolling.ts";
import { entryOutputsFile, regionOf, runWithFault, scenarioResult, type Scenario } from "../scenario.ts";
import { noFailedRequest } from "../rotations.ts";

/** Drain, replace and back in every peer's rotation, per POP (about 17 s measured). */
export const STEP_TARGET_SECONDS = 60;

export const rollingUpdate: Scenario = {
  name: "rolling-update",
  description: "every POP of a region replaced one at a time under load from the other regions; 0 failed requests",
  async run(ctx) {
    const region = regionOf(ctx);
    const env = terraformEnv();
    const pops = (await deployedPops(ctx.topology, env)).filter((p) => p.region === region.name);
    if (pops.length === 0) throw new Error(`no deployed POP of ${region.name} in the Terraform state; run \`npm run deploy\``);
    const regionPops = ctx.outputs.pops.filter((p) => p.region === region.name).map((p) => p.id);
    let rolled: RolledPop[] = [];
    const run = await runWithFault(
      ctx,
      "rolling-update",
      { owners: noFailedRequest(ctx) },
      // Clients enter elsewhere: a POP being replaced has nobody in front of it to steer its own clients away.
      entryOutputsFile(ctx, "rolling-update", regionPops),
      // The fault lasts as long as the roll; the load outlasts it.
      { leadSeconds: 5, faultSeconds: 0, tailSeconds: pops.length * (ctx.form === "full" ? 40 : 25) },
      {
        async inject() {
          rolled = await rollPops(ctx.topology, ctx.outputs, pops, env, () => undefined);
        },
      },
    );
    return scenarioResult(ctx, "rolling-update", `rolling replacement of ${pops.map((p) => p.container).join(", ")}`, run, [
      { name: `POPs replaced (${rolled.map((r) => `${r.id} ${r.seconds.toFixed(0)} s`).join(", ")})`, value: rolled.length, unit: "count", min: pops.length },
      ...rolled.map((r) => ({ name: `${r.id}: drained, replaced and back in rotation`, value: r.seconds, unit: "s" as const, max: STEP_TARGET_SECONDS })),
    ]);
  },
};
