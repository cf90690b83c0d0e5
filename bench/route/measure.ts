// One arm from start to stop: its POP Envoy pinned to PROXY_CPUS with one worker, routing verified,
// then a closed-loop search for the highest rate with p99 under the limit, then an open-loop window
// at the rate every arm shares, then the proxy's resident memory.
import { join } from "node:path";
import { residentBytes, filterStats } from "../envoy-memory.ts";
import type { Arm, BenchRequest } from "./arms.ts";
import { publicFilterNames } from "./bootstrap-edits.ts";
import { startEnvoy, type BenchEnvoy } from "./envoy-process.ts";
import { runOpenLoop, writeOpenLoopRequests, type OpenLoopWindow } from "./openloop.ts";
import { CLIENT_CPUS, PROXY_CPUS, type BenchSession, type MeasuredPop } from "./session.ts";
import { verifyRouting, send, type CaseResult } from "./verify.ts";
import { runWrkWindow, writeWrkRequests, type ClosedLoopWindow } from "./wrk.ts";

export const P99_LIMIT_MS = 5;

export interface Plan {
  quick: boolean;
  /** Connection counts the closed-loop search tries in order (it stops after two in a row over the p99 limit). */
  searchConnections: number[];
  searchSeconds: number;
  openLoopSeconds: number;
  openLoopConnections: number;
}

export const FULL_PLAN: Plan = { quick: false, searchConnections: [1, 2, 4, 8, 16, 32, 64, 128, 256], searchSeconds: 3, openLoopSeconds: 10, openLoopConnections: 64 };
export const QUICK_PLAN: Plan = { quick: true, searchConnections: [8], searchSeconds: 1, openLoopSeconds: 0.5, openLoopConnections: 16 };

export interface ArmResult {
  id: string;
  title: string;
  description: string;
  /** HTTP filters of the public listener, in order. */
  filters: string[];
  cases: CaseResult[];
  search: ClosedLoopWindow[];
  /** The search window with the most requests per second among those with p99 under the limit. */
  best: ClosedLoopWindow | null;
  openLoop: OpenLoopWindow | null;
  /** Proxy CPU (user + system, all threads) per completed request in the open-loop window. */
  cpuUsPerRequest: number | null;
  /** The same in the best search window (the proxy near saturation). */
  cpuUsPerRequestAtMax: number | null;
  /** Share of the client core busy (client + upstream) in the best search window. */
  clientCoreBusyAtMax: number | null;
  rssBytes: number;
  /** Region-router counters at the end (names after `edge_router.`), empty without the filter. */
  routerStats: Record<string, number>;
  /** Errors while timed (non-2xx answers, requests without one): the arm's numbers are not valid. */
  problems: string[];
  /** How to read the numbers (no window under the p99 limit, open-loop rate above the maximum). */
  notes: string[];
}

export interface ArmRun {
  /** The open-loop rate, given the arm's best search window (arm A sets the rate every arm shares). */
  rateFor(best: ClosedLoopWindow | null): number;
  plan: Plan;
  log(line: string): void;
}

async function startPop(session: BenchSession, arm: Arm, pop: MeasuredPop, concurrency: number, cpus: string | null): Promise<BenchEnvoy> {
  return startEnvoy({
    name: `pop-${arm.id}`,
    bootstrap: arm.bootstrap(pop.bootstrap, session.context),
    dir: session.dir,
    adminUrl: pop.adminUrl,
    concurrency,
    cpus,
    waitHealthy: true,
  });
}

/** Starts `arm`'s POP and verifies its routing; the caller stops the returned Envoy. */
export async function startVerifiedArm(session: BenchSession, arm: Arm, concurrency = 1, cpus: string | null = PROXY_CPUS) {
  const pop = await session.generatePop();
  const envoy = await startPop(session, arm, pop, concurrency, cpus);
  try {
    const cases = await verifyRouting(arm.id, pop.url, arm.cases(session.context));
    for (const request of arm.warmup?.(session.context) ?? []) await send(pop.url, request);
    return { pop, envoy, cases };
  } catch (error) {
    await envoy.stop();
    throw error;
  }
}

function windowProblems(what: string, statusErrors: number, socketErrors: number): string[] {
  const problems: string[] = [];
  if (statusErrors > 0) problems.push(`${what}: ${statusErrors} response(s) with a status above 399`);
  if (socketErrors > 0) problems.push(`${what}: ${socketErrors} request(s) without a response`);
  return problems;
}

async function search(url: string, file: string, plan: Plan, pids: number[], log: (line: string) => void): Promise<ClosedLoopWindow[]> {
  const windows: ClosedLoopWindow[] = [];
  const run = async (connections: number) => {
    const window = await runWrkWindow({ url, requestFile: file, connections, seconds: plan.searchSeconds, cpus: CLIENT_CPUS, measuredPids: pids });
    log(`    ${String(connections).padStart(3)} connections: ${Math.round(window.rps).toLocaleString("en-US").padStart(7)} rps, p99 ${window.p99Ms.toFixed(2)} ms`);
    windows.push(window);
    return window;
  };
  // A single window over the limit can be a neighbour's burst on a shared machine: the search
  // ends after two in a row, then tries once between the best passing count and the next one up.
  let over = 0;
  for (const connections of plan.searchConnections) {
    const window = await run(connections);
    over = window.p99Ms >= P99_LIMIT_MS ? over + 1 : 0;
    if (over === 2) break;
  }
  // The first count over the limit, and the highest passing count below it.
  const above = windows.find((window) => window.p99Ms >= P99_LIMIT_MS && windows.some((other) => other.connections < window.connections && other.p99Ms < P99_LIMIT_MS));
  const below = above && windows.filter((window) => window.connections < above.connections && window.p99Ms < P99_LIMIT_MS).at(-1);
  const between = above && below ? Math.round(Math.sqrt(above.connections * below.connections)) : null;
  if (!plan.quick && between !== null && !windows.some((window) => window.connections === between)) await run(between);
  return windows;
}

export function bestWindow(windows: ClosedLoopWindow[]): ClosedLoopWindow | null {
  return windows.filter((window) => window.p99Ms < P99_LIMIT_MS).reduce<ClosedLoopWindow | null>((best, window) => (best === null || window.rps > best.rps ? window : best), null);
}

export async function runArm(session: BenchSession, arm: Arm, run: ArmRun): Promise<ArmResult> {
  const { pop, envoy, cases } = await startVerifiedArm(session, arm);
  try {
    run.log(`  ${arm.id}: routing verified (${cases.length} cases × ${cases[0]?.requests ?? 0} requests)`);
    const timed: BenchRequest[] = arm.timed(session.context);
    const wrkFile = writeWrkRequests(join(session.dir, `wrk-${arm.id}.tsv`), timed);
    const openLoopFile = writeOpenLoopRequests(join(session.dir, `openloop-${arm.id}.json`), timed);
    const upstreamPid = session.upstream.envoy.pid;
    const pids = [envoy.pid, upstreamPid];
    const windows = await search(pop.url, wrkFile, run.plan, pids, run.log);
    const best = bestWindow(windows);
    const rate = run.rateFor(best);
    const openLoop = await runOpenLoop({
      url: pop.url, requestFile: openLoopFile, rate, seconds: run.plan.openLoopSeconds, connections: run.plan.openLoopConnections,
      cpus: CLIENT_CPUS, measuredPids: pids,
    });
    run.log(`    open loop at ${rate.toLocaleString("en-US")} rps: p50 ${openLoop.p50Ms.toFixed(2)} ms, p99 ${openLoop.p99Ms.toFixed(2)} ms`);
    const problems = [
      ...windows.flatMap((window) => windowProblems(`search at ${window.connections} connections`, window.statusErrors, window.socketErrors)),
      ...windowProblems("open loop", [...openLoop.statuses].filter(([status]) => status > 399).reduce((sum, [, count]) => sum + count, 0), openLoop.failed),
    ];
    const notes: string[] = [];
    if (best === null) notes.push(`no search window had p99 under ${P99_LIMIT_MS} ms`);
    if (openLoop.unsent > 0) notes.push(`${openLoop.unsent} scheduled request(s) never sent: the proxy fell more than 2 s behind the offered rate`);
    if (best && rate > best.rps) notes.push(`the open-loop rate is above this arm's maximum (${Math.round(best.rps)} rps): its latency there is that of an overloaded proxy`);
    const stats = await filterStats(pop.adminUrl).catch(() => new Map<string, number>());
    const cpuPer = (seconds: number | undefined, requests: number) => (seconds === undefined || requests === 0 ? null : (seconds / requests) * 1e6);
    return {
      id: arm.id,
      title: arm.title,
      description: arm.description,
      filters: publicFilterNames(arm.bootstrap(pop.bootstrap, session.context)),
      cases,
      search: windows,
      best,
      openLoop,
      cpuUsPerRequest: cpuPer(openLoop.cpuSeconds.get(envoy.pid), openLoop.completed),
      cpuUsPerRequestAtMax: best ? cpuPer(best.cpuSeconds.get(envoy.pid), best.requests) : null,
      clientCoreBusyAtMax: best && best.clientCpuSeconds !== null ? (best.clientCpuSeconds + (best.cpuSeconds.get(upstreamPid) ?? 0)) / best.seconds : null,
      rssBytes: residentBytes(envoy.pid),
      routerStats: Object.fromEntries(stats),
      problems,
      notes,
    };
  } finally {
    await envoy.stop();
  }
}
