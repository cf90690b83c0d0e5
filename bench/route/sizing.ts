// Sizing: the full POP (arm D's bootstrap) with two workers, unpinned, at rising open-loop rates;
// the rate at which it uses half of the machine's two cores is interpolated between the two steps
// around 50 %. The client and the upstream run on the same two cores (the upstream stays on the
// client core), so this is what one 2-core machine carrying the POP and its load does.
import { join } from "node:path";
import { residentBytes } from "../envoy-memory.ts";
import { ARMS } from "./arms.ts";
import { startVerifiedArm } from "./measure.ts";
import { runOpenLoop, writeOpenLoopRequests } from "./openloop.ts";
import type { BenchSession } from "./session.ts";

export const SIZING_WORKERS = 2;
export const TARGET_CPU_SHARE = 0.5;

export interface SizingPlan {
  stepSeconds: number;
  /** First rate tried; later steps scale it by the distance to the target. */
  firstRate: number;
  maxSteps: number;
}

export const QUICK_SIZING: SizingPlan = { stepSeconds: 0.5, firstRate: 200, maxSteps: 2 };

export interface SizingStep {
  rate: number;
  rps: number;
  /** Proxy CPU over the step as a share of all cores (2 cores = 1.0). */
  cpuShare: number;
  p99Ms: number;
  failed: number;
}

export interface SizingResult {
  workers: number;
  cores: number;
  steps: SizingStep[];
  /** Requests per second at TARGET_CPU_SHARE; null when no two steps bracket it. */
  rpsAtTarget: number | null;
  /** The machine stopped answering the offered rate before the POP reached the target share. */
  saturated: boolean;
  rssBytes: number;
  problems: string[];
}

/** Linear interpolation of the rate at `target` CPU share between the two steps around it. */
export function rateAtShare(steps: SizingStep[], target: number): number | null {
  const sorted = [...steps].sort((a, b) => a.cpuShare - b.cpuShare);
  for (let i = 1; i < sorted.length; i++) {
    const low = sorted[i - 1]!;
    const high = sorted[i]!;
    if (low.cpuShare <= target && high.cpuShare >= target && high.cpuShare > low.cpuShare) {
      return low.rps + ((target - low.cpuShare) / (high.cpuShare - low.cpuShare)) * (high.rps - low.rps);
    }
  }
  return null;
}

export async function runSizing(session: BenchSession, plan: SizingPlan, cores: number, log: (line: string) => void): Promise<SizingResult> {
  const full = ARMS.find((arm) => arm.id === "D")!;
  const { pop, envoy } = await startVerifiedArm(session, { ...full, id: "sizing" }, SIZING_WORKERS, null);
  try {
    log(`  sizing POP (${SIZING_WORKERS} workers, unpinned): routing verified`);
    const file = writeOpenLoopRequests(join(session.dir, "sizing.json"), full.timed(session.context));
    const steps: SizingStep[] = [];
    let rate = plan.firstRate;
    for (let step = 0; step < plan.maxSteps; step++) {
      const window = await runOpenLoop({ url: pop.url, requestFile: file, rate, seconds: plan.stepSeconds, connections: 128, cpus: null, measuredPids: [envoy.pid] });
      const cpuShare = (window.cpuSeconds.get(envoy.pid) ?? 0) / window.seconds / cores;
      steps.push({ rate, rps: window.completed / window.seconds, cpuShare, p99Ms: window.p99Ms, failed: window.failed });
      log(`    ${rate.toLocaleString("en-US").padStart(7)} rps offered: proxy ${(cpuShare * 100).toFixed(0)}% of ${cores} cores, p99 ${window.p99Ms.toFixed(2)} ms`);
      const below = steps.some((candidate) => candidate.cpuShare <= TARGET_CPU_SHARE);
      const above = steps.some((candidate) => candidate.cpuShare >= TARGET_CPU_SHARE);
      if (below && above) break;
      // Past what the machine answers: a higher rate only queues (the client and upstream share the cores).
      if (window.completed < 0.9 * window.scheduled) break;
      // Aim the next step at the target from this one (CPU grows about linearly with rate), a bit past it.
      const factor = cpuShare > 0 ? (TARGET_CPU_SHARE / cpuShare) * (cpuShare < TARGET_CPU_SHARE ? 1.15 : 0.85) : 2;
      rate = Math.max(100, Math.round((rate * Math.min(Math.max(factor, 0.25), 2)) / 100) * 100);
    }
    const saturated = rateAtShare(steps, TARGET_CPU_SHARE) === null && steps.some((step) => step.rps < 0.9 * step.rate);
    const problems = steps.filter((step) => step.failed > 0).map((step) => `${step.failed} request(s) without a response at ${step.rate} rps`);
    return { workers: SIZING_WORKERS, cores, steps, rpsAtTarget: rateAtShare(steps, TARGET_CPU_SHARE), saturated, rssBytes: residentBytes(envoy.pid), problems };
  } finally {
    await envoy.stop();
  }
}
