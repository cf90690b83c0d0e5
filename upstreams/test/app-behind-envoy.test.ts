import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { toolPath } from "../../scripts/toolchain/paths.ts";
import { startAppServer, type AppServer } from "../app/server.ts";
import { curl } from "./service-processes.ts";

// Envoy reaches the app the way a datacenter ingress does: HTTP/2 with prior knowledge, no TLS.
function envoyConfig(appPort: number): object {
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
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
                    "@type":
                      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "public",
                    route_config: {
                      virtual_hosts: [
                        {
                          name: "all",
                          domains: ["*"],
                          routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }],
                        },
                      ],
                    },
                    http_filters: [
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
      clusters: [
        {
          name: "app",
          type: "STATIC",
          connect_timeout: "1s",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "app",
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: appPort } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  };
}

let app: AppServer;
let envoy: ChildProcess | undefined;
let envoyLog = "";
let workDir: string;
let adminUrl = "";
let publicUrl = "";

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (envoy?.exitCode !== null && envoy?.exitCode !== undefined) throw new Error(`envoy exited: ${envoyLog}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${envoyLog}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

before(async () => {
  app = await startAppServer({ app: "catalog", region: "region-a", instance: "catalog-a-1" });
  workDir = mkdtempSync(join(tmpdir(), "edgerim-app-envoy-"));
  const adminAddressFile = join(workDir, "admin-address");
  envoy = spawn(
    toolPath("envoy"),
    [
      "--config-yaml",
      JSON.stringify(envoyConfig(app.port)),
      "--admin-address-path",
      adminAddressFile,
      "--disable-hot-restart",
      "--log-level",
      "warn",
      "--concurrency",
      "1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  envoy.stdout!.on("data", (chunk: Buffer) => (envoyLog += chunk.toString()));
  envoy.stderr!.on("data", (chunk: Buffer) => (envoyLog += chunk.toString()));
  adminUrl = await waitFor("envoy admin address", async () =>
    existsSync(adminAddressFile) && readFileSync(adminAddressFile, "utf8").trim()
      ? `http://${readFileSync(adminAddressFile, "utf8").trim()}`
      : undefined,
  );
  publicUrl = await waitFor("envoy listener", async () => {
    const listeners = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as {
      listener_statuses?: { local_address?: { socket_address?: { port_value?: number } } }[];
    };
    const port = listeners.listener_statuses?.[0]?.local_address?.socket_address?.port_value;
    return port ? `http://127.0.0.1:${port}` : undefined;
  });
  await waitFor("envoy ready", async () => ((await fetch(`${adminUrl}/ready`)).status === 200 ? true : undefined));
});

after(async () => {
  if (envoy && envoy.exitCode === null && envoy.signalCode === null) {
    const exited = new Promise((resolve) => envoy!.once("close", resolve));
    envoy.kill("SIGKILL");
    await exited;
  }
  await app?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function counter(name: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/stats?filter=${encodeURIComponent(`^${name}$`)}`)).text();
  const match = new RegExp(`^${name.replaceAll(".", "\\.")}: (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

test("app: Envoy reaches it over h2c and the app sees the hops header Envoy forwards", async () => {
  for (const hops of [0, 1, 1]) {
    const reply = await curl(`${publicUrl}/catalog/${hops}`, { headers: hops ? { "x-edge-hops": String(hops) } : {} });
    assert.equal(reply.status, 200, reply.body);
    const body = JSON.parse(reply.body);
    assert.equal(body.app, "catalog");
    assert.equal(body.region, "region-a");
    assert.equal(body.path, `/catalog/${hops}`);
    assert.equal(body.hops, hops);
  }
  assert.equal(await counter("cluster.app.upstream_rq_200"), 3);
  assert.equal(await counter("cluster.app.upstream_cx_http2_total"), 1);
  assert.equal(await counter("cluster.app.upstream_cx_http1_total"), 0);
});
