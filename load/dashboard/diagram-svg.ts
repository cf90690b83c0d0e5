// The network as plain SVG, laid out from the model: one column per region, its POPs (outer rim) in a
// row above its datacenter (inner rim: ingress, discovery, each app with a chip per replica), the
// backbone as arcs above the regions. Every node the page updates carries an id and `data-health`;
// nodes a request path can pass carry their box as `data-x`/`data-y` (centre) and `data-w`/`data-h`.
import type { NetworkModel, RegionNode } from "./wire.ts";

const POP = { w: 150, h: 64, gap: 16 };
const APP = { w: 140, h: 70, gap: 12 };
const PAD = 20;
const CLIENT = { x: 20, w: 84, h: 32 };
const REGION_GAP = 36;
const ARC_STEP = 26;

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function rowWidth(count: number, width: number, gap: number): number {
  return count * width + Math.max(count - 1, 0) * gap;
}

function regionWidth(region: RegionNode): number {
  return Math.max(rowWidth(region.pops.length, POP.w, POP.gap), rowWidth(region.datacenter.apps.length, APP.w, APP.gap), 300) + 2 * PAD;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const centre = (b: Box) => ({ x: Math.round(b.x + b.w / 2), y: Math.round(b.y + b.h / 2) });
const at = (b: Box) => `data-x="${centre(b).x}" data-y="${centre(b).y}" data-w="${Math.round(b.w)}" data-h="${Math.round(b.h)}"`;
const rect = (b: Box, cls: string, rx = 6) => `<rect class="${cls}" x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="${rx}"/>`;
const text = (x: number, y: number, cls: string, content: string, anchor = "middle") =>
  `<text class="${cls}" x="${x}" y="${y}" text-anchor="${anchor}">${escapeXml(content)}</text>`;

export function networkSvg(model: NetworkModel): string {
  const maxSpan = Math.max(model.regions.length - 1, 1);
  const frameTop = 24 + ARC_STEP * maxSpan;
  const popY = frameTop + 54;
  const dcY = popY + POP.h + 44;
  const ingressY = dcY + 30;
  const appY = ingressY + 50;
  const frameBottom = appY + APP.h + 16;
  const parts: string[] = [];
  const links: string[] = [];
  const regionX = new Map<string, number>();
  let x = CLIENT.x + CLIENT.w + 28;

  for (const region of model.regions) {
    const width = regionWidth(region);
    regionX.set(region.name, x + width / 2);
    const inner = width - 2 * PAD;
    const r = escapeXml(region.name);
    parts.push(`<g class="region" id="region-${r}" data-region="${r}">`);
    parts.push(rect({ x, y: frameTop, w: width, h: frameBottom - frameTop }, "region-frame", 10));
    parts.push(text(x + PAD, frameTop + 22, "region-name", `region ${region.name} (${region.jurisdiction})`, "start"));
    parts.push(text(x + PAD, popY - 10, "rim-caption", "outer rim: POPs", "start"));
    const popsX = x + PAD + (inner - rowWidth(region.pops.length, POP.w, POP.gap)) / 2;
    const dc: Box = { x: x + PAD, y: dcY, w: inner, h: frameBottom - 10 - dcY };
    const ingress: Box = { x: dc.x + 12, y: ingressY, w: 120, h: 30 };
    region.pops.forEach((pop, i) => {
      const box: Box = { x: popsX + i * (POP.w + POP.gap), y: popY, w: POP.w, h: POP.h };
      const id = escapeXml(pop.id);
      links.push(`<line class="rim-link" x1="${centre(box).x}" y1="${box.y + box.h}" x2="${centre(ingress).x}" y2="${ingress.y}"/>`);
      parts.push(`<g class="pop" id="pop-${id}" data-pop="${id}" data-region="${r}" data-health="unknown" ${at(box)}>`);
      parts.push(rect(box, "node"));
      parts.push(text(centre(box).x, box.y + 18, "node-name", pop.id));
      parts.push(text(centre(box).x, box.y + 35, "pop-health", "unknown"));
      parts.push(text(centre(box).x, box.y + 53, "pop-rate", ""));
      parts.push("</g>");
    });
    parts.push(text(x + PAD, dcY - 8, "rim-caption", "inner rim: datacenter", "start"));
    parts.push(`<g class="datacenter" id="dc-${r}" data-region="${r}" data-health="unknown" ${at(ingress)}>`);
    parts.push(rect(dc, "datacenter-frame", 8));
    parts.push(rect(ingress, "node ingress"));
    parts.push(text(centre(ingress).x, ingress.y + 20, "node-name", `ingress ×${region.datacenter.ingressReplicas}`));
    parts.push(text(dc.x + dc.w, dcY - 8, "dc-health", "unknown", "end"));
    const discovery: Box = { x: ingress.x + ingress.w + 16, y: ingressY, w: 96, h: 30 };
    parts.push(rect(discovery, "node discovery", 15));
    parts.push(text(centre(discovery).x, discovery.y + 20, "node-name", "discovery"));
    parts.push("</g>");
    const appsX = dc.x + (dc.w - rowWidth(region.datacenter.apps.length, APP.w, APP.gap)) / 2;
    region.datacenter.apps.forEach((app, i) => {
      const box: Box = { x: appsX + i * (APP.w + APP.gap), y: appY, w: APP.w, h: APP.h };
      const a = escapeXml(app.name);
      links.push(`<line class="rim-link" x1="${centre(ingress).x}" y1="${ingress.y + ingress.h}" x2="${centre(box).x}" y2="${box.y}"/>`);
      parts.push(`<g class="app" id="app-${r}-${a}" data-region="${r}" data-app="${a}" data-health="unknown">`);
      parts.push(rect(box, "node"));
      parts.push(text(centre(box).x, box.y + 17, "node-name", `${app.name} ×${app.instances.length}`));
      parts.push(text(centre(box).x, box.y + 33, "app-health", "unknown"));
      const chip = Math.min(26, (APP.w - 16) / Math.max(app.instances.length, 1) - 4);
      const chipsX = centre(box).x - (app.instances.length * (chip + 4) - 4) / 2;
      app.instances.forEach((instance, n) => {
        const c: Box = { x: Math.round(chipsX + n * (chip + 4)), y: box.y + 42, w: Math.round(chip), h: 18 };
        parts.push(`<g class="replica" id="replica-${escapeXml(instance)}" data-instance="${escapeXml(instance)}" ${at(c)}>`);
        parts.push(rect(c, "chip", 3));
        parts.push(text(centre(c).x, c.y + 13, "chip-label", String(n + 1)));
        parts.push(`<title>${escapeXml(instance)}</title></g>`);
      });
      parts.push("</g>");
    });
    parts.push("</g>");
    x += width + REGION_GAP;
  }

  const width = x - REGION_GAP + 20;
  const arcs = model.backbone.map(([a, b]) => {
    const ia = model.regions.findIndex((r) => r.name === a);
    const ib = model.regions.findIndex((r) => r.name === b);
    const xa = (regionX.get(a) ?? 0) + 14 * (ib - ia);
    const xb = (regionX.get(b) ?? 0) - 14 * (ib - ia);
    const top = frameTop - ARC_STEP * Math.abs(ib - ia);
    return `<path class="backbone" id="backbone-${escapeXml(a)}-${escapeXml(b)}" d="M${xa},${frameTop} C${xa},${top} ${xb},${top} ${xb},${frameTop}"><title>backbone ${escapeXml(a)} ⇄ ${escapeXml(b)} (mTLS, h2)</title></path>`;
  });
  const client: Box = { x: CLIENT.x, y: popY + POP.h / 2 - CLIENT.h / 2, w: CLIENT.w, h: CLIENT.h };
  const height = frameBottom + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="network" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="edge network of ${escapeXml(model.project)}">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>`,
    text(Math.round(width / 2), 16, "backbone-caption", "backbone: every region's POPs to every other region's (mTLS)"),
    ...arcs,
    ...links,
    `<g class="client" id="client" ${at(client)}>${rect(client, "node client-node", 16)}${text(centre(client).x, client.y + 21, "node-name", "client")}</g>`,
    ...parts,
    `<g id="request-path"></g>`,
    "</svg>",
  ].join("\n");
}
