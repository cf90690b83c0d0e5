// What a fault scenario asks of the fault load (load/fault-load.ts): the arrival rate, which replies
// are expected while the fault lasts, and the targets that become k6 thresholds. Pure, no k6 imports.
import {
  UNKNOWN_OWNER,
  OUTCOMES,
  type ExpectedReply,
  type OwnerSource,
} from "./edge-response.ts";
import { MISROUTE_COUNTER } from "./route-matrix.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";

export const OUTCOME_COUNTER = "edge_outcomes";
export const ERROR_RATE = "edge_errors";
export const DURATION_TREND = "edge_duration";
/** Answers a residency-bound app got from a region outside its owner's jurisdiction: always 0. */
export const OUTSIDE_JURISDICTION_COUNTER = "edge_outside_jurisdiction";

export interface OwnerTarget {
  /** Highest share of this owner region's requests that may be errors (0 means none may). */
  maxErrorRate?: number;
  /** The reply that counts as expected-degraded, not as an error, for this owner region. */
  expected?: ExpectedReply;
  /** p99 limit (ms) of this owner region's expected-degraded replies. */
  degradedP99Ms?: number;
}

export interface FaultLoadPlan {
  /** Requests per second (k6 constant-arrival-rate). */
  ratePerSecond: number;
  /** k6 duration of the whole run, e.g. "40s". */
  duration: string;
  /** Targets per owner region; `unknown-tenant` (UNKNOWN_OWNER) for requests whose Host no tenant has. */
  owners: Record<string, OwnerTarget>;
  /** Highest error rate per owner source, over every owner region. */
  sourceMaxErrorRate?: Partial<Record<OwnerSource, number>>;
  /** p99 limit (ms) per owner source. */
  sourceP99Ms?: Partial<Record<OwnerSource, number>>;
  /** Also send requests with Host names no tenant has, one in every round-robin cycle per POP and app. */
  unknownTenants?: boolean;
  /** Enter every POP on its TLS listener (trusting the deploy's CA) instead of cleartext. */
  https?: boolean;
  /** Request timeout, a k6 duration; default 10s. */
  requestTimeout?: string;
  /**
   * Failover the run must show: requests of `ownerRegion` for `app` served by `servedBy` by failover
   * (at least one, and by no other region), or with `servedBy: null` none served by failover at all.
   */
  failover?: FailoverTarget[];
}

export interface FailoverTarget {
  ownerRegion: string;
  app: string;
  servedBy: string | null;
}

const DURATION = /^(\d+(ms|s|m|h))+$/;

/** Throws one line naming the field and what would be valid. */
export function validatePlan(plan: FaultLoadPlan, regions: string[]): FaultLoadPlan {
  const problems: string[] = [];
  if (!Number.isInteger(plan.ratePerSecond) || plan.ratePerSecond < 1) problems.push(`ratePerSecond ${plan.ratePerSecond}: expected a positive integer`);
  if (typeof plan.duration !== "string" || !DURATION.test(plan.duration)) problems.push(`duration ${plan.duration}: expected a k6 duration such as 40s or 10m`);
  if (plan.requestTimeout !== undefined && !DURATION.test(plan.requestTimeout)) problems.push(`requestTimeout ${plan.requestTimeout}: expected a k6 duration`);
  for (const [owner, target] of Object.entries(plan.owners ?? {})) {
    if (owner !== UNKNOWN_OWNER && !regions.includes(owner)) problems.push(`owners.${owner}: expected one of ${[...regions, UNKNOWN_OWNER].join(", ")}`);
    if (target.maxErrorRate !== undefined && !(target.maxErrorRate >= 0 && target.maxErrorRate <= 1)) problems.push(`owners.${owner}.maxErrorRate ${target.maxErrorRate}: expected 0..1`);
    if (target.degradedP99Ms !== undefined && !target.expected) problems.push(`owners.${owner}.degradedP99Ms: needs owners.${owner}.expected`);
  }
  if (plan.owners?.[UNKNOWN_OWNER] && !plan.unknownTenants) problems.push(`owners.${UNKNOWN_OWNER}: needs unknownTenants: true`);
  for (const [i, target] of (plan.failover ?? []).entries()) {
    if (!regions.includes(target.ownerRegion)) problems.push(`failover[${i}].ownerRegion ${target.ownerRegion}: expected one of ${regions.join(", ")}`);
    if (target.servedBy !== null && !regions.includes(target.servedBy)) problems.push(`failover[${i}].servedBy ${target.servedBy}: expected one of ${regions.join(", ")} or null`);
  }
  if (problems.length > 0) throw new Error(`invalid fault load plan: ${problems.join("; ")}`);
  return plan;
}

/** Seconds of a k6 duration such as "1m30s" or "500ms". */
export function durationSeconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(n) * units[unit!]!;
  return total;
}

function rateRule(max: number): string {
  return max === 0 ? "rate==0" : `rate<${max}`;
}

/** Owner regions the run reports on: every region, plus unknown tenants when they are sent. */
export function reportedOwners(plan: FaultLoadPlan, regions: string[]): string[] {
  return plan.unknownTenants ? [...regions, UNKNOWN_OWNER] : [...regions];
}

/**
 * k6 thresholds: no misroute anywhere; each target of the plan; and always-true thresholds on the
 * per-owner sub-metrics so the summary reports them (k6 only reports sub-metrics a threshold names).
 */
export function faultThresholds(plan: FaultLoadPlan, regions: string[]): Record<string, string[]> {
  const owners = reportedOwners(plan, regions);
  const thresholds: Record<string, string[]> = { [MISROUTE_COUNTER]: ["count==0"], [OUTSIDE_JURISDICTION_COUNTER]: ["count==0"] };
  for (const owner of owners) {
    const target = plan.owners[owner] ?? {};
    thresholds[`${MISROUTE_COUNTER}{owner_region:${owner}}`] = ["count==0"];
    thresholds[`${DURATION_TREND}{owner_region:${owner}}`] = ["p(99)>=0"];
    thresholds[`${ERROR_RATE}{owner_region:${owner}}`] = target.maxErrorRate === undefined ? ["rate>=0"] : [rateRule(target.maxErrorRate)];
    for (const outcome of OUTCOMES) thresholds[`${OUTCOME_COUNTER}{owner_region:${owner},outcome:${outcome}}`] = ["count>=0"];
    if (target.degradedP99Ms !== undefined) {
      thresholds[`${DURATION_TREND}{owner_region:${owner},outcome:expected_degraded}`] = [`p(99)<=${target.degradedP99Ms}`];
    }
  }
  for (const { ownerRegion, app, servedBy } of plan.failover ?? []) {
    const failedOver = `${OUTCOME_COUNTER}{owner_region:${ownerRegion},app:${app},outcome:failover`;
    if (servedBy === null) thresholds[`${failedOver}}`] = ["count==0"];
    else {
      thresholds[`${failedOver},served_region:${servedBy}}`] = ["count>0"];
      for (const other of regions.filter((region) => region !== servedBy && region !== ownerRegion)) thresholds[`${failedOver},served_region:${other}}`] = ["count==0"];
    }
  }
  for (const [source, max] of Object.entries(plan.sourceMaxErrorRate ?? {})) thresholds[`${ERROR_RATE}{source:${source}}`] = [rateRule(max)];
  for (const [source, ms] of Object.entries(plan.sourceP99Ms ?? {})) thresholds[`${DURATION_TREND}{source:${source}}`] = [`p(99)<=${ms}`];
  return thresholds;
}

/** One request of the round-robin mix: where it enters and who owns it. */
export interface MixedRequest {
  entryPop: string;
  entryRegion: string;
  url: string;
  app: string;
  ownerRegion: string;
  source: OwnerSource;
  /** The app's serving order for the owner (just the owner for an unknown tenant). */
  serving: string[];
  /** Whether the app is residency-bound. */
  residencyBound: boolean;
  /** Region whose user's token the request carries (source jwt). */
  userRegion?: string;
  /** Host header (source host); unknown-tenant requests get a fresh host per request. */
  host?: string;
}

/**
 * Every (entry POP, app, owner) combination once: for each POP and app, a user of every region
 * (JWT), every tenant (Host) and, when asked, one unknown tenant. Taking the mix round-robin spreads
 * owners, sources and entry POPs evenly over any window longer than one cycle.
 */
export function requestMix(outputs: Pick<DeployOutputs, "regions" | "pops" | "tenants" | "apps">, unknownTenants: boolean, https = false): MixedRequest[] {
  const owners: Omit<MixedRequest, "entryPop" | "entryRegion" | "url" | "app" | "serving" | "residencyBound">[] = [
    ...outputs.regions.map((region) => ({ ownerRegion: region, source: "jwt" as const, userRegion: region })),
    ...outputs.tenants.map((tenant) => ({ ownerRegion: tenant.region, source: "host" as const, host: tenant.host })),
    ...(unknownTenants ? [{ ownerRegion: UNKNOWN_OWNER, source: "unknown" as const }] : []),
  ];
  const mix: MixedRequest[] = [];
  for (const app of outputs.apps) {
    for (const owner of owners) {
      for (const pop of outputs.pops) {
        mix.push({
          entryPop: pop.id,
          entryRegion: pop.region,
          url: `${https ? pop.tlsUrl : pop.clientUrl}${app.prefix}/items`,
          app: app.name,
          ...owner,
          serving: app.serving[owner.ownerRegion] ?? [owner.ownerRegion],
          residencyBound: app.residency === "jurisdiction",
        });
      }
    }
  }
  return mix;
}

/** A Host no tenant has, distinct per request so every one reaches discovery instead of a cache. */
export function unknownTenantHost(iteration: number): string {
  return `t${iteration}.unknown-tenant.test`;
}
