import { spawnSync, type SpawnSyncOptions } from "node:child_process";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (the caller decides). */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): CommandResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) return { code: 127, stdout: "", stderr: String(r.error.message) };
  return { code: r.status ?? 1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** The last non-empty line of a command's output: what a failing step reports. */
export function lastLine(r: CommandResult): string {
  const lines = `${r.stdout}\n${r.stderr}`.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? `exit code ${r.code}`;
}

export class StepError extends Error {
  constructor(
    readonly step: string,
    readonly cause_: string,
    readonly fix: string,
  ) {
    super(`${step} failed: ${cause_}\n  fix: ${fix}`);
  }
}

export function runOrFail(step: string, fix: string, cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0) throw new StepError(step, lastLine(r), fix);
  return r.stdout;
}

export function which(cmd: string): string | undefined {
  const r = run("sh", ["-c", `command -v ${cmd}`]);
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

/** Compares dotted versions numerically ("1.10.0" > "1.9.2"); pre-release suffixes are ignored. */
export function versionAtLeast(found: string, wanted: string): boolean {
  const parse = (v: string) => v.replace(/^v/, "").split(/[-+]/)[0]!.split(".").map((n) => Number.parseInt(n, 10) || 0);
  const a = parse(found);
  const b = parse(wanted);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
