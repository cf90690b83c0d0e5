// npm run rotate -- certs | jwks [--prune]: new key material for the running POPs, with no restart.
//   certs   every POP gets a new public certificate; Envoy watches the SDS file's directory and serves
//           it to every new handshake within a second or two; open connections keep theirs.
//   jwks    a new signing key: published to every POP first, signing only once every POP accepts it;
//           the former key stays published until its last token has expired (jwt.maxTokenTtlSeconds
//           plus the clock skew), and the rotation after that, or --prune, takes it out.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import { ensurePublicPki, PUBLIC_TLS_STATE_SUBDIR } from "../../edge/public-tls.ts";
import { CONTAINER_JWT_AUTHN, CONTAINER_PUBLIC_TLS } from "../../edge/placement.ts";
import { pruneJwks, rotateJwks, type JwksRotation, type JwksTarget } from "../../edge/jwks-rotation.ts";
import { listPops } from "../topology/inventory.ts";
import { popContainer, popId } from "../topology/names.ts";
import { loadTopology, topologyPath } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";
import { BUSYBOX } from "../constructs/container-settings.ts";
import { jwtAuthnStateDir } from "../deploy-inputs.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { reportFailure } from "./step.ts";
import { dockerAsync } from "./docker-objects.ts";
import { outputsPath, readOutputs } from "./outputs.ts";

export interface CertRotation {
  /** Per pop id, the serial of the certificate it serves from now on. */
  serials: Record<string, string>;
}

/**
 * Copies a host file into a running container beside `target` and renames it over `target` there:
 * a watch on the directory sees one complete file.
 */
async function replaceInContainer(container: string, host: string | undefined, hostFile: string, target: { path: string; watchedDir: string }): Promise<void> {
  const pending = join(target.watchedDir, ".rotation.pending");
  await dockerAsync(["cp", hostFile, `${container}:${pending}`], host);
  await dockerAsync(["exec", container, BUSYBOX, "mv", "-f", pending, target.path], host);
}

/** New certificates for every POP from the public CA (state `<state>/public-tls/`), put into its container. */
export async function rotateCertificates(topology: Topology): Promise<CertRotation> {
  const pki = ensurePublicPki(topology, join(stateDir, PUBLIC_TLS_STATE_SUBDIR), { reissue: true });
  const serials: Record<string, string> = {};
  for (const { region, pop } of listPops(topology)) {
    const container = popContainer(topology.project, region.name, pop.name);
    await replaceInContainer(container, region.dockerHost, pki.sdsFile(region.name, pop.name).sdsPath, { path: CONTAINER_PUBLIC_TLS.sdsPath, watchedDir: CONTAINER_PUBLIC_TLS.watchedDir });
    serials[popId(region.name, pop.name)] = new X509Certificate(readFileSync(pki.pop(region.name, pop.name).certPath)).serialNumber;
  }
  return { serials };
}

/** The deployed POPs as a JWKS rotation reaches them: the file copied into each container, probes at each client URL. */
export function dockerJwksTarget(topology: Topology): JwksTarget {
  const outputs = readOutputs();
  if (!outputs) throw new Error(`${outputsPath()} not found: run \`npm run deploy\` first`);
  const pops = listPops(topology).map(({ region, pop, id }) => {
    const output = outputs.pops.find((candidate) => candidate.id === id);
    if (!output) throw new Error(`${outputsPath()} does not name ${id}: run \`npm run deploy\``);
    return { id, region: region.name, clientUrl: output.clientUrl, container: popContainer(topology.project, region.name, pop.name), dockerHost: region.dockerHost };
  });
  return {
    dir: jwtAuthnStateDir(stateDir),
    pops,
    async publish(path) {
      await Promise.all(pops.map((pop) => replaceInContainer(pop.container, pop.dockerHost, path, CONTAINER_JWT_AUTHN)));
    },
  };
}

function printJwks(rotation: JwksRotation, verb: string): void {
  console.log(`  signing key      ${rotation.kid}`);
  for (const key of rotation.retiring) console.log(`  retiring key     ${key.jwk.kid} (published until ${key.removeAfter})`);
  for (const kid of rotation.removed) console.log(`  removed key      ${kid}`);
  console.log(`rotate: ${verb}; no container restarted`);
}

const USAGE = "usage: npm run rotate -- certs | jwks [--prune]";

if (isEntryPoint(import.meta.url)) {
  try {
    const { positionals, values } = parseArgs({ allowPositionals: true, options: { prune: { type: "boolean", default: false } } });
    const [what] = positionals;
    if (what !== "certs" && what !== "jwks") throw new Error(`${what === undefined ? "nothing to rotate" : `cannot rotate ${what}`}; ${USAGE}`);
    if (values.prune && what !== "jwks") throw new Error(`--prune applies to jwks only; ${USAGE}`);
    const topology = loadTopology(topologyPath());
    if (what === "certs") {
      const rotation = await rotateCertificates(topology);
      for (const [id, serial] of Object.entries(rotation.serials)) console.log(`  ${id.padEnd(28)} serial ${serial}`);
      console.log(`rotate: ${Object.keys(rotation.serials).length} POP certificate(s) replaced in place; no container restarted`);
    } else if (values.prune) {
      printJwks(await pruneJwks(topology, stateDir, dockerJwksTarget(topology)), "retired keys past their time taken out of every POP's JWKS");
    } else {
      const rotation = await rotateJwks(topology, stateDir, dockerJwksTarget(topology));
      printJwks(rotation, `every POP accepted the new key within ${rotation.acceptedAfterMs} ms, and it signs from now on`);
    }
  } catch (e) {
    process.exitCode = reportFailure("rotate", e);
  }
}
