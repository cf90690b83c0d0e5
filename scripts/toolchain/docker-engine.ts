import { closeSync, mkdirSync, openSync } from "node:fs";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { lastLine, run, runOrFail, StepError, which } from "./commands.ts";
import { toolsDir } from "./paths.ts";
import type { Probe } from "./components.ts";

const step = "start Docker Engine";

export function probeDockerEngine(): Probe {
  if (!which("docker")) return { status: "missing", detail: "no docker CLI on PATH" };
  const r = run("docker", ["info", "--format", "{{.ServerVersion}}"]);
  const version = r.stdout.trim();
  if (r.code === 0 && version) return { status: "ok", found: version, path: which("docker") };
  return { status: "missing", detail: lastLine(r) };
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Installs Debian packages when running as root with apt; otherwise explains what to install. */
export function aptInstall(packages: string[], why: string): void {
  if (!isRoot() || !which("apt-get")) {
    throw new StepError(why, `${packages.join(", ")} not installed and this user cannot install packages`, `install ${packages.join(" ")} (Debian/Ubuntu: sudo apt-get install ${packages.join(" ")}) and re-run \`npm run setup\``);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  runOrFail(why, "check Debian's package mirror is reachable", "apt-get", ["update", "-qq"], { env });
  runOrFail(why, `check disk space and apt's lock, then: apt-get install ${packages.join(" ")}`, "apt-get", ["install", "-y", "-qq", ...packages], { env });
}

export async function waitForDocker(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (probeDockerEngine().status === "ok") return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

export async function ensureDockerEngine(): Promise<void> {
  if (probeDockerEngine().status === "ok") return;
  if (!which("dockerd")) {
    if (!isRoot() || !which("apt-get")) {
      throw new StepError(step, "Docker Engine is required and none answers", "install and start Docker Engine (https://docs.docker.com/engine/install/), or run `npm run setup` as root on Debian/Ubuntu to install docker.io");
    }
    aptInstall(["docker.io"], step);
  }
  if (!isRoot()) {
    throw new StepError(step, "dockerd is installed but not running", "start it (sudo systemctl start docker) and add your user to the docker group");
  }
  mkdirSync(toolsDir, { recursive: true });
  const logPath = join(toolsDir, "dockerd.log");
  const log = openSync(logPath, "a");
  const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  closeSync(log);
  if (!(await waitForDocker(60_000))) {
    throw new StepError(step, `dockerd did not answer within 60 s (log: ${logPath})`, `read ${logPath}; a stale /var/run/docker.pid or a second dockerd are common causes`);
  }
}
