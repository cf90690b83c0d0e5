// One Envoy process of the routing benchmark, optionally pinned to CPUs with taskset (taskset
// execs Envoy, so the child's pid is Envoy's and /proc/<pid>/stat counts only Envoy's threads).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { toolPath } from "../../scripts/toolchain/paths.ts";
import { waitClustersHealthy } from "../../edge/cluster-health.ts";

/** Child processes of this run still alive (Envoys and clients), for a signal handler to end. */
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): void {
  children.add(child);
  child.once("close", () => children.delete(child));
}

/** Kills every process this run started that is still running. */
export function killChildren(): void {
  for (const child of children) child.kill("SIGKILL");
}

export interface BenchEnvoy {
  name: string;
  pid: number;
  adminUrl: string;
  process: ChildProcess;
  /** The last 200 kB Envoy wrote. */
  log(): string;
  stop(): Promise<void>;
}

export interface EnvoyLaunch {
  name: string;
  /** Written as JSON; Envoy reads the file by its .json extension. */
  bootstrap: unknown;
  dir: string;
  adminUrl: string;
  concurrency: number;
  /** taskset CPU list, e.g. "0"; null runs unpinned. */
  cpus: string | null;
  /** Also wait until every host of every cluster passed its health check. */
  waitHealthy?: boolean;
}

async function waitReady(envoy: BenchEnvoy, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (envoy.process.exitCode !== null) throw new Error(`${envoy.name} Envoy exited with ${envoy.process.exitCode}:\n${envoy.log().slice(-3000)}`);
    try {
      if ((await fetch(`${envoy.adminUrl}/ready`)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${envoy.name} Envoy not ready after ${timeoutMs} ms:\n${envoy.log().slice(-3000)}`);
}

/**
 * Envoy's stdout (where a POP writes its access log) goes to /dev/null: Envoy still formats and
 * writes every line, and no reader process competes for the CPUs. Its own log is stderr.
 */
export async function startEnvoy(launch: EnvoyLaunch): Promise<BenchEnvoy> {
  const file = join(launch.dir, `${launch.name}.json`);
  writeFileSync(file, JSON.stringify(launch.bootstrap, null, 1));
  const envoyArgs = ["-c", file, "--disable-hot-restart", "--concurrency", String(launch.concurrency), "-l", "error"];
  const child = launch.cpus === null
    ? spawn(toolPath("envoy"), envoyArgs, { stdio: ["ignore", "ignore", "pipe"] })
    : spawn("taskset", ["-c", launch.cpus, toolPath("envoy"), ...envoyArgs], { stdio: ["ignore", "ignore", "pipe"] });
  track(child);
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000);
  };
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const envoy: BenchEnvoy = {
    name: launch.name,
    pid: child.pid ?? -1,
    adminUrl: launch.adminUrl,
    process: child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  try {
    if (envoy.pid < 0) throw new Error(`${launch.name}: could not start ${launch.cpus === null ? "envoy" : "taskset"}`);
    await waitReady(envoy, 30_000);
    if (launch.waitHealthy) await waitClustersHealthy(envoy.adminUrl, 30_000);
    return envoy;
  } catch (error) {
    await envoy.stop();
    throw error;
  }
}

/** Counter and gauge values by full name (absent names are left out). */
export async function envoyStats(adminUrl: string, names: readonly string[]): Promise<Map<string, number>> {
  const response = await fetch(`${adminUrl}/stats?format=json`, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`GET ${adminUrl}/stats answered ${response.status}`);
  const json = (await response.json()) as { stats?: { name?: string; value?: number }[] };
  const wanted = new Set(names);
  const values = new Map<string, number>();
  for (const stat of json.stats ?? []) {
    if (typeof stat.name === "string" && typeof stat.value === "number" && wanted.has(stat.name)) values.set(stat.name, stat.value);
  }
  return values;
}
