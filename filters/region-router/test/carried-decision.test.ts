import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  POP, TENANT, answerRegion, counter, counters, onlyPendingCall, replyBody, request, routerConfig, startRouter, values,
} from "./router-host.ts";

const owner = (region: string): [string, string] => ["x-edge-owner", region];
const source = (name: string): [string, string] => ["x-edge-source", name];
const claim = (region: string): [string, string] => ["x-edge-user-region", region];
const hops = (n: number | string): [string, string] => ["x-edge-hops", String(n)];

describe("RegionRouter: the entry POP carries its decision", () => {
  it("RegionRouter: a forwarded request carries owner and source (lookup) next to the hop count", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "eu-west");
    assert.deepEqual(values(stream.requestHeaders, "x-edge-owner"), ["eu-west"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-source"), ["lookup"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), ["1"]);
  });

  it("RegionRouter: a locally routed request carries the owner too (local replies name it)", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/orders", [claim("us-east")]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    assert.deepEqual(values(stream.requestHeaders, "x-edge-owner"), ["us-east"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-source"), ["jwt"]);
  });

  it("RegionRouter: a fallback decision carries source fallback", async () => {
    const host = await startRouter(routerConfig({ fallback: { policy: "region", region: "eu-west" } }));
    const { stream } = request(host, "/orders", [], "[::1]");
    assert.equal(stream.getRequestHeader("x-edge-owner"), "eu-west");
    assert.equal(stream.getRequestHeader("x-edge-source"), "fallback");
  });

  it("RegionRouter: a rejected request gets no decision headers", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/orders", [claim("eu-west"), hops(1)]);
    assert.equal(stream.localResponse?.status, 508);
    assert.equal(stream.getRequestHeader("x-edge-owner"), undefined);
    assert.equal(stream.getRequestHeader("x-edge-source"), undefined);
  });

  it("RegionRouter: configured decision header names are used instead of the defaults", async () => {
    const host = await startRouter(routerConfig({ ownerHeader: "x-decided-owner", sourceHeader: "x-decided-by" }));
    const { stream } = request(host, "/orders", [claim("ap-southeast")]);
    assert.equal(stream.getRequestHeader("x-decided-owner"), "ap-southeast");
    assert.equal(stream.getRequestHeader("x-decided-by"), "jwt");
    assert.equal(stream.getRequestHeader("x-edge-owner"), undefined);
    const followed = request(host, "/orders", [["x-decided-owner", "us-east"], hops(1)]).stream;
    assert.equal(followed.getRequestHeader("x-edge-cluster"), "orders-us-east");
    assert.equal(host.httpCalls.length, 0);
  });
});

describe("RegionRouter: a POP receiving a carried decision follows it", () => {
  it("RegionRouter: a carried own-region owner routes to the local datacenter with no discovery call", async () => {
    const host = await startRouter();
    const { stream, action } = request(host, "/catalog/1", [owner("us-east"), source("lookup"), hops(1)], "globex.edgerim.test");
    assert.equal(action, "continue");
    assert.equal(host.httpCalls.length, 0);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["catalog-us-east"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), ["1"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-source"), ["lookup"], "the entry's source is kept");
    assert.equal(counter(host, "carried"), 1);
    assert.equal(counter(host, "lookups"), 0);
    assert.equal(counter(host, "cache_hits"), 0);
  });

  it("RegionRouter: a carried owner routes without discovery even while the host has a lookup in flight", async () => {
    const host = await startRouter();
    request(host, "/catalog");
    const { stream, action } = request(host, "/catalog", [owner("us-east"), hops(1)]);
    assert.equal(action, "continue");
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "catalog-us-east");
    assert.equal(host.httpCalls.length, 1);
  });

  it("RegionRouter: a carried owner wins over a claim header on that hop", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/orders", [claim("eu-west"), owner("us-east"), hops(1)]);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    assert.equal(counter(host, "forwarded.eu-west"), 0);
  });

  for (const bad of ["mars", "", "US-EAST", "us-east,eu-west"]) {
    it(`RegionRouter: a carried owner ${JSON.stringify(bad)} is not a known region: 403 unknown_region, no call`, async () => {
      const host = await startRouter();
      const { stream } = request(host, "/catalog", [owner(bad), hops(1)]);
      assert.equal(stream.localResponse?.status, 403);
      assert.deepEqual(replyBody(stream), { error: "unknown_region", message: "carried decision names an unknown region", pop: POP });
      assert.equal(stream.getRequestHeader("x-edge-cluster"), undefined);
      assert.equal(host.httpCalls.length, 0);
    });
  }

  for (const [arrived, limit] of [[1, 1], [2, 1], [2, 2], ["x", 1]] as const) {
    it(`RegionRouter: a foreign carried owner with x-edge-hops ${arrived} and maxHops ${limit} is 508 loop_detected`, async () => {
      const host = await startRouter(routerConfig({ maxHops: limit }));
      const { stream } = request(host, "/catalog", [owner("eu-west"), hops(arrived)]);
      assert.equal(stream.localResponse?.status, 508);
      assert.deepEqual(replyBody(stream), { error: "loop_detected", message: "hop limit reached", pop: POP });
      assert.equal(host.httpCalls.length, 0);
    });
  }

  it("RegionRouter: a foreign carried owner below maxHops is forwarded once more, owner kept, hop counted", async () => {
    const host = await startRouter(routerConfig({ maxHops: 2 }));
    const { stream } = request(host, "/catalog", [owner("eu-west"), source("cache"), hops(1)]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["edge-router-eu-west"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), ["2"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-owner"), ["eu-west"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-source"), ["cache"]);
    assert.equal(counter(host, "forwarded.eu-west"), 1);
  });

  it("RegionRouter: the fallback policy never applies to a carried decision", async () => {
    const host = await startRouter(routerConfig({ fallback: { policy: "region", region: "us-east" } }));
    const unknown = request(host, "/catalog", [owner("mars"), hops(1)]).stream;
    assert.equal(unknown.localResponse?.status, 403);
    const loop = request(host, "/catalog", [owner("eu-west"), hops(1)]).stream;
    assert.equal(loop.localResponse?.status, 508);
    const twoHops = await startRouter(routerConfig({ maxHops: 2, fallback: { policy: "region", region: "us-east" } }));
    const carriedFallback = request(twoHops, "/catalog", [owner("ap-southeast"), source("fallback"), hops(1)]).stream;
    assert.equal(carriedFallback.getRequestHeader("x-edge-cluster"), "edge-router-ap-southeast");
    for (const router of [host, twoHops]) {
      assert.equal(counter(router, "fallback"), 0);
      assert.equal(router.httpCalls.length, 0);
    }
  });

  it("RegionRouter: a carried decision without a hop count (a failover cluster sent it) has made one hop", async () => {
    const host = await startRouter();
    const here = request(host, "/catalog", [owner("us-east")]).stream;
    assert.equal(here.getRequestHeader("x-edge-cluster"), "catalog-us-east");
    assert.deepEqual(values(here.requestHeaders, "x-edge-hops"), ["1"], "the app sees the hop");
    for (const count of [[], [hops(0)]]) {
      const elsewhere = request(host, "/catalog", [owner("eu-west"), ...count]).stream;
      assert.equal(elsewhere.localResponse?.status, 508, "at maxHops 1 it cannot go sideways again");
    }
  });

  it("RegionRouter: the response keeps x-edge-route as the entry POP decided it", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [owner("us-east"), hops(1)]);
    const entryRoute = "owner=us-east;source=lookup;pop=eu-west-pop-a;hops=1";
    stream.onResponseHeaders([[":status", "200"], ["x-edge-route", entryRoute]]);
    assert.deepEqual(values(stream.responseHeaders, "x-edge-route"), [entryRoute]);
    const refused = request(host, "/catalog", [owner("eu-west"), hops(1)]).stream;
    assert.deepEqual(values(refused.responseHeaders, "x-edge-route"), [], "a follower's own reply adds no route");
  });

  it("RegionRouter: without a carried owner the request is decided here (source header alone is ignored)", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog", [source("jwt"), hops(1)], TENANT);
    assert.equal(stream.continued, false);
    assert.equal(onlyPendingCall(host).headers[1]![1], `/v1/tenants/${TENANT}`);
  });
});

describe("RegionRouter: the health path passes through", () => {
  for (const path of ["/edge/healthz", "/edge/healthz?full=1"]) {
    it(`RegionRouter: ${path} is continued untouched: no decision, no rejection, no call`, async () => {
      const host = await startRouter(routerConfig({ fallback: { policy: "region", region: "eu-west" } }));
      const sent: Array<[string, string]> = [
        [":method", "GET"], [":scheme", "http"], [":authority", TENANT], [":path", path], ["x-edge-hops", "5"],
      ];
      const stream = host.newHttpContext();
      assert.equal(stream.onRequestHeaders(sent.map(([k, v]) => [k, v])), "continue");
      assert.deepEqual(stream.requestHeaders, sent);
      assert.equal(stream.localResponse, undefined);
      assert.equal(host.httpCalls.length, 0);
      assert.deepEqual(Object.entries(counters(host)).filter(([, n]) => n > 0), [], "nothing counted");
    });
  }

  for (const path of ["/edge/healthz/catalog", "/edge/healthz/catalog?probe=1"]) {
    it(`RegionRouter: ${path} (an app's health below the health path) is continued untouched`, async () => {
      const host = await startRouter();
      const { stream, action } = request(host, path);
      assert.equal(action, "continue");
      assert.equal(stream.getRequestHeader("x-edge-cluster"), undefined);
      assert.equal(host.httpCalls.length, 0);
    });
  }

  for (const path of ["/edge/health", "/edge/healthzz", "/edge/healthzz/catalog"]) {
    it(`RegionRouter: ${path} is not the health path: 404 no_app`, async () => {
      const host = await startRouter();
      assert.equal(request(host, path).stream.localResponse?.status, 404);
    });
  }

  it("RegionRouter: a configured healthPath replaces the default", async () => {
    const host = await startRouter(routerConfig({ healthPath: "/ready" }));
    assert.equal(request(host, "/ready").action, "continue");
    assert.equal(request(host, "/edge/healthz").stream.localResponse?.status, 404);
  });
});

