import { test } from "node:test";
import assert from "node:assert/strict";
import { formatLatencyMatrix, hopCosts, latencyMatrixFromMetrics, type LatencyCell } from "../lib/latency-matrix.ts";

const regions = ["east", "west"];
const metric = (entry: string, owner: string) => `http_req_duration{entry_region:${entry},owner_region:${owner}}`;

test("latency matrix: cells come from the tagged sub-metrics k6 reports, in region order; an unreported cell is absent", () => {
  const cells = latencyMatrixFromMetrics({
    [metric("east", "east")]: { values: { med: 5, "p(95)": 9 } },
    [metric("east", "west")]: { values: { med: 66, "p(95)": 80 } },
    [metric("west", "west")]: { values: { med: 6, "p(95)": 10 } },
  }, regions);
  assert.deepEqual(cells.map((c) => [c.entryRegion, c.ownerRegion, c.p50Ms, c.p95Ms]), [["east", "east", 5, 9], ["east", "west", 66, 80], ["west", "west", 6, 10]]);
  assert.match(formatLatencyMatrix(cells, regions), /west\s+-\s+6\.0 \/ 10\.0/);
});

test("hop costs: each cell off the diagonal against its pair's RTT plus the owner's local p50", () => {
  const cells: LatencyCell[] = [
    { entryRegion: "east", ownerRegion: "east", p50Ms: 5, p95Ms: 9 },
    { entryRegion: "west", ownerRegion: "west", p50Ms: 6, p95Ms: 10 },
    { entryRegion: "east", ownerRegion: "west", p50Ms: 72, p95Ms: 80 },
    { entryRegion: "west", ownerRegion: "east", p50Ms: 52.5, p95Ms: 60 },
  ];
  const hops = hopCosts(cells, regions, () => 60);
  assert.deepEqual(hops.map((h) => [h.entryRegion, h.ownerRegion, h.localMs, h.measuredMs]), [["east", "west", 6, 72], ["west", "east", 5, 52.5]]);
  assert.ok(Math.abs(hops[0]!.deviation - 6 / 66) < 1e-9, "72 against 60 + 6");
  assert.ok(Math.abs(hops[1]!.deviation - -12.5 / 65) < 1e-9, "52.5 against 60 + 5");
  assert.deepEqual(hopCosts(cells.slice(0, 3), regions, () => 60).map((h) => h.entryRegion), ["east"], "a cell k6 did not report is left out");
});
