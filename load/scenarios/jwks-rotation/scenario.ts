// jwks-rotation: `npm run rotate -- jwks` under load whose tokens the former key signed. Every POP
// accepts the new key before it signs, the former key keeps verifying, no container restarts, and no
// request fails.
import { stateDir } from "../../../scripts/toolchain/paths.ts";
import { dockerJwksTarget } from "../../../infra/commands/rotate.ts";
import { rotateJwks, waitAccepted, type JwksRotation } from "../../../edge/jwks-rotation.ts";
import { ensureSigningKeys } from "../../../upstreams/tokens/keys.ts";
import { entryOutputsFile, runWithFault, scenarioResult, type Scenario } from "../scenario.ts";
import { noFailedRequest, popStartTimes, restartedMeasurement } from "../rotations.ts";

export const ACCEPTED_TARGET_SECONDS = 10;

export const jwksRotation: Scenario = {
  name: "jwks-rotation",
  description: "npm run rotate -- jwks under load: the new key accepted everywhere within 10 s before it signs, no restart, 0 failed requests",
  async run(ctx) {
    const started = await popStartTimes(ctx.topology);
    const target = dockerJwksTarget(ctx.topology);
    let rotation: Required<JwksRotation> | undefined;
    let refusing: string[] = [];
    const run = await runWithFault(
      ctx,
      "jwks-rotation",
      { owners: noFailedRequest(ctx) },
      entryOutputsFile(ctx, "jwks-rotation"),
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 60, tailSeconds: 0 } : { leadSeconds: 5, faultSeconds: 15, tailSeconds: 0 },
      {
        async inject() {
          rotation = await rotateJwks(ctx.topology, stateDir, target);
          const keys = ensureSigningKeys(stateDir);
          // New tokens, signed by the new key, at every POP while the old key's tokens keep coming.
          refusing = await waitAccepted(ctx.topology, target.pops, keys.privateKey, keys.kid, 5000);
        },
      },
    );
    const after = await popStartTimes(ctx.topology);
    return scenarioResult(ctx, "jwks-rotation", `npm run rotate -- jwks (new kid ${rotation?.kid ?? "?"}; former key retiring)`, run, [
      { name: "every POP accepts the new key (before it signs)", value: rotation ? rotation.acceptedAfterMs / 1000 : null, unit: "s", max: ACCEPTED_TARGET_SECONDS },
      { name: `POPs refusing a token of the new key after the rotation${refusing.length ? `: ${refusing.join(", ")}` : ""}`, value: refusing.length, unit: "count", max: 0 },
      restartedMeasurement(started, after),
    ]);
  },
};
