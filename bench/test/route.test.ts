// The routing bench's quick mode, run as a user runs it: every arm starts, routes every case to the
// expected cluster and gets its tiny timed windows; the flood and sizing phases run; the docs stay
// untouched. Then the verification itself: an arm that misroutes, or answers non-200, is stopped
// with the cause before anything is timed. Real Envoy on 127.0.0.1; not a performance test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localCluster, peerCluster } from "../../infra/topology/names.ts";
import { CLUSTER_HEADER } from "../../edge/headers.ts";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { ARMS, type Arm } from "../route/arms.ts";
import { withLuaFilter } from "../route/bootstrap-edits.ts";
import { QUICK_PLAN, runArm } from "../route/measure.ts";
import { openSession, type BenchSession } from "../route/session.ts";
import { RoutingError, REQUESTS_PER_CASE } from "../route/verify.ts";

interface QuickJson {
  quick: boolean;
  aborted: { arm: string; cause: string } | null;
  arms: { id: string; cases: { name: string; cluster: string; requests: number }[]; search: { requests: number }[]; openLoop: { completed: number; statuses: Record<string, number> }; problems: string[] }[];
  flood: { flood: { completed: number; statuses: Record<string, number> }; routerStats: Record<string, number>; discoveryCallsPerSecond: number; problems: string[] };
  sizing: { steps: { rps: number; cpuShare: number }[] };
  phases: { phase: string; seconds: number }[];
  problems: string[];
}

const docHash = () => createHash("sha256").update(readFileSync(join(repoRoot, "docs/benchmarks.md"))).digest("hex");

let dir: string;
let child: ChildProcess | undefined;
let quick: { code: number | null; output: string; json: QuickJson; seconds: number; docBefore: string };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgerim-route-test-"));
  const json = join(dir, "route.json");
  const docBefore = docHash();
  const started = performance.now();
  const run = spawn(process.execPath, ["--import", "tsx", "bench/route.ts", "--quick", "--json", json], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  child = run;
  let output = "";
  run.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  run.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => run.on("close", resolve));
  child = undefined;
  assert.equal(code, 0, `bench:route --quick failed:\n${output}`);
  quick = { code, output, json: JSON.parse(readFileSync(json, "utf8")) as QuickJson, seconds: (performance.now() - started) / 1000, docBefore };
});

after(() => {
  // Only when the run is still going (the test timed out): on SIGTERM the bench stops its Envoys.
  child?.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("bench:route --quick: every arm ran, in order, and passed every routing case with 3 requests", () => {
  assert.equal(quick.json.aborted, null);
  assert.deepEqual(quick.json.arms.map((arm) => arm.id), ARMS.map((arm) => arm.id));
  for (const arm of quick.json.arms) {
    assert.ok(arm.cases.length >= 2, `arm ${arm.id} has ${arm.cases.length} routing cases`);
    for (const routingCase of arm.cases) assert.equal(routingCase.requests, REQUESTS_PER_CASE, `arm ${arm.id}, ${routingCase.name}`);
    // Every arm is verified on the local and the sideways-hop cluster (C3's lookups all answer local).
    if (arm.id !== "C3") assert.ok(arm.cases.some((routingCase) => routingCase.cluster.startsWith(peerCluster(""))), `arm ${arm.id} has no sideways-hop case`);
  }
});

test("bench:route --quick: the timed windows ran on every arm and every answer was a 200", () => {
  for (const arm of quick.json.arms) {
    assert.deepEqual(arm.problems, [], `arm ${arm.id}`);
    assert.ok(arm.search.length === 1 && arm.search[0]!.requests > 100, `arm ${arm.id}: closed-loop window of ${arm.search[0]?.requests} requests`);
    assert.ok(arm.openLoop.completed > 50, `arm ${arm.id}: open-loop window answered ${arm.openLoop.completed}`);
    assert.deepEqual(Object.keys(arm.openLoop.statuses), ["200"], `arm ${arm.id}`);
  }
});

test("bench:route --quick: each flood host is new: a lookup (or a refused one) per request, every answer the no-owner 503", () => {
  const { flood } = quick.json;
  assert.deepEqual(flood.problems, []);
  assert.deepEqual(Object.keys(flood.flood.statuses), ["503"]);
  // Every flood host is new, so none is a cache hit: each either started a lookup or was refused
  // one (over the per-worker cap, or backed off), and each ended in the no-owner reply.
  const stat = (name: string) => flood.routerStats[`edge_router.${name}`] ?? 0;
  assert.ok(stat("lookups") + stat("lookups_shed") + stat("lookups_rate_limited") + stat("lookups_backed_off") >= flood.flood.completed, JSON.stringify(flood.routerStats));
  assert.ok(stat("lookups") > 0);
  assert.ok(stat("rejected.no_owner") >= flood.flood.completed, JSON.stringify(flood.routerStats));
  assert.ok(flood.discoveryCallsPerSecond > 0);
});

test("bench:route --quick: sizing took CPU readings, the table is marked as a smoke run, the docs are untouched, under 60 s", () => {
  assert.ok(quick.json.sizing.steps.length >= 1 && quick.json.sizing.steps.every((step) => step.rps > 0 && step.cpuShare > 0));
  assert.match(quick.output, /SMOKE RUN \(--quick\)/);
  assert.match(quick.output, /phase arms: \d+\.\d s/);
  assert.equal(docHash(), quick.docBefore, "docs/benchmarks.md changed");
  assert.ok(quick.seconds < 60, `quick run took ${quick.seconds.toFixed(1)} s`);
});

/** Arm A's bootstrap plus a Lua filter that always names `cluster`, with arm B's claim cases. */
function luaArm(id: string, cluster: string): Arm {
  const native = ARMS.find((arm) => arm.id === "A")!;
  const claim = ARMS.find((arm) => arm.id === "B")!;
  return {
    ...claim,
    id,
    bootstrap: (generated, context) =>
      withLuaFilter(native.bootstrap(generated, context), `function envoy_on_request(handle)\n  handle:headers():replace("${CLUSTER_HEADER}", "${cluster}")\n  handle:clearRouteCache()\nend\n`),
  };
}

let session: BenchSession;

test("route verification: an arm that sends local users to the peer cluster is stopped with the case and both clusters", async (t) => {
  session = await openSession();
  t.after(() => session.stop());
  const { topology, region, peer } = session.context;
  const app = topology.apps[0]!.name;
  const rates: number[] = [];
  await assert.rejects(
    runArm(session, luaArm("misrouted", peerCluster(peer)), { plan: QUICK_PLAN, rateFor: () => (rates.push(1), 100), log: () => undefined }),
    (error: unknown) => {
      assert.ok(error instanceof RoutingError, String(error));
      assert.match(error.message, new RegExp(`^arm misrouted, case "${app}, owner ${region} \\(local\\)": request 1 of 3 reached cluster ${peerCluster(peer)} .*expected ${localCluster(app, region)}$`));
      return true;
    },
  );
  assert.deepEqual(rates, [], "a misrouting arm must not reach its timed windows");
});

test("route verification: an arm whose answers are not 200 is stopped with the status and Envoy's body", async (t) => {
  session = await openSession();
  t.after(() => session.stop());
  const { topology, region } = session.context;
  const app = topology.apps[0]!.name;
  await assert.rejects(
    runArm(session, luaArm("unrouted", "no-such-cluster"), { plan: QUICK_PLAN, rateFor: () => 100, log: () => undefined }),
    (error: unknown) => {
      assert.ok(error instanceof RoutingError, String(error));
      assert.match(error.message, new RegExp(`^arm unrouted, case "${app}, owner ${region} \\(local\\)": request 1 of 3 answered 503 .*expected 200 from cluster ${localCluster(app, region)}$`));
      return true;
    },
  );
});
