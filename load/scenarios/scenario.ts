// What every fault scenario shares: its typed result row, the restore stack that undoes a fault
// on any exit, Docker actions, and the timeline (clean load, fault, optional restore, k6 ends).
import { enginesOf, onEngine } from "../../infra/commands/engines.ts";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../scripts/toolchain/commands.ts";
import type { Topology } from "../../infra/topology/model.ts";
import { listContainers } from "../../infra/topology/inventory.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";
import { waitHealthy } from "../../infra/commands/docker-objects.ts";
import { checkRouting } from "../../infra/commands/routing-check.ts";
import { runFaultLoad, type FaultLoadRunResult } from "../run.ts";
import type { FaultLoadPlan } from "../lib/fault-plan.ts";
import type { OwnerResult } from "../lib/fault-summary.ts";
import { loadStartedAt } from "../lib/fault-log.ts";
import { waitAllPeersHealthy } from "../../infra/commands/peer-rotation.ts";

export const SCENARIO_NAMES = [
  "pop-loss", "discovery-loss", "datacenter-loss", "recovery", "residency", "vm-failure", "cert-rotation", "jwks-rotation", "rolling-update",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
export type ScenarioForm = "full" | "quick";

/** Requests per second of every scenario's fault load. */
export const FAULT_LOAD_RATE = 150;
/** Error-rate target for traffic a fault should not reach: under 0.1%. */
export const MAX_ERROR_RATE = 0.001;

/** A number a scenario measured beside its k6 thresholds, with the target it is held to. */
export interface Measurement {
  name: string;
  /** null when the event was not seen before the poll gave up. */
  value: number | null;
  unit: "s" | "ms" | "count";
  /** Largest passing value; undefined when the number is reported, not asserted. */
  max?: number;
  /** Smallest passing value. */
  min?: number;
}

/** One scenario's outcome: the rows of docs/reliability.md and whether every target held. */
export interface ScenarioResult {
  scenario: ScenarioName;
  form: ScenarioForm;
  /** The fault, as the Docker commands that caused it. */
  fault: string;
  passed: boolean;
  /** One line per missed target (failed k6 threshold or measurement over its max). */
  missed: string[];
  ratePerSecond: number;
  achievedRatePerSecond: number;
  droppedIterations: number;
  byOwner: OwnerResult[];
  measurements: Measurement[];
  /** Epoch ms on the load generator's clock: fault injected, restored in the run (if it was). */
  injectedAtMs?: number;
  restoredAtMs?: number;
  summaryFile: string;
  failureLogFile: string;
}

export interface ScenarioContext {
  topology: Topology;
  outputs: DeployOutputs;
  form: ScenarioForm;
  stateDir: string;
  restores: RestoreStack;
  /** Region the fault hits; the topology's first region unless chosen. */
  region: string;
  /** Whether `region` was chosen (--region); a scenario may otherwise pick the region it needs. */
  regionChosen: boolean;
  output: "inherit" | "capture";
}

export interface Scenario {
  name: ScenarioName;
  /** One line: the fault and the target. */
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/**
 * Undo actions of the faults in force, run last-in first-out. They are synchronous so a signal
 * handler can run them before the process exits; each runs once.
 */
export class RestoreStack {
  private readonly actions: { what: string; undo: () => void }[] = [];

  push(what: string, undo: () => void): void {
    this.actions.push({ what, undo });
  }

  get pending(): string[] {
    return this.actions.map((a) => a.what);
  }

  /** Runs every pending action; returns the ones that threw, with their error. */
  runAll(): string[] {
    const failed: string[] = [];
    for (let action = this.actions.pop(); action; action = this.actions.pop()) {
      try {
        action.undo();
      } catch (e) {
        failed.push(`${action.what}: ${(e as Error).message}`);
      }
    }
    return failed;
  }
}

/** A Docker command that must succeed on one engine (the local one by default), synchronous (restores and signal handlers use it). */
export function docker(args: string[], host?: string): string {
  const r = run("docker", onEngine(host, args));
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** The same, without blocking the event loop, for faults injected while k6 and pollers run. */
export { dockerAsync } from "../../infra/commands/docker-objects.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Outputs listing only the POPs clients may enter, written for the fault load. */
export function entryOutputsFile(ctx: ScenarioContext, name: string, excludePopIds: string[] = []): string {
  const file = join(ctx.stateDir, `outputs-${name}.json`);
  mkdirSync(ctx.stateDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...ctx.outputs, pops: ctx.outputs.pops.filter((p) => !excludePopIds.includes(p.id)) }, null, 2)}\n`);
  return file;
}

/** Waits until the fault load's setup finished (its start line is in the console output) and returns when. */
async function loadStarted(logFile: string, load: Promise<unknown>, timeoutMs: number): Promise<number> {
  let done = false;
  void load.finally(() => (done = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !done) {
    if (existsSync(logFile)) {
      const at = loadStartedAt(readFileSync(logFile, "utf8"));
      if (at !== undefined) return at;
    }
    await sleep(100);
  }
  throw new Error(done ? "the fault load ended before it started sending (see its output)" : `the fault load did not start within ${timeoutMs} ms`);
}

export interface Timeline {
  /** Clean load before the fault. */
  leadSeconds: number;
  /** How long the fault lasts inside the run. */
  faultSeconds: number;
  /** Load after an in-run restore; 0 when the fault lasts until k6 ends. */
  tailSeconds: number;
}

export interface FaultRun {
  load: FaultLoadRunResult;
  /** Epoch ms at which the fault was injected (before its Docker command ran). */
  injectedAtMs: number;
  /** Epoch ms at which the in-run restore's Docker command returned. */
  restoredAtMs?: number;
}

/** What a scenario does to the edge while the fault load runs. */
export interface Fault {
  /** Injects the fault `leadSeconds` after k6 starts sending; pushes its own undo onto `ctx.restores` first. */
  inject(): Promise<void>;
  /** Undoes the fault during the run, `faultSeconds` after the injection (recovery). */
  restoreInRun?(): Promise<void>;
  /** Runs beside the load from the injection on (e.g. a poller). */
  during?(injectedAtMs: number): Promise<void>;
  /** Reads what only the faulted state shows, after the load and before the fault is undone. */
  beforeRestore?(): void;
}

/**
 * Runs the fault load for lead + fault + tail seconds around `fault`, then undoes every fault of
 * the scenario and waits until the edge is healthy and routing again, the next scenario's baseline.
 */
export async function runWithFault(
  ctx: ScenarioContext,
  name: ScenarioName,
  plan: Omit<FaultLoadPlan, "ratePerSecond" | "duration">,
  entryOutputs: string,
  timeline: Timeline,
  fault: Fault,
): Promise<FaultRun> {
  const duration = `${timeline.leadSeconds + timeline.faultSeconds + timeline.tailSeconds}s`;
  const load = runFaultLoad({
    plan: { ...plan, ratePerSecond: FAULT_LOAD_RATE, duration },
    outputsFile: entryOutputs,
    stateDir: ctx.stateDir,
    name: `scenario-${name}`,
    output: ctx.output,
  });
  const logFile = join(ctx.stateDir, `scenario-${name}-failures.log`);
  const started = await loadStarted(logFile, load, 60_000);
  await sleep(Math.max(0, started + timeline.leadSeconds * 1000 - Date.now()));
  const injectedAtMs = Date.now();
  await fault.inject();
  const beside = fault.during?.(injectedAtMs);
  let restoredAtMs: number | undefined;
  if (fault.restoreInRun) {
    await sleep(Math.max(0, injectedAtMs + timeline.faultSeconds * 1000 - Date.now()));
    await fault.restoreInRun();
    restoredAtMs = Date.now();
  }
  const result = await load;
  await beside;
  fault.beforeRestore?.();
  ctx.restores.runAll();
  await waitEdgeHealthy(ctx);
  return { load: result, injectedAtMs, restoredAtMs };
}

/** After a restore: every container healthy again and every POP routing every tenant to its owner. */
async function waitEdgeHealthy(ctx: ScenarioContext): Promise<void> {
  const engines = enginesOf(ctx.topology).map((e) => e.host);
  const unhealthy = await waitHealthy(ctx.topology.project, listContainers(ctx.topology).map((c) => c.name), 120_000, engines);
  if (unhealthy.length > 0) throw new Error(`not healthy after the restore: ${unhealthy.map((c) => `${c.name} (${c.state}, ${c.health})`).join(", ")}`);
  const misrouted = await checkRouting(ctx.topology, ctx.outputs.pops, ctx.outputs.ca, 60_000);
  if (misrouted.length > 0) throw new Error(`routing not restored: ${misrouted.slice(0, 3).join("; ")}`);
  // The next scenario's baseline: every peer has every POP back in rotation.
  const lagging = await waitAllPeersHealthy(ctx.outputs.pops, 60_000);
  if (lagging.length > 0) throw new Error(`peers did not put every POP back in rotation: ${lagging.slice(0, 3).join("; ")}`);
}

/** The result row: k6's failed thresholds and the measurements over their max are the missed targets. */
export function scenarioResult(
  ctx: ScenarioContext,
  name: ScenarioName,
  fault: string,
  run: FaultRun,
  measurements: Measurement[] = [],
): ScenarioResult {
  const { load } = run;
  const summary = load.summary;
  const missed: string[] = [];
  if (!summary) missed.push(`k6 wrote no summary (exit ${load.exitCode}): ${load.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  else {
    missed.push(...summary.failedThresholds.map((t) => `threshold ${t}`));
    if (load.exitCode !== 0 && summary.failedThresholds.length === 0) missed.push(`k6 exited ${load.exitCode}`);
  }
  for (const m of measurements) {
    if (m.max === undefined && m.min === undefined) continue;
    if (m.value === null) missed.push(`${m.name}: not seen`);
    else if (m.max !== undefined && m.value > m.max) missed.push(`${m.name}: ${m.value.toFixed(2)} ${m.unit} > ${m.max} ${m.unit}`);
    else if (m.min !== undefined && m.value < m.min) missed.push(`${m.name}: ${m.value} ${m.unit} < ${m.min} ${m.unit}`);
  }
  return {
    scenario: name,
    form: ctx.form,
    fault,
    passed: missed.length === 0,
    missed,
    ratePerSecond: summary?.ratePerSecond ?? FAULT_LOAD_RATE,
    achievedRatePerSecond: summary?.achievedRatePerSecond ?? 0,
    droppedIterations: summary?.droppedIterations ?? 0,
    byOwner: summary?.byOwner ?? [],
    measurements,
    injectedAtMs: run.injectedAtMs,
    restoredAtMs: run.restoredAtMs,
    summaryFile: load.summaryFile,
    failureLogFile: load.failureLogFile,
  };
}

/** Other regions of the topology than `region`. */
export function otherRegions(ctx: ScenarioContext): string[] {
  return ctx.topology.regions.map((r) => r.name).filter((r) => r !== ctx.region);
}

export function regionOf(ctx: ScenarioContext) {
  const region = ctx.topology.regions.find((r) => r.name === ctx.region);
  if (!region) throw new Error(`region ${ctx.region} is not in the topology; choose from ${ctx.topology.regions.map((r) => r.name).join(", ")}`);
  return region;
}
