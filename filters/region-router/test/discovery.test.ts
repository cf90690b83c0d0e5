import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  POP, START_MS, TENANT, answerRegion, answerUnknownTenant, cachedTenant, counter, onlyPendingCall, replyBody, request,
  routerConfig, startRouter, values,
} from "./router-host.ts";

const noOwner = (message: string) => ({ error: "no_owner", message, pop: POP });

describe("RegionRouter: tenant lookup", () => {
  it("RegionRouter: an unknown host pauses the request and asks discovery once", async () => {
    const host = await startRouter();
    const { stream, action } = request(host, "/catalog/1", [], "Acme.EdgeRim.Test:8080");
    assert.equal(action, "pause");
    assert.equal(stream.continued, false);
    const call = onlyPendingCall(host);
    assert.equal(call.upstream, "discovery");
    assert.equal(call.timeoutMs, 500);
    assert.equal(call.body, "");
    assert.deepEqual(call.headers, [[":method", "GET"], [":path", `/v1/tenants/${TENANT}`], [":authority", "discovery"]]);
  });

  it("RegionRouter: the answer resumes the request towards the owner and is cached for cacheTtlSeconds", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog/1");
    answerRegion(host, onlyPendingCall(host).token, "eu-west");
    assert.equal(stream.continued, true);
    assert.equal(stream.localResponse, undefined);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["edge-router-eu-west"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), ["1"]);
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=eu-west;source=lookup;pop=${POP};hops=1`);
    assert.equal(cachedTenant(host), `eu-west|${START_MS + 30_000}`);
  });

  it("RegionRouter: discovery uses the configured cluster, authority, path and timeout", async () => {
    const host = await startRouter(routerConfig({
      discovery: { cluster: "tenants", authority: "tenants.internal:8080", pathTemplate: "/lookup/{host}/owner", timeoutMs: 250 },
    }));
    request(host, "/orders");
    const call = onlyPendingCall(host);
    assert.equal(call.upstream, "tenants");
    assert.equal(call.timeoutMs, 250);
    assert.deepEqual(call.headers, [[":method", "GET"], [":path", `/lookup/${TENANT}/owner`], [":authority", "tenants.internal:8080"]]);
  });

  it("RegionRouter: a cached owner answers the next request without a call (source cache)", async () => {
    const host = await startRouter();
    request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    const { stream, action } = request(host, "/orders", [], `${TENANT}:443`);
    assert.equal(action, "continue");
    assert.equal(host.httpCalls.length, 1);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=us-east;source=cache;pop=${POP};hops=0`);
    assert.equal(counter(host, "cache_hits"), 1);
  });

  it("RegionRouter: with staleIfErrorSeconds 0, an expired cache entry is looked up again", async () => {
    const host = await startRouter(routerConfig({ discovery: { cacheTtlSeconds: 10, staleIfErrorSeconds: 0 } }));
    request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    host.advanceTime(9_999);
    assert.equal(request(host, "/catalog").action, "continue");
    host.advanceTime(1);
    assert.equal(request(host, "/catalog").action, "pause");
    assert.equal(host.httpCalls.length, 2);
  });

  it("RegionRouter: another worker's cache entry (same shared data) is used without a call", async () => {
    const first = await startRouter();
    request(first, "/catalog");
    answerRegion(first, onlyPendingCall(first).token, "ap-southeast");
    const second = await startRouter();
    second.sharedData = first.sharedData;
    const { stream, action } = request(second, "/catalog");
    assert.equal(action, "continue");
    assert.equal(second.httpCalls.length, 0);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-ap-southeast");
  });

  it("RegionRouter: a malformed cache entry is ignored and replaced using its CAS", async () => {
    const host = await startRouter();
    host.sharedData.set(`edge-router/tenant/${TENANT}`, { value: new TextEncoder().encode("garbage"), cas: 41 });
    assert.equal(request(host, "/catalog").action, "pause");
    answerRegion(host, onlyPendingCall(host).token, "eu-west");
    assert.equal(cachedTenant(host), `eu-west|${START_MS + 30_000}`);
    assert.notEqual(host.sharedData.get(`edge-router/tenant/${TENANT}`)!.cas, 41);
  });

  it("RegionRouter: an unknown-tenant record in shared data (written by earlier versions) still reads as one", async () => {
    const host = await startRouter();
    host.sharedData.set(`edge-router/tenant/${TENANT}`, { value: new TextEncoder().encode(`!|${START_MS + 1_000}`), cas: 3 });
    assert.deepEqual(replyBody(request(host, "/catalog").stream), noOwner("unknown tenant"));
    assert.equal(host.httpCalls.length, 0);
    host.advanceTime(1_000);
    assert.equal(request(host, "/catalog").action, "pause");
  });

  it("RegionRouter: an equal entry that lives longer is kept, not rewritten", async () => {
    const host = await startRouter();
    request(host, "/catalog");
    const stored = `eu-west|${START_MS + 60_000}`;
    host.sharedData.set(`edge-router/tenant/${TENANT}`, { value: new TextEncoder().encode(stored), cas: 7 });
    // The entry appeared (another worker) after this request missed the cache.
    answerRegion(host, onlyPendingCall(host).token, "eu-west");
    assert.equal(cachedTenant(host), stored);
    assert.equal(host.sharedData.get(`edge-router/tenant/${TENANT}`)!.cas, 7);
  });

  it("RegionRouter: hosts that are not DNS names are never looked up", async () => {
    for (const authority of ["", "[::1]:8080", "acme edgerim", "acme.test:http", "a/b.test", "x".repeat(254)]) {
      const host = await startRouter();
      const { stream } = request(host, "/catalog", [], authority);
      assert.equal(host.httpCalls.length, 0, `looked up ${JSON.stringify(authority)}`);
      assert.equal(stream.localResponse?.status, 503);
      assert.deepEqual(replyBody(stream), noOwner("no tenant host"));
    }
  });

  it("RegionRouter: a request without :authority gets no_owner and no call", async () => {
    const host = await startRouter();
    const stream = host.newHttpContext();
    stream.onRequestHeaders([[":method", "GET"], [":path", "/catalog"]]);
    assert.deepEqual(replyBody(stream), noOwner("no tenant host"));
    assert.equal(host.httpCalls.length, 0);
  });
});

describe("RegionRouter: discovery answers that give no owner", () => {
  it("RegionRouter: 404 unknown tenant is cached by the worker (not in shared data) for negativeCacheTtlSeconds", async () => {
    const host = await startRouter();
    const first = request(host, "/catalog").stream;
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(first.localResponse?.status, 503);
    assert.deepEqual(replyBody(first), noOwner("unknown tenant"));
    assert.equal(first.continued, false);
    assert.equal(cachedTenant(host), undefined);
    assert.equal(host.sharedData.size, 0);

    const second = request(host, "/catalog").stream;
    assert.equal(host.httpCalls.length, 1, "a negative cache hit must not call discovery");
    assert.deepEqual(replyBody(second), noOwner("unknown tenant"));
    assert.equal(counter(host, "cache_hits"), 1);
    assert.equal(counter(host, "lookup_errors"), 0);

    host.advanceTime(4_999);
    assert.deepEqual(replyBody(request(host, "/catalog").stream), noOwner("unknown tenant"));
    assert.equal(host.httpCalls.length, 1);
    host.advanceTime(1);
    assert.equal(request(host, "/catalog").action, "pause");
    assert.equal(host.httpCalls.length, 2);
  });

  const failures: Array<[string, { status: number; body?: string }]> = [
    ["500", { status: 500, body: "oops" }],
    ["503 (upstream unreachable)", { status: 503, body: "no healthy upstream" }],
    ["504 (timeout)", { status: 504, body: "upstream request timeout" }],
    ["200 with a body that is not JSON", { status: 200, body: "eu-west" }],
    ["200 with truncated JSON", { status: 200, body: '{"host":"acme.edgerim.test","region":"eu-west"' }],
    ["200 without region", { status: 200, body: '{"host":"acme.edgerim.test"}' }],
    ["200 with a numeric region", { status: 200, body: '{"region":3}' }],
    ["200 with an empty region", { status: 200, body: '{"region":""}' }],
    ["200 with an empty body", { status: 200 }],
  ];
  for (const [what, answer] of failures) {
    it(`RegionRouter: ${what} is a lookup error: no_owner, counted, nothing cached`, async () => {
      const host = await startRouter();
      const { stream } = request(host, "/catalog");
      host.respondHttpCall(onlyPendingCall(host).token, answer);
      assert.equal(stream.localResponse?.status, 503);
      assert.deepEqual(replyBody(stream), noOwner("tenant lookup failed"));
      assert.equal(counter(host, "lookup_errors"), 1);
      assert.equal(cachedTenant(host), undefined);
      const backedOff = request(host, "/catalog").stream;
      assert.deepEqual(replyBody(backedOff), noOwner("tenant lookup failed"), "within failureBackoffMs: no owner at once");
      assert.equal(host.httpCalls.length, 1);
      host.advanceTime(1_000);
      assert.equal(request(host, "/catalog").action, "pause", "after the back-off the next request asks again");
      assert.equal(host.httpCalls.length, 2);
    });
  }

  it("RegionRouter: extra members and escapes in an answer are accepted", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog");
    host.respondHttpCall(onlyPendingCall(host).token, {
      status: 200,
      body: '{"note":"caf\\u00e9 \\"x\\"","tags":[1,2.5e3,{"a":null}],"region":"eu\\u002dwest","ok":true}',
    });
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
  });

  it("RegionRouter: a reset or timed-out call (no headers) gives no_owner and is not cached", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog");
    host.failHttpCall(onlyPendingCall(host).token);
    assert.equal(stream.localResponse?.status, 503);
    assert.deepEqual(replyBody(stream), noOwner("tenant lookup failed"));
    assert.equal(counter(host, "lookup_errors"), 1);
    assert.equal(cachedTenant(host), undefined);
  });

  it("RegionRouter: an answer naming a region outside the network is 403 and never cached", async () => {
    const host = await startRouter();
    const { stream } = request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "mars");
    assert.equal(stream.localResponse?.status, 403);
    assert.deepEqual(replyBody(stream), { error: "unknown_region", message: "unknown region from discovery", pop: POP });
    assert.equal(stream.getRequestHeader("x-edge-cluster"), undefined);
    assert.equal(cachedTenant(host), undefined);
    assert.equal(counter(host, "rejected.unknown_region"), 1);
  });

  it("RegionRouter: a discovery cluster Envoy does not know fails the lookup at once", async () => {
    const host = await startRouter(routerConfig(), { clusters: ["catalog-us-east"] });
    const { stream, action } = request(host, "/catalog");
    assert.equal(action, "pause");
    assert.equal(host.httpCalls.length, 0);
    assert.deepEqual(replyBody(stream), noOwner("tenant lookup failed"));
    assert.equal(counter(host, "lookups"), 1);
    assert.equal(counter(host, "lookup_errors"), 1);
  });
});

describe("RegionRouter: fallback policy region", () => {
  const config = routerConfig({ fallback: { policy: "region", region: "eu-west" } });

  it("RegionRouter: an unknown tenant goes to the fallback region (source fallback)", async () => {
    const host = await startRouter(config);
    const { stream } = request(host, "/catalog");
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(stream.continued, true);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=eu-west;source=fallback;pop=${POP};hops=1`);
    assert.equal(counter(host, "fallback"), 1);
    assert.equal(counter(host, "forwarded.eu-west"), 1);
  });

  it("RegionRouter: a failed lookup and a host-less request go to the fallback region", async () => {
    const host = await startRouter(config);
    const failed = request(host, "/catalog").stream;
    host.failHttpCall(onlyPendingCall(host).token);
    assert.equal(failed.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    const hostless = request(host, "/catalog", [], "[::1]").stream;
    assert.equal(hostless.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(counter(host, "fallback"), 2);
  });

  it("RegionRouter: a fallback to this POP's own region stays local", async () => {
    const host = await startRouter(routerConfig({ fallback: { policy: "region", region: "us-east" } }));
    const { stream } = request(host, "/orders", [], "unknown.test");
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    assert.equal(stream.getRequestHeader("x-edge-hops"), undefined);
  });

  it("RegionRouter: a fallback owner that already made its hop is still a loop (508)", async () => {
    const host = await startRouter(config);
    const { stream } = request(host, "/orders", [["x-edge-hops", "1"]]);
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(stream.localResponse?.status, 508);
  });

  it("RegionRouter: a claim naming an unknown region is rejected, never sent to the fallback", async () => {
    const host = await startRouter(config);
    const { stream } = request(host, "/orders", [["x-edge-user-region", "mars"]]);
    assert.equal(stream.localResponse?.status, 403);
    assert.equal(counter(host, "fallback"), 0);
  });
});

describe("RegionRouter: concurrent lookups", () => {
  it("RegionRouter: three concurrent requests for one host make one call and all resume", async () => {
    const host = await startRouter();
    const streams = ["/catalog/1", "/orders/2", "/catalog/3"].map((path) => request(host, path, [], TENANT.toUpperCase()));
    assert.deepEqual(streams.map((s) => s.action), ["pause", "pause", "pause"]);
    const call = onlyPendingCall(host);
    assert.equal(counter(host, "lookups"), 1);
    answerRegion(host, call.token, "us-east");
    assert.deepEqual(streams.map((s) => s.stream.continued), [true, true, true]);
    assert.deepEqual(streams.map((s) => s.stream.getRequestHeader("x-edge-cluster")), ["catalog-us-east", "orders-us-east", "catalog-us-east"]);
    assert.equal(counter(host, "routed_local"), 3);
  });

  it("RegionRouter: lookups for different hosts run separately", async () => {
    const host = await startRouter();
    const a = request(host, "/catalog", [], "a.test").stream;
    const b = request(host, "/catalog", [], "b.test").stream;
    assert.equal(host.httpCalls.length, 2);
    answerRegion(host, host.httpCalls[1]!.token, "eu-west", "b.test");
    assert.equal(b.continued, true);
    assert.equal(a.continued, false);
    answerUnknownTenant(host, host.httpCalls[0]!.token);
    assert.equal(a.localResponse?.status, 503);
    assert.equal(cachedTenant(host, "b.test"), `eu-west|${START_MS + 30_000}`);
    assert.equal(cachedTenant(host, "a.test"), undefined);
    assert.equal(request(host, "/catalog", [], "a.test").stream.localResponse?.status, 503);
    assert.equal(host.httpCalls.length, 2, "a.test is a known-unknown tenant of this worker");
  });

  it("RegionRouter: when the request that started the lookup is reset, the others still resume", async () => {
    const host = await startRouter();
    const leader = request(host, "/catalog/1").stream;
    const second = request(host, "/catalog/2").stream;
    const third = request(host, "/catalog/3").stream;
    leader.onDone();
    leader.onDelete();
    answerRegion(host, onlyPendingCall(host).token, "eu-west");
    assert.equal(leader.continued, false);
    assert.deepEqual([second.continued, third.continued], [true, true]);
    assert.equal(third.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(counter(host, "forwarded.eu-west"), 2);
  });

  it("RegionRouter: a failed shared lookup answers every waiting request", async () => {
    const host = await startRouter();
    const waiting = [request(host, "/catalog").stream, request(host, "/orders").stream];
    host.failHttpCall(onlyPendingCall(host).token);
    assert.deepEqual(waiting.map((s) => s.localResponse?.status), [503, 503]);
    assert.equal(counter(host, "lookup_errors"), 1);
    assert.equal(counter(host, "rejected.no_owner"), 2);
  });

  it("RegionRouter: an answer after every waiter is gone is still cached", async () => {
    const host = await startRouter();
    const only = request(host, "/catalog").stream;
    only.onDone();
    only.onDelete();
    answerRegion(host, onlyPendingCall(host).token, "ap-southeast");
    assert.equal(cachedTenant(host), `ap-southeast|${START_MS + 30_000}`);
    assert.equal(request(host, "/catalog").stream.getRequestHeader("x-edge-cluster"), "edge-router-ap-southeast");
  });

  it("RegionRouter: a request joining after the answer uses the cache, a new one after expiry calls again", async () => {
    const host = await startRouter();
    request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    assert.equal(request(host, "/catalog").action, "continue");
    host.advanceTime(30_000);
    request(host, "/catalog");
    request(host, "/catalog");
    assert.equal(host.httpCalls.length, 2);
  });

  it("RegionRouter: a body arriving during the lookup is held back until the owner is known", async () => {
    const host = await startRouter();
    const stream = host.newHttpContext();
    assert.equal(stream.onRequestHeaders([[":method", "POST"], [":authority", TENANT], [":path", "/orders"]], false), "pause");
    assert.equal(stream.onRequestBody('{"item":1}', true), "pause");
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    assert.equal(stream.continued, true);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    const routed = request(host, "/orders").stream;
    assert.equal(routed.onRequestBody("{}", true), "continue");
  });
});
