// npm run bench:multi-host [-- --doc <file>] [--duration <k6 duration>]
// The multi-host topology (infra/topology.multi-host.yaml) on three local Docker Engines
// (`npm run hosts -- up`): how long a deploy takes when every image must be sent and when the base image
// is already there, then k6's latency matrix (entry x owner region, p50/p95) beside the declared round
// trips. Results go into the "multi-host" section of docs/benchmarks.md; everything it started is
// removed at the end (destroy, hosts down).
import "../infra/multi-host-env.ts";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../scripts/toolchain/paths.ts";
import { loadTopology, topologyPath } from "../infra/topology/load.ts";
import { deploy } from "../infra/commands/deploy.ts";
import { destroy } from "../infra/commands/destroy.ts";
import { hostsDown, hostsUp } from "../infra/commands/hosts.ts";
import { runLoad } from "../load/run.ts";
import { hopCosts, type LatencyCell } from "../load/lib/latency-matrix.ts";
import { rttMs } from "../edge/wan.ts";
import type { Topology } from "../infra/topology/model.ts";
import { runBenchCommand, UsageError } from "./cli.ts";
import { writeSection } from "./benchmarks-doc.ts";

const RATE = 50;
const USAGE = "usage: npm run bench:multi-host [-- --doc <file>] [--duration <k6 duration, e.g. 60s>]";

interface Cli {
  doc: string;
  duration: string;
}

function parse(argv: string[]): Cli {
  const cli: Cli = { doc: join(repoRoot, "docs/benchmarks.md"), duration: "60s" };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--doc" && value) cli.doc = value;
    else if (argv[i] === "--duration" && value && /^\d+[sm]$/.test(value)) cli.duration = value;
    else throw new UsageError(`unknown or incomplete option ${argv[i]}`);
    i++;
  }
  return cli;
}

const topology = loadTopology(topologyPath());
let started = false;

async function timedDeploy(): Promise<number> {
  const t0 = performance.now();
  await deploy({ skipSetup: true, quiet: true });
  return (performance.now() - t0) / 1000;
}

/** The matrix as a table; off the diagonal each cell with its pair's RTT and its distance from RTT + local (hopCosts). */
function latencyTable(cells: LatencyCell[], t: Topology): { rows: string[]; worst: number } {
  const regions = t.regions.map((r) => r.name);
  const hops = hopCosts(cells, regions, (a, b) => rttMs(t, a, b));
  const rows = regions.map((entry) => {
    const parts = regions.map((owner) => {
      const c = cells.find((cell) => cell.entryRegion === entry && cell.ownerRegion === owner)!;
      const hop = hops.find((h) => h.entryRegion === entry && h.ownerRegion === owner);
      const note = hop ? `RTT ${hop.rttMs}; ${hop.deviation >= 0 ? "+" : ""}${(hop.deviation * 100).toFixed(0)}%` : "local";
      return `${c.p50Ms.toFixed(1)} / ${c.p95Ms.toFixed(1)} (${note})`;
    });
    return `| ${entry} | ${parts.join(" | ")} |`;
  });
  return { rows, worst: Math.max(...hops.map((h) => Math.abs(h.deviation))) };
}

runBenchCommand<Cli>({
  name: "bench:multi-host",
  usage: USAGE,
  parse,
  stopping: "destroying the deploy and stopping the engines",
  async stop() {
    if (!started) return;
    await destroy({ quiet: true }).catch(() => undefined);
    await hostsDown(topology).catch(() => undefined);
  },
  async run(cli) {
    started = true;
    await hostsUp(topology);
    const cold = await timedDeploy();
    await destroy({ quiet: true });
    const warm = await timedDeploy();
    // 50 requests/s: what two CPUs serve across three engines without queueing into the latency.
    const load = await runLoad({ profile: "smoke", rate: RATE, duration: cli.duration, output: "capture" });
    const summary = load.summary;
    await destroy({ quiet: true });
    await hostsDown(topology);
    started = false;
    if (!summary || load.exitCode !== 0) {
      console.error(`bench:multi-host: k6 exited ${load.exitCode}: ${summary?.failedThresholds.join("; ") ?? load.stderr.slice(-1000)}; the doc is not written`);
      return 1;
    }
    const { rows, worst } = latencyTable(summary.latencyMatrix, topology);
    const body = [
      "## Multi-host: three engines and a WAN",
      "",
      "`npm run bench:multi-host` (with `-- --duration 60s`, the default). The topology is `infra/topology.multi-host.yaml`.",
      "Each region runs on its own Docker Engine (`npm run hosts -- up`, engines in containers on one machine),",
      `with declared round trips between the regions (\`wan.rttMs\`). Machine: ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString().slice(0, 10)}.`,
      "",
      "| deploy of 3 regions on 3 engines | seconds |",
      "|---|---|",
      `| first deploy, both images sent to every engine | ${cold.toFixed(1)} |`,
      `| after a destroy: base image already there, services image sent again | ${warm.toFixed(1)} |`,
      "",
      `Latency by entry region (rows) and owner region (columns): k6 at ${RATE} requests/s for ${cli.duration}, ${summary.requests} requests (achieved ${summary.achievedRatePerSecond.toFixed(0)}/s), ${summary.errors} errors, ${summary.misroutes} misroutes.`,
      "Each cell shows p50 / p95 in ms. The percentage is the p50's distance from the expected value: the pair's declared RTT plus the owner region's own local p50.",
      "",
      `| entry \\ owner | ${topology.regions.map((r) => r.name).join(" | ")} |`,
      `|---|${topology.regions.map(() => "---").join("|")}|`,
      ...rows,
      "",
      `The largest distance from RTT + local is ${(worst * 100).toFixed(0)}% (target: within 20%). A sideways hop costs its pair's round trip and little else.`,
    ].join("\n");
    console.log(body);
    writeSection(cli.doc, "multi-host", body);
    console.log(`\nwrote section "multi-host" of ${cli.doc}`);
    return worst <= 0.2 ? 0 : 1;
  },
});
