import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import { keyId } from "./keys.ts";

export interface TokenRequest {
  /** Becomes `sub`. */
  user: string;
  /** Owning region of the user, written to `regionClaim`. */
  region: string;
  /** Lifetime from now; zero or negative gives a token whose `exp` has already passed. */
  ttlSeconds: number;
  issuer: string;
  audience: string | string[];
  /** Private RSA key (KeyObject or PEM). */
  key: KeyObject | string;
  regionClaim?: string;
  /** Defaults to the key's RFC 7638 thumbprint, as published in the JWKS. */
  kid?: string;
  /** Seconds since the epoch; defaults to now. */
  now?: number;
}

function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** Compact RS256 JWT. */
export function signToken(request: TokenRequest): string {
  if (!Number.isInteger(request.ttlSeconds)) {
    throw new Error(`ttlSeconds ${request.ttlSeconds} is invalid; expected an integer number of seconds`);
  }
  if (!request.user) throw new Error("user is empty; expected a user id for the sub claim");
  const key = typeof request.key === "string" ? createPrivateKey(request.key) : request.key;
  if (key.type !== "private" || key.asymmetricKeyType !== "rsa") {
    throw new Error("signing key is not an RSA private key; expected the key from ensureSigningKeys()");
  }
  const now = request.now ?? Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", typ: "JWT", kid: request.kid ?? keyId(key) };
  const claims = {
    iss: request.issuer,
    aud: request.audience,
    sub: request.user,
    [request.regionClaim ?? "region"]: request.region,
    iat: now,
    exp: now + request.ttlSeconds,
  };
  const signingInput = `${segment(header)}.${segment(claims)}`;
  const signature = sign("sha256", Buffer.from(signingInput), key).toString("base64url");
  return `${signingInput}.${signature}`;
}
