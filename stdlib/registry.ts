/**
 * Every function of the merge language, listed explicitly (no registration by
 * import side effects). User code adds methods with `defineMethod`.
 */
import { MergelabError } from "../core/errors.js";
import type { FunctionSpec } from "./spec.js";
import { specs as methods } from "./methods/index.js";
import { specs as blocks } from "./blocks.js";
import { specs as stacking } from "./stack.js";
import { specs as analysis } from "./analysis.js";
import { specs as builtins } from "./builtins.js";
import { specs as plots } from "./plot.js";
import { specs as evaluation } from "./eval/index.js";
import { specs as languageModels } from "./lm/specs.js";
import { specs as tables } from "./tables.js";
import { specs as lists } from "./lists.js";

const table = new Map<string, FunctionSpec>();
const extra: FunctionSpec[] = [];

/** Adds a spec under its name and aliases; a name already taken is an error unless `replace` (a user's redefinition). */
function index(spec: FunctionSpec, replace = false): void {
  const names = [spec.name, ...(spec.aliases ?? [])];
  for (const name of names) {
    const other = table.get(name);
    if (other && other !== spec && !(replace && extra.includes(other))) {
      throw new MergelabError(`a function named '${name}' is already registered (${other.name}, ${other.category})${replace ? ": built-in functions cannot be replaced" : ""}`);
    }
  }
  for (const name of names) table.set(name, spec);
}
for (const spec of [...builtins, ...lists, ...methods, ...blocks, ...stacking, ...analysis, ...plots, ...tables, ...evaluation, ...languageModels]) index(spec);

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

/**
 * Register a user-defined function (defineMethod from TypeScript). A name that is taken is an error;
 * `replace: true` lets a notebook cell that defines a method run again (built-ins are never replaced).
 */
export function register(spec: FunctionSpec, opts: { replace?: boolean } = {}): void {
  index(spec, opts.replace);
  extra.push(spec);
}
