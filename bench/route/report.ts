// The tables of a run, for the terminal and for the "route" section of docs/benchmarks.md.
import type { MachineFacts } from "../soak-run.ts";
import { machineLine } from "../soak-report.ts";
import { FLOOD_HOST_SUFFIX, type FloodResult } from "./flood.ts";
import { P99_LIMIT_MS, type ArmResult } from "./measure.ts";
import { TARGET_CPU_SHARE, type SizingResult } from "./sizing.ts";

export interface PhaseTime {
  phase: string;
  seconds: number;
}

export interface RouteBenchResult {
  command: string;
  quick: boolean;
  startedAt: string;
  machine: MachineFacts;
  /** Open-loop rate every arm got: half of arm A's maximum (or --rate). */
  openLoopRate: number | null;
  openLoopRateReason: string;
  arms: ArmResult[];
  /** The arm whose routing verification failed, and why; the run stopped there. */
  aborted: { arm: string; cause: string } | null;
  flood: FloodResult | null;
  sizing: SizingResult | null;
  phases: PhaseTime[];
  problems: string[];
}

const grouped = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (value: number | undefined | null) => (value === undefined || value === null ? "-" : value.toFixed(2));
const us = (value: number | null) => (value === null ? "-" : value.toFixed(1));
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function table(header: string[], rows: string[][], align: ("l" | "r")[]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(align.map((a) => (a === "r" ? "---:" : "---"))), ...rows.map(line)].join("\n");
}

export function armsTable(result: RouteBenchResult): string {
  const a = result.arms.find((arm) => arm.id === "A");
  const rate = result.openLoopRate === null ? "R" : grouped(result.openLoopRate);
  const rows = result.arms.map((arm) => {
    const rps = arm.best?.rps ?? null;
    const rpsShare = rps !== null && a?.best ? `${((rps / a.best.rps) * 100).toFixed(0)}%` : "-";
    const extraCpu = arm.cpuUsPerRequest !== null && a?.cpuUsPerRequest != null ? `${arm.cpuUsPerRequest - a.cpuUsPerRequest >= 0 ? "+" : ""}${(arm.cpuUsPerRequest - a.cpuUsPerRequest).toFixed(1)}` : "-";
    return [
      `**${arm.id}**`,
      arm.title,
      rps === null ? "-" : grouped(rps),
      arm.best ? String(arm.best.connections) : "-",
      arm.clientCoreBusyAtMax === null ? "-" : `${(arm.clientCoreBusyAtMax * 100).toFixed(0)}%`,
      rpsShare,
      us(arm.cpuUsPerRequestAtMax),
      us(arm.cpuUsPerRequest),
      extraCpu,
      ms(arm.openLoop?.p50Ms),
      ms(arm.openLoop?.p99Ms),
      mib(arm.rssBytes),
    ];
  });
  if (result.aborted) rows.push([`**${result.aborted.arm}**`, `ABORTED: ${result.aborted.cause.replaceAll("|", "\\|")}`, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"]);
  return table(
    ["arm", "routing", `max rps, p99 < ${P99_LIMIT_MS} ms`, "conns", "client core busy", "rps vs A", "proxy CPU µs/req at max", `proxy CPU µs/req @ ${rate} rps`, "µs vs A", `p50 ms @ ${rate} rps`, `p99 ms @ ${rate} rps`, "RSS MiB"],
    rows,
    ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  );
}

export function floodTable(flood: FloodResult, cachedAtSharedRate: ArmResult | undefined, sharedRate: number | null): string {
  const answered = flood.flood.completed / flood.flood.seconds;
  const stats = flood.routerStats;
  return table(
    ["measure", "value"],
    [
      ["flood offered / answered", `${grouped(flood.plan.floodRate)} / ${grouped(answered)} requests/s for ${flood.flood.seconds.toFixed(0)} s, every host new (\`*${FLOOD_HOST_SUFFIX}\`)${flood.flood.unsent > 0 ? `; ${grouped(flood.flood.unsent)} never sent (more than 2 s behind)` : ""}`],
      ["flood answers", [...flood.flood.statuses].sort(([x], [y]) => x - y).map(([status, count]) => `${status}: ${grouped(count)}`).join(", ") || "none"],
      [`proxy CPU per request, known tenants alone at ${grouped(flood.plan.knownRate)} rps (cached)`, `${us(flood.cachedCpuUs)} µs`],
      ...(cachedAtSharedRate && sharedRate !== null ? [[`proxy CPU per request, arm C2 (cached) at ${grouped(sharedRate)} rps`, `${us(cachedAtSharedRate.cpuUsPerRequest)} µs`]] : []),
      ["proxy CPU per request during the flood (flood and known)", `${us(flood.floodCpuUs)} µs`],
      ["proxy core busy during the flood", `${(flood.proxyBusy * 100).toFixed(0)}%`],
      ["discovery calls per second (at the discovery listener)", grouped(flood.discoveryCallsPerSecond)],
      [
        "router: lookups / shed over the cap / over the rate / backed off",
        ["lookups", "lookups_shed", "lookups_rate_limited", "lookups_backed_off"].map((name) => grouped(stats[`edge_router.${name}`] ?? 0)).join(" / "),
      ],
      [`known tenants at ${grouped(flood.plan.knownRate)} rps, p50 / p99: alone`, `${ms(flood.unloaded.p50Ms)} / ${ms(flood.unloaded.p99Ms)} ms`],
      [`known tenants at ${grouped(flood.plan.knownRate)} rps, p50 / p99: during the flood`, `${ms(flood.known.p50Ms)} / ${ms(flood.known.p99Ms)} ms`],
      ["proxy RSS before / after", `${mib(flood.rssBeforeBytes)} / ${mib(flood.rssAfterBytes)} MiB`],
      ["Wasm linear memory before / after", flood.wasmMemoryBeforeBytes === null ? "n/a" : `${grouped((flood.wasmMemoryBeforeBytes ?? 0) / 1024)} / ${grouped((flood.wasmMemoryAfterBytes ?? 0) / 1024)} KiB`],
    ],
    ["l", "r"],
  );
}

export function sizingText(sizing: SizingResult): string {
  const rows = sizing.steps.map((step) => [grouped(step.rate), grouped(step.rps), `${(step.cpuShare * 100).toFixed(0)}%`, ms(step.p99Ms)]);
  const verdict = sizing.rpsAtTarget === null
    ? sizing.saturated
      ? `The machine stopped keeping up with the offered rate (answered < 90%) before the POP reached ${TARGET_CPU_SHARE * 100}% CPU: no figure; the client, the upstream or other load took the rest.`
      : `No two steps bracket ${TARGET_CPU_SHARE * 100}% CPU: no figure.`
    : `**${grouped(sizing.rpsAtTarget)} requests/s at ${TARGET_CPU_SHARE * 100}% of ${sizing.cores} cores** (full POP, ${sizing.workers} workers).`;
  return [table(["offered rps", "answered rps", `proxy CPU (of ${sizing.cores} cores)`, "p99 ms"], rows, ["r", "r", "r", "r"]), "", verdict].join("\n");
}

export function phaseLine(phases: PhaseTime[]): string {
  return phases.map((phase) => `${phase.phase} ${phase.seconds.toFixed(0)} s`).join(", ");
}

const HOW_TO_READ = `**How to read this.** Every arm is the generated POP bootstrap (\`edge/pop.ts\`) with parts
taken out, run as its own Envoy with one worker pinned to core 0; the client (wrk, then the
open-loop client) and the one upstream Envoy (a direct_response listener per cluster) share core 1,
so the proxy's CPU is its own. *max rps* is the best closed-loop wrk window whose p99 stayed under
${P99_LIMIT_MS} ms, at rising connection counts (*conns* is the count that gave it; *client core busy* is wrk plus the
upstream on core 1 in that window: near 100% the ceiling is the client core's, not the proxy's). *proxy CPU* is
Envoy's user + system time (every thread, from \`/proc/<pid>/stat\`) over the open-loop window divided
by the requests it answered: at the same offered rate for every arm, so the arms are compared at the
same load, not each at its own saturation; *at max* is the same over the best search window, where the
proxy is near saturation and fixed per-wakeup costs are spread over many requests. *p50/p99* are from that open-loop window (requests sent on
a fixed schedule, latency counted from the scheduled time, so a stall is not hidden). An arm whose
maximum is below the shared rate is overloaded there: its latency then shows queueing. The open-loop
client is the bench's own (\`bench/route/openloop/\`, Go): k6's constant-arrival-rate, pinned to the
client core, dropped iterations from about 5,000/s here, below the rates needed. Single runs on a
shared 2-core machine are noisy: compare arms of the same run, not runs.`;

export function routeSection(result: RouteBenchResult): string {
  const lines = [
    "## Routing cost side by side",
    "",
    "What each part of the POP costs per request, and what the region-router filter costs against",
    "Envoy's native `cluster_header` and a Lua filter making the same decision. Every arm routes to",
    "the same direct_response upstream; each is verified to route every case to the right cluster",
    "before it is timed.",
    "",
    "```sh",
    result.command,
    "```",
    "",
    `- Run: ${result.startedAt.slice(0, 16).replace("T", " ")} UTC; phases: ${phaseLine(result.phases)}`,
    `- Machine: ${machineLine(result.machine)}`,
    `- Filter: \`region_router.wasm\` ${grouped(result.machine.filterBytes)} bytes (sha256 ${result.machine.filterSha256}…)`,
    `- Open-loop rate: ${result.openLoopRate === null ? "-" : `${grouped(result.openLoopRate)} rps`} (${result.openLoopRateReason})`,
    "",
    armsTable(result),
    "",
    ...result.arms.map((arm) => `- **${arm.id}** ${arm.description}; public-listener filters: ${arm.filters.map((filter) => `\`${filter.replace("envoy.filters.http.", "")}\``).join(", ")}${arm.notes.length > 0 ? `. Note: ${arm.notes.join("; ")}` : ""}${arm.problems.length > 0 ? `. **Problems:** ${arm.problems.join("; ")}` : ""}`),
  ];
  if (result.flood) {
    lines.push("", "### Random-Host flood", "", "One Wasm POP (arm C2's listener, the topology's cache TTLs), unknown hosts at a fixed rate while known tenants keep coming:", "", floodTable(result.flood, result.arms.find((arm) => arm.id === "C2"), result.openLoopRate), "", "CPU per request at a low rate is mostly the fixed cost of waking up for each request; compare the flood with C2 at a similar rate.");
    if (result.flood.problems.length > 0) lines.push("", `**Problems:** ${result.flood.problems.join("; ")}`);
  }
  if (result.sizing) {
    lines.push(
      "",
      "### Sizing",
      "",
      `The full POP (arm D) with ${result.sizing.workers} workers, not pinned; the open-loop client and the upstream run on the same ${result.sizing.cores} cores. The rate at ${TARGET_CPU_SHARE * 100}% of the machine's CPU is interpolated between the steps around it:`,
      "",
      sizingText(result.sizing),
    );
  }
  if (result.problems.length > 0) lines.push("", "**Problems in this run:**", "", ...result.problems.map((problem) => `- ${problem}`));
  lines.push("", HOW_TO_READ);
  return lines.join("\n");
}

/** The terminal report: the same tables, marked as a smoke run when it is one. */
export function terminalReport(result: RouteBenchResult): string {
  const body = routeSection(result);
  return result.quick ? `SMOKE RUN (--quick): windows of about a second; these numbers measure nothing.\n\n${body}` : body;
}
