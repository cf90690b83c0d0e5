// Load profiles shared by the k6 scripts. Values come from __ENV so `npm run load` and a bare
// `k6 run` pick the same knobs: PROFILE=smoke|load, RATE, VUS, DURATION, ITERATIONS, P95_MS, P99_MS.
//
// Requests arrive at a fixed rate (k6 constant-arrival-rate, an open model): a slow edge shows as
// latency and dropped iterations, not as a client that slows down with it, so p95/p99 mean what
// one request waited. Each iteration sends one request, the next of the sweep.

export type ProfileName = "smoke" | "load";

export interface LoadProfile {
  name: ProfileName;
  /** k6 scenario; one iteration is one request of the sweep (every entry POP x identity x app). */
  scenario: Record<string, unknown>;
  /** Requests per second (undefined for a fixed number of sweeps). */
  ratePerSecond: number | undefined;
  /** p95 and p99 limits of http_req_duration for each entry region. */
  p95Ms: number;
  p99Ms: number;
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

/** `requestsPerSweep`: requests of one sweep, which ITERATIONS counts in. */
export function loadProfile(env: Env, requestsPerSweep: number): LoadProfile {
  const name = env.PROFILE ?? "smoke";
  if (name !== "smoke" && name !== "load") throw new Error(`PROFILE=${name} is invalid; expected smoke or load`);
  const sweeps = env.ITERATIONS ? positiveInteger(env, "ITERATIONS", 1) : undefined;
  const vus = positiveInteger(env, "VUS", name === "smoke" ? 10 : 50);
  // One POP chain costs well under a millisecond; these bound queueing on a small host running every region.
  const p95Ms = positiveInteger(env, "P95_MS", 300);
  const p99Ms = positiveInteger(env, "P99_MS", 1000);

  if (sweeps !== undefined) {
    const iterations = sweeps * requestsPerSweep;
    return {
      name,
      p95Ms,
      p99Ms,
      ratePerSecond: undefined,
      scenario: { executor: "shared-iterations", vus: Math.min(vus, iterations), iterations, maxDuration: "5m" },
    };
  }
  const rate = positiveInteger(env, "RATE", name === "smoke" ? 50 : 200);
  return {
    name,
    p95Ms,
    p99Ms,
    ratePerSecond: rate,
    scenario: {
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: duration(env, name === "smoke" ? "20s" : "3m"),
      // VUS are ready up front; more are started while the edge answers slowly, so the rate holds.
      preAllocatedVUs: vus,
      maxVUs: vus * 4,
    },
  };
}
