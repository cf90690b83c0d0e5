// The soak's quick mode, run as a user runs it: samples are taken at the requested counts, every
// number in the table parses, the doc section is written between its markers. Not a performance test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { sectionOf } from "../benchmarks-doc.ts";
import { MIX } from "../traffic-mix.ts";
import { PEER_REGION } from "../soak-topology.ts";

const REQUESTS = 20_000;
const SAMPLE_EVERY = 5_000;
const OTHER_SECTION = "<!-- hand-written section that the soak must keep -->";

interface RunJson {
  samples: {
    requests: number;
    memory: { rssBytes: number; allocatedBytes: number; heapSizeBytes: number; wasmMemoryBytes: number | null };
    batch: { responses: number; seconds: number } | null;
  }[];
  statuses: Record<string, number>;
  errors: number;
  filterStats: Record<string, number>;
  growth: { rss: { bytesPerMillion: number; samples: number } | null; allocated: { bytesPerMillion: number } | null };
  problems: string[];
}

let dir: string;
let child: ChildProcess | undefined;
let run: { code: number | null; output: string; json: RunJson; doc: string };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgerim-soak-test-"));
  const doc = join(dir, "benchmarks.md");
  writeFileSync(doc, `# Benchmarks\n\n${OTHER_SECTION}\n`);
  const json = join(dir, "soak.json");
  const args = [
    "--import", "tsx", "bench/soak.ts",
    "--requests", String(REQUESTS), "--sample-every", String(SAMPLE_EVERY), "--warmup", String(SAMPLE_EVERY),
    "--doc", doc, "--json", json,
  ];
  const started = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  child = started;
  let output = "";
  started.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  started.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => started.on("close", resolve));
  child = undefined;
  assert.equal(code, 0, `quick soak failed:\n${output}`);
  run = { code, output, json: JSON.parse(readFileSync(json, "utf8")) as RunJson, doc: readFileSync(doc, "utf8") };
});

after(() => {
  // Only when the run is still going (the test timed out): on SIGTERM the soak stops its edge.
  child?.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("soak quick mode: a sample is taken before any request and after every --sample-every responses", () => {
  assert.deepEqual(
    run.json.samples.map((sample) => sample.requests),
    [0, 5_000, 10_000, 15_000, 20_000],
  );
  assert.equal(run.json.samples[0]!.batch, null);
  for (const sample of run.json.samples.slice(1)) {
    assert.equal(sample.batch!.responses, SAMPLE_EVERY);
    assert.ok(sample.batch!.seconds > 0);
  }
});

test("soak quick mode: memory numbers are real byte counts of the POP Envoy", () => {
  for (const { memory } of run.json.samples) {
    assert.ok(Number.isInteger(memory.rssBytes) && memory.rssBytes > 10 * 1024 * 1024, `RSS ${memory.rssBytes}`);
    assert.ok(memory.allocatedBytes > 1024 * 1024, `allocated ${memory.allocatedBytes}`);
    assert.ok(memory.heapSizeBytes >= memory.allocatedBytes, "the allocator holds at least what it handed out");
    assert.ok(memory.rssBytes >= memory.allocatedBytes, "what is allocated is resident or was never touched");
    if (memory.wasmMemoryBytes !== null) {
      assert.equal(memory.wasmMemoryBytes % 65_536, 0, "Wasm linear memory is whole 64 KiB pages");
    }
  }
  assert.equal(run.json.growth.rss!.samples, 4, "growth is fitted to the samples at and after warm-up");
  assert.ok(Number.isFinite(run.json.growth.allocated!.bytesPerMillion));
});

// A batch ends at its quota of responses while up to one request per connection is still in
// flight, so counts per kind may be off from the list's exact shares by that much per batch.
const SLACK = 32 * (REQUESTS / SAMPLE_EVERY);
const expectedOf = (perMille: number) => (REQUESTS * perMille) / 1000;

function assertNear(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= SLACK, `${what}: ${actual}, expected ${expected} +/- ${SLACK}`);
}

test("soak quick mode: every response has the status its request kind should get, in the mix's shares", () => {
  const expected = new Map<string, number>();
  for (const share of Object.values(MIX)) expected.set(String(share.status), (expected.get(String(share.status)) ?? 0) + expectedOf(share.perMille));
  assert.deepEqual(Object.keys(run.json.statuses).sort(), [...expected.keys()].sort(), "no status outside the mix");
  for (const [status, count] of expected) assertNear(run.json.statuses[status], count, `status ${status}`);
  assert.equal(Object.values(run.json.statuses).reduce((sum, count) => sum + count, 0), REQUESTS);
  assert.equal(run.json.errors, 0);
  assert.deepEqual(run.json.problems, []);
});

test("soak quick mode: the filter counted each of its paths", () => {
  const stats = run.json.filterStats;
  assertNear(stats["edge_router.rejected.no_app"], expectedOf(MIX["no-app"].perMille), "no_app rejections");
  assertNear(stats["edge_router.rejected.unknown_region"], expectedOf(MIX["unlisted-region"].perMille), "unknown_region rejections");
  assertNear(stats["edge_router.fallback"], expectedOf(MIX["unknown-tenant"].perMille), "unknown tenants served by the fallback region");
  assertNear(
    stats["edge_router.routed_local"],
    expectedOf(MIX["local-user"].perMille + MIX["home-tenant"].perMille + MIX["unknown-tenant"].perMille),
    "requests served by the home datacenter (fallback included)",
  );
  assertNear(
    stats[`edge_router.forwarded.${PEER_REGION}`],
    expectedOf(MIX["peer-user"].perMille + MIX["peer-tenant"].perMille),
    "requests sent sideways to the peer region",
  );
  const hostRequests = expectedOf(MIX["home-tenant"].perMille + MIX["peer-tenant"].perMille + MIX["unknown-tenant"].perMille);
  const hits = stats["edge_router.cache_hits"] ?? 0;
  const lookups = stats["edge_router.lookups"] ?? 0;
  assert.ok(hits > hostRequests / 10 && lookups > hostRequests / 10, `both cache hits (${hits}) and discovery lookups (${lookups}) are common`);
  // A request for a host whose lookup is in flight joins it: neither a hit nor a lookup of its own.
  assert.ok(
    hits + lookups <= hostRequests + SLACK && hits + lookups >= hostRequests * 0.95,
    `host requests answered from the cache or by a lookup: ${hits + lookups} of ${hostRequests}`,
  );
});

test("soak quick mode: the table is printed and written to its doc section, numbers parse", () => {
  const section = sectionOf(run.doc, "soak");
  assert.ok(section, "the soak section is in the doc");
  assert.ok(run.doc.includes(OTHER_SECTION), "other content of the doc is kept");
  assert.ok(section!.includes("npm run bench:soak -- --requests 20000 --sample-every 5000 --warmup 5000"), "the doc names the command");
  const rows = section!
    .split("\n")
    .filter((line) => /^\| [\d,]+ \|/.test(line))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()));
  assert.equal(rows.length, 5);
  for (const [requests, rss, allocated, heap, wasm, rps, p99] of rows as string[][]) {
    for (const cell of [requests, rss, allocated, heap]) assert.ok(Number.isFinite(Number(cell!.replaceAll(",", ""))), `cell ${cell}`);
    assert.ok(wasm === "n/a" || Number.isFinite(Number(wasm!.replaceAll(",", ""))), `wasm cell ${wasm}`);
    assert.ok(rps === "-" || Number(rps!.replaceAll(",", "")) > 0, `rps cell ${rps}`);
    assert.ok(p99 === "-" || Number(p99) > 0, `p99 cell ${p99}`);
  }
  assert.match(section!, /\| RSS \| [+-]\d+\.\d{3} MiB \| 4 \|/);
  assert.match(run.output, /^\s+20,000\s+\d+\.\d/m, "the terminal table has the last sample");
});
