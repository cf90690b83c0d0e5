// npm run typecheck: every TypeScript file of the repository goes through the compiler of the
// runtime that runs it, and the run fails when a file is in none of the checks.
//   tsc -p tsconfig.json          what Node runs (tsx) and the tests, with Node's types
//   tsc -p load/tsconfig.k6.json  the k6 scripts and what they import, with k6's globals instead of Node's
//   tsc -p load/dashboard/client  the dashboard's browser code, with the DOM's types instead of Node's
//   asc --noEmit                  each AssemblyScript program, every file of it an entry
import { execFile } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { NON_SOURCE_DIRS, repoRoot } from "./toolchain/paths.ts";
import { isEntryPoint } from "../upstreams/service-process.ts";

const tscBin = join(repoRoot, "node_modules/typescript/bin/tsc");
const ascBin = join(repoRoot, "node_modules/assemblyscript/bin/asc");

export interface TypeScriptCheck {
  name: string;
  /** Runs the compiler; resolves with its exit code and output. */
  run(): Promise<{ code: number; output: string }>;
  /** Repository-relative paths of the files this check compiles. */
  files(): Promise<string[]>;
}

function node(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, args, { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolveRun({ code, output: `${stdout}${stderr}` });
    });
  });
}

function tscProject(project: string): TypeScriptCheck {
  return {
    name: `tsc -p ${project}`,
    run: () => node([tscBin, "--noEmit", "-p", project]),
    async files() {
      const listed = await node([tscBin, "--listFilesOnly", "-p", project]);
      if (listed.code !== 0) throw new Error(`tsc --listFilesOnly -p ${project} failed:\n${listed.output}`);
      return listed.output
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.split("/").includes("node_modules"))
        .map((line) => relative(repoRoot, resolve(repoRoot, line)));
    },
  };
}

/**
 * asc compiles only what an entry reaches, so every file of the program is an entry: a function
 * no caller uses yet is still checked if it is exported. (Unexported, unused functions are never
 * compiled by asc, so nothing checks them.)
 */
function ascProgram(dir: string, flags: string[]): TypeScriptCheck {
  const entries = () =>
    readdirSync(join(repoRoot, dir))
      .filter((name) => name.endsWith(".ts"))
      .map((name) => join(dir, name))
      .sort();
  return {
    name: `asc --noEmit ${dir}/*.ts`,
    run: () => node([ascBin, ...entries(), "--noEmit", ...flags]),
    files: async () => entries(),
  };
}

/** The runtime and abort handler change which standard library a program compiles against; these match each program's build. */
const PROXY_WASM_FLAGS = ["--use", "abort=abort_proc_exit"];

export const CHECKS: TypeScriptCheck[] = [
  tscProject("tsconfig.json"),
  tscProject("load/tsconfig.k6.json"),
  tscProject("load/dashboard/client/tsconfig.json"),
  // Built by filters/region-router/build.ts.
  ascProgram("filters/region-router/assembly", ["--runtime", "half", ...PROXY_WASM_FLAGS]),
  // Built by filters/testing/test/probe-filter-build.ts.
  ascProgram("filters/testing/test/fixtures", PROXY_WASM_FLAGS),
  // Built by scripts/doctor.ts.
  ascProgram("scripts/toolchain/wasm-probe", PROXY_WASM_FLAGS),
];

/** Every `.ts` file under `root`, relative to it, outside the folders that hold no source. */
export function typeScriptSources(root: string = repoRoot, dir: string = root, found: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (NON_SOURCE_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) typeScriptSources(root, path, found);
    else if (entry.endsWith(".ts")) found.push(relative(root, path));
  }
  return found.sort();
}

/** The sources no check compiles. */
export function uncheckedFiles(sources: string[], checked: Iterable<string>): string[] {
  const covered = new Set(checked);
  return sources.filter((file) => !covered.has(file));
}

export function uncheckedProblem(unchecked: string[]): string | undefined {
  if (unchecked.length === 0) return undefined;
  return (
    `typecheck: no check compiles ${unchecked.join(", ")}; ` +
    "add it to the include of tsconfig.json or load/tsconfig.k6.json, or to an AssemblyScript program in scripts/typecheck.ts"
  );
}

export interface TypecheckResult {
  failed: { name: string; output: string }[];
  unchecked: string[];
  checkedFiles: number;
}

export async function typecheck(): Promise<TypecheckResult> {
  const [results, fileLists] = await Promise.all([
    Promise.all(CHECKS.map(async (check) => ({ name: check.name, ...(await check.run()) }))),
    Promise.all(CHECKS.map((check) => check.files())),
  ]);
  const checked = new Set(fileLists.flat());
  return {
    failed: results.filter((r) => r.code !== 0).map(({ name, output }) => ({ name, output })),
    unchecked: uncheckedFiles(typeScriptSources(), checked),
    checkedFiles: checked.size,
  };
}

if (isEntryPoint(import.meta.url)) {
  const result = await typecheck();
  for (const { name, output } of result.failed) console.error(`typecheck: ${name} failed\n${output.trimEnd()}\n`);
  const problem = uncheckedProblem(result.unchecked);
  if (problem) console.error(problem);
  if (result.failed.length === 0 && !problem) {
    console.log(`typecheck: ${result.checkedFiles} files in ${CHECKS.length} checks (${CHECKS.map((c) => c.name).join("; ")}): ok`);
  }
  process.exitCode = result.failed.length === 0 && !problem ? 0 : 1;
}
