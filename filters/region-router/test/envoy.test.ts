// The compiled module in a real Envoy (V8 runtime) on loopback: one POP of us-east with a local
// catalog datacenter, an eu-west peer and a discovery service, each a small Node server.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { toolPath } from "../../../scripts/toolchain/paths.ts";
import { POP, routerConfig, wasmPath, type RouterConfig } from "./router-host.ts";

// A missing Envoy fails these tests (toolPath names the fix); it never skips them.
const envoyBin = toolPath("envoy");

interface Seen { path: string; headers: http.IncomingHttpHeaders }

/** A loopback HTTP server that records what it received. */
async function recordingServer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, seen, port: (server.address() as AddressInfo).port };
}

function cluster(name: string, port: number) {
  return {
    name, type: "STATIC", connect_timeout: "1s",
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }] },
  };
}

function bootstrap(config: RouterConfig, ports: Record<string, number>) {
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: "public",
        address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
        filter_chains: [{ filters: [{
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            stat_prefix: "public",
            route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster_header: "x-edge-cluster" } }] }] },
            http_filters: [
              {
                name: "envoy.filters.http.wasm",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                  config: {
                    root_id: "region_router",
                    vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: wasmPath } } },
                    configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: JSON.stringify(config) },
                  },
                },
              },
              { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
            ],
          },
        }] }],
      }],
      clusters: Object.entries(ports).map(([name, port]) => cluster(name, port)),
    },
  };
}

class Envoy {
  readonly process: ChildProcess;
  output = "";
  readonly exited: Promise<number | null>;

  constructor(readonly dir: string, config: RouterConfig, ports: Record<string, number>) {
    const configPath = join(dir, "envoy.json");
    writeFileSync(configPath, JSON.stringify(bootstrap(config, ports)));
    this.process = spawn(envoyBin, [
      "-c", configPath, "--concurrency", "1", "--disable-hot-restart", "-l", "warning",
      "--admin-address-path", join(dir, "admin"),
    ], { stdio: ["ignore", "pipe", "pipe"] });
    this.process.stdout!.on("data", (d: Buffer) => (this.output += d));
    this.process.stderr!.on("data", (d: Buffer) => (this.output += d));
    this.exited = new Promise((resolve) => this.process.on("exit", (code) => resolve(code)));
  }

  /** The public listener's port once Envoy is ready. */
  async listenerPort(): Promise<number> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) throw new Error(`envoy exited ${this.process.exitCode}:\n${this.output}`);
      const adminFile = join(this.dir, "admin");
      if (existsSync(adminFile) && readFileSync(adminFile, "utf8").includes(":")) {
        try {
          const admin = readFileSync(adminFile, "utf8").trim();
          const listeners = JSON.parse((await get(`http://${admin}/listeners?format=json`)).body) as {
            listener_statuses: Array<{ local_address: { socket_address: { port_value: number } } }>;
          };
          const port = listeners.listener_statuses[0]?.local_address.socket_address.port_value;
          if (port) return port;
        } catch {
          // not ready yet
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`envoy did not become ready:\n${this.output}`);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null) {
      this.process.kill("SIGTERM");
      await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (this.process.exitCode === null) this.process.kill("SIGKILL");
    }
  }
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`timeout: ${url}`)));
  });
}

describe("RegionRouter in Envoy", () => {
  const owners: Record<string, string> = { "acme.edgerim.test": "us-east", "globex.edgerim.test": "eu-west" };
  const dir = mkdtempSync(join(tmpdir(), "edgerim-region-router-"));
  const servers: http.Server[] = [];
  const envoys: Envoy[] = [];
  let local: Awaited<ReturnType<typeof recordingServer>>;
  let peer: Awaited<ReturnType<typeof recordingServer>>;
  let discovery: Awaited<ReturnType<typeof recordingServer>>;
  let port = 0;

  before(async () => {
    const echo = (name: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ served: name }));
    };
    local = await recordingServer(echo("catalog-us-east"));
    peer = await recordingServer(echo("eu-west"));
    discovery = await recordingServer((req, res) => {
      const host = decodeURIComponent((req.url ?? "").split("/").pop() ?? "");
      const region = owners[host];
      res.statusCode = region ? 200 : 404;
      res.end(JSON.stringify(region ? { host, region } : { error: "unknown_tenant" }));
    });
    servers.push(local.server, peer.server, discovery.server);
    const envoy = new Envoy(dir, routerConfig(), {
      "catalog-us-east": local.port, "edge-router-eu-west": peer.port, discovery: discovery.port,
    });
    envoys.push(envoy);
    port = await envoy.listenerPort();
  });

  after(async () => {
    await Promise.all(envoys.map((e) => e.stop()));
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  it("RegionRouter in Envoy: a tenant of this region is looked up once, then served from the cache", async () => {
    const first = await get(`http://127.0.0.1:${port}/catalog/1`, { host: "acme.edgerim.test" });
    const second = await get(`http://127.0.0.1:${port}/catalog/2`, { host: "ACME.edgerim.test:80" });
    assert.equal(first.status, 200);
    assert.equal(JSON.parse(first.body).served, "catalog-us-east");
    assert.equal(first.headers["x-edge-route"], `owner=us-east;source=lookup;pop=${POP};hops=0`);
    assert.equal(second.headers["x-edge-route"], `owner=us-east;source=cache;pop=${POP};hops=0`);
    assert.equal(discovery.seen.filter((s) => s.path === "/v1/tenants/acme.edgerim.test").length, 1);
    assert.deepEqual(local.seen.map((s) => s.headers["x-edge-cluster"]), ["catalog-us-east", "catalog-us-east"]);
  });

  it("RegionRouter in Envoy: a tenant of another region goes to that region's peer with one hop", async () => {
    const reply = await get(`http://127.0.0.1:${port}/catalog`, { host: "globex.edgerim.test", "x-edge-cluster": "catalog-us-east" });
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body).served, "eu-west");
    const seen = peer.seen.at(-1)!;
    assert.equal(seen.headers["x-edge-hops"], "1");
    assert.equal(seen.headers["x-edge-cluster"], "edge-router-eu-west");
    assert.equal(reply.headers["x-edge-pop"], POP);
  });

  it("RegionRouter in Envoy: local replies are the JSON errors of the contract", async () => {
    const noApp = await get(`http://127.0.0.1:${port}/nowhere`, { host: "acme.edgerim.test" });
    assert.equal(noApp.status, 404);
    assert.equal(noApp.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(noApp.body), { error: "no_app", message: "no app serves this path", pop: POP });
    const unknown = await get(`http://127.0.0.1:${port}/catalog`, { host: "initech.edgerim.test" });
    assert.equal(unknown.status, 503);
    assert.deepEqual(JSON.parse(unknown.body), { error: "no_owner", message: "unknown tenant", pop: POP });
    const loop = await get(`http://127.0.0.1:${port}/catalog`, { host: "globex.edgerim.test", "x-edge-hops": "1" });
    assert.equal(loop.status, 508);
  });

  it("RegionRouter in Envoy: an unknown tenant is asked once, then answered from the worker's cache", async () => {
    const replies = [
      await get(`http://127.0.0.1:${port}/catalog`, { host: "hooli.edgerim.test" }),
      await get(`http://127.0.0.1:${port}/catalog`, { host: "Hooli.edgerim.test" }),
    ];
    for (const reply of replies) {
      assert.equal(reply.status, 503);
      assert.deepEqual(JSON.parse(reply.body), { error: "no_owner", message: "unknown tenant", pop: POP });
    }
    assert.equal(discovery.seen.filter((s) => s.path === "/v1/tenants/hooli.edgerim.test").length, 1);
  });

  it("RegionRouter in Envoy: the VM's memory is the gauge wasmcustom.edge_router.wasm_memory_bytes", async () => {
    const admin = readFileSync(join(dir, "admin"), "utf8").trim();
    const stats = await get(`http://${admin}/stats?filter=wasm_memory_bytes`);
    const value = /^wasmcustom\.edge_router\.wasm_memory_bytes: (\d+)$/m.exec(stats.body)?.[1];
    assert.ok(value !== undefined, `no memory gauge in /stats:\n${stats.body}`);
    assert.ok(Number(value) > 0 && Number(value) % 65_536 === 0, `${value} is not a whole number of 64 KiB pages`);
    const prometheus = await get(`http://${admin}/stats/prometheus`);
    assert.match(prometheus.body, /^# TYPE edge_router_wasm_memory_bytes gauge$/m);
  });

  it("RegionRouter in Envoy: an invalid configuration stops Envoy with the field named", async () => {
    const badDir = mkdtempSync(join(dir, "bad-"));
    const envoy = new Envoy(badDir, routerConfig({ maxHops: 9 }), { discovery: discovery.port });
    envoys.push(envoy);
    const code = await Promise.race([envoy.exited, new Promise((resolve) => setTimeout(() => resolve("running"), 20_000))]);
    assert.notEqual(code, 0);
    assert.notEqual(code, "running");
    assert.match(envoy.output, /invalid configuration: maxHops: out of range; expected an integer from 0 to 8/);
  });
});
