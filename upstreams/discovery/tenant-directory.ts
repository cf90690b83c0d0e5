export interface TenantEntry {
  host: string;
  region: string;
}

/** Host as the directory keys it: lowercase, no port, no trailing dot. */
export function normalizeHost(raw: string): string {
  let host = raw.trim().toLowerCase();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    host = end === -1 ? host : host.slice(0, end + 1);
  } else {
    host = host.replace(/:\d*$/, "");
  }
  return host.replace(/\.$/, "");
}

/** Tenants by host; a host listed twice is a configuration error, not a silent override. */
export class TenantDirectory {
  private readonly byHost = new Map<string, TenantEntry>();

  constructor(tenants: readonly TenantEntry[]) {
    for (const tenant of tenants) {
      const host = normalizeHost(tenant.host);
      if (this.byHost.has(host)) throw new Error(`tenant host ${host} is listed twice; expected each host once`);
      this.byHost.set(host, { host, region: tenant.region });
    }
  }

  get size(): number {
    return this.byHost.size;
  }

  lookup(rawHost: string): TenantEntry | undefined {
    return this.byHost.get(normalizeHost(rawHost));
  }
}
