import { createServer } from "node:net";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { run, StepError } from "../../scripts/toolchain/commands.ts";
import { pins } from "../../scripts/toolchain/versions.ts";
import type { Topology } from "../topology/model.ts";
import { publishedHostPorts } from "../topology/inventory.ts";
import { BUSYBOX } from "../constructs/container-settings.ts";
import { otherHostPorts, projectHostPorts } from "./docker-objects.ts";
import { describeEngine, enginesOf, onEngine } from "./engines.ts";

/** Runs a project npm script's entry (setup, filter build) in a child, inheriting output. */
export function runProjectScript(step: string, script: string): void {
  const r = spawnSync(process.execPath, [join(repoRoot, "node_modules/tsx/dist/cli.mjs"), script], { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) throw new StepError(step, `${script} exited with ${r.status}`, "read its output above");
}

/** The open-files hard limit a container gets from a Docker daemon (the local one by default). */
export function daemonNofileHardLimit(host?: string): number {
  const r = run("docker", onEngine(host, ["run", "--rm", "--entrypoint", BUSYBOX, pins.images.envoy.tag, "sh", "-c", "ulimit -Hn"]));
  const value = Number(r.stdout.trim());
  if (r.code !== 0 || !Number.isInteger(value)) {
    throw new StepError(`measure the open-files limit of ${describeEngine(host)}`, r.stderr.trim() || "no answer", "run `npm run doctor`");
  }
  return value;
}

/** The lowest open-files limit over the topology's engines, and the engine it was measured on. */
export function lowestNofileLimit(topology: Topology): { limit: number; host: string | undefined } {
  const measured = enginesOf(topology).map((engine) => ({ limit: daemonNofileHardLimit(engine.host), host: engine.host }));
  return measured.reduce((low, m) => (m.limit < low.limit ? m : low));
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Ports held by this project's own containers are fine (a redeploy); anything else is a clash. Ports
 * of the local engine's regions are tried on 127.0.0.1; a remote engine's host cannot be probed from
 * here, so there a port is a clash when another container on that engine publishes it.
 */
export async function assertPortsFree(topology: Topology): Promise<void> {
  const ours = new Set(projectHostPorts(topology.project).filter((p) => p.address === "127.0.0.1").map((p) => p.port));
  const clashes: string[] = [];
  const claims = publishedHostPorts(topology);
  for (const { port, owner } of claims.filter((p) => p.dockerHost === undefined)) {
    if (ours.has(port)) continue;
    if (!(await portFree(port))) clashes.push(`${owner} = ${port} on 127.0.0.1`);
  }
  for (const { host } of enginesOf(topology).filter((e) => e.host !== undefined)) {
    const taken = new Set(otherHostPorts(topology.project, host).map((p) => p.port));
    for (const { port, owner } of claims.filter((p) => p.dockerHost === host && taken.has(p.port))) clashes.push(`${owner} = ${port} at ${host}`);
  }
  if (clashes.length > 0) {
    throw new StepError("check host ports", `port(s) already in use: ${clashes.join(", ")}`, "stop what uses them, or choose other ports in the topology");
  }
}
