// k6 (Go, one JavaScript VM per virtual user) driven by k6-soak.js.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { toolPath } from "../../scripts/toolchain/paths.ts";
import {
  batchDeadlineSeconds, runChild, stopChild, type BatchResult, type ChildRun, type GeneratorOptions, type LoadGenerator,
} from "./load-generator.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "k6-soak.js");

interface K6Result {
  iterations: number;
  statuses: Record<string, number>;
  noResponse: number;
  p99Ms: number | null;
  durationMs: number;
}

export function openK6(options: GeneratorOptions): LoadGenerator {
  const k6 = toolPath("k6");
  const requestFile = join(options.workDir, "k6-requests.json");
  const summaryFile = join(options.workDir, "k6-summary.json");
  writeFileSync(requestFile, JSON.stringify(options.requests.map(({ path, headers }) => ({ path, headers }))));
  let running: ChildRun | null = null;
  let sent = 0;
  return {
    name: "k6",
    description: `k6 shared-iterations, ${options.connections} VUs (one connection each), response bodies discarded`,
    async runBatch(responses: number): Promise<BatchResult> {
      rmSync(summaryFile, { force: true });
      const env = {
        ...process.env,
        BASE_URL: options.url,
        REQUEST_FILE: requestFile,
        RESPONSES: String(responses),
        FIRST_ENTRY: String(sent % options.requests.length),
        VUS: String(options.connections),
        MAX_DURATION: `${batchDeadlineSeconds(responses)}s`,
        SUMMARY_FILE: summaryFile,
        K6_NO_USAGE_REPORT: "true",
      };
      const run = runChild(k6, ["run", "--quiet", "--no-color", SCRIPT], env);
      running = run;
      sent += responses;
      const { code, stderr, stdout } = await run.output;
      running = null;
      if (code !== 0 || !existsSync(summaryFile)) throw new Error(`k6 exited with ${code}:\n${stdout.slice(-1500)}${stderr.slice(-1500)}`);
      const result = JSON.parse(readFileSync(summaryFile, "utf8")) as K6Result;
      const statuses = new Map<number, number>();
      for (const [status, count] of Object.entries(result.statuses)) {
        // "other" statuses are kept under 0 so they still show up as unexpected.
        if (count > 0) statuses.set(status === "other" ? 0 : Number(status), count);
      }
      return {
        responses: result.iterations - result.noResponse,
        seconds: result.durationMs / 1000,
        statuses,
        errors: result.noResponse,
        p99Ms: result.p99Ms,
        generatorCpuSeconds: run.cpuSeconds(),
      };
    },
    async close() {
      await stopChild(running);
    },
  };
}
