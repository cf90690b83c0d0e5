// The JSON summary of a fault-load run, built from k6's end-of-test metrics. Pure, no k6 imports.
import { DURATION_TREND, OUTCOME_COUNTER, OUTSIDE_JURISDICTION_COUNTER, durationSeconds, type FaultLoadPlan } from "./fault-plan.ts";
import { MISROUTE_COUNTER } from "./route-matrix.ts";

export type SummaryMetrics = Record<string, { values?: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;

export interface OwnerResult {
  ownerRegion: string;
  requests: number;
  ok: number;
  /** Served by another region of the app's serving order. */
  failover: number;
  errors: number;
  expectedDegraded: number;
  misroutes: number;
  p50Ms: number;
  p99Ms: number;
}

/** What load/fault-load.ts writes to SUMMARY_FILE. */
export interface FaultLoadSummary {
  ratePerSecond: number;
  /** Requests sent per second of the planned duration (k6's run also waits for requests in flight). */
  achievedRatePerSecond: number;
  requests: number;
  droppedIterations: number;
  byOwner: OwnerResult[];
  misroutes: number;
  /** Answers of residency-bound apps from outside the owner's jurisdiction. */
  outsideJurisdiction: number;
  /** "<metric>: <rule>" for every threshold that failed. */
  failedThresholds: string[];
  testRunDurationMs: number;
}

export function failedThresholdsOf(metrics: SummaryMetrics): string[] {
  const failed: string[] = [];
  for (const [metric, entry] of Object.entries(metrics)) {
    for (const [rule, result] of Object.entries(entry.thresholds ?? {})) if (!result.ok) failed.push(`${metric}: ${rule}`);
  }
  return failed.sort();
}

export function faultSummaryFromMetrics(metrics: SummaryMetrics, plan: FaultLoadPlan, owners: string[], testRunDurationMs: number): FaultLoadSummary {
  const count = (name: string) => metrics[name]?.values?.count ?? 0;
  const byOwner = owners.map((owner): OwnerResult => {
    const outcome = (o: string) => count(`${OUTCOME_COUNTER}{owner_region:${owner},outcome:${o}}`);
    const duration = metrics[`${DURATION_TREND}{owner_region:${owner}}`]?.values ?? {};
    const ok = outcome("ok");
    const failover = outcome("failover");
    const errors = outcome("error");
    const expectedDegraded = outcome("expected_degraded");
    const misroutes = outcome("misroute");
    return {
      ownerRegion: owner, requests: ok + failover + errors + expectedDegraded + misroutes, ok, failover, errors, expectedDegraded, misroutes,
      p50Ms: duration.med ?? 0, p99Ms: duration["p(99)"] ?? 0,
    };
  });
  const requests = byOwner.reduce((n, o) => n + o.requests, 0);
  return {
    ratePerSecond: plan.ratePerSecond,
    achievedRatePerSecond: requests / durationSeconds(plan.duration),
    requests,
    droppedIterations: count("dropped_iterations"),
    byOwner,
    misroutes: count(MISROUTE_COUNTER),
    outsideJurisdiction: count(OUTSIDE_JURISDICTION_COUNTER),
    failedThresholds: failedThresholdsOf(metrics),
    testRunDurationMs,
  };
}
