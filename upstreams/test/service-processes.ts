import { execFile, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ServiceProcess {
  child: ChildProcess;
  exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** SIGKILL unless already exited; for teardown. */
  kill(): Promise<void>;
}

/** Runs a TypeScript entry point of this repo the way containers do: `node --import tsx <file>`. */
export function spawnTs(relativeFile: string, env: NodeJS.ProcessEnv, args: string[] = []): ServiceProcess {
  return spawnNode(["--import", "tsx", join(repoRoot, relativeFile), ...args], env);
}

/** Runs `node <args>` (e.g. a bundled service) with `env`, in `cwd`. */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv, cwd: string = repoRoot): ServiceProcess {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** Waits for the service's JSON "listening" log line and returns its port. */
export async function listeningPort(service: ServiceProcess, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of service.stdout().split("\n")) {
      if (!line.startsWith("{")) continue;
      const event = JSON.parse(line) as { msg?: string; port?: number };
      if (event.msg === "listening" && typeof event.port === "number") return event.port;
    }
    if (service.child.exitCode !== null) {
      throw new Error(`service exited with ${service.child.exitCode} before listening: ${service.stderr()}`);
    }
    if (Date.now() > deadline)
      throw new Error(`service did not report listening: ${service.stdout()} ${service.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface CurlResult {
  status: number;
  httpVersion: string;
  body: string;
}

/** A request made by curl, so both protocols are checked against an independent client. */
export function curl(
  url: string,
  options: { h2c?: boolean; headers?: Record<string, string> } = {},
): Promise<CurlResult> {
  const args = ["-sS", "--max-time", "10", "-w", "\n%{http_code} %{http_version}"];
  if (options.h2c) args.push("--http2-prior-knowledge");
  else args.push("--http1.1");
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}: ${value}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile("curl", args, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`curl ${url} failed: ${stderr || error.message}`));
        return;
      }
      const split = stdout.lastIndexOf("\n");
      const [status, httpVersion] = stdout.slice(split + 1).split(" ");
      resolve({ status: Number(status), httpVersion: httpVersion ?? "", body: stdout.slice(0, split) });
    });
  });
}
