// A load generator replays the soak's request list against one URL in batches of an exact number
// of responses, so memory can be sampled between batches at known request counts.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { SoakRequest } from "../traffic-mix.ts";

export const GENERATOR_NAMES = ["wrk", "k6", "node"] as const;
export type GeneratorName = (typeof GENERATOR_NAMES)[number];

export interface BatchResult {
  /** Responses received (any status). */
  responses: number;
  /** Wall time from start of the batch until its last counted response. */
  seconds: number;
  statuses: Map<number, number>;
  /** Connect, read, write errors and timeouts: requests that got no response. */
  errors: number;
  p99Ms: number | null;
  /** CPU time (user + system) the generator process used for the batch; null if not measured. */
  generatorCpuSeconds: number | null;
}

export interface LoadGenerator {
  readonly name: GeneratorName;
  readonly description: string;
  runBatch(responses: number): Promise<BatchResult>;
  /** Stops a batch still running; safe to call twice. */
  close(): Promise<void>;
}

export interface GeneratorOptions {
  /** Base URL of the POP's public listener, e.g. http://127.0.0.1:1234 */
  url: string;
  requests: SoakRequest[];
  /** Keep-alive connections held open during a batch. */
  connections: number;
  /** Scratch folder for request files and scripts. */
  workDir: string;
}

/** Upper bound of one batch: a stuck edge fails the soak instead of hanging it. */
export function batchDeadlineSeconds(responses: number): number {
  return Math.max(60, Math.ceil(responses / 250));
}

export function mergeStatuses(into: Map<number, number>, from: Map<number, number>): void {
  for (const [status, count] of from) into.set(status, (into.get(status) ?? 0) + count);
}

export interface ChildRun {
  child: ChildProcess;
  output: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Last CPU time read from /proc while the process ran (polled, so up to one poll short). */
  cpuSeconds(): number | null;
}

/** Kernel clock ticks per second (USER_HZ), 100 on Linux x86-64. */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of a running process. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the line.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Spawns a generator process, keeping its output; `onLine` sees each stdout line as it arrives. */
export function runChild(command: string, args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string) => void): ChildRun {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "";
  let stderr = "";
  let pending = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine?.(line);
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  let cpu: number | null = null;
  const readCpu = () => {
    try {
      if (child.pid !== undefined && child.exitCode === null) cpu = processCpuSeconds(child.pid);
    } catch {
      /* exited between the check and the read */
    }
  };
  const poll = setInterval(readCpu, 100);
  const output = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", (error) => {
      clearInterval(poll);
      reject(error);
    });
    child.on("close", (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, output, cpuSeconds: () => cpu };
}

export async function stopChild(run: ChildRun | null): Promise<void> {
  if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill("SIGKILL");
  await run.output.catch(() => undefined);
}
