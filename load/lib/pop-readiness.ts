// The setup check both k6 scripts run before sending load: every entry POP must be ready and its
// client listener must answer. The HTTP client is passed in, so this file has no k6 imports.
import type { PopOutput } from "../../infra/deploy-outputs.ts";

export type ProbeGet = (url: string) => { status: number; error: string };

/** One line per POP that cannot take load, naming the URL that failed; empty when all can. */
export function popsNotReady(pops: PopOutput[], get: ProbeGet): string[] {
  const down: string[] = [];
  for (const pop of pops) {
    const ready = get(`${pop.statsUrl}/ready`);
    if (ready.status !== 200) down.push(`POP ${pop.id} is not ready: GET ${pop.statsUrl}/ready gave ${ready.status || ready.error}`);
    const client = get(`${pop.clientUrl}/`);
    if (client.status === 0) down.push(`POP ${pop.id} client listener is down: GET ${pop.clientUrl}/ failed (${client.error})`);
  }
  return down;
}
