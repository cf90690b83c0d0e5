import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Topology } from "./topology/model.ts";
import { repoRoot, stateDir } from "../scripts/toolchain/paths.ts";
import { pins } from "../scripts/toolchain/versions.ts";
import { ensureSigningKeys } from "../upstreams/tokens/keys.ts";
import { BACKBONE_STATE_SUBDIR, ensureBackbonePki } from "../edge/backbone-pki.ts";
import type { JwtAuthnSource, PopBackboneTls } from "./constructs/pop.ts";
import { jwtAuthnSettingsVersion, writeJwtAuthn } from "../edge/jwt-authn.ts";
import { ensurePublicPki, PUBLIC_TLS_STATE_SUBDIR } from "../edge/public-tls.ts";
import { bundleUpstreams } from "./upstreams-image.ts";
import { daemonNofileFromEnv, decideNofile, withNofileDecision } from "./nofile.ts";
import { renderDockerEnvoyConfigs } from "./envoy-configs.ts";

export interface DeployImages {
  envoy: string;
  upstreams: string;
}

/** Everything the stacks need besides the topology, gathered once per synth. */
export interface DeployInputs {
  stateDir: string;
  images: DeployImages;
  /** The rendered Envoy bootstrap of a POP or ingress container, by container name; its connection limits fit `nofile`. */
  envoyConfig(containerName: string): string;
  filterWasmBase64: string;
  /** The POPs' token check, `<state>/jwt/envoy/jwt-authn.json`, written from the current keys. */
  jwtAuthn: JwtAuthnSource;
  /** A POP's backbone CA, certificate and key from `<state>/backbone/`. */
  backboneTls(region: string, pop: string): PopBackboneTls;
  /** Host path of a POP's public-certificate SDS file under `<state>/public-tls/`. */
  publicTlsSdsPath(region: string, pop: string): string;
  topologyYaml: string;
  /** Open-files limit of the containers (nofile.ts). */
  nofile: number;
  /** Set when `nofile` and the connection limits were lowered below the topology's. */
  nofileWarning?: string;
}

/** Host directory of the POPs' jwt_authn file: what a new container starts with, and what a rotation copies in. */
export const jwtAuthnStateDir = (state: string) => join(state, "jwt", "envoy");

export const FILTER_WASM = join(repoRoot, "filters/region-router/build/region_router.wasm");

export function collectDeployInputs(topology: Topology, topologyPath: string): DeployInputs {
  if (!existsSync(FILTER_WASM)) {
    throw new Error(`${FILTER_WASM} is missing: run \`npm run build\` first`);
  }
  const keys = ensureSigningKeys(stateDir);
  const pki = ensureBackbonePki(topology, join(stateDir, BACKBONE_STATE_SUBDIR));
  const caCertPem = readFileSync(pki.ca.certPath, "utf8");
  const publicPki = ensurePublicPki(topology, join(stateDir, PUBLIC_TLS_STATE_SUBDIR));
  const nofileDecision = decideNofile(topology.resources, daemonNofileFromEnv());
  const configs = renderDockerEnvoyConfigs(withNofileDecision(topology, nofileDecision), topologyPath);
  return {
    stateDir,
    images: { envoy: pins.images.envoy.tag, upstreams: bundleUpstreams(topology.project).tag },
    envoyConfig(containerName) {
      const config = configs.get(containerName);
      if (config === undefined) throw new Error(`no Envoy configuration was rendered for ${containerName}`);
      return config;
    },
    filterWasmBase64: readFileSync(FILTER_WASM).toString("base64"),
    jwtAuthn: { sourcePath: writeJwtAuthn(jwtAuthnStateDir(stateDir), topology, keys.jwks).path, settingsVersion: jwtAuthnSettingsVersion(topology) },
    backboneTls(region, pop) {
      const own = pki.pop(region, pop);
      const certPem = readFileSync(own.certPath, "utf8");
      return { caCertPem, certPem, keyPath: own.keyPath, keyVersion: new X509Certificate(certPem).fingerprint256 };
    },
    publicTlsSdsPath: (region, pop) => publicPki.sdsFile(region, pop).sdsPath,
    topologyYaml: readFileSync(topologyPath, "utf8"),
    nofile: nofileDecision.nofile,
    ...(nofileDecision.warning ? { nofileWarning: nofileDecision.warning } : {}),
  };
}
