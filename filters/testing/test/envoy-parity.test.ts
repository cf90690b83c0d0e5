// The same probe module, the same requests: once through a real Envoy, once through the host.
// Each case compares what the filter left behind (headers the upstream saw, the local reply, log
// lines), so a host that drifts from Envoy's behaviour fails here.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { toolPath } from "../../../scripts/toolchain/paths.ts";
import { ProxyWasmHost, type HeaderList, type HttpContextHandle } from "../index.ts";
import { buildProbeFilter, PROBE_ROOT_ID } from "./probe-filter-build.ts";

const PLUGIN_CONFIG = "parity";
const AUTHORITY = "acme.example";
const TENANT_ANSWER = { status: 200, headers: [["x-tenant", "acme"]] as HeaderList, body: '{"region":"us-east"}' };


interface Reply {
  status: number;
  headers: HeaderList;
  body: string;
}

function values(headers: HeaderList, name: string): string[] {
  return headers.filter(([key]) => key === name).map(([, value]) => value);
}

function toPairs(raw: string[]): HeaderList {
  const pairs: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return pairs;
}

/** Serves the app route (echoing the request headers it got) and the tenant lookup the probe makes. */
function startUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url?.startsWith("/v1/tenants/")) {
        res.writeHead(TENANT_ANSWER.status, Object.fromEntries(TENANT_ANSWER.headers));
        res.end(TENANT_ANSWER.body);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ headers: req.rawHeaders }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function envoyConfig(wasmPath: string, upstreamPort: number): object {
  const cluster = (name: string) => ({
    name,
    type: "STATIC",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: upstreamPort } } } }] }],
    },
  });
  const stringValue = (value: string) => ({ "@type": "type.googleapis.com/google.protobuf.StringValue", value });
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      clusters: [cluster("upstream"), cluster("discovery")],
      listeners: [
        {
          name: "public",
          address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "public",
                    route_config: {
                      virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "upstream" } }] }],
                    },
                    http_filters: [
                      {
                        name: "envoy.filters.http.wasm",
                        typed_config: {
                          "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                          config: {
                            name: PROBE_ROOT_ID,
                            root_id: PROBE_ROOT_ID,
                            configuration: stringValue(PLUGIN_CONFIG),
                            vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: wasmPath } } },
                          },
                        },
                      },
                      {
                        name: "envoy.filters.http.router",
                        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}


let probeWasm = "";
let upstream: Server | undefined;
let envoy: ChildProcess | undefined;
let envoyLog = "";
let workDir: string | undefined;
let publicPort = 0;
let host: ProxyWasmHost;

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (envoy?.exitCode !== null && envoy?.exitCode !== undefined) throw new Error(`envoy exited: ${envoyLog}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${envoyLog}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function throughEnvoy(method: string, headers: Record<string, string | string[]>, body = ""): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port: publicPort, method, path: "/catalog/items", headers: { host: AUTHORITY, ...headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: toPairs(res.rawHeaders), body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The request headers the upstream received from Envoy. */
function upstreamSaw(reply: Reply): HeaderList {
  assert.equal(reply.status, 200, reply.body);
  return toPairs((JSON.parse(reply.body) as { headers: string[] }).headers);
}

function throughHost(method: string, headers: Record<string, string | string[]>): HttpContextHandle {
  const list: HeaderList = [
    [":method", method],
    [":scheme", "http"],
    [":path", "/catalog/items"],
    [":authority", AUTHORITY],
  ];
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : [value]) list.push([name, one]);
  }
  const stream = host.newHttpContext();
  stream.onRequestHeaders(list, method === "GET");
  return stream;
}

before(async () => {
  // A missing Envoy fails here (toolPath names the fix); it never skips the comparison.
  const envoyPath = toolPath("envoy");
  probeWasm = await buildProbeFilter();
  upstream = await startUpstream();
  workDir = mkdtempSync(join(tmpdir(), "edgerim-probe-envoy-"));
  const adminAddressFile = join(workDir, "admin-address");
  const config = envoyConfig(probeWasm, (upstream.address() as AddressInfo).port);
  envoy = spawn(
    envoyPath,
    [
      "--config-yaml", JSON.stringify(config),
      "--admin-address-path", adminAddressFile,
      "--disable-hot-restart",
      "--log-level", "warn",
      "--component-log-level", "wasm:info",
      "--concurrency", "1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  envoy.stdout!.on("data", (chunk: Buffer) => (envoyLog += chunk.toString()));
  envoy.stderr!.on("data", (chunk: Buffer) => (envoyLog += chunk.toString()));
  const adminUrl = await waitFor("envoy admin address", async () =>
    existsSync(adminAddressFile) && readFileSync(adminAddressFile, "utf8").trim() !== ""
      ? `http://${readFileSync(adminAddressFile, "utf8").trim()}`
      : undefined,
  );
  publicPort = await waitFor("envoy listener", async () => {
    const listeners = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as {
      listener_statuses?: { local_address?: { socket_address?: { port_value?: number } } }[];
    };
    return listeners.listener_statuses?.[0]?.local_address?.socket_address?.port_value || undefined;
  });
  await waitFor("envoy ready", async () => ((await fetch(`${adminUrl}/ready`)).status === 200 ? true : undefined));

  host = await ProxyWasmHost.load(probeWasm, { rootId: PROBE_ROOT_ID, pluginConfig: PLUGIN_CONFIG, clusters: ["upstream", "discovery"] });
  assert.equal(host.configure(), true);
});

after(async () => {
  if (envoy !== undefined && envoy.exitCode === null && envoy.signalCode === null) {
    const exited = new Promise((resolve) => envoy!.once("close", resolve));
    envoy.kill("SIGKILL");
    await exited;
  }
  await new Promise((resolve) => (upstream === undefined ? resolve(undefined) : upstream.close(resolve)));
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe("host and Envoy agree", () => {
  it("parity: header add, replace (of duplicates) and remove leave the same request headers", async () => {
    const headers = { "x-probe-action": "headers", "x-replaced": ["a", "b"], "x-removed": "z" };
    const envoySide = upstreamSaw(await throughEnvoy("GET", headers));
    const hostSide = throughHost("GET", headers).requestHeaders;
    for (const name of ["x-added", "x-replaced", "x-removed", "x-probe-end-of-stream"]) {
      assert.deepEqual(values(hostSide, name), values(envoySide, name), name);
    }
    assert.deepEqual(values(envoySide, "x-replaced"), ["new"]);
  });

  it("parity: a local reply has the same status, body and headers, including the filter's response edits", async () => {
    const headers = { "x-probe-action": "reject" };
    const envoySide = await throughEnvoy("GET", headers);
    const stream = throughHost("GET", headers);
    assert.equal(stream.localResponse?.status, envoySide.status);
    assert.equal(stream.localResponse?.body, envoySide.body);
    for (const name of ["content-type", "content-length", "x-probe-response", "x-probe-action"]) {
      assert.deepEqual(values(stream.responseHeaders, name), values(envoySide.headers, name), name);
    }
  });

  it("parity: a local reply to a gRPC request is trailers-only: status 200, content-type, grpc-status mapped from the HTTP status, body as grpc-message", async () => {
    const headers = { "x-probe-action": "reject", "content-type": "application/grpc" };
    const envoySide = await throughEnvoy("POST", headers);
    const stream = throughHost("POST", headers);
    assert.equal(envoySide.status, 200);
    assert.equal(envoySide.body, "");
    // Not content-length: Envoy drops it from the reply, and this HTTP/1.1 client's codec adds a 0 of its own.
    for (const name of [":status", "content-type", "grpc-status", "grpc-message", "x-probe-response"]) {
      const envoyValues: string[] = name === ":status" ? [String(envoySide.status)] : values(envoySide.headers, name);
      assert.deepEqual(values(stream.responseHeaders, name), envoyValues, name);
    }
    assert.deepEqual(values(envoySide.headers, "grpc-status"), ["2"], "418 has no gRPC mapping: UNKNOWN");
  });

  it("parity: an http call's answer reaches the paused request; edits after continue are dropped", async () => {
    const headers = { "x-probe-action": "call" };
    const envoySide = upstreamSaw(await throughEnvoy("GET", headers));
    const stream = throughHost("GET", headers);
    const call = host.httpCalls.at(-1)!;
    assert.equal(call.upstream, "discovery");
    host.respondHttpCall(call.token, TENANT_ANSWER);
    for (const name of ["x-call-status", "x-call-tenant", "x-call-body", "x-after-continue"]) {
      assert.deepEqual(values(stream.requestHeaders, name), values(envoySide, name), name);
    }
    assert.deepEqual(values(envoySide, "x-call-tenant"), ["acme"]);
  });

  it("parity: an http call without :path, or to a cluster Envoy lacks, is refused with BadArgument", async () => {
    const cases: Record<string, string>[] = [
      { "x-probe-action": "call", "x-call-omit-path": "1" },
      { "x-probe-action": "call", "x-call-cluster": "no-such-cluster" },
    ];
    for (const headers of cases) {
      const calls = host.httpCalls.length;
      const envoySide = upstreamSaw(await throughEnvoy("GET", headers));
      const stream = throughHost("GET", headers);
      assert.deepEqual(values(stream.requestHeaders, "x-call-result"), values(envoySide, "x-call-result"));
      assert.deepEqual(values(envoySide, "x-call-result"), ["2"]);
      assert.equal(host.httpCalls.length, calls);
    }
  });

  it("parity: shared data answers NotFound, Ok and CasMismatch at the same steps", async () => {
    const step = (value: string, cas: string) => ({ "x-probe-action": "share", "x-share-key": "parity", "x-share-value": value, "x-share-cas": cas });
    const observed = (headers: HeaderList) =>
      ["x-share-get-result", "x-share-get-value", "x-share-set-result"].map((name) => values(headers, name).join(","));
    const run = async (send: (headers: Record<string, string>) => Promise<HeaderList>) => {
      const first = await send(step("v1", "0"));
      const second = await send(step("v2", "read"));
      const staleCas = values(second, "x-share-get-cas")[0]!;
      const stale = await send(step("v3", staleCas));
      return [first, second, stale].map(observed);
    };
    const envoySide = await run(async (headers) => upstreamSaw(await throughEnvoy("GET", headers)));
    const hostSide = await run(async (headers) => throughHost("GET", headers).requestHeaders);
    assert.deepEqual(hostSide, envoySide);
    assert.deepEqual(envoySide, [
      ["1", "", "0"],
      ["0", "v1", "0"],
      ["0", "v2", "8"],
    ]);
  });

  it("parity: properties and metric calls answer with the same values and codes", async () => {
    const cases: Record<string, string>[] = [
      { "x-probe-action": "property", "x-property-path": "plugin_root_id" },
      { "x-probe-action": "property", "x-property-path": "probe_state", "x-property-set": "written" },
      { "x-probe-action": "property", "x-property-path": "no_such/property" },
      { "x-probe-action": "metrics" },
    ];
    const compared = [
      "x-property-result",
      "x-property-value",
      "x-property-set-result",
      "x-metric-histogram-get",
      "x-metric-zero-increment",
      "x-metric-unknown",
    ];
    for (const headers of cases) {
      const envoySide = upstreamSaw(await throughEnvoy("GET", headers));
      const hostSide = throughHost("GET", headers).requestHeaders;
      for (const name of compared) assert.deepEqual(values(hostSide, name), values(envoySide, name), `${headers["x-probe-action"]}: ${name}`);
    }
  });

  it("parity: in the body callback the request headers are closed and the body is readable", async () => {
    const headers = { "x-probe-action": "none", "content-type": "text/plain", "content-length": "5" };
    const envoySide = upstreamSaw(await throughEnvoy("POST", headers, "hello"));
    const stream = throughHost("POST", headers);
    assert.equal(stream.onRequestBody("hello"), "continue");
    assert.deepEqual(values(stream.requestHeaders, "x-probe-end-of-stream"), values(envoySide, "x-probe-end-of-stream"));
    const line = host.logs.at(-1)!.message;
    assert.equal(line, "probe body: hello; request header access=2");
    await waitFor("the body log line in Envoy's log", async () => (envoyLog.includes(`${PROBE_ROOT_ID}: ${line}\n`) ? true : undefined));
  });
});
