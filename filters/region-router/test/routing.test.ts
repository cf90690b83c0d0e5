import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { POP, replyBody, request, routerConfig, startRouter, values, ownerOnly } from "./router-host.ts";

const claim = (region: string): [string, string] => ["x-edge-user-region", region];

describe("RegionRouter: app matching", () => {
  const cases: Array<[string, string]> = [
    ["/catalog", "catalog-us-east"],
    ["/catalog/items/7", "catalog-us-east"],
    ["/catalog?page=2", "catalog-us-east"],
    ["/catalog#top", "catalog-us-east"],
    ["/orders/", "orders-us-east"],
    ["/catalog/admin", "catalog-admin-us-east"],
    ["/catalog/admin/users?x=/catalog", "catalog-admin-us-east"],
    ["/catalog/administrator", "catalog-us-east"],
  ];
  for (const [path, cluster] of cases) {
    it(`RegionRouter: ${path} goes to ${cluster} (longest matching prefix)`, async () => {
      const host = await startRouter(routerConfig({
        apps: [{ prefix: "/catalog", app: "catalog", serving: ownerOnly() }, { prefix: "/catalog/admin", app: "catalog-admin", serving: ownerOnly() }, { prefix: "/orders", app: "orders", serving: ownerOnly() }],
      }));
      const { stream, action } = request(host, path, [claim("us-east")]);
      assert.equal(action, "continue");
      assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), [cluster]);
    });
  }

  for (const path of ["/catalogue", "/", "/Catalog", "/ordersx?y", ""]) {
    it(`RegionRouter: ${JSON.stringify(path)} matches no app: 404 no_app, no lookup`, async () => {
      const host = await startRouter();
      const { stream, action } = request(host, path);
      assert.equal(action, "pause");
      assert.equal(stream.localResponse?.status, 404);
      assert.deepEqual(replyBody(stream), { error: "no_app", message: "no app serves this path", pop: POP });
      assert.equal(stream.getResponseHeader("content-type"), "application/json");
      assert.equal(stream.getResponseHeader("x-edge-pop"), POP);
      assert.equal(stream.getResponseHeader("x-edge-route"), undefined);
      assert.equal(stream.localResponse?.details, "edge_router.no_app");
      assert.equal(host.httpCalls.length, 0);
    });
  }

  it("RegionRouter: a prefix of / serves every path", async () => {
    const host = await startRouter(routerConfig({ apps: [{ prefix: "/", app: "web", serving: ownerOnly() }, { prefix: "/orders", app: "orders", serving: ownerOnly() }] }));
    assert.equal(request(host, "/anything", [claim("us-east")]).stream.getRequestHeader("x-edge-cluster"), "web-us-east");
    assert.equal(request(host, "/orders/1", [claim("us-east")]).stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
  });
});

describe("RegionRouter: owner from the verified JWT claim", () => {
  it("RegionRouter: a claim for this region routes to the local datacenter without touching hops", async () => {
    const host = await startRouter();
    const { stream, action } = request(host, "/orders/9", [claim("us-east")]);
    assert.equal(action, "continue");
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["orders-us-east"]);
    assert.equal(stream.getRequestHeader("x-edge-hops"), undefined);
    assert.equal(host.httpCalls.length, 0);
  });

  it("RegionRouter: a claim for another region forwards to its peer cluster and counts one hop", async () => {
    const host = await startRouter();
    const { stream, action } = request(host, "/catalog", [claim("ap-southeast")]);
    assert.equal(action, "continue");
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["edge-router-ap-southeast"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), ["1"]);
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=ap-southeast;source=jwt;pop=${POP};hops=1`);
  });

  for (const bad of ["mars", "", "US-EAST", "us-east,eu-west", "eu-west "]) {
    it(`RegionRouter: claim ${JSON.stringify(bad)} is not a configured region: 403 unknown_region`, async () => {
      const host = await startRouter();
      const { stream, action } = request(host, "/catalog", [claim(bad), ["x-edge-cluster", "discovery"]]);
      assert.equal(action, "pause");
      assert.equal(stream.localResponse?.status, 403);
      assert.deepEqual(replyBody(stream), { error: "unknown_region", message: "unknown region in token", pop: POP });
      assert.equal(stream.continued, false);
      assert.equal(stream.getResponseHeader("x-edge-route"), undefined);
      assert.equal(host.httpCalls.length, 0);
    });
  }

  it("RegionRouter: the claim wins over the tenant of the host (no lookup)", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [claim("eu-west")], "globex.edgerim.test");
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(host.httpCalls.length, 0);
  });
});

describe("RegionRouter: headers a client cannot spoof", () => {
  it("RegionRouter: client x-edge-cluster values are replaced by exactly one routed value", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [
      ["x-edge-cluster", "discovery"], ["x-edge-cluster", "edge-router-eu-west"], claim("us-east"),
    ]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["catalog-us-east"]);
  });

  it("RegionRouter: a spoofed cluster header is replaced after a paused lookup too", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [["x-edge-cluster", "discovery"]]);
    host.respondHttpCall(host.httpCalls[0]!.token, { status: 200, body: '{"host":"acme.edgerim.test","region":"eu-west"}' });
    assert.equal(stream.continued, true);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["edge-router-eu-west"]);
  });

  it("RegionRouter: upstream x-edge-pop and x-edge-route are replaced with this POP's decision", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [claim("eu-west")]);
    stream.onResponseHeaders([
      [":status", "200"], ["x-edge-pop", "eu-west-pop-b"], ["x-edge-route", "owner=eu-west;source=jwt;pop=eu-west-pop-b;hops=1"],
      ["x-edge-route", "owner=mars"],
    ]);
    assert.deepEqual(values(stream.responseHeaders, "x-edge-pop"), [POP]);
    assert.deepEqual(values(stream.responseHeaders, "x-edge-route"), [`owner=eu-west;source=jwt;pop=${POP};hops=1`]);
  });
});

describe("RegionRouter: sideways hop counting", () => {
  const hopCases: Array<[string, string, number | string, string | undefined]> = [
    // [hop header, owner, expected status or cluster, hop header after]
    ["0", "eu-west", "edge-router-eu-west", "1"],
    ["1", "eu-west", 508, undefined],
    ["7", "eu-west", 508, undefined],
    ["abc", "eu-west", 508, undefined],
    ["", "eu-west", 508, undefined],
    ["-1", "eu-west", 508, undefined],
    ["1", "us-east", "catalog-us-east", "1"],
    ["abc", "us-east", "catalog-us-east", "abc"],
  ];
  for (const [hops, owner, outcome, hopsAfter] of hopCases) {
    it(`RegionRouter: x-edge-hops ${JSON.stringify(hops)} with owner ${owner} -> ${outcome}`, async () => {
      const host = await startRouter();
      const { stream } = request(host, "/catalog", [claim(owner), ["x-edge-hops", hops]]);
      if (typeof outcome === "number") {
        assert.equal(stream.localResponse?.status, outcome);
        assert.deepEqual(replyBody(stream), { error: "loop_detected", message: "hop limit reached", pop: POP });
        assert.equal(stream.getRequestHeader("x-edge-cluster"), undefined);
        assert.match(stream.getResponseHeader("x-edge-route") ?? "", new RegExp(`^owner=${owner};source=jwt;pop=${POP};hops=\\d$`));
      } else {
        assert.equal(stream.localResponse, undefined);
        assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), [outcome]);
        assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), [hopsAfter]);
      }
    });
  }

  it("RegionRouter: a request that arrived sideways is served locally by the owner region", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/orders", [claim("us-east"), ["x-edge-hops", "1"]]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=us-east;source=jwt;pop=${POP};hops=1`);
  });

  it("RegionRouter: loop_detected reports the hops the request arrived with", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/orders", [claim("eu-west"), ["x-edge-hops", "1"]]);
    assert.equal(stream.localResponse?.status, 508);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=eu-west;source=jwt;pop=${POP};hops=1`);
  });

  it("RegionRouter: maxHops 2 lets a second sideways hop through", async () => {
    const host = await startRouter(routerConfig({ maxHops: 2 }));
    const { stream } = request(host, "/catalog", [claim("eu-west"), ["x-edge-hops", "1"]]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(stream.getRequestHeader("x-edge-hops"), "2");
    const third = request(host, "/catalog", [claim("eu-west"), ["x-edge-hops", "2"]]).stream;
    assert.equal(third.localResponse?.status, 508);
  });

  it("RegionRouter: maxHops 0 never forwards sideways", async () => {
    const host = await startRouter(routerConfig({ maxHops: 0 }));
    assert.equal(request(host, "/catalog", [claim("eu-west")]).stream.localResponse?.status, 508);
    assert.equal(request(host, "/catalog", [claim("us-east")]).stream.getRequestHeader("x-edge-cluster"), "catalog-us-east");
  });
});

describe("RegionRouter: configured names", () => {
  it("RegionRouter: custom header names and cluster patterns are used instead of the defaults", async () => {
    const host = await startRouter(routerConfig({
      clusterHeader: "x-route-to", claimHeader: "x-user-home", hopHeader: "x-sideways",
      localClusterPattern: "dc.{region}.{app}", peerClusterPattern: "peer_{region}",
    }));
    const local = request(host, "/orders", [["x-user-home", "us-east"], claim("eu-west")]).stream;
    assert.equal(local.getRequestHeader("x-route-to"), "dc.us-east.orders");
    assert.equal(local.getRequestHeader("x-edge-cluster"), undefined);
    const remote = request(host, "/orders", [["x-user-home", "ap-southeast"]]).stream;
    assert.equal(remote.getRequestHeader("x-route-to"), "peer_ap-southeast");
    assert.equal(remote.getRequestHeader("x-sideways"), "1");
    assert.equal(remote.getRequestHeader("x-edge-hops"), undefined);
  });

  it("RegionRouter: local replies and responses name this POP", async () => {
    const host = await startRouter(routerConfig({ pop: "us-east-pop-b" }));
    const { stream } = request(host, "/nowhere");
    assert.deepEqual(replyBody(stream), { error: "no_app", message: "no app serves this path", pop: "us-east-pop-b" });
    assert.equal(stream.getResponseHeader("x-edge-pop"), "us-east-pop-b");
  });

  it("RegionRouter: a response for a request without a decision carries no x-edge-route", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/nowhere");
    assert.equal(stream.localResponse?.status, 404);
    assert.deepEqual(values(stream.responseHeaders, "x-edge-route"), []);
  });
});
