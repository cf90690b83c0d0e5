import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ProxyWasmHost } from "../../testing/index.ts";
import { answerRegion, answerUnknownTenant, onlyPendingCall, request, routerConfig, startRouter, wasmPath } from "./router-host.ts";

const module = new WebAssembly.Module(readFileSync(wasmPath));

describe("region_router.wasm: what Envoy links", () => {
  it("region_router.wasm: is at most 64 KiB (the build limit)", () => {
    assert.ok(readFileSync(wasmPath).length <= 64 * 1024, `${readFileSync(wasmPath).length} bytes`);
  });

  it("region_router.wasm: declares proxy-wasm ABI 0.2.0 and exports malloc", () => {
    const exports = WebAssembly.Module.exports(module).map((e) => e.name);
    assert.ok(exports.includes("proxy_abi_version_0_2_0"));
    assert.ok(exports.includes("malloc"));
    assert.ok(!exports.some((name) => name.startsWith("__")), "the runtime is not exported to the host");
  });

  it("region_router.wasm: imports only proxy-wasm 0.2 host calls and WASI proc_exit, never proxy_clear_route_cache", () => {
    const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
    assert.ok(!imports.includes("env.proxy_clear_route_cache"));
    assert.deepEqual(imports.filter((name) => !name.startsWith("env.proxy_")), ["wasi_unstable.proc_exit"]);
    for (const needed of ["env.proxy_http_call", "env.proxy_replace_header_map_value", "env.proxy_set_shared_data",
      "env.proxy_get_shared_data", "env.proxy_send_local_response", "env.proxy_continue_stream", "env.proxy_define_metric"]) {
      assert.ok(imports.includes(needed), `missing ${needed}`);
    }
  });

  it("region_router.wasm: loads in the test host, which refuses what Envoy would refuse", async () => {
    const host = await ProxyWasmHost.load(wasmPath, { rootId: "region_router", pluginConfig: "{}" });
    assert.equal(host.abiVersion, "0.2.0");
  });
});

describe("RegionRouter: request path hygiene", () => {
  it("RegionRouter: routing, lookups and rejections log nothing, even at trace level", async () => {
    const host = await startRouter(undefined, { logLevel: "trace" });
    const configured = host.logs.length;
    request(host, "/catalog", [["x-edge-user-region", "eu-west"]]);
    request(host, "/nowhere");
    request(host, "/catalog", [["x-edge-user-region", "mars"]]);
    const paused = request(host, "/catalog").stream;
    answerUnknownTenant(host, onlyPendingCall(host).token);
    paused.onDone();
    paused.onLog();
    paused.onDelete();
    request(host, "/catalog", [], "down.test");
    host.failHttpCall(onlyPendingCall(host).token);
    assert.deepEqual(host.logs.slice(configured), []);
  });

  it("RegionRouter: memory stays flat over many requests (finished streams are freed)", async () => {
    // The worker's host sets are rings of negativeCacheMaxEntries slots: a small ring fills during
    // the warm-up, so any growth after it is a leak.
    const host = await startRouter(routerConfig({ discovery: { negativeCacheMaxEntries: 256 } }));
    const run = (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const tenant = `t${i % 50}.test`;
        const streams = [
          request(host, "/catalog/x", [["x-edge-user-region", i % 2 ? "eu-west" : "us-east"]]).stream,
          request(host, "/nowhere").stream,
          request(host, "/orders", [], tenant).stream,
          request(host, "/catalog", [], tenant).stream,
        ];
        const call = host.httpCalls.find((c) => !c.done);
        if (call) answerRegion(host, call.token, "ap-southeast", tenant);
        host.advanceTime(1_000);
        for (const stream of streams) {
          if (!stream.localResponse) stream.onResponseHeaders([[":status", "200"]]);
          stream.onDone();
          stream.onLog();
          stream.onDelete();
        }
      }
    };
    run(500);
    const warm = host.memoryBytes();
    run(5_000);
    assert.equal(host.memoryBytes(), warm, `memory grew from ${warm} to ${host.memoryBytes()} bytes`);
  });
});
