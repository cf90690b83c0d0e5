import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import type { Topology } from "./model.ts";
import { checkRules, type Problem } from "./rules.ts";
import { showValue, topologySchema } from "./schema.ts";
import { repoRoot } from "../../scripts/toolchain/paths.ts";

export const DEFAULT_TOPOLOGY_PATH = resolve(repoRoot, "infra/topology.yaml");

/** Thrown with every problem of a topology at once; each reads "<field.path>: <problem>; expected <valid>". */
export class TopologyError extends Error {
  readonly problems: readonly string[];
  readonly source: string;

  constructor(source: string, problems: string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`invalid topology ${source} (${count}):\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "TopologyError";
    this.source = source;
    this.problems = problems;
  }
}

/** The topology file in use: `path`, else env EDGE_TOPOLOGY (relative to the working directory), else the default. */
export function topologyPath(path?: string): string {
  const chosen = path ?? process.env.EDGE_TOPOLOGY;
  if (chosen === undefined || chosen === "") return DEFAULT_TOPOLOGY_PATH;
  return isAbsolute(chosen) ? chosen : resolve(process.cwd(), chosen);
}

export function loadTopology(path?: string): Topology {
  const source = topologyPath(path);
  let text: string;
  try {
    text = readFileSync(source, "utf8");
  } catch (error) {
    const reason = error instanceof Error && "code" in error ? String(error.code) : String(error);
    throw new TopologyError(source, [
      `(file): cannot be read (${reason}); expected a readable YAML file (set EDGE_TOPOLOGY or pass a path)`,
    ]);
  }
  return parseTopology(text, source);
}

export function parseTopology(text: string, source: string): Topology {
  const lines = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (document.errors.length > 0) {
    throw new TopologyError(
      source,
      document.errors.map((error) => {
        const at = lines.linePos(error.pos[0]);
        const where = `line ${at.line}, column ${at.col}`;
        return `${where}: ${error.message.split("\n")[0]}; expected valid YAML`;
      }),
    );
  }
  try {
    return validateTopology(document.toJS());
  } catch (error) {
    if (error instanceof TopologyError) throw new TopologyError(source, [...error.problems]);
    throw error;
  }
}

export function validateTopology(raw: unknown): Topology {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TopologyError("(value)", [
      `(document): ${showValue(raw ?? null)} is not a mapping; expected a mapping with project, jwt, apps, regions and tenants`,
    ]);
  }
  const parsed = topologySchema.safeParse(raw, { reportInput: true, error: describeIssue });
  const shapeProblems = parsed.success ? [] : parsed.error.issues.flatMap(formatIssue);
  const ruleProblems = checkRules(raw).map(formatProblem);
  const problems = [...new Set([...shapeProblems, ...ruleProblems])];
  if (problems.length > 0 || !parsed.success) throw new TopologyError("(value)", problems);
  return parsed.data;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text ? `.${segment}` : segment;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text === "" ? "(document)" : text;
}

function formatProblem(problem: Problem): string {
  return `${problem.path}: ${problem.message}`;
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field; ${issue.message}`);
  }
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
};

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}

/** Words zod's generic issues as "<problem>; expected <valid>"; schema.ts words the specific ones. */
function describeIssue(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type": {
      const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
      return issue.input === undefined
        ? `is missing; expected ${expected}`
        : `${showValue(issue.input)} is ${kindOf(issue.input)}; expected ${expected}`;
    }
    case "unrecognized_keys": {
      const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      return shape ? `expected one of ${Object.keys(shape).join(", ")}` : "expected only documented fields";
    }
    case "too_small":
      return `${showValue(issue.input)} is too small; expected at least ${String(issue.minimum)}`;
    case "too_big":
      return `${showValue(issue.input)} is too large; expected at most ${String(issue.maximum)}`;
    case "invalid_value":
      return `${showValue(issue.input)} is not allowed; expected one of ${issue.values.map((value) => showValue(value)).join(", ")}`;
    default:
      return `${showValue(issue.input)} is invalid; expected a value as documented in infra/topology.yaml`;
  }
}
