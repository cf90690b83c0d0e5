// Memory of one running Envoy as the soak samples it: the kernel's view (RSS), the allocator's view
// (admin /memory) and the region router's own view of its Wasm linear memory (a gauge the filter
// records through the proxy-wasm metrics API).
import { readFileSync } from "node:fs";

export interface EnvoyMemory {
  rssBytes: number;
  /** Bytes handed out by Envoy's allocator (tcmalloc), admin /memory `allocated`. */
  allocatedBytes: number;
  /** Bytes the allocator holds from the OS, admin /memory `heap_size`. */
  heapSizeBytes: number;
  /** Wasm VM linear memory; null while the filter records no such gauge. */
  wasmMemoryBytes: number | null;
}

/** Stat suffix of the filter's gauge; Envoy prefixes custom Wasm metrics (e.g. `wasmcustom.`). */
export const WASM_MEMORY_STAT = "edge_router.wasm_memory_bytes";

export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status: is the process still running?`);
  return Number(match[1]) * 1024;
}

async function adminJson(adminUrl: string, path: string): Promise<unknown> {
  const response = await fetch(`${adminUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  if (response.status !== 200) throw new Error(`Envoy admin ${path} answered ${response.status}`);
  return response.json();
}

function byteCount(value: unknown, field: string): number {
  const number = typeof value === "string" || typeof value === "number" ? Number(value) : Number.NaN;
  if (!Number.isFinite(number) || number < 0) throw new Error(`Envoy admin /memory field ${field} is ${JSON.stringify(value)}; expected a byte count`);
  return number;
}

interface StatsJson {
  stats?: { name?: string; value?: number }[];
}

/** Counters and gauges whose name contains `edge_router.`, keyed by the name after that prefix. */
export async function filterStats(adminUrl: string): Promise<Map<string, number>> {
  const json = (await adminJson(adminUrl, "/stats?format=json&filter=edge_router%5C.")) as StatsJson;
  const stats = new Map<string, number>();
  for (const stat of json.stats ?? []) {
    if (typeof stat.name !== "string" || typeof stat.value !== "number") continue;
    const at = stat.name.indexOf("edge_router.");
    stats.set(stat.name.slice(at), stat.value);
  }
  return stats;
}

/** Counter and gauge values by full name (absent names are left out). */
export async function envoyStats(adminUrl: string, names: readonly string[]): Promise<Map<string, number>> {
  const json = (await adminJson(adminUrl, "/stats?format=json")) as StatsJson;
  const wanted = new Set(names);
  const values = new Map<string, number>();
  for (const stat of json.stats ?? []) {
    if (typeof stat.name === "string" && typeof stat.value === "number" && wanted.has(stat.name)) values.set(stat.name, stat.value);
  }
  return values;
}

export async function envoyMemory(pid: number, adminUrl: string): Promise<EnvoyMemory> {
  const memory = (await adminJson(adminUrl, "/memory")) as Record<string, unknown>;
  const stats = await filterStats(adminUrl);
  return {
    rssBytes: residentBytes(pid),
    allocatedBytes: byteCount(memory.allocated, "allocated"),
    heapSizeBytes: byteCount(memory.heap_size, "heap_size"),
    wasmMemoryBytes: stats.get(WASM_MEMORY_STAT) ?? null,
  };
}
