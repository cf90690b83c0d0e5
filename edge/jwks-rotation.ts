// A JWKS rotation in the order that fails no request: publish a next key beside the signing key,
// wait until every POP accepts a token it signed, and only then sign with it. The former key stays
// published until every token it signed has expired (maxTokenTtlSeconds plus the clock skew); a
// later rotation, or `--prune`, takes it out.
import type { Topology } from "../infra/topology/model.ts";
import { get } from "../infra/commands/http-probe.ts";
import { ensureSigningKeys, promoteNextKey, pruneRetiredKeys, stageNextKey, type Jwks, type RetiringKey } from "../upstreams/tokens/keys.ts";
import { signToken } from "../upstreams/tokens/sign.ts";
import { retiringKeySeconds, writeJwtAuthn } from "./jwt-authn.ts";
import type { KeyObject } from "node:crypto";

/** A POP a rotation must reach, and where a client asks it. */
export interface RotationPop {
  id: string;
  region: string;
  clientUrl: string;
}

/** Where a rotation writes the jwt_authn file and how it reaches the POPs. */
export interface JwksTarget {
  /** Host directory of the jwt_authn ECDS file (`<state>/jwt/envoy`). */
  dir: string;
  pops: RotationPop[];
  /** Puts the file written at `path` in front of every POP (a copy into each container; nothing on loopback). */
  publish(path: string): Promise<void>;
}

export interface JwksRotation {
  /** The key that signs from now on. */
  kid: string;
  retiring: RetiringKey[];
  /** Retiring keys whose time had come, taken out by this rotation. */
  removed: string[];
  /** Milliseconds from publishing the file until the last POP accepted the new key; a prune adds none. */
  acceptedAfterMs?: number;
}

const PROBE_PATH = "/";

/**
 * Whether the POP's token check accepts a token signed by `key`: anything but a 401 means it does
 * (the probe's path routes nowhere, so a passing token gets the edge's 404).
 */
async function accepts(topology: Topology, pop: RotationPop, key: KeyObject, kid: string): Promise<boolean> {
  const token = signToken({
    user: "jwks-rotation-probe",
    region: pop.region,
    ttlSeconds: 60,
    issuer: topology.jwt.issuer,
    audience: topology.jwt.audiences[0]!,
    regionClaim: topology.jwt.regionClaim,
    key,
    kid,
  });
  const reply = await get(`${pop.clientUrl}${PROBE_PATH}`, { authorization: `Bearer ${token}` }, 2000).catch(() => undefined);
  return reply !== undefined && reply.status !== 401;
}

/** Waits until every POP accepts `kid`; returns the ones that did not within `timeoutMs`. */
export async function waitAccepted(topology: Topology, pops: RotationPop[], key: KeyObject, kid: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = pops;
  while (pending.length > 0 && Date.now() < deadline) {
    const verdicts = await Promise.all(pending.map((pop) => accepts(topology, pop, key, kid)));
    pending = pending.filter((_, index) => !verdicts[index]);
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 100));
  }
  return pending.map((pop) => pop.id);
}

async function publish(topology: Topology, target: JwksTarget, jwks: Jwks): Promise<void> {
  await target.publish(writeJwtAuthn(target.dir, topology, jwks).path);
}

/**
 * Stages (or reuses a staged) next key, publishes it, and promotes it once every POP accepts it.
 * A POP that does not within `timeoutMs` stops the rotation before anything signs with the new key.
 */
export async function rotateJwks(topology: Topology, stateDir: string, target: JwksTarget, timeoutMs = 30_000, nowMs = Date.now()): Promise<Required<JwksRotation>> {
  const removed = pruneRetiredKeys(stateDir, nowMs);
  const staged = stageNextKey(stateDir);
  const publishedAt = Date.now();
  await publish(topology, target, staged.jwks);
  const lagging = await waitAccepted(topology, target.pops, staged.next.privateKey, staged.next.kid, timeoutMs);
  if (lagging.length > 0) {
    throw new Error(
      `${lagging.join(", ")} did not accept the new key ${staged.next.kid} within ${timeoutMs} ms; nothing signs with it yet (it stays staged, re-run to retry)`,
    );
  }
  const acceptedAfterMs = Date.now() - publishedAt;
  const promoted = promoteNextKey(stateDir, retiringKeySeconds(topology), nowMs);
  return { kid: promoted.kid, retiring: promoted.retiring, removed, acceptedAfterMs };
}

/** Takes out retiring keys whose time has come and publishes the smaller JWKS. */
export async function pruneJwks(topology: Topology, stateDir: string, target: JwksTarget, nowMs = Date.now()): Promise<JwksRotation> {
  const removed = pruneRetiredKeys(stateDir, nowMs);
  const keys = ensureSigningKeys(stateDir, nowMs);
  await publish(topology, target, keys.jwks);
  return { kid: keys.kid, retiring: keys.retiring, removed };
}
