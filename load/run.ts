import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { toolPath } from "../scripts/toolchain/paths.ts";
import { ensureSigningKeys, defaultStateDir } from "../upstreams/tokens/keys.ts";
import { signToken } from "../upstreams/tokens/sign.ts";
import { isEntryPoint } from "../upstreams/service-process.ts";
import type { CellIssues, RouteCell } from "./lib/route-matrix.ts";
import type { LatencyCell } from "./lib/latency-matrix.ts";
import type { FaultLoadPlan } from "./lib/fault-plan.ts";
import type { FaultLoadSummary } from "./lib/fault-summary.ts";
import { parseFaultLog, type FaultLogEntry } from "./lib/fault-log.ts";
import type { DeployOutputs } from "../infra/deploy-outputs.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "cross-region.ts");
const FAULT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "fault-load.ts");
/** k6 exits with this code when a threshold failed; any other non-zero code means the run itself failed. */
export const K6_THRESHOLDS_FAILED = 99;

/** What cross-region.ts writes to SUMMARY_FILE. */
export interface LoadSummary {
  profile: "smoke" | "load";
  regions: string[];
  requests: number;
  failedRate: number;
  checks: { name: string; passes: number; fails: number }[];
  latencyByEntryRegion: Record<string, Record<string, number> | undefined>;
  failedThresholds: string[];
  routeMatrix: RouteCell[];
  /** p50/p95 per entry x owner region cell (lib/latency-matrix.ts). */
  latencyMatrix: LatencyCell[];
  /** Entry x owner cells with errors or misroutes. */
  cellIssues: CellIssues[];
  requestsByEntryPop: Record<string, number>;
  /** Offered requests per second; null for a fixed number of sweeps. */
  ratePerSecond: number | null;
  achievedRatePerSecond: number;
  /** Arrivals k6 could not start (no VU free): the edge answered too slowly for the rate. */
  droppedIterations: number;
  /** Requests answered 200 by a region other than the owner, with the wrong hop count, or 508. */
  misroutes: number;
  misroutesByOwnerRegion: Record<string, number>;
  /** Requests answered by neither the owner's app nor its failover's (lib/edge-response.ts). */
  errors: number;
  testRunDurationMs: number;
}

export interface LoadRunOptions {
  profile?: "smoke" | "load";
  /** Requests per second (constant arrival rate), overriding the profile's. */
  rate?: number;
  /** VUs ready up front (k6 starts up to 4x as many while the edge is slow). */
  vus?: number;
  duration?: string;
  /** Run exactly this many sweeps instead of a timed profile. */
  iterations?: number;
  /** p95 and p99 limits per entry region, overriding the profile's. */
  p95Ms?: number;
  p99Ms?: number;
  /** Defaults to `<state>/outputs.json`. */
  outputsFile?: string;
  /** Defaults to EDGE_STATE_DIR or `<repo>/.edge`; tokens, summary and report are written here. */
  stateDir?: string;
  k6Bin?: string;
  /** Live dashboard port on 127.0.0.1; the default -1 only exports the HTML report. */
  dashboardPort?: number;
  /** "inherit" streams k6 output to this process; "capture" returns it in the result. */
  output?: "inherit" | "capture";
}

export interface LoadRunResult {
  exitCode: number;
  summary: LoadSummary | undefined;
  summaryFile: string;
  /** Undefined when k6 wrote no report (it skips runs too short to plot). */
  reportFile: string | undefined;
  tokensFile: string;
  stdout: string;
  stderr: string;
}

/**
 * Runs k6 to completion. SIGINT/SIGTERM received meanwhile are passed on, so k6 stops the test
 * and still writes its summary.
 */
export async function runK6(k6: string, args: string[], env: NodeJS.ProcessEnv, capture: boolean): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = spawn(k6, args, { env, stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit" });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const exitCode = await new Promise<number>((resolveExit, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolveExit(code ?? (signal ? 128 : 1)));
  }).finally(() => {
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
  });
  return { exitCode, stdout, stderr };
}

export function readDeployOutputs(file: string): DeployOutputs {
  if (!existsSync(file)) throw new Error(`${file} not found: run \`npm run deploy\` first`);
  const outputs = JSON.parse(readFileSync(file, "utf8")) as Partial<DeployOutputs>;
  const missing: string[] = (["regions", "pops", "tenants", "apps"] as const).filter((key) => !Array.isArray(outputs[key]));
  // Outputs of a deploy from before placement: their apps have no serving order.
  if (typeof outputs.jurisdictions !== "object" || outputs.apps?.some((app) => typeof app.serving !== "object")) missing.push("jurisdictions/serving");
  if (missing.length > 0 || !outputs.jwt?.issuer || !outputs.jwt.audiences?.length) {
    const fields = [...missing, ...(outputs.jwt?.issuer && outputs.jwt.audiences?.length ? [] : ["jwt"])];
    throw new Error(`${file} lacks ${fields.join(", ")}; expected the outputs of \`npm run deploy\``);
  }
  return outputs as DeployOutputs;
}

/** One user per region, each token valid for longer than the run. */
export function mintRegionTokens(outputs: DeployOutputs, stateDir: string, ttlSeconds: number): Record<string, string> {
  const keys = ensureSigningKeys(stateDir);
  const tokens: Record<string, string> = {};
  for (const region of outputs.regions) {
    tokens[region] = signToken({
      user: `load-user-${region}`,
      region,
      // Outputs of a deploy from before the limit was written carry none.
      ttlSeconds: Math.min(ttlSeconds, outputs.jwt.maxTokenTtlSeconds ?? ttlSeconds),
      issuer: outputs.jwt.issuer,
      audience: outputs.jwt.audiences[0]!,
      regionClaim: outputs.jwt.regionClaim,
      key: keys.privateKey,
      kid: keys.kid,
    });
  }
  return tokens;
}

export async function runLoad(options: LoadRunOptions = {}): Promise<LoadRunResult> {
  const stateDir = resolve(options.stateDir ?? defaultStateDir());
  const outputsFile = resolve(options.outputsFile ?? join(stateDir, "outputs.json"));
  const tokensFile = join(stateDir, "k6-tokens.json");
  const summaryFile = join(stateDir, "k6-summary.json");
  const reportFile = join(stateDir, "k6-report.html");
  const k6 = options.k6Bin ?? toolPath("k6");

  const outputs = readDeployOutputs(outputsFile);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(tokensFile, `${JSON.stringify(mintRegionTokens(outputs, stateDir, 6 * 3600), null, 2)}\n`, {
    mode: 0o600,
  });
  chmodSync(tokensFile, 0o600);
  // A summary or report left by an earlier run must not pass for this run's.
  rmSync(summaryFile, { force: true });
  rmSync(reportFile, { force: true });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OUTPUTS_FILE: outputsFile,
    TOKENS_FILE: tokensFile,
    SUMMARY_FILE: summaryFile,
    PROFILE: options.profile ?? "smoke",
    K6_WEB_DASHBOARD: "true",
    K6_WEB_DASHBOARD_HOST: "127.0.0.1",
    K6_WEB_DASHBOARD_PORT: String(options.dashboardPort ?? -1),
    K6_WEB_DASHBOARD_EXPORT: reportFile,
    // k6 skips the report when it has fewer than a few snapshots; a short period keeps smoke runs reported.
    K6_WEB_DASHBOARD_PERIOD: "2s",
    K6_NO_USAGE_REPORT: "true",
  };
  for (const [name, value] of [
    ["RATE", options.rate],
    ["VUS", options.vus],
    ["DURATION", options.duration],
    ["ITERATIONS", options.iterations],
    ["P95_MS", options.p95Ms],
    ["P99_MS", options.p99Ms],
  ] as const) {
    if (value === undefined) delete env[name];
    else env[name] = String(value);
  }

  const capture = options.output === "capture";
  // Progress lines are for a terminal; into a file or a pipe they are noise.
  const quiet = capture || !process.stdout.isTTY ? ["--quiet"] : [];
  const { exitCode, stdout, stderr } = await runK6(k6, ["run", ...quiet, SCRIPT], env, capture);
  const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, "utf8")) as LoadSummary) : undefined;
  return {
    exitCode,
    summary,
    summaryFile,
    reportFile: existsSync(reportFile) ? reportFile : undefined,
    tokensFile,
    stdout,
    stderr,
  };
}

export interface FaultLoadRunOptions {
  plan: FaultLoadPlan;
  /** Outputs listing only the POPs clients may enter; defaults to `<state>/outputs.json`. */
  outputsFile?: string;
  stateDir?: string;
  /** Where the deploy keeps its signing keys; defaults to EDGE_STATE_DIR or `<repo>/.edge`. */
  keysDir?: string;
  /** Prefix of the files written to the state dir: `<name>-summary.json`, `<name>-failures.log`. */
  name?: string;
  k6Bin?: string;
  output?: "inherit" | "capture";
}

export interface FaultLoadRunResult {
  exitCode: number;
  summary: FaultLoadSummary | undefined;
  summaryFile: string;
  /** k6's console output: one line per request that was not ok (lib/fault-log.ts). */
  failureLogFile: string;
  failures: FaultLogEntry[];
  stdout: string;
  stderr: string;
}

/** Runs load/fault-load.ts with the plan; resolves when k6 exits. */
export async function runFaultLoad(options: FaultLoadRunOptions): Promise<FaultLoadRunResult> {
  const stateDir = resolve(options.stateDir ?? defaultStateDir());
  const outputsFile = resolve(options.outputsFile ?? join(stateDir, "outputs.json"));
  const name = options.name ?? "k6-fault";
  const tokensFile = join(stateDir, "k6-tokens.json");
  const summaryFile = join(stateDir, `${name}-summary.json`);
  const failureLogFile = join(stateDir, `${name}-failures.log`);
  const outputs = readDeployOutputs(outputsFile);
  mkdirSync(stateDir, { recursive: true });
  const tokens = mintRegionTokens(outputs, resolve(options.keysDir ?? defaultStateDir()), 6 * 3600);
  writeFileSync(tokensFile, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tokensFile, 0o600);
  rmSync(summaryFile, { force: true });
  rmSync(failureLogFile, { force: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OUTPUTS_FILE: outputsFile,
    TOKENS_FILE: tokensFile,
    SUMMARY_FILE: summaryFile,
    FAULT_PLAN: JSON.stringify(options.plan),
    K6_NO_USAGE_REPORT: "true",
    // k6 (Go) trusts the roots in SSL_CERT_FILE: the deploy's public CA, for https entries.
    ...(options.plan.https ? { SSL_CERT_FILE: outputs.ca } : {}),
  };
  const { exitCode, stdout, stderr } = await runK6(
    options.k6Bin ?? toolPath("k6"),
    ["run", "--quiet", `--console-output=${failureLogFile}`, FAULT_SCRIPT],
    env,
    options.output === "capture",
  );
  const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, "utf8")) as FaultLoadSummary) : undefined;
  const failures = existsSync(failureLogFile) ? parseFaultLog(readFileSync(failureLogFile, "utf8")) : [];
  return { exitCode, summary, summaryFile, failureLogFile, failures, stdout, stderr };
}

function positive(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${flag} ${raw} is invalid; expected a positive integer`);
  return value;
}

const USAGE =
  "usage: npm run load -- [--smoke | --profile smoke|load] [--rate N] [--vus N] [--duration 2m] [--iterations N] [--dashboard] [--outputs FILE]";

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        smoke: { type: "boolean" },
        profile: { type: "string" },
        rate: { type: "string" },
        vus: { type: "string" },
        duration: { type: "string" },
        iterations: { type: "string" },
        dashboard: { type: "boolean" },
        outputs: { type: "string" },
      },
      strict: true,
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; ${USAGE}`);
  }
}

async function main(): Promise<number> {
  const { values } = parseCommandLine();
  const profile = values.smoke ? "smoke" : values.profile ?? "load";
  if (profile !== "smoke" && profile !== "load")
    throw new Error(`--profile ${profile} is invalid; expected smoke or load`);
  const result = await runLoad({
    profile,
    rate: positive("rate", values.rate),
    vus: positive("vus", values.vus),
    duration: values.duration,
    iterations: positive("iterations", values.iterations),
    outputsFile: values.outputs,
    dashboardPort: values.dashboard ? 5665 : -1,
  });
  process.stdout.write(
    `route matrix: ${result.summary ? result.summaryFile : "not written (k6 failed before the end of the test)"}\n`,
  );
  if (result.reportFile) process.stdout.write(`report: ${result.reportFile}\n`);
  return result.exitCode;
}

if (isEntryPoint(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`load: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
