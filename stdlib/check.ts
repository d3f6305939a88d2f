/**
 * The one argument validator: whether a value fits a parameter's declared type, range and choices, and
 * the one message format for each problem (`k must be in (0, 1], got 1.5`). The language's binder
 * (dsl/bind.ts) reports these at the argument's location before a call runs; method and block
 * implementations call `checkRange` for values known only per tensor (schedules), with the same words.
 */
import { MergelabError } from "../core/errors.js";
import { didYouMean } from "../core/suggest.js";
import { Dict, Table, isCallable, type Value } from "../core/values.js";
import { isModel } from "../engine/model.js";
import { isSchedule, LayerSchedule, MatchSchedule, type Schedule } from "../engine/param-schedule.js";
import type { ParamSpec, ParamType, Range } from "./spec.js";

export const typesOf = (p: ParamSpec): ParamType[] => (Array.isArray(p.type) ? p.type : [p.type]);

/** The user-facing type name of a value, for messages. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "none";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "list";
  if (v instanceof Dict) return "dict";
  if (v instanceof Table) return "table";
  if (isModel(v)) return "model";
  if (isSchedule(v as Schedule)) return "schedule";
  if (isCallable(v)) return "function";
  const ctor = (v as object).constructor?.name;
  return ctor ? ctor.toLowerCase() : "object";
}

/** `a number (2)`, `a list of 3`, `a model`... */
export function describeValue(v: unknown): string {
  const t = typeName(v);
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)})`;
  if (typeof v === "number") return `a number (${v})`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/** Why `v` does not fit `p`, or undefined. */
export function checkParam(p: ParamSpec, v: Value, modelCount?: number): string | undefined {
  const types = typesOf(p);
  const infinite = nonFinite(p, v);
  if (infinite !== undefined) return `${p.name} must be finite, got ${infinite}`;
  if (p.rest) {
    const bad = (v as Value[]).find((x) => !types.some((t) => fits(t, x)));
    return bad === undefined ? undefined : `${p.name} must be ${typeList(types)}, got ${describeValue(bad)}`;
  }
  if (p.perModel && Array.isArray(v)) {
    if (modelCount !== undefined && v.length !== modelCount) return `${p.name} has ${v.length} values for ${modelCount} models`;
    for (const x of v) {
      if (typeof x !== "number" && !isSchedule(x)) return `${p.name} must hold numbers, got ${describeValue(x)}`;
      const r = rangeProblem(p, x);
      if (r) return r;
    }
    return undefined;
  }
  const ok = types.some((t) => fits(t, v)) || (p.schedulable && isSchedule(v));
  if (!ok) {
    if (types.includes("models") && Array.isArray(v)) {
      const i = v.findIndex((x) => !isModel(x));
      return `${p.name} must be a list of models, but item ${i} is ${describeValue(v[i])}`;
    }
    return `${p.name} must be ${typeList(types)}, got ${describeValue(v)}`;
  }
  if (types.includes("models") && Array.isArray(v) && v.length === 0) return `${p.name} is an empty list (needs at least one model)`;
  if (p.choices && typeof v === "string" && !p.choices.includes(v)) {
    return `${p.name} must be one of ${p.choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(v)}${didYouMean(v, p.choices)}`;
  }
  return rangeProblem(p, v);
}

/** A non-finite number among a numeric parameter's values (a number, a per-model list, a schedule), if any. */
function nonFinite(p: ParamSpec, v: Value): number | undefined {
  const types = typesOf(p);
  if (p.data) return undefined;
  if (!(types.includes("number") || types.includes("int") || types.includes("schedule") || types.includes("list") || p.perModel || p.schedulable)) return undefined;
  const items = Array.isArray(v) ? (v as Value[]) : [v];
  for (const x of items) for (const n of scheduleValues(x)) if (!Number.isFinite(n)) return n;
  return undefined;
}

function rangeProblem(p: ParamSpec, v: Value): string | undefined {
  if (!p.range) return undefined;
  for (const x of scheduleValues(v)) {
    const problem = numberProblem(p.name, x, p.range);
    if (problem) return problem;
  }
  return undefined;
}

/** The one range message: `k must be in (0, 1], got 1.5`. */
function numberProblem(name: string, x: number, r: Range | undefined): string | undefined {
  if (Number.isNaN(x)) return `${name} must be a number, got nan`;
  if (!Number.isFinite(x)) return `${name} must be finite, got ${x}`;
  if (r && !inRange(x, r)) return `${name} must be in ${formatRange(r)}, got ${x}`;
  return undefined;
}

/**
 * A number known only now (a schedule resolved for one tensor, a computed value): throws the same
 * message as the binder, naming the tensor when there is one.
 */
export function checkRange(name: string, v: number, r: Range | undefined, tensor?: string): void {
  const problem = numberProblem(name, v, r);
  if (problem) throw new MergelabError(tensor ? `${problem} (for tensor '${tensor}')` : problem, { param: name, tensor });
}

/** Throws the binder's message for an argument that does not fit its parameter (calls from TypeScript). */
export function checkArgument(p: ParamSpec, v: Value, modelCount?: number): void {
  const problem = checkParam(p, v, modelCount);
  if (problem) throw new MergelabError(problem, { param: p.name });
}

/** The numbers a value takes: itself, or every value a schedule can take (layers() interpolates between them). */
function scheduleValues(v: Value): number[] {
  if (typeof v === "number") return [v];
  if (v instanceof LayerSchedule) return [...v.values];
  if (v instanceof MatchSchedule) return [...v.entries.map(([, x]) => x), v.fallback].flatMap((x) => scheduleValues(x as Value));
  return [];
}

export function inRange(x: number, r: Range): boolean {
  if (Number.isNaN(x)) return false;
  if (r.min !== undefined && (r.minExclusive ? x <= r.min : x < r.min)) return false;
  if (r.max !== undefined && (r.maxExclusive ? x >= r.max : x > r.max)) return false;
  return true;
}

export function formatRange(r: Range): string {
  const lo = r.min === undefined ? "(-inf" : `${r.minExclusive ? "(" : "["}${r.min}`;
  const hi = r.max === undefined ? "inf)" : `${r.max}${r.maxExclusive ? ")" : "]"}`;
  return `${lo}, ${hi}`;
}

export function fits(t: ParamType, v: Value): boolean {
  switch (t) {
    case "number":
      return typeof v === "number";
    case "int":
      return typeof v === "number" && Number.isInteger(v);
    case "string":
      return typeof v === "string";
    case "bool":
      return typeof v === "boolean";
    case "model":
      return isModel(v);
    case "models":
      return isModel(v) || (Array.isArray(v) && v.every(isModel));
    case "list":
      return Array.isArray(v);
    case "dict":
      return v instanceof Dict;
    case "schedule":
      return isSchedule(v as Schedule);
    case "table":
      return v instanceof Table;
    case "function":
      return isCallable(v);
    case "any":
      return true;
  }
}

const article: Record<ParamType, string> = {
  number: "a number",
  int: "an integer",
  string: "a string",
  bool: "true or false",
  model: "a model",
  models: "a list of models",
  list: "a list",
  dict: "a dict",
  schedule: "a schedule (layers(...) or match(...))",
  table: "a table",
  function: "a function",
  any: "a value",
};

export function typeList(types: ParamType[]): string {
  const words = types.map((t) => article[t]);
  return words.length <= 1 ? (words[0] ?? "a value") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

