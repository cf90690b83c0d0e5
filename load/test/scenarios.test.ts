import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { RestoreStack, scenarioResult, SCENARIO_NAMES, type ScenarioContext, type ScenarioResult } from "../scenarios/scenario.ts";
import { BEGIN_MARKER, END_MARKER, formatReliabilityTable, replaceGeneratedSection } from "../scenarios/reliability-table.ts";
import { healthyMembers } from "../../infra/commands/peer-rotation.ts";
import { SCENARIOS } from "../scenarios/run.ts";
import type { FaultLoadRunResult } from "../run.ts";

const ctx = { form: "quick" } as ScenarioContext;

function loadResult(failedThresholds: string[], exitCode = failedThresholds.length ? 99 : 0): FaultLoadRunResult {
  return {
    exitCode,
    summary: {
      ratePerSecond: 150,
      achievedRatePerSecond: 149.5,
      requests: 300,
      droppedIterations: 0,
      misroutes: 0,
      outsideJurisdiction: 0,
      failedThresholds,
      testRunDurationMs: 2000,
      byOwner: [{ ownerRegion: "r1", requests: 300, ok: 299, failover: 0, errors: 1, expectedDegraded: 0, misroutes: 0, p50Ms: 3, p99Ms: 120.4 }],
    },
    summaryFile: "s.json",
    failureLogFile: "f.log",
    failures: [],
    stdout: "",
    stderr: "",
  };
}

describe("scenario runner", () => {
  test("RestoreStack: undoes the faults last-in first-out, each once, and reports the ones that failed", () => {
    const done: string[] = [];
    const stack = new RestoreStack();
    stack.push("start pop", () => done.push("pop"));
    stack.push("start datacenter", () => {
      throw new Error("no such container");
    });
    stack.push("start discovery", () => done.push("discovery"));
    assert.deepEqual(stack.pending, ["start pop", "start datacenter", "start discovery"]);
    assert.deepEqual(stack.runAll(), ["start datacenter: no such container"]);
    assert.deepEqual(done, ["discovery", "pop"]);
    assert.deepEqual(stack.runAll(), []);
    assert.deepEqual(done, ["discovery", "pop"], "a second run (signal handler after finally) undoes nothing twice");
  });

  test("scenarioResult: a failed k6 threshold or a measurement past its target fails the scenario", () => {
    const held = scenarioResult(ctx, "recovery", "docker stop x", { load: loadResult([]), injectedAtMs: 1 }, [{ name: "errors stop", value: 2.5, unit: "s", max: 5 }]);
    assert.equal(held.passed, true);
    assert.deepEqual(held.missed, []);
    const slow = scenarioResult(ctx, "recovery", "docker stop x", { load: loadResult([]), injectedAtMs: 1 }, [{ name: "errors stop", value: 5.2, unit: "s", max: 5 }]);
    assert.deepEqual(slow.missed, ["errors stop: 5.20 s > 5 s"]);
    const unseen = scenarioResult(ctx, "vm-failure", "x", { load: loadResult([]), injectedAtMs: 1 }, [{ name: "leaves rotation", value: null, unit: "s", max: 5 }]);
    assert.deepEqual(unseen.missed, ["leaves rotation: not seen"]);
    const noFault = scenarioResult(ctx, "vm-failure", "x", { load: loadResult([]), injectedAtMs: 1 }, [{ name: "restarts", value: 0, unit: "count", min: 1 }]);
    assert.equal(noFault.passed, false, "a fault that did not take cannot pass");
    const misroute = scenarioResult(ctx, "pop-loss", "x", { load: loadResult(["edge_misroutes: count==0"]), injectedAtMs: 1 });
    assert.deepEqual(misroute.missed, ["threshold edge_misroutes: count==0"]);
    const crashed = scenarioResult(ctx, "pop-loss", "x", { load: { ...loadResult([]), exitCode: 107, summary: undefined, stderr: "setup failed" }, injectedAtMs: 1 });
    assert.equal(crashed.passed, false);
  });

  test("scenarios: every scenario name has exactly one scenario, named after its folder", () => {
    assert.deepEqual(Object.keys(SCENARIOS).sort(), [...SCENARIO_NAMES].sort());
    for (const [name, scenario] of Object.entries(SCENARIOS)) assert.equal(scenario.name, name);
  });

  test("healthyMembers: reads one cluster's healthy member count from a Prometheus page", () => {
    const page = [
      'envoy_cluster_membership_healthy{envoy_cluster_name="edge-router-r1"} 2',
      'envoy_cluster_membership_healthy{envoy_cluster_name="edge-router-r10"} 7',
      'envoy_cluster_membership_total{envoy_cluster_name="edge-router-r2"} 2',
    ].join("\n");
    assert.equal(healthyMembers(page, "edge-router-r1"), 2);
    assert.equal(healthyMembers(page, "edge-router-r2"), undefined);
  });
});

describe("reliability table", () => {
  const result: ScenarioResult = {
    ...scenarioResult(ctx, "datacenter-loss", "docker stop a b", { load: loadResult(["edge_errors{owner_region:r1}: rate<0.001"]), injectedAtMs: 1 }, [
      { name: "errors stop", value: 2.5, unit: "s", max: 5 },
    ]),
  };

  test("formatReliabilityTable: one row per scenario and owner region, the machine and the command", () => {
    const table = formatReliabilityTable([result], { cpus: 2, memoryGiB: 23.5 }, "npm run scenarios", "2026-01-02");
    assert.match(table, /^\| datacenter-loss \| quick \| r1 \| 300 \| 1 \| 0 \| 0 \| 0 \| 3\.0 \| 120 \|$/m);
    assert.match(table, /Machine: 2 CPUs \(nproc\), 23\.5 GiB memory/);
    assert.match(table, /Reproduce: `npm run scenarios`/);
    assert.match(table, /\| datacenter-loss \| FAIL \| .* \| errors stop: 2\.50 s \(target <= 5 s\) \| threshold edge_errors\{owner_region:r1\}: rate<0\.001 \|$/m);
  });

  test("replaceGeneratedSection: replaces only what is between the markers", () => {
    const doc = `# Title\nprose\n${BEGIN_MARKER}\nold table\n${END_MARKER}\nmore prose\n`;
    assert.equal(replaceGeneratedSection(doc, "new table"), `# Title\nprose\n${BEGIN_MARKER}\nnew table\n${END_MARKER}\nmore prose\n`);
    assert.throws(() => replaceGeneratedSection("# no markers", "t"), /lacks the markers/);
  });

  test("docs/reliability.md: has the generated-section markers npm run scenarios writes between", () => {
    const doc = readFileSync(join(repoRoot, "docs/reliability.md"), "utf8");
    assert.ok(doc.indexOf(BEGIN_MARKER) >= 0 && doc.indexOf(END_MARKER) > doc.indexOf(BEGIN_MARKER));
  });
});
