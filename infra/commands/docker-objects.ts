import { execFile } from "node:child_process";
import { run } from "../../scripts/toolchain/commands.ts";
import { LABEL_PROJECT } from "../constructs/labels.ts";
import { onEngine } from "./engines.ts";

export interface ProjectObjects {
  containers: string[];
  networks: string[];
  images: string[];
}

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);

/**
 * Every container, network and image the deploy labelled for this project on one engine (the local
 * one by default; the base images are not labelled).
 */
export function projectObjects(project: string, host?: string): ProjectObjects {
  const filter = `label=${LABEL_PROJECT}=${project}`;
  const docker = (args: string[]) => lines(run("docker", onEngine(host, args)).stdout);
  return {
    containers: docker(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]),
    networks: docker(["network", "ls", "--filter", filter, "--format", "{{.Name}}"]),
    images: docker(["images", "--filter", filter, "--format", "{{.Repository}}:{{.Tag}}"]),
  };
}

export interface HostPort {
  /** Host address the port is bound on, as Docker prints it (`127.0.0.1`, `0.0.0.0`, `[::]`). */
  address: string;
  port: number;
}

/** The host ports in `docker ps --format {{.Ports}}` output, e.g. `127.0.0.1:28001->8080/tcp, [::]:30443->8443/tcp`. */
export function parseHostPorts(text: string): HostPort[] {
  return [...text.matchAll(/(\S+):(\d+)->/g)].map((m) => ({ address: m[1]!, port: Number(m[2]) }));
}

/** Host ports the project's running containers publish on one engine's host. */
export function projectHostPorts(project: string, host?: string): HostPort[] {
  return parseHostPorts(run("docker", onEngine(host, ["ps", "--filter", `label=${LABEL_PROJECT}=${project}`, "--format", "{{.Ports}}"])).stdout);
}

/** Host ports published on one engine's host by containers that are not the project's. */
export function otherHostPorts(project: string, host?: string): HostPort[] {
  const rows = lines(run("docker", onEngine(host, ["ps", "--format", `{{.Label "${LABEL_PROJECT}"}}\t{{.Ports}}`])).stdout);
  return rows.filter((row) => row.split("\t")[0] !== project).flatMap((row) => parseHostPorts(row));
}

export interface ContainerHealth {
  name: string;
  state: string;
  health: string;
}

export function containerHealth(project: string, host?: string): ContainerHealth[] {
  const out = run("docker", onEngine(host, ["ps", "-a", "--filter", `label=${LABEL_PROJECT}=${project}`, "--format", "{{.Names}}\t{{.State}}\t{{.Status}}"])).stdout;
  return lines(out).map((l) => {
    const [name = "", state = "", status = ""] = l.split("\t");
    const health = /\(healthy\)/.test(status) ? "healthy" : /\(unhealthy\)/.test(status) ? "unhealthy" : /\(health: starting\)/.test(status) ? "starting" : "none";
    return { name, state, health };
  });
}

/**
 * The containers of `expected` that are not running and healthy (state `missing` when absent), and
 * any other project container that is not; empty when all are.
 */
export function unhealthyContainers(all: ContainerHealth[], expected: string[]): ContainerHealth[] {
  const present = new Set(all.map((c) => c.name));
  return [
    ...all.filter((c) => c.state !== "running" || c.health !== "healthy"),
    ...expected.filter((name) => !present.has(name)).map((name) => ({ name, state: "missing", health: "none" })),
  ];
}

/**
 * Waits until every expected container (and any other project container) is running and healthy on
 * the given engines (the local one by default); returns the ones that are not.
 */
export async function waitHealthy(project: string, expected: string[], timeoutMs: number, hosts: (string | undefined)[] = [undefined]): Promise<ContainerHealth[]> {
  const deadline = Date.now() + timeoutMs;
  let bad: ContainerHealth[] = [];
  while (Date.now() < deadline) {
    bad = unhealthyContainers(hosts.flatMap((host) => containerHealth(project, host)), expected);
    if (bad.length === 0) return [];
    await new Promise((r) => setTimeout(r, 1000));
  }
  return bad;
}

/**
 * Removes a network; returns Docker's error when it cannot. The Docker Engine here (20.10) can keep
 * the endpoint of a container that is already gone (a container stopped and started under load, then
 * removed), and then refuses `network rm` with "has active endpoints" for good. Such endpoints are
 * force-disconnected and the removal tried again.
 */
export function removeNetwork(name: string, host?: string): string | null {
  let error = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = run("docker", onEngine(host, ["network", "rm", name]));
    if (r.code === 0 || /not found/i.test(r.stderr)) return null;
    error = r.stderr.trim();
    const endpoints = lines(run("docker", onEngine(host, ["network", "inspect", name, "--format", "{{range $id, $c := .Containers}}{{$c.Name}}\n{{end}}"])).stdout);
    for (const endpoint of endpoints) run("docker", onEngine(host, ["network", "disconnect", "--force", name, endpoint]));
  }
  return `docker network rm ${name}${host ? ` (at ${host})` : ""}: ${error}`;
}

/**
 * A Docker command that must succeed, without blocking the event loop (traffic keeps running
 * meanwhile), on one engine (the local one by default); its stdout.
 */
export function dockerAsync(args: string[], host?: string): Promise<string> {
  const full = onEngine(host, args);
  return new Promise((resolve, reject) =>
    execFile("docker", full, { encoding: "utf8" }, (error, stdout, stderr) =>
      error ? reject(new Error(`docker ${full.join(" ")}: ${stderr.trim() || error.message}`)) : resolve(stdout),
    ),
  );
}
