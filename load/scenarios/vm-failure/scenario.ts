// vm-failure: a bad rollout of the region-router module to one POP. The module file in the
// container is replaced by a truncated copy and the container restarted; Envoy (filter fail-closed)
// exits at startup, so the container restart-loops. The POP must leave rotation within 5 s and
// traffic entering elsewhere stay under 0.1% errors. No test switch exists in the filter: the
// module really is broken.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTAINER_WASM_PATH } from "../../../edge/placement.ts";
import { popContainer, popId } from "../../../infra/topology/names.ts";
import { formatRotationExit, peerViewsBefore, rotationExit, type RotationExit } from "../../../infra/commands/peer-rotation.ts";
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

export const ROTATION_TARGET_SECONDS = 5;
/** A prefix of a valid module: a valid header, then the code section ends mid-way. */
export const CORRUPT_MODULE_BYTES = 2000;

export const vmFailure: Scenario = {
  name: "vm-failure",
  description: "a POP restarts with a truncated region-router module and restart-loops; it leaves rotation within 5 s, < 0.1% errors elsewhere",
  async run(ctx) {
    const region = regionOf(ctx);
    const victim = region.pops[region.pops.length - 1]!;
    const container = popContainer(ctx.topology.project, region.name, victim.name);
    const dir = join(ctx.stateDir, "vm-failure");
    mkdirSync(dir, { recursive: true });
    const realModule = join(dir, "region_router.wasm");
    const corruptModule = join(dir, "region_router.truncated.wasm");
    docker(["cp", `${container}:${CONTAINER_WASM_PATH}`, realModule], region.dockerHost);
    writeFileSync(corruptModule, readFileSync(realModule).subarray(0, CORRUPT_MODULE_BYTES));
    const restartsBefore = Number(docker(["inspect", "-f", "{{.RestartCount}}", container], region.dockerHost).trim());
    const owners = Object.fromEntries(ctx.topology.regions.map((r) => [r.name, { maxErrorRate: MAX_ERROR_RATE }]));
    const before = await peerViewsBefore(ctx.outputs.pops, region.name);
    let rotation: RotationExit | undefined;
    let restartedAtMs = 0;
    let status: string | undefined;
    let restarts: string | undefined;
    const run = await runWithFault(
      ctx,
      "vm-failure",
      { owners },
      entryOutputsFile(ctx, "vm-failure", [popId(region.name, victim.name)]),
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 120, tailSeconds: 0 } : { leadSeconds: 5, faultSeconds: 20, tailSeconds: 0 },
      {
        async inject() {
          ctx.restores.push(`restore the real module in ${container}`, () => {
            // A restart-looping container cannot be written reliably: stop it, copy, start.
            docker(["stop", "-t", "1", container], region.dockerHost);
            docker(["cp", realModule, `${container}:${CONTAINER_WASM_PATH}`], region.dockerHost);
            docker(["start", container], region.dockerHost);
          });
          await dockerAsync(["cp", corruptModule, `${container}:${CONTAINER_WASM_PATH}`], region.dockerHost);
          restartedAtMs = Date.now();
          await dockerAsync(["restart", "-t", "5", container], region.dockerHost);
        },
        async during() {
          rotation = await rotationExit(ctx.outputs.pops, region.name, before, restartedAtMs, 20_000);
        },
        beforeRestore() {
          [status, restarts] = docker(["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", container], region.dockerHost).trim().split(" ");
        },
      },
    );
    const restartLoops = Number(restarts) - restartsBefore;
    return scenarioResult(ctx, "vm-failure", `docker cp a ${CORRUPT_MODULE_BYTES}-byte prefix of the module to ${container}:${CONTAINER_WASM_PATH}; docker restart ${container}`, run, [
      { name: `POP leaves rotation after the restart (${rotation ? formatRotationExit(rotation) : "not watched"})`, value: rotation?.seconds ?? null, unit: "s", max: ROTATION_TARGET_SECONDS },
      // Proves the fault took: Envoy refused the module and Docker kept restarting it.
      { name: `container restarts while broken (state at the end: ${status})`, value: restartLoops, unit: "count", min: 1 },
    ]);
  },
};
