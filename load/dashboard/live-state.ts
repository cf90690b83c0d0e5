// The page's live view, read from every POP's stats listener four times a second: each POP's decisions
// with rates, each datacenter's health as its region's POPs see it, and the route matrix, which sums
// the POPs' counters since the dashboard started (a restarted Envoy's counters start again at 0).
// Each POP is read on its own, and a reading that changes any health is pushed to the subscribers
// at once, not at the end of the round.
import type { DeployOutputs, PopOutput } from "../../infra/deploy-outputs.ts";
import { readPop, type ClusterHealth, type PopReading, type RouterCounters, type StatNames } from "./pop-stats.ts";
import type { DashboardState, DatacenterState, Decision, Health, MatrixCell, NetworkModel, PopDecisions, PopState } from "./wire.ts";

export type OutputsSource = () => { outputs: DeployOutputs; file: string } | { error: string };

type Found = ReturnType<OutputsSource>;

export type StateListener = (state: DashboardState) => void;

interface Reading {
  at: number;
  reading: PopReading;
}

/** Increase of a cumulative counter; a counter lower than before belongs to a restarted Envoy. */
export function increase(now: number, before: number | undefined): number {
  if (before === undefined) return 0;
  return now >= before ? now - before : now;
}

function decision(now: number, before: number | undefined, seconds: number | null): Decision {
  return { total: now, perSecond: before === undefined || seconds === null ? null : increase(now, before) / seconds };
}

function decisionsOf(record: Record<string, number>, before: Record<string, number> | undefined, seconds: number | null): Record<string, Decision> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, decision(value, before?.[key], seconds)]));
}

/** Upper bound (ms) of the histogram bucket holding the 95th percentile; null without samples. */
export function bucketP95(buckets: { le: number; count: number }[], count: number): number | null {
  if (count === 0) return null;
  const bucket = [...buckets].sort((a, b) => a.le - b.le).find((b) => b.count >= 0.95 * count);
  return bucket && Number.isFinite(bucket.le) ? bucket.le : null;
}

export function popDecisions(now: RouterCounters, before: RouterCounters | undefined, seconds: number | null): PopDecisions {
  const failover: Record<string, Decision> = {};
  for (const [app, byRegion] of Object.entries(now.failover)) {
    for (const [region, count] of Object.entries(byRegion)) {
      if (count > 0) failover[`${app} by ${region}`] = decision(count, before?.failover[app]?.[region], seconds);
    }
  }
  const d = (key: "routedLocal" | "carried" | "fallback" | "lookups" | "lookupErrors" | "cacheHits" | "staleHits") => decision(now[key], before?.[key], seconds);
  return {
    routedLocal: d("routedLocal"),
    carried: d("carried"),
    forwarded: decisionsOf(now.forwarded, before?.forwarded, seconds),
    fallback: d("fallback"),
    rejected: decisionsOf(now.rejected, before?.rejected, seconds),
    lookups: d("lookups"),
    lookupErrors: d("lookupErrors"),
    cacheHits: d("cacheHits"),
    staleHits: d("staleHits"),
    failover,
    lookupMs: {
      mean: now.lookupMs.count > 0 ? now.lookupMs.sum / now.lookupMs.count : null,
      p95: bucketP95(now.lookupMs.buckets, now.lookupMs.count),
      count: now.lookupMs.count,
    },
  };
}

/**
 * Requests by entry region and owner region in one interval at one POP of `entryRegion`: its
 * `forwarded.<owner>` for other owners, and what it routed locally minus what it carried for a
 * peer (a carried request entered elsewhere) for its own region.
 */
export function matrixIncrease(entryRegion: string, now: RouterCounters, before: RouterCounters): Record<string, number> {
  const cells: Record<string, number> = {};
  for (const [owner, count] of Object.entries(now.forwarded)) {
    if (owner !== entryRegion) cells[owner] = increase(count, before.forwarded[owner]);
  }
  cells[entryRegion] = Math.max(increase(now.routedLocal, before.routedLocal) - increase(now.carried, before.carried), 0);
  return cells;
}

/** What a POP's health checks of one app said last: passed, failed at the app, or failed to reach the ingress. */
export type CheckOutcome = "passed" | "failed" | "unreachable";

/**
 * The latest check outcome of one (POP, app) from two readings of its counters, or `previous` when no
 * check ran between them (checks run once a second; the readings are four a second). When both
 * a pass and a failure fall in one interval, the later of the two is taken to be the change.
 */
export function checkOutcome(now: ClusterHealth, before: ClusterHealth | undefined, previous: CheckOutcome | undefined): CheckOutcome | undefined {
  if (!before) return previous;
  const passed = increase(now.checksPassed, before.checksPassed) > 0;
  const failed = increase(now.checksFailed, before.checksFailed) > 0;
  const failure: CheckOutcome = increase(now.networkFailures, before.networkFailures) > 0 ? "unreachable" : "failed";
  if (passed && failed) return previous === "passed" ? failure : "passed";
  if (passed) return "passed";
  if (failed) return failure;
  return previous;
}

/**
 * One app of a datacenter as the region's readable POPs see their local cluster to it: down when
 * every one counts no healthy member or its last health check failed (so a stopped datacenter shows
 * at the first failed checks, before the members are counted out). `ingressUnreachable`: some POP's
 * last check could not reach the ingress and no POP's last check passed, which fails every app of
 * the datacenter, whose own checks may not have run yet.
 */
export function appHealth(views: { now: ClusterHealth; outcome: CheckOutcome | undefined }[]): {
  health: Health;
  healthy: number | null;
  ingressUnreachable: boolean;
} {
  if (views.length === 0) return { health: "unknown", healthy: null, ingressUnreachable: false };
  const failing = (v: (typeof views)[0]) => v.now.healthy === 0 || v.outcome === "failed" || v.outcome === "unreachable";
  const passed = (v: (typeof views)[0]) => v.outcome === undefined || v.outcome === "passed";
  const healthy = Math.max(...views.map((v) => v.now.healthy));
  return { health: views.every(failing) ? "down" : "up", healthy, ingressUnreachable: views.some((v) => v.outcome === "unreachable") && !views.some(passed) };
}

/** What the state says of health: every POP's, datacenter's and app's, and whether there is a deploy. */
export function healthOf(state: DashboardState): string {
  return JSON.stringify([state.deploy, state.pops.map((p) => [p.id, p.health, p.reason]), state.datacenters]);
}

export class LiveState {
  private latest = new Map<string, Reading>();
  private previous = new Map<string, Reading>();
  /** The last health check outcome of each POP's local cluster to each app, by `<pop id>\n<app>`. */
  private outcomes = new Map<string, CheckOutcome | undefined>();
  /** Requests since the dashboard started, by `<entry>\n<owner>`. */
  private matrixCounts = new Map<string, number>();
  /** Each POP's requests per second in its last interval, by owner region. */
  private matrixRates = new Map<string, Record<string, number>>();
  /** Each POP's reading under way: a slow POP is never read twice at once, and the others' rounds go on without it. */
  private reading = new Map<string, Promise<void>>();
  private listeners = new Set<StateListener>();
  private since = Date.now();
  private found: Found | undefined;
  private state: DashboardState;
  private pushedHealth: string;
  private timer: NodeJS.Timeout | undefined;
  private deployedPops = "";

  constructor(
    private readonly model: NetworkModel,
    private readonly source: OutputsSource,
    private readonly intervalMs = 1000,
  ) {
    this.state = this.compose();
    this.pushedHealth = healthOf(this.state);
  }

  /** Starts a round every `intervalMs`, on the clock: a round that takes longer does not push the next one back. */
  start(): void {
    this.timer = setInterval(() => void this.round(false), this.intervalMs);
    void this.round(false);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.reading.values());
  }

  current(): DashboardState {
    return this.state;
  }

  /** Calls `listener` with the state after each round and as soon as a reading changes any health; returns how to stop. */
  subscribe(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads every POP of the deploy once (joining a reading already under way) and pushes the view. */
  async poll(): Promise<void> {
    await this.round(true);
  }

  /**
   * One round: reads every POP not being read already (or, with `join`, waits for that reading too),
   * then pushes the view. Each reading recomputes the view as it lands.
   */
  private async round(join: boolean): Promise<void> {
    const found = this.source();
    this.found = found;
    if ("error" in found) return this.refresh(true);
    const { outputs } = found;
    const ids = outputs.pops.map((p) => p.id).join(",");
    if (ids !== this.deployedPops) {
      // Another deploy: its Envoys are new, so nothing read before is a baseline for them.
      this.deployedPops = ids;
      this.latest.clear();
      this.previous.clear();
      this.outcomes.clear();
    }
    const names = { regions: outputs.regions, apps: outputs.apps.map((a) => a.name) };
    const readings = outputs.pops.flatMap((pop) => {
      const underWay = this.reading.get(pop.id);
      if (underWay) return join ? [underWay] : [];
      return [this.read(pop, names, ids)];
    });
    await Promise.all(readings);
    this.refresh(true);
  }

  private read(pop: PopOutput, names: StatNames, deployedPops: string): Promise<void> {
    const reading = readPop(pop, names)
      .then((next) => {
        // A reading of the deploy before is no baseline for this one.
        if (deployedPops !== this.deployedPops) return;
        this.record(pop, { at: Date.now(), reading: next });
        this.refresh(false);
      })
      .finally(() => this.reading.delete(pop.id));
    this.reading.set(pop.id, reading);
    return reading;
  }

  /** Recomputes the view; pushes it after a round (`always`), or when it says something new of health. */
  private refresh(always: boolean): void {
    this.state = this.compose();
    const health = healthOf(this.state);
    if (!always && health === this.pushedHealth) return;
    this.pushedHealth = health;
    for (const listener of this.listeners) listener(this.state);
  }

  private record(pop: PopOutput, next: Reading): void {
    const last = this.latest.get(pop.id);
    if (last) this.previous.set(pop.id, last);
    this.latest.set(pop.id, next);
    if (next.reading.state === "up") {
      const before = last?.reading.state === "up" ? last.reading.clusters : undefined;
      for (const [app, now] of Object.entries(next.reading.clusters)) {
        const key = `${pop.id}\n${app}`;
        this.outcomes.set(key, checkOutcome(now, before?.[app], this.outcomes.get(key)));
      }
    }
    const before = last?.reading.state === "up" ? last.reading.counters : undefined;
    this.matrixRates.delete(pop.id);
    if (next.reading.state !== "up" || before === undefined || last === undefined) return;
    const seconds = (next.at - last.at) / 1000;
    const rates: Record<string, number> = {};
    for (const [owner, count] of Object.entries(matrixIncrease(pop.region, next.reading.counters, before))) {
      const key = `${pop.region}\n${owner}`;
      this.matrixCounts.set(key, (this.matrixCounts.get(key) ?? 0) + count);
      rates[owner] = seconds > 0 ? count / seconds : 0;
    }
    this.matrixRates.set(pop.id, rates);
  }

  private popState(id: string, region: string, deployed: boolean): PopState {
    if (!deployed) return { id, region, health: "unknown", reason: "not in the deploy's outputs", decisions: null };
    const now = this.latest.get(id);
    if (!now) return { id, region, health: "unknown", reason: "not read yet", decisions: null };
    if (now.reading.state === "down") return { id, region, health: "down", reason: now.reading.reason, decisions: null };
    const before = this.previous.get(id);
    const counters = before?.reading.state === "up" ? before.reading.counters : undefined;
    const seconds = before ? (now.at - before.at) / 1000 : null;
    return { id, region, health: "up", decisions: popDecisions(now.reading.counters, counters, seconds) };
  }

  private datacenterState(region: string): DatacenterState {
    const pops = this.model.regions.find((r) => r.name === region)?.pops ?? [];
    const apps = (this.model.regions.find((r) => r.name === region)?.datacenter.apps ?? []).map(({ name }) => {
      const views = pops.flatMap(({ id }) => {
        const now = this.latest.get(id)?.reading;
        const view = now?.state === "up" ? now.clusters[name] : undefined;
        return view ? [{ now: view, outcome: this.outcomes.get(`${id}\n${name}`) }] : [];
      });
      const { health, healthy, ingressUnreachable } = appHealth(views);
      return { app: name, health, healthy, ingressUnreachable };
    });
    // An ingress no POP can reach takes every app down with it.
    if (apps.some((a) => a.ingressUnreachable)) {
      return { region, health: "down", apps: apps.map(({ app, healthy }) => ({ app, health: "down" as const, healthy })) };
    }
    const known = apps.filter((a) => a.health !== "unknown");
    const health: DatacenterState["health"] =
      known.length === 0 ? "unknown" : known.every((a) => a.health === "up") && known.length === apps.length ? "up" : known.every((a) => a.health === "down") ? "down" : "degraded";
    return { region, health, apps: apps.map(({ app, health: appState, healthy }) => ({ app, health: appState, healthy })) };
  }

  private compose(): DashboardState {
    const found = this.found;
    const deployed = new Set(found && "outputs" in found ? found.outputs.pops.map((p) => p.id) : []);
    const regions = this.model.regions.map((r) => r.name);
    const cells: MatrixCell[] = [];
    for (const entry of this.model.regions) {
      const rates = entry.pops.map((p) => this.matrixRates.get(p.id)).filter((r) => r !== undefined);
      for (const ownerRegion of regions) {
        const count = this.matrixCounts.get(`${entry.name}\n${ownerRegion}`) ?? 0;
        const perSecond = rates.length === 0 ? null : rates.reduce((sum, r) => sum + (r[ownerRegion] ?? 0), 0);
        cells.push({ entryRegion: entry.name, ownerRegion, count, perSecond });
      }
    }
    return {
      at: Date.now(),
      deploy:
        found === undefined
          ? { ok: false, message: "reading the deploy's outputs", command: "npm run deploy" }
          : "error" in found
            ? { ok: false, message: found.error, command: "npm run deploy" }
            : { ok: true, outputsFile: found.file },
      pops: this.model.regions.flatMap((r) => r.pops.map((p) => this.popState(p.id, r.name, deployed.has(p.id)))),
      datacenters: regions.map((region) => this.datacenterState(region)),
      matrix: { regions, cells, since: this.since },
    };
  }
}
