// The latency matrix: request duration by entry region (where a request entered the edge) and owner
// region (where it was served), p50 and p95. Off the diagonal a request made one sideways hop, so the
// difference from the diagonal is what that hop costs; with a declared WAN (topology wan.rttMs) it
// should be the pair's round trip. k6 reports a tagged sub-metric only when a threshold names it, so
// every cell gets an always-true one.

export interface LatencyCell {
  entryRegion: string;
  ownerRegion: string;
  p50Ms: number;
  p95Ms: number;
}

interface SummaryMetric {
  values?: Record<string, number>;
}

const cellMetric = (entry: string, owner: string) => `http_req_duration{entry_region:${entry},owner_region:${owner}}`;

export function latencyCellThresholds(regions: string[]): Record<string, string[]> {
  return Object.fromEntries(regions.flatMap((entry) => regions.map((owner) => [cellMetric(entry, owner), ["max>=0"]])));
}

/** Cells with at least one request, in region order. */
export function latencyMatrixFromMetrics(metrics: Record<string, SummaryMetric>, regions: string[]): LatencyCell[] {
  return regions.flatMap((entryRegion) =>
    regions.flatMap((ownerRegion) => {
      const values = metrics[cellMetric(entryRegion, ownerRegion)]?.values;
      if (values?.med === undefined || values["p(95)"] === undefined) return [];
      return [{ entryRegion, ownerRegion, p50Ms: values.med, p95Ms: values["p(95)"] }];
    }),
  );
}

/** A table with entry regions down and owner regions across; each cell "p50 / p95" in ms. */
export function formatLatencyMatrix(cells: LatencyCell[], regions: string[]): string {
  const cell = (entry: string, owner: string) => {
    const found = cells.find((c) => c.entryRegion === entry && c.ownerRegion === owner);
    return found ? `${found.p50Ms.toFixed(1)} / ${found.p95Ms.toFixed(1)}` : "-";
  };
  const width = Math.max(14, ...regions.map((r) => r.length + 2));
  const header = ["entry \\ owner".padEnd(width), ...regions.map((r) => r.padEnd(width))].join("");
  const rows = regions.map((entry) => [entry.padEnd(width), ...regions.map((owner) => cell(entry, owner).padEnd(width))].join(""));
  return ["latency by entry x owner region, ms (p50 / p95):", header, ...rows].join("\n");
}

/** A cell off the diagonal beside its expectation: the pair's round trip plus the owner's own (local) p50. */
export interface HopCost {
  entryRegion: string;
  ownerRegion: string;
  rttMs: number;
  localMs: number;
  measuredMs: number;
  /** (measured - expected) / expected. */
  deviation: number;
}

export function hopCosts(cells: LatencyCell[], regions: string[], rttMs: (a: string, b: string) => number): HopCost[] {
  const p50 = (entry: string, owner: string) => cells.find((c) => c.entryRegion === entry && c.ownerRegion === owner)?.p50Ms;
  return regions.flatMap((entryRegion) =>
    regions.filter((ownerRegion) => ownerRegion !== entryRegion).flatMap((ownerRegion) => {
      const measuredMs = p50(entryRegion, ownerRegion);
      const localMs = p50(ownerRegion, ownerRegion);
      if (measuredMs === undefined || localMs === undefined) return [];
      const rtt = rttMs(entryRegion, ownerRegion);
      return [{ entryRegion, ownerRegion, rttMs: rtt, localMs, measuredMs, deviation: (measuredMs - (rtt + localMs)) / (rtt + localMs) }];
    }),
  );
}
