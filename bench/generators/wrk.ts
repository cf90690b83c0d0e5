// wrk (C, epoll, one event loop per thread) driven by wrk-soak.lua.
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  batchDeadlineSeconds, processCpuSeconds, runChild, stopChild, type BatchResult, type ChildRun, type GeneratorOptions, type LoadGenerator,
} from "./load-generator.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "wrk-soak.lua");

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** The wrk binary: EDGE_WRK_BIN, else `wrk` on PATH, else installed from Debian's `wrk` package when running as root. */
export function ensureWrk(log: (line: string) => void = () => undefined): string {
  const override = process.env.EDGE_WRK_BIN;
  if (override !== undefined && override !== "") {
    if (!existsSync(override)) throw new Error(`wrk not found at EDGE_WRK_BIN=${override}: point it at a wrk binary or unset it`);
    return override;
  }
  const found = onPath("wrk");
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error("wrk not found: install it with `sudo apt-get install -y wrk` (Debian package wrk), or pass --generator node");
  }
  log("wrk not found: installing Debian package wrk with apt-get");
  const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "wrk"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (install().status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "ignore" });
    install();
  }
  const installed = onPath("wrk");
  if (!installed) throw new Error("wrk not found and `apt-get install -y wrk` did not install it: install wrk by hand, or pass --generator node");
  return installed;
}

/** One line per request for the Lua script: method, path, headers, tab-separated. */
function requestFile(options: GeneratorOptions): string {
  const file = join(options.workDir, "wrk-requests.tsv");
  const lines = options.requests.map((request) =>
    ["GET", request.path, ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`)].join("\t"),
  );
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

interface ThreadReport {
  thread: number;
  responses: number;
  statuses: Record<string, number>;
}

interface WrkSummary {
  responses: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  p99Us: number;
}

export function openWrk(options: GeneratorOptions, threads = 1): LoadGenerator {
  const binary = ensureWrk((line) => console.log(line));
  const file = requestFile(options);
  let running: ChildRun | null = null;
  let sent = 0;
  return {
    name: "wrk",
    description: `wrk, ${threads === 1 ? "1 thread" : `${threads} threads`}, ${options.connections} keep-alive connections, request list from a Lua script`,
    async runBatch(responses: number): Promise<BatchResult> {
      const reports: ThreadReport[] = [];
      const started = performance.now();
      let finished = 0;
      let cpuSeconds: number | null = null;
      const connections = Math.max(options.connections, threads);
      const args = [
        "-t", String(threads), "-c", String(connections), "-d", `${batchDeadlineSeconds(responses)}s`, "--timeout", "10s",
        "-s", SCRIPT, options.url, "--", file, String(responses), String(threads), String(sent % options.requests.length),
      ];
      sent += responses;
      const run = runChild(binary, args, process.env, (line) => {
        if (!line.startsWith("soak-thread ")) return;
        reports.push(JSON.parse(line.slice("soak-thread ".length)) as ThreadReport);
        if (reports.length === threads) {
          finished = performance.now();
          try {
            cpuSeconds = processCpuSeconds(run.child.pid!);
          } catch {
            cpuSeconds = run.cpuSeconds();
          }
          // wrk sleeps for its whole -d duration unless interrupted; every thread has its quota now.
          run.child.kill("SIGINT");
        }
      });
      running = run;
      const { code, stdout, stderr } = await run.output;
      running = null;
      if (reports.length < threads) {
        throw new Error(`wrk stopped (exit ${code}) before every thread had its responses:\n${stdout.slice(-2000)}${stderr.slice(-2000)}`);
      }
      const summaryLine = stdout.split("\n").find((line) => line.startsWith("soak-summary "));
      const summary = summaryLine ? (JSON.parse(summaryLine.slice("soak-summary ".length)) as WrkSummary) : null;
      const statuses = new Map<number, number>();
      for (const report of reports) {
        for (const [status, count] of Object.entries(report.statuses)) statuses.set(Number(status), (statuses.get(Number(status)) ?? 0) + count);
      }
      return {
        responses: reports.reduce((sum, report) => sum + report.responses, 0),
        seconds: (finished - started) / 1000,
        statuses,
        errors: summary ? summary.connectErrors + summary.readErrors + summary.writeErrors + summary.timeouts : 0,
        p99Ms: summary ? summary.p99Us / 1000 : null,
        generatorCpuSeconds: cpuSeconds,
      };
    },
    async close() {
      await stopChild(running);
    },
  };
}
