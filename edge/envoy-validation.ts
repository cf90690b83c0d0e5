import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../scripts/toolchain/paths.ts";
import type { Topology } from "../infra/topology/model.ts";
import type { PublicJwk } from "../upstreams/tokens/keys.ts";
import { writeJwtAuthn, type JwtAuthnFiles } from "./jwt-authn.ts";

/** Checks rendered bootstraps with the real Envoy binary (`envoy --mode validate`). */

export const FILTER_WASM_PATH = join(repoRoot, "filters/region-router/build/region_router.wasm");

export interface ValidationResult {
  file: string;
  ok: boolean;
  /** Envoy's own lines that explain a failure (or its warnings on success). */
  messages: string[];
}

/**
 * Validation loads every extension the file names, the Wasm module (its root context is
 * configured with the plugin JSON) and the JWKS included, but opens no sockets and resolves no
 * DNS names, so Docker container names validate anywhere.
 */
export function validateBootstrap(envoyBin: string, file: string): Promise<ValidationResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(envoyBin, ["--mode", "validate", "--disable-hot-restart", "--log-level", "warn", "-c", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const lines = output.split("\n").map((line) => line.trim()).filter((line) => line !== "");
      const messages = lines.filter((line) => !/^configuration '.*' OK$/.test(line));
      resolvePromise({ file, ok: code === 0, messages });
    });
  });
}

/** Validates files with at most `parallel` Envoy processes at once; results keep the input order. */
export async function validateBootstraps(envoyBin: string, files: string[], parallel = 2): Promise<ValidationResult[]> {
  const results: ValidationResult[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const index = next++;
      results[index] = await validateBootstrap(envoyBin, files[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));
  return results;
}

/** The built region-router module; builds it with `npm run build:filter` when missing. */
export function ensureFilterWasm(): string {
  if (existsSync(FILTER_WASM_PATH)) return FILTER_WASM_PATH;
  const build = spawnSync("npm", ["run", "--silent", "build:filter"], { cwd: repoRoot, stdio: "inherit" });
  if (build.status !== 0 || !existsSync(FILTER_WASM_PATH)) {
    throw new Error(`region-router module missing at ${FILTER_WASM_PATH} and \`npm run build:filter\` did not produce it`);
  }
  return FILTER_WASM_PATH;
}

/** Writes the jwt_authn ECDS file into `dir` with one fresh RS256 public key whose private half is discarded: for validation only. */
export function writeThrowawayJwtAuthn(topology: Topology, dir: string): JwtAuthnFiles {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "validate-only", alg: "RS256", use: "sig" } as PublicJwk;
  return writeJwtAuthn(dir, topology, { keys: [jwk] });
}
