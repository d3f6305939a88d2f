/**
 * mergekit merge methods as rows: which parameters each reads (with
 * mergekit's defaults) and how mergelab's function differs. The generalized
 * task-arithmetic family (mergekit's GeneralizedTaskArithmeticMerge) is one
 * row shape: a sparsifier, a sign consensus or not, and the defaults of
 * `normalize` and `rescale` (mergekit/merge_methods/registry.py).
 */

export const REQUIRED = Symbol("required");
export type Default = number | boolean | typeof REQUIRED | undefined;

export type Sparsifier = "magnitude" | "random" | "outliers" | "della";

export interface GtaRow {
  sparsify?: Sparsifier;
  /** TIES sign election and disjoint mean. */
  consensus: boolean;
  normalize: boolean;
  rescale: boolean;
}

export const GTA: Record<string, GtaRow> = {
  task_arithmetic: { consensus: false, normalize: false, rescale: false },
  ties: { sparsify: "magnitude", consensus: true, normalize: true, rescale: false },
  dare_ties: { sparsify: "random", consensus: true, normalize: false, rescale: true },
  dare_linear: { sparsify: "random", consensus: false, normalize: false, rescale: true },
  breadcrumbs: { sparsify: "outliers", consensus: false, normalize: false, rescale: false },
  breadcrumbs_ties: { sparsify: "outliers", consensus: true, normalize: false, rescale: false },
  della: { sparsify: "della", consensus: true, normalize: true, rescale: true },
  della_linear: { sparsify: "della", consensus: false, normalize: false, rescale: true },
};

export const METHODS = ["linear", ...Object.keys(GTA), "slerp", "model_stock", "passthrough", "nearswap", "multislerp", "sce", "ram", "ramplus_tl", "nuslerp", "karcher", "arcee_fusion"];

/** Parameters mergekit reads once per merge (slice or global level). */
export function globalParams(method: string): Record<string, Default> {
  if (method in GTA) return { int8_mask: false, normalize: GTA[method].normalize, rescale: GTA[method].rescale, lambda: 1 };
  if (method === "linear") return { normalize: true };
  if (method === "slerp" || method === "nearswap") return { t: REQUIRED };
  if (method === "model_stock") return { filter_wise: false };
  if (method === "multislerp") return { normalize_weights: true, eps: 1e-8 };
  if (method === "sce") return { int8_mask: false, select_topk: 1 };
  if (method === "ram") return { epsilon: 1e-5 };
  if (method === "nuslerp") return { nuslerp_row_wise: false, nuslerp_flatten: true };
  if (method === "karcher") return { max_iter: 10, tol: 1e-5 };
  if (method === "ramplus_tl") return { r: 0.1, alpha: 0.2, epsilon: 1e-5 };
  return {};
}

/** Parameters mergekit reads per input model (model, slice or global level). */
export function tensorParams(method: string): Record<string, Default> {
  const row = GTA[method];
  if (row) {
    return {
      weight: REQUIRED,
      density: 1,
      ...(row.sparsify === "outliers" ? { gamma: 0.01 } : {}),
      ...(row.sparsify === "della" ? { epsilon: 0.15 } : {}),
    };
  }
  if (method === "linear" || method === "multislerp" || method === "nuslerp") return { weight: REQUIRED };
  if (method === "passthrough") return { scale: 1 };
  return {};
}

/** Parameters of other mergekit methods: ignored here (with a comment) rather than refused. */
export const OTHER_MERGEKIT_PARAMS = [
  "weight", "density", "gamma", "epsilon", "lambda", "normalize", "int8_mask", "rescale", "t", "filter_wise", "scale",
  "embed_slerp", "nuslerp_flatten", "nuslerp_row_wise", "select_topk", "max_iter", "tol", "similarity_threshold",
];

/**
 * mergelab parameter names, in one place. mergekit's `density` is mergelab's
 * `k` (fraction kept) except for DARE, whose `p` is the drop probability.
 */
export const NAMES = { weights: "weights", k: "k", p: "p", lambda: "λ", gamma: "γ", epsilon: "ε" } as const;

/** mergelab functions with a `rescale` switch (divide kept elements by their keep probability). */
export const HAS_RESCALE = new Set(["dare_linear", "dare_ties", "della", "della_linear", "ties"]);

/** Where mergelab's semantics differ from mergekit's (architecture "Known differences", docs/methods.md). */
export const DIFFERENCES: Record<string, string[]> = {
  dare_ties: [
    "drops come from mergelab's seeded counter-based generator (seed=0): reproducible, not the same draw as mergekit's torch.bernoulli",
    "kept values are rescaled by 1/(1-p) (the DARE paper); recent mergekit rescales the task vector to its L1 norm",
  ],
  dare_linear: [
    "drops come from mergelab's seeded counter-based generator (seed=0): reproducible, not the same draw as mergekit's torch.bernoulli",
    "kept values are rescaled by 1/(1-p) (the DARE paper); recent mergekit rescales the task vector to its L1 norm",
  ],
  breadcrumbs: ["when gamma·n < 1 no outlier is dropped (mergekit's slice indices[n_bot:-0] then drops everything)"],
  breadcrumbs_ties: ["when gamma·n < 1 no outlier is dropped (mergekit's slice indices[n_bot:-0] then drops everything)"],
  della: [
    "keep probabilities are ranked over the whole tensor (mergekit ranks within each row) and drawn from a seeded generator (seed=0)",
    "kept values are rescaled by 1/probability (the DELLA paper); recent mergekit rescales to the L1 norm",
  ],
  della_linear: [
    "keep probabilities are ranked over the whole tensor (mergekit ranks within each row) and drawn from a seeded generator (seed=0)",
    "kept values are rescaled by 1/probability (the DELLA paper); recent mergekit rescales to the L1 norm",
  ],
  slerp: ["interpolation is computed in float32 whatever the dtype (mergekit computes in the merge dtype)"],
  karcher: ["the iteration runs on float64 coefficients of the unit vectors (mergekit: a float32 vector): results agree within a few float32 ulps"],
  arcee_fusion: [
    "quantiles of the importance scores are exact over every element (mergekit samples 10^6 elements with torch.randperm above that size)",
    "with a dtype, the result is written in it (mergekit writes float32 whatever the dtype: its float32 mask promotes the result)",
  ],
};
