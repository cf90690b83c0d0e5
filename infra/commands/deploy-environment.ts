import { createServer } from "node:net";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { run, StepError } from "../../scripts/toolchain/commands.ts";
import { pins } from "../../scripts/toolchain/versions.ts";
import type { Topology } from "../topology/model.ts";
import { BUSYBOX } from "../constructs/container-settings.ts";
import { LABEL_PROJECT } from "../constructs/labels.ts";

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

/** Host ports the deploy publishes, with the topology field that sets each. */
export function publishedPorts(topology: Topology): { port: number; field: string }[] {
  return topology.regions.flatMap((region, r) =>
    region.dockerHost
      ? []
      : region.pops.flatMap((pop, p) => [
          { port: pop.clientPort, field: `regions[${r}].pops[${p}].clientPort` },
          { port: pop.statsPort, field: `regions[${r}].pops[${p}].statsPort` },
        ]),
  );
}

/** Ports held by this project's own containers are fine (a redeploy); anything else is a clash. */
export async function assertPortsFree(topology: Topology): Promise<void> {
  const ours = run("docker", ["ps", "--filter", `label=${LABEL_PROJECT}=${topology.project}`, "--format", "{{.Ports}}"]).stdout;
  const clashes: string[] = [];
  for (const { port, field } of publishedPorts(topology)) {
    if (ours.includes(`127.0.0.1:${port}->`)) continue;
    if (!(await portFree(port))) clashes.push(`${field} = ${port}`);
  }
  if (clashes.length > 0) {
    throw new StepError("check host ports", `port(s) already in use on 127.0.0.1: ${clashes.join(", ")}`, "stop what uses them, or choose other ports in the topology");
  }
}
