// The route matrix: for each entry region (where a request entered the edge) and owner region
// (where its user or tenant lives), how many requests each region's datacenter served. Built from
// the tagged counter below; k6 only reports a tagged sub-metric in the summary when a threshold
// names it, so every cell gets an always-true threshold. Misroutes (see classifyResponse) have a
// counter of their own whose thresholds fail the run on the first one.
import { NOT_SERVED } from "./edge-response.ts";

export { NOT_SERVED };
export const ROUTE_COUNTER = "edge_route_requests";
export const MISROUTE_COUNTER = "edge_misroutes";

export interface RouteCell {
  entryRegion: string;
  ownerRegion: string;
  servingRegion: string;
  count: number;
}

function cellMetric(entry: string, owner: string, serving: string, counter: string): string {
  return `${counter}{entry_region:${entry},owner_region:${owner},serving_region:${serving}}`;
}

/** `counter`: the tagged counter of the script's matrix (the gRPC script has its own). */
export function routeCellThresholds(regions: string[], counter: string = ROUTE_COUNTER): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {};
  for (const entry of regions) {
    for (const owner of regions) {
      for (const serving of [...regions, NOT_SERVED]) thresholds[cellMetric(entry, owner, serving, counter)] = ["count>=0"];
    }
  }
  return thresholds;
}

/** `count==0` on every misroute and on the misroutes of each owner region (so the summary reports each). */
export function misrouteThresholds(regions: string[], counter: string = MISROUTE_COUNTER): Record<string, string[]> {
  const thresholds: Record<string, string[]> = { [counter]: ["count==0"] };
  for (const owner of regions) thresholds[`${counter}{owner_region:${owner}}`] = ["count==0"];
  return thresholds;
}

export function misroutesByOwner(metrics: Record<string, SummaryMetric>, regions: string[], counter: string = MISROUTE_COUNTER): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const owner of regions) counts[owner] = metrics[`${counter}{owner_region:${owner}}`]?.values?.count ?? 0;
  return counts;
}

interface SummaryMetric {
  values?: Record<string, number>;
}

/** Non-empty cells, in region order. */
export function routeMatrixFromMetrics(metrics: Record<string, SummaryMetric>, regions: string[], counter: string = ROUTE_COUNTER): RouteCell[] {
  const cells: RouteCell[] = [];
  for (const entryRegion of regions) {
    for (const ownerRegion of regions) {
      for (const servingRegion of [...regions, NOT_SERVED]) {
        const count = metrics[cellMetric(entryRegion, ownerRegion, servingRegion, counter)]?.values?.count ?? 0;
        if (count > 0) cells.push({ entryRegion, ownerRegion, servingRegion, count });
      }
    }
  }
  return cells;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/**
 * Text table: one row per entry region, one column per owner region; each cell lists
 * "<serving region> <count>", with "!" before a serving region that is not the owner.
 */
export function formatRouteMatrix(cells: RouteCell[], regions: string[]): string {
  const header = ["entry \\ owner", ...regions];
  const rows = regions.map((entry) => [
    entry,
    ...regions.map((owner) => {
      const served = cells.filter((cell) => cell.entryRegion === entry && cell.ownerRegion === owner);
      if (served.length === 0) return "-";
      return served
        .map((cell) => `${cell.servingRegion === owner ? "" : "!"}${cell.servingRegion} ${cell.count}`)
        .join(", ");
    }),
  ]);
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => (row[column] ?? "").length)) + 2);
  const line = (row: string[]) =>
    row
      .map((text, column) => pad(text, widths[column] ?? 0))
      .join("")
      .trimEnd();
  return [
    "route matrix: requests by entry region (rows) and owner region (columns) -> serving region",
    line(header),
    ...rows.map(line),
  ].join("\n");
}
