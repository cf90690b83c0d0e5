import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { loadTopology, topologyPath, TopologyError } from "../infra/topology/load.ts";
import { toolPath } from "../scripts/toolchain/paths.ts";
import { backboneTlsPaths, ensureBackbonePki } from "./backbone-pki.ts";
import { renderProxies, writeProxies } from "./bootstraps.ts";
import { ensureFilterWasm, validateBootstraps, writeThrowawayJwtAuthn } from "./envoy-validation.ts";
import { dockerPlacement } from "./placement.ts";
import { ensurePublicPki } from "./public-tls.ts";

/**
 * `npm run validate [-- --topology FILE]`: renders every bootstrap for Docker into a temporary
 * directory, with the built region-router module, a throwaway JWKS and a throwaway backbone PKI (Envoy
 * reads every TLS file while validating), and has Envoy validate each.
 */

function topologyArgument(argv: string[]): string | undefined {
  const index = argv.indexOf("--topology");
  if (index < 0) return undefined;
  const value = argv[index + 1];
  if (value === undefined) throw new Error("--topology needs a file path");
  return value;
}

async function main(): Promise<number> {
  const source = topologyPath(topologyArgument(process.argv.slice(2)));
  const topology = loadTopology(source);
  const envoy = toolPath("envoy");
  const wasmPath = ensureFilterWasm();
  const dir = mkdtempSync(join(tmpdir(), "edgerim-validate-"));
  try {
    const inputs = {
      wasmPath,
      jwtAuthn: writeThrowawayJwtAuthn(topology, join(dir, "jwt")),
      topologyPath: source,
      backboneTls: backboneTlsPaths(ensureBackbonePki(topology, join(dir, "backbone"))),
      publicTls: ensurePublicPki(topology, join(dir, "public-tls")).sdsFile,
    };
    const files = writeProxies(dir, renderProxies(topology, dockerPlacement(topology), inputs), inputs);
    const results = await validateBootstraps(envoy, files);
    for (const result of results) {
      const name = basename(result.file);
      if (result.ok) {
        console.log(`ok      ${name}`);
        for (const message of result.messages) console.log(`        ${message}`);
      } else {
        console.error(`invalid ${name}: envoy rejected it:`);
        for (const message of result.messages) console.error(`        ${message}`);
      }
    }
    const failed = results.filter((result) => !result.ok).length;
    console.log(failed === 0 ? `${results.length} bootstraps valid (envoy --mode validate)` : `${failed} of ${results.length} bootstraps invalid`);
    return failed === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof TopologyError ? error.message : `validate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
