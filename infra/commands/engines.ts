// The Docker Engines a topology runs on: the local one, and each region's `dockerHost`. Every command
// that talks to Docker after synth (health waits, the leftovers sweep, the nofile probe, image transfer,
// port checks, the scenarios' faults) asks the engine of the region it acts on.
import { spawn } from "node:child_process";
import { run, StepError } from "../../scripts/toolchain/commands.ts";
import type { Topology } from "../topology/model.ts";
import { findRegion, listContainers } from "../topology/inventory.ts";

/** One Docker Engine and the regions on it; `host` undefined is the local engine. */
export interface Engine {
  host: string | undefined;
  regions: string[];
}

/** The engines of a topology in region order, each once. */
export function enginesOf(topology: Topology): Engine[] {
  const engines = new Map<string | undefined, Engine>();
  for (const region of topology.regions) {
    const engine = engines.get(region.dockerHost) ?? { host: region.dockerHost, regions: [] };
    engine.regions.push(region.name);
    engines.set(region.dockerHost, engine);
  }
  return [...engines.values()];
}

export const engineOfRegion = (topology: Topology, region: string): string | undefined => findRegion(topology, region).dockerHost;

/** The engine a container of the topology runs on (by its name). */
export function engineOfContainer(topology: Topology, name: string): string | undefined {
  const container = listContainers(topology).find((c) => c.name === name);
  if (!container) throw new Error(`${name} is not a container of the topology`);
  return engineOfRegion(topology, container.region);
}

export const describeEngine = (host: string | undefined): string => (host === undefined ? "the local Docker Engine" : `the Docker Engine at ${host}`);

/** The docker CLI's arguments for `args` run against `host` (the local engine when undefined). */
export const onEngine = (host: string | undefined, args: string[]): string[] => (host === undefined ? args : ["-H", host, ...args]);

/** How long an engine may take to answer before the deploy calls it unreachable. */
const ENGINE_ANSWER_MS = 15_000;

/**
 * Every remote engine answers; else the first that does not, named with its regions, its host and
 * the fix. Called before the deploy changes anything.
 */
export function assertEnginesAnswer(topology: Topology): void {
  for (const engine of enginesOf(topology).filter((e) => e.host !== undefined)) {
    const why = engineSilence(engine.host);
    if (why !== undefined) {
      throw new StepError(
        "reach every region's Docker Engine",
        `region(s) ${engine.regions.join(", ")}: ${describeEngine(engine.host)} does not answer (${why})`,
        `start that engine (for the local harness: \`npm run hosts -- up\`), or correct the region's dockerHost in the topology; nothing was changed`,
      );
    }
  }
}

/** Why an engine does not answer its version; undefined when it does. */
export function engineSilence(host: string | undefined): string | undefined {
  const r = run("docker", onEngine(host, ["version", "--format", "{{.Server.Version}}"]), { timeout: ENGINE_ANSWER_MS });
  if (r.code === 0 && r.stdout.trim() !== "") return undefined;
  return (r.stderr.trim().split("\n").at(-1) ?? "") || `no answer within ${ENGINE_ANSWER_MS / 1000} s`;
}

/** The image ID `tag` has on an engine; undefined when the engine has no such image. */
export function imageIdOn(host: string | undefined, tag: string): string | undefined {
  const r = run("docker", onEngine(host, ["image", "inspect", "--format", "{{.Id}}", tag]));
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

/**
 * Gives an engine the local image `tag` without a registry (`docker save | docker load`), unless it
 * already has the same image ID. A transfer cut off half-way leaves the tag absent or on the old ID, so
 * the next call repeats it. Returns whether it copied.
 */
export async function sendImage(host: string, tag: string): Promise<boolean> {
  const local = imageIdOn(undefined, tag);
  if (local === undefined) throw new StepError(`send image ${tag}`, `${tag} is not on the local Docker Engine`, "run `npm run setup` (base images) or `npm run deploy` (services image)");
  if (imageIdOn(host, tag) === local) return false;
  await new Promise<void>((resolve, reject) => {
    const save = spawn("docker", ["save", tag], { stdio: ["ignore", "pipe", "pipe"] });
    const load = spawn("docker", onEngine(host, ["load", "--quiet"]), { stdio: ["pipe", "ignore", "pipe"] });
    let errors = "";
    save.stderr.on("data", (d: Buffer) => (errors += d));
    load.stderr.on("data", (d: Buffer) => (errors += d));
    save.stdout.pipe(load.stdin);
    save.on("close", (code) => {
      if (code !== 0) load.kill();
    });
    load.on("close", (code) =>
      code === 0 ? resolve() : reject(new StepError(`send image ${tag}`, `docker save | docker -H ${host} load failed: ${errors.trim() || `exit ${code}`}`, "re-run `npm run deploy`: it sends the image again")),
    );
  });
  const sent = imageIdOn(host, tag);
  if (sent !== local) throw new StepError(`send image ${tag}`, `${describeEngine(host)} has ${sent ?? "no image"} for ${tag} after loading ${local}`, "re-run `npm run deploy`");
  return true;
}
