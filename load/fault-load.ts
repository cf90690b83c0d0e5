// Open-model load for fault scenarios: requests arrive at a fixed rate (k6 constant-arrival-rate)
// whatever the edge's latency, so a fault shows up as errors or latency, not as a slower client.
// Each request is the next (entry POP, app, owner region, source) of the round-robin mix in
// lib/fault-plan.ts, and is classified ok / misroute / expected-degraded / error
// (lib/edge-response.ts). Every request that is not ok is logged with its send time
// (lib/fault-log.ts) for the scenario to time the fault.
//
// Inputs:
//   OUTPUTS_FILE  deploy outputs listing only the POPs clients may enter (default ../.edge/outputs.json)
//   TOKENS_FILE   {"<region>": "<jwt>"} (default ../.edge/k6-tokens.json)
//   FAULT_PLAN    JSON FaultLoadPlan (rate, duration, expected replies and targets per owner region);
//                 default: RATE (150) requests/s for DURATION (30s), no target but 0 misroutes
//   SUMMARY_FILE  JSON summary written at the end (default .edge/k6-fault-summary.json)

import http from "k6/http";
import exec from "k6/execution";
import { fail } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";
import { classifyResponse } from "./lib/edge-response.ts";
import type { DeployOutputs } from "../infra/deploy-outputs.ts";
import {
  DURATION_TREND,
  ERROR_RATE,
  OUTCOME_COUNTER,
  OUTSIDE_JURISDICTION_COUNTER,
  faultThresholds,
  reportedOwners,
  requestMix,
  unknownTenantHost,
  validatePlan,
  type FaultLoadPlan,
} from "./lib/fault-plan.ts";
import { formatFaultLogEntry, formatLoadStarted } from "./lib/fault-log.ts";
import { MISROUTE_COUNTER } from "./lib/route-matrix.ts";
import { popsNotReady } from "./lib/pop-readiness.ts";
import { faultSummaryFromMetrics, type SummaryMetrics } from "./lib/fault-summary.ts";

const outputsFile = __ENV.OUTPUTS_FILE || "../.edge/outputs.json";
const tokensFile = __ENV.TOKENS_FILE || "../.edge/k6-tokens.json";
const summaryFile = __ENV.SUMMARY_FILE || ".edge/k6-fault-summary.json";

const outputs = JSON.parse(open(outputsFile)) as DeployOutputs;
const tokens = JSON.parse(open(tokensFile)) as Record<string, string>;
const regions = outputs.regions;
const plan = validatePlan(
  __ENV.FAULT_PLAN
    ? (JSON.parse(__ENV.FAULT_PLAN) as FaultLoadPlan)
    : { ratePerSecond: Number(__ENV.RATE || 150), duration: __ENV.DURATION || "30s", owners: {} },
  regions,
);
if (!Array.isArray(outputs.pops) || outputs.pops.length === 0) throw new Error(`${outputsFile} lists no POPs to enter`);
const mix = requestMix(outputs, plan.unknownTenants === true, plan.https === true);

export const options = {
  scenarios: {
    fault_load: {
      executor: "constant-arrival-rate",
      rate: plan.ratePerSecond,
      timeUnit: "1s",
      duration: plan.duration,
      // Enough VUs for the rate at ~1 s latency up front; more while a fault makes requests hang.
      preAllocatedVUs: plan.ratePerSecond,
      maxVUs: plan.ratePerSecond * 4,
    },
  },
  thresholds: faultThresholds(plan, regions),
  summaryTrendStats: ["med", "p(99)", "max"],
};

const outcomes = new Counter(OUTCOME_COUNTER);
const misroutes = new Counter(MISROUTE_COUNTER);
const outsideJurisdiction = new Counter(OUTSIDE_JURISDICTION_COUNTER);
const errors = new Rate(ERROR_RATE);
const durations = new Trend(DURATION_TREND, true);

const anyAnswer = http.expectedStatuses({ min: 100, max: 599 });

export function setup(): void {
  const down = popsNotReady(outputs.pops, (url) => http.get(url, { timeout: "3s", responseCallback: anyAnswer, tags: { phase: "setup" } }));
  if (down.length > 0) fail(`${down.join("; ")}; run \`npm run deploy\` or check the POP containers`);
  console.log(formatLoadStarted(Date.now()));
}

export default function faultLoad(): void {
  const iteration = exec.scenario.iterationInTest;
  const request = mix[iteration % mix.length]!;
  const headers: Record<string, string> = {};
  if (request.source === "jwt") headers.authorization = `Bearer ${tokens[request.userRegion!]}`;
  else headers.host = request.host ?? unknownTenantHost(iteration);
  const tags = {
    entry_region: request.entryRegion,
    entry_pop: request.entryPop,
    owner_region: request.ownerRegion,
    source: request.source,
    app: request.app,
  };
  const startMs = Date.now();
  const response = http.get(request.url, { headers, tags, timeout: plan.requestTimeout ?? "10s", responseType: "text" });
  const durationMs = Date.now() - startMs;
  const { outcome, reason, servingRegion } = classifyResponse(request, response, regions, plan.owners[request.ownerRegion]?.expected);

  outcomes.add(1, { ...tags, outcome, served_region: servingRegion });
  misroutes.add(outcome === "misroute" ? 1 : 0, tags);
  const jurisdictions = outputs.jurisdictions;
  const outside = request.residencyBound && servingRegion in jurisdictions && jurisdictions[servingRegion] !== jurisdictions[request.ownerRegion];
  outsideJurisdiction.add(outside ? 1 : 0, tags);
  errors.add(outcome === "error", tags);
  durations.add(durationMs, { ...tags, outcome });
  if (outcome !== "ok") {
    console.log(
      formatFaultLogEntry({
        startMs,
        durationMs,
        outcome,
        ownerRegion: request.ownerRegion,
        entryPop: request.entryPop,
        source: request.source,
        status: response.status,
        reason: reason || response.error || "",
      }),
    );
  }
}

export function handleSummary(data: { metrics: SummaryMetrics; state?: { testRunDurationMs?: number } }): Record<string, string> {
  const summary = faultSummaryFromMetrics(data.metrics, plan, reportedOwners(plan, regions), data.state?.testRunDurationMs ?? 0);
  const lines = [
    "",
    `fault load: ${summary.requests} requests at ${plan.ratePerSecond}/s (achieved ${summary.achievedRatePerSecond.toFixed(1)}/s, dropped ${summary.droppedIterations})`,
    ...summary.byOwner.map(
      (o) =>
        `  ${o.ownerRegion.padEnd(16)} requests ${o.requests}, failover ${o.failover}, errors ${o.errors}, expected-degraded ${o.expectedDegraded}, misroutes ${o.misroutes}, p50 ${o.p50Ms.toFixed(1)} ms, p99 ${o.p99Ms.toFixed(1)} ms`,
    ),
    `  served outside the owner's jurisdiction (residency-bound apps): ${summary.outsideJurisdiction}`,
    summary.failedThresholds.length === 0 ? "thresholds: all passed" : `thresholds failed: ${summary.failedThresholds.join("; ")}`,
    `summary: ${summaryFile}`,
    "",
  ];
  return { [summaryFile]: `${JSON.stringify(summary, null, 2)}\n`, stdout: lines.join("\n") };
}
