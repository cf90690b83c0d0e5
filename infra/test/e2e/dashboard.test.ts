// The dashboard in a real browser against a Docker deploy of the default topology: the same checks as
// load/dashboard/test/dashboard-loopback.test.ts (page-checks.ts), with POPs and datacenters stopped by
// `docker stop` and started again by `docker start`. Destroys the deploy at the end.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { run } from "../../../scripts/toolchain/commands.ts";
import { stateDir } from "../../../scripts/toolchain/paths.ts";
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from "../../topology/load.ts";
import { ingressContainer, popContainer } from "../../topology/names.ts";
import { deploy } from "../../commands/deploy.ts";
import { destroy } from "../../commands/destroy.ts";
import { outputsPath } from "../../commands/outputs.ts";
import { waitHealthy } from "../../commands/docker-objects.ts";
import type { DeployOutputs, PopOutput } from "../../deploy-outputs.ts";
import { launchChromium } from "../../../load/dashboard/browser.ts";
import { startDashboard, type Dashboard } from "../../../load/dashboard/server.ts";
import { DashboardPage, DRAWN_DOWN_WITHIN_MS } from "../../../load/dashboard/test/page-checks.ts";

const topology = loadTopology(DEFAULT_TOPOLOGY_PATH);
const [home, away] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const app = topology.apps[0]!.name;
let outputs: DeployOutputs;
let dashboard: Dashboard;
let browser: Browser;
let page: DashboardPage;

const entryPop = (): PopOutput => outputs.pops.find((p) => p.region === home.name)!;

function docker(args: string[]): void {
  const r = run("docker", args);
  assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
}

/** `docker start`, then wait for the container's health check, as the deploy does. */
async function start(container: string): Promise<void> {
  docker(["start", container]);
  const unhealthy = await waitHealthy(topology.project, [container], 60_000);
  assert.deepEqual(unhealthy, [], `${container} did not become healthy`);
}

before(async () => {
  delete process.env.EDGE_TOPOLOGY;
  outputs = await deploy({ skipSetup: true, quiet: true });
  dashboard = await startDashboard({ topology, outputsFile: outputsPath(), port: 0 });
  browser = await launchChromium();
  page = await DashboardPage.open(browser, dashboard.url, outputs);
});

after(async () => {
  await browser?.close();
  await dashboard?.close();
  await destroy({ quiet: true });
});

test("dashboard (docker): the page draws every region, POP and datacenter of the deployed topology, each read as up", async () => {
  await page.showsTheTopology();
});

test("dashboard (docker): a user of another region is drawn entry POP → peer POP → owner's datacenter → replica, one hop", async () => {
  await page.drawsACrossRegionRequest(entryPop(), away.name, app);
});

test("dashboard (docker): composer traffic raises the entry POP's forwarded counter and the route matrix cell", async () => {
  await page.countersRiseAfterTraffic(entryPop(), away.name, app);
  await page.screenshot(join(stateDir, "dashboard-docker.png"));
});

test(`dashboard (docker): a stopped POP is drawn down within ${DRAWN_DOWN_WITHIN_MS} ms, its counters unknown; up again after docker start`, async () => {
  const victim = outputs.pops.filter((p) => p.region === home.name).at(-1)!;
  const container = popContainer(topology.project, victim.region, victim.pop);
  const ms = await page.drawsAStoppedPopDown(victim, async () => docker(["stop", "-t", "2", container]), () => start(container));
  console.log(`${victim.id} drawn down ${ms} ms after docker stop returned`);
});

test(`dashboard (docker): a stopped datacenter ingress is drawn down within ${DRAWN_DOWN_WITHIN_MS} ms; up again after docker start`, async () => {
  const containers = Array.from({ length: away.datacenter.ingressReplicas }, (_, i) => ingressContainer(topology.project, away.name, i + 1));
  const ms = await page.drawsAStoppedDatacenterDown(
    away.name,
    async () => docker(["stop", "-t", "2", ...containers]),
    async () => {
      for (const container of containers) await start(container);
    },
    DRAWN_DOWN_WITHIN_MS,
  );
  console.log(`datacenter ${away.name} drawn down ${ms} ms after docker stop returned`);
});
