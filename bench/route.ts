// npm run bench:route [-- --quick | --arms | --flood | --sizing | --only A,C | --rate N | --json FILE | --doc FILE | --no-doc]
// Routing cost side by side: native cluster_header, Lua, the region-router Wasm filter on each of
// its paths, the full generated POP and the POP minus one part at a time, each in its own pinned
// Envoy on 127.0.0.1; then a random-Host flood and a 2-worker sizing run. See bench/README.md.
import { rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "./benchmarks-doc.ts";
import { machineFacts } from "./soak-run.ts";
import { repoRoot } from "../scripts/toolchain/paths.ts";
import { ARMS, type Arm } from "./route/arms.ts";
import { killChildren } from "./route/envoy-process.ts";
import { FULL_FLOOD, QUICK_FLOOD, runFlood } from "./route/flood.ts";
import { FULL_PLAN, QUICK_PLAN, runArm, type ArmResult } from "./route/measure.ts";
import { terminalReport, routeSection, type PhaseTime, type RouteBenchResult } from "./route/report.ts";
import { openSession, type BenchSession } from "./route/session.ts";
import { QUICK_SIZING, runSizing } from "./route/sizing.ts";
import { RoutingError } from "./route/verify.ts";
import type { ClosedLoopWindow } from "./route/wrk.ts";
import { UsageError, runBenchCommand } from "./cli.ts";

export const ROUTE_SECTION = "route";
export const DEFAULT_DOC = resolve(repoRoot, "docs/benchmarks.md");
/** Every arm's open-loop window runs at this share of arm A's maximum. */
export const OPEN_LOOP_SHARE_OF_A = 0.5;
const QUICK_RATE = 200;
const FALLBACK_RATE = 2000;

const USAGE = `usage: npm run bench:route -- [--quick] [--arms] [--flood] [--sizing] [--only A,B,...] [--rate N]
                           [--json FILE] [--doc FILE | --no-doc]
  no phase flag runs every phase (arms, flood, sizing); --quick is a smoke run (< 60 s, docs untouched)`;


interface Cli {
  quick: boolean;
  phases: { arms: boolean; flood: boolean; sizing: boolean };
  arms: Arm[];
  rate: number | null;
  json: string | null;
  doc: string | null;
  command: string;
}

function parseCli(argv: string[]): Cli {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean" },
        arms: { type: "boolean" },
        flood: { type: "boolean" },
        sizing: { type: "boolean" },
        only: { type: "string" },
        rate: { type: "string" },
        json: { type: "string" },
        doc: { type: "string" },
        "no-doc": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const any = values.arms || values.flood || values.sizing;
  const phases = { arms: !any || values.arms === true, flood: !any || values.flood === true, sizing: !any || values.sizing === true };
  let arms = ARMS;
  if (values.only !== undefined) {
    const wanted = values.only.split(",").map((id) => id.trim());
    const unknown = wanted.filter((id) => !ARMS.some((arm) => arm.id === id));
    if (unknown.length > 0) throw new UsageError(`--only ${unknown.join(",")}: no such arm; expected some of ${ARMS.map((arm) => arm.id).join(", ")}`);
    arms = ARMS.filter((arm) => wanted.includes(arm.id));
  }
  let rate: number | null = null;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
    if (!Number.isInteger(rate) || rate < 1) throw new UsageError(`--rate ${values.rate} is invalid; expected requests per second, an integer >= 1`);
  }
  if (values.doc !== undefined && values["no-doc"]) throw new UsageError("--doc and --no-doc both given; expected at most one");
  if (values.quick && values.doc !== undefined) throw new UsageError("--quick never writes the docs; drop --doc");
  // Only a full default run replaces the published section (or one that names a file).
  const complete = !values.quick && phases.arms && phases.flood && phases.sizing && arms === ARMS && rate === null;
  const doc = values.quick || values["no-doc"] ? null : values.doc !== undefined ? resolve(values.doc) : complete ? DEFAULT_DOC : null;
  return {
    quick: values.quick === true,
    phases,
    arms,
    rate,
    json: values.json === undefined ? null : resolve(values.json),
    doc,
    command: ["npm run bench:route", ...(argv.length > 0 ? ["--", ...argv.filter((arg, i) => !(arg === "--json" || argv[i - 1] === "--json" || arg.startsWith("--json=") || arg === "--doc" || argv[i - 1] === "--doc"))] : [])].join(" "),
  };
}

/** JSON with Maps as plain objects. */
const jsonText = (value: unknown) => `${JSON.stringify(value, (_, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2)}\n`;

let openSessionRef: BenchSession | null = null;

async function timed<T>(phases: PhaseTime[], phase: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    const seconds = (performance.now() - started) / 1000;
    phases.push({ phase, seconds });
    console.log(`phase ${phase}: ${seconds.toFixed(1)} s`);
  }
}

async function run(cli: Cli): Promise<RouteBenchResult> {
  const phases: PhaseTime[] = [];
  const result: RouteBenchResult = {
    command: cli.command,
    quick: cli.quick,
    startedAt: new Date().toISOString(),
    machine: machineFacts(),
    openLoopRate: cli.quick ? QUICK_RATE : cli.rate,
    openLoopRateReason: cli.quick ? "smoke run" : cli.rate !== null ? "--rate" : "",
    arms: [],
    aborted: null,
    flood: null,
    sizing: null,
    phases,
    problems: [],
  };
  const session = await timed(phases, "setup", () => openSession());
  openSessionRef = session;
  const log = (line: string) => console.log(line);
  try {
    if (cli.phases.arms) {
      await timed(phases, "arms", async () => {
        const plan = cli.quick ? QUICK_PLAN : FULL_PLAN;
        const rateFor = (best: ClosedLoopWindow | null) => {
          if (result.openLoopRate === null) {
            if (best) {
              result.openLoopRate = Math.max(100, Math.round((best.rps * OPEN_LOOP_SHARE_OF_A) / 100) * 100);
              result.openLoopRateReason = `${OPEN_LOOP_SHARE_OF_A * 100}% of arm A's maximum`;
            } else {
              result.openLoopRate = FALLBACK_RATE;
              result.openLoopRateReason = "arm A gave no maximum (not run, or no window under the p99 limit)";
            }
          }
          return result.openLoopRate;
        };
        for (const arm of cli.arms) {
          const started = performance.now();
          console.log(`arm ${arm.id}: ${arm.title}`);
          let armResult: ArmResult;
          try {
            armResult = await runArm(session, arm, { plan, rateFor, log });
          } catch (error) {
            if (!(error instanceof RoutingError)) throw error;
            result.aborted = { arm: arm.id, cause: error.message };
            console.error(`bench:route: routing verification failed, benchmark aborted: ${error.message}`);
            return;
          }
          result.arms.push(armResult);
          result.problems.push(...armResult.problems.map((problem) => `arm ${arm.id}: ${problem}`));
          console.log(`  ${arm.id} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
        }
      });
    }
    if (cli.phases.flood && !result.aborted) {
      try {
        result.flood = await timed(phases, "flood", () => runFlood(session, cli.quick ? QUICK_FLOOD : FULL_FLOOD, log));
        result.problems.push(...result.flood.problems.map((problem) => `flood: ${problem}`));
      } catch (error) {
        if (!(error instanceof RoutingError)) throw error;
        result.aborted = { arm: "flood", cause: error.message };
      }
    }
    if (cli.phases.sizing && !result.aborted) {
      const full = result.arms.find((arm) => arm.id === "D")?.best;
      const plan = cli.quick ? QUICK_SIZING : { stepSeconds: 5, firstRate: full ? Math.round((full.rps * 0.8) / 100) * 100 : FALLBACK_RATE, maxSteps: 6 };
      try {
        result.sizing = await timed(phases, "sizing", () => runSizing(session, plan, result.machine.cores, log));
        result.problems.push(...result.sizing.problems.map((problem) => `sizing: ${problem}`));
      } catch (error) {
        if (!(error instanceof RoutingError)) throw error;
        result.aborted = { arm: "sizing", cause: error.message };
      }
    }
  } finally {
    await session.stop();
    openSessionRef = null;
  }
  return result;
}

async function runCommand(cli: Cli): Promise<number> {
  const started = performance.now();
  const result = await run(cli);
  console.log(`\n${terminalReport(result)}\n`);
  if (cli.json) writeFileSync(cli.json, jsonText(result));
  const failed = result.aborted !== null || result.problems.length > 0;
  if (cli.doc && !failed) {
    writeSection(cli.doc, ROUTE_SECTION, routeSection(result));
    console.log(`wrote section "${ROUTE_SECTION}" of ${cli.doc}`);
  } else {
    console.log(cli.quick ? "docs not updated: smoke run" : failed ? "docs not updated: the run failed" : "docs not updated: not a full default run (pass --doc FILE to write one anyway)");
  }
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (result.aborted) console.error(`bench:route: aborted at ${result.aborted.arm}: ${result.aborted.cause}`);
  return failed ? 1 : 0;
}

runBenchCommand({
  name: "bench:route",
  usage: USAGE,
  parse: parseCli,
  run: runCommand,
  // An interrupted or failed run leaves no Envoy or client behind.
  stop: () => {
    killChildren();
    if (openSessionRef) rmSync(openSessionRef.dir, { recursive: true, force: true });
  },
  stopping: "stopping every Envoy and client of this run",
});
