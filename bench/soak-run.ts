// The soak itself: one POP of a loopback edge under the traffic mix, its memory sampled every
// `sampleEvery` responses.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { startLoopbackEdge, type LoopbackEdge } from "../edge/loopback-edge.ts";
import { ensureFilterWasm } from "../edge/envoy-validation.ts";
import { popId } from "../infra/topology/names.ts";
import { toolPath } from "../scripts/toolchain/paths.ts";
import { envoyMemory, filterStats, type EnvoyMemory } from "./envoy-memory.ts";
import { processCpuSeconds, mergeStatuses, type BatchResult, type GeneratorName, type GeneratorOptions, type LoadGenerator } from "./generators/load-generator.ts";
import { openK6 } from "./generators/k6.ts";
import { openNodeClient } from "./generators/node-client.ts";
import { openWrk } from "./generators/wrk.ts";
import { growthPerMillion, type Growth } from "./memory-growth.ts";
import { HOME_REGION, PEER_REGION, soakTenants, soakTopology } from "./soak-topology.ts";
import { MIX, buildTrafficMix, expectedStatusShares, type RequestKind } from "./traffic-mix.ts";

export interface SoakOptions {
  requests: number;
  sampleEvery: number;
  /** Samples before this many requests are left out of the growth figures. */
  warmup: number;
  generator: GeneratorName;
  connections: number;
  /** Called with each sample as it is taken. */
  onSample?: (sample: SoakSample) => void;
}

export interface SoakSample {
  /** Responses received so far. */
  requests: number;
  /** Seconds since the first request. */
  elapsedSeconds: number;
  memory: EnvoyMemory;
  /** The batch that ended at this sample; null for the baseline before any request. */
  batch: BatchResult | null;
  /** CPU seconds the measured POP Envoy used during that batch. */
  envoyCpuSeconds: number | null;
}

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  envoyVersion: string;
  filterBytes: number;
  /** First 12 hex digits of the module's SHA-256: which build the numbers belong to. */
  filterSha256: string;
  /** 1-minute load average when the run started: other work on the machine shows here. */
  loadAverage: number;
}

export interface SoakResult {
  options: Omit<SoakOptions, "onSample">;
  generator: { name: GeneratorName; description: string };
  machine: MachineFacts;
  pop: string;
  samples: SoakSample[];
  statuses: Map<number, number>;
  errors: number;
  /** Region-router counters of the measured POP at the end (names after `edge_router.`). */
  filterStats: Map<string, number>;
  /** Tenant lookups the home region's discovery answered. */
  discoveryLookups: number;
  growth: { rss: Growth | null; allocated: Growth | null; wasm: Growth | null };
  /** Seconds from the first request to the last sample. */
  loadSeconds: number;
  /** Everything that makes the run not a valid soak; empty when it is one. */
  problems: string[];
}

export const GROWTH_TARGET_BYTES_PER_MILLION = 1024 * 1024;
export const FILTER_SIZE_TARGET_BYTES = 64 * 1024;

export function machineFacts(): MachineFacts {
  const version = spawnSync(toolPath("envoy"), ["--version"], { encoding: "utf8" });
  const envoyVersion = /version: \S+?\/(\d+\.\d+\.\d+)\/\S+?\/(\S+)\/(\S+)/.exec(version.stdout ?? "");
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    envoyVersion: envoyVersion ? `${envoyVersion[1]} (${envoyVersion[2]}, ${envoyVersion[3]})` : (version.stdout ?? "").trim() || "unknown",
    filterBytes: statSync(ensureFilterWasm()).size,
    filterSha256: createHash("sha256").update(readFileSync(ensureFilterWasm())).digest("hex").slice(0, 12),
    loadAverage: loadavg()[0] ?? 0,
  };
}

export function openGenerator(name: GeneratorName, options: GeneratorOptions): LoadGenerator {
  switch (name) {
    case "wrk":
      return openWrk(options);
    case "k6":
      return openK6(options);
    case "node":
      return openNodeClient(options);
  }
}

/** Cleanups of the benches and generators now running, for a signal handler to run on exit. */
const running = new Set<() => Promise<void>>();

export async function stopEverything(): Promise<void> {
  await Promise.allSettled([...running].map((stop) => stop()));
}

export interface SoakBench {
  edge: LoopbackEdge;
  pop: string;
  popPid: number;
  adminUrl: string;
  generatorOptions: Omit<GeneratorOptions, "connections">;
  stop(): Promise<void>;
}

/** A loopback edge of the soak topology with the request list for its measured POP. */
export async function startSoakBench(): Promise<SoakBench> {
  const topology = soakTopology();
  const home = topology.regions.find((region) => region.name === HOME_REGION)!;
  const popName = home.pops[0]!.name;
  const workDir = mkdtempSync(join(tmpdir(), "edgerim-soak-"));
  let edge: LoopbackEdge | null = null;
  try {
    edge = await startLoopbackEdge(topology, { envoyLogLevel: "error" });
    const pop = popId(HOME_REGION, popName);
    const envoy = edge.envoys.get(pop);
    if (!envoy?.process.pid) throw new Error(`the loopback edge has no running Envoy for POP ${pop}`);
    const url = edge.clientUrl(HOME_REGION, popName);
    const requests = buildTrafficMix({ topology, tenants: soakTenants(), signingKey: edge.keys.privateKey, popAuthority: new URL(url).host });
    const started = edge;
    const stop = async () => {
      running.delete(stop);
      await started.stop();
      rmSync(workDir, { recursive: true, force: true });
    };
    running.add(stop);
    return {
      edge: started,
      pop,
      popPid: envoy.process.pid,
      adminUrl: edge.adminUrl(HOME_REGION, popName),
      generatorOptions: { url, requests, workDir },
      stop,
    };
  } catch (error) {
    await edge?.stop();
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}

function statusProblems(statuses: Map<number, number>, total: number): string[] {
  const problems: string[] = [];
  const expected = expectedStatusShares();
  for (const [status, count] of statuses) {
    if (!expected.has(status)) problems.push(`${count} response(s) with status ${status}; the mix expects only ${[...expected.keys()].join(", ")}`);
  }
  for (const [status, share] of expected) {
    const seen = (statuses.get(status) ?? 0) / Math.max(total, 1);
    // The list is replayed whole many times over, so shares hold to well within a point.
    if (Math.abs(seen - share) > 0.01) {
      problems.push(`status ${status} was ${(seen * 100).toFixed(1)}% of responses; the mix sends ${(share * 100).toFixed(1)}%`);
    }
  }
  return problems;
}

/** The filter counters each request of a kind increments (fallback requests are then routed locally). */
export function kindCounters(): Record<RequestKind, string[]> {
  const local = "edge_router.routed_local";
  const forwarded = `edge_router.forwarded.${PEER_REGION}`;
  return {
    "local-user": [local],
    "peer-user": [forwarded],
    "home-tenant": [local],
    "peer-tenant": [forwarded],
    "unknown-tenant": ["edge_router.fallback", local],
    "unlisted-region": ["edge_router.rejected.unknown_region"],
    "no-app": ["edge_router.rejected.no_app"],
  };
}

/** Each counter's value if every request of `requests` took the path its kind is meant to take. */
export function expectedCounters(requests: number): Map<string, number> {
  const expected = new Map<string, number>();
  for (const [kind, counters] of Object.entries(kindCounters()) as [RequestKind, string[]][]) {
    for (const counter of counters) expected.set(counter, (expected.get(counter) ?? 0) + (requests * MIX[kind].perMille) / 1000);
  }
  return expected;
}

function filterPathProblems(stats: Map<string, number>, requests: number, batches: number, connections: number): string[] {
  const problems: string[] = [];
  // Counters also see the requests still in flight when a batch stopped: up to one per connection.
  const slack = (expected: number) => Math.max(expected * 0.01, batches * connections);
  const expected = expectedCounters(requests);
  expected.set("edge_router.cache_hits", Number.NaN);
  expected.set("edge_router.lookups", Number.NaN);
  for (const [counter, value] of expected) {
    const seen = stats.get(counter);
    if (seen === undefined) problems.push(`filter counter ${counter} not found in Envoy /stats`);
    else if (seen === 0) problems.push(`filter counter ${counter} stayed 0: that path never ran`);
    else if (!Number.isNaN(value) && Math.abs(seen - value) > slack(value)) {
      problems.push(`filter counter ${counter} is ${seen}; the mix sends ${Math.round(value)} such requests`);
    }
  }
  return problems;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const machine = machineFacts();
  const bench = await startSoakBench();
  let generator: LoadGenerator | null = null;
  try {
    generator = openGenerator(options.generator, { ...bench.generatorOptions, connections: options.connections });
    running.add(generator.close);
    const samples: SoakSample[] = [];
    const statuses = new Map<number, number>();
    let errors = 0;
    const baseline: SoakSample = { requests: 0, elapsedSeconds: 0, memory: await envoyMemory(bench.popPid, bench.adminUrl), batch: null, envoyCpuSeconds: null };
    samples.push(baseline);
    options.onSample?.(baseline);
    const started = performance.now();
    let requests = 0;
    while (requests < options.requests) {
      const size = Math.min(options.sampleEvery, options.requests - requests);
      const cpuBefore = processCpuSeconds(bench.popPid);
      const batch = await generator.runBatch(size);
      const envoyCpuSeconds = processCpuSeconds(bench.popPid) - cpuBefore;
      requests += batch.responses;
      mergeStatuses(statuses, batch.statuses);
      errors += batch.errors;
      if (batch.responses < size) throw new Error(`the ${generator.name} batch ended with ${batch.responses} of ${size} responses`);
      const sample: SoakSample = {
        requests,
        elapsedSeconds: (performance.now() - started) / 1000,
        memory: await envoyMemory(bench.popPid, bench.adminUrl),
        batch,
        envoyCpuSeconds,
      };
      samples.push(sample);
      options.onSample?.(sample);
    }
    const loadSeconds = (performance.now() - started) / 1000;
    const stats = await filterStats(bench.adminUrl);
    const series = (pick: (memory: EnvoyMemory) => number | null) =>
      samples.flatMap((sample) => {
        const bytes = pick(sample.memory);
        return bytes === null ? [] : [{ requests: sample.requests, bytes }];
      });
    const problems = [
      ...statusProblems(statuses, requests),
      ...(errors > 0 ? [`${errors} request(s) got no response (connect/read/write errors or timeouts)`] : []),
      ...filterPathProblems(stats, requests, samples.length - 1, options.connections),
    ];
    const { onSample: _, ...kept } = options;
    return {
      options: kept,
      generator: { name: generator.name, description: generator.description },
      machine,
      pop: bench.pop,
      samples,
      statuses,
      errors,
      filterStats: stats,
      discoveryLookups: bench.edge.discovery.get(HOME_REGION)?.metrics().lookups ?? 0,
      growth: {
        rss: growthPerMillion(series((memory) => memory.rssBytes), options.warmup),
        allocated: growthPerMillion(series((memory) => memory.allocatedBytes), options.warmup),
        wasm: growthPerMillion(series((memory) => memory.wasmMemoryBytes), options.warmup),
      },
      loadSeconds,
      problems,
    };
  } finally {
    if (generator) {
      running.delete(generator.close);
      await generator.close();
    }
    await bench.stop();
  }
}

export interface GeneratorTrial {
  name: GeneratorName;
  description: string | null;
  /** Why the generator could not run; null when it ran. */
  unavailable: string | null;
  batch: BatchResult | null;
  envoyCpuSeconds: number | null;
}

/** Each generator against the same edge: a warm-up batch, then `requests` measured responses. */
export async function compareGenerators(requests: number, connections: number): Promise<{ machine: MachineFacts; trials: GeneratorTrial[] }> {
  const machine = machineFacts();
  const bench = await startSoakBench();
  const trials: GeneratorTrial[] = [];
  try {
    for (const name of ["wrk", "k6", "node"] as const) {
      let generator: LoadGenerator | null = null;
      try {
        generator = openGenerator(name, { ...bench.generatorOptions, connections });
        running.add(generator.close);
        await generator.runBatch(Math.max(1000, Math.floor(requests / 10)));
        const cpuBefore = processCpuSeconds(bench.popPid);
        const batch = await generator.runBatch(requests);
        trials.push({ name, description: generator.description, unavailable: null, batch, envoyCpuSeconds: processCpuSeconds(bench.popPid) - cpuBefore });
      } catch (error) {
        trials.push({ name, description: generator?.description ?? null, unavailable: (error as Error).message.split("\n")[0]!, batch: null, envoyCpuSeconds: null });
      } finally {
        if (generator) {
          running.delete(generator.close);
          await generator.close();
        }
      }
    }
    return { machine, trials };
  } finally {
    await bench.stop();
  }
}
