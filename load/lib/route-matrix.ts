// The route matrix: for each entry region (where a request entered the edge) and owner region
// (where its user or tenant lives), how many requests each region's datacenter served. Built from
// the tagged counter below; k6 only reports a tagged sub-metric in the summary when a threshold
// names it, so every cell gets an always-true threshold. Misroutes (see classifyResponse) have a
// counter of their own whose thresholds fail the run on the first one; errors have one too. Both are
// also reported per cell (entry x owner), and the requests per entry POP, the same way.
import { NOT_SERVED } from "./edge-response.ts";

export { NOT_SERVED };
export const ROUTE_COUNTER = "edge_route_requests";
export const MISROUTE_COUNTER = "edge_misroutes";
/** Requests whose answer was neither the owner's (or its failover's) app nor a declared degraded reply. */
export const ROUTE_ERROR_COUNTER = "edge_route_errors";

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

/** Errors and misroutes of one entry x owner cell. */
export interface CellIssues {
  entryRegion: string;
  ownerRegion: string;
  errors: number;
  misroutes: number;
}

const cellSelector = (entry: string, owner: string) => `{entry_region:${entry},owner_region:${owner}}`;

/** `count>=0` on errors and misroutes of every entry x owner cell and on the requests of every entry POP, so the summary reports each. */
export function cellReportThresholds(regions: string[], pops: string[]): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {};
  for (const entry of regions) {
    for (const owner of regions) {
      thresholds[`${ROUTE_ERROR_COUNTER}${cellSelector(entry, owner)}`] = ["count>=0"];
      thresholds[`${MISROUTE_COUNTER}${cellSelector(entry, owner)}`] = ["count>=0"];
    }
  }
  for (const pop of pops) thresholds[`${ROUTE_COUNTER}{entry_pop:${pop}}`] = ["count>=0"];
  return thresholds;
}

/** Cells with at least one error or misroute, in region order. */
export function cellIssuesFromMetrics(metrics: Record<string, SummaryMetric>, regions: string[]): CellIssues[] {
  const issues: CellIssues[] = [];
  for (const entryRegion of regions) {
    for (const ownerRegion of regions) {
      const errors = metrics[`${ROUTE_ERROR_COUNTER}${cellSelector(entryRegion, ownerRegion)}`]?.values?.count ?? 0;
      const misroutes = metrics[`${MISROUTE_COUNTER}${cellSelector(entryRegion, ownerRegion)}`]?.values?.count ?? 0;
      if (errors > 0 || misroutes > 0) issues.push({ entryRegion, ownerRegion, errors, misroutes });
    }
  }
  return issues;
}

export function requestsByEntryPop(metrics: Record<string, SummaryMetric>, pops: string[]): Record<string, number> {
  return Object.fromEntries(pops.map((pop) => [pop, metrics[`${ROUTE_COUNTER}{entry_pop:${pop}}`]?.values?.count ?? 0]));
}

/** What the table adds to the cells: errors and misroutes per cell, p95/p99 per entry region, requests per entry POP. */
export interface RouteMatrixDetails {
  issues: CellIssues[];
  latencyByEntryRegion: Record<string, { "p(95)"?: number; "p(99)"?: number } | undefined>;
  /** Requests by entry POP id, in the deploy's POP order. */
  requestsByEntryPop: Record<string, number>;
  /** POP id to its region, to list each region's POPs on its row. */
  popRegions: Record<string, string>;
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
 * "<serving region> <count>", with "!" before a serving region that is not the owner, and
 * "[errors N, misroutes N]" when the cell had any. With details, each row also gives the entry
 * region's p95 and p99 and how its requests spread over its POPs.
 */
export function formatRouteMatrix(cells: RouteCell[], regions: string[], details?: RouteMatrixDetails): string {
  const ms = (value: number | undefined) => (value === undefined ? "-" : `${value.toFixed(1)} ms`);
  const header = ["entry \\ owner", ...regions, ...(details ? ["p95", "p99", "requests per entry POP"] : [])];
  const rows = regions.map((entry) => [
    entry,
    ...regions.map((owner) => {
      const served = cells.filter((cell) => cell.entryRegion === entry && cell.ownerRegion === owner);
      const issue = details?.issues.find((i) => i.entryRegion === entry && i.ownerRegion === owner);
      const faults = issue ? ` [errors ${issue.errors}, misroutes ${issue.misroutes}]` : "";
      if (served.length === 0) return `-${faults}`;
      return (
        served.map((cell) => `${cell.servingRegion === owner ? "" : "!"}${cell.servingRegion} ${cell.count}`).join(", ") + faults
      );
    }),
    ...(details
      ? [
          ms(details.latencyByEntryRegion[entry]?.["p(95)"]),
          ms(details.latencyByEntryRegion[entry]?.["p(99)"]),
          Object.entries(details.requestsByEntryPop)
            .filter(([pop]) => details.popRegions[pop] === entry)
            .map(([pop, count]) => `${pop} ${count}`)
            .join(", "),
        ]
      : []),
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
