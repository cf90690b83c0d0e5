import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../toolchain/paths.ts";
import { CHECKS, typeScriptSources, uncheckedFiles, uncheckedProblem } from "../typecheck.ts";

test("typecheck: npm run typecheck passes every check (tsc for Node, tsc for k6, tsc for the browser, asc) over the whole repository", { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, [join(repoRoot, "node_modules/tsx/dist/cli.mjs"), "scripts/typecheck.ts"], { cwd: repoRoot, encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`.slice(0, 4000));
  assert.match(r.stdout, new RegExp(`^typecheck: \\d+ files in ${CHECKS.length} checks .*: ok$`, "m"));
});

test("typecheck: every .ts file of the repository is compiled by exactly the checks for its runtime", { timeout: 60_000 }, async () => {
  const lists = new Map(await Promise.all(CHECKS.map(async (c) => [c.name, await c.files()] as const)));
  const sources = typeScriptSources();
  assert.deepEqual(uncheckedFiles(sources, [...lists.values()].flat()), []);
  const node = lists.get("tsc -p tsconfig.json")!;
  const k6 = lists.get("tsc -p load/tsconfig.k6.json")!;
  const router = lists.get("asc --noEmit filters/region-router/assembly/*.ts")!;
  // The k6 entry scripts need k6's globals, so only the k6 check compiles them; the libraries they
  // import are compiled by both, which keeps them free of Node APIs k6 does not have.
  for (const script of ["load/cross-region.ts", "load/fault-load.ts", "load/grpc-cross-region.ts"]) {
    assert.ok(k6.includes(script) && !node.includes(script), `${script}: k6 only`);
  }
  assert.ok(k6.includes("load/lib/edge-response.ts") && node.includes("load/lib/edge-response.ts"));
  // Outside load/, only files without imports that both sides share: the deploy outputs and the Profile service's names.
  const shared = ["infra/deploy-outputs.ts", "upstreams/grpc/profile-names.ts"];
  assert.ok(k6.every((file) => file.startsWith("load/") || shared.includes(file)), `k6 compiles ${k6.join(", ")}`);
  assert.deepEqual(router, sources.filter((f) => f.startsWith("filters/region-router/assembly/")));
  // The dashboard's page script needs the DOM's types; what it shares with the server is types only.
  const browser = lists.get("tsc -p load/dashboard/client/tsconfig.json")!;
  assert.deepEqual(browser.sort(), ["load/dashboard/client/app.ts", "load/dashboard/wire.ts"]);
  assert.ok(!node.includes("load/dashboard/client/app.ts") && node.includes("load/dashboard/wire.ts"));
  assert.ok(!node.some((f) => f.startsWith("filters/region-router/assembly/")), "AssemblyScript is not TypeScript for tsc");
});

test("typecheck: a file no check compiles is named with where to add it", () => {
  assert.deepEqual(uncheckedFiles(["a.ts", "b/c.ts"], ["a.ts", "b/c.ts", "node_modules/x.d.ts"]), []);
  assert.equal(uncheckedProblem([]), undefined);
  const unchecked = uncheckedFiles(["a.ts", "b/c.ts", "tools/new.ts"], ["a.ts", "b/c.ts"]);
  assert.deepEqual(unchecked, ["tools/new.ts"]);
  assert.match(uncheckedProblem(unchecked)!, /^typecheck: no check compiles tools\/new\.ts; add it to the include of tsconfig\.json or load\/tsconfig\.k6\.json, or to an AssemblyScript program in scripts\/typecheck\.ts$/);
});
