// The frame both bench commands run in: option errors exit 2 with the usage, an interrupt stops
// what the run started (exit 130 or 143), a thrown error exits 1 with its message.

/** An invalid command line: reported with the usage, exit code 2. */
export class UsageError extends Error {}

export interface BenchCommand<Cli> {
  /** The npm script, e.g. `bench:route`; prefixes every message. */
  name: string;
  usage: string;
  parse(argv: string[]): Cli;
  /** The run; its result is the exit code. */
  run(cli: Cli): Promise<number>;
  /** Stops every process the run started, on an interrupt or a thrown error. */
  stop(): Promise<void> | void;
  /** What an interrupt says it stops. */
  stopping: string;
}

export function runBenchCommand<Cli>(command: BenchCommand<Cli>): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`${command.name}: ${signal}: ${command.stopping}`);
      void Promise.resolve(command.stop()).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
  const main = async (): Promise<number> => {
    let cli: Cli;
    try {
      cli = command.parse(process.argv.slice(2));
    } catch (error) {
      if (error instanceof UsageError) {
        console.error(`${command.name}: ${error.message}\n${command.usage}`);
        return 2;
      }
      throw error;
    }
    return command.run(cli);
  };
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      void Promise.resolve(command.stop()).finally(() => {
        console.error(`${command.name}: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      });
    },
  );
}
