import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { mermaidDiagram } from "../diagram.ts";
import { defaultTopology } from "./fixtures.ts";

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
