import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProxyWasmHost } from "../../testing/index.ts";
import {
  POP, TENANT, answerRegion, answerUnknownTenant, counter, onlyPendingCall, replyBody, request, routerConfig, startRouter,
} from "./router-host.ts";

const unknownTenant = { error: "no_owner", message: "unknown tenant", pop: POP };

/** Host names of one length, so every cache entry is the same size. */
const floodHost = (i: number) => `u${String(i).padStart(6, "0")}.flood.test`;

/** One finished request for `tenant` that discovery answers with 404 (if it asks). */
function unknownRequest(host: ProxyWasmHost, tenant: string): void {
  const { stream } = request(host, "/catalog", [], tenant);
  const call = host.httpCalls.at(-1);
  if (call && !call.done) answerUnknownTenant(host, call.token);
  assert.deepEqual(replyBody(stream), unknownTenant);
  stream.onDone();
  stream.onLog();
  stream.onDelete();
}

/** Whether a request for `tenant` is answered from this worker's cache (no discovery call). */
function isCachedUnknown(host: ProxyWasmHost, tenant: string): boolean {
  const calls = host.httpCalls.length;
  const { stream } = request(host, "/catalog", [], tenant);
  const cached = host.httpCalls.length === calls;
  if (cached) assert.deepEqual(replyBody(stream), unknownTenant);
  return cached;
}

describe("RegionRouter: unknown tenants are cached per worker, in bounded memory", () => {
  it("RegionRouter: with capacity N, N+1 unknown hosts leave no shared data and evict the oldest", async () => {
    const host = await startRouter(routerConfig({ discovery: { negativeCacheMaxEntries: 3 } }));
    const tenants = ["a.unknown.test", "b.unknown.test", "c.unknown.test", "d.unknown.test"];
    for (const tenant of tenants) unknownRequest(host, tenant);
    assert.equal(host.httpCalls.length, 4);
    assert.deepEqual([...host.sharedData.keys()], []);

    assert.equal(isCachedUnknown(host, "d.unknown.test"), true, "the latest answer is cached");
    assert.equal(isCachedUnknown(host, "b.unknown.test"), true);
    assert.equal(isCachedUnknown(host, "c.unknown.test"), true);
    assert.equal(counter(host, "cache_hits"), 3);
    assert.equal(isCachedUnknown(host, "a.unknown.test"), false, "the oldest answer was evicted");
    assert.equal(onlyPendingCall(host).headers[1]![1], "/v1/tenants/a.unknown.test");

    // a's new answer takes the slot of the oldest remaining one, b.
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(isCachedUnknown(host, "a.unknown.test"), true);
    assert.equal(isCachedUnknown(host, "b.unknown.test"), false);
    assert.deepEqual([...host.sharedData.keys()], []);
  });

  it("RegionRouter: the default capacity is 4096 answers", async () => {
    const host = await startRouter();
    for (let i = 0; i <= 4096; i++) unknownRequest(host, floodHost(i));
    assert.equal(isCachedUnknown(host, floodHost(1)), true);
    assert.equal(isCachedUnknown(host, floodHost(4096)), true);
    assert.equal(isCachedUnknown(host, floodHost(0)), false);
  });

  it("RegionRouter: an unknown answer expires after negativeCacheTtlSeconds and is asked again", async () => {
    const host = await startRouter(routerConfig({ discovery: { negativeCacheTtlSeconds: 2 } }));
    unknownRequest(host, "a.unknown.test");
    host.advanceTime(1_999);
    assert.equal(isCachedUnknown(host, "a.unknown.test"), true);
    host.advanceTime(1);
    assert.equal(isCachedUnknown(host, "a.unknown.test"), false);
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(isCachedUnknown(host, "a.unknown.test"), true, "the new answer is cached again");
    assert.equal(host.httpCalls.length, 2);
  });

  it("RegionRouter: negativeCacheTtlSeconds 0 caches no unknown answer", async () => {
    const host = await startRouter(routerConfig({ discovery: { negativeCacheTtlSeconds: 0 } }));
    unknownRequest(host, "a.unknown.test");
    assert.equal(isCachedUnknown(host, "a.unknown.test"), false);
  });

  it("RegionRouter: an owner another worker put in shared data wins over this worker's unknown answer", async () => {
    const worker = await startRouter();
    unknownRequest(worker, TENANT);
    const other = await startRouter();
    other.sharedData = worker.sharedData;
    request(other, "/catalog");
    answerRegion(other, onlyPendingCall(other).token, "eu-west");

    const { stream, action } = request(worker, "/catalog");
    assert.equal(action, "continue");
    assert.equal(worker.httpCalls.length, 1);
    assert.equal(stream.getRequestHeader("x-edge-cluster"), "edge-router-eu-west");
  });

  it("RegionRouter: a fallback region also applies to a cached unknown answer (source cache)", async () => {
    const host = await startRouter(routerConfig({ fallback: { policy: "region", region: "us-east" } }));
    const first = request(host, "/orders", [], "a.unknown.test").stream;
    answerUnknownTenant(host, onlyPendingCall(host).token);
    assert.equal(first.getRequestHeader("x-edge-cluster"), "orders-us-east");
    const { stream, action } = request(host, "/orders", [], "a.unknown.test");
    assert.equal(action, "continue");
    assert.equal(host.httpCalls.length, 1);
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=us-east;source=fallback;pop=${POP};hops=0`);
  });

  // Bound asserted: the default cache (4096 answers) fits in 1 MiB of linear memory, and once
  // 2 x 4096 distinct hosts went through, every slot has been replaced once and the map has been
  // through its rehash cycle, so each further host only replaces the oldest answer: 20,000 more
  // hosts must not add a single 64 KiB page. Without a bound the memory keeps growing (4 MiB
  // after 28,000 hosts with a capacity of 1,000,000).
  it("RegionRouter: 20,000 requests with distinct unknown hosts do not grow the Wasm memory", async () => {
    const host = await startRouter();
    const start = host.memoryBytes();
    let next = 0;
    for (; next < 2 * 4096; next++) unknownRequest(host, floodHost(next));
    const warm = host.memoryBytes();
    assert.ok(warm <= 1 << 20, `${warm} bytes after ${next} hosts (${start} at start)`);
    for (const end = next + 20_000; next < end; next++) unknownRequest(host, floodHost(next));
    assert.equal(host.memoryBytes(), warm, `memory grew from ${warm} to ${host.memoryBytes()} bytes (${start} at start)`);
    assert.equal(host.httpCalls.length, next);
    assert.deepEqual([...host.sharedData.keys()], []);
    assert.equal(isCachedUnknown(host, floodHost(next - 1)), true);
    assert.equal(isCachedUnknown(host, floodHost(next - 4097)), false);
  });
});
