import { run } from "../../scripts/toolchain/commands.ts";
import { LABEL_PROJECT } from "../constructs/labels.ts";

export interface ProjectObjects {
  containers: string[];
  networks: string[];
  images: string[];
}

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);

/** Every container, network and image the deploy labelled for this project (the base images are not labelled). */
export function projectObjects(project: string): ProjectObjects {
  const filter = `label=${LABEL_PROJECT}=${project}`;
  return {
    containers: lines(run("docker", ["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]).stdout),
    networks: lines(run("docker", ["network", "ls", "--filter", filter, "--format", "{{.Name}}"]).stdout),
    images: lines(run("docker", ["images", "--filter", filter, "--format", "{{.Repository}}:{{.Tag}}"]).stdout),
  };
}

export interface ContainerHealth {
  name: string;
  state: string;
  health: string;
}

export function containerHealth(project: string): ContainerHealth[] {
  const out = run("docker", ["ps", "-a", "--filter", `label=${LABEL_PROJECT}=${project}`, "--format", "{{.Names}}\t{{.State}}\t{{.Status}}"]).stdout;
  return lines(out).map((l) => {
    const [name = "", state = "", status = ""] = l.split("\t");
    const health = /\(healthy\)/.test(status) ? "healthy" : /\(unhealthy\)/.test(status) ? "unhealthy" : /\(health: starting\)/.test(status) ? "starting" : "none";
    return { name, state, health };
  });
}

/** Waits until every project container is running and healthy; returns the ones that are not. */
export async function waitHealthy(project: string, expected: number, timeoutMs: number): Promise<ContainerHealth[]> {
  const deadline = Date.now() + timeoutMs;
  let bad: ContainerHealth[] = [];
  while (Date.now() < deadline) {
    const all = containerHealth(project);
    bad = all.filter((c) => c.state !== "running" || c.health !== "healthy");
    if (all.length >= expected && bad.length === 0) return [];
    await new Promise((r) => setTimeout(r, 1000));
  }
  return bad;
}
