// One Envoy process of the routing benchmark, optionally pinned to CPUs with taskset (taskset
// execs Envoy, so the child's pid is Envoy's and /proc/<pid>/stat counts only Envoy's threads).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { toolPath } from "../../scripts/toolchain/paths.ts";
import { waitClustersHealthy, waitEnvoyReady, type StartedEnvoy } from "../../edge/cluster-health.ts";

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

export interface BenchEnvoy extends StartedEnvoy {
  pid: number;
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
    await waitEnvoyReady(envoy, 30_000);
    if (launch.waitHealthy) await waitClustersHealthy(envoy.adminUrl, 30_000);
    return envoy;
  } catch (error) {
    await envoy.stop();
    throw error;
  }
}
