import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import type { Topology } from "../../infra/topology/model.ts";
import { repoRoot, toolPath } from "../../scripts/toolchain/paths.ts";
import { backboneTlsPaths, ensureBackbonePki } from "../backbone-pki.ts";
import { bootstrapYaml, renderProxies, writeProxies } from "../bootstraps.ts";
import { ensureFilterWasm, validateBootstrap, validateBootstraps, writeThrowawayJwtAuthn } from "../envoy-validation.ts";
import { dockerPlacement, loopbackPlacement, type Placement } from "../placement.ts";
import { defaultTopology, fourRegionTopology, sequentialPorts } from "./fixtures.ts";
import { ensurePublicPki } from "../public-tls.ts";

// Every rendered bootstrap must pass the real Envoy binary with the real region-router module.

const scratch = mkdtempSync(join(tmpdir(), "edgerim-envoy-validate-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

let envoy = "";
let wasmPath = "";
/** Envoy reads every TLS file while validating, so each topology gets a real throwaway PKI. */
const throwawayPublicTls = (topology: Topology) => ensurePublicPki(topology, mkdtempSync(join(scratch, "public-tls-"))).sdsFile;
const throwawayJwtAuthn = (topology: Topology) => writeThrowawayJwtAuthn(topology, mkdtempSync(join(scratch, "jwt-")));
const throwawayTls = (topology: Topology) => backboneTlsPaths(ensureBackbonePki(topology, mkdtempSync(join(scratch, "backbone-"))));

before(() => {
  envoy = toolPath("envoy");
  wasmPath = ensureFilterWasm();
});

const cases: [string, () => Topology, (topology: Topology) => Placement][] = [
  ["default topology, docker", defaultTopology, dockerPlacement],
  ["default topology, loopback", defaultTopology, (topology) => loopbackPlacement(topology, sequentialPorts(31000))],
  ["four-region topology, docker", fourRegionTopology, dockerPlacement],
  ["four-region topology, loopback", fourRegionTopology, (topology) => loopbackPlacement(topology, sequentialPorts(32000))],
];

describe("envoy --mode validate", () => {
  for (const [label, build, place] of cases) {
    it(`Envoy: accepts every bootstrap of the ${label} placement`, async () => {
      const topology = build();
      const dir = mkdtempSync(join(scratch, "render-"));
      const inputs = { wasmPath, jwtAuthn: throwawayJwtAuthn(topology), topologyPath: join(repoRoot, "infra/topology.yaml"), backboneTls: throwawayTls(topology), publicTls: throwawayPublicTls(topology) };
      const proxies = renderProxies(topology, place(topology), inputs);
      const files = writeProxies(dir, proxies, inputs);
      assert.equal(files.length, proxies.length);
      const results = await validateBootstraps(envoy, files);
      const failures = results.filter((result) => !result.ok).map((result) => `${basename(result.file)}: ${result.messages.join(" | ")}`);
      assert.deepEqual(failures, []);
    });
  }

  it("Envoy: rejects a bootstrap whose route names a missing cluster, with Envoy's reason", async () => {
    const topology = fourRegionTopology();
    const inputs = { wasmPath, jwtAuthn: throwawayJwtAuthn(topology), topologyPath: "inline", backboneTls: throwawayTls(topology), publicTls: throwawayPublicTls(topology) };
    const [proxy] = renderProxies(topology, dockerPlacement(topology), inputs);
    assert.ok(proxy);
    const valid = join(scratch, "valid.yaml");
    writeFileSync(valid, bootstrapYaml(proxy.bootstrap, inputs.topologyPath));
    assert.equal((await validateBootstrap(envoy, valid)).ok, true);
    const broken = structuredClone(proxy.bootstrap);
    broken.static_resources.clusters = broken.static_resources.clusters.filter((cluster) => cluster.name !== "admin");
    const file = join(scratch, "broken.yaml");
    writeFileSync(file, bootstrapYaml(broken, inputs.topologyPath));
    const result = await validateBootstrap(envoy, file);
    assert.equal(result.ok, false);
    assert.ok(result.messages.some((message) => message.includes("admin")), result.messages.join("\n"));
  });

  it("Envoy: validation runs the region router's configuration, so a plugin config it refuses fails", async () => {
    const topology = fourRegionTopology();
    const inputs = { wasmPath, jwtAuthn: throwawayJwtAuthn(topology), topologyPath: "inline", backboneTls: throwawayTls(topology), publicTls: throwawayPublicTls(topology) };
    const [proxy] = renderProxies(topology, dockerPlacement(topology), inputs);
    assert.ok(proxy?.kind === "pop");
    const broken = structuredClone(proxy.bootstrap);
    for (const current of broken.static_resources.listeners) {
      for (const filter of current.filter_chains[0]!.filters) {
        if (filter.name !== "envoy.filters.network.http_connection_manager") continue;
        for (const http of filter.typed_config.http_filters) {
          if (http.name !== "envoy.filters.http.wasm") continue;
          // A POP must know every region; an empty list is a configuration the router cannot use.
          http.typed_config.config.configuration.value = JSON.stringify({ ...proxy.filterConfig, regions: [] });
        }
      }
    }
    const file = join(scratch, "refused-plugin-config.yaml");
    writeFileSync(file, bootstrapYaml(broken, inputs.topologyPath));
    const result = await validateBootstrap(envoy, file);
    assert.equal(result.ok, false);
    assert.ok(result.messages.some((message) => message.includes("Unable to create Wasm plugin region_router")), result.messages.join("\n"));
  });

  it("Envoy: validation reads the backbone TLS files, so a POP whose key is missing fails", async () => {
    const topology = fourRegionTopology();
    const tls = throwawayTls(topology);
    const inputs = { wasmPath, jwtAuthn: throwawayJwtAuthn(topology), topologyPath: "inline", backboneTls: (region: string, pop: string) => ({ ...tls(region, pop), keyPath: join(scratch, "no-such.key") }), publicTls: throwawayPublicTls(topology) };
    const [proxy] = renderProxies(topology, dockerPlacement(topology), inputs);
    assert.ok(proxy?.kind === "pop");
    const file = join(scratch, "missing-key.yaml");
    writeFileSync(file, bootstrapYaml(proxy.bootstrap, inputs.topologyPath));
    const result = await validateBootstrap(envoy, file);
    assert.equal(result.ok, false);
    assert.ok(result.messages.some((message) => message.includes("no-such.key")), result.messages.join("\n"));
  });

  it("npm run validate: validates every bootstrap of the chosen topology and says how many", () => {
    const topologyFile = join(scratch, "four.yaml");
    writeFileSync(topologyFile, stringify(fourRegionTopology()));
    const run = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "edge/validate.ts"), "--topology", topologyFile], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    // 7 POPs and 7 ingress replicas in the four-region topology.
    assert.match(run.stdout, /^14 bootstraps valid \(envoy --mode validate\)$/m);
    assert.match(run.stdout, /^ok {6}rim4-pop-eu-central-waw\.yaml$/m);
  });

  it("npm run validate: a bad topology fails with the topology problem, before Envoy runs", () => {
    const topologyFile = join(scratch, "bad.yaml");
    const raw = stringify(fourRegionTopology()).replace("name: sfo", "name: SFO");
    writeFileSync(topologyFile, raw);
    const run = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "edge/validate.ts"), "--topology", topologyFile], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /regions\[0\]\.pops\[0\]\.name: "SFO" is not a valid name; expected/);
  });
});
