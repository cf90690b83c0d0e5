// npm run demo: the main job. Setup, build, deploy every region, k6 smoke across regions, then the route
// matrix, the POP URLs and a ready-to-paste curl. Everything stays up; `npm run destroy` tears it down.
import { ensureSigningKeys } from "../../upstreams/tokens/keys.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { runLoad } from "../../load/run.ts";
import { formatRouteMatrix } from "../../load/lib/route-matrix.ts";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import { deploy } from "./deploy.ts";
import { reportFailure, step } from "./step.ts";

try {
  const outputs = await deploy();
  const load = await step("k6 smoke across regions", () => runLoad({ profile: "smoke", output: "inherit" }));
  const summary = load.summary;
  if (summary) {
    console.log(`\n${formatRouteMatrix(summary.routeMatrix, summary.regions)}`);
    console.log(`requests ${summary.requests}, failed ${(summary.failedRate * 100).toFixed(2)}%`);
  }
  if (load.reportFile) console.log(`k6 HTML report: ${load.reportFile}`);
  const entry = outputs.pops[0]!;
  const owner = outputs.regions.at(-1)!;
  const keys = ensureSigningKeys(stateDir);
  const token = signToken({ user: "demo-user", region: owner, ttlSeconds: 3600, issuer: outputs.jwt.issuer, audience: outputs.jwt.audiences, key: keys.privateKey });
  const app = outputs.apps[0]!;
  console.log(`\nPOPs:\n${outputs.pops.map((p) => `  ${p.id.padEnd(28)} ${p.clientUrl}   stats ${p.statsUrl}/stats/prometheus`).join("\n")}`);
  console.log(`\nA user of ${owner} entering ${entry.region} (one sideways hop):\n  curl -si -H 'authorization: Bearer ${token}' ${entry.clientUrl}${app.prefix}/hello`);
  const tenant = outputs.tenants[0]!;
  console.log(`A tenant host owned by ${tenant.region}:\n  curl -si -H 'host: ${tenant.host}' ${entry.clientUrl}${app.prefix}/hello`);
  console.log("\nEverything stays up. Tear it down with: npm run destroy");
  if (load.exitCode !== 0) process.exitCode = load.exitCode;
} catch (e) {
  process.exitCode = reportFailure("demo", e);
}
