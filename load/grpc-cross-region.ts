// gRPC across regions. A sweep calls Profile/Get (upstreams/grpc/profile.proto) on every gRPC app
// through every POP, once per region's user (a JWT in the `authorization` metadata) and once per
// tenant (its host as `:authority`); each iteration makes the next call of the sweep, at the
// profile's arrival rate. Each call checks that the owner region's datacenter answered, with one
// sideways hop exactly when the call entered a region other than its owner.
//
// Inputs (paths relative to this file unless absolute; load/grpc-run.ts passes absolute ones):
//   OUTPUTS_FILE  deploy outputs, default ../.edge/outputs.json
//   TOKENS_FILE   {"<region>": "<jwt of a user of that region>"}, default ../.edge/k6-grpc-tokens.json
//   SUMMARY_FILE  summary JSON written at the end, relative to the working directory,
//                 default .edge/k6-grpc-summary.json
//   PROFILE, RATE, VUS, DURATION, ITERATIONS (sweeps), P95_MS: see lib/profiles.ts

import grpc from "k6/net/grpc";
import http from "k6/http";
import { check, fail } from "k6";
import exec from "k6/execution";
import { Counter, Rate } from "k6/metrics";
import { loadProfile } from "./lib/profiles.ts";
import { popsNotReady } from "./lib/pop-readiness.ts";
import { appReply, expectedHops, header, parseRoute, type OwnerSource } from "./lib/edge-response.ts";
import { asEdgeResponse, classifyGrpcResponse, GRPC_OK, type GrpcEdgeResponse } from "./lib/grpc-response.ts";
import {
  formatRouteMatrix,
  misrouteThresholds,
  misroutesByOwner,
  routeCellThresholds,
  routeMatrixFromMetrics,
  type RouteCell,
} from "./lib/route-matrix.ts";
import { PROFILE_PROTO_FILE, PROFILE_SERVICE } from "../upstreams/grpc/profile-names.ts";
import type { DeployOutputs } from "../infra/deploy-outputs.ts";

export const GRPC_ROUTE_COUNTER = "edge_grpc_route_requests";
export const GRPC_MISROUTE_COUNTER = "edge_grpc_misroutes";
export const GRPC_OK_RATE = "edge_grpc_ok";

const outputsFile = __ENV.OUTPUTS_FILE || "../.edge/outputs.json";
const tokensFile = __ENV.TOKENS_FILE || "../.edge/k6-grpc-tokens.json";
const summaryFile = __ENV.SUMMARY_FILE || ".edge/k6-grpc-summary.json";

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
// The client knows the messages of profile.proto only: a gRPC app of another service is not called.
const apps = outputs.apps.filter((app) => app.protocol === "grpc" && app.prefix === `/${PROFILE_SERVICE}`);
if (apps.length === 0) {
  throw new Error(`${outputsFile} has no gRPC app with prefix /${PROFILE_SERVICE}; expected a topology app with protocol: grpc serving it`);
}

// The calls go over h2c with prior knowledge: a POP whose client URL is not http:// needs TLS
// parameters this script does not have yet.
const notCleartext = outputs.pops.filter((pop) => !pop.clientUrl.startsWith("http://"));
if (notCleartext.length > 0) {
  throw new Error(`${notCleartext.map((pop) => `${pop.id} (${pop.clientUrl})`).join(", ")}: expected http:// client URLs (h2c); this script has no TLS settings`);
}

/** One connection per POP and authority: the POP's own address (token calls) or a tenant host. */
interface Channel {
  pop: DeployOutputs["pops"][number];
  tenant: DeployOutputs["tenants"][number] | undefined;
  client: grpc.Client;
  connected: boolean;
}

const channels: Channel[] = [];
for (const pop of outputs.pops) {
  for (const tenant of [undefined, ...outputs.tenants]) {
    const client = new grpc.Client();
    client.load(["../upstreams/grpc"], PROFILE_PROTO_FILE);
    channels.push({ pop, tenant, client, connected: false });
  }
}

interface Call {
  channel: Channel;
  app: DeployOutputs["apps"][number];
  ownerRegion: string;
  source: OwnerSource;
  token: string | undefined;
}

/** One sweep: every app x channel x owner (a user of every region over the POP's address, each tenant over its host). */
const calls: Call[] = [];
for (const app of apps) {
  for (const channel of channels) {
    if (channel.tenant) calls.push({ channel, app, ownerRegion: channel.tenant.region, source: "host", token: undefined });
    else for (const ownerRegion of regions) calls.push({ channel, app, ownerRegion, source: "jwt", token: tokens[ownerRegion] });
  }
}
// One call per iteration, the next of the sweep, at the profile's arrival rate.
const profile = loadProfile(__ENV, calls.length);

const durationThresholds: Record<string, string[]> = {};
const okThresholds: Record<string, string[]> = { [GRPC_OK_RATE]: ["rate>0.99"] };
for (const region of regions) {
  durationThresholds[`grpc_req_duration{entry_region:${region}}`] = [`p(95)<${profile.p95Ms}`];
  okThresholds[`${GRPC_OK_RATE}{entry_region:${region}}`] = ["rate>0.99"];
}

export const options = {
  scenarios: { grpc_cross_region: profile.scenario },
  thresholds: {
    checks: ["rate>0.99"],
    ...okThresholds,
    ...durationThresholds,
    ...routeCellThresholds(regions, GRPC_ROUTE_COUNTER),
    ...misrouteThresholds(regions, GRPC_MISROUTE_COUNTER),
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const routeCalls = new Counter(GRPC_ROUTE_COUNTER);
const misroutes = new Counter(GRPC_MISROUTE_COUNTER);
const answeredOk = new Rate(GRPC_OK_RATE);

const anyAnswer = http.expectedStatuses({ min: 100, max: 599 });

export function setup(): void {
  const probe = { timeout: "3s", responseCallback: anyAnswer, tags: { phase: "setup" } };
  const down = popsNotReady(outputs.pops, (url) => http.get(url, probe));
  if (down.length > 0) fail(`${down.join("; ")}; run \`npm run deploy\` or check the POP containers`);
}

function connect(channel: Channel): void {
  if (channel.connected) return;
  const address = channel.pop.clientUrl.slice("http://".length);
  channel.client.connect(address, { plaintext: true, timeout: "3s", ...(channel.tenant ? { authority: channel.tenant.host } : {}) });
  channel.connected = true;
}

export default function sweep(): void {
  const call = calls[exec.scenario.iterationInTest % calls.length]!;
  const app = call.app;
  const method = `${app.prefix.slice(1)}/Get`;
  connect(call.channel);
  const entryRegion = call.channel.pop.region;
  const tags = { entry_region: entryRegion, owner_region: call.ownerRegion, source: call.source, app: app.name };
  const answer = call.channel.client.invoke(method, {}, {
    metadata: call.token ? { authorization: `Bearer ${call.token}` } : {},
    tags,
    timeout: "5s",
  });
  // k6's status is a Go value that only Number() turns into the code.
  const response: GrpcEdgeResponse = {
    status: Number(answer.status),
    message: answer.message as GrpcEdgeResponse["message"],
    headers: answer.headers as GrpcEdgeResponse["headers"],
    trailers: answer.trailers as GrpcEdgeResponse["trailers"],
    error: answer.error as GrpcEdgeResponse["error"],
  };
  const routed = { entryRegion, ownerRegion: call.ownerRegion, source: call.source, serving: app.serving[call.ownerRegion] };
  const edge = asEdgeResponse(response);
  const reply = appReply(edge);
  const route = parseRoute(header(edge, "x-edge-route"));
  const hops = expectedHops(routed);
  const { outcome, servingRegion } = classifyGrpcResponse(routed, response, regions);
  const cell = { entry_region: entryRegion, owner_region: call.ownerRegion, source: call.source };
  check(
    response,
    {
      "status is OK": () => response.status === GRPC_OK,
      "served by the owner region": () => servingRegion === call.ownerRegion,
      "x-edge-route names the owner region": () => route.owner === call.ownerRegion,
      "x-edge-route hops: 1 when entering a non-owner region, else 0": () => route.hops === String(hops),
      "app saw the same hops": () => reply?.hops === hops,
    },
    cell,
  );
  answeredOk.add(response.status === GRPC_OK, cell);
  routeCalls.add(1, { ...cell, serving_region: servingRegion });
  // Added for every call so the per-owner sub-metrics exist (and report 0) in every run.
  misroutes.add(outcome === "misroute" ? 1 : 0, cell);
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
  const routeMatrix: RouteCell[] = routeMatrixFromMetrics(data.metrics, regions, GRPC_ROUTE_COUNTER);
  const failedThresholds: string[] = [];
  for (const [metric, entry] of Object.entries(data.metrics)) {
    for (const [threshold, result] of Object.entries(entry.thresholds ?? {})) {
      if (!result.ok) failedThresholds.push(`${metric}: ${threshold}`);
    }
  }
  const checks = (data.root_group?.checks ?? []).map(({ name, passes, fails }) => ({ name, passes, fails }));
  const latency: Record<string, Record<string, number> | undefined> = {};
  const okRate: Record<string, number | undefined> = {};
  for (const region of regions) {
    latency[region] = data.metrics[`grpc_req_duration{entry_region:${region}}`]?.values;
    okRate[region] = data.metrics[`${GRPC_OK_RATE}{entry_region:${region}}`]?.values?.rate;
  }

  const summary = {
    profile: profile.name,
    regions,
    apps: apps.map((app) => app.name),
    calls: data.metrics[GRPC_ROUTE_COUNTER]?.values?.count ?? 0,
    okRate: data.metrics[GRPC_OK_RATE]?.values?.rate ?? 0,
    okRateByEntryRegion: okRate,
    checks,
    latencyByEntryRegion: latency,
    failedThresholds,
    routeMatrix,
    misroutes: data.metrics[GRPC_MISROUTE_COUNTER]?.values?.count ?? 0,
    misroutesByOwnerRegion: misroutesByOwner(data.metrics, regions, GRPC_MISROUTE_COUNTER),
    testRunDurationMs: data.state?.testRunDurationMs ?? 0,
  };

  const lines = [
    "",
    `gRPC ${apps.map((app) => `${app.name} (${app.prefix.slice(1)}/Get)`).join(", ")}`,
    formatRouteMatrix(routeMatrix, regions).replace(/^route matrix: requests/, "route matrix: calls"),
    "",
    ...checks.map((c) => `${c.fails === 0 ? "ok  " : "FAIL"} ${c.name}: ${c.passes} passed, ${c.fails} failed`),
    ...regions.map((region) => {
      const values = latency[region];
      return `p95 entering ${region}: ${values ? `${values["p(95)"]?.toFixed(1)} ms` : "no calls"} (limit ${profile.p95Ms} ms)`;
    }),
    `calls: ${summary.calls}, OK: ${(summary.okRate * 100).toFixed(2)}%, misroutes: ${summary.misroutes}`,
    failedThresholds.length === 0 ? "thresholds: all passed" : `thresholds failed: ${failedThresholds.join("; ")}`,
    `summary: ${summaryFile}`,
    "",
  ];
  return { [summaryFile]: `${JSON.stringify(summary, null, 2)}\n`, stdout: lines.join("\n") };
}
