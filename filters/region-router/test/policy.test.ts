import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  POP, REGIONS, TENANT, answerRegion, counter, loadRouter, onlyPendingCall, ownerOnly, replyBody, request, routerConfig, startRouter,
  values, type RouterConfig,
} from "./router-host.ts";

// Routing policy: which identity decides the owner (precedence, conflict), and which regions may
// serve an app for that owner (the serving lists the topology's placement produces).

const claim = (region: string): [string, string] => ["x-edge-user-region", region];
const owner = (region: string): [string, string] => ["x-edge-owner", region];
const hops = (n: number): [string, string] => ["x-edge-hops", String(n)];

/** catalog may fail over to every other region (in region order); orders is owner-only. */
function failoverApps(): RouterConfig["apps"] {
  return [
    { prefix: "/catalog", app: "catalog", serving: REGIONS.map((region) => [region, ...REGIONS.filter((other) => other !== region)]) },
    { prefix: "/orders", app: "orders", serving: ownerOnly() },
  ];
}

describe("RegionRouter: precedence and conflict", () => {
  it("RegionRouter: jwt first, prefer-first: the claim decides with no tenant lookup", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [claim("eu-west")], TENANT);
    assert.equal(host.httpCalls.length, 0);
    assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
    assert.equal(stream.getRequestHeader("x-edge-source"), "jwt");
  });

  it("RegionRouter: tenant first: a known tenant wins over the claim", async () => {
    const host = await startRouter(routerConfig({ precedence: ["tenant", "jwt"] }));
    const { stream, action } = request(host, "/catalog", [claim("eu-west")], TENANT);
    assert.equal(action, "pause");
    answerRegion(host, onlyPendingCall(host).token, "ap-southeast");
    assert.equal(stream.getRequestHeader("x-edge-owner"), "ap-southeast");
    assert.equal(stream.getRequestHeader("x-edge-source"), "lookup");
  });

  it("RegionRouter: tenant first: an unknown tenant leaves the claim to decide", async () => {
    const host = await startRouter(routerConfig({ precedence: ["tenant", "jwt"] }));
    const { stream } = request(host, "/catalog", [claim("eu-west")], TENANT);
    host.respondHttpCall(onlyPendingCall(host).token, { status: 404, body: "{}" });
    assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
    assert.equal(stream.getRequestHeader("x-edge-source"), "jwt");
  });

  it("RegionRouter: precedence [jwt] alone: a request without a token is never looked up", async () => {
    const host = await startRouter(routerConfig({ precedence: ["jwt"] }));
    const { stream } = request(host, "/catalog", [], TENANT);
    assert.equal(host.httpCalls.length, 0);
    assert.equal(stream.localResponse?.status, 503);
    assert.equal((replyBody(stream) as { error: string }).error, "no_owner");
  });

  it("RegionRouter: precedence [tenant] alone: the claim is ignored", async () => {
    const host = await startRouter(routerConfig({ precedence: ["tenant"] }));
    const { stream } = request(host, "/catalog", [claim("eu-west")], TENANT);
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    assert.equal(stream.getRequestHeader("x-edge-owner"), "us-east");
  });

  it("RegionRouter: conflict reject: token and tenant naming different regions get 403 owner_conflict and no cluster", async () => {
    const host = await startRouter(routerConfig({ conflict: "reject" }));
    const { stream } = request(host, "/catalog", [claim("eu-west")], TENANT);
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    assert.equal(stream.localResponse?.status, 403);
    assert.deepEqual(replyBody(stream), {
      error: "owner_conflict", message: "token and tenant name different owner regions",
      token_region: "eu-west", tenant_region: "us-east", pop: POP,
    });
    assert.equal(stream.getRequestHeader("x-edge-cluster"), undefined, "no upstream is chosen");
    assert.equal(counter(host, "rejected.owner_conflict"), 1);
  });

  it("RegionRouter: conflict reject: agreeing token and tenant are routed, source by precedence", async () => {
    for (const [precedence, source] of [[["jwt", "tenant"], "jwt"], [["tenant", "jwt"], "lookup"]] as const) {
      const host = await startRouter(routerConfig({ conflict: "reject", precedence }));
      const { stream } = request(host, "/catalog", [claim("eu-west")], TENANT);
      answerRegion(host, onlyPendingCall(host).token, "eu-west");
      assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
      assert.equal(stream.getRequestHeader("x-edge-source"), source, precedence.join(","));
    }
  });

  it("RegionRouter: conflict reject: a failed tenant lookup leaves the claim to decide (fail soft)", async () => {
    const host = await startRouter(routerConfig({ conflict: "reject" }));
    const { stream } = request(host, "/catalog", [claim("eu-west")], TENANT);
    host.respondHttpCall(onlyPendingCall(host).token, { status: 500, body: "" });
    assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
    assert.equal(stream.getRequestHeader("x-edge-source"), "jwt");
  });

  it("RegionRouter: a claim for no configured region is 403 under every precedence, with no lookup", async () => {
    for (const precedence of [["jwt", "tenant"], ["tenant", "jwt"]]) {
      const host = await startRouter(routerConfig({ precedence, conflict: "reject" }));
      const { stream } = request(host, "/catalog", [claim("mars-1")], TENANT);
      assert.equal(host.httpCalls.length, 0);
      assert.equal(stream.localResponse?.status, 403);
      assert.equal((replyBody(stream) as { error: string }).error, "unknown_region");
    }
  });
});

describe("RegionRouter: placement", () => {
  it("RegionRouter: a failover app owned elsewhere goes to its failover cluster (whose backbone step counts the hop)", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    const { stream } = request(host, "/catalog", [claim("eu-west")]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "catalog-owned-by-eu-west");
    assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
    assert.equal(stream.getRequestHeader("x-edge-hops"), undefined, "not set: the local step, if taken, is no hop");
    assert.equal(counter(host, "forwarded.eu-west"), 1);
  });

  it("RegionRouter: a failover app owned here also goes to its failover cluster (the local datacenter first)", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    const { stream } = request(host, "/catalog", [claim("us-east")]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "catalog-owned-by-us-east");
    assert.equal(stream.getRequestHeader("x-edge-hops"), undefined);
    assert.equal(counter(host, "routed_local"), 1);
  });

  it("RegionRouter: a decision after a hop (a request without a carried owner on the backbone) never uses a failover cluster", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    const { stream } = request(host, "/catalog", [claim("us-east"), hops(1)]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "catalog-us-east");
  });

  it("RegionRouter: an owner-only app keeps the owner's own cluster", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    assert.equal(request(host, "/orders", [claim("eu-west")]).stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(request(host, "/orders", [claim("us-east")]).stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
  });

  it("RegionRouter: a carried request this region may serve for its owner is served here, not looped", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    const { stream, action } = request(host, "/catalog", [owner("eu-west"), hops(1)]);
    assert.equal(action, "continue");
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "catalog-us-east");
    assert.equal(counter(host, "routed_local"), 1);
    assert.equal(counter(host, "rejected.loop_detected"), 0);
  });

  it("RegionRouter: a carried request of an app this region may not serve is still a loop (508)", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    const { stream } = request(host, "/orders", [owner("eu-west"), hops(1)]);
    assert.equal(stream.localResponse?.status, 508);
  });

  it("RegionRouter: a residency list without this region keeps a carried request out (508, never served here)", async () => {
    const apps = [{ prefix: "/catalog", app: "catalog", serving: [["us-east"], ["eu-west", "ap-southeast"], ["ap-southeast", "eu-west"]] }];
    const host = await startRouter(routerConfig({ apps }));
    const { stream } = request(host, "/catalog", [owner("eu-west"), hops(1)]);
    assert.equal(stream.localResponse?.status, 508);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), undefined);
  });

  it("RegionRouter: the response shows the region that served when it is not the owner, and counts it", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    const sideways = request(host, "/catalog", [claim("eu-west")]).stream;
    sideways.onResponseHeaders([[":status", "200"], ["x-edge-served", "ap-southeast"]]);
    assert.deepEqual(values(sideways.responseHeaders, "x-edge-route"), [
      `owner=eu-west;served=ap-southeast;source=jwt;pop=${POP};hops=1;failover=1`,
    ]);
    const here = request(host, "/catalog", [claim("eu-west")]).stream;
    here.onResponseHeaders([[":status", "200"], ["x-edge-served", "us-east"]]);
    assert.deepEqual(values(here.responseHeaders, "x-edge-route"), [`owner=eu-west;served=us-east;source=jwt;pop=${POP};hops=0;failover=1`]);
    assert.equal(counter(host, "failover.catalog.ap-southeast"), 1);
    assert.equal(counter(host, "failover.catalog.us-east"), 1);
  });

  it("RegionRouter: an answer from the owner, from no datacenter, or naming an unknown region is no failover", async () => {
    const host = await startRouter(routerConfig({ apps: failoverApps() }));
    for (const served of [["x-edge-served", "eu-west"], ["x-other", "1"], ["x-edge-served", "mars-1"]] as [string, string][]) {
      const { stream } = request(host, "/catalog", [claim("eu-west")]);
      stream.onResponseHeaders([[":status", "200"], served]);
      assert.deepEqual(values(stream.responseHeaders, "x-edge-route"), [`owner=eu-west;source=jwt;pop=${POP};hops=1`], served.join(": "));
    }
    for (const region of REGIONS) assert.equal(counter(host, `failover.catalog.${region}`), 0);
  });
});

describe("RegionRouter: policy configuration is validated", () => {
  const refused = async (config: RouterConfig, problem: string) => {
    const host = await loadRouter(config);
    assert.equal(host.configure(), false, `accepted: ${JSON.stringify(config)}`);
    const messages = host.logs.map((log) => log.message);
    assert.ok(messages.includes(`invalid configuration: ${problem}`), `no "${problem}" in:\n${messages.join("\n")}`);
  };
  const app = (serving: unknown) => [{ prefix: "/catalog", app: "catalog", serving }];

  it("RegionRouter: refuses a bad precedence or conflict policy", async () => {
    await refused(routerConfig({ precedence: [] }), "precedence: empty; expected a non-empty array of jwt and tenant, each once");
    await refused(routerConfig({ precedence: ["jwt", "jwt"] }), "precedence[1]: repeated; expected each once");
    await refused(routerConfig({ precedence: ["cookie"] }), 'precedence[0]: "cookie" is not valid; expected jwt or tenant');
    await refused(routerConfig({ conflict: "merge" }), 'conflict: "merge" is not valid; expected prefer-first or reject');
  });

  it("RegionRouter: refuses serving lists that do not fit the regions", async () => {
    const expected = "expected per region, in regions order, an array of region names starting with that region";
    await refused(routerConfig({ apps: app([["us-east"]]) }), `apps[0].serving: has 1 lists for 3 regions; ${expected}`);
    await refused(routerConfig({ apps: app([["eu-west"], ["eu-west"], ["ap-southeast"]]) }),
      `apps[0].serving[0]: does not start with us-east; ${expected}`);
    await refused(routerConfig({ apps: app([["us-east", "mars-1"], ["eu-west"], ["ap-southeast"]]) }),
      'apps[0].serving[0][1]: "mars-1" is not in regions; expected one of regions');
    await refused(routerConfig({ apps: app([["us-east", "eu-west", "eu-west"], ["eu-west"], ["ap-southeast"]]) }),
      "apps[0].serving[0][2]: repeated; expected each once");
    await refused(routerConfig({ apps: app("us-east") }), `apps[0].serving: wrong type; ${expected}`);
  });
});
