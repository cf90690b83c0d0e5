import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { mermaidDiagram } from "../diagram.ts";
import { defaultTopology } from "./fixtures.ts";
import { renderProxies } from "../bootstraps.ts";
import { CONTAINER_JWT_AUTHN, dockerBackboneTls, dockerPlacement, dockerPublicTls } from "../placement.ts";
import { healthCheck, IDEMPOTENT_METHODS, MIN_RETRY_CONCURRENCY, RETRIES, RETRY_BUDGET_PERCENT } from "../failover.ts";

it("Architecture doc: embeds the diagram generated from the default topology", () => {
  const doc = readFileSync(join(repoRoot, "docs/architecture.md"), "utf8");
  const block = /```mermaid\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "docs/architecture.md has no mermaid block");
  assert.equal(block[1], mermaidDiagram(defaultTopology()), "regenerate with `npm run render -- --diagram`");
});

it("Diagram: shows every POP, every app and a backbone link for every pair of regions", () => {
  const topology = defaultTopology();
  const diagram = mermaidDiagram(topology);
  for (const region of topology.regions) {
    for (const pop of region.pops) assert.ok(diagram.includes(`["${region.name}-${pop.name}<br/>`), `${region.name}-${pop.name}`);
  }
  for (const app of topology.apps) assert.ok(diagram.includes(`-- "${app.prefix}" -->`), app.prefix);
  const pairs = (topology.regions.length * (topology.regions.length - 1)) / 2;
  assert.equal(diagram.split("\n").filter((line) => line.includes(" <== ")).length, pairs);
});

it("Architecture doc: the failover table states the retry conditions and limits the bootstraps carry", () => {
  const doc = readFileSync(join(repoRoot, "docs/architecture.md"), "utf8");
  const topology = defaultTopology();
  const retryOn = new Set<string>();
  for (const proxy of renderProxies(topology, dockerPlacement(topology), { wasmPath: "/m", jwtAuthn: CONTAINER_JWT_AUTHN, topologyPath: "t", backboneTls: dockerBackboneTls, publicTls: dockerPublicTls })) {
    for (const listener of proxy.bootstrap.static_resources.listeners) {
      const hcm = listener.filter_chains[0]!.filters[1]!;
      if (hcm.name !== "envoy.filters.network.http_connection_manager") continue;
      for (const route of hcm.typed_config.route_config.virtual_hosts.flatMap((host) => host.routes)) {
        if (route.route?.retry_policy) retryOn.add(route.route.retry_policy.retry_on);
      }
    }
  }
  // Two method classes, each with and without the unserved retry of an app that fails over.
  assert.equal(retryOn.size, 4, [...retryOn].join(" | "));
  for (const conditions of retryOn) assert.ok(doc.includes(`\`${conditions}\``), `docs/architecture.md does not list retry_on ${conditions}`);
  assert.ok(doc.includes(`${RETRIES} retries`));
  assert.ok(doc.includes(`retry budget ${RETRY_BUDGET_PERCENT}% (at least ${MIN_RETRY_CONCURRENCY})`));
  assert.ok(doc.includes(`\`${IDEMPOTENT_METHODS.join(" ")}\``));
  assert.ok(doc.includes(`every ${healthCheck("/").interval.replace("s", " s")}`));
});
