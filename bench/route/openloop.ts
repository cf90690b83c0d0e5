// Open-loop windows: the bench's own Go client (openloop/main.go, standard library only) schedules
// requests at a fixed rate and charges each request from its scheduled time, so a stalled proxy
// shows in the percentiles instead of slowing the client down (no coordinated omission). k6's
// constant-arrival-rate does the same, but on this 2-core machine (2026-12-01, k6 v1.8.1 pinned
// to one core, against a bare direct_response Envoy) it already dropped iterations at 5,000/s,
// while this client spent about 14 µs of CPU per request: the arms' shared rate and the flood's
// 10,000/s need the cheaper client on the one core the client gets.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuSeconds, runChild } from "../generators/load-generator.ts";
import type { BenchRequest } from "./arms.ts";
import { track } from "./envoy-process.ts";

const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), "openloop");

export interface OpenLoopWindow {
  rate: number;
  seconds: number;
  scheduled: number;
  completed: number;
  /** Requests sent that got no response (connection errors, timeouts, still in flight at the end). */
  failed: number;
  /** Requests still queued 2 s after the schedule ended, dropped unsent: the proxy (or client) fell that far behind. */
  unsent: number;
  statuses: Map<number, number>;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Most requests that were due but not yet sent at once: the client fell this far behind. */
  maxBacklog: number;
  clientCpuSeconds: number;
  cpuSeconds: Map<number, number>;
  firstError: string;
}

interface ClientResult {
  scheduled: number;
  completed: number;
  errors: number;
  unanswered: number;
  unsent: number;
  statuses: Record<string, number>;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  seconds: number;
  maxBacklog: number;
  cpuSeconds: number;
  firstError: string;
}

/** The built client, rebuilt when its source changes; `go` from PATH (Go is on every build machine). */
export function ensureOpenLoopClient(): string {
  const hash = createHash("sha256");
  for (const file of readdirSync(SOURCE_DIR).sort()) hash.update(file).update(readFileSync(join(SOURCE_DIR, file)));
  const binary = join(tmpdir(), "edgerim-route-bench", `openloop-${hash.digest("hex").slice(0, 12)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  const build = spawnSync("go", ["build", "-trimpath", "-o", partial, "."], {
    cwd: SOURCE_DIR,
    encoding: "utf8",
    env: { ...process.env, GOTOOLCHAIN: "local", GOPROXY: "off", GOFLAGS: "-mod=mod -buildvcs=false", CGO_ENABLED: "0" },
  });
  if (build.error && (build.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error("go not found: the open-loop client is built with Go (>= 1.22); install Go or put it on PATH");
  }
  if (build.status !== 0) throw new Error(`building the open-loop client (bench/route/openloop) failed:\n${build.stderr}`);
  renameSync(partial, binary);
  return binary;
}

export function writeOpenLoopRequests(file: string, requests: BenchRequest[]): string {
  writeFileSync(file, JSON.stringify(requests));
  return file;
}

export interface OpenLoopOptions {
  url: string;
  requestFile: string;
  rate: number;
  seconds: number;
  connections?: number;
  /** Every request gets a host of its own ending in this suffix (the random-Host flood). */
  randomHostSuffix?: string;
  cpus: string | null;
  measuredPids: number[];
}

export interface RunningOpenLoop {
  result: Promise<OpenLoopWindow>;
  stop(): void;
}

export function startOpenLoop(options: OpenLoopOptions): RunningOpenLoop {
  const binary = ensureOpenLoopClient();
  const clientArgs = [
    "-url", options.url, "-requests", options.requestFile, "-rate", String(options.rate), "-duration", `${options.seconds}s`,
    "-connections", String(options.connections ?? 64),
    ...(options.randomHostSuffix ? ["-random-host-suffix", options.randomHostSuffix] : []),
  ];
  const before = new Map(options.measuredPids.map((pid) => [pid, processCpuSeconds(pid)]));
  const run = options.cpus === null ? runChild(binary, clientArgs, process.env) : runChild("taskset", ["-c", options.cpus, binary, ...clientArgs], process.env);
  track(run.child);
  const result = run.output.then(({ code, stdout, stderr }) => {
    const cpuSeconds = new Map(options.measuredPids.map((pid) => [pid, processCpuSeconds(pid) - before.get(pid)!]));
    const line = stdout.split("\n").find((candidate) => candidate.startsWith("openloop-result "));
    if (code !== 0 || !line) throw new Error(`the open-loop client exited with ${code} and no result:\n${stderr.slice(-2000)}`);
    const client = JSON.parse(line.slice("openloop-result ".length)) as ClientResult;
    return {
      rate: options.rate,
      seconds: client.seconds,
      scheduled: client.scheduled,
      completed: client.completed,
      failed: client.errors + client.unanswered,
      unsent: client.unsent,
      statuses: new Map(Object.entries(client.statuses).map(([status, count]) => [Number(status), count])),
      p50Ms: client.p50Us / 1000,
      p90Ms: client.p90Us / 1000,
      p99Ms: client.p99Us / 1000,
      maxMs: client.maxUs / 1000,
      maxBacklog: client.maxBacklog,
      clientCpuSeconds: client.cpuSeconds,
      cpuSeconds,
      firstError: client.firstError,
    };
  });
  return { result, stop: () => run.child.kill("SIGKILL") };
}

export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopWindow> {
  return startOpenLoop(options).result;
}
