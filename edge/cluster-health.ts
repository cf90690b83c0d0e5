// Waiting for a proxy started on this machine: first its admin /ready, then its upstreams. With
// panic routing off (edge/failover.ts), a cluster sends no traffic until an active health check has
// passed, so a harness that starts proxies waits for both.
import type { ChildProcess } from "node:child_process";

/** An Envoy process this machine started. */
export interface StartedEnvoy {
  name: string;
  process: ChildProcess;
  adminUrl: string;
  /** What Envoy wrote so far (the tail). */
  log(): string;
}

/** Resolves once the admin `/ready` answers 200; throws with Envoy's log if it exits or `timeoutMs` passes. */
export async function waitEnvoyReady(envoy: StartedEnvoy, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (envoy.process.exitCode !== null) throw new Error(`${envoy.name} Envoy exited with ${envoy.process.exitCode}:\n${envoy.log().slice(-3000)}`);
    try {
      if ((await fetch(`${envoy.adminUrl}/ready`)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${envoy.name} Envoy not ready after ${timeoutMs} ms:\n${envoy.log().slice(-3000)}`);
}

/** Hosts not yet healthy, as `<cluster>::<address>::<flags>`, read from Envoy's admin `/clusters`. */
export async function unhealthyHosts(adminUrl: string): Promise<string[]> {
  const res = await fetch(`${adminUrl}/clusters`);
  if (res.status !== 200) throw new Error(`GET ${adminUrl}/clusters gave ${res.status}`);
  return (await res.text())
    .split("\n")
    .map((line) => line.split("::"))
    .filter((parts) => parts[2] === "health_flags" && parts[3] !== "healthy")
    .map((parts) => `${parts[0]}::${parts[1]}::${parts[3]}`);
}

/** Resolves once every host of every cluster of the proxy at `adminUrl` is healthy; throws with the laggards after `timeoutMs`. */
export async function waitClustersHealthy(adminUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending: string[] = [];
  while (Date.now() < deadline) {
    pending = await unhealthyHosts(adminUrl).catch((e: Error) => [e.message]);
    if (pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${adminUrl}: hosts still unhealthy after ${timeoutMs} ms: ${pending.join(", ")}`);
}
