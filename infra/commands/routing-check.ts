import type { Topology } from "../topology/model.ts";
import type { PopOutput } from "../deploy-outputs.ts";
import { get } from "./http-probe.ts";

/**
 * Healthy containers are not yet a working edge: this sends one request per POP, tenant and app and
 * expects the tenant's region to answer (for an app that fails over, the health checks through to
 * every region's app must have passed first). It also warms each POP's tenant cache and upstream connections.
 */
export async function checkRouting(topology: Topology, pops: PopOutput[], caPath: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let problems: string[] = [];
  do {
    problems = [];
    for (const pop of pops) {
      for (const tenant of topology.tenants) {
        for (const app of topology.apps) {
          const at = `${pop.id} -> ${tenant.host}${app.prefix}`;
          try {
            // Over TLS, as clients come: the check also proves each POP serves its certificate.
            const res = await get(`${pop.tlsUrl}${app.prefix}/`, { host: tenant.host }, 5000, { caPath });
            const served = res.status === 200 ? (res.json<{ region?: string }>().region ?? "?") : `status ${res.status}`;
            if (served !== tenant.region) problems.push(`${at}: ${served}, expected ${tenant.region}`);
          } catch (e) {
            problems.push(`${at}: ${(e as Error).message}`);
          }
        }
      }
    }
    if (problems.length === 0) return [];
    await new Promise((r) => setTimeout(r, 1000));
  } while (Date.now() < deadline);
  return problems;
}
