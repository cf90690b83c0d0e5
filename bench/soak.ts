// npm run bench:soak [-- --requests 2000000 --sample-every 100000]
// Memory soak of the region-router filter in one real POP Envoy on 127.0.0.1; prints a table and
// rewrites its section of docs/benchmarks.md. See bench/README.md.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../scripts/toolchain/paths.ts";
import { writeSection } from "./benchmarks-doc.ts";
import { GENERATOR_NAMES, type GeneratorName } from "./generators/load-generator.ts";
import { generatorsSection, sampleCells, soakSection, terminalRow, terminalSummary } from "./soak-report.ts";
import { compareGenerators, runSoak, stopEverything, type SoakResult } from "./soak-run.ts";
import { UsageError, runBenchCommand } from "./cli.ts";

export const DEFAULT_DOC = resolve(repoRoot, "docs/benchmarks.md");
export const SOAK_SECTION = "soak";
export const GENERATORS_SECTION = "soak-generators";

const USAGE = `usage: npm run bench:soak -- [--requests N] [--sample-every N] [--warmup N] [--generator wrk|k6|node]
                          [--connections N] [--doc FILE | --no-doc] [--json FILE] [--compare-generators]`;


interface Cli {
  requests: number;
  sampleEvery: number;
  warmup: number;
  generator: GeneratorName;
  connections: number;
  /** Null: do not write a doc. */
  doc: string | null;
  json: string | null;
  compare: boolean;
}

function count(value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const number = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(number) || number < min) throw new UsageError(`--${flag} ${value} is invalid; expected an integer >= ${min}`);
  return number;
}

function parseCli(argv: string[]): Cli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        requests: { type: "string" },
        "sample-every": { type: "string" },
        warmup: { type: "string" },
        generator: { type: "string" },
        connections: { type: "string" },
        doc: { type: "string" },
        "no-doc": { type: "boolean" },
        json: { type: "string" },
        "compare-generators": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const compare = values["compare-generators"] === true;
  const requests = count(values.requests, "requests", compare ? 200_000 : 2_000_000, 1);
  const sampleEvery = count(values["sample-every"], "sample-every", Math.min(100_000, requests), 1);
  if (sampleEvery > requests) throw new UsageError(`--sample-every ${sampleEvery} is larger than --requests ${requests}; expected at most the request count`);
  const warmup = count(values.warmup, "warmup", 200_000, 0);
  const generator = values.generator ?? "wrk";
  if (!(GENERATOR_NAMES as readonly string[]).includes(generator)) {
    throw new UsageError(`--generator ${generator} is unknown; expected one of ${GENERATOR_NAMES.join(", ")}`);
  }
  if (values.doc !== undefined && values["no-doc"]) throw new UsageError("--doc and --no-doc both given; expected at most one");
  // A run with no samples after warm-up has no growth figure: it must not replace the published one.
  const publishable = compare || requests - warmup >= sampleEvery;
  const doc = values["no-doc"] ? null : values.doc !== undefined ? resolve(values.doc) : publishable ? DEFAULT_DOC : null;
  return {
    requests,
    sampleEvery,
    warmup,
    generator: generator as GeneratorName,
    connections: count(values.connections, "connections", 32, 1),
    doc,
    json: values.json === undefined ? null : resolve(values.json),
    compare,
  };
}

/** Everything a reader of --json needs, with Maps as plain objects. */
function resultJson(result: SoakResult): unknown {
  return {
    ...result,
    statuses: Object.fromEntries(result.statuses),
    filterStats: Object.fromEntries(result.filterStats),
    samples: result.samples.map((sample) => ({
      ...sample,
      batch: sample.batch && { ...sample.batch, statuses: Object.fromEntries(sample.batch.statuses) },
    })),
  };
}

async function soak(cli: Cli): Promise<number> {
  console.log(`soak: ${cli.requests.toLocaleString("en-US")} requests through one POP, sampled every ${cli.sampleEvery.toLocaleString("en-US")}, generator ${cli.generator}`);
  console.log(terminalRow());
  const result = await runSoak({
    requests: cli.requests,
    sampleEvery: cli.sampleEvery,
    warmup: cli.warmup,
    generator: cli.generator,
    connections: cli.connections,
    onSample: (sample) => console.log(terminalRow(sampleCells(sample))),
  });
  console.log(terminalSummary(result));
  if (cli.json) writeFileSync(cli.json, `${JSON.stringify(resultJson(result), null, 2)}\n`);
  if (cli.doc) {
    writeSection(cli.doc, SOAK_SECTION, soakSection(result, new Date()));
    console.log(`wrote section "${SOAK_SECTION}" of ${cli.doc}`);
  } else {
    console.log("docs not updated: this run has no samples after warm-up (pass --doc FILE to write one anyway)");
  }
  return result.problems.length === 0 ? 0 : 1;
}

async function compare(cli: Cli): Promise<number> {
  console.log(`comparing load generators: ${cli.requests.toLocaleString("en-US")} requests each over ${cli.connections} connections`);
  const { machine, trials } = await compareGenerators(cli.requests, cli.connections);
  for (const trial of trials) {
    const batch = trial.batch;
    console.log(
      batch
        ? `  ${trial.name.padEnd(4)} ${Math.round(batch.responses / batch.seconds).toLocaleString("en-US").padStart(8)} rps, p99 ${batch.p99Ms?.toFixed(1) ?? "-"} ms, client CPU ${batch.generatorCpuSeconds?.toFixed(1) ?? "-"} s (${trial.description})`
        : `  ${trial.name.padEnd(4)} not run: ${trial.unavailable}`,
    );
  }
  if (cli.doc) {
    writeSection(cli.doc, GENERATORS_SECTION, generatorsSection(machine, trials, cli.requests, cli.connections, new Date()));
    console.log(`wrote section "${GENERATORS_SECTION}" of ${cli.doc}`);
  }
  return trials.some((trial) => trial.batch !== null) ? 0 : 1;
}

async function runCommand(cli: Cli): Promise<number> {
  const started = performance.now();
  const code = cli.compare ? await compare(cli) : await soak(cli);
  console.log(`wall time ${((performance.now() - started) / 60_000).toFixed(1)} min`);
  return code;
}

runBenchCommand({
  name: "bench:soak",
  usage: USAGE,
  parse: parseCli,
  run: runCommand,
  // An interrupted or failed soak leaves no Envoy, upstream or client process behind.
  stop: stopEverything,
  stopping: "stopping the edge and the load generator",
});
