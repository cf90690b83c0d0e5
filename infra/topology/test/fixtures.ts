import assert from "node:assert/strict";
import { TopologyError, validateTopology } from "../load.ts";

/** A small valid topology as raw YAML-shaped data; tests mutate a fresh copy. */
export function validRaw(): Record<string, any> {
  return structuredClone({
    project: "shop",
    jwt: { issuer: "https://login.shop.test", audiences: ["shop-api"] },
    apps: [
      { name: "cart", prefix: "/cart" },
      { name: "search", prefix: "/search" },
    ],
    regions: [
      {
        name: "north",
        jurisdiction: "eu",
        pops: [
          { name: "p1", clientPort: 28001, statsPort: 29001, tlsPort: 28301 },
          { name: "p2", clientPort: 28002, statsPort: 29002, tlsPort: 28302 },
        ],
        datacenter: { ingressReplicas: 1, apps: { cart: { replicas: 1 }, search: { replicas: 2 } } },
      },
      {
        name: "south",
        jurisdiction: "us",
        pops: [{ name: "p1", clientPort: 28011, statsPort: 29011, tlsPort: 28311 }],
        datacenter: { apps: { cart: { replicas: 1 }, search: { replicas: 1 } } },
      },
    ],
    tenants: [
      { host: "alpha.shop.test", region: "north" },
      { host: "beta.shop.test", region: "south" },
    ],
  });
}

/**
 * Appends region `name` of `jurisdiction` to `raw` with one POP on fresh host ports and every app:
 * a valid topology stays valid.
 */
export function withRegion(raw: Record<string, any>, name: string, jurisdiction: string): Record<string, any> {
  const offset = 10 * raw.regions.length;
  raw.regions.push({
    name,
    jurisdiction,
    pops: [{ name: "p1", clientPort: 28001 + offset, statsPort: 29001 + offset, tlsPort: 28301 + offset }],
    datacenter: { apps: Object.fromEntries(raw.apps.map((app: { name: string }) => [app.name, { replicas: 1 }])) },
  });
  return raw;
}

/** Every problem `validateTopology` reports for `raw`; empty when it is valid. */
export function problemsOf(raw: unknown): string[] {
  try {
    validateTopology(raw);
    return [];
  } catch (error) {
    if (error instanceof TopologyError) return [...error.problems];
    throw error;
  }
}

/**
 * Asserts that `raw` has exactly one problem, at `path`, and that it mentions every fragment
 * (the bad value and what would be valid).
 */
export function assertOnlyProblem(raw: unknown, path: string, ...fragments: string[]): void {
  const problems = problemsOf(raw);
  assert.equal(problems.length, 1, `expected one problem at ${path}, got:\n${problems.join("\n")}`);
  const [problem] = problems as [string];
  assert.ok(problem.startsWith(`${path}: `), `problem is not at ${path}: ${problem}`);
  assert.match(problem, /; expected /);
  for (const fragment of fragments) {
    assert.ok(problem.includes(fragment), `problem lacks ${JSON.stringify(fragment)}: ${problem}`);
  }
}
