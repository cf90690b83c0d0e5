import { createServer } from "node:net";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { run, StepError } from "../../scripts/toolchain/commands.ts";
import { pins } from "../../scripts/toolchain/versions.ts";
import type { Topology } from "../topology/model.ts";
import { publishedHostPorts } from "../topology/inventory.ts";
import { BUSYBOX } from "../constructs/container-settings.ts";
import { projectHostPorts } from "./docker-objects.ts";

/** Runs a project npm script's entry (setup, filter build) in a child, inheriting output. */
export function runProjectScript(step: string, script: string): void {
  const r = spawnSync(process.execPath, [join(repoRoot, "node_modules/tsx/dist/cli.mjs"), script], { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) throw new StepError(step, `${script} exited with ${r.status}`, "read its output above");
}

/** The open-files hard limit a container gets from this Docker daemon. */
export function daemonNofileHardLimit(): number {
  const r = run("docker", ["run", "--rm", "--entrypoint", BUSYBOX, pins.images.envoy.tag, "sh", "-c", "ulimit -Hn"]);
  const value = Number(r.stdout.trim());
  if (r.code !== 0 || !Number.isInteger(value)) {
    throw new StepError("measure the Docker daemon's open-files limit", r.stderr.trim() || "no answer", "run `npm run doctor`");
  }
  return value;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Ports held by this project's own containers are fine (a redeploy); anything else is a clash.
 * Only ports published on this host are checked: a region with dockerHost publishes on its own.
 */
export async function assertPortsFree(topology: Topology): Promise<void> {
  const ours = new Set(projectHostPorts(topology.project).filter((p) => p.address === "127.0.0.1").map((p) => p.port));
  const clashes: string[] = [];
  for (const { port, owner } of publishedHostPorts(topology).filter((p) => p.dockerHost === undefined)) {
    if (ours.has(port)) continue;
    if (!(await portFree(port))) clashes.push(`${owner} = ${port}`);
  }
  if (clashes.length > 0) {
    throw new StepError("check host ports", `port(s) already in use on 127.0.0.1: ${clashes.join(", ")}`, "stop what uses them, or choose other ports in the topology");
  }
}
