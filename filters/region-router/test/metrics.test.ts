import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { answerRegion, answerUnknownTenant, counters, onlyPendingCall, request, startRouter } from "./router-host.ts";

describe("RegionRouter: metrics", () => {
  it("RegionRouter: defines every counter at start, all zero", async () => {
    const host = await startRouter();
    assert.deepEqual(counters(host), {
      routed_local: 0, fallback: 0, lookup_errors: 0, cache_hits: 0, lookups: 0,
      stale_hits: 0, lookups_shed: 0, lookups_backed_off: 0, carried: 0, lookups_rate_limited: 0,
      "rejected.no_app": 0, "rejected.unknown_region": 0, "rejected.no_owner": 0, "rejected.loop_detected": 0,
      "rejected.owner_conflict": 0,
      "forwarded.us-east": 0, "forwarded.eu-west": 0, "forwarded.ap-southeast": 0,
      "failover.catalog.us-east": 0, "failover.catalog.eu-west": 0, "failover.catalog.ap-southeast": 0,
      "failover.orders.us-east": 0, "failover.orders.eu-west": 0, "failover.orders.ap-southeast": 0,
    });
    assert.equal(host.metrics.get("edge_router.lookup_ms")?.type, "histogram");
  });

  it("RegionRouter: the gauge wasm_memory_bytes holds the linear memory size from the start", async () => {
    const host = await startRouter();
    assert.deepEqual(host.metrics.get("edge_router.wasm_memory_bytes"), { type: "gauge", value: host.memoryBytes(), records: [] });
  });

  it("RegionRouter: wasm_memory_bytes is sampled once per 1024 finished streams, not per request", async () => {
    const host = await startRouter();
    const gauge = () => host.metrics.get("edge_router.wasm_memory_bytes")?.value;
    const atStart = host.memoryBytes();
    // Unknown tenants are cached in the module, so 1024 distinct ones grow its memory.
    const finish = (i: number) => {
      const { stream } = request(host, "/catalog", [], `tenant-${i}.unknown.test`);
      answerUnknownTenant(host, onlyPendingCall(host).token);
      stream.onDone();
      stream.onLog();
      stream.onDelete();
    };
    for (let i = 0; i < 1023; i++) finish(i);
    assert.ok(host.memoryBytes() > atStart, "precondition: the streams grew the memory");
    assert.equal(gauge(), atStart);
    finish(1023);
    assert.equal(gauge(), host.memoryBytes());
  });

  it("RegionRouter: counts each decision once and records each lookup's duration", async () => {
    const host = await startRouter();
    request(host, "/catalog", [["x-edge-user-region", "us-east"]]);
    request(host, "/catalog", [["x-edge-user-region", "eu-west"]]);
    request(host, "/catalog", [["x-edge-user-region", "eu-west"], ["x-edge-hops", "1"]]);
    request(host, "/catalog", [["x-edge-user-region", "mars"]]);
    request(host, "/nowhere");

    request(host, "/catalog");
    request(host, "/orders");
    host.advanceTime(120);
    answerRegion(host, onlyPendingCall(host).token, "ap-southeast");
    request(host, "/catalog");

    request(host, "/catalog", [], "down.test");
    host.advanceTime(40);
    host.failHttpCall(onlyPendingCall(host).token);

    assert.deepEqual(counters(host), {
      routed_local: 1, fallback: 0, lookup_errors: 1, cache_hits: 1, lookups: 2,
      stale_hits: 0, lookups_shed: 0, lookups_backed_off: 0, carried: 0, lookups_rate_limited: 0,
      "rejected.no_app": 1, "rejected.unknown_region": 1, "rejected.no_owner": 1, "rejected.loop_detected": 1,
      "rejected.owner_conflict": 0,
      "forwarded.us-east": 0, "forwarded.eu-west": 1, "forwarded.ap-southeast": 3,
      "failover.catalog.us-east": 0, "failover.catalog.eu-west": 0, "failover.catalog.ap-southeast": 0,
      "failover.orders.us-east": 0, "failover.orders.eu-west": 0, "failover.orders.ap-southeast": 0,
    });
    assert.deepEqual(host.metrics.get("edge_router.lookup_ms")?.records, [120, 40]);
  });
});
