// Cross-region routing under load. Requests arrive at a fixed rate (an open model, lib/profiles.ts);
// each is the next of the sweep: through every POP, one request per region's user (JWT) and per tenant
// (Host header) on every app prefix. Each is checked: the owner region's datacenter answered, with one
// sideways hop exactly when the request entered a region other than its owner.
//
// Inputs (paths relative to this file unless absolute; `npm run load` passes absolute ones):
//   OUTPUTS_FILE  deploy outputs, default ../.edge/outputs.json
//   TOKENS_FILE   {"<region>": "<jwt of a user of that region>"}, default ../.edge/k6-tokens.json
//   SUMMARY_FILE  summary JSON written at the end, relative to the working directory,
//                 default .edge/k6-summary.json
//   PROFILE, RATE, VUS, DURATION, ITERATIONS, P95_MS, P99_MS: see lib/profiles.ts

import { formatLatencyMatrix, latencyCellThresholds, latencyMatrixFromMetrics } from "./lib/latency-matrix.ts";
import http from "k6/http";
import exec from "k6/execution";
import { check, fail } from "k6";
import { Counter } from "k6/metrics";
import { loadProfile } from "./lib/profiles.ts";
import { popsNotReady } from "./lib/pop-readiness.ts";
import { requestMix } from "./lib/fault-plan.ts";
import { appReply, classifyResponse, expectedHops, header, parseRoute } from "./lib/edge-response.ts";
import {
  cellIssuesFromMetrics,
  cellReportThresholds,
  formatRouteMatrix,
  MISROUTE_COUNTER,
  misrouteThresholds,
  misroutesByOwner,
  requestsByEntryPop,
  ROUTE_COUNTER,
  ROUTE_ERROR_COUNTER,
  routeCellThresholds,
  routeMatrixFromMetrics,
  type RouteCell,
} from "./lib/route-matrix.ts";
import type { DeployOutputs } from "../infra/deploy-outputs.ts";

const outputsFile = __ENV.OUTPUTS_FILE || "../.edge/outputs.json";
const tokensFile = __ENV.TOKENS_FILE || "../.edge/k6-tokens.json";
const summaryFile = __ENV.SUMMARY_FILE || ".edge/k6-summary.json";

const outputs = JSON.parse(open(outputsFile)) as DeployOutputs;
const tokens = JSON.parse(open(tokensFile)) as Record<string, string>;
const regions = outputs.regions;
if (!Array.isArray(outputs.pops) || outputs.pops.length === 0) {
  throw new Error(`${outputsFile} lists no POPs; expected the outputs of \`npm run deploy\``);
}
const untokened = regions.filter((region) => typeof tokens[region] !== "string");
if (untokened.length > 0) {
  throw new Error(`${tokensFile} has no token for ${untokened.join(", ")}; expected one JWT per region`);
}

// Every (entry POP, app, owner) once per sweep, as the fault load takes it (lib/fault-plan.ts).
const sweep = requestMix(outputs, false);
const profile = loadProfile(__ENV, sweep.length);
const popIds = outputs.pops.map((p) => p.id);

const durationThresholds: Record<string, string[]> = {};
for (const region of regions)
  durationThresholds[`http_req_duration{entry_region:${region}}`] = [`p(95)<${profile.p95Ms}`, `p(99)<${profile.p99Ms}`];

export const options = {
  scenarios: { cross_region: profile.scenario },
  thresholds: {
    http_req_failed: ["rate<0.01"],
    checks: ["rate>0.99"],
    ...durationThresholds,
    ...routeCellThresholds(regions),
    ...misrouteThresholds(regions),
    ...cellReportThresholds(regions, popIds),
    ...latencyCellThresholds(regions),
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const routeRequests = new Counter(ROUTE_COUNTER);
const misroutes = new Counter(MISROUTE_COUNTER);
const routeErrors = new Counter(ROUTE_ERROR_COUNTER);

// Setup probes must not count as failed requests: any HTTP answer proves the listener is up.
const anyAnswer = http.expectedStatuses({ min: 100, max: 599 });

export function setup(): void {
  const probe = { timeout: "3s", responseCallback: anyAnswer, tags: { phase: "setup" } };
  const down = popsNotReady(outputs.pops, (url) => http.get(url, probe));
  if (down.length > 0) fail(`${down.join("; ")}; run \`npm run deploy\` or check the POP containers`);
}

export default function request(): void {
  const next = sweep[exec.scenario.iterationInTest % sweep.length]!;
  const headers: Record<string, string> =
    next.source === "jwt" ? { authorization: `Bearer ${tokens[next.userRegion!]}` } : { host: next.host! };
  const tags = { entry_region: next.entryRegion, owner_region: next.ownerRegion, source: next.source };
  // Text bodies (k6's default response type), which the classification parses.
  const response = http.get(next.url, { headers, responseType: "text", tags: { ...tags, app: next.app } });
  const reply = appReply(response);
  const route = parseRoute(header(response, "x-edge-route"));
  const hops = expectedHops(next);
  const { outcome, servingRegion } = classifyResponse(next, response, regions);
  check(
    response,
    {
      "status is 200": () => response.status === 200,
      "served by the owner region": () => servingRegion === next.ownerRegion,
      "x-edge-route names the owner region": () => route.owner === next.ownerRegion,
      "x-edge-route hops: 1 when entering a non-owner region, else 0": () => route.hops === String(hops),
      "app saw the same hops": () => reply?.hops === hops,
    },
    tags,
  );
  routeRequests.add(1, { ...tags, serving_region: servingRegion, entry_pop: next.entryPop });
  // Added for every request so the per-owner and per-cell sub-metrics exist (and report 0) in every run.
  misroutes.add(outcome === "misroute" ? 1 : 0, tags);
  routeErrors.add(outcome === "error" ? 1 : 0, tags);
}

interface SummaryData {
  metrics: Record<
    string,
    { type?: string; values?: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }
  >;
  root_group?: { checks?: { name: string; passes: number; fails: number }[] };
  state?: { testRunDurationMs?: number };
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const routeMatrix: RouteCell[] = routeMatrixFromMetrics(data.metrics, regions);
  const failedThresholds: string[] = [];
  for (const [metric, entry] of Object.entries(data.metrics)) {
    for (const [threshold, result] of Object.entries(entry.thresholds ?? {})) {
      if (!result.ok) failedThresholds.push(`${metric}: ${threshold}`);
    }
  }
  const checks = (data.root_group?.checks ?? []).map(({ name, passes, fails }) => ({ name, passes, fails }));
  const latency: Record<string, Record<string, number> | undefined> = {};
  for (const region of regions) latency[region] = data.metrics[`http_req_duration{entry_region:${region}}`]?.values;

  const requests = data.metrics[ROUTE_COUNTER]?.values?.count ?? 0;
  const summary = {
    profile: profile.name,
    regions,
    // Sweep requests only; the setup probes are not part of the matrix.
    requests,
    ratePerSecond: profile.ratePerSecond ?? null,
    achievedRatePerSecond: data.state?.testRunDurationMs ? requests / (data.state.testRunDurationMs / 1000) : 0,
    droppedIterations: data.metrics.dropped_iterations?.values?.count ?? 0,
    failedRate: data.metrics.http_req_failed?.values?.rate ?? 0,
    checks,
    latencyByEntryRegion: latency,
    failedThresholds,
    routeMatrix,
    latencyMatrix: latencyMatrixFromMetrics(data.metrics, regions),
    cellIssues: cellIssuesFromMetrics(data.metrics, regions),
    requestsByEntryPop: requestsByEntryPop(data.metrics, popIds),
    misroutes: data.metrics[MISROUTE_COUNTER]?.values?.count ?? 0,
    misroutesByOwnerRegion: misroutesByOwner(data.metrics, regions),
    errors: data.metrics[ROUTE_ERROR_COUNTER]?.values?.count ?? 0,
    testRunDurationMs: data.state?.testRunDurationMs ?? 0,
  };

  const popRegions = Object.fromEntries(outputs.pops.map((p) => [p.id, p.region]));
  const offered = profile.ratePerSecond === undefined ? `${__ENV.ITERATIONS} sweep(s)` : `${profile.ratePerSecond}/s`;
  const lines = [
    "",
    formatRouteMatrix(routeMatrix, regions, { issues: summary.cellIssues, latencyByEntryRegion: latency, requestsByEntryPop: summary.requestsByEntryPop, popRegions }),
    "",
    formatLatencyMatrix(summary.latencyMatrix, regions),
    "",
    ...checks.map((c) => `${c.fails === 0 ? "ok  " : "FAIL"} ${c.name}: ${c.passes} passed, ${c.fails} failed`),
    `latency limits per entry region: p95 < ${profile.p95Ms} ms, p99 < ${profile.p99Ms} ms`,
    `requests: ${requests} at ${offered} (achieved ${summary.achievedRatePerSecond.toFixed(1)}/s, dropped ${summary.droppedIterations}), failed: ${(summary.failedRate * 100).toFixed(2)}%, errors: ${summary.errors}, misroutes: ${summary.misroutes}`,
    failedThresholds.length === 0 ? "thresholds: all passed" : `thresholds failed: ${failedThresholds.join("; ")}`,
    `summary: ${summaryFile}`,
    "",
  ];
  return { [summaryFile]: `${JSON.stringify(summary, null, 2)}\n`, stdout: lines.join("\n") };
}
