// The dashboard server over plain HTTP: what it says without a deploy or with a POP it cannot read,
// how it pushes the state to a page (/api/events), what it refuses to send through a POP, and that it
// serves nothing but its own assets.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployOutputs } from "../../../infra/commands/outputs.ts";
import { listPops } from "../../../infra/topology/inventory.ts";
import { validateTopology } from "../../../infra/topology/load.ts";
import { validRaw } from "../../../infra/topology/test/fixtures.ts";
import { freePorts } from "../../../edge/loopback-edge.ts";
import { ensureSigningKeys } from "../../../upstreams/tokens/keys.ts";
import { startDashboard, type Dashboard } from "../server.ts";
import type { DashboardState } from "../wire.ts";

const topology = validateTopology(validRaw());
let dir: string;
/** Stands in for every POP's client listener: records what reaches it. */
let popStandIn: Server;
const reached: string[] = [];

function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { path, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

interface EventStream {
  status: number;
  type: string;
  /** Every `state` event so far. */
  states: DashboardState[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Waits for a state event after the `after`th that satisfies `done`. */
  next(done: (state: DashboardState) => boolean, after: number, timeoutMs: number): Promise<DashboardState>;
}

/** Follows `/api/events` as a page's EventSource does, parsing each `event:`/`data:` block. */
function followEvents(url: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { path: "/api/events", agent: false, headers: { accept: "text/event-stream" } }, (res) => {
      const states: DashboardState[] = [];
      let waiting: (() => void) | undefined;
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const fields = new Map(buffer.slice(0, end).split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trimStart()]));
          buffer = buffer.slice(end + 2);
          assert.equal(fields.get("event"), "state");
          states.push(JSON.parse(fields.get("data")!) as DashboardState);
          waiting?.();
        }
      });
      const ended = new Promise<void>((done) => res.once("end", done));
      const next = async (done: (state: DashboardState) => boolean, after: number, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = states.slice(after).find(done);
          if (found) return found;
          if (Date.now() > deadline) assert.fail(`no such state event within ${timeoutMs} ms (${states.length} events)`);
          await new Promise<void>((woken) => {
            waiting = woken;
            setTimeout(woken, 50);
          });
        }
      };
      resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", states, ended, next });
    });
    req.on("error", reject);
    req.end();
  });
}

async function post(dashboard: Dashboard, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${dashboard.url}/api/request`, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function state(dashboard: Dashboard): Promise<DashboardState> {
  await dashboard.live.poll();
  return (await (await fetch(`${dashboard.url}/api/state`)).json()) as DashboardState;
}

/** Outputs whose POPs all answer at the stand-in (client) and at a closed port (stats), written to `name` in the scratch folder. */
async function standInOutputs(name = "outputs.json"): Promise<string> {
  const [closed] = await freePorts(1);
  const client = `http://127.0.0.1:${(popStandIn.address() as AddressInfo).port}`;
  const outputs = deployOutputs(
    topology,
    listPops(topology).map(({ region, pop, id }) => ({ id, region: region.name, pop: pop.name, clientUrl: client, tlsUrl: `https://127.0.0.1:${closed}`, statsUrl: `http://127.0.0.1:${closed}` })),
    "/nonexistent/ca.crt",
  );
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(outputs));
  return file;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgerim-dashboard-server-"));
  popStandIn = createServer((req, res) => {
    reached.push(`${req.method} ${req.url}`);
    res.end("{}");
  });
  await new Promise<void>((resolve) => popStandIn.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  await new Promise((resolve) => popStandIn?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("dashboard server without a deploy", () => {
  let dashboard: Dashboard;
  const missing = () => join(dir, "no-such-outputs.json");
  before(async () => {
    dashboard = await startDashboard({ topology, outputsFile: missing(), port: 0, keys: () => ensureSigningKeys(join(dir, "keys")) });
  });
  after(() => dashboard?.close());

  test("dashboard: listens on 127.0.0.1 only", () => {
    assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test("dashboard: no outputs file: the state says so and names `npm run deploy`; the page and the drawing still load", async () => {
    const now = await state(dashboard);
    assert.deepEqual(now.deploy, { ok: false, message: `${missing()} not found: run \`npm run deploy\` first`, command: "npm run deploy" });
    assert.ok(now.pops.every((p) => p.health === "unknown" && p.decisions === null), "no POP is drawn up or with zeros");
    const page = await rawGet(dashboard.url, "/");
    assert.equal(page.status, 200);
    assert.match(page.body, /id="no-deploy"/);
    const network = (await (await fetch(`${dashboard.url}/api/network`)).json()) as { svg: string };
    for (const pop of listPops(topology)) assert.match(network.svg, new RegExp(`id="pop-${pop.id}"`));
  });

  test("dashboard: the composer without a deploy answers 409 naming `npm run deploy`", async () => {
    const res = await post(dashboard, JSON.stringify({ pop: "north-p1", app: "cart", identity: { kind: "none" } }));
    assert.equal(res.status, 409);
    assert.equal(res.json.error, "no_deploy");
    assert.equal(res.json.command, "npm run deploy");
  });
});

describe("dashboard server's event stream", () => {
  let dashboard: Dashboard;
  before(async () => {
    dashboard = await startDashboard({ topology, outputsFile: join(dir, "later-outputs.json"), port: 0, refreshMs: 50, keys: () => ensureSigningKeys(join(dir, "keys")) });
  });
  after(() => dashboard?.close());

  test("dashboard: /api/events sends the state at once, again after each poll, a changed state as it changes, and ends at close()", async () => {
    const stream = await followEvents(dashboard.url);
    assert.equal(stream.status, 200);
    assert.match(stream.type, /^text\/event-stream/);
    const first = await stream.next(() => true, 0, 1000);
    assert.equal(first.deploy.ok, false, "no deploy yet");
    assert.ok(first.pops.every((p) => p.health === "unknown"));
    // A poll every 50 ms pushes the state even when nothing changed.
    await stream.next((s) => s.at > first.at, 1, 1000);
    const seen = stream.states.length;
    // The deploy appears; its POPs' stats listeners do not answer.
    await standInOutputs("later-outputs.json");
    const deployed = await stream.next((s) => s.deploy.ok && s.pops.every((p) => p.health === "down"), seen, 2000);
    assert.match(deployed.pops[0]!.reason ?? "", /^stats listener unreachable \(ECONNREFUSED\)$/);
    assert.deepEqual((await (await fetch(`${dashboard.url}/api/state`)).json() as DashboardState).pops, deployed.pops, "/api/state says the same");
    await dashboard.close();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(resolve, 2000, "still open")));
    assert.equal(await Promise.race([stream.ended.then(() => "ended"), late]), "ended", "close() ends the stream");
    clearTimeout(timer);
  });
});

describe("dashboard server with a deploy it cannot fully read", () => {
  let dashboard: Dashboard;
  before(async () => {
    dashboard = await startDashboard({ topology, outputsFile: await standInOutputs(), port: 0, keys: () => ensureSigningKeys(join(dir, "keys")) });
  });
  after(() => dashboard?.close());

  test("dashboard: a POP whose stats listener does not answer is down with the reason and unknown decisions, never zeros", async () => {
    const now = await state(dashboard);
    assert.equal(now.deploy.ok, true);
    for (const pop of now.pops) {
      assert.equal(pop.health, "down", pop.id);
      assert.match(pop.reason ?? "", /^stats listener unreachable \(ECONNREFUSED\)$/);
      assert.equal(pop.decisions, null);
    }
    assert.ok(now.datacenters.every((dc) => dc.health === "unknown"), "no POP can say how its datacenter is");
    assert.ok(now.matrix.cells.every((cell) => cell.count === 0 && cell.perSecond === null));
  });

  const refusals: [string, unknown, string, RegExp][] = [
    ["an unknown region", { pop: "north-p1", app: "cart", identity: { kind: "user", region: "atlantis" } }, "identity.region", /^"atlantis" is not a region of the deploy; expected one of north, south$/],
    ["a forged token of an unknown region", { pop: "north-p1", app: "cart", identity: { kind: "forged", region: "" } }, "identity.region", /expected one of north, south$/],
    ["a malformed host", { pop: "north-p1", app: "cart", identity: { kind: "tenant", host: "alpha.shop.test\r\nx-edge-hops: 0" } }, "identity.host", /is not a host name; expected a lowercase DNS hostname without port/],
    ["a host with a port", { pop: "north-p1", app: "cart", identity: { kind: "tenant", host: "alpha.shop.test:80" } }, "identity.host", /is not a host name/],
    ["an unknown POP", { pop: "nowhere-p9", app: "cart", identity: { kind: "none" } }, "pop", /^"nowhere-p9" is not a POP of the deploy; expected one of north-p1, north-p2, south-p1$/],
    ["an unknown app", { pop: "north-p1", app: "admin", identity: { kind: "none" } }, "app", /expected one of cart, search$/],
    ["an unknown identity kind", { pop: "north-p1", app: "cart", identity: { kind: "root" } }, "identity.kind", /expected one of user, tenant, none, forged$/],
    ["a body that is not an object", [1, 2], "(body)", /expected a JSON object/],
  ];
  for (const [what, body, field, message] of refusals) {
    test(`dashboard: the composer refuses ${what} with 400 naming ${field}, and sends nothing`, async () => {
      const before = reached.length;
      const res = await post(dashboard, JSON.stringify(body));
      assert.equal(res.status, 400);
      assert.equal(res.json.error, "invalid_request");
      assert.equal(res.json.field, field);
      assert.match(String(res.json.message), message);
      assert.equal(reached.length, before, "nothing reached a POP");
    });
  }

  test("dashboard: the composer refuses a body that is not JSON with 400", async () => {
    const res = await post(dashboard, "pop=north-p1");
    assert.equal(res.status, 400);
    assert.equal(res.json.field, "(body)");
  });

  test("dashboard: a checked request is sent to the entry POP's client listener, with the tenant's Host", async () => {
    const before = reached.length;
    const res = await post(dashboard, JSON.stringify({ pop: "south-p1", app: "search", identity: { kind: "tenant", host: "beta.shop.test" } }));
    assert.equal(res.status, 200);
    assert.deepEqual(reached.slice(before), ["GET /search/hello"]);
    assert.deepEqual((res.json.request as { headers: unknown }).headers, { host: "beta.shop.test" });
  });

  test("dashboard: the signed token never reaches the page: the result shows a placeholder", async () => {
    const res = await post(dashboard, JSON.stringify({ pop: "north-p1", app: "cart", identity: { kind: "user", region: "south" } }));
    assert.equal(res.status, 200);
    assert.deepEqual((res.json.request as { headers: unknown }).headers, { authorization: "Bearer <token of a user of south>" });
    assert.doesNotMatch(JSON.stringify(res.json), /eyJ/, "no JWT in the answer");
  });

  for (const path of ["/../package.json", "/%2e%2e/package.json", "/%2e%2e%2fpackage.json", "/public/../../../package.json", "//etc/passwd", "/etc/passwd", "/public/app.css", "/client/app.ts", "/app.js/..%2f..%2fserver.ts"]) {
    test(`dashboard: ${path} is 404 and leaks no file`, async () => {
      const res = await rawGet(dashboard.url, path);
      assert.equal(res.status, 404);
      assert.doesNotMatch(res.body, /"name": "edgerim"|root:|import /);
      assert.equal(JSON.parse(res.body).error, "not_found");
    });
  }

  test("dashboard: its assets are served: the page, one script, one style sheet", async () => {
    for (const [path, type] of [["/", "text/html"], ["/app.js", "text/javascript"], ["/app.css", "text/css"]] as const) {
      const res = await fetch(`${dashboard.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", new RegExp(`^${type}`));
    }
  });
});
