import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";

export interface PublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  alg: "RS256";
  use: "sig";
  kid: string;
}

export interface Jwks {
  keys: PublicJwk[];
}

export interface SigningKeys {
  privateKey: KeyObject;
  kid: string;
  jwks: Jwks;
  /** `<state>/jwt/jwks.json`: public, read by the POPs' jwt_authn. */
  jwksPath: string;
  /** `<state>/jwt/signing-key.pem`: private, mode 0600. */
  signingKeyPath: string;
  /** False when an existing key was reused. */
  created: boolean;
}

/** The git-ignored state root: `EDGE_STATE_DIR`, else `<repo>/.edge`; read at call time. */
export function defaultStateDir(): string {
  return process.env.EDGE_STATE_DIR ?? join(repoRoot, ".edge");
}

/** RFC 7638 thumbprint of an RSA public key, base64url. */
export function keyId(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const canonical = JSON.stringify({ e: jwk.e, kty: "RSA", n: jwk.n });
  return createHash("sha256").update(canonical).digest("base64url");
}

export function publicJwk(key: KeyObject): PublicJwk {
  const jwk = createPublicKey(key).export({ format: "jwk" });
  if (jwk.kty !== "RSA" || !jwk.n || !jwk.e)
    throw new Error("signing key is not an RSA key; expected an RS256 key pair");
  return { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", use: "sig", kid: keyId(key) };
}

/**
 * Reuses the RS256 signing key under `<stateDir>/jwt/` or creates it, and (re)writes the matching JWKS.
 * Safe to run concurrently: the key file is created with an atomic link, so one key wins and all callers use it.
 */
export function ensureSigningKeys(stateDir: string = defaultStateDir()): SigningKeys {
  const dir = join(stateDir, "jwt");
  const signingKeyPath = join(dir, "signing-key.pem");
  const jwksPath = join(dir, "jwks.json");
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  let created = false;
  if (!existsSync(signingKeyPath)) {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const pending = `${signingKeyPath}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(pending, pem, { mode: 0o600 });
    try {
      linkSync(pending, signingKeyPath);
      created = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      unlinkSync(pending);
    }
  }
  // umask can only remove bits; an existing key with a looser mode is tightened too.
  chmodSync(signingKeyPath, 0o600);

  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(signingKeyPath, "utf8"));
  } catch (error) {
    throw new Error(
      `${signingKeyPath} is not a readable private key (${(error as Error).message}); delete it to generate a new one`,
    );
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    throw new Error(
      `${signingKeyPath} holds a ${privateKey.asymmetricKeyType} key; expected an RSA key, delete it to generate one`,
    );
  }

  const jwk = publicJwk(privateKey);
  const jwks: Jwks = { keys: [jwk] };
  const text = `${JSON.stringify(jwks, null, 2)}\n`;
  if (!existsSync(jwksPath) || readFileSync(jwksPath, "utf8") !== text) {
    const pending = `${jwksPath}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(pending, text, { mode: 0o644 });
    renameSync(pending, jwksPath);
  }
  return { privateKey, kid: jwk.kid, jwks, jwksPath, signingKeyPath, created };
}
