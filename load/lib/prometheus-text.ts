// Envoy's /stats/prometheus page as samples. Only what Envoy writes is handled: one sample per line,
// `name{label="value",...} number`, comments starting with '#', no timestamps.

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Samples by metric name, in page order. */
export type PrometheusPage = Map<string, Sample[]>;

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): PrometheusPage {
  const page: PrometheusPage = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const value = valueText === "+Inf" ? Infinity : Number(valueText);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const label of (labelText ?? "").matchAll(LABEL)) labels[label[1]!] = label[2]!.replace(/\\(.)/g, "$1");
    const samples = page.get(name);
    if (samples) samples.push({ labels, value });
    else page.set(name, [{ labels, value }]);
  }
  return page;
}

/** The value of `name` whose labels include every one of `labels`; undefined when the page has none. */
export function sampleValue(page: PrometheusPage, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  return page.get(name)?.find((sample) => wanted.every(([key, value]) => sample.labels[key] === value))?.value;
}

/** How Envoy names a stat in Prometheus output: every character outside [A-Za-z0-9_] becomes '_'. */
export function prometheusName(statName: string): string {
  return statName.replace(/[^A-Za-z0-9_]/g, "_");
}
