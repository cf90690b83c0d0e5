import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadTopology, topologyPath, TopologyError } from "../infra/topology/load.ts";
import { renderProxies, writeProxies } from "./bootstraps.ts";
import { mermaidDiagram } from "./diagram.ts";
import { jwtAuthnFilesIn } from "./jwt-authn.ts";
import { CONTAINER_BACKBONE_TLS, CONTAINER_JWT_AUTHN, CONTAINER_WASM_PATH, dockerBackboneTls, dockerPublicTls, dockerPlacement } from "./placement.ts";

const USAGE = `usage: npm run render -- --out DIR [--topology FILE] [--wasm-path PATH] [--jwt-dir DIR]
       npm run render -- --diagram [--topology FILE]
Writes one Envoy bootstrap per POP and datacenter ingress replica (<container>.yaml, Docker placement)
and region-router/<pop id>.json; --diagram prints the Mermaid diagram of the topology.
--wasm-path and --jwt-dir are paths inside the containers (defaults ${CONTAINER_WASM_PATH}, ${CONTAINER_JWT_AUTHN.watchedDir});
the token check is read from <jwt-dir>/jwt-authn.json (ECDS, watched);
every POP reads its backbone CA, certificate and key from ${Object.values(CONTAINER_BACKBONE_TLS).join(", ")}.`;

function main(): number {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      topology: { type: "string" },
      "wasm-path": { type: "string", default: CONTAINER_WASM_PATH },
      "jwt-dir": { type: "string", default: CONTAINER_JWT_AUTHN.watchedDir },
      diagram: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.out === undefined && !values.diagram) {
    console.error(`render: nothing to do: pass --out DIR or --diagram\n${USAGE}`);
    return 2;
  }
  const source = topologyPath(values.topology);
  const topology = loadTopology(source);
  if (values.diagram) process.stdout.write(mermaidDiagram(topology));
  if (values.out !== undefined) {
    const inputs = { wasmPath: values["wasm-path"], jwtAuthn: jwtAuthnFilesIn(values["jwt-dir"]), topologyPath: source, backboneTls: dockerBackboneTls, publicTls: dockerPublicTls };
    const files = writeProxies(resolve(values.out), renderProxies(topology, dockerPlacement(topology), inputs), inputs);
    console.error(`rendered ${files.length} bootstraps into ${resolve(values.out)}`);
  }
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(error instanceof TopologyError ? error.message : `render failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
