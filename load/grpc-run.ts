// Runs load/grpc-cross-region.ts against a deployed edge: `npm run load:grpc [-- --smoke]`, or
// runGrpcLoad() from another runner. Tokens and summary go to the state folder, next to the HTTP
// run's files but under their own names, so the two runs can share a folder.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { toolPath } from "../scripts/toolchain/paths.ts";
import { defaultStateDir } from "../upstreams/tokens/keys.ts";
import { isEntryPoint } from "../upstreams/service-process.ts";
import { mintRegionTokens, readDeployOutputs, runK6 } from "./run.ts";
import type { RouteCell } from "./lib/route-matrix.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "grpc-cross-region.ts");

/** What grpc-cross-region.ts writes to SUMMARY_FILE. */
export interface GrpcLoadSummary {
  profile: "smoke" | "load";
  regions: string[];
  /** The gRPC apps called (those serving the Profile service). */
  apps: string[];
  calls: number;
  /** Share of calls answered OK, overall and by entry region. */
  okRate: number;
  okRateByEntryRegion: Record<string, number | undefined>;
  checks: { name: string; passes: number; fails: number }[];
  latencyByEntryRegion: Record<string, Record<string, number> | undefined>;
  failedThresholds: string[];
  routeMatrix: RouteCell[];
  /** Calls answered OK by a region other than the owner, with the wrong hop count, or INTERNAL loop_detected. */
  misroutes: number;
  misroutesByOwnerRegion: Record<string, number>;
  testRunDurationMs: number;
}

export interface GrpcLoadRunOptions {
  profile?: "smoke" | "load";
  vus?: number;
  duration?: string;
  /** Run exactly this many sweeps instead of a timed profile. */
  iterations?: number;
  /** p95 limit per entry region, overriding the profile's. */
  p95Ms?: number;
  /** Defaults to `<state>/outputs.json`. */
  outputsFile?: string;
  /** Defaults to EDGE_STATE_DIR or `<repo>/.edge`; tokens and summary are written here. */
  stateDir?: string;
  /** Where the deploy keeps its signing keys; defaults to the state folder. */
  keysDir?: string;
  k6Bin?: string;
  /** "inherit" streams k6 output to this process; "capture" returns it in the result. */
  output?: "inherit" | "capture";
}

export interface GrpcLoadRunResult {
  exitCode: number;
  summary: GrpcLoadSummary | undefined;
  summaryFile: string;
  tokensFile: string;
  stdout: string;
  stderr: string;
}

/** Runs the gRPC sweep to completion; exits as k6 does (99: a threshold failed). */
export async function runGrpcLoad(options: GrpcLoadRunOptions = {}): Promise<GrpcLoadRunResult> {
  const stateDir = resolve(options.stateDir ?? defaultStateDir());
  const outputsFile = resolve(options.outputsFile ?? join(stateDir, "outputs.json"));
  const tokensFile = join(stateDir, "k6-grpc-tokens.json");
  const summaryFile = join(stateDir, "k6-grpc-summary.json");
  const outputs = readDeployOutputs(outputsFile);
  mkdirSync(stateDir, { recursive: true });
  const tokens = mintRegionTokens(outputs, resolve(options.keysDir ?? stateDir), 6 * 3600);
  writeFileSync(tokensFile, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tokensFile, 0o600);
  // A summary left by an earlier run must not pass for this run's.
  rmSync(summaryFile, { force: true });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OUTPUTS_FILE: outputsFile,
    TOKENS_FILE: tokensFile,
    SUMMARY_FILE: summaryFile,
    PROFILE: options.profile ?? "smoke",
    K6_NO_USAGE_REPORT: "true",
  };
  for (const [name, value] of [
    ["VUS", options.vus],
    ["DURATION", options.duration],
    ["ITERATIONS", options.iterations],
    ["P95_MS", options.p95Ms],
  ] as const) {
    if (value === undefined) delete env[name];
    else env[name] = String(value);
  }
  const { exitCode, stdout, stderr } = await runK6(options.k6Bin ?? toolPath("k6"), ["run", SCRIPT], env, options.output === "capture");
  const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, "utf8")) as GrpcLoadSummary) : undefined;
  return { exitCode, summary, summaryFile, tokensFile, stdout, stderr };
}

const USAGE = "usage: npm run load:grpc -- [--smoke | --profile smoke|load] [--vus N] [--duration 2m] [--iterations N] [--outputs FILE]";

function positive(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} ${raw} is invalid; expected a positive integer`);
  return value;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        smoke: { type: "boolean" },
        profile: { type: "string" },
        vus: { type: "string" },
        duration: { type: "string" },
        iterations: { type: "string" },
        outputs: { type: "string" },
      },
      strict: true,
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}; ${USAGE}`);
  }
  const profile = values.smoke ? "smoke" : values.profile ?? "load";
  if (profile !== "smoke" && profile !== "load") throw new Error(`--profile ${profile} is invalid; expected smoke or load`);
  const result = await runGrpcLoad({
    profile,
    vus: positive("vus", values.vus),
    duration: values.duration,
    iterations: positive("iterations", values.iterations),
    outputsFile: values.outputs,
  });
  process.stdout.write(`route matrix: ${result.summary ? result.summaryFile : "not written (k6 failed before the end of the test)"}\n`);
  return result.exitCode;
}

if (isEntryPoint(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`load:grpc: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
