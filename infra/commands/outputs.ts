import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import type { Topology } from "../topology/model.ts";
import type { DeployOutputs, PopOutput } from "../deploy-outputs.ts";
import { popId } from "../topology/names.ts";
import { servingOrder } from "../topology/inventory.ts";
import { PUBLIC_TLS_STATE_SUBDIR } from "../../edge/public-tls.ts";

export const outputsPath = () => join(stateDir, "outputs.json");
export const cdktfOutputsPath = () => join(stateDir, "cdktf-outputs.json");

function isPopOutput(v: unknown): v is PopOutput {
  return typeof v === "object" && v !== null && typeof (v as PopOutput).clientUrl === "string" && typeof (v as PopOutput).tlsUrl === "string" && typeof (v as PopOutput).id === "string";
}

/** The running deploy's `.edge/outputs.json`; undefined when nothing was deployed. */
export function readOutputs(): DeployOutputs | undefined {
  return existsSync(outputsPath()) ? (JSON.parse(readFileSync(outputsPath(), "utf8")) as DeployOutputs) : undefined;
}

/** Merges the POP URLs cdktf reported (for the stacks just deployed) into the outputs file. */
export function writeDeployOutputs(topology: Topology): DeployOutputs {
  const previous: PopOutput[] = readOutputs()?.pops ?? [];
  const reported = existsSync(cdktfOutputsPath()) ? (JSON.parse(readFileSync(cdktfOutputsPath(), "utf8")) as Record<string, Record<string, unknown>>) : {};
  const byId = new Map(previous.map((p) => [p.id, p]));
  for (const stack of Object.values(reported)) for (const value of Object.values(stack)) if (isPopOutput(value)) byId.set(value.id, value);
  const pops = topology.regions.flatMap((r) => r.pops.map((p) => byId.get(popId(r.name, p.name)))).filter((p): p is PopOutput => p !== undefined);
  const outputs = deployOutputs(topology, pops, join(stateDir, PUBLIC_TLS_STATE_SUBDIR, "ca.crt"));
  mkdirSync(dirname(outputsPath()), { recursive: true });
  writeFileSync(`${outputsPath()}.tmp`, `${JSON.stringify(outputs, null, 2)}\n`);
  renameSync(`${outputsPath()}.tmp`, outputsPath());
  return outputs;
}

/** What the outputs file says about `topology` deployed with `pops` (also the loopback edge's, for tests). */
export function deployOutputs(topology: Topology, pops: PopOutput[], ca: string): DeployOutputs {
  return {
    project: topology.project,
    regions: topology.regions.map((r) => r.name),
    pops,
    ca,
    tenants: topology.tenants,
    apps: topology.apps.map((app) => ({
      name: app.name,
      prefix: app.prefix,
      protocol: app.protocol,
      serving: Object.fromEntries(topology.regions.map((owner) => [owner.name, servingOrder(topology, app, owner.name)])),
      residency: app.residency,
    })),
    jurisdictions: Object.fromEntries(topology.regions.map((region) => [region.name, region.jurisdiction])),
    jwt: { issuer: topology.jwt.issuer, audiences: topology.jwt.audiences, regionClaim: topology.jwt.regionClaim, maxTokenTtlSeconds: topology.jwt.maxTokenTtlSeconds },
  };
}
