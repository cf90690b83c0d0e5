// Load profiles shared by the k6 scripts. Values come from __ENV so `npm run load` and a bare
// `k6 run` pick the same knobs: PROFILE=smoke|load, VUS, DURATION, ITERATIONS, P95_MS.

export type ProfileName = "smoke" | "load";

export interface LoadProfile {
  name: ProfileName;
  /** k6 scenario for the sweep; one iteration sends every entry POP x source x app combination once. */
  scenario: Record<string, unknown>;
  /** p95 limit of http_req_duration for each entry region. */
  p95Ms: number;
  /** Think time after each sweep, so a VU stands for a client rather than a tight loop. */
  pauseSeconds: number;
}

type Env = Record<string, string | undefined>;

function positiveInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw} is invalid; expected a positive integer`);
  return value;
}

function duration(env: Env, fallback: string): string {
  const raw = env.DURATION;
  if (raw === undefined || raw === "") return fallback;
  if (!/^(\d+(ms|s|m|h))+$/.test(raw))
    throw new Error(`DURATION=${raw} is invalid; expected a k6 duration such as 30s or 2m`);
  return raw;
}

export function loadProfile(env: Env): LoadProfile {
  const name = env.PROFILE ?? "smoke";
  if (name !== "smoke" && name !== "load") throw new Error(`PROFILE=${name} is invalid; expected smoke or load`);
  const iterations = env.ITERATIONS ? positiveInteger(env, "ITERATIONS", 1) : undefined;
  const vus = positiveInteger(env, "VUS", name === "smoke" ? 2 : 20);
  // Each sweep sends its requests as one parallel batch, so p95 includes queueing behind the batch; on a
  // single small host running every region this bounds sanity, not latency. P95_MS tightens it.
  const p95Ms = positiveInteger(env, "P95_MS", 1000);

  if (iterations !== undefined) {
    return {
      name,
      p95Ms,
      pauseSeconds: 0,
      scenario: { executor: "shared-iterations", vus: Math.min(vus, iterations), iterations, maxDuration: "5m" },
    };
  }
  if (name === "smoke") {
    return {
      name,
      p95Ms,
      pauseSeconds: 1,
      scenario: { executor: "constant-vus", vus, duration: duration(env, "20s") },
    };
  }
  return {
    name,
    p95Ms,
    pauseSeconds: 0.5,
    scenario: {
      executor: "ramping-vus",
      startVUs: 1,
      stages: [
        { duration: "30s", target: vus },
        { duration: duration(env, "3m"), target: vus },
        { duration: "15s", target: 0 },
      ],
      gracefulRampDown: "10s",
    },
  };
}
