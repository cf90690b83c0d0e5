import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../toolchain/paths.ts";

test("typecheck: the TypeScript sources compile under strict settings", { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "tsconfig.json"], { cwd: repoRoot, encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`.slice(0, 4000));
});
