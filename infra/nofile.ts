/**
 * The open-files limit Envoy containers get. The topology's value (262144 by default) is what a
 * real host should grant; a Docker daemon whose own hard limit is lower cannot start such a container
 * ("error setting rlimit"), so the deploy measures the daemon's limit and clamps, always saying so.
 */
export interface NofileDecision {
  value: number;
  /** One line for the user when the value was clamped; undefined when the topology's value is used. */
  warning?: string;
}

export const DAEMON_NOFILE_ENV = "EDGE_DOCKER_NOFILE_LIMIT";

export function decideNofile(requested: number, daemonHardLimit: number | undefined): NofileDecision {
  if (daemonHardLimit === undefined || daemonHardLimit >= requested) return { value: requested };
  return {
    value: daemonHardLimit,
    warning:
      `WARNING: resources.nofile is ${requested} but the Docker daemon's open-files hard limit is ${daemonHardLimit}; ` +
      `Envoy containers get nofile=${daemonHardLimit}. Raise the daemon's limit (LimitNOFILE in its service unit) to get ${requested}.`,
  };
}

/** The daemon limit the deploy measured and passed down through the environment, if any. */
export function daemonNofileFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[DAEMON_NOFILE_ENV];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${DAEMON_NOFILE_ENV}=${raw} is not valid; expected a positive integer`);
  return value;
}
