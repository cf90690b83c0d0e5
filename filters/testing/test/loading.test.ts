// Loading modules: what Envoy refuses, the host refuses with a message naming the cause.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { ProxyWasmHost, ProxyWasmLoadError } from "../index.ts";
import { buildFilter, wasmPath } from "../../region-router/build.ts";
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from "../../../infra/topology/load.ts";
import { regionRouterConfig } from "../../../edge/filter-config.ts";
import { buildWasmModule, op, type FunctionExport, type FunctionImport } from "./wasm-binary.ts";

let dir: string;
let written = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgerim-wasm-load-"));
});

after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const ABI_0_2_0: FunctionExport = { name: "proxy_abi_version_0_2_0" };
const MALLOC: FunctionExport = { name: "malloc", params: ["i32"], results: ["i32"], code: op.i32Const(0) };
const TICK_PERIOD: FunctionImport = { module: "env", name: "proxy_set_tick_period_milliseconds", params: ["i32"], results: ["i32"] };

async function moduleFile(imports: FunctionImport[], exports: FunctionExport[]): Promise<string> {
  const path = join(dir, `module-${++written}.wasm`);
  await writeFile(path, buildWasmModule({ imports, exports }));
  return path;
}

const load = (path: string) => ProxyWasmHost.load(path, { rootId: "test", pluginConfig: "" });

describe("loading", () => {
  it("load: a minimal ABI 0.2.0 module loads and configures", async () => {
    const host = await load(await moduleFile([], [ABI_0_2_0, MALLOC]));
    assert.equal(host.abiVersion, "0.2.0");
    assert.equal(host.configure(), true);
  });

  it("load: names every import Envoy does not provide, with the reason", async () => {
    const path = await moduleFile(
      [
        { module: "env", name: "proxy_clear_route_cache", results: ["i32"] },
        { module: "env", name: "abort", params: ["i32", "i32", "i32", "i32"] },
        { module: "env", name: "proxy_log", params: ["i32", "i32", "i32"], results: ["i32"] },
      ],
      [ABI_0_2_0, MALLOC],
    );
    await assert.rejects(load(path), (error: unknown) => {
      assert.ok(error instanceof ProxyWasmLoadError);
      assert.match(error.message, /does not provide to ABI 0\.2\.0 modules: env\.proxy_clear_route_cache \(ABI 0\.1\.0 only/);
      assert.match(error.message, /env\.abort \(AssemblyScript's default abort; build with `--use abort=abort_proc_exit`\)/);
      assert.doesNotMatch(error.message, /env\.proxy_log/);
      return true;
    });
  });

  it("load: proxy_get_log_level is provided to ABI 0.2.1 modules only", async () => {
    const logLevel: FunctionImport = { module: "env", name: "proxy_get_log_level", params: ["i32"], results: ["i32"] };
    await assert.rejects(load(await moduleFile([logLevel], [ABI_0_2_0, MALLOC])), /env\.proxy_get_log_level/);
    const host = await load(await moduleFile([logLevel], [{ name: "proxy_abi_version_0_2_1" }, MALLOC]));
    assert.equal(host.abiVersion, "0.2.1");
  });

  it("load: a module without a proxy-wasm ABI version export is refused", async () => {
    await assert.rejects(load(await moduleFile([], [MALLOC])), /missing or unknown proxy-wasm ABI version/);
    await assert.rejects(load(await moduleFile([], [{ name: "proxy_abi_version_0_1_0" }, MALLOC])), /ABI 0\.1\.0/);
  });

  it("load: a module without malloc is refused", async () => {
    await assert.rejects(load(await moduleFile([], [ABI_0_2_0])), /exports no malloc/);
  });

  it("load: a file that is not Wasm is refused with its path", async () => {
    const path = join(dir, "not-wasm.wasm");
    await writeFile(path, "hello");
    await assert.rejects(load(path), (error: unknown) => error instanceof ProxyWasmLoadError && error.message.includes(path));
  });

  it("configure: while _start runs, only logging-type host calls are served (Envoy restricts the rest)", async () => {
    const start: FunctionExport = { name: "_start", code: [...op.i32Const(1000), ...op.call(0), ...op.drop] };
    const host = await load(await moduleFile([TICK_PERIOD], [ABI_0_2_0, MALLOC, start]));
    assert.equal(host.configure(), true);
    assert.equal(host.tickPeriodMs, 0);
    assert.deepEqual(host.logs, [
      { level: "error", message: "Attempted call to restricted capability during VM start: env.proxy_set_tick_period_milliseconds" },
    ]);
  });

  it("configure: after start, the same host call from proxy_on_vm_start is served", async () => {
    const vmStart: FunctionExport = {
      name: "proxy_on_vm_start",
      params: ["i32", "i32"],
      results: ["i32"],
      code: [...op.i32Const(250), ...op.call(0), ...op.drop, ...op.i32Const(1)],
    };
    const host = await load(await moduleFile([TICK_PERIOD], [ABI_0_2_0, MALLOC, vmStart]));
    assert.equal(host.configure(), true);
    assert.equal(host.tickPeriodMs, 250);
  });
});


describe("region router module", () => {
  it(
    "load: the region router loads and accepts the plugin configuration a POP of the default topology gets",
    async () => {
      buildFilter();
      const topology = loadTopology(DEFAULT_TOPOLOGY_PATH);
      const region = topology.regions[0]!;
      const pluginConfig = JSON.stringify(regionRouterConfig(topology, region.name, region.pops[0]!.name));
      const host = await ProxyWasmHost.load(wasmPath, { rootId: "region_router", pluginConfig });
      assert.equal(host.configure(), true, host.logs.map((entry) => `${entry.level}: ${entry.message}`).join("\n"));
      const stream = host.newHttpContext();
      assert.equal(typeof stream.id, "number");
    },
  );
});
