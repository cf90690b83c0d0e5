import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A configuration problem a user can fix; printed as one line, exit code 1. */
export class ServiceConfigError extends Error {
  override name = "ServiceConfigError";
}

export interface RunningService {
  readonly port: number;
  close(): Promise<void>;
}

/** True when the module at `moduleUrl` is the process entry point (`tsx file.ts`, `node --import tsx file.ts`). */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(resolve(entry)) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

export function logEvent(service: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service, msg, ...fields })}\n`);
}

export function requiredEnv(env: NodeJS.ProcessEnv, name: string, meaning: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ServiceConfigError(`missing required env ${name}; expected ${meaning}`);
  return value;
}

export function integerEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ServiceConfigError(`${name}=${raw} is invalid; expected an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Starts a service from its environment and keeps it up until SIGTERM or SIGINT, then drains it and exits 0.
 * A configuration error prints one line and exits 1; a second signal exits at once.
 */
export async function runService(service: string, start: () => Promise<RunningService>): Promise<void> {
  let running: RunningService;
  try {
    running = await start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as NodeJS.ErrnoException).code;
    const fix = code === "EADDRINUSE" ? "; choose another PORT or stop the process using it" : "";
    process.stderr.write(`${service}: ${message}${fix}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logEvent(service, "forced exit", { signal });
      process.exit(1);
    }
    stopping = true;
    logEvent(service, "draining", { signal });
    running.close().then(
      () => {
        logEvent(service, "stopped");
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`${service}: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
