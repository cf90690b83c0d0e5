import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAppServer, type AppServer } from "../../upstreams/app/server.ts";
import { classifyResponse, UNKNOWN_OWNER, type EdgeResponse, type RoutedRequest } from "../lib/edge-response.ts";
import { durationSeconds, faultThresholds, requestMix, validatePlan, type FaultLoadPlan } from "../lib/fault-plan.ts";
import { formatFaultLogEntry, loadStartedAt, formatLoadStarted, parseFaultLog, secondsUntilLastFailure, type FaultLogEntry } from "../lib/fault-log.ts";
import { faultSummaryFromMetrics } from "../lib/fault-summary.ts";
import { K6_THRESHOLDS_FAILED, runFaultLoad } from "../run.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";

const A = "region-a";
const B = "region-b";
const REGIONS = [A, B];

const reply = (status: number, body: unknown, route?: string): EdgeResponse => ({
  status,
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: route ? { "X-Edge-Route": route } : {},
});
const sideways: RoutedRequest = { entryRegion: A, ownerRegion: B, source: "jwt" };
const local: RoutedRequest = { entryRegion: A, ownerRegion: A, source: "host" };

describe("classifyResponse", () => {
  test("classifyResponse: 200 from the owner region with the expected hops is ok; from another region it is a misroute", () => {
    assert.equal(classifyResponse(sideways, reply(200, { region: B, hops: 1 }, `owner=${B};hops=1`), REGIONS).outcome, "ok");
    assert.equal(classifyResponse(local, reply(200, { region: A, hops: 0 }), REGIONS).outcome, "ok");
    const wrong = classifyResponse(sideways, reply(200, { region: A, hops: 0 }), REGIONS);
    assert.equal(wrong.outcome, "misroute");
    assert.equal(wrong.servingRegion, A);
  });

  test("classifyResponse: the owner region with a wrong hop count (app or x-edge-route) is a misroute", () => {
    assert.equal(classifyResponse(sideways, reply(200, { region: B, hops: 0 }), REGIONS).outcome, "misroute");
    assert.equal(classifyResponse(local, reply(200, { region: A, hops: 1 }), REGIONS).outcome, "misroute");
    assert.equal(classifyResponse(sideways, reply(200, { region: B, hops: 1 }, `owner=${B};hops=2`), REGIONS).outcome, "misroute");
  });

  test("classifyResponse: 200 from another region of the serving order, reported by x-edge-route, is a failover", () => {
    const C = "region-c";
    const regions = [...REGIONS, C];
    const owned: RoutedRequest = { entryRegion: A, ownerRegion: B, source: "jwt", serving: [B, C, A] };
    const failover = (region: string, hops: number) =>
      reply(200, { region, hops }, `owner=${B};served=${region};source=jwt;pop=${A}-pop-1;hops=${hops};failover=1`);
    assert.deepEqual(classifyResponse(owned, failover(C, 1), regions), { outcome: "failover", servingRegion: C, reason: `served by ${C} for ${B}` });
    assert.equal(classifyResponse(owned, failover(A, 0), regions).outcome, "failover", "the entry region itself serves with no hop");
    assert.equal(classifyResponse(owned, failover(A, 1), regions).outcome, "misroute", "wrong hop count");
    assert.equal(classifyResponse({ ...owned, serving: [B, C] }, failover(A, 0), regions).outcome, "misroute", "not in the serving order");
    assert.equal(classifyResponse({ ...owned, serving: undefined }, failover(C, 1), regions).outcome, "misroute", "an owner-only app");
    const unreported = reply(200, { region: C, hops: 1 }, `owner=${B};source=jwt;pop=${A}-pop-1;hops=1`);
    assert.equal(classifyResponse(owned, unreported, regions).outcome, "misroute", "a failover the edge does not report");
  });

  test("classifyResponse: a 508 is a misroute whatever the scenario expects", () => {
    const loop = reply(508, { error: "loop_detected" });
    assert.equal(classifyResponse(sideways, loop, REGIONS, { status: 508, error: "loop_detected" }).outcome, "misroute");
  });

  test("classifyResponse: the declared reply is expected-degraded; another status, error field or region name is an error", () => {
    const expected = { status: 503, error: "owner_unavailable", namesOwnerRegion: true };
    const degraded = reply(503, { error: "owner_unavailable", region: B });
    assert.equal(classifyResponse(sideways, degraded, REGIONS, expected).outcome, "expected_degraded");
    assert.equal(classifyResponse(sideways, degraded, REGIONS).outcome, "error", "not declared for this owner");
    assert.equal(classifyResponse(sideways, reply(503, "no healthy upstream"), REGIONS, expected).outcome, "error");
    assert.equal(classifyResponse(sideways, reply(503, { error: "no_owner", region: B }), REGIONS, expected).outcome, "error");
    assert.equal(classifyResponse(sideways, reply(503, { error: "owner_unavailable", region: A }), REGIONS, expected).outcome, "error");
    assert.equal(classifyResponse(sideways, reply(502, { error: "owner_unavailable", region: B }), REGIONS, expected).outcome, "error");
  });

  test("classifyResponse: no response, or a 200 without an app reply, is an error", () => {
    assert.equal(classifyResponse(local, { status: 0, body: null, headers: {} }, REGIONS).outcome, "error");
    assert.equal(classifyResponse(local, reply(200, "<html>"), REGIONS).outcome, "error");
  });
});

describe("fault plan", () => {
  const plan: FaultLoadPlan = {
    ratePerSecond: 150,
    duration: "40s",
    unknownTenants: true,
    owners: {
      [A]: { maxErrorRate: 0.001, expected: { status: 503, error: "owner_unavailable" }, degradedP99Ms: 1000 },
      [UNKNOWN_OWNER]: { maxErrorRate: 0, expected: { status: 503, error: "no_owner" } },
    },
    sourceMaxErrorRate: { host: 0 },
    sourceP99Ms: { unknown: 750 },
  };

  test("faultThresholds: every misroute fails, and each target of the plan is a threshold", () => {
    const t = faultThresholds(plan, REGIONS);
    assert.deepEqual(t.edge_misroutes, ["count==0"]);
    assert.deepEqual(t[`edge_misroutes{owner_region:${B}}`], ["count==0"]);
    assert.deepEqual(t[`edge_errors{owner_region:${A}}`], ["rate<0.001"]);
    assert.deepEqual(t[`edge_errors{owner_region:${B}}`], ["rate>=0"], "no target: reported only");
    assert.deepEqual(t[`edge_errors{owner_region:${UNKNOWN_OWNER}}`], ["rate==0"]);
    assert.deepEqual(t[`edge_duration{owner_region:${A},outcome:expected_degraded}`], ["p(99)<=1000"]);
    assert.deepEqual(t["edge_errors{source:host}"], ["rate==0"]);
    assert.deepEqual(t["edge_duration{source:unknown}"], ["p(99)<=750"]);
  });

  test("validatePlan: a bad field is named with what is valid", () => {
    assert.throws(() => validatePlan({ ...plan, ratePerSecond: 0 }, REGIONS), /ratePerSecond 0: expected a positive integer/);
    assert.throws(() => validatePlan({ ...plan, owners: { atlantis: {} } }, REGIONS), /owners\.atlantis: expected one of region-a, region-b, unknown-tenant/);
    assert.throws(() => validatePlan({ ...plan, unknownTenants: false }, REGIONS), /owners\.unknown-tenant: needs unknownTenants: true/);
    assert.throws(() => validatePlan({ ...plan, duration: "soon" }, REGIONS), /duration soon: expected a k6 duration/);
    assert.equal(validatePlan(plan, REGIONS), plan);
  });

  test("requestMix: one cycle covers every entry POP x app x (user of each region, each tenant, unknown tenant) once", () => {
    const outputs = {
      regions: REGIONS,
      pops: [
        { id: "a-1", region: A, pop: "1", clientUrl: "http://a1", tlsUrl: "https://127.0.0.1:1", statsUrl: "" },
        { id: "b-1", region: B, pop: "1", clientUrl: "http://b1", tlsUrl: "https://127.0.0.1:1", statsUrl: "" },
      ],
      tenants: [{ host: "t.a.test", region: A }, { host: "t.b.test", region: B }],
      apps: [
        { name: "x", prefix: "/x", serving: { [A]: [A, B], [B]: [B, A] }, residency: "none" as const },
        { name: "y", prefix: "/y", serving: { [A]: [A], [B]: [B] }, residency: "jurisdiction" as const },
      ],
    };
    const mix = requestMix(outputs, true);
    assert.equal(mix.length, 2 * 2 * (2 + 2 + 1));
    assert.equal(new Set(mix.map((m) => `${m.entryPop}|${m.app}|${m.source}|${m.ownerRegion}`)).size, mix.length);
    for (const owner of [A, B]) for (const source of ["jwt", "host"]) assert.equal(mix.filter((m) => m.ownerRegion === owner && m.source === source).length, 4);
    assert.equal(mix.filter((m) => m.ownerRegion === UNKNOWN_OWNER && m.host === undefined).length, 4, "unknown hosts are made per request");
    assert.equal(requestMix(outputs, false).length, 16);
    assert.deepEqual(mix.find((m) => m.app === "x" && m.ownerRegion === A)?.serving, [A, B], "each request knows who may serve it");
    assert.deepEqual(mix.find((m) => m.ownerRegion === UNKNOWN_OWNER)?.serving, [UNKNOWN_OWNER]);
    assert.equal(mix.find((m) => m.app === "y")?.residencyBound, true);
  });

  test("durationSeconds: k6 durations", () => {
    assert.equal(durationSeconds("40s"), 40);
    assert.equal(durationSeconds("1m30s"), 90);
    assert.equal(durationSeconds("500ms"), 0.5);
  });

  test("faultSummaryFromMetrics: per owner region counts and latency from the tagged sub-metrics", () => {
    const metrics = {
      [`edge_outcomes{owner_region:${A},outcome:ok}`]: { values: { count: 83 } },
      [`edge_outcomes{owner_region:${A},outcome:error}`]: { values: { count: 4 } },
      [`edge_outcomes{owner_region:${A},outcome:expected_degraded}`]: { values: { count: 5 } },
      [`edge_outcomes{owner_region:${A},outcome:misroute}`]: { values: { count: 1 } },
      [`edge_outcomes{owner_region:${A},outcome:failover}`]: { values: { count: 7 } },
      edge_outside_jurisdiction: { values: { count: 0 } },
      [`edge_duration{owner_region:${A}}`]: { values: { med: 3, "p(99)": 250 } },
      edge_misroutes: { values: { count: 1 }, thresholds: { "count==0": { ok: false } } },
      dropped_iterations: { values: { count: 2 } },
    };
    const s = faultSummaryFromMetrics(metrics, { ratePerSecond: 5, duration: "20s", owners: {} }, [A, B], 25_000);
    assert.deepEqual(s.byOwner[0], { ownerRegion: A, requests: 100, ok: 83, failover: 7, errors: 4, expectedDegraded: 5, misroutes: 1, p50Ms: 3, p99Ms: 250 });
    assert.equal(s.byOwner[1]?.requests, 0);
    assert.equal(s.achievedRatePerSecond, 5, "over the planned 20 s, not the 25 s k6 ran");
    assert.deepEqual(s.failedThresholds, ["edge_misroutes: count==0"]);
    assert.equal(s.droppedIterations, 2);
  });
});

describe("fault log", () => {
  const entry: FaultLogEntry = { startMs: 1000, durationMs: 250, outcome: "error", ownerRegion: A, entryPop: "b-1", source: "jwt", status: 503, reason: "503 no healthy upstream" };

  test("fault log: lines survive k6's console wrapping; other lines are skipped", () => {
    const text = [
      `time="x" level=info msg="${formatLoadStarted(900)}"`,
      `time="x" level=info msg="${formatFaultLogEntry(entry)}"`,
      `time="x" level=warn msg="something else"`,
    ].join("\n");
    assert.equal(loadStartedAt(text), 900);
    assert.deepEqual(parseFaultLog(text), [{ ...entry, reason: "503_no_healthy_upstream" }]);
  });

  test("secondsUntilLastFailure: time from the restore to the end of the last matching failure, 0 when none came after", () => {
    const entries = [entry, { ...entry, startMs: 3000, durationMs: 500 }, { ...entry, startMs: 9000, ownerRegion: B }];
    assert.equal(secondsUntilLastFailure(entries, 2000, (e) => e.ownerRegion === A), 1.5);
    assert.equal(secondsUntilLastFailure(entries, 4000, (e) => e.ownerRegion === A), 0);
  });
});

// Without Envoy every fixture "POP" is an app server of its own region, so requests owned by the
// other region are served by the wrong one: the run must fail on the misroute threshold.
describe("fault-load k6 script", () => {
  let workDir: string;
  let appA: AppServer;
  let appB: AppServer;
  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), "edgerim-fault-"));
    appA = await startAppServer({ app: "catalog", region: A });
    appB = await startAppServer({ app: "catalog", region: B });
  });
  after(async () => {
    await appA?.close();
    await appB?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test("fault load: misrouted requests fail the run, are counted per owner region and logged with their send time", async () => {
    const outputs: DeployOutputs = {
      project: "fixture",
      ca: "/nonexistent/ca.crt",
      regions: REGIONS,
      pops: [
        { id: `${A}-pop-1`, region: A, pop: "pop-1", clientUrl: appA.url, tlsUrl: "https://127.0.0.1:1", statsUrl: appA.url },
        { id: `${B}-pop-1`, region: B, pop: "pop-1", clientUrl: appB.url, tlsUrl: "https://127.0.0.1:1", statsUrl: appB.url },
      ],
      tenants: [{ host: "shop.region-a.test", region: A }, { host: "news.region-b.test", region: B }],
      apps: [{ name: "catalog", prefix: "/catalog", serving: { [A]: [A], [B]: [B] }, residency: "none" }],
      jurisdictions: { [A]: "a", [B]: "b" },
      jwt: { issuer: "https://issuer.fixture.test", audiences: ["fixture-api"], regionClaim: "region", maxTokenTtlSeconds: 3600 },
    };
    const outputsFile = join(workDir, "outputs.json");
    writeFileSync(outputsFile, JSON.stringify(outputs));
    const startedAt = Date.now();
    const result = await runFaultLoad({
      plan: { ratePerSecond: 40, duration: "2s", owners: { [A]: { maxErrorRate: 0 } } },
      outputsFile,
      stateDir: join(workDir, "state"),
      keysDir: join(workDir, "keys"),
      output: "capture",
    });
    assert.equal(result.exitCode, K6_THRESHOLDS_FAILED, result.stderr);
    const summary = result.summary!;
    assert.ok(summary, `no summary: ${result.stderr}`);
    // Half the mix enters the region that does not own it.
    const [ownerA, ownerB] = summary.byOwner;
    assert.ok(summary.requests >= 60, `${summary.requests} requests`);
    assert.ok(ownerA!.misroutes > 0 && ownerB!.misroutes > 0);
    assert.equal(ownerA!.misroutes + ownerA!.ok, ownerA!.requests);
    assert.equal(summary.misroutes, ownerA!.misroutes + ownerB!.misroutes);
    assert.ok(summary.failedThresholds.includes("edge_misroutes: count==0"), JSON.stringify(summary.failedThresholds));
    assert.ok(!summary.failedThresholds.some((t) => t.startsWith("edge_errors")), "misroutes are not errors");
    assert.equal(result.failures.length, summary.misroutes, "every misroute is logged");
    for (const f of result.failures) {
      assert.equal(f.outcome, "misroute");
      assert.notEqual(f.entryPop.startsWith(f.ownerRegion), true);
      assert.ok(f.startMs >= startedAt && f.startMs <= Date.now());
    }
  });
});
