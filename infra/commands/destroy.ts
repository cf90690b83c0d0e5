// npm run destroy: removes everything the deploy created, also after a failed or partial deploy.
import { run } from "../../scripts/toolchain/commands.ts";
import { loadTopology, topologyPath } from "../topology/load.ts";
import { cdktf, terraformEnv } from "./cdktf-cli.ts";
import { projectObjects, removeNetwork, type ProjectObjects } from "./docker-objects.ts";
import { reportFailure, step } from "./step.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { existsSync } from "node:fs";
import { FILTER_WASM } from "../deploy-inputs.ts";

export async function destroy(options: { quiet?: boolean } = {}): Promise<ProjectObjects> {
  const path = topologyPath();
  const topology = loadTopology(path);
  // Teardown never builds anything: with a broken or missing toolchain (no module to synthesize the
  // stacks, no Terraform) everything the deploy created is still removed by its label below.
  let result: { code: number; output: string };
  if (!existsSync(FILTER_WASM)) {
    result = { code: 1, output: `${FILTER_WASM} is missing, so the stacks cannot be synthesized` };
  } else {
    result = await step("cdktf destroy", () => cdktf(["destroy", "*", "--auto-approve", "--skip-provider-lock"], terraformEnv({ EDGE_TOPOLOGY: path }), options.quiet))
      .catch((e: Error) => ({ code: 1, output: e.message }));
  }
  if (result.code !== 0 && options.quiet) console.error(result.output.slice(-6000));
  // Terraform removes what its state knows; a deploy that failed half-way can leave objects it never
  // recorded, so anything still carrying the project's label is removed too.
  const leftover = projectObjects(topology.project);
  const errors: string[] = [];
  await step("remove leftovers", () => {
    if (leftover.containers.length) run("docker", ["rm", "-f", ...leftover.containers]);
    for (const network of leftover.networks) {
      const error = removeNetwork(network);
      if (error) errors.push(error);
    }
    if (leftover.images.length) run("docker", ["rmi", "-f", ...leftover.images]);
  });
  const remaining = projectObjects(topology.project);
  const count = remaining.containers.length + remaining.networks.length + remaining.images.length;
  if (count > 0) throw new Error(`destroy left ${count} object(s): ${JSON.stringify(remaining)}${errors.length ? `; ${errors.join("; ")}` : ""}`);
  if (result.code !== 0) console.warn(`destroy: cdktf destroy did not run cleanly (${result.output.split("\n").filter(Boolean).at(-1) ?? "see above"}); everything was removed by label`);
  console.log(`destroy: removed; leftovers swept: ${leftover.containers.length} container(s), ${leftover.networks.length} network(s), ${leftover.images.length} image(s)`);
  return leftover;
}

if (isEntryPoint(import.meta.url)) {
  try {
    await destroy();
  } catch (e) {
    process.exitCode = reportFailure("destroy", e);
  }
}
