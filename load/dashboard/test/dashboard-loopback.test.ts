// The dashboard in a real browser (Debian's Chromium) against a real edge on loopback: every POP and
// ingress a real Envoy with the built filter. infra/test/e2e/dashboard.test.ts runs the same checks
// (page-checks.ts) against a Docker deploy.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { validateTopology } from "../../../infra/topology/load.ts";
import { validRaw } from "../../../infra/topology/test/fixtures.ts";
import { ingressContainer } from "../../../infra/topology/names.ts";
import { stateDir } from "../../../scripts/toolchain/paths.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../../../edge/loopback-edge.ts";
import type { DeployOutputs, PopOutput } from "../../../infra/deploy-outputs.ts";
import { launchChromium } from "../browser.ts";
import { startDashboard, type Dashboard } from "../server.ts";
import { DashboardPage, DRAWN_DOWN_WITHIN_MS } from "./page-checks.ts";

const topology = validateTopology(validRaw());
const [home, away] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const app = topology.apps[0]!.name;
let edge: LoopbackEdge;
let outputs: DeployOutputs;
let dashboard: Dashboard;
let browser: Browser;
let page: DashboardPage;
let dir: string;

const entryPop = (): PopOutput => outputs.pops.find((p) => p.region === home.name)!;

async function kill(name: string): Promise<void> {
  const envoy = edge.envoys.get(name);
  assert.ok(envoy, `no loopback Envoy ${name}`);
  const exited = new Promise((resolve) => envoy.process.once("exit", resolve));
  envoy.process.kill("SIGKILL");
  await exited;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgerim-dashboard-"));
  edge = await startLoopbackEdge(topology);
  outputs = edge.outputs();
  const outputsFile = join(dir, "outputs.json");
  writeFileSync(outputsFile, JSON.stringify(outputs));
  dashboard = await startDashboard({ topology, outputsFile, port: 0, keys: () => edge.keys });
  browser = await launchChromium();
  page = await DashboardPage.open(browser, dashboard.url, outputs);
});

after(async () => {
  await browser?.close();
  await dashboard?.close();
  await edge?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("dashboard (loopback): the page draws every region, POP and datacenter of the topology, each read as up", async () => {
  await page.showsTheTopology();
});

test("dashboard (loopback): the page follows the state the server pushes, without polling it", async () => {
  await page.followsTheServersStream();
});

test("dashboard (loopback): with the server's stream refused the page polls the state, and follows the stream again once it answers", async () => {
  await page.pollsWhileTheStreamIsRefused();
});

test("dashboard (loopback): a user of another region is drawn entry POP → peer POP → owner's datacenter → replica, one hop", async () => {
  await page.drawsACrossRegionRequest(entryPop(), away.name, app);
});

test("dashboard (loopback): composer traffic raises the entry POP's forwarded counter and the route matrix cell", async () => {
  await page.countersRiseAfterTraffic(entryPop(), away.name, app);
  await page.screenshot(join(stateDir, "dashboard-loopback.png"));
});

test(`dashboard (loopback): a killed POP is drawn down within ${DRAWN_DOWN_WITHIN_MS} ms, its counters unknown; up again after a restart`, async () => {
  const victim = outputs.pops.filter((p) => p.region === home.name).at(-1)!;
  const ms = await page.drawsAStoppedPopDown(victim, () => kill(victim.id), () => edge.restart(victim.id));
  console.log(`${victim.id} drawn down ${ms} ms after its Envoy was killed`);
});

test(`dashboard (loopback): a killed datacenter ingress is drawn down within ${DRAWN_DOWN_WITHIN_MS} ms; up again after a restart`, async () => {
  const ingress = ingressContainer(topology.project, away.name, 1);
  const ms = await page.drawsAStoppedDatacenterDown(away.name, () => kill(ingress), () => edge.restart(ingress), DRAWN_DOWN_WITHIN_MS);
  console.log(`datacenter ${away.name} drawn down ${ms} ms after its ingress was killed`);
});
