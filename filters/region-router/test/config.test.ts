import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TENANT_PATH_PREFIX } from "../../../infra/topology/names.ts";
import { POP, loadRouter, request, routerConfig, startRouter, type RouterConfig, ownerOnly } from "./router-host.ts";

/** Configures the module with `config`; returns the error and critical lines it logged. */
async function refusal(config: RouterConfig | string): Promise<string[]> {
  const host = await loadRouter(config);
  assert.equal(host.configure(), false, "the plugin should refuse this configuration");
  return host.logs.filter((l) => l.level === "error" || l.level === "critical").map((l) => `${l.level}: ${l.message}`);
}

function refusedWith(...problems: string[]): string[] {
  return [
    ...problems.map((p) => `error: invalid configuration: ${p}`),
    `critical: invalid configuration: ${problems.length} problem(s), not starting`,
  ];
}

function without(field: string): RouterConfig {
  const config = routerConfig();
  delete config[field];
  return config;
}

describe("RouterConfig: accepted configurations", () => {
  it("RouterConfig: the configuration every POP gets (edge/filter-config.ts) starts and routes", async () => {
    const host = await startRouter();
    assert.deepEqual(host.logs.filter((l) => l.level === "error" || l.level === "critical"), []);
    const { stream } = request(host, "/catalog", [["x-edge-user-region", "eu-west"]]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(stream.getRequestHeader("x-edge-hops"), "1");
    assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
    assert.equal(stream.getRequestHeader("x-edge-source"), "jwt");
    const lookup = request(host, "/orders");
    assert.equal(lookup.action, "pause");
    const call = host.httpCalls[0]!;
    assert.equal(call.upstream, "discovery");
    assert.equal(call.timeoutMs, 500);
    assert.deepEqual(call.headers.filter(([k]) => k.startsWith(":")), [
      [":method", "GET"], [":path", `${TENANT_PATH_PREFIX}acme.edgerim.test`], [":authority", "discovery"],
    ]);
  });

  it("RouterConfig: every header name comes from the configuration, response headers included", async () => {
    const names = {
      clusterHeader: "x-a-cluster", claimHeader: "x-a-claim", hopHeader: "x-a-hops", ownerHeader: "x-a-owner",
      sourceHeader: "x-a-source", popHeader: "x-a-pop", routeHeader: "x-a-route",
    };
    const host = await startRouter(routerConfig(names));
    const { stream } = request(host, "/catalog", [["x-a-claim", "eu-west"]]);
    assert.deepEqual(
      [stream.getRequestHeader("x-a-cluster"), stream.getRequestHeader("x-a-hops"), stream.getRequestHeader("x-a-owner"), stream.getRequestHeader("x-a-source")],
      ["edge-router-eu-west", "1", "eu-west", "jwt"],
    );
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-a-pop"), POP);
    assert.equal(stream.getResponseHeader("x-a-route"), `owner=eu-west;source=jwt;pop=${POP};hops=1`);
    assert.equal(stream.getResponseHeader("x-edge-pop"), undefined);
    const rejected = request(host, "/nowhere").stream;
    assert.equal(rejected.localResponse?.headers.find(([k]) => k === "x-a-pop")?.[1], POP);
  });

  it("RouterConfig: the discovery limits accept their bounds", async () => {
    for (const discovery of [
      { staleIfErrorSeconds: 0, maxConcurrentLookups: 1, failureBackoffMs: 0 },
      { staleIfErrorSeconds: 86_400, maxConcurrentLookups: 100_000, failureBackoffMs: 60_000 },
    ]) {
      await startRouter(routerConfig({ discovery }));
    }
  });

  it("RouterConfig: negativeCacheMaxEntries accepts 1 and 1000000", async () => {
    for (const negativeCacheMaxEntries of [1, 1_000_000]) {
      await startRouter(routerConfig({ discovery: { negativeCacheMaxEntries } }));
    }
  });

  it("RouterConfig: whitespace, key order and JSON escapes do not matter", async () => {
    const config = routerConfig({ regions: ["us-east", "eu-west", "ap-southeast"] });
    const reversed = Object.fromEntries(Object.entries(config).reverse());
    const text = JSON.stringify(reversed, null, 3).replace('"eu-west"', '"eu\\u002dwest"').replace('"/catalog"', '"\\/catalog"');
    assert.notEqual(text, JSON.stringify(config));
    const host = await startRouter(text);
    const { stream } = request(host, "/catalog", [["x-edge-user-region", "eu-west"]]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
  });
});

describe("RouterConfig: every field is required; the filter has no defaults", () => {
  for (const field of Object.keys(routerConfig())) {
    it(`RouterConfig: refuses a configuration without ${field}`, async () => {
      const problems = await refusal(without(field));
      assert.equal(problems.length, 2, problems.join(" | "));
      assert.match(problems[0]!, new RegExp(`^error: invalid configuration: ${field}: missing; expected `));
    });
  }
  for (const field of Object.keys(routerConfig()["discovery"] as object)) {
    it(`RouterConfig: refuses a configuration without discovery.${field}`, async () => {
      const config = routerConfig();
      delete (config["discovery"] as Record<string, unknown>)[field];
      const problems = await refusal(config);
      assert.equal(problems.length, 2, problems.join(" | "));
      assert.match(problems[0]!, new RegExp(`^error: invalid configuration: discovery\\.${field}: missing; expected `));
    });
  }
});

describe("RouterConfig: every invalid field refuses to start with a line naming it", () => {
  const cases: Array<[string, RouterConfig | string, string[]]> = [
    ["text that is not JSON", '{"region": "us-east",', ["configuration: not valid JSON; expected a JSON object"]],
    ["an empty configuration", "", ["configuration: not valid JSON; expected a JSON object"]],
    ["trailing text after the object", `${JSON.stringify(routerConfig())} x`, ["configuration: not valid JSON; expected a JSON object"]],
    ["a JSON array", "[]", ["configuration: wrong type; expected a JSON object"]],
    ["no region", without("region"), ["region: missing; expected one of regions"]],
    ["no pop", without("pop"), ["pop: missing; expected a name [A-Za-z0-9._-]"]],
    ["no regions", without("regions"), ["regions: missing; expected an array of region names"]],
    ["no apps", without("apps"), ["apps: missing; expected an array of {prefix, app, serving}"]],
    ["no routeHeader", without("routeHeader"), ["routeHeader: missing; expected a header name [a-z0-9-]"]],
    ["popHeader equal to routeHeader", routerConfig({ popHeader: "x-edge-route" }),
      ["routeHeader: reuses another routing header; expected distinct header names"]],
    ["a region outside regions", routerConfig({ region: "sa-east" }), ['region: "sa-east" is not in regions; expected one of regions']],
    ["a region that is not a name", routerConfig({ region: "US_EAST" }), ['region: "US_EAST" is not valid; expected one of regions']],
    ["a region that is a number", routerConfig({ region: 1 }), ["region: wrong type; expected one of regions"]],
    ["a pop id with a space", routerConfig({ pop: "pop a" }), ['pop: "pop a" is not valid; expected a name [A-Za-z0-9._-]']],
    ["empty regions", routerConfig({ regions: [] }), ["regions: empty; expected an array of region names"]],
    ["a repeated region", routerConfig({ regions: ["us-east", "eu-west", "us-east"] }), ["regions[2]: repeated; expected each once"]],
    ["a region that is not a string", routerConfig({ regions: ["us-east", 7] }), ["regions[1]: wrong type; expected a region name [a-z0-9-]"]],
    ["a region name with '|'", routerConfig({ regions: ["us-east", "eu|west"] }), ['regions[1]: "eu|west" is not valid; expected a region name [a-z0-9-]']],
    ["empty apps", routerConfig({ apps: [] }), ["apps: empty; expected an array of {prefix, app, serving}"]],
    ["an app that is a string", routerConfig({ apps: ["catalog"] }), ["apps[0]: wrong type; expected {prefix, app, serving}"]],
    ["an app without prefix", routerConfig({ apps: [{ app: "catalog" }] }), ["apps[0]: prefix, app or serving missing; expected {prefix, app, serving}"]],
    ["an app without name", routerConfig({ apps: [{ prefix: "/catalog" }] }), ["apps[0]: prefix, app or serving missing; expected {prefix, app, serving}"]],
    ["a prefix without leading slash", routerConfig({ apps: [{ prefix: "catalog", app: "catalog", serving: ownerOnly() }] }),
      ['apps[0].prefix: "catalog" is not valid; expected a path prefix like /p']],
    ["a prefix with a trailing slash", routerConfig({ apps: [{ prefix: "/catalog/", app: "catalog", serving: ownerOnly() }] }),
      ['apps[0].prefix: "/catalog/" is not valid; expected a path prefix like /p']],
    ["a prefix with a query", routerConfig({ apps: [{ prefix: "/catalog?v=1", app: "catalog", serving: ownerOnly() }] }),
      ['apps[0].prefix: "/catalog?v=1" is not valid; expected a path prefix like /p']],
    ["an app name with a space", routerConfig({ apps: [{ prefix: "/catalog", app: "cat alog", serving: ownerOnly() }] }),
      ['apps[0].app: "cat alog" is not valid; expected a name [A-Za-z0-9._-]']],
    ["a repeated prefix", routerConfig({ apps: [{ prefix: "/catalog", app: "catalog", serving: ownerOnly() }, { prefix: "/catalog", app: "orders", serving: ownerOnly() }] }),
      ["apps[1]: prefix repeated; expected each once"]],
    ["an unknown app field", routerConfig({ apps: [{ prefix: "/catalog", app: "catalog", serving: ownerOnly(), weight: 2 }] }),
      ["apps[0].weight: unknown field; expected only documented fields"]],
    ["a misspelt top-level field", routerConfig({ maxhops: 1 }), ["maxhops: unknown field; expected only documented fields"]],
    ["an unknown placeholder in localClusterPattern", routerConfig({ localClusterPattern: "{app}-{zone}" }),
      ['localClusterPattern: "{app}-{zone}" is not valid; expected a cluster name pattern']],
    ["a peerClusterPattern without {region}", routerConfig({ peerClusterPattern: "edge-router" }),
      ['peerClusterPattern: "edge-router" is not valid; expected a cluster name pattern']],
    ["{app} in peerClusterPattern", routerConfig({ peerClusterPattern: "{app}-{region}" }),
      ['peerClusterPattern: "{app}-{region}" is not valid; expected a cluster name pattern']],
    ["an upper-case clusterHeader", routerConfig({ clusterHeader: "X-Edge-Cluster" }),
      ['clusterHeader: "X-Edge-Cluster" is not valid; expected a header name [a-z0-9-]']],
    ["a pseudo-header as claimHeader", routerConfig({ claimHeader: ":authority" }),
      ['claimHeader: ":authority" is not valid; expected a header name [a-z0-9-]']],
    ["claimHeader equal to clusterHeader", routerConfig({ claimHeader: "x-edge-cluster" }),
      ["claimHeader: reuses another routing header; expected distinct header names"]],
    ["hopHeader equal to claimHeader", routerConfig({ hopHeader: "x-edge-user-region" }),
      ["hopHeader: reuses another routing header; expected distinct header names"]],
    ["an upper-case ownerHeader", routerConfig({ ownerHeader: "X-Edge-Owner" }),
      ['ownerHeader: "X-Edge-Owner" is not valid; expected a header name [a-z0-9-]']],
    ["sourceHeader as a number", routerConfig({ sourceHeader: 3 }), ["sourceHeader: wrong type; expected a header name [a-z0-9-]"]],
    ["ownerHeader equal to hopHeader", routerConfig({ ownerHeader: "x-edge-hops" }),
      ["ownerHeader: reuses another routing header; expected distinct header names"]],
    ["sourceHeader equal to ownerHeader", routerConfig({ sourceHeader: "x-edge-owner" }),
      ["sourceHeader: reuses another routing header; expected distinct header names"]],
    ["sourceHeader equal to clusterHeader", routerConfig({ sourceHeader: "x-edge-cluster" }),
      ["sourceHeader: reuses another routing header; expected distinct header names"]],
    ["a healthPath without leading slash", routerConfig({ healthPath: "edge/healthz" }),
      ['healthPath: "edge/healthz" is not valid; expected a path like /healthz']],
    ["a healthPath with a query", routerConfig({ healthPath: "/edge/healthz?full" }),
      ['healthPath: "/edge/healthz?full" is not valid; expected a path like /healthz']],
    ["an empty healthPath", routerConfig({ healthPath: "" }),
      ['healthPath: "" is not valid; expected a path like /healthz']],
    ["maxHops above 8", routerConfig({ maxHops: 9 }), ["maxHops: out of range; expected an integer from 0 to 8"]],
    ["a negative maxHops", routerConfig({ maxHops: -1 }), ["maxHops: out of range; expected an integer from 0 to 8"]],
    ["a fractional maxHops", routerConfig({ maxHops: 1.5 }), ["maxHops: not an integer; expected an integer from 0 to 8"]],
    ["maxHops as a string", routerConfig({ maxHops: "1" }), ["maxHops: wrong type; expected an integer from 0 to 8"]],
    ["discovery as an array", routerConfig({ discovery: [] }), ["discovery: wrong type; expected an object"]],
    ["a discovery cluster with a space", routerConfig({ discovery: { cluster: "disc overy" } }),
      ['discovery.cluster: "disc overy" is not valid; expected a name [A-Za-z0-9._-]']],
    ["a discovery authority with a space", routerConfig({ discovery: { authority: "disc overy" } }),
      ['discovery.authority: "disc overy" is not valid; expected host[:port]']],
    ["a pathTemplate without {host}", routerConfig({ discovery: { pathTemplate: "/v1/tenants" } }),
      ['discovery.pathTemplate: "/v1/tenants" is not valid; expected a path with {host}']],
    ["a zero timeoutMs", routerConfig({ discovery: { timeoutMs: 0 } }),
      ["discovery.timeoutMs: out of range; expected an integer from 1 to 60000"]],
    ["a negative cacheTtlSeconds", routerConfig({ discovery: { cacheTtlSeconds: -1 } }),
      ["discovery.cacheTtlSeconds: out of range; expected an integer from 0 to 86400"]],
    ["a negativeCacheTtlSeconds over a day", routerConfig({ discovery: { negativeCacheTtlSeconds: 86401 } }),
      ["discovery.negativeCacheTtlSeconds: out of range; expected an integer from 0 to 86400"]],
    ["a zero negativeCacheMaxEntries", routerConfig({ discovery: { negativeCacheMaxEntries: 0 } }),
      ["discovery.negativeCacheMaxEntries: out of range; expected an integer from 1 to 1000000"]],
    ["a negativeCacheMaxEntries over a million", routerConfig({ discovery: { negativeCacheMaxEntries: 1_000_001 } }),
      ["discovery.negativeCacheMaxEntries: out of range; expected an integer from 1 to 1000000"]],
    ["a fractional negativeCacheMaxEntries", routerConfig({ discovery: { negativeCacheMaxEntries: 10.5 } }),
      ["discovery.negativeCacheMaxEntries: not an integer; expected an integer from 1 to 1000000"]],
    ["negativeCacheMaxEntries as a string", routerConfig({ discovery: { negativeCacheMaxEntries: "4096" } }),
      ["discovery.negativeCacheMaxEntries: wrong type; expected an integer from 1 to 1000000"]],
    ["a negative staleIfErrorSeconds", routerConfig({ discovery: { staleIfErrorSeconds: -1 } }),
      ["discovery.staleIfErrorSeconds: out of range; expected an integer from 0 to 86400"]],
    ["a staleIfErrorSeconds over a day", routerConfig({ discovery: { staleIfErrorSeconds: 86_401 } }),
      ["discovery.staleIfErrorSeconds: out of range; expected an integer from 0 to 86400"]],
    ["a zero maxConcurrentLookups", routerConfig({ discovery: { maxConcurrentLookups: 0 } }),
      ["discovery.maxConcurrentLookups: out of range; expected an integer from 1 to 100000"]],
    ["a fractional maxConcurrentLookups", routerConfig({ discovery: { maxConcurrentLookups: 1.5 } }),
      ["discovery.maxConcurrentLookups: not an integer; expected an integer from 1 to 100000"]],
    ["a failureBackoffMs over a minute", routerConfig({ discovery: { failureBackoffMs: 60_001 } }),
      ["discovery.failureBackoffMs: out of range; expected an integer from 0 to 60000"]],
    ["failureBackoffMs as a string", routerConfig({ discovery: { failureBackoffMs: "1s" } }),
      ["discovery.failureBackoffMs: wrong type; expected an integer from 0 to 60000"]],
    ["an unknown discovery field", routerConfig({ discovery: { retries: 2 } }),
      ["discovery.retries: unknown field; expected only documented fields"]],
    ["fallback as a string", routerConfig({ fallback: "reject" }), ["fallback: wrong type; expected an object"]],
    ["fallback without policy", routerConfig({ fallback: {} }), ["fallback.policy: missing; expected reject or region"]],
    ["an unknown fallback policy", routerConfig({ fallback: { policy: "random" } }),
      ['fallback.policy: "random" is not valid; expected reject or region']],
    ["policy region without a region", routerConfig({ fallback: { policy: "region" } }),
      ["fallback.region: does not fit the policy; expected a region exactly when policy is region"]],
    ["policy reject with a region", routerConfig({ fallback: { policy: "reject", region: "eu-west" } }),
      ["fallback.region: does not fit the policy; expected a region exactly when policy is region"]],
    ["a fallback region outside regions", routerConfig({ fallback: { policy: "region", region: "sa-east" } }),
      ['fallback.region: "sa-east" is not in regions; expected one of regions']],
  ];
  for (const [what, config, problems] of cases) {
    it(`RouterConfig: refuses ${what}`, async () => {
      assert.deepEqual(await refusal(config), refusedWith(...problems));
    });
  }

  it("RouterConfig: reports every problem of a configuration at once", async () => {
    const config = routerConfig({ pop: "", maxHops: 20, discovery: { timeoutMs: "fast" }, extra: true });
    delete config["apps"];
    assert.deepEqual(await refusal(config), refusedWith(
      'pop: "" is not valid; expected a name [A-Za-z0-9._-]',
      "maxHops: out of range; expected an integer from 0 to 8",
      "discovery.timeoutMs: wrong type; expected an integer from 1 to 60000",
      "extra: unknown field; expected only documented fields",
      "apps: missing; expected an array of {prefix, app, serving}",
    ));
  });
});
