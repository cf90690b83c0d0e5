import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { stringify } from "yaml";
import { DEFAULT_TOPOLOGY_PATH, loadTopology, parseTopology, TopologyError } from "../load.ts";
import { listPops, publishedHostPorts } from "../inventory.ts";
import { validRaw } from "./fixtures.ts";

const scratch = mkdtempSync(join(tmpdir(), "edgerim-topology-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function withEnv<T>(name: string, value: string | undefined, body: () => T): T {
  const previous = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return body();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

describe("loading the topology", () => {
  it("Default topology: loads with every region owning POPs, a datacenter and a tenant", () => {
    const topology = withEnv("EDGE_TOPOLOGY", undefined, () => loadTopology());
    assert.ok(topology.regions.length >= 2, "a multi-region network needs at least two regions");
    for (const region of topology.regions) {
      assert.ok(region.pops.length >= 1);
      assert.deepEqual(Object.keys(region.datacenter.apps).sort(), topology.apps.map((app) => app.name).sort());
      assert.ok(topology.tenants.some((tenant) => tenant.region === region.name), `no tenant in ${region.name}`);
    }
    const ports = publishedHostPorts(topology).map((claim) => claim.port);
    assert.equal(new Set(ports).size, ports.length);
    assert.equal(new Set(listPops(topology).map((pop) => pop.id)).size, listPops(topology).length);
  });

  it("Defaults: omitted sections take the documented defaults", () => {
    const topology = parseTopology(stringify(validRaw()), "inline");
    assert.deepEqual(topology.routing, {
      fallback: { policy: "reject" },
      maxHops: 1,
      precedence: ["jwt", "tenant"],
      conflict: "prefer-first",
      discovery: {
        timeoutMs: 500, cacheTtlSeconds: 30, negativeCacheTtlSeconds: 5, negativeCacheMaxEntries: 4096,
        staleIfErrorSeconds: 600, maxConcurrentLookups: 64, maxLookupsPerSecond: 500, failureBackoffMs: 1000,
      },
    });
    assert.deepEqual(
      topology.apps.map((app) => [app.name, app.placement, app.residency]),
      [["cart", "owner-only", "none"], ["search", "owner-only", "none"]],
    );
    assert.equal(topology.jwt.regionClaim, "region");
    assert.deepEqual(topology.ports, {
      popClient: 8080, popClientTls: 8444, popBackbone: 8443, envoyAdmin: 9901, envoyStats: 9902, ingress: 8080, app: 8080, discovery: 8080,
    });
    assert.deepEqual(topology.tls, { domain: "edgerim.test", redirectCleartext: false });
    assert.equal(topology.regions[1]!.datacenter.ingressReplicas, 1);
  });

  it("YAML: a failover list may be written as a flow list", () => {
    const text = stringify(validRaw()).replace("    prefix: /cart\n", "    prefix: /cart\n    placement: { failover: [south, north] }\n");
    assert.match(text, /placement: \{ failover: \[south, north\] \}/);
    const topology = parseTopology(text, "inline");
    assert.deepEqual(topology.apps[0]!.placement, { failover: ["south", "north"] });
  });

  it("EDGE_TOPOLOGY: selects the file when no path is given, relative to the working directory", () => {
    const file = join(scratch, "alt.yaml");
    writeFileSync(file, stringify(validRaw()));
    const absolute = withEnv("EDGE_TOPOLOGY", file, () => loadTopology());
    assert.equal(absolute.project, "shop");
    assert.deepEqual(absolute.regions.map((region) => region.name), ["north", "south"]);
    const relativePath = withEnv("EDGE_TOPOLOGY", relative(process.cwd(), file), () => loadTopology());
    assert.equal(relativePath.project, "shop");
    const explicit = withEnv("EDGE_TOPOLOGY", file, () => loadTopology(DEFAULT_TOPOLOGY_PATH));
    assert.notEqual(explicit.project, "shop", "an explicit path wins over EDGE_TOPOLOGY");
  });

  it("EDGE_TOPOLOGY: a missing file is one clear problem naming the file", () => {
    const missing = join(scratch, "absent.yaml");
    assert.throws(
      () => withEnv("EDGE_TOPOLOGY", missing, () => loadTopology()),
      (error: unknown) => {
        assert.ok(error instanceof TopologyError);
        assert.equal(error.source, missing);
        assert.deepEqual(error.problems, [
          "(file): cannot be read (ENOENT); expected a readable YAML file (set EDGE_TOPOLOGY or pass a path)",
        ]);
        return true;
      },
    );
  });

  it("YAML: a syntax error names its line; duplicate keys are errors", () => {
    assert.throws(
      () => parseTopology("project: shop\napps: [\n", "broken.yaml"),
      (error: unknown) => error instanceof TopologyError && /^line \d+, column \d+: .*; expected valid YAML$/.test(error.problems[0]!),
    );
    assert.throws(
      () => parseTopology("project: shop\nproject: other\n", "dup.yaml"),
      (error: unknown) => error instanceof TopologyError && /^line 2, column 1: .*unique.*; expected valid YAML$/i.test(error.problems[0]!),
    );
  });

  it("Errors: the message names the source file and lists every problem", () => {
    const raw = validRaw();
    raw.regions[0].pops[0].name = "Pop A";
    raw.tenants[0].region = "west";
    const file = join(scratch, "bad.yaml");
    writeFileSync(file, stringify(raw));
    assert.throws(
      () => loadTopology(file),
      (error: unknown) => {
        assert.ok(error instanceof TopologyError);
        assert.equal(error.problems.length, 2);
        assert.equal(
          error.message,
          `invalid topology ${file} (2 problems):\n` +
            `  - regions[0].pops[0].name: "Pop A" is not a valid name; expected lowercase letters, digits and '-' (1-40 chars, starting with a letter, not ending with '-')\n` +
            `  - tenants[0].region: "west" is not a region of the topology; expected one of the regions: north, south`,
        );
        return true;
      },
    );
  });

  it("Document: a non-mapping document is rejected", () => {
    assert.throws(
      () => parseTopology("- a\n- b\n", "list.yaml"),
      (error: unknown) =>
        error instanceof TopologyError && error.problems[0] === `(document): ["a","b"] is not a mapping; expected a mapping with project, jwt, apps, regions and tenants`,
    );
  });
});
