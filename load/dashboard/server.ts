// npm run dashboard [-- --port N]: the architecture page for the deploy in .edge/outputs.json, on
// 127.0.0.1 only. It reads nothing but the deploy's outputs and each POP's stats listener, and sends
// the composer's requests through the real POPs. `npm run demo` ends by serving it too.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildSync } from "esbuild";
import { outputsPath } from "../../infra/commands/outputs.ts";
import { loadTopology } from "../../infra/topology/load.ts";
import type { Topology } from "../../infra/topology/model.ts";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import { ensureSigningKeys, type SigningKeys } from "../../upstreams/tokens/keys.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { readDeployOutputs } from "../run.ts";
import { checkComposeRequest, DemoSigner, RequestRefused, sendThroughPop } from "./composer.ts";
import { networkSvg } from "./diagram-svg.ts";
import { LiveState, type OutputsSource } from "./live-state.ts";
import { networkModel } from "./network.ts";
import type { DashboardState, RequestRefusal } from "./wire.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_DASHBOARD_PORT = 5680;
const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 4096;
/**
 * How often every POP's stats listener is read: four times a second. A stopped datacenter shows in
 * the checks' counters at its POPs' next checks (once a second each, a check that cannot connect
 * failing only at its 1 s timeout) and must be drawn within 2 s of the stop, so a reading that
 * changes any health is pushed to the page at once (/api/events) rather than at its next refresh;
 * rates are per second of the time between two readings.
 */
const STATS_POLL_MS = 250;

export interface DashboardOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Defaults to the topology in use (EDGE_TOPOLOGY or infra/topology.yaml). */
  topology?: Topology;
  /** Defaults to `.edge/outputs.json`; read again on every refresh, so a later deploy shows up. */
  outputsFile?: string;
  /** Defaults to the deploy's keys (`ensureSigningKeys(.edge)`), read at the first signed request. */
  keys?: () => SigningKeys;
  refreshMs?: number;
}

export interface Dashboard {
  url: string;
  live: LiveState;
  close(): Promise<void>;
}

/** The browser code, compiled once per server start: one small script, nothing from a CDN. */
function clientScript(): string {
  const result = buildSync({
    entryPoints: [join(here, "client/app.ts")],
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    logLevel: "error",
  });
  return result.outputFiles[0]!.text;
}

interface Asset {
  type: string;
  body: string;
}

function assets(): Map<string, Asset> {
  const page = readFileSync(join(here, "public/index.html"), "utf8");
  return new Map([
    ["/", { type: "text/html; charset=utf-8", body: page }],
    ["/index.html", { type: "text/html; charset=utf-8", body: page }],
    ["/app.css", { type: "text/css; charset=utf-8", body: readFileSync(join(here, "public/app.css"), "utf8") }],
    ["/app.js", { type: "text/javascript; charset=utf-8", body: clientScript() }],
  ]);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, "application/json", `${JSON.stringify(value)}\n`);

function refuse(res: ServerResponse, field: string, message: string): void {
  const refusal: RequestRefusal = { error: "invalid_request", field, message };
  sendJson(res, 400, refusal);
}

/**
 * The pages following the state (`GET /api/events`, Server-Sent Events): each gets the state when it
 * connects and every state pushed after, as one `state` event. A state is serialized once for all;
 * a page that has not taken the last one yet skips this one, as the next says all of it again.
 */
class StateStreams {
  private pages = new Set<ServerResponse>();

  open(req: IncomingMessage, res: ServerResponse, state: DashboardState): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", "x-content-type-options": "nosniff" });
    if (req.method === "HEAD") return void res.end();
    this.pages.add(res);
    res.once("close", () => this.pages.delete(res));
    res.write(stateEvent(state));
  }

  push(state: DashboardState): void {
    if (this.pages.size === 0) return;
    const event = stateEvent(state);
    for (const res of this.pages) if (!res.writableNeedDrain) res.write(event);
  }

  close(): void {
    for (const res of this.pages) res.end();
    this.pages.clear();
  }
}

const stateEvent = (state: DashboardState) => `event: state\ndata: ${JSON.stringify(state)}\n\n`;

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_BODY_BYTES) return undefined;
  }
  return body;
}

export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const topology = options.topology ?? loadTopology();
  const model = networkModel(topology);
  const svg = networkSvg(model);
  const file = options.outputsFile ?? outputsPath();
  const source: OutputsSource = () => {
    try {
      return { outputs: readDeployOutputs(file), file };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };
  const signer = new DemoSigner(options.keys ?? (() => ensureSigningKeys(stateDir)));
  const live = new LiveState(model, source, options.refreshMs ?? STATS_POLL_MS);
  const files = assets();
  const streams = new StateStreams();
  const unsubscribe = live.subscribe((state) => streams.push(state));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://dashboard.invalid").pathname;
    if (path === "/api/request") {
      if (req.method !== "POST") return sendJson(res, 405, { error: "method_not_allowed", message: "POST a JSON body" });
      const found = source();
      if ("error" in found) return sendJson(res, 409, { error: "no_deploy", message: found.error, command: "npm run deploy" });
      const text = await readBody(req);
      if (text === undefined) return refuse(res, "(body)", `larger than ${MAX_BODY_BYTES} bytes; expected a small JSON object`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return refuse(res, "(body)", "is not JSON; expected a JSON object with pop, app and identity");
      }
      try {
        const request = checkComposeRequest(body, found.outputs);
        return sendJson(res, 200, await sendThroughPop(request, found.outputs, signer));
      } catch (error) {
        if (error instanceof RequestRefused) return refuse(res, error.field, error.message);
        return sendJson(res, 502, { error: "pop_unreachable", message: (error as Error).message });
      }
    }
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "method_not_allowed", message: "GET only" });
    if (path === "/api/network") return sendJson(res, 200, { model, svg });
    if (path === "/api/state") return sendJson(res, 200, live.current());
    if (path === "/api/events") return streams.open(req, res, live.current());
    // Only these fixed paths are served; nothing is looked up on disk from the request.
    const asset = files.get(path);
    if (asset) return send(res, 200, asset.type, asset.body);
    sendJson(res, 404, { error: "not_found", message: `${path} is not a page of the dashboard` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: "internal", message: (error as Error).message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULT_DASHBOARD_PORT, HOST, () => resolve());
  });
  live.start();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${HOST}:${port}`,
    live,
    async close() {
      await live.stop();
      unsubscribe();
      streams.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Prints the page's URL and serves it until Ctrl-C (SIGINT) or SIGTERM. */
export async function serveUntilInterrupted(dashboard: Dashboard): Promise<void> {
  console.log(`\ndashboard: ${dashboard.url}  (the network, live decisions per POP, a request composer; Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await dashboard.close();
}

/** Starts the page on `port`; a port in use is one line naming the fix. */
export async function startDashboardOn(port: number, options: Omit<DashboardOptions, "port"> = {}): Promise<Dashboard> {
  try {
    return await startDashboard({ ...options, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(`port ${port} on ${HOST} is in use; stop what uses it or pass another: npm run dashboard -- --port N`);
    }
    throw error;
  }
}

function portOption(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_DASHBOARD_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${raw} is invalid; expected an integer from 0 to 65535`);
  return port;
}

if (isEntryPoint(import.meta.url)) {
  try {
    const { values } = parseArgs({ options: { port: { type: "string" } }, strict: true });
    await serveUntilInterrupted(await startDashboardOn(portOption(values.port)));
  } catch (error) {
    console.error(`dashboard: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
