// Closed-loop windows with wrk (Debian's package, installed by ensureWrk as the soak does): a fixed
// number of keep-alive connections, each sending its next request when the previous answer is in.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureWrk } from "../generators/wrk.ts";
import { processCpuSeconds, runChild } from "../generators/load-generator.ts";
import type { BenchRequest } from "./arms.ts";
import { track } from "./envoy-process.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "wrk-route.lua");

export interface ClosedLoopWindow {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status above 399. */
  statusErrors: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
  /** CPU seconds of each measured process (by pid) over the window. */
  cpuSeconds: Map<number, number>;
  /** CPU seconds of wrk itself (polled every 100 ms, so up to one poll short). */
  clientCpuSeconds: number | null;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  statusErrors: number;
  timeouts: number;
  p50Us: number;
  p99Us: number;
}

export function writeWrkRequests(file: string, requests: BenchRequest[]): string {
  const lines = requests.map((request) => [request.path, ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`)].join("\t"));
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

export interface WrkWindowOptions {
  url: string;
  requestFile: string;
  connections: number;
  seconds: number;
  /** taskset CPU list for wrk; null runs it unpinned. */
  cpus: string | null;
  /** Processes whose CPU time is measured over the window. */
  measuredPids: number[];
}

export async function runWrkWindow(options: WrkWindowOptions): Promise<ClosedLoopWindow> {
  const wrk = ensureWrk((line) => console.log(line));
  const wrkArgs = ["-t", "1", "-c", String(options.connections), "-d", `${options.seconds}s`, "--timeout", "10s", "-s", SCRIPT, options.url, "--", options.requestFile];
  const before = new Map(options.measuredPids.map((pid) => [pid, processCpuSeconds(pid)]));
  const run = options.cpus === null ? runChild(wrk, wrkArgs, process.env) : runChild("taskset", ["-c", options.cpus, wrk, ...wrkArgs], process.env);
  track(run.child);
  const { code, stdout, stderr } = await run.output;
  const cpuSeconds = new Map(options.measuredPids.map((pid) => [pid, processCpuSeconds(pid) - before.get(pid)!]));
  const line = stdout.split("\n").find((candidate) => candidate.startsWith("route-summary "));
  if (code !== 0 || !line) throw new Error(`wrk exited with ${code} and no summary:\n${stdout.slice(-1500)}${stderr.slice(-1500)}`);
  const summary = JSON.parse(line.slice("route-summary ".length)) as WrkSummary;
  const seconds = summary.durationUs / 1e6;
  return {
    connections: options.connections,
    seconds,
    requests: summary.requests,
    rps: summary.requests / seconds,
    p50Ms: summary.p50Us / 1000,
    p99Ms: summary.p99Us / 1000,
    statusErrors: summary.statusErrors,
    socketErrors: summary.connectErrors + summary.readErrors + summary.writeErrors + summary.timeouts,
    cpuSeconds,
    clientCpuSeconds: run.cpuSeconds(),
  };
}
