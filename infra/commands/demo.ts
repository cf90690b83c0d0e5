// npm run demo: the main job. Setup, build, deploy every region, k6 smoke across regions (k6 prints the
// route matrix once, at its end), the POP URLs and a ready-to-paste curl, then the architecture page on
// 127.0.0.1 until Ctrl-C. The deploy stays up after that; `npm run destroy` tears it down.
import { ensureSigningKeys } from "../../upstreams/tokens/keys.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { runLoad } from "../../load/run.ts";
import { DEFAULT_DASHBOARD_PORT, serveUntilInterrupted, startDashboardOn } from "../../load/dashboard/server.ts";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import { deploy } from "./deploy.ts";
import { reportFailure, step } from "./step.ts";

try {
  const outputs = await deploy();
  const load = await step("k6 smoke across regions", () => runLoad({ profile: "smoke", output: "inherit" }));
  if (!load.summary) console.log("k6 wrote no summary (it failed before the end of the test; see above)");
  if (load.reportFile) console.log(`k6 HTML report: ${load.reportFile}`);
  const entry = outputs.pops[0]!;
  const owner = outputs.regions.at(-1)!;
  const keys = ensureSigningKeys(stateDir);
  const token = signToken({ user: "demo-user", region: owner, ttlSeconds: 3600, issuer: outputs.jwt.issuer, audience: outputs.jwt.audiences, key: keys.privateKey });
  const app = outputs.apps[0]!;
  console.log(`\nPOPs:\n${outputs.pops.map((p) => `  ${p.id.padEnd(28)} ${p.tlsUrl}  ${p.clientUrl}   stats ${p.statsUrl}/stats/prometheus`).join("\n")}`);
  console.log(`\nA user of ${owner} entering ${entry.region} (one sideways hop), over TLS with the deploy's CA:`);
  console.log(`  curl -si --cacert ${outputs.ca} -H 'authorization: Bearer ${token}' ${entry.tlsUrl}${app.prefix}/hello`);
  const tenant = outputs.tenants[0]!;
  const tls = new URL(entry.tlsUrl);
  // The tenant's own name, resolved to the POP, so SNI and the certificate check use it.
  console.log(`A tenant host owned by ${tenant.region}:`);
  console.log(`  curl -si --cacert ${outputs.ca} --resolve ${tenant.host}:${tls.port}:${tls.hostname} https://${tenant.host}:${tls.port}${app.prefix}/hello`);
  if (load.exitCode !== 0) process.exitCode = load.exitCode;
  const dashboard = await startDashboardOn(DEFAULT_DASHBOARD_PORT);
  await serveUntilInterrupted(dashboard);
  console.log("\nThe deploy stays up; `npm run dashboard` serves the page again. Tear it down with: npm run destroy");
} catch (e) {
  process.exitCode = reportFailure("demo", e);
}
