import { StepError } from "../../scripts/toolchain/commands.ts";

/** Runs one named step of a command and prints how long it took. */
export async function step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  process.stdout.write(`--> ${name}\n`);
  const result = await fn();
  process.stdout.write(`    ${name}: ${((performance.now() - started) / 1000).toFixed(1)}s\n`);
  return result;
}

/** Prints a user-facing failure as one line with its fix, and returns the exit code. */
export function reportFailure(command: string, error: unknown): number {
  if (error instanceof StepError) {
    console.error(`${command}: ${error.message}`);
  } else if (error instanceof Error) {
    console.error(`${command}: ${error.message}`);
  } else {
    console.error(`${command}: ${String(error)}`);
  }
  return 1;
}
