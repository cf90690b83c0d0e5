// npm run deploy [-- --region <name> ...] [--roll]: setup, build, render, `cdktf deploy` of every stack
// (or the shared stack and the named regions), then wait until every container is healthy and write
// .edge/outputs.json. Over a running deploy, POPs the change replaces are replaced one at a time first
// (rolling.ts); --roll replaces every POP that way even without a change. A region with a dockerHost
// is deployed on that engine, which gets the images first (engines.ts).
import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import { StepError } from "../../scripts/toolchain/commands.ts";
import { loadTopology, topologyPath } from "../topology/load.ts";
import { listContainers } from "../topology/inventory.ts";
import { ensureSigningKeys } from "../../upstreams/tokens/keys.ts";
import { BACKBONE_STATE_SUBDIR, ensureBackbonePki } from "../../edge/backbone-pki.ts";
import { buildUpstreamsImage, bundleUpstreams } from "../upstreams-image.ts";
import { DAEMON_NOFILE_ENV, decideNofile } from "../nofile.ts";
import { regionStackName, sharedStackName } from "../edge-app.ts";
import { cdktf, terraformEnv } from "./cdktf-cli.ts";
import { assertPortsFree, lowestNofileLimit, runProjectScript } from "./deploy-environment.ts";
import { assertEnginesAnswer, enginesOf, sendImage } from "./engines.ts";
import { pins } from "../../scripts/toolchain/versions.ts";
import { waitHealthy } from "./docker-objects.ts";
import { cdktfOutputsPath, readOutputs, writeDeployOutputs } from "./outputs.ts";
import { deployedPops, plannedPopReplacements, rollPops } from "./rolling.ts";
import type { Topology } from "../topology/model.ts";
import type { DeployOutputs } from "../deploy-outputs.ts";
import { reportFailure, step } from "./step.ts";
import { checkRouting } from "./routing-check.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";

export interface DeployOptions {
  /** Deploy only these regions' stacks (and the shared stack); all regions when empty. */
  regions?: string[];
  skipSetup?: boolean;
  /** Keep Terraform's plan and apply output to a failure (tests); the user sees it by default. */
  quiet?: boolean;
  /** Replace every deployed POP, one at a time, even when nothing about it changed (a rolling restart). */
  roll?: boolean;
}

export async function deploy(options: DeployOptions = {}): Promise<DeployOutputs> {
  const started = performance.now();
  if (!options.skipSetup) await step("setup", () => runProjectScript("setup", "scripts/setup.ts"));
  await step("build filter", () => runProjectScript("build filter", "filters/region-router/build.ts"));
  const path = topologyPath();
  const topology = await step("load topology", () => loadTopology(path));
  const unknown = (options.regions ?? []).filter((r) => !topology.regions.some((t) => t.name === r));
  if (unknown.length > 0) {
    throw new StepError("select regions", `unknown region(s): ${unknown.join(", ")}`, `choose from ${topology.regions.map((r) => r.name).join(", ")}`);
  }
  const engines = enginesOf(topology);
  await step(`reach ${engines.length} Docker Engine(s)`, () => assertEnginesAnswer(topology));
  mkdirSync(stateDir, { recursive: true });
  await step("signing keys", () => ensureSigningKeys(stateDir));
  await step("backbone certificates", () => {
    const pki = ensureBackbonePki(topology, join(stateDir, BACKBONE_STATE_SUBDIR));
    if (pki.caCreated) console.log(`    new backbone CA in ${pki.dir}`);
    if (pki.issued.length > 0) console.log(`    issued: ${pki.issued.join(", ")}`);
  });
  const images = [pins.images.envoy.tag, bundleUpstreams(topology.project).tag];
  await step("services image", () => buildUpstreamsImage(topology.project, bundleUpstreams(topology.project)));
  for (const { host } of engines.filter((e) => e.host !== undefined)) {
    await step(`images to ${host}`, async () => {
      for (const tag of images) console.log(`    ${tag}: ${(await sendImage(host!, tag)) ? "sent" : "already there"}`);
    });
  }
  const daemon = await step("measure every Docker daemon's open-files limit", () => lowestNofileLimit(topology));
  const nofile = decideNofile(topology.resources, daemon.limit, daemon.host);
  if (nofile.warning) console.warn(`\n${nofile.warning}\n`);
  await step("check host ports", () => assertPortsFree(topology));

  const stacks = options.regions?.length
    ? [sharedStackName(topology), ...options.regions.map((r) => regionStackName(topology, r))]
    : ["*"];
  const env = terraformEnv({ [DAEMON_NOFILE_ENV]: String(daemon.limit), EDGE_TOPOLOGY: path });
  await rollChangedPops(topology, env, options);
  const result = await step(`cdktf deploy ${stacks.join(" ")}`, () =>
    cdktf(["deploy", ...stacks, "--auto-approve", "--skip-provider-lock", "--outputs-file", cdktfOutputsPath(), "--outputs-file-include-sensitive-outputs"], env, options.quiet),
  );
  if (result.code !== 0) {
    if (options.quiet) console.error(result.output.slice(-6000));
    throw new StepError("cdktf deploy", "Terraform reported errors (above)", "fix the cause and re-run `npm run deploy`; `npm run destroy` removes what was created");
  }
  const unhealthy = await step("wait until every container is healthy", () => waitHealthy(topology.project, listContainers(topology).map((c) => c.name), 180_000, engines.map((e) => e.host)));
  if (unhealthy.length > 0) {
    throw new StepError("wait for health", `not healthy: ${unhealthy.map((c) => `${c.name} (${c.state}, ${c.health})`).join(", ")}`, engines.some((e) => e.host) ? "read `docker -H <region's dockerHost> logs <container>`" : "read `docker logs <container>`");
  }
  const outputs = writeDeployOutputs(topology);
  const misrouted = await step("check routing through every POP", () => checkRouting(topology, outputs.pops, outputs.ca, 60_000));
  if (misrouted.length > 0) {
    throw new StepError("check routing", misrouted.slice(0, 5).join("; "), "read `docker logs <pop container>` (the access log shows x-edge-route)");
  }
  console.log(`deploy: ${listContainers(topology).length} containers healthy in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  for (const pop of outputs.pops) console.log(`  ${pop.id.padEnd(28)} ${pop.tlsUrl}  ${pop.clientUrl}  stats ${pop.statsUrl}/stats/prometheus`);
  console.log(`  public CA (curl --cacert): ${outputs.ca}`);
  return outputs;
}

/**
 * Before the stacks are applied: POP containers the change would replace are replaced one at a time
 * here (rolling.ts), so `cdktf deploy` never recreates a region's POPs at once. Needs a deploy to
 * roll over; a first deploy has none.
 */
async function rollChangedPops(topology: Topology, env: NodeJS.ProcessEnv, options: DeployOptions): Promise<void> {
  const outputs = readOutputs();
  if (!outputs) return;
  const synth = await step("cdktf synth (to plan a rolling update)", () => cdktf(["synth"], env, true));
  if (synth.code !== 0) throw new StepError("cdktf synth", synth.output.slice(-2000), "fix the cause and re-run `npm run deploy`");
  const regions = options.regions?.length ? options.regions : topology.regions.map((r) => r.name);
  const pops = await step(options.roll ? "deployed POPs (rolling restart)" : "plan: POPs this change replaces", async () =>
    (options.roll ? await deployedPops(topology, env) : await plannedPopReplacements(topology, env)).filter((p) => regions.includes(p.region)),
  );
  if (pops.length === 0) return;
  await step(`roll ${pops.length} POP(s), one at a time`, () => rollPops(topology, outputs, pops, env));
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { region: { type: "string", multiple: true }, roll: { type: "boolean", default: false } } });
  try {
    await deploy({ regions: values.region, roll: values.roll });
  } catch (e) {
    process.exitCode = reportFailure("deploy", e);
  }
}
