import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { repoRoot, toolPath } from "../../scripts/toolchain/paths.ts";
import { startAppServer, type AppServer } from "../../upstreams/app/server.ts";
import { decodeClaims } from "../../upstreams/tokens/decode.ts";
import { formatRouteMatrix, routeCellThresholds } from "../lib/route-matrix.ts";
import { loadProfile } from "../lib/profiles.ts";
import { K6_THRESHOLDS_FAILED, runLoad } from "../run.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";

// Without Envoy there is no routing: each fixture "POP" URL is an app server of its own region,
// so requests owned by the other region are served by the wrong one. That is what makes the
// checks and the matrix observable here; the routed matrix is asserted by the Docker end-to-end test.
const REGION_A = "region-a";
const REGION_B = "region-b";

let workDir: string;
let appA: AppServer;
let appB: AppServer;

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function fixtureOutputs(overrides: Partial<Record<"bStatsUrl" | "bClientUrl", string>> = {}): DeployOutputs {
  return {
    project: "fixture",
    ca: "/nonexistent/ca.crt",
    regions: [REGION_A, REGION_B],
    pops: [
      { id: `${REGION_A}-pop-1`, region: REGION_A, pop: "pop-1", clientUrl: appA.url, tlsUrl: "https://127.0.0.1:1", statsUrl: appA.url },
      {
        id: `${REGION_B}-pop-1`,
        region: REGION_B,
        pop: "pop-1",
        clientUrl: overrides.bClientUrl ?? appB.url,
        tlsUrl: "https://127.0.0.1:1",
        statsUrl: overrides.bStatsUrl ?? appB.url,
      },
    ],
    tenants: [
      { host: "shop.region-a.test", region: REGION_A },
      { host: "news.region-b.test", region: REGION_B },
    ],
    apps: [
      { name: "catalog", prefix: "/catalog", serving: { [REGION_A]: [REGION_A], [REGION_B]: [REGION_B] }, residency: "none" },
      { name: "orders", prefix: "/orders", serving: { [REGION_A]: [REGION_A], [REGION_B]: [REGION_B] }, residency: "none" },
    ],
    jurisdictions: { [REGION_A]: "a", [REGION_B]: "b" },
    jwt: { issuer: "https://issuer.fixture.test", audiences: ["fixture-api"], regionClaim: "region", maxTokenTtlSeconds: 3600 },
  };
}

function writeOutputs(name: string, outputs: DeployOutputs): string {
  const file = join(workDir, name);
  writeFileSync(file, JSON.stringify(outputs));
  return file;
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), "edgerim-load-"));
  appA = await startAppServer({ app: "catalog", region: REGION_A });
  appB = await startAppServer({ app: "catalog", region: REGION_B });
});

after(async () => {
  await appA?.close();
  await appB?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("cross-region k6 script", () => {
  test("cross-region: k6 inspect derives p95 and p99 thresholds per entry region, one route cell per region triple, an arrival-rate scenario", async () => {
    const outputsFile = writeOutputs("inspect-outputs.json", fixtureOutputs());
    const tokensFile = join(workDir, "inspect-tokens.json");
    writeFileSync(tokensFile, JSON.stringify({ [REGION_A]: "a.b.c", [REGION_B]: "a.b.c" }));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        toolPath("k6"),
        [
          "inspect",
          "-e",
          `OUTPUTS_FILE=${outputsFile}`,
          "-e",
          `TOKENS_FILE=${tokensFile}`,
          "-e",
          "PROFILE=smoke",
          join(repoRoot, "load/cross-region.ts"),
        ],
        { env: { ...process.env, K6_NO_USAGE_REPORT: "true" } },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    const options = JSON.parse(stdout) as {
      thresholds: Record<string, string[]>;
      scenarios: Record<string, { executor: string; rate: number; timeUnit: string; duration: string; preAllocatedVUs: number }>;
    };
    assert.deepEqual(options.thresholds.http_req_failed, ["rate<0.01"]);
    assert.deepEqual(options.thresholds.checks, ["rate>0.99"]);
    assert.deepEqual(options.thresholds[`http_req_duration{entry_region:${REGION_A}}`], ["p(95)<300", "p(99)<1000"]);
    assert.deepEqual(options.thresholds[`http_req_duration{entry_region:${REGION_B}}`], ["p(95)<300", "p(99)<1000"]);
    const cells = Object.keys(options.thresholds).filter((key) => key.startsWith("edge_route_requests{entry_region:"));
    assert.equal(cells.length, 2 * 2 * 3, "entry x owner x (serving regions + none)");
    for (const cell of cells) assert.deepEqual(options.thresholds[cell], ["count>=0"]);
    assert.deepEqual(options.thresholds[`edge_route_requests{entry_pop:${REGION_B}-pop-1}`], ["count>=0"], "requests per entry POP are reported");
    assert.deepEqual(options.thresholds[`edge_route_errors{entry_region:${REGION_A},owner_region:${REGION_B}}`], ["count>=0"]);
    assert.deepEqual(options.thresholds[`edge_misroutes{entry_region:${REGION_B},owner_region:${REGION_A}}`], ["count>=0"]);
    assert.deepEqual(options.thresholds.edge_misroutes, ["count==0"]);
    assert.deepEqual(options.thresholds[`edge_misroutes{owner_region:${REGION_A}}`], ["count==0"]);
    const { executor, rate, timeUnit, duration, preAllocatedVUs } = options.scenarios.cross_region!;
    assert.deepEqual({ executor, rate, timeUnit, duration, preAllocatedVUs }, { executor: "constant-arrival-rate", rate: 50, timeUnit: "1s", duration: "20s", preAllocatedVUs: 10 });
  });

  test("runLoad: each sweep sends through each POP x (user of each region, tenant of each region) x app; the matrix shows who served, once", async () => {
    const stateDir = join(workDir, "state-sweep");
    const result = await runLoad({
      outputsFile: writeOutputs("sweep-outputs.json", fixtureOutputs()),
      stateDir,
      iterations: 2,
      output: "capture",
    });
    // Misrouted requests (served by the entry region, not the owner) must fail the checks and misroute thresholds.
    assert.equal(result.exitCode, K6_THRESHOLDS_FAILED, result.stderr);
    const summary = result.summary;
    assert.ok(summary, `no summary: ${result.stderr}`);
    assert.equal(result.summaryFile, join(stateDir, "k6-summary.json"));
    assert.deepEqual(JSON.parse(readFileSync(result.summaryFile, "utf8")), summary);

    // Per iteration and entry POP: 2 owners x (1 user + 1 tenant) x 2 apps = 8 requests; 2 iterations.
    assert.deepEqual(summary.routeMatrix, [
      { entryRegion: REGION_A, ownerRegion: REGION_A, servingRegion: REGION_A, count: 8 },
      { entryRegion: REGION_A, ownerRegion: REGION_B, servingRegion: REGION_A, count: 8 },
      { entryRegion: REGION_B, ownerRegion: REGION_A, servingRegion: REGION_B, count: 8 },
      { entryRegion: REGION_B, ownerRegion: REGION_B, servingRegion: REGION_B, count: 8 },
    ]);
    assert.equal(summary.requests, 32);
    assert.deepEqual(summary.checks, [
      { name: "status is 200", passes: 32, fails: 0 },
      { name: "served by the owner region", passes: 16, fails: 16 },
      { name: "x-edge-route names the owner region", passes: 0, fails: 32 },
      { name: "x-edge-route hops: 1 when entering a non-owner region, else 0", passes: 0, fails: 32 },
      { name: "app saw the same hops", passes: 16, fails: 16 },
    ]);
    assert.deepEqual(summary.failedThresholds.sort(), [
      "checks: rate>0.99",
      "edge_misroutes: count==0",
      `edge_misroutes{owner_region:${REGION_A}}: count==0`,
      `edge_misroutes{owner_region:${REGION_B}}: count==0`,
    ]);
    assert.equal(summary.misroutes, 16, "every request served outside its owner region is a misroute");
    assert.deepEqual(summary.misroutesByOwnerRegion, { [REGION_A]: 8, [REGION_B]: 8 });
    assert.ok(summary.latencyByEntryRegion[REGION_A]?.["p(95)"] !== undefined);
    assert.ok(summary.latencyByEntryRegion[REGION_B]?.["p(95)"] !== undefined);
    assert.equal(summary.errors, 0);
    assert.deepEqual(summary.cellIssues, [
      { entryRegion: REGION_A, ownerRegion: REGION_B, errors: 0, misroutes: 8 },
      { entryRegion: REGION_B, ownerRegion: REGION_A, errors: 0, misroutes: 8 },
    ]);
    assert.deepEqual(summary.requestsByEntryPop, { [`${REGION_A}-pop-1`]: 16, [`${REGION_B}-pop-1`]: 16 });
    assert.ok(summary.latencyByEntryRegion[REGION_A]?.["p(99)"] !== undefined);
    assert.equal(summary.ratePerSecond, null, "a fixed number of sweeps has no offered rate");
    assert.equal(result.stdout.match(/^route matrix:/gm)?.length, 1, "the matrix is printed once");
    assert.match(
      result.stdout,
      new RegExp(`^${REGION_A} +${REGION_A} 8 +!${REGION_A} 8 \\[errors 0, misroutes 8\\] +\\d+\\.\\d ms +\\d+\\.\\d ms +${REGION_A}-pop-1 16$`, "m"),
    );
    assert.doesNotMatch(result.stdout + result.stderr, /running \(|default \[/, "no progress lines when not on a terminal");

    assert.equal(statSync(result.tokensFile).mode & 0o777, 0o600);
    const tokens = JSON.parse(readFileSync(result.tokensFile, "utf8")) as Record<string, string>;
    assert.deepEqual(Object.keys(tokens).sort(), [REGION_A, REGION_B]);
    for (const [region, token] of Object.entries(tokens)) {
      const claims = decodeClaims(token);
      assert.equal(claims?.region, region);
      assert.equal(claims?.iss, "https://issuer.fixture.test");
      assert.equal(claims?.aud, "fixture-api");
    }
  });

  test("cross-region: setup fails fast and names the POP whose stats listener is down", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const result = await runLoad({
      outputsFile: writeOutputs("stats-down-outputs.json", fixtureOutputs({ bStatsUrl: down })),
      stateDir: join(workDir, "state-stats-down"),
      iterations: 1,
      output: "capture",
    });
    assert.notEqual(result.exitCode, 0);
    assert.notEqual(result.exitCode, K6_THRESHOLDS_FAILED);
    assert.ok(Date.now() - started < 15_000, "setup did not fail fast");
    assert.match(result.stdout + result.stderr, new RegExp(`POP ${REGION_B}-pop-1 is not ready: GET ${down}/ready`));
    assert.equal(result.summary?.requests ?? 0, 0, "the sweep ran although setup failed");
  });

  test("cross-region: setup fails fast and names the POP whose client listener is down", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const result = await runLoad({
      outputsFile: writeOutputs("client-down-outputs.json", fixtureOutputs({ bClientUrl: down })),
      stateDir: join(workDir, "state-client-down"),
      iterations: 1,
      output: "capture",
    });
    assert.notEqual(result.exitCode, 0);
    assert.notEqual(result.exitCode, K6_THRESHOLDS_FAILED);
    assert.match(
      result.stdout + result.stderr,
      new RegExp(`POP ${REGION_B}-pop-1 client listener is down: GET ${down}/`),
    );
  });

  test("runLoad: missing deploy outputs name the file and the fix", async () => {
    const missing = join(workDir, "no-outputs.json");
    await assert.rejects(
      runLoad({ outputsFile: missing, stateDir: join(workDir, "state-missing"), output: "capture" }),
      new RegExp(`^Error: ${missing.replaceAll(".", "\\.")} not found: run \`npm run deploy\` first$`),
    );
  });
});

describe("load profiles and route matrix", () => {
  test("loadProfile: requests arrive at a constant rate (smoke 50/s for 20 s, load RATE for DURATION); ITERATIONS runs that many sweeps", () => {
    assert.deepEqual(loadProfile({ PROFILE: "smoke" }, 8).scenario, {
      executor: "constant-arrival-rate",
      rate: 50,
      timeUnit: "1s",
      duration: "20s",
      preAllocatedVUs: 10,
      maxVUs: 40,
    });
    const load = loadProfile({ PROFILE: "load", RATE: "120", VUS: "12", DURATION: "1m" }, 8);
    assert.deepEqual(load.scenario, { executor: "constant-arrival-rate", rate: 120, timeUnit: "1s", duration: "1m", preAllocatedVUs: 12, maxVUs: 48 });
    assert.equal(load.ratePerSecond, 120);
    assert.deepEqual(loadProfile({ ITERATIONS: "3", VUS: "5" }, 8).scenario, {
      executor: "shared-iterations",
      vus: 5,
      iterations: 24,
      maxDuration: "5m",
    });
    assert.deepEqual([loadProfile({}, 8).p95Ms, loadProfile({}, 8).p99Ms], [300, 1000]);
    assert.deepEqual([loadProfile({ P95_MS: "250", P99_MS: "400" }, 8).p95Ms, loadProfile({ P99_MS: "400" }, 8).p99Ms], [250, 400]);
  });

  test("loadProfile: a bad knob names the variable and what is valid", () => {
    assert.throws(() => loadProfile({ PROFILE: "soak" }, 8), /^Error: PROFILE=soak is invalid; expected smoke or load$/);
    assert.throws(() => loadProfile({ VUS: "0" }, 8), /^Error: VUS=0 is invalid; expected a positive integer$/);
    assert.throws(() => loadProfile({ RATE: "fast" }, 8), /^Error: RATE=fast is invalid; expected a positive integer$/);
    assert.throws(() => loadProfile({ DURATION: "soon" }, 8), /^Error: DURATION=soon is invalid; expected a k6 duration/);
  });

  test("route matrix: a cell served outside its owner region is marked with '!'", () => {
    const text = formatRouteMatrix(
      [
        { entryRegion: REGION_A, ownerRegion: REGION_A, servingRegion: REGION_A, count: 4 },
        { entryRegion: REGION_A, ownerRegion: REGION_B, servingRegion: REGION_B, count: 3 },
        { entryRegion: REGION_A, ownerRegion: REGION_B, servingRegion: "none", count: 1 },
        { entryRegion: REGION_B, ownerRegion: REGION_A, servingRegion: REGION_B, count: 2 },
      ],
      [REGION_A, REGION_B],
    );
    const rows = text.split("\n").slice(2);
    assert.match(rows[0]!, new RegExp(`^${REGION_A} +${REGION_A} 4 +${REGION_B} 3, !none 1$`));
    assert.match(rows[1]!, new RegExp(`^${REGION_B} +!${REGION_B} 2 +-$`));
  });

  test("route matrix: thresholds name every entry x owner x serving cell", () => {
    const keys = Object.keys(routeCellThresholds([REGION_A, REGION_B]));
    assert.equal(keys.length, 12);
    assert.ok(
      keys.includes(`edge_route_requests{entry_region:${REGION_B},owner_region:${REGION_A},serving_region:none}`),
    );
  });
});
