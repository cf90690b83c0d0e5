// Text table for the terminal and the docs/benchmarks.md sections of the soak.
import { basename } from "node:path";
import type { BatchResult } from "./generators/load-generator.ts";
import type { Growth } from "./memory-growth.ts";
import {
  FILTER_SIZE_TARGET_BYTES, GROWTH_TARGET_BYTES_PER_MILLION, expectedCounters, kindCounters, type GeneratorTrial, type MachineFacts,
  type SoakResult, type SoakSample,
} from "./soak-run.ts";
import { MIX, type RequestKind } from "./traffic-mix.ts";
import { FILTER_WASM_PATH } from "../edge/envoy-validation.ts";

const MiB = 1024 * 1024;
const grouped = (n: number) => Math.round(n).toLocaleString("en-US");
const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const rps = (batch: BatchResult | null) => (batch && batch.seconds > 0 ? grouped(batch.responses / batch.seconds) : "-");

export const SAMPLE_COLUMNS = ["requests", "RSS MiB", "Envoy allocated MiB", "Envoy heap MiB", "Wasm memory KiB", "rps", "p99 ms"] as const;

export function sampleCells(sample: SoakSample): string[] {
  const { memory, batch } = sample;
  return [
    grouped(sample.requests),
    mib(memory.rssBytes),
    mib(memory.allocatedBytes),
    mib(memory.heapSizeBytes),
    memory.wasmMemoryBytes === null ? "n/a" : grouped(memory.wasmMemoryBytes / 1024),
    rps(batch),
    batch?.p99Ms == null ? "-" : batch.p99Ms.toFixed(1),
  ];
}

/** One right-aligned row of the terminal table; the header when `cells` is omitted. */
export function terminalRow(cells: readonly string[] = SAMPLE_COLUMNS): string {
  const widths = SAMPLE_COLUMNS.map((column) => Math.max(column.length, 10));
  return cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
}

function markdownTable(header: readonly string[], rows: string[][], align: ("l" | "r")[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(align.map((a) => (a === "r" ? "---:" : "---"))), ...rows.map(line)].join("\n");
}

function growthText(growth: Growth | null): string {
  if (growth === null) return "n/a";
  const sign = growth.bytesPerMillion >= 0 ? "+" : "-";
  return `${sign}${(Math.abs(growth.bytesPerMillion) / MiB).toFixed(3)} MiB`;
}

/** Fitted spans shorter than this extrapolate a single 64 KiB page step into megabytes per million. */
export const MIN_JUDGED_SPAN = 500_000;

export function growthVerdict(growth: Growth | null): string {
  if (growth === null) return "n/a";
  if (growth.toRequests - growth.fromRequests < MIN_JUDGED_SPAN) return `not judged: fitted span under ${grouped(MIN_JUDGED_SPAN)} requests`;
  return growth.bytesPerMillion < GROWTH_TARGET_BYTES_PER_MILLION ? "met" : "MISSED";
}

function filterSizeText(machine: MachineFacts): string {
  const verdict = machine.filterBytes <= FILTER_SIZE_TARGET_BYTES ? "met" : "MISSED";
  return `${grouped(machine.filterBytes)} bytes (${(machine.filterBytes / 1024).toFixed(1)} KiB, sha256 ${machine.filterSha256}…); target <= ${FILTER_SIZE_TARGET_BYTES / 1024} KiB: ${verdict}`;
}

export function machineLine(machine: MachineFacts): string {
  return `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}, Envoy ${machine.envoyVersion}; load average ${machine.loadAverage.toFixed(2)} at start`;
}

export function commandLine(result: SoakResult): string {
  const { options } = result;
  const args = [`--requests ${options.requests}`, `--sample-every ${options.sampleEvery}`];
  if (options.warmup !== 200_000) args.push(`--warmup ${options.warmup}`);
  if (options.generator !== "wrk") args.push(`--generator ${options.generator}`);
  if (options.connections !== 32) args.push(`--connections ${options.connections}`);
  return `npm run bench:soak -- ${args.join(" ")}`;
}

export function growthRows(result: SoakResult): [string, Growth | null, string][] {
  return [
    ["RSS", result.growth.rss, ""],
    ["Envoy allocated", result.growth.allocated, ""],
    [
      "Wasm linear memory",
      result.growth.wasm,
      result.samples.some((sample) => sample.memory.wasmMemoryBytes !== null) ? "" : "gauge edge_router.wasm_memory_bytes not in Envoy /stats",
    ],
  ];
}

function cacheText(result: SoakResult): string {
  const hits = result.filterStats.get("edge_router.cache_hits") ?? 0;
  const lookups = result.filterStats.get("edge_router.lookups") ?? 0;
  const share = hits + lookups > 0 ? ` (${((hits / (hits + lookups)) * 100).toFixed(0)}% hits)` : "";
  return `Host requests: ${grouped(hits)} answered from the tenant cache, ${grouped(lookups)} discovery lookups${share}; the home region's discovery answered ${grouped(result.discoveryLookups)}.`;
}

export function terminalSummary(result: SoakResult): string {
  const lines = [
    "",
    `growth per 1M requests after warm-up (first ${grouped(result.options.warmup)} requests), target < 1 MiB:`,
    ...growthRows(result).map(([series, growth, note]) => `  ${series.padEnd(20)} ${growthText(growth).padStart(14)}  ${note || growthVerdict(growth)}`),
    `filter ${basename(FILTER_WASM_PATH)}: ${filterSizeText(result.machine)}`,
    `statuses: ${[...result.statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${grouped(count)}`).join(", ")}; no response: ${result.errors}`,
    cacheText(result),
    `load time ${(result.loadSeconds / 60).toFixed(1)} min, ${grouped(result.samples.at(-1)!.requests / result.loadSeconds)} rps overall (${result.generator.description})`,
  ];
  if (result.problems.length > 0) lines.push("problems:", ...result.problems.map((problem) => `  - ${problem}`));
  return lines.join("\n");
}

const HOW_TO_READ = `**How to read this.** Each row is taken after a batch of requests, from the one POP Envoy all
requests entered: *RSS* is what the kernel has resident for the process, *Envoy allocated* is what
Envoy's allocator has handed out (admin \`/memory\`), *Envoy heap* is what the allocator holds from the
OS, and *Wasm memory* is the region router's linear memory as the filter reports it. Linear memory
only grows, in 64 KiB pages, so a leak in the filter shows as a staircase that keeps climbing; a
leak elsewhere in Envoy shows in *Envoy allocated*. RSS rises during warm-up (connection buffers,
caches, the allocator's free lists) and should then stay flat. The growth figures are least-squares
slopes over the samples after warm-up, so they read as "MiB gained per million further requests"; a
value near zero (either sign) is noise, a leak shows as a steady positive slope in every run. *rps*
and *p99* are those of the batch that ended at the row, from a client on the same machine as every
proxy and upstream, so they show that load was sustained, not what the filter can do alone.`;

export function soakSection(result: SoakResult, when: Date): string {
  const { machine } = result;
  const last = result.samples.at(-1)!;
  const mixRows = (Object.entries(MIX) as [RequestKind, (typeof MIX)[RequestKind]][]).map(([kind, share]) => [
    share.path,
    `${(share.perMille / 10).toFixed(1)}%`,
    String(share.status),
    kindCounters()[kind].map((counter) => `\`${counter}\``).join(", "),
  ]);
  const counterRows = [...expectedCounters(last.requests)].map(([counter, value]) => [
    `\`${counter}\``,
    grouped(result.filterStats.get(counter) ?? 0),
    grouped(value),
  ]);
  const statusText = [...result.statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${grouped(count)}`).join(", ");
  return [
    "## Region-router memory soak",
    "",
    "Does the region router leak memory under sustained load? One POP Envoy with the built filter",
    "(V8 runtime) serves a mix of every filter path on 127.0.0.1; its memory is sampled between",
    "batches of requests.",
    "",
    "```sh",
    commandLine(result),
    "```",
    "",
    `- Run: ${when.toISOString().slice(0, 16).replace("T", " ")} UTC, ${grouped(last.requests)} requests in ${(result.loadSeconds / 60).toFixed(1)} min of load (${grouped(last.requests / result.loadSeconds)} rps overall), POP \`${result.pop}\``,
    `- Machine: ${machineLine(machine)}`,
    `- Filter: \`${basename(FILTER_WASM_PATH)}\` ${filterSizeText(machine)}`,
    `- Load: ${result.generator.description}; one request list (JWT users, tenant hosts, bad input) replayed in a loop`,
    "",
    markdownTable(SAMPLE_COLUMNS, result.samples.map(sampleCells), ["r", "r", "r", "r", "r", "r", "r"]),
    "",
    `Growth per 1M requests after warm-up (the first ${grouped(result.options.warmup)} requests), target < 1 MiB:`,
    "",
    markdownTable(
      ["series", "growth per 1M requests", "samples fitted", "target"],
      growthRows(result).map(([series, growth, note]) => [series, growthText(growth), growth ? String(growth.samples) : "-", note || growthVerdict(growth)]),
      ["l", "r", "r", "l"],
    ),
    "",
    "What the requests exercised: the request list, and the filter's counters in the POP at the end",
    "(a batch stops at its count with up to one request per connection still in flight, so counters run",
    "slightly ahead of the responses counted):",
    "",
    markdownTable(["request kind", "share", "status", "counted in"], mixRows, ["l", "r", "r", "l"]),
    "",
    markdownTable(["filter counter", "value", "from the mix"], counterRows, ["l", "r", "r"]),
    "",
    `Statuses seen: ${statusText}; requests without a response: ${result.errors}. ${cacheText(result)}`,
    ...(result.problems.length > 0 ? ["", "**Problems in this run:**", "", ...result.problems.map((problem) => `- ${problem}`)] : []),
    "",
    HOW_TO_READ,
  ].join("\n");
}

export function generatorsSection(machine: MachineFacts, trials: GeneratorTrial[], requests: number, connections: number, when: Date): string {
  const ran = trials.filter((trial) => trial.batch !== null);
  const fastest = [...ran].sort((a, b) => b.batch!.responses / b.batch!.seconds - a.batch!.responses / a.batch!.seconds)[0];
  const rows = trials.map((trial) => {
    if (!trial.batch) return [trial.name, `not run: ${trial.unavailable ?? "unknown"}`, "-", "-", "-", "-"];
    const { batch } = trial;
    const perThousand = (seconds: number | null) => (seconds === null ? "-" : `${((seconds / batch.responses) * 1000 * 1000).toFixed(0)} ms`);
    return [trial.name, trial.description ?? "", rps(batch), batch.p99Ms == null ? "-" : batch.p99Ms.toFixed(1), perThousand(batch.generatorCpuSeconds), perThousand(trial.envoyCpuSeconds)];
  });
  return [
    "## Soak load generator",
    "",
    "Which client drives the soak: each candidate sends the same request list to the same loopback",
    `edge (after a warm-up batch), ${grouped(requests)} requests over ${connections} connections.`,
    "",
    "```sh",
    `npm run bench:soak -- --compare-generators --requests ${requests}${connections !== 32 ? ` --connections ${connections}` : ""}`,
    "```",
    "",
    `- Run: ${when.toISOString().slice(0, 16).replace("T", " ")} UTC; machine: ${machineLine(machine)}`,
    "",
    markdownTable(["generator", "setup", "rps", "p99 ms", "client CPU per 1k requests", "POP Envoy CPU per 1k requests"], rows, ["l", "l", "r", "r", "r", "r"]),
    "",
    fastest
      ? `Fastest here: **${fastest.name}**. On 2 cores the client competes for CPU with every Envoy and upstream of the edge, so the client that spends the least CPU per request leaves the most to the proxies and sustains the highest rate; the CPU column shows that cost directly.`
      : "No generator ran.",
  ].join("\n");
}
