// The arms are the generated POP bootstrap with parts removed: each edit must remove exactly its
// part and refuse to run when the part is not there (a renamed filter must not go unnoticed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CONTAINER_JWT_AUTHN, dockerPublicTls, loopbackPlacement } from "../../edge/placement.ts";
import { popBootstrap, JWT_FILTER, PUBLIC_LISTENER, WASM_FILTER } from "../../edge/pop.ts";
import { backboneTlsPaths } from "../../edge/backbone-pki.ts";
import { CLAIM_HEADER, CLUSTER_HEADER } from "../../edge/headers.ts";
import type { Bootstrap, HttpConnectionManager } from "../../edge/envoy-api.ts";
import {
  INTERNAL_HEADERS, publicFilterNames, withInternalHeaderStripExcept, withoutAccessLog, withoutHttpFilter, withoutInternalHeaderStrip,
} from "../route/bootstrap-edits.ts";
import { rateAtShare } from "../route/sizing.ts";
import { HOME_REGION, MEASURED_POP, routeBenchTopology } from "../route/topology.ts";

function generated(): Bootstrap {
  const topology = routeBenchTopology();
  let port = 20000;
  const placement = loopbackPlacement(topology, () => port++);
  const pki = { dir: "/pki", ca: { certPath: "/pki/ca.crt", keyPath: "/pki/ca.key" }, pops: [], pop: () => ({ certPath: "/pki/p.crt", keyPath: "/pki/p.key" }), issued: [], caCreated: false };
  return popBootstrap(topology, HOME_REGION, MEASURED_POP, placement, {
    wasmPath: "/filter.wasm", jwtAuthn: CONTAINER_JWT_AUTHN, topologyPath: "bench", backboneTls: backboneTlsPaths(pki as never), publicTls: dockerPublicTls,
  });
}

const managers = (bootstrap: Bootstrap): HttpConnectionManager[] =>
  bootstrap.static_resources.listeners.flatMap((listener) => listener.filter_chains.flatMap((chain) => chain.filters)).flatMap((filter) => (filter.name === "envoy.filters.network.http_connection_manager" ? [filter.typed_config] : []));

test("withoutHttpFilter: removes the filter from every listener and leaves the original untouched", () => {
  const original = generated();
  const edited = withoutHttpFilter(original, JWT_FILTER);
  assert.ok(managers(edited).every((manager) => manager.http_filters.every((filter) => filter.name !== JWT_FILTER)));
  assert.deepEqual(publicFilterNames(edited), [WASM_FILTER, "envoy.filters.http.router"]);
  assert.equal(publicFilterNames(original)[0], JWT_FILTER);
});

test("withoutHttpFilter: a filter the bootstrap does not have is an error, not a silent no-op", () => {
  assert.throws(() => withoutHttpFilter(withoutHttpFilter(generated(), WASM_FILTER), WASM_FILTER), /no HTTP filter envoy\.filters\.http\.wasm to remove/);
});

test("withoutAccessLog: no listener logs afterwards; a second removal is an error", () => {
  const edited = withoutAccessLog(generated());
  assert.ok(managers(edited).every((manager) => manager.access_log.length === 0));
  assert.throws(() => withoutAccessLog(edited), /no access log to remove/);
});

test("withInternalHeaderStripExcept: every internal header but the kept one is still stripped on the public listener", () => {
  const edited = withInternalHeaderStripExcept(generated(), CLAIM_HEADER);
  const publicManager = managers(edited)[0]!;
  assert.equal(edited.static_resources.listeners[0]!.name, PUBLIC_LISTENER);
  const removed = publicManager.early_header_mutation_extensions![0]!.typed_config.mutations.map((rule) => ("remove" in rule ? rule.remove : null));
  assert.deepEqual(removed.sort(), INTERNAL_HEADERS.filter((header) => header !== CLAIM_HEADER).sort());
  assert.ok(removed.includes(CLUSTER_HEADER));
});

test("withoutInternalHeaderStrip: removes the public strip only once", () => {
  const edited = withoutInternalHeaderStrip(generated());
  assert.equal(managers(edited)[0]!.early_header_mutation_extensions, undefined);
  assert.throws(() => withoutInternalHeaderStrip(edited), /strips no internal header/);
});

test("rateAtShare: interpolates between the steps around the target, null when none bracket it", () => {
  const steps = [
    { rate: 1000, rps: 1000, cpuShare: 0.2, p99Ms: 1, failed: 0 },
    { rate: 3000, rps: 3000, cpuShare: 0.6, p99Ms: 1, failed: 0 },
  ];
  assert.equal(rateAtShare(steps, 0.5), 2500);
  assert.equal(rateAtShare(steps.slice(0, 1), 0.5), null);
});
