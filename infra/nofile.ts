import type { ConnectionLimits, Resources, Topology } from "./topology/model.ts";
import { maxGlobalConnections } from "./topology/rules.ts";

/**
 * The open-files limit Envoy containers get. The topology's value (262144 by default) is what a
 * real host should grant; a Docker daemon whose own hard limit is lower cannot start such a container
 * ("error setting rlimit"), so the deploy measures the daemon's limit and clamps, always saying so.
 * The connection limits handed to Envoy then follow the clamped value by the rule the topology is
 * validated with (rules.ts: connections.global <= nofile / 2, perListener <= global).
 */
export interface NofileDecision {
  nofile: number;
  /** The topology's connection limits, lowered where they exceed what `nofile` allows. */
  connections: ConnectionLimits;
  /** One line for the user when the value was clamped; undefined when the topology's values are used. */
  warning?: string;
}

export const DAEMON_NOFILE_ENV = "EDGE_DOCKER_NOFILE_LIMIT";

/** `dockerHost` names the engine the limit was measured on when it is not the local one. */
export function decideNofile(resources: Pick<Resources, "nofile" | "connections">, daemonHardLimit: number | undefined, dockerHost?: string): NofileDecision {
  const requested = resources.nofile;
  if (daemonHardLimit === undefined || daemonHardLimit >= requested) return { nofile: requested, connections: resources.connections };
  const global = Math.min(resources.connections.global, maxGlobalConnections(daemonHardLimit));
  const perListener = Math.min(resources.connections.perListener, global);
  const lowered = [
    ...(global < resources.connections.global ? [`connections.global=${global} (topology: ${resources.connections.global})`] : []),
    ...(perListener < resources.connections.perListener ? [`connections.perListener=${perListener} (topology: ${resources.connections.perListener})`] : []),
  ];
  return {
    nofile: daemonHardLimit,
    connections: { perListener, global },
    warning:
      `WARNING: resources.nofile is ${requested} but the Docker daemon's${dockerHost ? ` (at ${dockerHost})` : ""} open-files hard limit is ${daemonHardLimit}; ` +
      `Envoy containers get nofile=${daemonHardLimit}` +
      (lowered.length > 0 ? ` and ${lowered.join(" and ")}, to stay within nofile / 2` : "") +
      `. Raise the daemon's limit (LimitNOFILE in its service unit) to get ${requested}.`,
  };
}

/** The topology as the deploy renders its Envoy bootstraps: resources as decided. */
export function withNofileDecision(topology: Topology, decision: NofileDecision): Topology {
  return { ...topology, resources: { ...topology.resources, nofile: decision.nofile, connections: decision.connections } };
}

/** The daemon limit the deploy measured and passed down through the environment, if any. */
export function daemonNofileFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[DAEMON_NOFILE_ENV];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${DAEMON_NOFILE_ENV}=${raw} is not valid; expected a positive integer`);
  return value;
}
