// The page: draws the server's SVG of the network, shows health, decisions and the route matrix as
// the server pushes them (/api/events), and sends the composer's requests through /api/request,
// drawing the path taken.
import type { ComposeRequest, ComposeResult, DashboardState, Decision, NetworkModel, PopDecisions, RequestRefusal } from "../wire.ts";

/** While the server's stream is broken, the page asks for the state this often instead. */
const REFRESH_MS = 250;
/** How long after the browser gives up on the stream the page opens a new one. */
const RECONNECT_MS = 1000;
const $ = <T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T => {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
};

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

const rate = (d: Decision | undefined) => (d?.perSecond === null || d?.perSecond === undefined ? "" : `${d.perSecond.toFixed(1)}/s`);

function decisionCell(d: Decision | undefined): HTMLTableCellElement {
  const cell = element("td");
  if (d === undefined) {
    cell.textContent = "?";
    cell.className = "unknown";
    return cell;
  }
  cell.append(String(d.total));
  if (d.perSecond !== null) cell.append(" ", element("span", rate(d), { class: "rate" }));
  return cell;
}

function sum(decisions: Record<string, Decision>): Decision {
  const values = Object.values(decisions);
  const perSecond = values.some((d) => d.perSecond === null) ? null : values.reduce((n, d) => n + (d.perSecond ?? 0), 0);
  return { total: values.reduce((n, d) => n + d.total, 0), perSecond };
}

function nonZero(decisions: Record<string, Decision>): string {
  const shown = Object.entries(decisions).filter(([, d]) => d.total > 0);
  return shown.length === 0 ? "0" : shown.map(([key, d]) => `${key} ${d.total}${d.perSecond ? ` (${d.perSecond.toFixed(1)}/s)` : ""}`).join(", ");
}

let model: NetworkModel;

function renderPopTable(state: DashboardState): void {
  const table = $<HTMLTableElement>("#pop-table");
  const regions = model.regions.map((r) => r.name);
  const head = element("tr");
  for (const title of ["POP", "health", "routed locally", "carried in", ...regions.map((r) => `forwarded → ${r}`), "fallback", "rejected", "lookups", "cache hits", "lookup ms (mean / p95)", "failover"]) {
    head.append(element("th", title));
  }
  const rows = state.pops.map((pop) => {
    const row = element("tr", undefined, { "data-pop": pop.id, "data-health": pop.health });
    row.append(element("td", pop.id), element("td", pop.reason ? `${pop.health}: ${pop.reason}` : pop.health));
    const d: PopDecisions | null = pop.decisions;
    const lookupMs = d?.lookupMs.count ? `${d.lookupMs.mean?.toFixed(1) ?? "?"} / ≤${d.lookupMs.p95 ?? "?"}` : d ? "-" : "?";
    row.append(
      decisionCell(d?.routedLocal),
      decisionCell(d?.carried),
      ...regions.map((r) => (r === pop.region ? element("td", "") : decisionCell(d?.forwarded[r]))),
      decisionCell(d?.fallback),
      d ? element("td", nonZero(d.rejected), { "data-total": String(sum(d.rejected).total) }) : element("td", "?", { class: "unknown" }),
      decisionCell(d?.lookups),
      decisionCell(d?.cacheHits),
      element("td", lookupMs, d ? {} : { class: "unknown" }),
      d ? element("td", nonZero(d.failover)) : element("td", "?", { class: "unknown" }),
    );
    return row;
  });
  table.replaceChildren(head, ...rows);
}

function renderMatrix(state: DashboardState): void {
  const table = $<HTMLTableElement>("#matrix-table");
  const { regions, cells } = state.matrix;
  const head = element("tr");
  head.append(element("th", "entry \\ owner"), ...regions.map((r) => element("th", r)), element("th", "total"));
  const rows = regions.map((entry) => {
    const row = element("tr", undefined, { "data-entry": entry });
    row.append(element("td", entry));
    let total = 0;
    for (const owner of regions) {
      const cell = cells.find((c) => c.entryRegion === entry && c.ownerRegion === owner);
      total += cell?.count ?? 0;
      const td = element("td", String(cell?.count ?? 0), { "data-owner": owner, class: entry === owner ? "own" : "" });
      if (cell?.perSecond) td.append(" ", element("span", `${cell.perSecond.toFixed(1)}/s`, { class: "rate" }));
      row.append(td);
    }
    row.append(element("td", String(total)));
    return row;
  });
  table.replaceChildren(head, ...rows);
}

function renderDiagram(state: DashboardState): void {
  for (const pop of state.pops) {
    const node = document.getElementById(`pop-${pop.id}`);
    if (!node) continue;
    node.setAttribute("data-health", pop.health);
    $("text.pop-health", node).textContent = pop.health === "up" ? "up" : pop.health === "down" ? "down" : "unknown";
    const d = pop.decisions;
    $("text.pop-rate", node).textContent = d
      ? `local ${rate(d.routedLocal) || "-"} · fwd ${rate(sum(d.forwarded)) || "-"}`
      : "decisions: ?";
  }
  for (const dc of state.datacenters) {
    const node = document.getElementById(`dc-${dc.region}`);
    if (node) {
      node.setAttribute("data-health", dc.health);
      $("text.dc-health", node).textContent = `datacenter ${dc.health}`;
    }
    for (const app of dc.apps) {
      const appNode = document.getElementById(`app-${dc.region}-${app.app}`);
      if (!appNode) continue;
      appNode.setAttribute("data-health", app.health);
      $("text.app-health", appNode).textContent = app.health === "up" ? `up (${app.healthy} ingress healthy)` : app.health;
    }
  }
}

function show(state: DashboardState): void {
  const banner = $("#no-deploy");
  if (state.deploy.ok) {
    banner.hidden = true;
    const up = state.pops.filter((p) => p.health === "up").length;
    $("#deploy-status").textContent = `${up} of ${state.pops.length} POPs up · ${new Date(state.at).toLocaleTimeString()}`;
  } else {
    banner.hidden = false;
    $("#no-deploy-message").textContent = state.deploy.message;
    $("#no-deploy-command").textContent = state.deploy.command;
    $("#deploy-status").textContent = "no deploy";
  }
  renderDiagram(state);
  renderPopTable(state);
  renderMatrix(state);
}

async function refresh(): Promise<void> {
  let state: DashboardState;
  try {
    state = (await (await fetch("/api/state")).json()) as DashboardState;
  } catch {
    $("#deploy-status").textContent = "the dashboard server does not answer";
    return;
  }
  show(state);
}

let polling: ReturnType<typeof setInterval> | undefined;

/**
 * Shows every state the server pushes. The browser reconnects a broken stream by itself; until it
 * is open again the page polls /api/state, and a stream the browser gave up on is opened anew.
 */
function follow(): void {
  const events = new EventSource("/api/events");
  events.addEventListener("state", (event) => show(JSON.parse((event as MessageEvent<string>).data) as DashboardState));
  events.addEventListener("open", () => {
    clearInterval(polling);
    polling = undefined;
  });
  events.addEventListener("error", () => {
    polling ??= setInterval(() => void refresh(), REFRESH_MS);
    if (events.readyState === EventSource.CLOSED) setTimeout(follow, RECONNECT_MS);
  });
}

interface NodeBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

function boxOf(id: string): NodeBox | undefined {
  const node = document.getElementById(id);
  const [x, y, w, h] = ["data-x", "data-y", "data-w", "data-h"].map((name) => Number(node?.getAttribute(name)));
  return node && [x, y, w, h].every(Number.isFinite) ? { x: x!, y: y!, w: w!, h: h! } : undefined;
}

/** Where the line from the centre of `box` towards `to` leaves the box. */
function edgeToward(box: NodeBox, to: { x: number; y: number }): { x: number; y: number } {
  const dx = to.x - box.x;
  const dy = to.y - box.y;
  const scale = Math.min(dx === 0 ? Infinity : box.w / 2 / Math.abs(dx), dy === 0 ? Infinity : box.h / 2 / Math.abs(dy), 1);
  return { x: box.x + dx * scale, y: box.y + dy * scale };
}

/** Lines from the client through every node the request passed; the sideways hop arcs over the regions. */
function drawPath(result: ComposeResult): void {
  const group = $<SVGGElement>("#request-path");
  for (const node of document.querySelectorAll(".on-path")) node.classList.remove("on-path");
  group.replaceChildren();
  const { path } = result;
  const ids = ["client", `pop-${path.entryPop}`];
  const peer = path.peerPop ?? path.peerCandidates[0];
  if (peer) ids.push(`pop-${peer}`);
  if (path.servedRegion) ids.push(`dc-${path.servedRegion}`);
  if (path.instance && document.getElementById(`replica-${path.instance}`)) ids.push(`replica-${path.instance}`);
  const boxes = ids.map(boxOf);
  for (let i = 1; i < boxes.length; i++) {
    const from = boxes[i - 1];
    const to = boxes[i];
    if (!from || !to) continue;
    const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
    const sideways = ids[i - 1]!.startsWith("pop-") && ids[i]!.startsWith("pop-");
    if (sideways) {
      const top = Math.min(from.y, to.y) - 150;
      line.setAttribute("d", `M${from.x},${from.y - from.h / 2} C${from.x},${top} ${to.x},${top} ${to.x},${to.y - to.h / 2}`);
    } else {
      const a = edgeToward(from, to);
      const b = edgeToward(to, from);
      line.setAttribute("d", `M${a.x},${a.y} L${b.x},${b.y}`);
    }
    line.setAttribute("data-hop", `${ids[i - 1]} ${ids[i]}`);
    group.append(line);
  }
  for (const id of ids.slice(1)) document.getElementById(id)?.classList.add("on-path");
  group.setAttribute("data-entry-pop", path.entryPop);
  group.setAttribute("data-hops", path.hops === null ? "" : String(path.hops));
  group.setAttribute("data-served-region", path.servedRegion ?? "");
  group.setAttribute("data-peer-pop", path.peerPop ?? "");
}

function describePath(result: ComposeResult): string {
  const { path } = result;
  if (!path.servedRegion) return `refused at ${path.entryPop}`;
  const peer = path.hops && path.hops > 0 ? ` → ${path.peerPop ?? `a POP of ${path.servedRegion} (one of ${path.peerCandidates.join(", ")})`}` : "";
  const failover = path.failover ? ` (failover: owner ${path.owner})` : "";
  return `${path.entryPop}${peer} → datacenter ${path.servedRegion}${failover} → ${path.instance ?? "app"} · hops ${path.hops ?? "?"} · served by ${path.servedRegion}`;
}

function showResult(result: ComposeResult): void {
  $("#result").hidden = false;
  const status = $("#result-status");
  status.textContent = String(result.status);
  status.className = `status ${result.status === 200 ? "ok" : "refused"}`;
  $("#result-path").textContent = describePath(result);
  $("#result-path").setAttribute("data-testid", "result-path");
  $("#result-route").textContent = result.route ?? "(none)";
  $("#result-pop").textContent = result.pop ?? "(none)";
  $("#result-request").textContent = `${result.request.method} ${result.request.url} as ${result.request.identity} ${Object.entries(result.request.headers).map(([k, v]) => `${k}: ${v}`).join("; ")} · ${result.ms.toFixed(1)} ms`;
  $("#result-body").textContent = typeof result.body === "string" ? result.body : JSON.stringify(result.body, null, 2);
  drawPath(result);
}

function identityOf(value: string): ComposeRequest["identity"] {
  const [kind, arg = ""] = value.split(":");
  if (kind === "user" || kind === "forged") return { kind, region: arg };
  if (kind === "tenant") return { kind, host: arg };
  return { kind: "none" };
}

async function compose(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const request: ComposeRequest = {
    pop: $<HTMLSelectElement>("#compose-pop").value,
    app: $<HTMLSelectElement>("#compose-app").value,
    identity: identityOf($<HTMLSelectElement>("#compose-identity").value),
  };
  const res = await fetch("/api/request", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
  const answer = (await res.json()) as ComposeResult | RequestRefusal | { message: string };
  if (res.status === 200) showResult(answer as ComposeResult);
  else {
    $("#result").hidden = false;
    $("#result-status").textContent = String(res.status);
    $("#result-status").className = "status refused";
    $("#result-path").textContent = (answer as { message: string }).message;
  }
}

function option(value: string, label: string): HTMLOptionElement {
  return element("option", label, { value });
}

async function start(): Promise<void> {
  const network = (await (await fetch("/api/network")).json()) as { model: NetworkModel; svg: string };
  model = network.model;
  $("#diagram").innerHTML = network.svg;
  $("#compose-pop").replaceChildren(...model.regions.flatMap((r) => r.pops.map((p) => option(p.id, `${p.id} (${r.name})`))));
  $("#compose-app").replaceChildren(...model.apps.map((a) => option(a.name, `${a.name} (${a.prefix})`)));
  $("#compose-identity").replaceChildren(
    ...model.regions.map((r) => option(`user:${r.name}`, `a user of ${r.name} (token signed by the server)`)),
    ...model.tenants.map((t) => option(`tenant:${t.host}`, `tenant ${t.host} (${t.region})`)),
    option(`tenant:nobody.${model.project}.test`, "a host no tenant has"),
    option("none", "no identity"),
    ...model.regions.map((r) => option(`forged:${r.name}`, `a forged token claiming ${r.name}`)),
  );
  $<HTMLFormElement>("#compose").addEventListener("submit", (event) => void compose(event));
  await refresh();
  follow();
  document.body.setAttribute("data-ready", "true");
}

void start();
