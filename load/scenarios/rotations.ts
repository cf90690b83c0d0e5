// What the rotation and rollout scenarios share: the POP containers' start times, to show a
// rotation restarted none of them, and the targets every one of them holds (no request may fail).
import type { Topology } from "../../infra/topology/model.ts";
import { listPops } from "../../infra/topology/inventory.ts";
import { popContainer } from "../../infra/topology/names.ts";
import { enginesOf } from "../../infra/commands/engines.ts";
import { dockerAsync, type Measurement, type ScenarioContext } from "./scenario.ts";
import type { OwnerTarget } from "../lib/fault-plan.ts";

/** `.State.StartedAt` of every POP container, by container name, each asked of its region's engine. */
export async function popStartTimes(topology: Topology): Promise<Map<string, string>> {
  const times = new Map<string, string>();
  for (const { host, regions } of enginesOf(topology)) {
    const names = listPops(topology).filter(({ region }) => regions.includes(region.name)).map(({ region, pop }) => popContainer(topology.project, region.name, pop.name));
    for (const line of (await dockerAsync(["inspect", "-f", "{{.Name}} {{.State.StartedAt}}", ...names], host)).trim().split("\n")) {
      const [name, started] = line.trim().split(" ");
      times.set(name!.replace(/^\//, ""), started!);
    }
  }
  return times;
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
