// The page's request composer: an entry POP, an identity and an app, checked against the deploy's
// outputs, sent by this server through the real POP, and the path it took read back from the answer.
// Tokens are signed here; the signing key never leaves this process.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { DeployOutputs, PopOutput } from "../../infra/deploy-outputs.ts";
import { HOSTNAME_PATTERN, HOSTNAME_RULE } from "../../infra/topology/schema.ts";
import { get } from "../../infra/commands/http-probe.ts";
import type { SigningKeys } from "../../upstreams/tokens/keys.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { parseRoute } from "../lib/edge-response.ts";
import { parsePrometheusText, prometheusName, sampleValue } from "../lib/prometheus-text.ts";
import type { ComposeRequest, ComposeResult, RequestPath } from "./wire.ts";

/** A composer request the server will not send: 400 with the field and what would be valid. */
export class RequestRefused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const IDENTITY_KINDS = ["user", "tenant", "none", "forged"] as const;

function oneOf(field: string, value: unknown, valid: string[], what: string): string {
  if (typeof value === "string" && valid.includes(value)) return value;
  throw new RequestRefused(field, `${JSON.stringify(value ?? null)} is not ${what}; expected one of ${valid.join(", ")}`);
}

/** The composer's JSON body, checked against the deploy; throws RequestRefused naming the first bad field. */
export function checkComposeRequest(body: unknown, outputs: DeployOutputs): ComposeRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RequestRefused("(body)", "expected a JSON object with pop, app and identity");
  }
  const raw = body as Record<string, unknown>;
  const pop = oneOf("pop", raw.pop, outputs.pops.map((p) => p.id), "a POP of the deploy");
  const app = oneOf("app", raw.app, outputs.apps.map((a) => a.name), "an app of the deploy");
  const identity = raw.identity as Record<string, unknown> | undefined;
  const kind = oneOf("identity.kind", identity?.kind, [...IDENTITY_KINDS], "an identity kind") as ComposeRequest["identity"]["kind"];
  if (kind === "none") return { pop, app, identity: { kind } };
  if (kind === "tenant") {
    const host = identity?.host;
    if (typeof host !== "string" || !HOSTNAME_PATTERN.test(host)) {
      throw new RequestRefused("identity.host", `${JSON.stringify(host ?? null)} is not a host name; expected ${HOSTNAME_RULE}`);
    }
    return { pop, app, identity: { kind, host } };
  }
  const region = oneOf("identity.region", identity?.region, outputs.regions, "a region of the deploy");
  return { pop, app, identity: { kind, region } };
}

/** Signs the composer's tokens: real ones with the deploy's key, forged ones with a key no POP trusts. */
export class DemoSigner {
  private forger: KeyObject | undefined;

  constructor(private readonly keys: () => SigningKeys) {}

  token(outputs: DeployOutputs, region: string, forged: boolean): string {
    const keys = this.keys();
    this.forger ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    return signToken({
      user: `dashboard-user-${region}`,
      region,
      ttlSeconds: 300,
      issuer: outputs.jwt.issuer,
      audience: outputs.jwt.audiences[0]!,
      regionClaim: outputs.jwt.regionClaim,
      // A forged token claims the deploy's key id but is signed by another key.
      key: forged ? this.forger : keys.privateKey,
      kid: keys.kid,
    });
  }
}

async function carriedCounts(pops: PopOutput[]): Promise<Map<string, number | undefined>> {
  const name = prometheusName("edge_router.carried");
  const counts = await Promise.all(
    pops.map(async (pop) => {
      try {
        const res = await fetch(`${pop.statsUrl}/stats/prometheus`, { signal: AbortSignal.timeout(800) });
        return sampleValue(parsePrometheusText(await res.text()), name);
      } catch {
        return undefined;
      }
    }),
  );
  return new Map(pops.map((pop, i) => [pop.id, counts[i]]));
}

function jsonOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** Sends the checked request through its entry POP and reads where it went. */
export async function sendThroughPop(request: ComposeRequest, outputs: DeployOutputs, signer: DemoSigner): Promise<ComposeResult> {
  const entry = outputs.pops.find((p) => p.id === request.pop)!;
  const app = outputs.apps.find((a) => a.name === request.app)!;
  const url = `${entry.clientUrl}${app.prefix}/hello`;
  const headers: Record<string, string> = {};
  const shown: Record<string, string> = {};
  let identity = "no identity";
  const { identity: who } = request;
  if (who.kind === "user" || who.kind === "forged") {
    headers.authorization = `Bearer ${signer.token(outputs, who.region, who.kind === "forged")}`;
    shown.authorization = `Bearer <${who.kind === "forged" ? "forged token" : "token"} of a user of ${who.region}>`;
    identity = who.kind === "forged" ? `a forged token claiming ${who.region}` : `a user of ${who.region}`;
  } else if (who.kind === "tenant") {
    headers.host = who.host;
    shown.host = who.host;
    const tenant = outputs.tenants.find((t) => t.host === who.host);
    identity = tenant ? `tenant ${who.host} (owned by ${tenant.region})` : `host ${who.host} (no tenant has it)`;
  }
  // Which POP of another region takes the sideways hop shows in its `carried` counter.
  const peers = outputs.pops.filter((p) => p.region !== entry.region);
  const before = await carriedCounts(peers);
  const started = performance.now();
  const res = await get(url, headers, 5000);
  const ms = performance.now() - started;
  const body = jsonOrText(res.body);
  const routeHeader = typeof res.headers["x-edge-route"] === "string" ? res.headers["x-edge-route"] : null;
  const route = parseRoute(routeHeader ?? undefined);
  const reply = res.status === 200 && typeof body === "object" && body !== null ? (body as { region?: unknown; instance?: unknown; hops?: unknown }) : undefined;
  const servedRegion = typeof reply?.region === "string" && outputs.regions.includes(reply.region) ? reply.region : null;
  const hops = typeof reply?.hops === "number" ? reply.hops : route.hops !== undefined ? Number(route.hops) : null;
  let peerCandidates: string[] = [];
  if (servedRegion !== null && servedRegion !== entry.region) {
    const inRegion = peers.filter((p) => p.region === servedRegion);
    const after = await carriedCounts(inRegion);
    const rose = inRegion.filter((p) => (after.get(p.id) ?? 0) > (before.get(p.id) ?? Infinity)).map((p) => p.id);
    peerCandidates = rose.length > 0 ? rose : inRegion.map((p) => p.id);
  }
  const path: RequestPath = {
    entryPop: entry.id,
    hops,
    owner: route.owner ?? null,
    servedRegion,
    failover: route.failover === "1",
    peerPop: peerCandidates.length === 1 ? peerCandidates[0]! : null,
    peerCandidates,
    instance: typeof reply?.instance === "string" ? reply.instance : null,
  };
  return {
    request: { method: "GET", url, headers: shown, identity },
    status: res.status,
    ms,
    route: routeHeader,
    routeFields: route,
    pop: typeof res.headers["x-edge-pop"] === "string" ? res.headers["x-edge-pop"] : null,
    body,
    path,
  };
}
