/**
 * Every function of the merge language, listed explicitly (no registration by
 * import side effects). User code adds methods with `defineMethod`.
 */
import type { FunctionSpec } from "./spec.js";
import { specs as methods } from "./methods/index.js";
import { specs as blocks } from "./blocks.js";
import { specs as stacking } from "./stack.js";
import { specs as analysis } from "./analysis.js";
import { specs as builtins } from "./builtins.js";
import { specs as plots } from "./plot.js";
import { specs as evaluation } from "./eval/index.js";

const table = new Map<string, FunctionSpec>();
const extra: FunctionSpec[] = [];

function index(spec: FunctionSpec): void {
  for (const name of [spec.name, ...(spec.aliases ?? [])]) table.set(name, spec);
}
for (const spec of [...builtins, ...methods, ...blocks, ...stacking, ...analysis, ...plots, ...evaluation]) index(spec);

export function lookup(name: string): FunctionSpec | undefined {
  return table.get(name);
}

/** All callable names (including aliases), for completion and "did you mean". */
export function allNames(): string[] {
  return [...table.keys()];
}

export function allSpecs(): FunctionSpec[] {
  return [...new Set(table.values())];
}

/** Register a user-defined function (defineMethod from TypeScript). Replaces a same-named one. */
export function register(spec: FunctionSpec): void {
  extra.push(spec);
  index(spec);
}
