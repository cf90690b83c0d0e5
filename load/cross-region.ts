// Cross-region routing under load. Every iteration sends, through every POP, one request per
// region's user (JWT) and per tenant (Host header) on every app prefix, and checks that the
// owner region's datacenter answered, with one sideways hop exactly when the request entered
// a region other than its owner.
//
// Inputs (paths relative to this file unless absolute; `npm run load` passes absolute ones):
//   OUTPUTS_FILE  deploy outputs, default ../.edge/outputs.json
//   TOKENS_FILE   {"<region>": "<jwt of a user of that region>"}, default ../.edge/k6-tokens.json
//   SUMMARY_FILE  summary JSON written at the end, relative to the working directory,
//                 default .edge/k6-summary.json
//   PROFILE, VUS, DURATION, ITERATIONS, P95_MS: see lib/profiles.ts

import http, { type ObjectRefinedBatchRequest } from "k6/http";
import { check, fail, sleep } from "k6";
import { Counter } from "k6/metrics";
import { loadProfile } from "./lib/profiles.ts";
import { popsNotReady } from "./lib/pop-readiness.ts";
import {
  appReply,
  classifyResponse,
  expectedHops,
  header,
  parseRoute,
  type EdgeResponse,
  type OwnerSource,
} from "./lib/edge-response.ts";
import {
  formatRouteMatrix,
  MISROUTE_COUNTER,
  misrouteThresholds,
  misroutesByOwner,
  ROUTE_COUNTER,
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
const profile = loadProfile(__ENV);

if (!Array.isArray(outputs.pops) || outputs.pops.length === 0) {
  throw new Error(`${outputsFile} lists no POPs; expected the outputs of \`npm run deploy\``);
}
const untokened = regions.filter((region) => typeof tokens[region] !== "string");
if (untokened.length > 0) {
  throw new Error(`${tokensFile} has no token for ${untokened.join(", ")}; expected one JWT per region`);
}

const durationThresholds: Record<string, string[]> = {};
for (const region of regions)
  durationThresholds[`http_req_duration{entry_region:${region}}`] = [`p(95)<${profile.p95Ms}`];

export const options = {
  scenarios: { cross_region: profile.scenario },
  thresholds: {
    http_req_failed: ["rate<0.01"],
    checks: ["rate>0.99"],
    ...durationThresholds,
    ...routeCellThresholds(regions),
    ...misrouteThresholds(regions),
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const routeRequests = new Counter(ROUTE_COUNTER);
const misroutes = new Counter(MISROUTE_COUNTER);

// Setup probes must not count as failed requests: any HTTP answer proves the listener is up.
const anyAnswer = http.expectedStatuses({ min: 100, max: 599 });

export function setup(): void {
  const probe = { timeout: "3s", responseCallback: anyAnswer, tags: { phase: "setup" } };
  const down = popsNotReady(outputs.pops, (url) => http.get(url, probe));
  if (down.length > 0) fail(`${down.join("; ")}; run \`npm run deploy\` or check the POP containers`);
}

interface Probe {
  entryRegion: string;
  ownerRegion: string;
  source: OwnerSource;
  pop: string;
}

export default function sweep(): void {
  // Text bodies (k6's default response type), which the classification parses.
  const requests: ObjectRefinedBatchRequest<"text">[] = [];
  const probes: Probe[] = [];
  for (const pop of outputs.pops) {
    for (const app of outputs.apps) {
      const url = `${pop.clientUrl}${app.prefix}/items`;
      for (const ownerRegion of regions) {
        const probe: Probe = { entryRegion: pop.region, ownerRegion, source: "jwt", pop: pop.id };
        probes.push(probe);
        requests.push({
          method: "GET",
          url,
          params: {
            headers: { authorization: `Bearer ${tokens[ownerRegion]}` },
            responseType: "text",
            tags: { entry_region: pop.region, owner_region: ownerRegion, source: "jwt", app: app.name },
          },
        });
      }
      for (const tenant of outputs.tenants) {
        const probe: Probe = { entryRegion: pop.region, ownerRegion: tenant.region, source: "host", pop: pop.id };
        probes.push(probe);
        requests.push({
          method: "GET",
          url,
          params: {
            headers: { host: tenant.host },
            responseType: "text",
            tags: { entry_region: pop.region, owner_region: tenant.region, source: "host", app: app.name },
          },
        });
      }
    }
  }

  const responses: EdgeResponse[] = http.batch(requests);
  responses.forEach((response, index) => {
    const probe = probes[index]!;
    const reply = appReply(response);
    const route = parseRoute(header(response, "x-edge-route"));
    const hops = expectedHops(probe);
    const { outcome, servingRegion } = classifyResponse(probe, response, regions);
    const tags = { entry_region: probe.entryRegion, owner_region: probe.ownerRegion, source: probe.source };
    check(
      response,
      {
        "status is 200": () => response.status === 200,
        "served by the owner region": () => servingRegion === probe.ownerRegion,
        "x-edge-route names the owner region": () => route.owner === probe.ownerRegion,
        "x-edge-route hops: 1 when entering a non-owner region, else 0": () => route.hops === String(hops),
        "app saw the same hops": () => reply?.hops === hops,
      },
      tags,
    );
    routeRequests.add(1, { ...tags, serving_region: servingRegion });
    // Added for every request so the per-owner sub-metrics exist (and report 0) in every run.
    misroutes.add(outcome === "misroute" ? 1 : 0, tags);
  });
  if (profile.pauseSeconds > 0) sleep(profile.pauseSeconds);
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

  const summary = {
    profile: profile.name,
    regions,
    // Sweep requests only; the setup probes are not part of the matrix.
    requests: data.metrics[ROUTE_COUNTER]?.values?.count ?? 0,
    failedRate: data.metrics.http_req_failed?.values?.rate ?? 0,
    checks,
    latencyByEntryRegion: latency,
    failedThresholds,
    routeMatrix,
    misroutes: data.metrics[MISROUTE_COUNTER]?.values?.count ?? 0,
    misroutesByOwnerRegion: misroutesByOwner(data.metrics, regions),
    testRunDurationMs: data.state?.testRunDurationMs ?? 0,
  };

  const lines = [
    "",
    formatRouteMatrix(routeMatrix, regions),
    "",
    ...checks.map((c) => `${c.fails === 0 ? "ok  " : "FAIL"} ${c.name}: ${c.passes} passed, ${c.fails} failed`),
    ...regions.map((region) => {
      const values = latency[region];
      return `p95 entering ${region}: ${values ? `${values["p(95)"]?.toFixed(1)} ms` : "no requests"} (limit ${
        profile.p95Ms
      } ms)`;
    }),
    `requests: ${summary.requests}, failed: ${(summary.failedRate * 100).toFixed(2)}%, misroutes: ${summary.misroutes}`,
    failedThresholds.length === 0 ? "thresholds: all passed" : `thresholds failed: ${failedThresholds.join("; ")}`,
    `summary: ${summaryFile}`,
    "",
  ];
  return { [summaryFile]: `${JSON.stringify(summary, null, 2)}\n`, stdout: lines.join("\n") };
}
