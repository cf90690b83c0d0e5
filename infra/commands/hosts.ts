// npm run hosts -- up|down: the local multi-host harness. One Docker Engine per region of a multi-host
// topology (EDGE_TOPOLOGY, by default infra/topology.multi-host.yaml), each in a container on this
// machine's engine, so `npm run deploy` of that topology runs every region on its own engine.
//
// Each engine container joins two networks the project creates:
// - `<project>-hosts-wan`, shared by all engines, at the region's backboneAddress: the network between
//   the hosts, where POPs reach other regions' published backbone ports (mutual TLS);
// - `<project>-hosts-<region>`, its own, at the region's publishAddress: the stand-in for that host's
//   loopback. The engine's API and its POPs' client, TLS and stats ports are bound there, and this
//   machine reaches them through the engine container's 127.0.0.1 ports only.
// The engines keep everything in memory (tmpfs); `down` removes them, their networks and their image.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { run, runOrFail, StepError, which } from "../../scripts/toolchain/commands.ts";
import { loadTopology, topologyPath } from "../topology/load.ts";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import type { Region, Topology } from "../topology/model.ts";
import { IPV4_PATTERN } from "../topology/schema.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { describeEngine, onEngine } from "./engines.ts";
import { reportFailure, step } from "./step.ts";

export const MULTI_HOST_TOPOLOGY = join(repoRoot, "infra/topology.multi-host.yaml");
/** Marks the harness's objects on this machine; not the project label, which destroy sweeps. */
export const LABEL_HOSTS = "io.edgerim.hosts";
const ENGINE_IMAGE = "edgerim/engine:local";
const ENGINE_API_PORT = 2375;
/** Debian's docker.io starts in about 2 s on tmpfs; a loaded machine may take much longer. */
const ENGINE_START_MS = 60_000;

export const wanNetworkName = (project: string) => `${project}-hosts-wan`;
export const hostNetworkName = (project: string, region: string) => `${project}-hosts-${region}`;
export const engineContainerName = (project: string, region: string) => `${project}-engine-${region}`;

/** What the harness needs of a region: its engine's API port here and its two addresses. */
export interface HarnessHost {
  region: string;
  apiPort: number;
  backboneAddress: string;
  publishAddress: string;
  /** Ports this machine reaches on the engine: its POPs' client, TLS and stats ports. */
  ports: number[];
}

const subnet24 = (address: string) => `${address.split(".").slice(0, 3).join(".")}.0/24`;

/** The harness's plan for a topology, or every reason the topology does not fit it. */
export function harnessHosts(topology: Topology): HarnessHost[] {
  const problems: string[] = [];
  const hosts = topology.regions.map((region: Region, index): HarnessHost | undefined => {
    const at = `regions[${index}]`;
    const api = region.dockerHost?.match(/^tcp:\/\/127\.0\.0\.1:(\d+)$/);
    if (!api) problems.push(`${at}.dockerHost: ${region.dockerHost ?? "missing"}; the harness serves tcp://127.0.0.1:<port>`);
    const ipv4 = (value: string | undefined) => value !== undefined && IPV4_PATTERN.test(value);
    if (!ipv4(region.backboneAddress)) problems.push(`${at}.backboneAddress: ${region.backboneAddress ?? "missing"}; the harness needs an IPv4 address`);
    if (!ipv4(region.publishAddress)) problems.push(`${at}.publishAddress: ${region.publishAddress ?? "missing"}; the harness needs an IPv4 address`);
    if (!api || !ipv4(region.backboneAddress) || !ipv4(region.publishAddress)) return undefined;
    return {
      region: region.name,
      apiPort: Number(api[1]),
      backboneAddress: region.backboneAddress!,
      publishAddress: region.publishAddress!,
      ports: region.pops.flatMap((pop) => [pop.clientPort, pop.tlsPort, pop.statsPort]),
    };
  });
  const planned = hosts.filter((h): h is HarnessHost => h !== undefined);
  const wans = new Set(planned.map((h) => subnet24(h.backboneAddress)));
  if (wans.size > 1) problems.push(`regions[*].backboneAddress: ${[...wans].join(", ")}; the harness puts every engine on one /24`);
  const privates = planned.map((h) => subnet24(h.publishAddress));
  if (new Set([...privates, ...wans]).size !== privates.length + wans.size) problems.push("regions[*].publishAddress: each region needs its own /24, apart from the backbone addresses'");
  if (problems.length > 0) {
    throw new StepError("plan the hosts", `the topology does not fit the local harness:\n  - ${problems.join("\n  - ")}`, `use ${MULTI_HOST_TOPOLOGY} or a topology shaped like it`);
  }
  return planned;
}

/** A root filesystem of symlinks into /usr: the engine runs this machine's dockerd, mounted read-only. */
function ensureEngineImage(): void {
  const dockerd = which("dockerd");
  if (!dockerd?.startsWith("/usr/")) {
    throw new StepError("build the engine image", `the engines run this machine's dockerd from /usr, found ${dockerd ?? "none"}`, "run `npm run setup` (installs Debian's docker.io)");
  }
  if (run("docker", ["image", "inspect", ENGINE_IMAGE]).code === 0) return;
  const dir = mkdtempSync(join(tmpdir(), "edgerim-engine-"));
  try {
    const root = join(dir, "root");
    for (const d of ["etc/alternatives", "tmp", "run", "var/lib/docker", "usr", "proc", "sys", "dev", "root"]) mkdirSync(join(root, d), { recursive: true });
    for (const link of ["bin", "sbin", "lib", "lib64"]) symlinkSync(`usr/${link}`, join(root, link));
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\n");
    runOrFail("build the engine image", "check disk space", "tar", ["-C", root, "-cf", join(dir, "engine.tar"), "."]);
    runOrFail("build the engine image", "check the Docker Engine runs (npm run doctor)", "docker", ["import", "--change", `LABEL ${LABEL_HOSTS}=image`, join(dir, "engine.tar"), ENGINE_IMAGE]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function createNetwork(name: string, subnet: string, project: string): void {
  if (run("docker", ["network", "inspect", name]).code === 0) return;
  runOrFail(`create network ${name}`, `another network may already use ${subnet}: \`docker network ls\``, "docker", [
    "network", "create", "--driver", "bridge", "--subnet", subnet, "--label", `${LABEL_HOSTS}=${project}`, name,
  ]);
}

/** Starts one engine: flags from ../shared facts (no --privileged here; SYS_RESOURCE is not granted). */
function startEngine(project: string, host: HarnessHost): void {
  const name = engineContainerName(project, host.region);
  if (run("docker", ["inspect", "--format", "{{.State.Running}}", name]).stdout.trim() === "true") return;
  run("docker", ["rm", "-f", name]);
  runOrFail(`create engine ${name}`, "a port may be taken on 127.0.0.1: `docker ps`, `ss -ltn`", "docker", [
    "create", "--name", name, "--label", `${LABEL_HOSTS}=${project}`,
    "--network", hostNetworkName(project, host.region), "--ip", host.publishAddress,
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns", "host",
    "--tmpfs", "/run", "--tmpfs", "/var/lib/docker",
    "-v", "/usr:/usr:ro", "-v", "/etc/alternatives:/etc/alternatives:ro",
    "-p", `127.0.0.1:${host.apiPort}:${ENGINE_API_PORT}`,
    ...host.ports.flatMap((port) => ["-p", `127.0.0.1:${port}:${port}`]),
    ENGINE_IMAGE,
    "dockerd", "--host", `tcp://${host.publishAddress}:${ENGINE_API_PORT}`, "--tls=false",
  ]);
  runOrFail(`connect engine ${name}`, "read `docker network inspect`", "docker", ["network", "connect", "--ip", host.backboneAddress, wanNetworkName(project), name]);
  runOrFail(`start engine ${name}`, `read \`docker logs ${name}\``, "docker", ["start", name]);
}

async function waitAnswers(dockerHost: string, name: string): Promise<void> {
  const deadline = Date.now() + ENGINE_START_MS;
  while (Date.now() < deadline) {
    if (run("docker", onEngine(dockerHost, ["version", "--format", "{{.Server.Version}}"]), { timeout: 5000 }).code === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new StepError(`start engine ${name}`, `${describeEngine(dockerHost)} did not answer within ${ENGINE_START_MS / 1000} s`, `read \`docker logs ${name}\``);
}

export async function hostsUp(topology: Topology): Promise<void> {
  const hosts = harnessHosts(topology);
  await step("engine image", ensureEngineImage);
  await step("networks", () => {
    createNetwork(wanNetworkName(topology.project), subnet24(hosts[0]!.backboneAddress), topology.project);
    for (const host of hosts) createNetwork(hostNetworkName(topology.project, host.region), subnet24(host.publishAddress), topology.project);
  });
  await step(`${hosts.length} engine(s)`, async () => {
    for (const host of hosts) startEngine(topology.project, host);
    for (const host of hosts) await waitAnswers(`tcp://127.0.0.1:${host.apiPort}`, engineContainerName(topology.project, host.region));
  });
  for (const host of hosts) console.log(`  ${host.region.padEnd(14)} tcp://127.0.0.1:${host.apiPort}  backbone ${host.backboneAddress}  private ${host.publishAddress}`);
}

const list = (args: string[]) => run("docker", args).stdout.split("\n").map((l) => l.trim()).filter(Boolean);

/** What the harness left on this machine: its containers, networks and image. */
export function harnessObjects(project: string): string[] {
  const filter = `label=${LABEL_HOSTS}=${project}`;
  return [
    ...list(["ps", "-a", "--filter", filter, "--format", "container {{.Names}}"]),
    ...list(["network", "ls", "--filter", filter, "--format", "network {{.Name}}"]),
    ...list(["images", "--filter", `label=${LABEL_HOSTS}`, "--format", "image {{.Repository}}:{{.Tag}}"]),
  ];
}

/** Removes the engines (and with them everything deployed on them), their networks and the engine image. */
export async function hostsDown(topology: Topology): Promise<void> {
  const filter = `label=${LABEL_HOSTS}=${topology.project}`;
  await step("remove engines and networks", () => {
    const containers = list(["ps", "-aq", "--filter", filter]);
    if (containers.length > 0) run("docker", ["rm", "-f", "-v", ...containers]);
    const networks = list(["network", "ls", "-q", "--filter", filter]);
    if (networks.length > 0) run("docker", ["network", "rm", ...networks]);
    run("docker", ["rmi", ENGINE_IMAGE]);
  });
  const left = harnessObjects(topology.project);
  if (left.length > 0) throw new StepError("hosts down", `left on this machine: ${left.join(", ")}`, "remove them with docker rm/network rm/rmi");
}

if (isEntryPoint(import.meta.url)) {
  const { positionals } = parseArgs({ allowPositionals: true });
  const action = positionals[0];
  try {
    if (action !== "up" && action !== "down") throw new StepError("hosts", `expected up or down, got ${action ?? "nothing"}`, "npm run hosts -- up | down");
    const topology = loadTopology(topologyPath(process.env.EDGE_TOPOLOGY ? undefined : MULTI_HOST_TOPOLOGY));
    await (action === "up" ? hostsUp(topology) : hostsDown(topology));
    if (action === "up") console.log(`hosts up: deploy with EDGE_TOPOLOGY=${process.env.EDGE_TOPOLOGY ?? "infra/topology.multi-host.yaml"} npm run deploy`);
  } catch (e) {
    process.exitCode = reportFailure("hosts", e);
  }
}
