import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { startDiscoveryServer, type DiscoveryServer } from "../discovery/server.ts";
import { normalizeHost, TenantDirectory } from "../discovery/tenant-directory.ts";
import { curl, listeningPort, spawnTs } from "./service-processes.ts";

const tenants = [
  { host: "shop.region-a.test", region: "region-a" },
  { host: "news.region-b.test", region: "region-b" },
];

describe("discovery server", () => {
  let discovery: DiscoveryServer;
  before(async () => {
    discovery = await startDiscoveryServer({ tenants });
  });
  after(() => discovery.close());

  const lookup = async (host: string, h2c = false) => {
    const reply = await curl(`${discovery.url}/v1/tenants/${host}`, { h2c });
    return { status: reply.status, body: JSON.parse(reply.body) as unknown };
  };

  test("discovery: answers a known tenant's region, an unknown tenant with 404, and counts both", async () => {
    const before = discovery.metrics();
    assert.deepEqual(await lookup("news.region-b.test"), {
      status: 200,
      body: { host: "news.region-b.test", region: "region-b" },
    });
    assert.deepEqual(await lookup("nobody.region-a.test"), { status: 404, body: { error: "unknown_tenant" } });
    assert.deepEqual(await lookup("shop.region-a.test", true), {
      status: 200,
      body: { host: "shop.region-a.test", region: "region-a" },
    });
    const after = discovery.metrics();
    assert.deepEqual(
      { lookups: after.lookups - before.lookups, hits: after.hits - before.hits, misses: after.misses - before.misses },
      { lookups: 3, hits: 2, misses: 1 },
    );
  });

  test("discovery: matches the host case-insensitively and without its port", async () => {
    for (const host of [
      "SHOP.Region-A.test",
      "shop.region-a.test:8443",
      "Shop.Region-A.Test%3A80",
      "shop.region-a.test.",
    ]) {
      assert.deepEqual(
        await lookup(host),
        { status: 200, body: { host: "shop.region-a.test", region: "region-a" } },
        host,
      );
    }
  });

  test("discovery: a host with a path separator or an empty host is an unknown tenant", async () => {
    assert.deepEqual(await lookup("shop.region-a.test/extra"), { status: 404, body: { error: "unknown_tenant" } });
    assert.deepEqual(await lookup(""), { status: 404, body: { error: "unknown_tenant" } });
  });

  test("discovery: /metrics reports the counts and neither it nor /healthz counts as a lookup", async () => {
    const before = discovery.metrics();
    assert.equal((await curl(`${discovery.url}/healthz`)).status, 200);
    const reported = await curl(`${discovery.url}/metrics`);
    assert.equal(reported.status, 200);
    assert.deepEqual(JSON.parse(reported.body), before);
    assert.deepEqual(discovery.metrics(), before);
    assert.equal((await curl(`${discovery.url}/v2/tenants/x`)).status, 404);
    assert.deepEqual(discovery.metrics(), before);
  });
});

describe("tenant directory", () => {
  test("tenant directory: normalizes case, port and a trailing dot", () => {
    assert.equal(normalizeHost("Shop.Example.TEST:8080"), "shop.example.test");
    assert.equal(normalizeHost("shop.example.test."), "shop.example.test");
    assert.equal(normalizeHost("[::1]:8080"), "[::1]");
  });

  test("tenant directory: a host listed twice is rejected", () => {
    assert.throws(
      () => new TenantDirectory([tenants[0]!, { host: "SHOP.region-a.test", region: "region-b" }]),
      /tenant host shop\.region-a\.test is listed twice/,
    );
  });
});

test("discovery: delays answers by responseDelayMs", async () => {
  const slow = await startDiscoveryServer({ tenants, responseDelayMs: 300 });
  try {
    const started = Date.now();
    const reply = await curl(`${slow.url}/v1/tenants/shop.region-a.test`);
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started >= 300);
  } finally {
    await slow.close();
  }
});

test("discovery: the command serves the tenants of the topology named by EDGE_TOPOLOGY", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgerim-discovery-"));
  const topology = parse(readFileSync(join(repoRoot, "infra/topology.yaml"), "utf8")) as {
    regions: { name: string }[];
    tenants: { host: string; region: string }[];
  };
  const region = topology.regions.at(-1)!.name;
  const defaultTenantHost = topology.tenants[0]!.host;
  topology.tenants = [{ host: "fixture-tenant.example.test", region }];
  const file = join(dir, "topology.yaml");
  writeFileSync(file, stringify(topology));
  const service = spawnTs("upstreams/discovery/server.ts", {
    PATH: process.env.PATH,
    EDGE_TOPOLOGY: file,
    HOST: "127.0.0.1",
    PORT: "0",
  });
  try {
    const port = await listeningPort(service);
    const known = await curl(`http://127.0.0.1:${port}/v1/tenants/Fixture-Tenant.example.test:443`);
    assert.deepEqual([known.status, JSON.parse(known.body)], [200, { host: "fixture-tenant.example.test", region }]);
    const replaced = await curl(`http://127.0.0.1:${port}/v1/tenants/${defaultTenantHost}`);
    assert.equal(replaced.status, 404, "a tenant of the default topology was served");
    const metrics = await curl(`http://127.0.0.1:${port}/metrics`);
    assert.deepEqual(JSON.parse(metrics.body), { lookups: 2, hits: 1, misses: 1 });
    service.child.kill("SIGTERM");
    const exit = await service.exited;
    assert.equal(exit.code, 0, exit.stderr);
  } finally {
    await service.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("discovery: an unreadable topology stops the command with the loader's message and exit 1", async () => {
  const missing = join(tmpdir(), "edgerim-no-such-topology.yaml");
  const service = spawnTs("upstreams/discovery/server.ts", {
    PATH: process.env.PATH,
    EDGE_TOPOLOGY: missing,
    PORT: "0",
  });
  try {
    const exit = await service.exited;
    assert.equal(exit.code, 1);
    assert.ok(exit.stderr.startsWith(`discovery: invalid topology ${missing} (1 problem):`), exit.stderr);
  } finally {
    await service.kill();
  }
});
