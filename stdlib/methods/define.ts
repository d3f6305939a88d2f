/**
 * One way to declare a merge method, for the built-ins and for users
 * (`defineMethod` from TypeScript): a spec the language checks, completes,
 * documents and explains, plus an expander `compute(g, inputs, t, params)`
 * that builds one output tensor's plan nodes. Model parameters become the
 * expander's input nodes; every other parameter is resolved per tensor
 * (schedules → numbers, per-model lists → arrays) and range-checked.
 */
import { MergelabError } from "../../core/errors.js";
import type { Graph, Node } from "../../engine/ir.js";
import { mapTensors, isModel, type MergeStep, type ModelValue } from "../../engine/model.js";
import { isSchedule, resolveParam, type Schedule, type TensorContext } from "../../engine/param-schedule.js";
import type { Args, CallContext, Category, FunctionSpec, ParamSpec } from "../spec.js";
import type { Value } from "../../core/values.js";
import { formatValue } from "../../core/present.js";
import { checkArgument, checkRange, describeValue, typesOf } from "../check.js";

/** Input nodes by parameter name: a node for a `model` parameter, a list for `models`. */
export type Inputs = Record<string, Node | Node[] | undefined>;
/** Resolved parameter values for one tensor. */
export type Params = Record<string, number | number[] | string | boolean | Value | undefined>;

/** What one call knows beyond its arguments (e.g. to key model-wide statistics). */
export interface CallInfo {
  /** Unique per call: distinguishes the model-scope statistics of two calls. */
  id: string;
  models: Record<string, ModelValue | ModelValue[] | undefined>;
}

export interface MethodDefinition {
  name: string;
  aliases?: string[];
  doc: string;
  example: string;
  paper?: { title: string; url: string };
  category?: Category;
  params: ParamSpec[];
  /**
   * The model parameter outputs follow: its non-float tensors are carried
   * through, its dtypes and non-weight files are the output's. Default: `base`
   * when the method has one, else the first model parameter.
   */
  primary?: string;
  /** Cross-parameter checks on the bound arguments, before any tensor is touched (throw MergelabError with `param`). */
  check?(args: Args, models: CallInfo["models"]): void;
  compute(g: Graph, inputs: Inputs, t: TensorContext, params: Params, call: CallInfo): Node;
}

const isModelType = (p: ParamSpec) => typesOf(p).some((x) => x === "model" || x === "models");

/** A list of models from a `models` argument (a single model is a list of one). */
export function asModels(v: Value | undefined, param: string): ModelValue[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new MergelabError(`${param}: needs at least one model`, { param });
  for (const m of list) {
    if (!isModel(m)) throw new MergelabError(`${param}: expected a model, got ${describeValue(m)}`, { param });
  }
  return list as ModelValue[];
}

/** A number or schedule resolved for tensor t and range-checked. */
function resolveNumber(p: ParamSpec, v: number | Schedule, t: TensorContext): number {
  const x = resolveParam(v, t);
  checkRange(p.name, x, p.range, t.name);
  return x;
}

function resolveValue(p: ParamSpec, v: Value | undefined, t: TensorContext, count: number): Params[string] {
  if (typeof v === "number" || isSchedule(v)) {
    const x = resolveNumber(p, v as number | Schedule, t);
    return p.perModel ? new Array<number>(count).fill(x) : x;
  }
  if (p.perModel && Array.isArray(v)) {
    if (v.length !== count) {
      throw new MergelabError(`${p.name} has ${v.length} values for ${count} models`, { param: p.name });
    }
    return v.map((x) => resolveNumber(p, x as number | Schedule, t));
  }
  return v;
}

/** Up-front checks of the arguments that do not depend on the tensor: the one validator's rules. */
function checkArgs(def: MethodDefinition, args: Args): void {
  for (const p of def.params) {
    const v = args[p.name];
    if (v === undefined || v === null) {
      if (p.required) throw new MergelabError(`${def.name}() is missing the argument '${p.name}'`, { param: p.name });
      continue;
    }
    if (!isModelType(p)) checkArgument(p, v);
  }
}

let calls = 0;

/** Apply a method definition to bound arguments: the lazy output model. */
export function applyMethod(def: MethodDefinition, args: Args): ModelValue {
  checkArgs(def, args);
  const modelParams = def.params.filter(isModelType);
  const models: CallInfo["models"] = {};
  const flat: ModelValue[] = [];
  const slots: Array<{ name: string; list: boolean; start: number; count: number }> = [];
  for (const p of modelParams) {
    const v = args[p.name];
    if (v === undefined || v === null) continue;
    const list = typesOf(p).includes("models") && !(typesOf(p).includes("model") && isModel(v));
    const ms = list ? asModels(v, p.name) : asModels([v as Value], p.name);
    models[p.name] = list ? ms : ms[0];
    slots.push({ name: p.name, list, start: flat.length, count: ms.length });
    flat.push(...ms);
  }
  if (flat.length === 0) throw new MergelabError(`${def.name}: no models given`);
  def.check?.(args, models);
  const count = Math.max(...slots.filter((s) => s.list).map((s) => s.count), 1);
  for (const p of def.params) {
    const v = args[p.name];
    if (p.perModel && Array.isArray(v) && v.length !== count) {
      throw new MergelabError(`${p.name} has ${v.length} values for ${count} models`, { param: p.name });
    }
  }
  const call: CallInfo = { id: `${def.name}#${calls++}`, models };
  const label = `${def.name}(${slots.map((s) => (s.list ? `[${(models[s.name] as ModelValue[]).map((m) => m.label).join(", ")}]` : (models[s.name] as ModelValue).label)).join(", ")})`;
  const primaryName = def.primary ?? (models.base ? "base" : slots[0].name);
  const primary = slots.find((s) => s.name === primaryName) ?? slots[0];
  return mapTensors(
    flat,
    (g, nodes, t) => {
      const inputs: Inputs = {};
      for (const s of slots) inputs[s.name] = s.list ? nodes.slice(s.start, s.start + s.count) : nodes[s.start];
      const params: Params = {};
      for (const p of def.params) if (!isModelType(p)) params[p.name] = resolveValue(p, args[p.name], t, count);
      return def.compute(g, inputs, t, params, call);
    },
    { label, carryFrom: primary.start, origin: flat[primary.start].origin, step: stepOf(def, args, models) },
  );
}

/** The call as the model card shows it: models by label, every other argument spelled as in the language. */
function stepOf(def: MethodDefinition, args: Args, models: CallInfo["models"]): MergeStep {
  const base = models.base;
  const merged = Object.entries(models).filter(([k]) => k !== "base").flatMap(([, v]) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  return {
    name: def.name,
    kind: (def.category ?? "method") === "method" ? "method" : "block",
    paper: def.paper,
    models: merged.map((m) => m.label),
    base: base && !Array.isArray(base) ? base.label : undefined,
    params: def.params.filter((p) => !isModelType(p) && args[p.name] !== undefined && args[p.name] !== null).map((p) => [p.name, formatValue(args[p.name], true)] as const),
  };
}

/** The FunctionSpec of a method definition (what the registry lists). */
export function methodSpec(def: MethodDefinition): FunctionSpec {
  return {
    name: def.name,
    aliases: def.aliases,
    category: def.category ?? "method",
    doc: def.doc,
    example: def.example,
    paper: def.paper,
    params: def.params,
    returns: "model",
    call: (args) => applyMethod(def, args),
  };
}

/**
 * Call a spec from TypeScript with named arguments (aliases accepted, defaults
 * filled): `invoke(spec, {xs, base, lambda: 0.5})`. What the interpreter does
 * for a script call, minus source locations.
 */
export function invoke(spec: FunctionSpec, named: Record<string, Value | undefined>, ctx?: Partial<CallContext>): ReturnType<FunctionSpec["call"]> {
  const args: Args = {};
  for (const [key, v] of Object.entries(named)) {
    const p = spec.params.find((q) => q.name === key || q.aliases?.includes(key));
    if (!p) throw new MergelabError(`${spec.name}: unknown argument '${key}'`, { param: key });
    if (args[p.name] !== undefined) throw new MergelabError(`${spec.name}: ${p.name} given twice`, { param: p.name });
    args[p.name] = v;
  }
  for (const p of spec.params) if (args[p.name] === undefined && p.default !== undefined) args[p.name] = p.default;
  const full: CallContext = {
    cwd: process.cwd(), dryRun: false, stdout: (s) => process.stdout.write(s), display: () => {}, options: {}, ...ctx,
  };
  return spec.call(args, full);
}
