// Waiting for a proxy's upstreams: with panic routing off (edge/failover.ts), a cluster sends no
// traffic until an active health check has passed, so a harness that starts proxies waits for this
// as well as for /ready.

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
