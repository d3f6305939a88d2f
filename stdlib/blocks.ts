/**
 * Building blocks: the steps merge methods are made of, as language functions
 * on models (and lists of models), so a method can be prototyped as an
 * expression and still be fused and streamed like a built-in. Each block calls
 * the same graph builders as the methods (stdlib/methods/steps.ts), so e.g.
 *
 *   tv = trim(task_vectors(experts, base), k=0.2)
 *   base + disjoint_mean(tv, elect_sign(tv))        # == ties(experts, base=base, k=0.2), bit for bit
 *
 * Per-tensor statistics (norm, dot, cosine, quantile) return a model whose
 * every element of a tensor holds that tensor's statistic, so they combine
 * with models elementwise (`x / norm(x)`).
 */
import { MergelabError } from "../core/errors.js";
import type { Graph, Node } from "../engine/ir.js";
import { mapTensors, isModel, type ModelValue } from "../engine/model.js";
import { resolveParam, type Schedule, type TensorContext } from "../engine/param-schedule.js";
import type { Args, FunctionSpec, ParamSpec } from "./spec.js";
import type { Value } from "../core/values.js";
import { asModels } from "./methods/define.js";
import { checkArgument, checkRange } from "./check.js";
import * as P from "./methods/params.js";
import * as step from "./methods/steps.js";

type Num = number | Schedule;

/** A model, or a list of models, mapped one by one (the index keys random streams). */
function eachModel(v: Value | undefined, param: string, f: (m: ModelValue, i: number) => ModelValue): ModelValue | ModelValue[] {
  if (Array.isArray(v)) return asModels(v, param).map(f);
  return f(asModels([v as Value], param)[0], 0);
}

/** A per-tensor number parameter, range-checked for the tensor. */
function num(spec: ParamSpec, v: Value | undefined, t: TensorContext): number {
  const x = resolveParam(v as Num, t);
  checkRange(spec.name, x, spec.range, t.name);
  return x;
}

function checkNum(spec: ParamSpec, v: Value | undefined): void {
  checkArgument({ ...spec, schedulable: true }, v ?? null);
}

/** A vector node holding scalar s at every element (exact: where(x == x, s, s)). */
export const broadcast = (g: Graph, s: Node, like: Node): Node => g.where(g.binary("eq", like, like), s, s);

/** A model or number operand of an elementwise block. */
type Operand = { model?: ModelValue; value?: number };
function operand(v: Value | undefined, param: string): Operand {
  if (typeof v === "number") return { value: v };
  if (isModel(v)) return { model: v };
  throw new MergelabError(`${param}: expected a model or a number`, { param });
}

/** Elementwise block over model/number operands (at least one model). */
function elementwise(label: string, ops: Array<[Value | undefined, string]>, f: (g: Graph, xs: Array<Node | number>) => Node): ModelValue {
  const operands = ops.map(([v, name]) => operand(v, name));
  const models = operands.flatMap((o) => (o.model ? [o.model] : []));
  if (models.length === 0) throw new MergelabError(`${label}: needs at least one model argument`, { param: ops[0][1] });
  return mapTensors(
    models,
    (g, nodes) => {
      let j = 0;
      return f(g, operands.map((o) => (o.model ? nodes[j++] : (o.value as number))));
    },
    { label },
  );
}

/**
 * An elementwise block that is also the plain numeric function `scalar` when
 * every operand is a number (so abs(-0.5) is 0.5, as in any language).
 */
function elementwiseOrNumber(
  label: string,
  ops: Array<[Value | undefined, string]>,
  f: (g: Graph, xs: Array<Node | number>) => Node,
  scalar: (xs: number[]) => number,
): ModelValue | number {
  const values = ops.map(([v]) => v);
  if (values.every((v) => typeof v === "number")) return scalar(values as number[]);
  return elementwise(label, ops, f);
}

const modelOrList = (name: string, doc: string): ParamSpec => ({ name, type: ["model", "models"], required: true, doc });
const oneModel = (name: string, doc: string): ParamSpec => ({ name, type: "model", required: true, doc });
const modelOrNumber = (name: string, doc: string): ParamSpec => ({ name, type: ["model", "number"], required: true, doc });
/** sign with the graph's conventions: ±1, 0 for ±0, NaN stays NaN. */
const numericSign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN);

const kTrim = P.kParam();
const qParam: ParamSpec = { name: "q", type: ["number", "schedule"], default: 0.5, schedulable: true, range: { min: 0, max: 1 }, doc: "quantile in [0, 1]: 0 = min, 0.5 = median, 1 = max" };

function block(spec: Omit<FunctionSpec, "category">): FunctionSpec {
  return { ...spec, category: "block" };
}

export const specs: FunctionSpec[] = [
  block({
    name: "task_vector",
    doc: "Task vector of a fine-tuned model: d = x − base.",
    example: "d = task_vector(experts[0], base)",
    paper: { title: "Editing Models with Task Arithmetic (Ilharco et al., 2023)", url: "https://arxiv.org/abs/2212.04089" },
    params: [oneModel("x", "the fine-tuned model"), P.baseParam("the model it was fine-tuned from")],
    returns: "model",
    call: (a: Args) => {
      const [x, b] = [asModels([a.x as Value], "x")[0], asModels([a.base as Value], "base")[0]];
      return mapTensors([x, b], (g, [xn, bn]) => step.taskVector(g, xn, bn), { label: `task_vector(${x.label})` });
    },
  }),
  block({
    name: "task_vectors",
    doc: "Task vectors of several fine-tuned models: [x_i − base].",
    example: "tvs = task_vectors(experts, base)",
    paper: { title: "Editing Models with Task Arithmetic (Ilharco et al., 2023)", url: "https://arxiv.org/abs/2212.04089" },
    params: [P.expertsParam(), P.baseParam()],
    returns: "models",
    call: (a: Args) => {
      const b = asModels([a.base as Value], "base")[0];
      return asModels(a.xs, "xs").map((x) => mapTensors([x, b], (g, [xn, bn]) => step.taskVector(g, xn, bn), { label: `task_vector(${x.label})` }));
    },
  }),
  block({
    name: "trim",
    doc: "Magnitude trim (TIES): keep d where |d| ≥ the m-th largest |d| of its tensor, m = clamp(floor(k·n), 1, n) (ties kept); others become 0.",
    example: "trim(task_vectors(experts, base), k=0.2)",
    paper: { title: "TIES-Merging: Resolving Interference When Merging Models (Yadav et al., 2023)", url: "https://arxiv.org/abs/2306.01708" },
    params: [
      modelOrList("x", "a task vector or a list of them"), kTrim, P.tiesParam,
      { name: "rescale", type: "bool", default: false, doc: "scale the kept values so their L1 norm is the task vector's (mergekit's rescale: true; ties(..., rescale=true) per expert)" },
    ],
    returns: "any", // a model for a model, a list for a list
    call: (a: Args) => {
      checkNum(kTrim, a.k);
      const ties = (a.ties as string | undefined) ?? "keep";
      const rescale = (a.rescale as boolean | undefined) ?? false;
      return eachModel(a.x, "x", (m) =>
        mapTensors([m], (g, [d], t) => {
          const kept = step.trimWith(g, d, num(kTrim, a.k, t), t.numel, ties);
          return rescale ? step.rescaleL1(g, d, kept) : kept;
        }, { label: `trim(${m.label})` }));
    },
  }),
  block({
    name: "drop",
    doc: "DARE random drop and rescale: each element kept with probability 1 − p (then divided by 1 − p when rescale), else 0. The i-th model of a list draws from its own stream.",
    example: "drop(task_vectors(experts, base), p=0.9, seed=7)",
    paper: { title: "Language Models are Super Mario (Yu et al., 2024)", url: "https://arxiv.org/abs/2311.03099" },
    params: [modelOrList("x", "a task vector or a list of them"), P.pParam, P.seedParam, P.rescaleParam],
    returns: "any", // a model for a model, a list for a list
    call: (a: Args) => {
      checkNum(P.pParam, a.p);
      const seed = (a.seed as number | undefined) ?? 0;
      checkRange("seed", seed, P.seedParam.range);
      const rescale = (a.rescale as boolean | undefined) ?? true;
      return eachModel(a.x, "x", (m, i) =>
        mapTensors([m], (g, [d], t) => step.drop(g, d, num(P.pParam, a.p, t), seed, step.streamFor("drop", i), rescale), { label: `drop(${m.label})` }));
    },
  }),
  block({
    name: "trim_outliers",
    doc:
      "Model Breadcrumbs' mask: drop the top = min(floor(γ·n), n − m) largest |d| of each tensor (outliers) and keep the next " +
      "m = clamp(floor(k·n), 1, n); everything else becomes 0. γ·n < 1 drops no outlier.",
    example: "trim_outliers(task_vectors(experts, base), k=0.2, γ=0.01)",
    paper: { title: "Model Breadcrumbs (Davari & Belilovsky, 2024)", url: "https://arxiv.org/abs/2312.06795" },
    params: [
      modelOrList("x", "a task vector or a list of them"), kTrim, P.gammaParam,
      { name: "rescale", type: "bool", default: false, doc: "scale the kept values so their L1 norm is the task vector's (mergekit's rescale: true)" },
    ],
    returns: "any", // a model for a model, a list for a list
    call: (a: Args) => {
      checkNum(kTrim, a.k);
      checkNum(P.gammaParam, a["γ"]);
      const rescale = (a.rescale as boolean | undefined) ?? false;
      return eachModel(a.x, "x", (m) =>
        mapTensors([m], (g, [d], t) => {
          const k = num(kTrim, a.k, t);
          const kept = step.breadcrumbs(g, d, k, num(P.gammaParam, a["γ"], t), t.numel);
          return rescale && k < 1 ? step.rescaleL1(g, d, kept) : kept;
        }, { label: `trim_outliers(${m.label})` }));
    },
  }),
  block({
    name: "magprune",
    doc:
      "DELLA's MagPrune: keep each element with probability P = (k − ε) + 2ε·rank(|d|) (rank in [0, 1], exact up to 32 " +
      "elements, 32 quantile buckets above), divided by P when rescale. The i-th model of a list draws from its own stream.",
    example: "magprune(task_vectors(experts, base), k=0.3, ε=0.1, seed=7)",
    paper: { title: "DELLA-Merging (Deep et al., 2024)", url: "https://arxiv.org/abs/2406.11617" },
    params: [modelOrList("x", "a task vector or a list of them"), kTrim, P.epsilonParam, P.seedParam, P.rescaleParam],
    returns: "any", // a model for a model, a list for a list
    call: (a: Args) => {
      checkNum(kTrim, a.k);
      checkNum(P.epsilonParam, a["ε"]);
      const seed = (a.seed as number | undefined) ?? 0;
      checkRange("seed", seed, P.seedParam.range);
      const rescale = (a.rescale as boolean | undefined) ?? true;
      return eachModel(a.x, "x", (m, i) =>
        mapTensors([m], (g, [d], t) => {
          const k = num(kTrim, a.k, t);
          const e = num(P.epsilonParam, a["ε"], t);
          if (k - e < 0 || k + e > 1) throw new MergelabError(`magprune needs 0 ≤ k − ε and k + ε ≤ 1, got k = ${k}, ε = ${e}`, { param: "ε", tensor: t.name });
          return step.dellaSample(g, d, k, e, t.numel, seed, step.streamFor("della", i), rescale);
        }, { label: `magprune(${m.label})` }));
    },
  }),
  block({
    name: "elect_sign",
    doc: "TIES sign election: +1 where Σ w_i·τ_i ≥ 0, else −1.",
    example: "elect_sign(trim(task_vectors(experts, base)))",
    paper: { title: "TIES-Merging (Yadav et al., 2023)", url: "https://arxiv.org/abs/2306.01708" },
    params: [P.expertsParam("the (trimmed) task vectors"), P.weightsParam],
    returns: "model",
    call: (a: Args) => {
      const xs = asModels(a.xs, "xs");
      return mapTensors(xs, (g, taus, t) => step.electSign(g, weighted(g, taus, a.weights, t)), { label: "elect_sign" });
    },
  }),
  block({
    name: "disjoint_mean",
    doc:
      "TIES disjoint merge: Σ of the w_i·τ_i whose sign agrees with the elected sign γ (zeros never agree), " +
      "divided by the sum of the agreeing w_i when normalize. γ defaults to elect_sign(xs, weights).",
    example: "tv = trim(task_vectors(experts, base))\nbase + disjoint_mean(tv, elect_sign(tv))",
    paper: { title: "TIES-Merging (Yadav et al., 2023)", url: "https://arxiv.org/abs/2306.01708" },
    params: [
      P.expertsParam("the (trimmed) task vectors"),
      { name: "sign", type: "model", doc: "the elected sign (±1), e.g. elect_sign(xs)" },
      P.weightsParam,
      P.normalizeParam(true, "divide by the sum of the agreeing weights"),
    ],
    returns: "model",
    call: (a: Args) => {
      const xs = asModels(a.xs, "xs");
      const gamma = a.sign === undefined || a.sign === null ? undefined : asModels([a.sign as Value], "sign")[0];
      const normalize = (a.normalize as boolean | undefined) ?? true;
      return mapTensors(
        gamma ? [...xs, gamma] : xs,
        (g, nodes, t) => {
          const taus = nodes.slice(0, xs.length);
          const w = weighted(g, taus, a.weights, t);
          const weights = P.weightsFor(resolveWeights(a.weights, taus.length, t), taus.length).map((x) => Math.fround(x));
          return step.disjointMean(g, w, weights, gamma ? nodes[xs.length] : step.electSign(g, w), normalize);
        },
        { label: "disjoint_mean" },
      );
    },
  }),
  block({
    name: "sign",
    doc: "Elementwise sign: −1, 0 or +1 (NaN stays NaN). On a plain number, the number's sign.",
    example: "sign(task_vector(experts[0], base))",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("sign", [[a.x, "x"]], (g, [x]) => g.sign(x), ([x]) => numericSign(x)),
  }),
  block({
    name: "abs",
    doc: "Elementwise absolute value. On a plain number, its absolute value (abs(-0.5) = 0.5).",
    example: "abs(task_vector(experts[0], base))",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("abs", [[a.x, "x"]], (g, [x]) => g.abs(x), ([x]) => Math.abs(x)),
  }),
  block({
    name: "sin",
    doc: "Elementwise sine (radians), rounded to float32. On a plain number, its sine.",
    example: "sin(acos(tensor_cosine(a, b)))",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("sin", [[a.x, "x"]], (g, [x]) => g.unary("sin", x), ([x]) => Math.sin(x)),
  }),
  block({
    name: "acos",
    doc: "Elementwise arc cosine in [0, π] (NaN outside [−1, 1]), rounded to float32. On a plain number, its arc cosine.",
    example: "θ = acos(tensor_cosine(a, b))",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("acos", [[a.x, "x"]], (g, [x]) => g.unary("acos", x), ([x]) => Math.acos(x)),
  }),
  block({
    name: "sqrt",
    doc: "Elementwise square root (NaN below 0), rounded to float32. On a plain number, its square root (sqrt(2) = 1.414…).",
    example: "sqrt(norm(task_vector(experts[0], base)))",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("sqrt", [[a.x, "x"]], (g, [x]) => g.unary("sqrt", x), ([x]) => Math.sqrt(x)),
  }),
  block({
    name: "log",
    doc: "Elementwise natural logarithm (−Inf at 0, NaN below), rounded to float32. On a plain number, its natural log (log(x) / log(10) for log₁₀).",
    example: "log(0.5)",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("log", [[a.x, "x"]], (g, [x]) => g.unary("log", x), ([x]) => Math.log(x)),
  }),
  block({
    name: "exp",
    doc: "Elementwise eˣ, rounded to float32. On a plain number, eˣ.",
    example: "exp(-1)",
    params: [modelOrNumber("x", "a model or a number")],
    returns: "any",
    call: (a: Args) => elementwiseOrNumber("exp", [[a.x, "x"]], (g, [x]) => g.unary("exp", x), ([x]) => Math.exp(x)),
  }),
  block({
    name: "where",
    doc:
      "Elementwise choice: a where cond ≠ 0, else b (cond, a and b are models or numbers; NaN counts as true). " +
      "With numbers only, the number a or b.",
    example: "where(trim(d, k=0.1), d, 0.5 * d)",
    params: [
      { name: "cond", type: ["model", "number"], required: true, doc: "the condition (nonzero = true)" },
      { name: "a", type: ["model", "number"], required: true, doc: "value where cond holds" },
      { name: "b", type: ["model", "number"], required: true, doc: "value elsewhere" },
    ],
    returns: "any",
    call: (a: Args) =>
      elementwiseOrNumber("where", [[a.cond, "cond"], [a.a, "a"], [a.b, "b"]], (g, [c, x, y]) => g.where(c, x, y), ([c, x, y]) => (c !== 0 ? x : y)),
  }),
  block({
    name: "clamp",
    doc: "Elementwise clamp to [min, max] (either bound may be omitted). On a plain number, the clamped number.",
    example: "clamp(task_vector(experts[0], base), min=-0.1, max=0.1)",
    params: [
      modelOrNumber("x", "a model or a number"),
      { name: "min", type: "number", doc: "lower bound" },
      { name: "max", type: "number", doc: "upper bound" },
    ],
    returns: "any",
    call: (a: Args) => {
      const lo = a.min as number | undefined | null;
      const hi = a.max as number | undefined | null;
      if (typeof lo === "number" && typeof hi === "number" && lo > hi) throw new MergelabError(`clamp: min ${lo} is above max ${hi}`, { param: "min" });
      const clampNumber = ([x]: number[]) => {
        let y = x;
        if (typeof lo === "number") y = Math.max(y, lo);
        if (typeof hi === "number") y = Math.min(y, hi);
        return y;
      };
      return elementwiseOrNumber("clamp", [[a.x, "x"]], (g, [x]) => {
        let y = x as Node;
        if (typeof lo === "number") y = g.binary("max", y, lo);
        if (typeof hi === "number") y = g.binary("min", y, hi);
        return y;
      }, clampNumber);
    },
  }),
  block({
    name: "norm",
    doc: "Per-tensor L2 norm ‖x‖₂ (over the finite squares), at every element of the tensor.",
    example: "x / norm(x)",
    params: [oneModel("x", "a model")],
    returns: "model",
    call: (a: Args) => elementwise("norm", [[a.x, "x"]], (g, [x]) => broadcast(g, step.norm(g, x as Node), x as Node)),
  }),
  block({
    name: "dot",
    doc: "Per-tensor dot product Σ a·b (over the finite products), at every element of the tensor.",
    example: "dot(task_vector(experts[0], base), task_vector(experts[1], base))",
    params: [oneModel("a", "a model"), oneModel("b", "a model")],
    returns: "model",
    call: (a: Args) => elementwise("dot", [[a.a, "a"], [a.b, "b"]], (g, [x, y]) => broadcast(g, step.finiteDot(g, x as Node, y as Node), x as Node)),
  }),
  block({
    name: "tensor_cosine",
    doc:
      "Per-tensor cosine a·b / max(‖a‖‖b‖, 1e-6), clamped to [−1, 1], at every element of the tensor (a model; " +
      "slerp's and model_stock's angle). For one number over whole models: cosine(a, b).",
    example: "tensor_cosine(task_vector(experts[0], base), task_vector(experts[1], base))",
    params: [oneModel("a", "a model"), oneModel("b", "a model")],
    returns: "model",
    call: (a: Args) => elementwise("tensor_cosine", [[a.a, "a"], [a.b, "b"]], (g, [x, y]) => broadcast(g, step.cosine(g, x as Node, y as Node), x as Node)),
  }),
  block({
    name: "quantile",
    doc: "Per-tensor q-quantile by nearest rank (the m-th largest, m = 1 + round((1 − q)(n − 1)); NaNs ignored), at every element.",
    example: "d = task_vector(experts[0], base)\nd / quantile(abs(d), q=0.99)",
    params: [oneModel("x", "a model"), qParam],
    returns: "model",
    call: (a: Args) => {
      checkNum(qParam, a.q ?? 0.5);
      const x = asModels([a.x as Value], "x")[0];
      return mapTensors([x], (g, [n], t) => broadcast(g, step.quantile(g, n, num(qParam, a.q ?? 0.5, t), t.numel), n), { label: "quantile" });
    },
  }),
];

/** Per-tensor weights (a number, a schedule or a per-model list) or undefined. */
function resolveWeights(v: Value | undefined, count: number, t: TensorContext): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) {
    if (v.length !== count) throw new MergelabError(`weights: ${v.length} values for ${count} models`, { param: "weights" });
    return v.map((w) => resolveParam(w as Num, t));
  }
  return new Array<number>(count).fill(resolveParam(v as Num, t));
}

/** w_i·τ_i for the block's weights argument. */
function weighted(g: Graph, taus: readonly Node[], weights: Value | undefined, t: TensorContext): Node[] {
  const w = P.weightsFor(resolveWeights(weights, taus.length, t), taus.length).map((x) => Math.fround(x)); // float32, as in the methods
  return taus.map((tau, i) => step.scale(g, tau, w[i]));
}
