// npm run rotate -- certs: issues every POP a new public certificate and puts it into the running
// POP containers, with no restart: Envoy watches the SDS file's directory and serves the new
// certificate to every new handshake within a second or two; open connections keep theirs.
import { join } from "node:path";
import { stateDir } from "../../scripts/toolchain/paths.ts";
import { ensurePublicPki, PUBLIC_TLS_STATE_SUBDIR } from "../../edge/public-tls.ts";
import { CONTAINER_PUBLIC_TLS } from "../../edge/placement.ts";
import { listPops } from "../topology/inventory.ts";
import { popContainer, popId } from "../topology/names.ts";
import { loadTopology, topologyPath } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";
import { BUSYBOX } from "../constructs/container-settings.ts";
import { isEntryPoint } from "../../upstreams/service-process.ts";
import { reportFailure } from "./step.ts";
import { dockerAsync } from "./docker-objects.ts";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

export interface CertRotation {
  /** Per pop id, the serial of the certificate it serves from now on. */
  serials: Record<string, string>;
}

/**
 * New certificates for every POP from the public CA (state `<state>/public-tls/`), each copied into
 * its container beside the SDS file and renamed over it there: Envoy's watch sees one complete file.
 */
export async function rotateCertificates(topology: Topology): Promise<CertRotation> {
  const pki = ensurePublicPki(topology, join(stateDir, PUBLIC_TLS_STATE_SUBDIR), { reissue: true });
  const serials: Record<string, string> = {};
  const pending = join(CONTAINER_PUBLIC_TLS.watchedDir, ".rotation.pending");
  for (const { region, pop } of listPops(topology)) {
    const container = popContainer(topology.project, region.name, pop.name);
    await dockerAsync(["cp", pki.sdsFile(region.name, pop.name).sdsPath, `${container}:${pending}`]);
    await dockerAsync(["exec", container, BUSYBOX, "mv", "-f", pending, CONTAINER_PUBLIC_TLS.sdsPath]);
    serials[popId(region.name, pop.name)] = new X509Certificate(readFileSync(pki.pop(region.name, pop.name).certPath)).serialNumber;
  }
  return { serials };
}

const USAGE = "usage: npm run rotate -- certs";

if (isEntryPoint(import.meta.url)) {
  try {
    const what = process.argv[2];
    if (what !== "certs") throw new Error(`${what === undefined ? "nothing to rotate" : `cannot rotate ${what}`}; ${USAGE}`);
    const topology = loadTopology(topologyPath());
    const rotation = await rotateCertificates(topology);
    for (const [id, serial] of Object.entries(rotation.serials)) console.log(`  ${id.padEnd(28)} serial ${serial}`);
    console.log(`rotate: ${Object.keys(rotation.serials).length} POP certificate(s) replaced in place; no container restarted`);
  } catch (e) {
    process.exitCode = reportFailure("rotate", e);
  }
}
