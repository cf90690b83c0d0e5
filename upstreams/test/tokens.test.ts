import assert from "node:assert/strict";
import { createPublicKey, verify, type JsonWebKey } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadTopology } from "../../infra/topology/load.ts";
import { ensureSigningKeys, promoteNextKey, pruneRetiredKeys, stageNextKey, type Jwks } from "../tokens/keys.ts";
import { signToken } from "../tokens/sign.ts";
import { spawnTs } from "./service-processes.ts";

interface Decoded {
  header: { alg: string; typ: string; kid: string };
  claims: Record<string, unknown>;
}

/** RS256 verification against a JWKS with node:crypto alone, independent of the signing code. */
function verifyWithJwks(token: string, jwks: Jwks): Decoded {
  const [header64, claims64, signature64] = token.split(".");
  assert.ok(header64 && claims64 && signature64, "not a compact JWT");
  const header = JSON.parse(Buffer.from(header64, "base64url").toString("utf8")) as Decoded["header"];
  assert.equal(header.alg, "RS256");
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  assert.ok(jwk, `no JWKS key with kid ${header.kid}`);
  const publicKey = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e } satisfies JsonWebKey, format: "jwk" });
  const valid = verify(
    "sha256",
    Buffer.from(`${header64}.${claims64}`),
    publicKey,
    Buffer.from(signature64, "base64url"),
  );
  if (!valid) throw new Error("signature does not verify");
  return { header, claims: JSON.parse(Buffer.from(claims64, "base64url").toString("utf8")) };
}

let stateDir: string;
before(() => {
  stateDir = mkdtempSync(join(tmpdir(), "edgerim-tokens-"));
});
after(() => rmSync(stateDir, { recursive: true, force: true }));

describe("signing keys", () => {
  test("keys: creates jwks.json and a 0600 signing key, then reuses them", () => {
    const first = ensureSigningKeys(stateDir);
    assert.equal(first.created, true);
    assert.equal(first.signingKeyPath, join(stateDir, "jwt", "signing-key.pem"));
    assert.equal(first.jwksPath, join(stateDir, "jwt", "jwks.json"));
    assert.equal(statSync(first.signingKeyPath).mode & 0o777, 0o600);
    const pem = readFileSync(first.signingKeyPath, "utf8");
    assert.ok(pem.startsWith(["-----BEGIN", "PRIVATE KEY-----"].join(" ")), "a PKCS#8 PEM");
    const jwks = JSON.parse(readFileSync(first.jwksPath, "utf8")) as Jwks;
    assert.deepEqual(jwks, first.jwks);
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual(Object.keys(jwks.keys[0]!).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
    assert.equal(JSON.stringify(jwks).includes('"d"'), false, "the JWKS leaks private key material");

    const second = ensureSigningKeys(stateDir);
    assert.equal(second.created, false);
    assert.equal(second.kid, first.kid);
    assert.equal(readFileSync(second.signingKeyPath, "utf8"), pem);
  });

  test("keys: a rotation publishes the next key before it signs, then keeps the former one until its time", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgerim-rotation-"));
    try {
      const first = ensureSigningKeys(dir);
      const staged = stageNextKey(dir);
      assert.equal(staged.kid, first.kid, "a staged key does not sign yet");
      assert.deepEqual(staged.jwks.keys.map((k) => k.kid), [first.kid, staged.next.kid]);
      assert.equal(stageNextKey(dir).next.kid, staged.next.kid, "staging again reuses the staged key");
      const now = Date.parse("2026-12-02T12:00:00Z");
      const promoted = promoteNextKey(dir, 3660, now);
      assert.equal(promoted.kid, staged.next.kid);
      assert.equal(promoted.next, undefined);
      assert.deepEqual(promoted.retiring.map((k) => [k.jwk.kid, k.removeAfter]), [[first.kid, "2026-12-02T13:01:00.000Z"]]);
      assert.deepEqual(JSON.parse(readFileSync(promoted.jwksPath, "utf8")), { keys: [promoted.jwks.keys[0], first.jwks.keys[0]] });
      assert.equal(JSON.stringify(promoted.jwks).includes('"d"'), false, "the JWKS leaks private key material");
      assert.deepEqual(pruneRetiredKeys(dir, now + 3659_000), [], "not before its time");
      assert.deepEqual(pruneRetiredKeys(dir, now + 3660_000), [first.kid]);
      assert.deepEqual(ensureSigningKeys(dir).jwks.keys.map((k) => k.kid), [promoted.kid]);
      assert.throws(() => promoteNextKey(dir, 60), /no staged key at .*next-signing-key.pem; stage one first/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("keys: a signing key with a looser mode is tightened to 0600", () => {
    const keys = ensureSigningKeys(stateDir);
    chmodSync(keys.signingKeyPath, 0o644);
    ensureSigningKeys(stateDir);
    assert.equal(statSync(keys.signingKeyPath).mode & 0o777, 0o600);
  });

  test("keys: EDGE_STATE_DIR chooses the state root", () => {
    const other = mkdtempSync(join(tmpdir(), "edgerim-state-"));
    const previous = process.env.EDGE_STATE_DIR;
    process.env.EDGE_STATE_DIR = other;
    try {
      assert.equal(ensureSigningKeys().jwksPath, join(other, "jwt", "jwks.json"));
    } finally {
      if (previous === undefined) delete process.env.EDGE_STATE_DIR;
      else process.env.EDGE_STATE_DIR = previous;
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe("signToken", () => {
  test("signToken: the token verifies with the JWKS and carries iss, aud, sub, region, iat and exp", () => {
    const keys = ensureSigningKeys(stateDir);
    const token = signToken({
      user: "user-9",
      region: "region-b",
      ttlSeconds: 600,
      issuer: "https://issuer.test",
      audience: "api",
      key: keys.privateKey,
      now: 1_800_000_000,
    });
    const { header, claims } = verifyWithJwks(token, keys.jwks);
    assert.deepEqual(header, { alg: "RS256", typ: "JWT", kid: keys.kid });
    assert.deepEqual(claims, {
      iss: "https://issuer.test",
      aud: "api",
      sub: "user-9",
      region: "region-b",
      iat: 1_800_000_000,
      exp: 1_800_000_600,
    });
  });

  test("signToken: a changed claim no longer verifies", () => {
    const keys = ensureSigningKeys(stateDir);
    const token = signToken({
      user: "u",
      region: "region-a",
      ttlSeconds: 60,
      issuer: "i",
      audience: "a",
      key: keys.privateKey,
    });
    const [header64, , signature64] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ iss: "i", aud: "a", sub: "u", region: "region-b", exp: 9e9 })).toString(
      "base64url",
    );
    assert.throws(() => verifyWithJwks(`${header64}.${forged}.${signature64}`, keys.jwks), /signature does not verify/);
  });

  test("signToken: a negative ttl gives a token whose exp is already past", () => {
    const keys = ensureSigningKeys(stateDir);
    const before = Math.floor(Date.now() / 1000);
    const token = signToken({
      user: "u",
      region: "region-a",
      ttlSeconds: -120,
      issuer: "i",
      audience: "a",
      key: keys.privateKey,
    });
    const { claims } = verifyWithJwks(token, keys.jwks);
    assert.ok((claims.exp as number) <= before - 119, `exp ${String(claims.exp)} is not in the past`);
  });

  test("signToken: writes the region under the configured claim name", () => {
    const keys = ensureSigningKeys(stateDir);
    const token = signToken({
      user: "u",
      region: "region-a",
      ttlSeconds: 60,
      issuer: "i",
      audience: ["a", "b"],
      key: keys.privateKey,
      regionClaim: "home",
    });
    const { claims } = verifyWithJwks(token, keys.jwks);
    assert.equal(claims.home, "region-a");
    assert.equal(claims.region, undefined);
    assert.deepEqual(claims.aud, ["a", "b"]);
  });

  test("signToken: a non-integer ttl is rejected", () => {
    const keys = ensureSigningKeys(stateDir);
    assert.throws(
      () => signToken({ user: "u", region: "r", ttlSeconds: 1.5, issuer: "i", audience: "a", key: keys.privateKey }),
      /ttlSeconds 1.5 is invalid; expected an integer number of seconds/,
    );
  });
});

describe("token command", () => {
  const topology = loadTopology();
  const regions = topology.regions.map((region) => region.name);

  test("token: prints a JWT for a topology region, signed with the key in EDGE_STATE_DIR", async () => {
    const region = regions.at(-1)!;
    const run = spawnTs("upstreams/tokens/cli.ts", { PATH: process.env.PATH, EDGE_STATE_DIR: stateDir }, [
      "--user",
      "cli-user",
      "--region",
      region,
      "--ttl",
      "90",
    ]);
    try {
      const exit = await run.exited;
      assert.equal(exit.code, 0, exit.stderr);
      const lines = exit.stdout.trim().split("\n");
      assert.equal(lines.length, 1);
      const { claims } = verifyWithJwks(lines[0]!, ensureSigningKeys(stateDir).jwks);
      assert.equal(claims.sub, "cli-user");
      assert.equal(claims[topology.jwt.regionClaim], region);
      assert.equal(claims.iss, topology.jwt.issuer);
      assert.equal(claims.aud, topology.jwt.audiences[0]);
      assert.equal((claims.exp as number) - (claims.iat as number), 90);
    } finally {
      await run.kill();
    }
  });

  test("token: a --ttl over jwt.maxTokenTtlSeconds exits 2: a rotated-out key would stop verifying it early", async () => {
    const over = String(topology.jwt.maxTokenTtlSeconds + 1);
    const run = spawnTs("upstreams/tokens/cli.ts", { PATH: process.env.PATH, EDGE_STATE_DIR: stateDir }, ["--user", "u", "--region", regions[0]!, "--ttl", over]);
    try {
      const exit = await run.exited;
      assert.equal(exit.code, 2);
      assert.equal(exit.stdout, "");
      assert.equal(exit.stderr, `token: --ttl ${over} is over the topology's jwt.maxTokenTtlSeconds (${topology.jwt.maxTokenTtlSeconds}); expected at most that\n`);
    } finally {
      await run.kill();
    }
  });

  test("token: an unknown region prints one line naming the valid regions and exits 2", async () => {
    const run = spawnTs("upstreams/tokens/cli.ts", { PATH: process.env.PATH, EDGE_STATE_DIR: stateDir }, [
      "--user",
      "u",
      "--region",
      "no-such-region",
    ]);
    try {
      const exit = await run.exited;
      assert.equal(exit.code, 2);
      assert.equal(exit.stdout, "");
      assert.equal(exit.stderr, `token: unknown region "no-such-region"; expected one of ${regions.join(", ")}\n`);
    } finally {
      await run.kill();
    }
  });

  test("token: a missing --user exits 2 with the usage", async () => {
    const run = spawnTs("upstreams/tokens/cli.ts", { PATH: process.env.PATH, EDGE_STATE_DIR: stateDir }, [
      "--region",
      regions[0]!,
    ]);
    try {
      const exit = await run.exited;
      assert.equal(exit.code, 2);
      assert.match(exit.stderr, /^token: --user is required; usage: npm run token -- --user <id> --region <region>/);
    } finally {
      await run.kill();
    }
  });
});
