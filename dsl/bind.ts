/**
 * Binding call arguments to a FunctionSpec: positional then keyword (by name
 * or alias), defaults, required, types, ranges, choices, schedules and
 * per-model lists — all from the spec's data, before the call runs. Every
 * problem of one call is reported (each at the argument at fault).
 */
import type { Args, FunctionSpec, ParamSpec, ParamType } from "../stdlib/spec.js";
import type { Value } from "../core/values.js";
import { checkParam, formatRange } from "../stdlib/check.js";
import type { Span } from "./diagnostics.js";
import { didYouMean } from "../core/suggest.js";
import { isPoison } from "./values.js";

export interface ArgValue {
  name?: string;
  nameSpan?: Span;
  value: Value;
  span: Span;
}

export interface BindError {
  message: string;
  span: Span;
}

export interface Bound {
  args: Args;
  errors: BindError[];
  /** The argument span for each bound parameter (for errors the call raises later). */
  spans: Map<string, Span>;
  /** Some argument is an error value: do not run the call. */
  poisoned: boolean;
}

const typesOf = (p: ParamSpec): ParamType[] => (Array.isArray(p.type) ? p.type : [p.type]);

export function bindCall(spec: FunctionSpec, argv: readonly ArgValue[], callSpan: Span): Bound {
  const args: Args = {};
  const errors: BindError[] = [];
  const spans = new Map<string, Span>();
  const fname = `${spec.name}()`;
  let poisoned = false;
  // parameters after a rest parameter are keyword-only (print(a, b, sep=", "))
  const restAt = spec.params.findIndex((p) => p.rest);
  const positional = restAt < 0 ? spec.params : spec.params.slice(0, restAt);
  const rest = spec.params[restAt];
  let pos = 0;
  let unknownKeyword = false;
  for (const a of argv) {
    if (isPoison(a.value)) poisoned = true;
    if (a.name === undefined) {
      if (pos < positional.length) {
        const p = positional[pos++]!;
        args[p.name] = a.value;
        spans.set(p.name, a.span);
      } else if (rest) {
        ((args[rest.name] ??= []) as Value[]).push(a.value);
        if (!spans.has(rest.name)) spans.set(rest.name, a.span);
      } else {
        errors.push({ message: `${fname} takes ${positional.length} positional argument${positional.length === 1 ? "" : "s"} but more were given`, span: a.span });
      }
      continue;
    }
    const p = spec.params.find((q) => q.name === a.name || q.aliases?.includes(a.name!));
    if (!p) {
      const names = spec.params.flatMap((q) => [q.name, ...(q.aliases ?? [])]);
      errors.push({ message: `${fname} has no parameter '${a.name}'${didYouMean(a.name, names)}`, span: a.nameSpan ?? a.span });
      unknownKeyword = true;
      continue;
    }
    if (p.rest) {
      errors.push({ message: `${fname} takes its ${p.name} as positional arguments (${spec.name}(a, b, …)), not as ${a.name}=…`, span: a.nameSpan ?? a.span });
      continue;
    }
    if (spans.has(p.name)) {
      errors.push({ message: `${fname} got two values for '${p.name}'`, span: a.nameSpan ?? a.span });
      continue;
    }
    args[p.name] = a.value;
    spans.set(p.name, a.span);
  }
  if (rest && args[rest.name] === undefined) args[rest.name] = [];
  for (const p of spec.params) {
    if (args[p.name] !== undefined) continue;
    if (p.default !== undefined) args[p.name] = p.default;
    // a misspelled keyword already explains a missing argument
    else if (p.required && !unknownKeyword) errors.push({ message: `${fname} is missing the argument '${p.name}'`, span: callSpan });
  }
  const modelCount = countModels(spec, args);
  for (const p of spec.params) {
    const span = spans.get(p.name);
    const v = args[p.name];
    if (span === undefined || v === undefined || isPoison(v) || (Array.isArray(v) && v.some(isPoison))) continue;
    const problem = checkParam(p, v, modelCount);
    if (problem) errors.push({ message: `${fname}: ${problem}`, span });
  }
  errors.sort((x, y) => x.span.offset - y.span.offset);
  return { args, errors, spans, poisoned };
}

/** Number of models in the call's list-of-models parameter (for per-model lists), if known. */
function countModels(spec: FunctionSpec, args: Args): number | undefined {
  for (const p of spec.params) {
    const v = args[p.name];
    if (typesOf(p).includes("models") && Array.isArray(v)) return v.length;
  }
  return undefined;
}

/** A readable signature from a spec: `ties(xs, base, k=0.2, λ=1, …)`. */
export function signature(spec: FunctionSpec): string {
  const params = spec.params.map((p) => {
    if (p.rest) return `${p.name}...`;
    if (p.default !== undefined) return `${p.name}=${formatDefault(p.default)}`;
    return p.required ? p.name : `${p.name}=none`;
  });
  return `${spec.name}(${params.join(", ")})`;
}

function formatDefault(v: Value): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "none";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) return `[${v.map(formatDefault).join(", ")}]`;
  return String(v);
}

export function describeParam(p: ParamSpec): string {
  const t = typesOf(p).join(" | ") + (p.schedulable && !typesOf(p).includes("schedule") ? " | schedule" : "");
  const parts = [`${p.name}${p.aliases?.length ? ` (also ${p.aliases.join(", ")})` : ""}: ${t}`];
  if (p.required) parts.push("required");
  else if (p.default !== undefined) parts.push(`default ${formatDefault(p.default)}`);
  if (p.range) parts.push(`in ${formatRange(p.range)}`);
  if (p.choices) parts.push(`one of ${p.choices.map((c) => JSON.stringify(c)).join(", ")}`);
  if (p.perModel) parts.push("or one per model");
  return `${parts.join(", ")} — ${p.doc}`;
}
