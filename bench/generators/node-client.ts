// Node keep-alive HTTP/1.1 client (node:http Agent), one process, one request in flight per connection.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { runChild, stopChild, type BatchResult, type ChildRun, type GeneratorOptions, type LoadGenerator } from "./load-generator.ts";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "node-client-worker.ts");

interface WorkerResult {
  responses: number;
  seconds: number;
  statuses: Record<string, number>;
  errors: number;
  p99Us: number | null;
  cpuSeconds: number;
}

export function openNodeClient(options: GeneratorOptions): LoadGenerator {
  const file = join(options.workDir, "node-requests.json");
  writeFileSync(file, JSON.stringify(options.requests));
  let running: ChildRun | null = null;
  let sent = 0;
  return {
    name: "node",
    description: `Node ${process.version} node:http keep-alive Agent, ${options.connections} connections, separate process`,
    async runBatch(responses: number): Promise<BatchResult> {
      const run = runChild(
        process.execPath,
        ["--import", join(repoRoot, "node_modules/tsx/dist/esm/index.mjs"), WORKER, options.url, file, String(responses), String(options.connections), String(sent % options.requests.length)],
        process.env,
      );
      running = run;
      sent += responses;
      const { code, stdout, stderr } = await run.output;
      running = null;
      const line = stdout.split("\n").find((candidate) => candidate.startsWith("soak-result "));
      if (code !== 0 || !line) throw new Error(`node client exited with ${code}:\n${stderr.slice(-2000)}`);
      const result = JSON.parse(line.slice("soak-result ".length)) as WorkerResult;
      return {
        responses: result.responses,
        seconds: result.seconds,
        statuses: new Map(Object.entries(result.statuses).map(([status, count]) => [Number(status), count])),
        errors: result.errors,
        p99Ms: result.p99Us === null ? null : result.p99Us / 1000,
        generatorCpuSeconds: result.cpuSeconds,
      };
    },
    async close() {
      await stopChild(running);
    },
  };
}
