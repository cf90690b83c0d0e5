// npm run destroy: removes everything the deploy created, also after a failed or partial deploy.
import { run } from "../../scripts/toolchain/commands.ts";
import { loadTopology, topologyPath } from "../topology/load.ts";
import { cdktf, terraformEnv } from "./cdktf-cli.ts";
import { projectObjects, removeNetwork, type ProjectObjects } from "./docker-objects.ts";
import { describeEngine, engineSilence, enginesOf, onEngine } from "./engines.ts";
import { reportFailure, step } from "./step.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { existsSync, rmSync } from "node:fs";
import { cdktfOutputsPath, outputsPath } from "./outputs.ts";
import { FILTER_WASM } from "../deploy-inputs.ts";

const sumObjects = (all: ProjectObjects[]): ProjectObjects => ({
  containers: all.flatMap((o) => o.containers),
  networks: all.flatMap((o) => o.networks),
  images: all.flatMap((o) => o.images),
});

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
  // recorded, so anything still carrying the project's label is removed too, on every region's engine.
  // The local engine too: it holds the services image the deploy built and sent to remote engines.
  const all = [...new Set([undefined, ...enginesOf(topology).map((e) => e.host)])];
  // An engine that does not answer holds nothing this can remove (the harness's engines after `hosts
  // down` hold nothing at all); it is named, not counted as swept.
  const engines = all.filter((host) => {
    const why = engineSilence(host);
    if (why !== undefined) console.warn(`destroy: ${describeEngine(host)} does not answer (${why}); nothing on it was removed`);
    return why === undefined;
  });
  const leftover = sumObjects(engines.map((host) => projectObjects(topology.project, host)));
  const errors: string[] = [];
  await step("remove leftovers", () => {
    for (const host of engines) {
      const objects = projectObjects(topology.project, host);
      if (objects.containers.length) run("docker", onEngine(host, ["rm", "-f", "-v", ...objects.containers]));
      for (const network of objects.networks) {
        const error = removeNetwork(network, host);
        if (error) errors.push(error);
      }
      if (objects.images.length) run("docker", onEngine(host, ["rmi", "-f", ...objects.images]));
    }
  });
  const remaining = engines.map((host) => ({ host, objects: projectObjects(topology.project, host) }))
    .filter(({ objects }) => objects.containers.length + objects.networks.length + objects.images.length > 0);
  if (remaining.length > 0) {
    const left = remaining.map(({ host, objects }) => `${describeEngine(host)}: ${JSON.stringify(objects)}`).join("; ");
    throw new Error(`destroy left objects behind: ${left}${errors.length ? `; ${errors.join("; ")}` : ""}`);
  }
  // Nothing is deployed any more: a later deploy must not plan a rolling update over stale outputs.
  for (const file of [outputsPath(), cdktfOutputsPath()]) rmSync(file, { force: true });
  if (result.code !== 0) console.warn(`destroy: cdktf destroy did not run cleanly (${result.output.split("\n").filter(Boolean).at(-1) ?? "see above"}); everything was removed by label`);
  console.log(`destroy: removed from ${engines.length} engine(s); leftovers swept: ${leftover.containers.length} container(s), ${leftover.networks.length} network(s), ${leftover.images.length} image(s)`);
  return leftover;
}

if (isEntryPoint(import.meta.url)) {
  try {
    await destroy();
  } catch (e) {
    process.exitCode = reportFailure("destroy", e);
  }
}
