import type { ContainerConfig } from "@cdktf/provider-docker/lib/container/index.js";
import { CONTAINER_BACKBONE_TLS, CONTAINER_JWT_AUTHN, CONTAINER_WASM_PATH } from "../../edge/placement.ts";

/** Where every Envoy container finds what the deploy uploads into it (the bootstraps name the same paths). */
export const ENVOY_FILES = {
  config: "/etc/edgerim/envoy.yaml",
  wasm: CONTAINER_WASM_PATH,
  jwtAuthn: CONTAINER_JWT_AUTHN.path,
  backboneCa: CONTAINER_BACKBONE_TLS.caCertPath,
  backboneCert: CONTAINER_BACKBONE_TLS.certPath,
  backboneKey: CONTAINER_BACKBONE_TLS.keyPath,
} as const;

export const BUSYBOX = "/usr/local/bin/busybox";

/**
 * Health check by HTTP GET from inside the container (the images carry a static busybox). Every
 * check is a `docker exec`, which costs the engine far more than the GET: at 2 s, the default
 * topology's 29 containers kept a quarter of the two CPUs busy while idle. Traffic never waits on
 * these checks (the proxies' own health checks decide where requests go); they gate the deploy and
 * Docker's view of a container.
 */
export function httpHealthcheck(port: number, path: string): NonNullable<ContainerConfig["healthcheck"]> {
  return {
    test: ["CMD", BUSYBOX, "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${path}`],
    interval: "5s",
    timeout: "2s",
    retries: 15,
    startPeriod: "2s",
  };
}

/** Settings every container of the deploy shares: restart policy, logs, and waiting until healthy. */
export const commonContainerSettings = {
  restart: "unless-stopped",
  mustRun: true,
  wait: true,
  waitTimeout: 120,
  destroyGraceSeconds: 15,
  logOpts: { "max-size": "10m", "max-file": "2" },
} as const satisfies Partial<ContainerConfig>;
