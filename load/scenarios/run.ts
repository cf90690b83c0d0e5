// npm run scenarios [-- --quick] [--only NAME ...] [--region NAME] [--fresh] [--keep]
// Deploys (or reuses a running deploy), runs each fault scenario under the k6 fault load, and
// restores every fault on any exit: after each scenario, on an error, and on SIGINT/SIGTERM.
// A deploy made here is destroyed at the end unless --keep; a reused one is left running.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot, stateDir as defaultStateDir } from "../../scripts/toolchain/paths.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { loadTopology, topologyPath } from "../../infra/topology/load.ts";
import type { Topology } from "../../infra/topology/model.ts";
import { listContainers } from "../../infra/topology/inventory.ts";
import { popId } from "../../infra/topology/names.ts";
import { deploy } from "../../infra/commands/deploy.ts";
import { destroy } from "../../infra/commands/destroy.ts";
import { containerHealth, unhealthyContainers } from "../../infra/commands/docker-objects.ts";
import { outputsPath } from "../../infra/commands/outputs.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";
import { checkRouting } from "../../infra/commands/routing-check.ts";
import { readDeployOutputs } from "../run.ts";
import { RestoreStack, SCENARIO_NAMES, type Scenario, type ScenarioForm, type ScenarioName, type ScenarioResult } from "./scenario.ts";
import { popLoss } from "./pop-loss/scenario.ts";
import { discoveryLoss } from "./discovery-loss/scenario.ts";
import { datacenterLoss } from "./datacenter-loss/scenario.ts";
import { recovery } from "./recovery/scenario.ts";
import { vmFailure } from "./vm-failure/scenario.ts";
import { residency } from "./residency/scenario.ts";
import { certRotation } from "./cert-rotation/scenario.ts";
import { jwksRotation } from "./jwks-rotation/scenario.ts";
import { rollingUpdate } from "./rolling-update/scenario.ts";
import { formatReliabilityTable, replaceGeneratedSection } from "./reliability-table.ts";

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  "pop-loss": popLoss,
  "discovery-loss": discoveryLoss,
  "datacenter-loss": datacenterLoss,
  recovery,
  residency,
  "vm-failure": vmFailure,
  "cert-rotation": certRotation,
  "jwks-rotation": jwksRotation,
  "rolling-update": rollingUpdate,
};

export const RELIABILITY_DOC = join(repoRoot, "docs/reliability.md");

/**
 * The outputs of the deploy that is running now, or undefined: `.edge/outputs.json` names exactly
 * the topology's POPs, every container of the topology runs and is healthy, and every POP routes
 * every tenant to its owner.
 */
export async function runningDeploy(topology: Topology): Promise<DeployOutputs | undefined> {
  if (!existsSync(outputsPath())) return undefined;
  let outputs: DeployOutputs;
  try {
    outputs = readDeployOutputs(outputsPath());
  } catch {
    return undefined;
  }
  const wanted = topology.regions.flatMap((r) => r.pops.map((p) => popId(r.name, p.name))).sort();
  if (outputs.project !== topology.project || JSON.stringify(outputs.pops.map((p) => p.id).sort()) !== JSON.stringify(wanted)) return undefined;
  if (unhealthyContainers(containerHealth(topology.project), listContainers(topology).map((c) => c.name)).length > 0) return undefined;
  return (await checkRouting(topology, outputs.pops, outputs.ca, 3000)).length === 0 ? outputs : undefined;
}

export interface ScenarioRunOptions {
  names?: ScenarioName[];
  form?: ScenarioForm;
  /** Region the faults hit; the topology's first region by default. */
  region?: string;
  /** Deploy even when a running deploy could be reused. */
  fresh?: boolean;
  /** Leave a deploy made here running. */
  keep?: boolean;
  skipSetup?: boolean;
  output?: "inherit" | "capture";
  /** Restores of the scenario in progress, for a signal handler to run. */
  restores?: RestoreStack;
  /** Once aborted, no further scenario starts. */
  abort?: AbortSignal;
}

export interface ScenarioRun {
  results: ScenarioResult[];
  deployedHere: boolean;
}

/** Runs one scenario; its faults are undone when it returns or throws. A throw becomes a failed row. */
export async function runScenario(scenario: Scenario, ctx: Omit<Parameters<Scenario["run"]>[0], "restores">, restores = new RestoreStack()): Promise<ScenarioResult> {
  try {
    return await scenario.run({ ...ctx, restores });
  } catch (e) {
    return {
      scenario: scenario.name,
      form: ctx.form,
      fault: "-",
      passed: false,
      missed: [`scenario failed: ${(e as Error).message}`],
      ratePerSecond: 0,
      achievedRatePerSecond: 0,
      droppedIterations: 0,
      byOwner: [],
      measurements: [],
      summaryFile: "",
      failureLogFile: "",
    };
  } finally {
    const failed = restores.runAll();
    if (failed.length > 0) console.error(`scenarios: restoring after ${scenario.name} failed: ${failed.join("; ")}`);
  }
}

export async function runScenarios(options: ScenarioRunOptions = {}): Promise<ScenarioRun> {
  const topology = loadTopology(topologyPath());
  const region = options.region ?? topology.regions[0]!.name;
  if (!topology.regions.some((r) => r.name === region)) throw new Error(`--region ${region} is not in the topology; choose from ${topology.regions.map((r) => r.name).join(", ")}`);
  let outputs = options.fresh ? undefined : await runningDeploy(topology);
  const deployedHere = outputs === undefined;
  if (outputs) console.log(`scenarios: reusing the running deploy (${outputs.pops.length} POPs)`);
  const results: ScenarioResult[] = [];
  try {
    outputs ??= await deploy({ skipSetup: options.skipSetup, quiet: true });
    for (const name of options.names ?? [...SCENARIO_NAMES]) {
      if (options.abort?.aborted) break;
      const scenario = SCENARIOS[name];
      console.log(`scenarios: ${name} (${options.form ?? "full"}): ${scenario.description}`);
      const result = await runScenario(
        scenario,
        { topology, outputs, form: options.form ?? "full", stateDir: join(defaultStateDir, "scenarios"), region, regionChosen: options.region !== undefined, output: options.output ?? "capture" },
        options.restores,
      );
      console.log(`scenarios: ${name}: ${result.passed ? "pass" : `FAIL (${result.missed.join("; ")})`}`);
      results.push(result);
    }
  } finally {
    if (deployedHere && !options.keep) await destroy({ quiet: true });
  }
  return { results, deployedHere };
}

const USAGE = `usage: npm run scenarios -- [--quick] [--only ${SCENARIO_NAMES.join("|")} ...] [--region NAME] [--fresh] [--keep]`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: "boolean" },
        only: { type: "string", multiple: true },
        region: { type: "string" },
        fresh: { type: "boolean" },
        keep: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (e) {
    throw new Error(`${(e as Error).message}; ${USAGE}`);
  }
  const unknown = (values.only ?? []).filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}; ${USAGE}`);
  const names = values.only?.length ? (values.only as ScenarioName[]) : [...SCENARIO_NAMES];
  const form: ScenarioForm = values.quick ? "quick" : "full";

  const restores = new RestoreStack();
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted.abort();
    // k6 receives the signal too (load/run.ts passes it on); the fault must not outlive this process.
    const failed = restores.runAll();
    console.error(`scenarios: ${signal}: faults restored${failed.length ? `, except ${failed.join("; ")}` : ""}`);
    process.exitCode = 130;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const { results } = await runScenarios({ names, form, region: values.region, fresh: values.fresh, keep: values.keep, restores, abort: interrupted.signal, output: "capture" });

  const command = `npm run scenarios${values.quick ? " -- --quick" : ""}${values.only?.length ? `${values.quick ? "" : " --"} ${values.only.map((n) => `--only ${n}`).join(" ")}` : ""}`;
  const table = formatReliabilityTable(results, { cpus: cpus().length, memoryGiB: totalmem() / 2 ** 30 }, command, new Date().toISOString().slice(0, 10));
  console.log(`\n${table}\n`);
  // Every run of all scenarios is recorded, missed targets included (the table says pass or FAIL and its form).
  if (names.length === SCENARIO_NAMES.length && process.exitCode !== 130) {
    writeFileSync(RELIABILITY_DOC, replaceGeneratedSection(readFileSync(RELIABILITY_DOC, "utf8"), table));
    console.log(`scenarios: wrote ${RELIABILITY_DOC}`);
  }
  const failed = results.filter((r) => !r.passed).map((r) => r.scenario);
  console.log(failed.length === 0 ? "scenarios: every target held" : `scenarios: targets missed in ${failed.join(", ")}`);
  return process.exitCode === 130 ? 130 : failed.length === 0 ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`scenarios: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(2);
    },
  );
}
