// What the rotation and rollout scenarios share: the POP containers' start times, to show a
// rotation restarted none of them, and the targets every one of them holds (no request may fail).
import type { Topology } from "../../infra/topology/model.ts";
import { listPops } from "../../infra/topology/inventory.ts";
import { popContainer } from "../../infra/topology/names.ts";
import { dockerAsync, type Measurement, type ScenarioContext } from "./scenario.ts";
import type { OwnerTarget } from "../lib/fault-plan.ts";

/** `.State.StartedAt` of every POP container, by container name. */
export async function popStartTimes(topology: Topology): Promise<Map<string, string>> {
  const names = listPops(topology).map(({ region, pop }) => popContainer(topology.project, region.name, pop.name));
  const lines = (await dockerAsync(["inspect", "-f", "{{.Name}} {{.State.StartedAt}}", ...names])).trim().split("\n");
  return new Map(lines.map((line) => {
    const [name, started] = line.trim().split(" ");
    return [name!.replace(/^\//, ""), started!];
  }));
}

/** Containers whose start time changed between two readings, as a measurement that must be 0. */
export function restartedMeasurement(before: Map<string, string>, after: Map<string, string>): Measurement {
  const restarted = [...before].filter(([name, started]) => after.get(name) !== started).map(([name]) => name);
  return { name: `POP containers restarted (StartedAt changed${restarted.length ? `: ${restarted.join(", ")}` : ""})`, value: restarted.length, unit: "count", max: 0 };
}

/** Every owner region, no request may fail. */
export function noFailedRequest(ctx: ScenarioContext): Record<string, OwnerTarget> {
  return Object.fromEntries(ctx.topology.regions.map((r) => [r.name, { maxErrorRate: 0 }]));
}
