// The host against a real compiled filter: the probe fixture reports what each host call answered.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import { ProxyWasmHost, ProxyWasmTrap, WasmResult, type HeaderList, type ProxyWasmHostOptions } from "../index.ts";
import { buildProbeFilter, PROBE_ROOT_ID } from "./probe-filter-build.ts";

let probeWasm: string;

before(async () => {
  probeWasm = await buildProbeFilter();
});

async function loadProbe(options: Partial<ProxyWasmHostOptions> = {}): Promise<ProxyWasmHost> {
  return ProxyWasmHost.load(probeWasm, { rootId: PROBE_ROOT_ID, pluginConfig: "probe-config", ...options });
}

async function configuredProbe(options: Partial<ProxyWasmHostOptions> = {}): Promise<ProxyWasmHost> {
  const host = await loadProbe(options);
  assert.equal(host.configure(), true);
  return host;
}

function request(action: string, extra: HeaderList = []): HeaderList {
  return [
    [":method", "GET"],
    [":path", "/catalog/items"],
    [":authority", "acme.example"],
    ["x-probe-action", action],
    ...extra,
  ];
}

function messages(host: ProxyWasmHost): string[] {
  return host.logs.map((entry) => entry.message);
}

const code = (result: number): string => String(result);

const TENANT_ANSWER = { status: 200, headers: [["X-Tenant", "acme"]] as HeaderList, body: '{"region":"us-east"}' };

describe("configure", () => {
  it("configure: runs VM start with the VM configuration, then configure with the plugin configuration", async () => {
    const host = await loadProbe({ vmConfig: "vm-one", pluginConfig: "plugin-one" });
    assert.equal(host.abiVersion, "0.2.0");
    assert.equal(host.configure(), true);
    assert.deepEqual(messages(host), [
      `probe vm start: vm config=vm-one; plugin config result=${WasmResult.NotFound}`,
      "probe configured: plugin-one; root id=probe",
    ]);
  });

  it("configure: returns false when proxy_on_configure rejects the plugin configuration", async () => {
    const host = await loadProbe({ pluginConfig: "reject" });
    assert.equal(host.configure(), false);
    assert.deepEqual(host.logs.at(-1), { level: "error", message: "probe: configuration rejected" });
  });

  it("configure: returns false without configuring when proxy_on_vm_start refuses", async () => {
    const host = await loadProbe({ vmConfig: "refuse" });
    assert.equal(host.configure(), false);
    assert.equal(messages(host).some((m) => m.startsWith("probe configured")), false);
  });

  it("newHttpContext: refused before configure", async () => {
    const host = await loadProbe();
    assert.throws(() => host.newHttpContext(), /call configure\(\) first/);
  });
});

describe("request and response headers", () => {
  it("request headers: add appends, replace drops every value and appends, remove drops all, keys lower-cased", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    const action = stream.onRequestHeaders(
      request("headers", [
        ["X-Replaced", "a"],
        ["x-removed", "z"],
        ["x-replaced", "b"],
      ]),
    );
    assert.equal(action, "continue");
    assert.deepEqual(stream.requestHeaders, [
      [":method", "GET"],
      [":path", "/catalog/items"],
      [":authority", "acme.example"],
      [":probe", "pseudo"],
      ["x-probe-action", "headers"],
      ["x-probe-header-count", "7"],
      ["x-probe-end-of-stream", "true"],
      ["x-added", "one"],
      ["x-replaced", "new"],
    ]);
  });

  it("request headers: end_of_stream reaches the filter as given", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("none"), false);
    assert.equal(stream.getRequestHeader("x-probe-end-of-stream"), "false");
  });

  it("header pairs: the whole map goes to the module and comes back through set_header_map_pairs", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("pairs"));
    const before = [...request("pairs"), ["x-probe-header-count", "4"], ["x-probe-end-of-stream", "true"]] as HeaderList;
    const bytes = (pairs: HeaderList) => pairs.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    const afterSet = [...before, ["x-pairs-count", "6"]] as HeaderList;
    assert.deepEqual(stream.requestHeaders, [
      ...afterSet,
      ["x-set-pairs-result", code(WasmResult.Ok)],
      ["x-header-bytes", String(bytes(afterSet) + Buffer.byteLength("x-set-pairs-result") + 1)],
    ]);
  });

  it("request headers: closed to the module once it continued (BadArgument in the body callback)", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    assert.equal(stream.onRequestHeaders(request("none"), false), "continue");
    assert.equal(stream.onRequestBody("hello"), "continue");
    assert.equal(stream.getRequestHeader("x-from-body"), undefined);
    assert.ok(messages(host).includes(`probe body: hello; request header access=${WasmResult.BadArgument}`));
    assert.deepEqual(host.metrics.get("probe_body_bytes")?.records, [5]);
  });

  it("request body: proxy_set_buffer_bytes from 0 over the whole chunk replaces it", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("rewrite-body"), false);
    assert.equal(stream.onRequestBody("hello"), "continue");
    assert.equal(stream.requestBody, "rewritten:hello");
    assert.ok(messages(host).includes(`probe body rewrite result=${WasmResult.Ok}`));
  });

  it("response headers: the filter edits the response map", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("headers"));
    const action = stream.onResponseHeaders([
      [":status", "200"],
      ["X-Probe-Action", "from-upstream"],
    ]);
    assert.equal(action, "continue");
    assert.deepEqual(stream.responseHeaders, [
      [":status", "200"],
      ["x-probe-response", "seen"],
      ["x-probe-action", "headers"],
    ]);
    assert.equal(stream.getResponseHeader("X-PROBE-RESPONSE"), "seen");
  });
});

describe("local responses", () => {
  it("local response: recorded with lower-cased headers and details; the stream pauses although the filter returned Continue", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    assert.equal(stream.onRequestHeaders(request("reject")), "pause");
    assert.deepEqual(stream.localResponse, {
      status: 418,
      body: '{"error":"teapot"}',
      headers: [["content-type", "application/json"]],
      details: "probe_rejected_request",
    });
    assert.equal(stream.continued, false);
  });

  it("local response: goes through the module's own proxy_on_response_headers, as Envoy encodes it", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("reject"));
    assert.deepEqual(stream.responseHeaders, [
      [":status", "418"],
      ["content-type", "application/json"],
      ["content-length", "18"],
      ["x-probe-response", "seen"],
      ["x-probe-action", "reject"],
    ]);
    assert.equal(host.metrics.get("probe_inflight")?.value, 0);
    assert.throws(() => stream.onResponseHeaders([[":status", "200"]]), /already has a response/);
  });
});

describe("http calls", () => {
  it("http call: records upstream, lower-cased headers, body and timeout, and pauses the stream", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    assert.equal(stream.onRequestHeaders(request("call", [["x-call-timeout", "250"]])), "pause");
    assert.deepEqual(host.httpCalls, [
      {
        token: 1,
        upstream: "discovery",
        headers: [
          [":method", "GET"],
          [":path", "/v1/tenants/acme.example"],
          [":authority", "discovery"],
          ["x-probe-origin", String(stream.id)],
        ],
        body: "probe body",
        timeoutMs: 250,
        done: false,
      },
    ]);
    assert.equal(stream.continued, false);
  });

  it("http call: the response reaches the callback, which edits the paused request and continues; later edits are refused", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("call"));
    host.respondHttpCall(1, TENANT_ANSWER);
    assert.equal(host.httpCalls[0]?.done, true);
    assert.equal(stream.continued, true);
    assert.equal(stream.getRequestHeader("x-call-status"), "200");
    assert.equal(stream.getRequestHeader("x-call-tenant"), "acme");
    assert.equal(stream.getRequestHeader("x-call-header-count"), "2");
    assert.equal(stream.getRequestHeader("x-call-body"), '{"region":"us-east"}');
    assert.equal(stream.getRequestHeader("x-after-continue"), undefined);
    assert.ok(messages(host).includes(`probe call answered; request header access after continue=${WasmResult.BadArgument}`));
  });

  it("http call: a failed call arrives with no headers, and the root context's status reads BrokenConnection reset", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("call"));
    host.failHttpCall(1);
    const body = `call failed: status=${WasmResult.BrokenConnection} reset`;
    assert.equal(stream.localResponse?.status, 503);
    assert.equal(stream.localResponse?.body, body);
    assert.equal(stream.continued, false);
    assert.deepEqual(stream.responseHeaders, [
      [":status", "503"],
      ["content-length", String(body.length)],
      ["content-type", "text/plain"],
      ["x-probe-response", "seen"],
      ["x-probe-action", "call"],
    ]);
  });

  it("http call: an answer for a stream deleted meanwhile cannot reach it (set_effective_context is BadArgument)", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("call"));
    stream.onDone();
    stream.onDelete();
    host.respondHttpCall(1, TENANT_ANSWER);
    assert.equal(stream.continued, false);
    assert.equal(stream.getRequestHeader("x-call-status"), undefined);
    assert.ok(messages(host).includes(`Unable to set effective context: ${stream.id} with result: ${WasmResult.BadArgument}`));
  });

  it("http call: a call without :path, or to a cluster Envoy does not know, is BadArgument and not sent", async () => {
    const host = await configuredProbe({ clusters: ["discovery"] });
    const noPath = host.newHttpContext();
    assert.equal(noPath.onRequestHeaders(request("call", [["x-call-omit-path", "1"]])), "continue");
    assert.equal(noPath.getRequestHeader("x-call-result"), code(WasmResult.BadArgument));
    const unknownCluster = host.newHttpContext();
    assert.equal(unknownCluster.onRequestHeaders(request("call", [["x-call-cluster", "elsewhere"]])), "continue");
    assert.equal(unknownCluster.getRequestHeader("x-call-result"), code(WasmResult.BadArgument));
    assert.deepEqual(host.httpCalls, []);
  });

  it("http call: answering an unknown or already answered token throws", async () => {
    const host = await configuredProbe();
    host.newHttpContext().onRequestHeaders(request("call"));
    assert.throws(() => host.respondHttpCall(7, { status: 200 }), /no http call with token 7/);
    host.respondHttpCall(1, { status: 404, body: '{"error":"unknown_tenant"}' });
    assert.throws(() => host.failHttpCall(1), /already answered/);
  });
});

describe("shared data", () => {
  const share = (key: string, value: string, cas: string): HeaderList =>
    request("share", [
      ["x-share-key", key],
      ["x-share-value", value],
      ["x-share-cas", cas],
    ]);

  it("shared data: missing key is NotFound, CAS 0 writes, the current CAS writes, a stale CAS is CasMismatch", async () => {
    const host = await configuredProbe();
    const first = host.newHttpContext();
    first.onRequestHeaders(share("tenant", "v1", "0"));
    assert.equal(first.getRequestHeader("x-share-get-result"), code(WasmResult.NotFound));
    assert.equal(first.getRequestHeader("x-share-set-result"), code(WasmResult.Ok));
    const casAfterFirst = host.sharedData.get("tenant")!.cas;

    const second = host.newHttpContext();
    second.onRequestHeaders(share("tenant", "v2", "read"));
    assert.equal(second.getRequestHeader("x-share-get-value"), "v1");
    assert.equal(second.getRequestHeader("x-share-get-cas"), String(casAfterFirst));
    assert.equal(second.getRequestHeader("x-share-set-result"), code(WasmResult.Ok));
    assert.notEqual(host.sharedData.get("tenant")!.cas, casAfterFirst);

    const stale = host.newHttpContext();
    stale.onRequestHeaders(share("tenant", "v3", String(casAfterFirst)));
    assert.equal(stale.getRequestHeader("x-share-set-result"), code(WasmResult.CasMismatch));
    assert.equal(Buffer.from(host.sharedData.get("tenant")!.value).toString(), "v2");
  });

  it("shared data: two hosts given one map see each other's values and CAS", async () => {
    const workerA = await configuredProbe();
    const workerB = await configuredProbe();
    workerB.sharedData = workerA.sharedData;
    workerA.newHttpContext().onRequestHeaders(share("k", "from-a", "0"));
    const seenByB = workerB.newHttpContext();
    seenByB.onRequestHeaders(share("k", "from-b", "read"));
    assert.equal(seenByB.getRequestHeader("x-share-get-value"), "from-a");
    assert.equal(seenByB.getRequestHeader("x-share-set-result"), code(WasmResult.Ok));
    const staleA = workerA.newHttpContext();
    staleA.onRequestHeaders(share("k", "late", seenByB.getRequestHeader("x-share-get-cas")!));
    assert.equal(staleA.getRequestHeader("x-share-set-result"), code(WasmResult.CasMismatch));
  });
});

describe("metrics", () => {
  it("metrics: counters only grow, gauges move both ways, histograms keep samples; wrong calls get Envoy's codes", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("metrics"));
    assert.equal(stream.getRequestHeader("x-metric-requests"), "1");
    assert.equal(stream.getRequestHeader("x-metric-histogram-get"), code(WasmResult.BadArgument));
    assert.equal(stream.getRequestHeader("x-metric-zero-increment"), code(WasmResult.BadArgument));
    assert.equal(stream.getRequestHeader("x-metric-unknown"), code(WasmResult.NotFound));
    assert.deepEqual(host.metrics.get("probe_requests"), { type: "counter", value: 1, records: [] });
    assert.deepEqual(host.metrics.get("probe_inflight"), { type: "gauge", value: 4, records: [] });
    assert.deepEqual(host.metrics.get("probe_body_bytes"), { type: "histogram", value: 49, records: [42, 7] });
    stream.onResponseHeaders([[":status", "200"]]);
    assert.equal(host.metrics.get("probe_inflight")?.value, 3);
  });
});

describe("logs", () => {
  it("logs: lines below the configured level are dropped", async () => {
    const host = await configuredProbe({ logLevel: "warn" });
    host.newHttpContext().onRequestHeaders(request("log"));
    assert.deepEqual(host.logs, [
      { level: "warn", message: "probe-warn" },
      { level: "error", message: "probe-error" },
      { level: "critical", message: "probe-critical" },
    ]);
  });

  it("logs: at trace every level is kept, including the SDK's own debug lines", async () => {
    const host = await configuredProbe({ logLevel: "trace" });
    host.newHttpContext().onRequestHeaders(request("log"));
    const probeLines = host.logs.filter((entry) => entry.message.startsWith("probe-"));
    assert.deepEqual(
      probeLines.map((entry) => entry.level),
      ["trace", "debug", "info", "warn", "error", "critical"],
    );
    assert.ok(host.logs.some((entry) => entry.level === "debug" && entry.message.startsWith("ensureContext(")));
  });
});

describe("time and timer", () => {
  it("time: the module reads nowMs in nanoseconds, moved by advanceTime", async () => {
    const host = await configuredProbe({ nowMs: 1_700_000_000_000 });
    const first = host.newHttpContext();
    first.onRequestHeaders(request("time"));
    assert.equal(first.getRequestHeader("x-now-ns"), "1700000000000000000");
    host.advanceTime(1500.25);
    const second = host.newHttpContext();
    second.onRequestHeaders(request("time"));
    assert.equal(second.getRequestHeader("x-now-ns"), "1700000001500250000");
    assert.throws(() => host.advanceTime(-1), /time only moves forward/);
  });

  it("tick: records the module's period and runs proxy_on_tick on the root, where request headers are BadArgument", async () => {
    const host = await configuredProbe({ pluginConfig: "tick", nowMs: 5 });
    assert.equal(host.tickPeriodMs, 1000);
    host.tick();
    host.tick();
    assert.equal(host.metrics.get("probe_ticks")?.value, 2);
    assert.equal(messages(host).at(-1), `probe tick at 5000000 ns; request header access=${WasmResult.BadArgument}`);
  });

  it("tick: refused when the module set no period", async () => {
    const host = await configuredProbe();
    assert.equal(host.tickPeriodMs, 0);
    assert.throws(() => host.tick(), /set no tick period/);
  });
});

describe("properties", () => {
  const property = (path: string, set?: string): HeaderList =>
    request("property", [["x-property-path", path], ...(set === undefined ? [] : ([["x-property-set", set]] as HeaderList))]);

  it("properties: plugin_root_id by default, configured NUL-separated paths, NotFound for the rest", async () => {
    const host = await configuredProbe({ properties: { "xds\0route_metadata": "route-meta" } });
    const rootId = host.newHttpContext();
    rootId.onRequestHeaders(property("plugin_root_id"));
    assert.equal(rootId.getRequestHeader("x-property-value"), PROBE_ROOT_ID);
    const nested = host.newHttpContext();
    nested.onRequestHeaders(property("xds/route_metadata"));
    assert.equal(nested.getRequestHeader("x-property-value"), "route-meta");
    const missing = host.newHttpContext();
    missing.onRequestHeaders(property("xds/cluster_name"));
    assert.equal(missing.getRequestHeader("x-property-result"), code(WasmResult.NotFound));
    assert.equal(missing.getRequestHeader("x-property-value"), undefined);
  });

  it("properties: a value set on a stream is read back on that stream only", async () => {
    const host = await configuredProbe();
    const writer = host.newHttpContext();
    writer.onRequestHeaders(property("probe_state", "written"));
    assert.equal(writer.getRequestHeader("x-property-set-result"), code(WasmResult.Ok));
    assert.equal(writer.getRequestHeader("x-property-value"), "written");
    const other = host.newHttpContext();
    other.onRequestHeaders(property("probe_state"));
    assert.equal(other.getRequestHeader("x-property-result"), code(WasmResult.NotFound));
  });
});

describe("effective context", () => {
  const effective = (target: number): HeaderList => request("effective", [["x-effective-target", String(target)]]);

  it("effective context: header calls act on the context switched to; an unknown id is BadArgument", async () => {
    const host = await configuredProbe();
    const paused = host.newHttpContext();
    assert.equal(paused.onRequestHeaders(request("pause")), "pause");
    const actor = host.newHttpContext();
    actor.onRequestHeaders(effective(paused.id));
    assert.equal(actor.getRequestHeader("x-effective-result"), code(WasmResult.Ok));
    assert.equal(paused.getRequestHeader("x-touched-by"), String(actor.id));
    assert.equal(actor.getRequestHeader("x-touched-by"), undefined);

    const lost = host.newHttpContext();
    lost.onRequestHeaders(effective(9999));
    assert.equal(lost.getRequestHeader("x-effective-result"), code(WasmResult.BadArgument));
    assert.equal(lost.getRequestHeader("x-touched-by"), String(lost.id));
  });

  it("effective context: a deleted stream is gone for the module and for the test", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    stream.onRequestHeaders(request("pause"));
    stream.onDone();
    stream.onDelete();
    assert.deepEqual(messages(host).slice(-2), [`probe done ${stream.id}`, `probe delete ${stream.id}`]);
    assert.throws(() => stream.onRequestHeaders(request("none")), /was deleted/);
    const actor = host.newHttpContext();
    actor.onRequestHeaders(effective(stream.id));
    assert.equal(actor.getRequestHeader("x-effective-result"), code(WasmResult.BadArgument));
  });
});

describe("traps", () => {
  it("abort: the trap carries exit code 255 and the abort message, and the module is not called again", async () => {
    const host = await configuredProbe();
    const stream = host.newHttpContext();
    assert.throws(
      () => stream.onRequestHeaders(request("abort")),
      (error: unknown) =>
        error instanceof ProxyWasmTrap &&
        error.exitCode === 255 &&
        /proxy_on_request_headers: the module exited with code 255; last error logged: probe abort requested/.test(error.message),
    );
    assert.throws(() => host.newHttpContext(), /failed earlier/);
  });
});

describe("memory", () => {
  it("memoryBytes: the module's linear memory, in whole 64 KiB pages", async () => {
    const host = await configuredProbe();
    const bytes = host.memoryBytes();
    assert.ok(bytes >= 65536);
    assert.equal(bytes % 65536, 0);
  });
});
