import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProxyWasmHost } from "../../testing/index.ts";
import {
  POP, START_MS, TENANT, answerRegion, answerUnknownTenant, cachedTenant, counter, onlyPendingCall, replyBody, request,
  routerConfig, startRouter,
} from "./router-host.ts";

const noOwner = (message: string) => ({ error: "no_owner", message, pop: POP });
const TTL_MS = 10_000;
const STALE_MS = 60_000;
const degrading = (discovery: Record<string, unknown> = {}) =>
  routerConfig({ discovery: { cacheTtlSeconds: TTL_MS / 1000, staleIfErrorSeconds: STALE_MS / 1000, ...discovery } });

/** A router that learnt `owner` for TENANT and whose record has just expired. */
async function expiredOwner(owner = "eu-west", discovery: Record<string, unknown> = {}): Promise<ProxyWasmHost> {
  const host = await startRouter(degrading(discovery));
  request(host, "/catalog");
  answerRegion(host, onlyPendingCall(host).token, owner);
  host.advanceTime(TTL_MS);
  return host;
}

const routeOf = (host: ProxyWasmHost, path = "/catalog", authority = TENANT) => {
  const { stream, action } = request(host, path, [], authority);
  if (action === "continue") stream.onResponseHeaders([[":status", "200"]]);
  return { stream, action, route: stream.getResponseHeader("x-edge-route") };
};

const pending = (host: ProxyWasmHost) => host.httpCalls.filter((call) => !call.done);

/** One finished request for `tenant` (its call, if any, left as it is). */
function finished(host: ProxyWasmHost, tenant: string): void {
  const { stream } = request(host, "/catalog", [], tenant);
  stream.onDone();
  stream.onLog();
  stream.onDelete();
}

describe("RegionRouter: stale-if-error", () => {
  it("RegionRouter: an expired owner is served at once (source stale) while one refresh runs", async () => {
    const host = await expiredOwner();
    const first = routeOf(host);
    assert.equal(first.action, "continue");
    assert.equal(first.stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(first.stream.getRequestHeader("x-edge-source"), "stale");
    assert.equal(first.route, `owner=eu-west;source=stale;pop=${POP};hops=1`);
    assert.equal(host.httpCalls.length, 2, "one refresh");
    for (let i = 0; i < 20; i++) assert.equal(routeOf(host).action, "continue");
    assert.equal(host.httpCalls.length, 2, "still one refresh in flight for the host");
    assert.equal(counter(host, "stale_hits"), 21);
  });

  it("RegionRouter: stale is served while refreshing fails, and the next answer rewrites the record", async () => {
    const host = await expiredOwner("eu-west", { failureBackoffMs: 500 });
    routeOf(host);
    host.failHttpCall(onlyPendingCall(host).token);
    assert.equal(routeOf(host).stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(host.httpCalls.length, 2, "backed off: no refresh");
    host.advanceTime(500);
    assert.equal(routeOf(host).stream.getRequestHeader("x-edge-source"), "stale");
    assert.equal(host.httpCalls.length, 3, "after the back-off, one new refresh");
    answerRegion(host, onlyPendingCall(host).token, "ap-southeast");
    assert.equal(cachedTenant(host), `ap-southeast|${START_MS + TTL_MS + 500 + TTL_MS}`);
    const fresh = routeOf(host);
    assert.equal(fresh.route, `owner=ap-southeast;source=cache;pop=${POP};hops=1`);
    assert.equal(host.httpCalls.length, 3);
  });

  it("RegionRouter: beyond staleIfErrorSeconds past expiry the record is a miss: the request waits for a lookup", async () => {
    const host = await expiredOwner();
    host.advanceTime(STALE_MS - 1);
    assert.equal(routeOf(host).action, "continue");
    host.failHttpCall(onlyPendingCall(host).token);
    host.advanceTime(1_001);
    const late = request(host, "/catalog");
    assert.equal(late.action, "pause");
    host.failHttpCall(onlyPendingCall(host).token);
    assert.deepEqual(replyBody(late.stream), noOwner("tenant lookup failed"));
  });

  it("RegionRouter: staleIfErrorSeconds 0 serves nothing stale", async () => {
    const host = await expiredOwner("eu-west", { staleIfErrorSeconds: 0 });
    assert.equal(request(host, "/catalog").action, "pause");
  });

  it("RegionRouter: a 404 on refresh stops serving the stale owner, in every worker", async () => {
    const host = await expiredOwner();
    const other = await startRouter(degrading());
    other.sharedData = host.sharedData;
    routeOf(host);
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.deepEqual(replyBody(request(host, "/catalog").stream), noOwner("unknown tenant"));
    assert.deepEqual(replyBody(request(other, "/catalog").stream), noOwner("unknown tenant"));
    assert.equal(host.httpCalls.length + other.httpCalls.length, 2, "the removal is cached, not asked again");
    host.advanceTime(5_000);
    const after = request(host, "/catalog");
    assert.equal(after.action, "pause", "after negativeCacheTtlSeconds the tenant is looked up, not served stale");
  });

  it("RegionRouter: a 404 for a host without a record adds no shared data", async () => {
    const host = await startRouter(degrading());
    request(host, "/catalog", [], "gone.test");
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(host.sharedData.size, 0);
  });

  it("RegionRouter: an unknown-tenant answer of this worker wins over a stale owner", async () => {
    const host = await expiredOwner("eu-west", { negativeCacheTtlSeconds: 30 });
    // The record stays stale if the 404 cannot replace it (another worker rewrote it meanwhile).
    routeOf(host);
    const refresh = onlyPendingCall(host);
    host.sharedData.set(`edge-router/tenant/${TENANT}`, { value: new TextEncoder().encode(`eu-west|${START_MS}`), cas: 99 });
    answerUnknownTenant(host, refresh.token);
    assert.deepEqual(replyBody(request(host, "/catalog").stream), noOwner("unknown tenant"));
  });
});

describe("RegionRouter: failed lookups back off", () => {
  it("RegionRouter: N requests for a failing host within failureBackoffMs make exactly one discovery call", async () => {
    const host = await startRouter();
    request(host, "/catalog");
    host.respondHttpCall(onlyPendingCall(host).token, { status: 503, body: "no healthy upstream" });
    for (let i = 0; i < 50; i++) {
      const { stream, action } = request(host, "/catalog");
      assert.equal(action, "pause");
      assert.deepEqual(replyBody(stream), noOwner("tenant lookup failed"));
    }
    assert.equal(host.httpCalls.length, 1);
    assert.equal(counter(host, "lookups_backed_off"), 50);
    host.advanceTime(999);
    request(host, "/catalog");
    assert.equal(host.httpCalls.length, 1);
    host.advanceTime(1);
    assert.equal(request(host, "/catalog").action, "pause");
    assert.equal(host.httpCalls.length, 2);
  });

  it("RegionRouter: a backed-off host gets the fallback region at once", async () => {
    const host = await startRouter(routerConfig({ fallback: { policy: "region", region: "us-east" } }));
    const first = request(host, "/orders");
    host.failHttpCall(onlyPendingCall(host).token);
    assert.equal(first.stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    const { stream, action } = request(host, "/orders");
    assert.equal(action, "continue");
    assert.equal(stream.getRequestHeader("x-edge-source"), "fallback");
    assert.equal(host.httpCalls.length, 1);
  });

  it("RegionRouter: back-off is per host: another host is still looked up", async () => {
    const host = await startRouter();
    request(host, "/catalog", [], "a.test");
    host.failHttpCall(onlyPendingCall(host).token);
    assert.equal(request(host, "/catalog", [], "b.test").action, "pause");
    assert.equal(host.httpCalls.length, 2);
  });

  it("RegionRouter: an answer naming an unknown region also backs the host off", async () => {
    const host = await startRouter();
    request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "mars");
    request(host, "/catalog");
    assert.equal(host.httpCalls.length, 1);
  });

  it("RegionRouter: failureBackoffMs 0 asks again on the next request", async () => {
    const host = await startRouter(routerConfig({ discovery: { failureBackoffMs: 0 } }));
    request(host, "/catalog");
    host.failHttpCall(onlyPendingCall(host).token);
    assert.equal(request(host, "/catalog").action, "pause");
    assert.equal(host.httpCalls.length, 2);
  });

  it("RegionRouter: back-off entries are bounded by negativeCacheMaxEntries (the oldest goes first)", async () => {
    const host = await startRouter(routerConfig({ discovery: { negativeCacheMaxEntries: 2 } }));
    for (const tenant of ["a.test", "b.test", "c.test"]) {
      request(host, "/catalog", [], tenant);
      host.failHttpCall(onlyPendingCall(host).token);
    }
    request(host, "/catalog", [], "c.test");
    request(host, "/catalog", [], "b.test");
    assert.equal(host.httpCalls.length, 3, "b and c are backed off");
    request(host, "/catalog", [], "a.test");
    assert.equal(host.httpCalls.length, 4, "a's back-off was evicted");
  });
});

describe("RegionRouter: concurrent lookups are capped per worker", () => {
  it("RegionRouter: over maxConcurrentLookups a new host gets no_owner at once with no call", async () => {
    const host = await startRouter(routerConfig({ discovery: { maxConcurrentLookups: 3 } }));
    const waiting = ["a.test", "b.test", "c.test"].map((tenant) => request(host, "/catalog", [], tenant));
    assert.deepEqual(waiting.map((r) => r.action), ["pause", "pause", "pause"]);
    const shed = request(host, "/catalog", [], "d.test");
    assert.equal(host.httpCalls.length, 3);
    assert.equal(shed.stream.localResponse?.status, 503);
    assert.deepEqual(replyBody(shed.stream), noOwner("too many tenant lookups in flight"));
    assert.equal(counter(host, "lookups_shed"), 1);

    const joined = request(host, "/orders", [], "b.test");
    assert.equal(joined.action, "pause", "a host with a lookup in flight still joins it");
    assert.equal(joined.stream.localResponse, undefined);

    answerRegion(host, host.httpCalls[1]!.token, "us-east", "b.test");
    assert.equal(joined.stream.getRequestHeader("x-edge-cluster"), "orders-us-east");
    assert.equal(request(host, "/catalog", [], "d.test").action, "pause", "a freed slot takes a new lookup");
    assert.equal(host.httpCalls.length, 4);
  });

  it("RegionRouter: over the cap a stale owner is still served, and refreshed once a slot is free", async () => {
    const host = await expiredOwner("eu-west", { maxConcurrentLookups: 1 });
    request(host, "/catalog", [], "busy.test");
    const stale = routeOf(host);
    assert.equal(stale.stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
    assert.equal(host.httpCalls.length, 2, "no refresh over the cap");
    host.failHttpCall(onlyPendingCall(host).token);
    routeOf(host);
    assert.equal(host.httpCalls.length, 3);
    assert.equal(onlyPendingCall(host).headers[1]![1], `/v1/tenants/${TENANT}`);
  });

  it("RegionRouter: answers arriving in any order resume their own requests", async () => {
    const host = await startRouter();
    const tenants = ["a.test", "b.test", "c.test", "d.test"];
    const streams = tenants.map((tenant) => request(host, "/catalog", [], tenant).stream);
    const regions = ["us-east", "eu-west", "ap-southeast", "eu-west"];
    for (const i of [2, 0, 3, 1]) answerRegion(host, host.httpCalls[i]!.token, regions[i]!, tenants[i]);
    assert.deepEqual(streams.map((s) => s.getRequestHeader("x-edge-owner")), regions);
    assert.equal(pending(host).length, 0);
  });
});

describe("RegionRouter: floods of distinct hosts stay bounded", () => {
  // Bound asserted as in unknown-tenants.test.ts: after a warm-up that fills every structure and
  // takes it through its rehash cycle, further distinct hosts must not add a single 64 KiB page.
  it("RegionRouter: 10,000 distinct hosts while discovery hangs: at most maxConcurrentLookups calls, memory flat", async () => {
    const host = await startRouter(routerConfig({ discovery: { maxConcurrentLookups: 64 } }));
    let next = 0;
    for (; next < 2_000; next++) finished(host, `h${String(next).padStart(5, "0")}.flood.test`);
    const warm = host.memoryBytes();
    for (; next < 10_000; next++) finished(host, `h${String(next).padStart(5, "0")}.flood.test`);
    assert.equal(host.httpCalls.length, 64);
    assert.equal(counter(host, "lookups_shed"), 10_000 - 64);
    assert.equal(host.memoryBytes(), warm, `memory grew from ${warm} to ${host.memoryBytes()} bytes`);
  });

  it("RegionRouter: 10,000 distinct hosts whose lookups fail: back-offs bounded, no shared data, memory flat", async () => {
    const capacity = 1_000;
    const host = await startRouter(routerConfig({ discovery: { negativeCacheMaxEntries: capacity } }));
    const fail = (i: number) => {
      const tenant = `f${String(i).padStart(5, "0")}.flood.test`;
      const { stream } = request(host, "/catalog", [], tenant);
      host.failHttpCall(onlyPendingCall(host).token);
      assert.deepEqual(replyBody(stream), noOwner("tenant lookup failed"));
      stream.onDone();
      stream.onLog();
      stream.onDelete();
    };
    let next = 0;
    for (; next < 2 * capacity; next++) fail(next);
    const warm = host.memoryBytes();
    for (; next < 10_000; next++) fail(next);
    assert.equal(host.memoryBytes(), warm, `memory grew from ${warm} to ${host.memoryBytes()} bytes`);
    assert.equal(host.httpCalls.length, 10_000);
    assert.equal(host.sharedData.size, 0);
    const calls = host.httpCalls.length;
    finished(host, `f${String(next - 1).padStart(5, "0")}.flood.test`);
    assert.equal(host.httpCalls.length, calls, "the latest host is backed off");
    finished(host, `f${String(next - capacity - 1).padStart(5, "0")}.flood.test`);
    assert.equal(host.httpCalls.length, calls + 1, "a host older than the capacity is not");
  });
});

describe("RegionRouter: lookups per second are bounded per worker", () => {
  it("RegionRouter: over maxLookupsPerSecond a miss gets 503 no_owner at once; the bucket refills with time", async () => {
    const host = await startRouter(routerConfig({ discovery: { maxLookupsPerSecond: 3 } }));
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(request(host, "/catalog", [], `r${i}.rate.test`));
    assert.deepEqual(answers.map((a) => a.stream.localResponse?.status), [undefined, undefined, undefined, 503, 503]);
    assert.equal(host.httpCalls.length, 3);
    assert.deepEqual(replyBody(answers[3]!.stream), noOwner("tenant lookup rate exceeded"));
    assert.equal(counter(host, "lookups_rate_limited"), 2);
    // A third of a second holds one more lookup (3 per second), not two.
    host.advanceTime(334);
    assert.equal(request(host, "/catalog", [], "r5.rate.test").stream.localResponse, undefined);
    assert.equal(request(host, "/catalog", [], "r6.rate.test").stream.localResponse?.status, 503);
    assert.equal(host.httpCalls.length, 4);
    // Cached owners and joins of a lookup in flight take no token.
    answerRegion(host, host.httpCalls[0]!.token, "eu-west", "r0.rate.test");
    assert.equal(request(host, "/catalog", [], "r0.rate.test").stream.getRequestHeader("x-edge-owner"), "eu-west");
    const joined = request(host, "/catalog", [], "r1.rate.test");
    assert.deepEqual([joined.action, joined.stream.localResponse], ["pause", undefined]);
    assert.equal(host.httpCalls.length, 4);
  });
});

describe("RegionRouter: the worker's copy of cached owners", () => {
  it("RegionRouter: a hit on an owner this worker knows reads no shared data, until the record expires", async () => {
    const host = await startRouter(degrading());
    request(host, "/catalog");
    answerRegion(host, onlyPendingCall(host).token, "eu-west");
    // Another worker rewrites the record: this worker keeps its copy while it is fresh...
    const key = `edge-router/tenant/${TENANT}`;
    const entry = host.sharedData.get(key)!;
    host.sharedData.set(key, { ...entry, value: new TextEncoder().encode(`ap-southeast|${START_MS + 2 * TTL_MS}`) });
    assert.equal(routeOf(host).stream.getRequestHeader("x-edge-owner"), "eu-west");
    host.advanceTime(TTL_MS - 1);
    assert.equal(routeOf(host).stream.getRequestHeader("x-edge-owner"), "eu-west");
    // ...and reads shared data again once its copy expired.
    host.advanceTime(1);
    assert.equal(routeOf(host).route, `owner=ap-southeast;source=cache;pop=${POP};hops=1`);
    assert.equal(host.httpCalls.length, 1);
  });
});
