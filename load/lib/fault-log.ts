// One line per request that was not ok, written by the fault load through k6's console (run with
// `--console-output=<file>`), so a scenario can tell when errors started and stopped. ok requests
// are not logged: at 150 requests/s they would be most of the file and say nothing about timing
// that the error lines do not. Times are the load generator's wall clock in ms, the same clock
// the scenario runner reads when it injects and restores a fault.
import type { Outcome, OwnerSource } from "./edge-response.ts";

export const FAULT_LOG_TAG = "edge-fault";

/** Logged once when setup is done and the arrival-rate load begins. */
export function formatLoadStarted(atMs: number): string {
  return `${FAULT_LOG_TAG}-load started=${atMs}`;
}

export function loadStartedAt(text: string): number | undefined {
  const m = new RegExp(`${FAULT_LOG_TAG}-load started=(\\d+)`).exec(text);
  return m ? Number(m[1]) : undefined;
}

export interface FaultLogEntry {
  /** When the request was sent (epoch ms). */
  startMs: number;
  durationMs: number;
  outcome: Exclude<Outcome, "ok">;
  ownerRegion: string;
  entryPop: string;
  source: OwnerSource;
  status: number;
  reason: string;
}

export function formatFaultLogEntry(entry: FaultLogEntry): string {
  const reason = entry.reason.replace(/["\\\s]+/g, "_");
  return `${FAULT_LOG_TAG} start=${entry.startMs} ms=${Math.round(entry.durationMs)} outcome=${entry.outcome} owner=${entry.ownerRegion} entry=${entry.entryPop} source=${entry.source} status=${entry.status} reason=${reason}`;
}

const LINE = new RegExp(
  `${FAULT_LOG_TAG} start=(\\d+) ms=(\\d+) outcome=(failover|misroute|expected_degraded|error) owner=(\\S+) entry=(\\S+) source=(jwt|host|unknown) status=(\\d+) reason=([^"\\s]*)`,
);

/** Entries of a k6 console output file (any line format k6 wraps the message in); other lines are skipped. */
export function parseFaultLog(text: string): FaultLogEntry[] {
  const entries: FaultLogEntry[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    entries.push({
      startMs: Number(m[1]),
      durationMs: Number(m[2]),
      outcome: m[3] as FaultLogEntry["outcome"],
      ownerRegion: m[4]!,
      entryPop: m[5]!,
      source: m[6] as OwnerSource,
      status: Number(m[7]),
      reason: m[8]!,
    });
  }
  return entries;
}

/**
 * Seconds from `fromMs` until the last matching response that was not ok finished (0 when none
 * finished after `fromMs`): how long after a restore the errors went on.
 */
export function secondsUntilLastFailure(entries: FaultLogEntry[], fromMs: number, matches: (e: FaultLogEntry) => boolean = () => true): number {
  let last = fromMs;
  for (const e of entries) if (matches(e) && e.startMs + e.durationMs > last) last = e.startMs + e.durationMs;
  return (last - fromMs) / 1000;
}
