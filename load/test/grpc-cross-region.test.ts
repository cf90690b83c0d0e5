import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { repoRoot, toolPath } from "../../scripts/toolchain/paths.ts";
import { DEFAULT_TOPOLOGY_PATH, loadTopology, validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../../edge/loopback-edge.ts";
import { PROFILE_SERVICE } from "../../upstreams/grpc/profile-names.ts";
import { K6_THRESHOLDS_FAILED } from "../run.ts";
import { runGrpcLoad } from "../grpc-run.ts";
import { classifyGrpcResponse, type GrpcEdgeResponse } from "../lib/grpc-response.ts";

// The k6 gRPC script against a real edge on loopback (Envoy POPs and ingress, the built filter, the
// gRPC app replicas): the same calls a deployed edge gets, without Docker.

const raw = validRaw();
raw.apps.push({ name: "profile", prefix: `/${PROFILE_SERVICE}`, protocol: "grpc" });
for (const region of raw.regions) region.datacenter.apps.profile = { replicas: 1 };
const topology = validateTopology(raw);
const regions = topology.regions.map((region) => region.name);
let edge: LoopbackEdge;
let workDir: string;

function writeOutputs(name: string, outputs: DeployOutputs): string {
  const file = join(workDir, name);
  writeFileSync(file, JSON.stringify(outputs));
  return file;
}

const keysDir = () => dirname(dirname(edge.keys.jwksPath));

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), "edgerim-grpc-load-"));
  edge = await startLoopbackEdge(topology);
});

after(async () => {
  await edge?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("gRPC cross-region k6 script", () => {
  test("grpc-cross-region: k6 inspect derives a p95 and an OK-rate threshold per entry region and a route cell per region triple", async () => {
    const outputsFile = writeOutputs("inspect-outputs.json", edge.outputs());
    const tokensFile = join(workDir, "inspect-tokens.json");
    writeFileSync(tokensFile, JSON.stringify(Object.fromEntries(regions.map((region) => [region, "a.b.c"]))));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        toolPath("k6"),
        ["inspect", "-e", `OUTPUTS_FILE=${outputsFile}`, "-e", `TOKENS_FILE=${tokensFile}`, "-e", "PROFILE=smoke", join(repoRoot, "load/grpc-cross-region.ts")],
        { env: { ...process.env, K6_NO_USAGE_REPORT: "true" } },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    const { thresholds, scenarios } = JSON.parse(stdout) as { thresholds: Record<string, string[]>; scenarios: Record<string, { executor: string }> };
    assert.deepEqual(thresholds.checks, ["rate>0.99"]);
    assert.deepEqual(thresholds.edge_grpc_ok, ["rate>0.99"]);
    for (const region of regions) {
      assert.deepEqual(thresholds[`grpc_req_duration{entry_region:${region}}`], ["p(95)<300"], region);
      assert.deepEqual(thresholds[`edge_grpc_ok{entry_region:${region}}`], ["rate>0.99"], region);
      assert.deepEqual(thresholds[`edge_grpc_misroutes{owner_region:${region}}`], ["count==0"], region);
    }
    const cells = Object.keys(thresholds).filter((key) => key.startsWith("edge_grpc_route_requests{"));
    assert.equal(cells.length, regions.length * regions.length * (regions.length + 1), "entry x owner x (serving regions + none)");
    assert.equal(scenarios.grpc_cross_region?.executor, "constant-arrival-rate", "an open model, as the HTTP sweep");
  });

  test("runGrpcLoad: every call, from every POP for a user and a tenant of every region, is served by its owner with the right hops", async () => {
    const stateDir = join(workDir, "state-sweep");
    const result = await runGrpcLoad({ outputsFile: writeOutputs("sweep-outputs.json", edge.outputs()), stateDir, keysDir: keysDir(), iterations: 2, output: "capture" });
    assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
    const summary = result.summary;
    assert.ok(summary, `no summary: ${result.stderr}`);
    assert.deepEqual(JSON.parse(readFileSync(result.summaryFile, "utf8")), summary);
    assert.deepEqual(summary.apps, ["profile"]);
    // Per iteration and POP: one call per region's user and per tenant; north has 2 POPs, south 1.
    const perPop = regions.length + topology.tenants.length;
    assert.equal(summary.calls, 2 * perPop * 3);
    assert.deepEqual(summary.routeMatrix, [
      { entryRegion: "north", ownerRegion: "north", servingRegion: "north", count: 8 },
      { entryRegion: "north", ownerRegion: "south", servingRegion: "south", count: 8 },
      { entryRegion: "south", ownerRegion: "north", servingRegion: "north", count: 4 },
      { entryRegion: "south", ownerRegion: "south", servingRegion: "south", count: 4 },
    ]);
    for (const check of summary.checks) assert.deepEqual([check.name, check.fails], [check.name, 0]);
    assert.equal(summary.checks.length, 5);
    assert.equal(summary.okRate, 1);
    assert.deepEqual(summary.misroutesByOwnerRegion, { north: 0, south: 0 });
    assert.deepEqual(summary.failedThresholds, []);
    for (const region of regions) assert.ok(summary.latencyByEntryRegion[region]?.["p(95)"] !== undefined, region);
    assert.match(result.stdout, /north +north 8 +south 8/);
    assert.equal(statSync(result.tokensFile).mode & 0o777, 0o600);
  });

  test("runGrpcLoad: calls that entered another region than the outputs say are misroutes: the run fails its thresholds", async () => {
    // south's POP URL is north's: calls "entering south" make the hops of a call entering north.
    const outputs = edge.outputs();
    const northPop = outputs.pops.find((pop) => pop.region === "north")!;
    outputs.pops = outputs.pops.map((pop) => (pop.region === "south" ? { ...pop, clientUrl: northPop.clientUrl } : pop));
    const result = await runGrpcLoad({ outputsFile: writeOutputs("wrong-outputs.json", outputs), stateDir: join(workDir, "state-wrong"), keysDir: keysDir(), iterations: 1, output: "capture" });
    assert.equal(result.exitCode, K6_THRESHOLDS_FAILED, result.stderr);
    const summary = result.summary!;
    assert.equal(summary.misroutes, 4, "every call entering south, for either owner");
    assert.deepEqual(summary.misroutesByOwnerRegion, { north: 2, south: 2 });
    assert.ok(summary.failedThresholds.includes("edge_grpc_misroutes: count==0"), summary.failedThresholds.join("; "));
    assert.equal(summary.checks.find((check) => check.name === "served by the owner region")?.fails, 0, "the owner still served them");
  });

  test("grpc-cross-region: outputs without a gRPC app of the Profile service stop the run before any call, naming the fix", async () => {
    const outputs = edge.outputs();
    outputs.apps = outputs.apps.filter((app) => app.protocol !== "grpc");
    const result = await runGrpcLoad({ outputsFile: writeOutputs("no-grpc-outputs.json", outputs), stateDir: join(workDir, "state-no-grpc"), keysDir: keysDir(), iterations: 1, output: "capture" });
    assert.notEqual(result.exitCode, 0);
    assert.notEqual(result.exitCode, K6_THRESHOLDS_FAILED);
    assert.match(result.stdout + result.stderr, new RegExp(`has no gRPC app with prefix /${PROFILE_SERVICE.replaceAll(".", "\\.")}; expected a topology app with protocol: grpc serving it`));
    assert.equal(result.summary, undefined);
  });

  test("default topology: has a gRPC app of the Profile service for this script to call", () => {
    const apps = loadTopology(DEFAULT_TOPOLOGY_PATH).apps.filter((app) => app.protocol === "grpc");
    assert.deepEqual(apps.map((app) => app.prefix), [`/${PROFILE_SERVICE}`]);
  });
});

describe("gRPC call classification", () => {
  const call = (status: number, message: GrpcEdgeResponse["message"], headers: Record<string, string[]> = {}, error: string | null = null): GrpcEdgeResponse =>
    ({ status, message, headers, trailers: {}, error: error === null ? null : { message: error } });
  const request = { entryRegion: "north", ownerRegion: "south", source: "jwt" as const };

  test("classifyGrpcResponse: OK from the owner with one hop is ok; from another region, or with other hops, a misroute", () => {
    const route = { "x-edge-route": ["owner=south;source=jwt;pop=north-p1;hops=1"] };
    assert.equal(classifyGrpcResponse(request, call(0, { region: "south", hops: 1 }, route), regions).outcome, "ok");
    assert.equal(classifyGrpcResponse(request, call(0, { region: "north", hops: 0 }, route), regions).outcome, "misroute");
    assert.equal(classifyGrpcResponse(request, call(0, { region: "south" }, route), regions).outcome, "misroute", "hops unset");
  });

  test("classifyGrpcResponse: INTERNAL loop_detected is a misroute, any other status an error naming it", () => {
    assert.equal(classifyGrpcResponse(request, call(13, null, {}, "loop_detected: hop limit reached (pop=south-p1)"), regions).outcome, "misroute");
    assert.deepEqual(classifyGrpcResponse(request, call(14, null, {}, "owner_unavailable: owner region unavailable"), regions), {
      outcome: "error", servingRegion: "none", reason: "gRPC status 14 owner_unavailable: owner region unavailable",
    });
  });
});
