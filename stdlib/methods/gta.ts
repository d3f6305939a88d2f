/**
 * Generalized task arithmetic (mergekit's good idea): task_arithmetic, ties,
 * dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della and
 * della_linear are rows of one method — a sparsifier applied to each task
 * vector, then a consensus rule:
 *
 *   d_i = x_i − b,  τ_i = sparsify(d_i),  u_i = w_i·τ_i
 *   sum:   δ = Σ u_i            (÷ Σ w_i when normalize)
 *   ties:  γ = sign⁺(Σ u_i);  δ = Σ_{sign u_i = γ} u_i  (÷ Σ_{agreeing} w_i when normalize)
 *   result = b + λ·δ
 */
import { MergelabError } from "../../core/errors.js";
import type { Graph, Node } from "../../engine/ir.js";
import type { ModelValue } from "../../engine/model.js";
import { isSchedule, type TensorContext } from "../../engine/param-schedule.js";
import { isComputedFloat } from "../../io/dtypes.js";
import type { FunctionSpec, ParamSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

export type Sparsifier = "none" | "trim" | "drop" | "breadcrumbs" | "della";
export type Consensus = "sum" | "ties";

export interface Variant {
  name: string;
  sparsify: Sparsifier;
  consensus: Consensus;
  /** Default of `normalize`. */
  normalize: boolean;
}

export const VARIANTS: readonly Variant[] = [
  { name: "task_arithmetic", sparsify: "none", consensus: "sum", normalize: false },
  { name: "ties", sparsify: "trim", consensus: "ties", normalize: true },
  { name: "dare_linear", sparsify: "drop", consensus: "sum", normalize: false },
  { name: "dare_ties", sparsify: "drop", consensus: "ties", normalize: true },
  { name: "breadcrumbs", sparsify: "breadcrumbs", consensus: "sum", normalize: false },
  { name: "breadcrumbs_ties", sparsify: "breadcrumbs", consensus: "ties", normalize: true },
  { name: "della", sparsify: "della", consensus: "ties", normalize: true },
  { name: "della_linear", sparsify: "della", consensus: "sum", normalize: false },
];

/** Parameters after per-tensor resolution (schedules are numbers here). */
export interface GtaParams {
  k: number;
  p: number;
  gamma: number;
  epsilon: number;
  lambda: number;
  weights: number[];
  normalize: boolean;
  rescale: boolean;
  seed: number;
  /** Trim: scale the kept values to the task vector's L1 norm (mergekit's rescale for magnitude trims). */
  rescaleL1?: boolean;
  /** Trim ties at the threshold: "keep" them all (default), or keep exactly m, lowest index first ("index", mergekit). */
  ties?: string;
  /** TIES scope="model": expert i's trim threshold is the m[i]-th largest |d_i| over all its tensors (kthModel keyed by key(i)). */
  modelScope?: { key: (i: number) => string; m: readonly number[] };
}

/** Sparsify the task vector of expert i. */
export function sparsify(g: Graph, kind: Sparsifier, d: Node, i: number, t: TensorContext, p: GtaParams): Node {
  switch (kind) {
    case "none":
      return d;
    case "trim":
      if (p.modelScope && p.k < 1) return step.keepAtLeast(g, d, g.kthModel(p.modelScope.key(i), g.abs(d), p.modelScope.m[i]));
      return p.rescaleL1 ? step.rescaleL1(g, d, step.trimWith(g, d, p.k, t.numel, p.ties)) : step.trimWith(g, d, p.k, t.numel, p.ties);
    case "drop":
      return step.drop(g, d, p.p, p.seed, step.streamFor("drop", i), p.rescale);
    case "breadcrumbs":
      return step.breadcrumbs(g, d, p.k, p.gamma, t.numel);
    case "della":
      return step.dellaSample(g, d, p.k, p.epsilon, t.numel, p.seed, step.streamFor("della", i), p.rescale);
  }
}

/** The merged delta δ from the (sparsified) task vectors. */
export function consensus(g: Graph, kind: Consensus, taus: readonly Node[], p: GtaParams): Node {
  // weights are float32 values (mergekit: torch.tensor(weights, dtype=float32))
  const w = p.weights.map((x) => Math.fround(x));
  const weighted = taus.map((tau, i) => step.scale(g, tau, w[i]));
  if (kind === "sum") {
    const total = step.sumOf(g, weighted);
    return p.normalize ? step.normalizeBy(g, total, w) : total;
  }
  return step.disjointMean(g, weighted, w, step.electSign(g, weighted), p.normalize);
}

/** The expander of one variant: inputs are the base and the experts' tensors. */
export function gtaExpand(v: Variant) {
  return (g: Graph, base: Node, experts: readonly Node[], t: TensorContext, p: GtaParams): Node => {
    const taus = experts.map((x, i) => sparsify(g, v.sparsify, step.taskVector(g, x, base), i, t, p));
    return step.applyDelta(g, base, consensus(g, v.consensus, taus, p), p.lambda);
  };
}

// ---------------------------------------------------------------- the rows as language functions

const PAPERS = {
  taskArithmetic: { title: "Editing Models with Task Arithmetic (Ilharco et al., 2023)", url: "https://arxiv.org/abs/2212.04089" },
  ties: { title: "TIES-Merging: Resolving Interference When Merging Models (Yadav et al., 2023)", url: "https://arxiv.org/abs/2306.01708" },
  dare: { title: "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch (Yu et al., 2024)", url: "https://arxiv.org/abs/2311.03099" },
  breadcrumbs: { title: "Model Breadcrumbs: Scaling Multi-Task Model Merging with Sparse Masks (Davari & Belilovsky, 2024)", url: "https://arxiv.org/abs/2312.06795" },
  della: { title: "DELLA-Merging: Reducing Interference in Model Merging through Magnitude-Based Sampling (Deep et al., 2024)", url: "https://arxiv.org/abs/2406.11617" },
};

const CONSENSUS_DOC: Record<Consensus, string> = {
  sum: "δ = Σ w_i·τ_i (÷ Σ w_i when normalize); result = base + λ·δ",
  ties:
    "sign election γ = +1 where Σ w_i·τ_i ≥ 0 else −1; disjoint mean δ = Σ over agreeing experts (sign(w_i·τ_i) = γ) of w_i·τ_i, " +
    "÷ Σ of their w_i when normalize; result = base + λ·δ",
};

const ROWS: Record<string, { doc: string; example: string; paper: { title: string; url: string } }> = {
  task_arithmetic: {
    doc: "Task arithmetic: task vectors d_i = x_i − base are added up. ",
    example: 'task_arithmetic(experts, base=base, λ=0.5)',
    paper: PAPERS.taskArithmetic,
  },
  ties: {
    doc: "TIES: trim each task vector to its largest-magnitude fraction k (keep |d_i| ≥ the m-th largest, ties kept), then ",
    example: 'ties(experts, base=base, k=0.2, λ=1)',
    paper: PAPERS.ties,
  },
  dare_linear: {
    doc: "DARE: drop each task-vector element with probability p and divide the kept ones by 1 − p, then ",
    example: 'dare_linear(experts, base=base, p=0.9, seed=7)',
    paper: PAPERS.dare,
  },
  dare_ties: {
    doc: "DARE-TIES: DARE's random drop and rescale in place of TIES' trim, then ",
    example: 'dare_ties(experts, base=base, p=0.9, λ=1, seed=7)',
    paper: PAPERS.dare,
  },
  breadcrumbs: {
    doc: "Model Breadcrumbs: drop the floor(γ·n) largest |d_i| (outliers) and keep the next m = floor(k·n), then ",
    example: 'breadcrumbs(experts, base=base, k=0.2, γ=0.01)',
    paper: PAPERS.breadcrumbs,
  },
  breadcrumbs_ties: {
    doc: "Model Breadcrumbs with the TIES vote: drop the floor(γ·n) largest |d_i|, keep the next m = floor(k·n), then ",
    example: 'breadcrumbs_ties(experts, base=base, k=0.2, γ=0.01)',
    paper: PAPERS.breadcrumbs,
  },
  della: {
    doc: "DELLA: keep each element with a probability rising with its magnitude rank from k − ε to k + ε, divide kept ones by it, then ",
    example: 'della(experts, base=base, k=0.3, ε=0.1, seed=7)',
    paper: PAPERS.della,
  },
  della_linear: {
    doc: "DELLA without the vote: magnitude-ranked random keep (k ± ε) and rescale, then ",
    example: 'della_linear(experts, base=base, k=0.3, ε=0.1, seed=7)',
    paper: PAPERS.della,
  },
};

function sparsifierParams(kind: Sparsifier, name: string): ParamSpec[] {
  switch (kind) {
    case "none":
      return [];
    case "trim":
      return [
        P.kParam(),
        {
          name: "scope", type: "string", default: "tensor", choices: ["tensor", "model"],
          doc: 'where the trim threshold is taken: per tensor, or "model": one threshold per expert over all its tensors (the TIES reference code)',
        },
        P.tiesParam,
        { name: "rescale", type: "bool", default: false, doc: "scale the kept values so their L1 norm is the task vector's (mergekit's rescale: true)" },
      ];
    case "drop":
      return [P.pParam, P.seedParam, P.rescaleParam];
    case "breadcrumbs":
      return [P.kParam("fraction of each task vector kept after the outliers, m = clamp(floor(k·n), 1, n)"), P.gammaParam];
    case "della":
      return [P.kParam(`mean keep probability of ${name}'s magnitude-ranked sampling`), P.epsilonParam, P.seedParam, P.rescaleParam];
  }
}

/** Float elements of a model (what a model-scope statistic counts). */
function floatNumel(m: ModelValue): number {
  let n = 0;
  for (const t of m.tensors.values()) if (isComputedFloat(t.dtype)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

export function gtaDefinition(v: Variant): MethodDefinition {
  const row = ROWS[v.name];
  const expand = gtaExpand(v);
  return {
    name: v.name,
    doc: row.doc + CONSENSUS_DOC[v.consensus] + ".",
    example: row.example,
    paper: row.paper,
    params: [
      P.expertsParam(),
      P.baseParam(),
      ...sparsifierParams(v.sparsify, v.name),
      P.lambdaParam,
      P.weightsParam,
      P.normalizeParam(v.normalize, v.consensus === "ties" ? "divide by the sum of the agreeing experts' weights" : "divide by Σ w_i"),
    ],
    check(args) {
      if (args.scope === "model" && args.ties === "index") {
        throw new MergelabError('ties="index" is per tensor (mergekit\'s trim); scope="model" keeps every tie', { param: "ties" });
      }
      if (args.scope === "model" && isSchedule(args.k)) {
        throw new MergelabError('k must be one number with scope="model" (one threshold per expert over all tensors)', { param: "k" });
      }
      if (v.sparsify === "della" && typeof args.k === "number" && typeof args["ε"] === "number") {
        const k = args.k, e = args["ε"];
        if (k - e < 0 || k + e > 1) {
          throw new MergelabError(`della needs 0 ≤ k − ε and k + ε ≤ 1 (keep probabilities), got k = ${k}, ε = ${e}`, { param: "ε" });
        }
      }
    },
    compute(g, inputs, t, params, call) {
      const experts = inputs.xs as Node[];
      const p: GtaParams = {
        k: (params.k as number) ?? 1,
        p: (params.p as number) ?? 0,
        gamma: (params["γ"] as number) ?? 0,
        epsilon: (params["ε"] as number) ?? 0,
        lambda: params["λ"] as number,
        weights: P.weightsFor(params.weights, experts.length),
        normalize: params.normalize as boolean,
        rescale: (params.rescale as boolean | undefined) ?? true,
        seed: (params.seed as number) ?? 0,
        ties: params.ties as string | undefined,
        rescaleL1: v.sparsify === "trim" && params.rescale === true,
      };
      if (params.scope === "model") {
        const xs = call.models.xs as ModelValue[];
        p.modelScope = { key: (i) => `${call.id}/trim/${i}`, m: xs.map((x) => step.keepCount(p.k, floatNumel(x))) };
      }
      if (v.sparsify === "della" && (p.k - p.epsilon < 0 || p.k + p.epsilon > 1)) {
        throw new MergelabError(`della needs 0 ≤ k − ε and k + ε ≤ 1, got k = ${p.k}, ε = ${p.epsilon} for tensor '${t.name}'`, { param: "ε", tensor: t.name });
      }
      return expand(g, inputs.base as Node, experts, t, p);
    },
  };
}

export const specs: FunctionSpec[] = VARIANTS.map((v) => methodSpec(gtaDefinition(v)));
