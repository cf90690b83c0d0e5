// Replacing POP containers one at a time, so no region ever loses all of its POPs: per POP, take it
// out of its peers' rotation (/healthcheck/fail; they stop sending it requests), wait until their own
// checks agree, replace its container with `terraform apply -replace`, wait until it is healthy and
// every peer has it back, then go on to the next.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Topology } from "../topology/model.ts";
import { listPops } from "../topology/inventory.ts";
import { popContainer } from "../topology/names.ts";
import type { DeployOutputs } from "../deploy-outputs.ts";
import { repoRoot, toolPath } from "../../scripts/toolchain/paths.ts";
import { PEER_DRAIN_MS } from "../../edge/failover.ts";
import { BUSYBOX } from "../constructs/container-settings.ts";
import { regionStackName } from "../edge-app.ts";
import { dockerAsync, waitHealthy } from "./docker-objects.ts";
import { engineOfContainer, engineOfRegion } from "./engines.ts";
import { peerViewsBefore, rotationExit, waitAllPeersHealthy } from "./peer-rotation.ts";

/** One POP container as Terraform knows it. */
export interface PopResource {
  id: string;
  region: string;
  container: string;
  /** Terraform address in its region's stack, e.g. `docker_container.pop-a_envoy_1A2B3C4D`. */
  address: string;
}

export interface RolledPop {
  id: string;
  /** Seconds from /healthcheck/fail until every peer POP counted it out. */
  outOfRotationSeconds: number | undefined;
  /** Seconds the whole step took: drain, replace, healthy, back in every peer's rotation. */
  seconds: number;
}

export const stackDir = (topology: Topology, region: string) => join(repoRoot, "cdktf.out", "stacks", regionStackName(topology, region));

function terraform(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(toolPath("terraform"), [`-chdir=${dir}`, ...args], { env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`terraform ${args.join(" ")} in ${dir}: ${stderr.trim().split("\n").slice(-6).join(" | ") || error.message}`)) : resolve(stdout),
    ),
  );
}

interface StateResource {
  address: string;
  type: string;
  values: { name?: string };
}

/** The POP containers in the deployed state of each region's stack, by container name. */
export async function deployedPops(topology: Topology, env: NodeJS.ProcessEnv): Promise<PopResource[]> {
  const found: PopResource[] = [];
  for (const region of topology.regions) {
    const dir = stackDir(topology, region.name);
    if (!existsSync(join(dir, ".terraform"))) continue;
    const state = JSON.parse(await terraform(dir, ["show", "-json"], env)) as { values?: { root_module?: { resources?: StateResource[] } } };
    const resources = state.values?.root_module?.resources ?? [];
    for (const { pop, id } of listPops(topology).filter((p) => p.region.name === region.name)) {
      const container = popContainer(topology.project, region.name, pop.name);
      const resource = resources.find((r) => r.type === "docker_container" && r.values.name === container);
      if (resource) found.push({ id, region: region.name, container, address: resource.address });
    }
  }
  return found;
}

/** The part of `terraform show -json <plan>` a roll reads. */
export interface TerraformPlan {
  resource_changes?: { address: string; change: { actions: string[] } }[];
}

/** Of `pops`, those the plan deletes and creates (either order), in `pops` order. In-place updates need no roll. */
export function replacedIn(plan: TerraformPlan, pops: PopResource[]): PopResource[] {
  const replaced = new Set(
    (plan.resource_changes ?? []).filter((c) => c.change.actions.includes("delete") && c.change.actions.includes("create")).map((c) => c.address),
  );
  return pops.filter((pop) => replaced.has(pop.address));
}

/**
 * The POP containers the current synth would replace: `terraform plan` of each region's stack, the
 * containers whose planned actions are delete and create.
 */
export async function plannedPopReplacements(topology: Topology, env: NodeJS.ProcessEnv): Promise<PopResource[]> {
  const deployed = await deployedPops(topology, env);
  const replaced: PopResource[] = [];
  for (const region of topology.regions) {
    const mine = deployed.filter((p) => p.region === region.name);
    if (mine.length === 0) continue;
    const dir = stackDir(topology, region.name);
    await terraform(dir, ["plan", "-input=false", "-lock-timeout=60s", "-out=rolling.tfplan"], env);
    replaced.push(...replacedIn(JSON.parse(await terraform(dir, ["show", "-json", "rolling.tfplan"], env)) as TerraformPlan, mine));
  }
  return replaced;
}

/** Takes a POP out of its peers' rotation: its backbone health checks fail from now on (admin, inside its container). */
export async function drainPop(topology: Topology, container: string): Promise<void> {
  const admin = `http://127.0.0.1:${topology.ports.envoyAdmin}/healthcheck/fail`;
  await dockerAsync(["exec", container, BUSYBOX, "wget", "-q", "-O", "/dev/null", "--post-data=", admin], engineOfContainer(topology, container));
}

/**
 * Replaces `pops` one at a time, in topology order. Throws at the first POP that does not come back
 * healthy and into every peer's rotation, leaving the rest untouched.
 */
export async function rollPops(topology: Topology, outputs: DeployOutputs, pops: PopResource[], env: NodeJS.ProcessEnv, log: (line: string) => void = console.log): Promise<RolledPop[]> {
  const rolled: RolledPop[] = [];
  for (const pop of pops) {
    const started = Date.now();
    const before = await peerViewsBefore(outputs.pops, pop.region);
    await drainPop(topology, pop.container);
    const exit = await rotationExit(outputs.pops, pop.region, before, Date.now(), 10_000);
    await new Promise((r) => setTimeout(r, PEER_DRAIN_MS));
    await terraform(stackDir(topology, pop.region), ["apply", "-input=false", "-auto-approve", "-lock-timeout=60s", `-replace=${pop.address}`, `-target=${pop.address}`], env);
    const unhealthy = await waitHealthy(topology.project, [pop.container], 120_000, [engineOfRegion(topology, pop.region)]);
    if (unhealthy.length > 0) throw new Error(`${pop.container} is not healthy after its replacement (${unhealthy.map((c) => `${c.state}, ${c.health}`).join("")}); the POPs after it were not replaced`);
    const lagging = await waitAllPeersHealthy(outputs.pops, 60_000);
    if (lagging.length > 0) throw new Error(`peers did not take ${pop.id} back: ${lagging.slice(0, 3).join("; ")}; the POPs after it were not replaced`);
    const step = { id: pop.id, outOfRotationSeconds: exit.seconds, seconds: (Date.now() - started) / 1000 };
    log(`    rolled ${pop.id}: out of rotation in ${exit.seconds?.toFixed(1) ?? "?"} s, replaced and back in ${step.seconds.toFixed(1)} s`);
    rolled.push(step);
  }
  return rolled;
}
