// npm run dashboard:screenshot [-- --out FILE]: the dashboard of the default topology (infra/topology.yaml)
// on a loopback edge (real Envoy, no Docker), after traffic from every region's users and tenants
// through every POP and one cross-region request from the composer; written to docs/dashboard.png.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startLoopbackEdge } from "../../edge/loopback-edge.ts";
import { get } from "../../infra/commands/http-probe.ts";
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from "../../infra/topology/load.ts";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { launchChromium } from "./browser.ts";
import { startDashboard } from "./server.ts";
import { DashboardPage } from "./test/page-checks.ts";

const TRAFFIC_SECONDS = 4;

const { values } = parseArgs({ options: { out: { type: "string" } }, strict: true });
const out = resolve(values.out ?? join(repoRoot, "docs/dashboard.png"));
const topology = loadTopology(DEFAULT_TOPOLOGY_PATH);
const dir = mkdtempSync(join(tmpdir(), "edgerim-dashboard-shot-"));
const edge = await startLoopbackEdge(topology, { topologyPath: "infra/topology.yaml" });
try {
  const outputs = edge.outputs();
  const outputsFile = join(dir, "outputs.json");
  writeFileSync(outputsFile, JSON.stringify(outputs));
  const dashboard = await startDashboard({ topology, outputsFile, port: 0, keys: () => edge.keys });
  const browser = await launchChromium();
  try {
    const page = await DashboardPage.open(browser, dashboard.url, outputs);
    const tokens = Object.fromEntries(
      outputs.regions.map((region) => [region, signToken({ user: `shot-${region}`, region, ttlSeconds: 600, issuer: outputs.jwt.issuer, audience: outputs.jwt.audiences[0]!, key: edge.keys.privateKey, kid: edge.keys.kid })]),
    );
    const identities = [...outputs.regions.map((r) => ({ authorization: `Bearer ${tokens[r]}` })), ...outputs.tenants.map((t) => ({ host: t.host }))];
    // Rounds through every POP for `ms`, so the page shows rates; bounded in time.
    const traffic = async (ms: number) => {
      for (let round = 0, until = Date.now() + ms; Date.now() < until; round++) {
        await Promise.all(outputs.pops.flatMap((pop) => outputs.apps.map((app, a) => get(`${pop.clientUrl}${app.prefix}/items`, identities[(round + a) % identities.length]!))));
        await new Promise((r) => setTimeout(r, 150));
      }
    };
    await traffic(TRAFFIC_SECONDS * 1000);
    // Sent alone, so the peer POP's counters single it out.
    await page.send(outputs.pops[0]!.id, `user:${outputs.regions.at(-1)!}`, outputs.apps[0]!.name);
    await traffic(1500);
    await page.screenshot(out);
    console.log(`dashboard:screenshot: ${out}`);
  } finally {
    await browser.close();
    await dashboard.close();
  }
} finally {
  await edge.stop();
  rmSync(dir, { recursive: true, force: true });
}
