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
  /** The key tokens are signed with now. */
  privateKey: KeyObject;
  kid: string;
  /** Every key the POPs accept: the signing key, a staged next key, and retiring keys not yet due. */
  jwks: Jwks;
  /** `<state>/jwt/jwks.json`: public, what the POPs' jwt_authn is given. */
  jwksPath: string;
  /** `<state>/jwt/signing-key.pem`: private, mode 0600. */
  signingKeyPath: string;
  /** A key published before anything is signed with it (`npm run rotate -- jwks`), if one is staged. */
  next?: { kid: string; privateKey: KeyObject };
  /** Former signing keys, still published until tokens they signed have all expired. */
  retiring: RetiringKey[];
  /** False when an existing key was reused. */
  created: boolean;
}

/** A public key that no longer signs, kept in the JWKS until `removeAfter` (ISO time). */
export interface RetiringKey {
  jwk: PublicJwk;
  removeAfter: string;
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

interface KeyFiles {
  dir: string;
  signingKeyPath: string;
  nextKeyPath: string;
  retiringPath: string;
  jwksPath: string;
}

function keyFiles(stateDir: string): KeyFiles {
  const dir = join(stateDir, "jwt");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    dir,
    signingKeyPath: join(dir, "signing-key.pem"),
    nextKeyPath: join(dir, "next-signing-key.pem"),
    retiringPath: join(dir, "retiring.json"),
    jwksPath: join(dir, "jwks.json"),
  };
}

/** Creates an RSA key at `path` unless one is there. An atomic link: of concurrent callers, one key wins. */
function createKeyFile(path: string): boolean {
  if (existsSync(path)) return false;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const pending = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(pending, pem, { mode: 0o600 });
  try {
    linkSync(pending, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  } finally {
    unlinkSync(pending);
  }
}

function readKeyFile(path: string): KeyObject {
  // umask can only remove bits; an existing key with a looser mode is tightened too.
  chmodSync(path, 0o600);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path} is not a readable private key (${(error as Error).message}); delete it to generate a new one`);
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    throw new Error(`${path} holds a ${privateKey.asymmetricKeyType} key; expected an RSA key, delete it to generate one`);
  }
  return privateKey;
}

function writeAtomically(path: string, text: string, mode: number): void {
  if (existsSync(path) && readFileSync(path, "utf8") === text) return;
  const pending = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(pending, text, { mode });
  renameSync(pending, path);
}

function readRetiring(files: KeyFiles): RetiringKey[] {
  if (!existsSync(files.retiringPath)) return [];
  const parsed = JSON.parse(readFileSync(files.retiringPath, "utf8")) as { keys?: RetiringKey[] };
  if (!Array.isArray(parsed.keys)) throw new Error(`${files.retiringPath} has no keys list; expected {"keys": [{"jwk", "removeAfter"}]}`);
  return parsed.keys;
}

function writeRetiring(files: KeyFiles, keys: RetiringKey[]): void {
  writeAtomically(files.retiringPath, `${JSON.stringify({ keys }, null, 2)}\n`, 0o644);
}

const due = (key: RetiringKey, nowMs: number) => Date.parse(key.removeAfter) <= nowMs;

/**
 * Reuses the RS256 signing key under `<stateDir>/jwt/` or creates it, and (re)writes the JWKS: the
 * signing key, the staged next key and every retiring key not yet due, in that order.
 */
export function ensureSigningKeys(stateDir: string = defaultStateDir(), nowMs = Date.now()): SigningKeys {
  const files = keyFiles(stateDir);
  const created = createKeyFile(files.signingKeyPath);
  const privateKey = readKeyFile(files.signingKeyPath);
  const nextKey = existsSync(files.nextKeyPath) ? readKeyFile(files.nextKeyPath) : undefined;
  const retiring = readRetiring(files).filter((key) => !due(key, nowMs));
  const jwk = publicJwk(privateKey);
  const published = [jwk, ...(nextKey ? [publicJwk(nextKey)] : []), ...retiring.map((key) => key.jwk)];
  const jwks: Jwks = { keys: published.filter((key, index) => published.findIndex((other) => other.kid === key.kid) === index) };
  writeAtomically(files.jwksPath, `${JSON.stringify(jwks, null, 2)}\n`, 0o644);
  return {
    privateKey,
    kid: jwk.kid,
    jwks,
    jwksPath: files.jwksPath,
    signingKeyPath: files.signingKeyPath,
    ...(nextKey ? { next: { kid: keyId(nextKey), privateKey: nextKey } } : {}),
    retiring,
    created,
  };
}

/** Step 1 of a rotation: a next key, published in the JWKS but not signing yet. Reuses one staged before. */
export function stageNextKey(stateDir: string = defaultStateDir()): SigningKeys & { next: NonNullable<SigningKeys["next"]> } {
  createKeyFile(keyFiles(stateDir).nextKeyPath);
  const keys = ensureSigningKeys(stateDir);
  if (!keys.next) throw new Error(`${keyFiles(stateDir).nextKeyPath} vanished while it was staged`);
  return { ...keys, next: keys.next };
}

/**
 * Step 2, once every POP accepts the next key: it becomes the signing key, and the former one retires,
 * published until `retainSeconds` from now (the longest token lifetime plus the allowed clock skew).
 */
export function promoteNextKey(stateDir: string, retainSeconds: number, nowMs = Date.now()): SigningKeys {
  const files = keyFiles(stateDir);
  if (!existsSync(files.nextKeyPath)) throw new Error(`no staged key at ${files.nextKeyPath}; stage one first (stageNextKey)`);
  const former = publicJwk(readKeyFile(files.signingKeyPath));
  const removeAfter = new Date(nowMs + retainSeconds * 1000).toISOString();
  writeRetiring(files, [...readRetiring(files).filter((key) => key.jwk.kid !== former.kid), { jwk: former, removeAfter }]);
  renameSync(files.nextKeyPath, files.signingKeyPath);
  return ensureSigningKeys(stateDir, nowMs);
}

/** Forgets retiring keys whose time has come; returns their kids. The next JWKS written leaves them out. */
export function pruneRetiredKeys(stateDir: string = defaultStateDir(), nowMs = Date.now()): string[] {
  const files = keyFiles(stateDir);
  const all = readRetiring(files);
  const removed = all.filter((key) => due(key, nowMs));
  if (removed.length > 0) writeRetiring(files, all.filter((key) => !due(key, nowMs)));
  return removed.map((key) => key.jwk.kid);
}
