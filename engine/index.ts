/**
 * The engine API (see docs/internals.md, "Engine API"): lazy models, per-tensor
 * schedules, plans, and the streaming executor.
 *
 * Building a method (stdlib/methods): a method is an expander over plan nodes,
 *
 *   mapTensors([base, ...experts], (g, [b, ...xs], t) => {
 *     const k = resolveParam(params.k, t);               // number or schedule, per tensor
 *     const d = xs.map((x) => g.sub(x, b));              // task vectors (vector nodes)
 *     const thr = d.map((di) => g.kth(g.abs(di), Math.max(1, Math.floor(k * t.numel))));
 *     ...
 *     return g.add(b, merged);
 *   }, { label: "ties" })
 *
 * Node builders (Graph, engine/ir.ts): input/const/numel/rand, unary
 * (neg abs sign sqrt exp log floor not isfinite), binary (add sub mul div min
 * max pow gt ge lt le eq ne and or), where(c, a, b), reduce sum/max/min,
 * kth(a, m) — all per tensor, numerics as in ir.ts; the executor fuses them.
 *
 * Model-scope statistics: `g.kthModel(key, value, m)` is the m-th largest of
 * `value` over EVERY output tensor whose graph holds a kthModel node with the
 * same `key` — e.g. TIES `scope="model"`: for expert i,
 *   key = `ties-trim:${seedOrId}:${i}`, value = |d_i| (a vector with no
 *   per-tensor statistics inside), m = clamp(floor(k · N_i), 1, N_i) with N_i
 *   the expert's total float element count (the same m for every tensor).
 * The executor runs two radix pre-passes over all contributing tensors
 * (integer histograms merged across workers, so the result is deterministic)
 * and then uses the value as a constant. Keys must be unique per statistic:
 * include something identifying the models (e.g. their labels) in the key.
 * `evaluateNaive` takes the value through `env.modelStats`.
 */
export * from "./ir.js";
export {
  ModelValue,
  CheckpointSource,
  MemorySource,
  loadModel,
  headerOnlyModel,
  modelFromTensors,
  modelFromArrays,
  mapTensors,
  combine,
  isModel,
  modelBytes,
  type TensorMeta,
  type Recipe,
  type Source,
  type MemoryTensor,
  type MapOptions,
  type CarrySpec,
} from "./model.js";
export {
  Schedule,
  LayerSchedule,
  MatchSchedule,
  layers,
  match,
  isSchedule,
  resolveParam,
  layerIndex,
  countLayers,
  tensorContext,
  type TensorContext,
} from "./param-schedule.js";
export {
  Plan,
  buildPlan,
  buildScalarPlan,
  explainPlan,
  parseDtype,
  DEFAULT_CHUNK,
  type PlanOptions,
  type ComputeJob,
  type CarryJob,
  type Job,
  type PassSpec,
} from "./plan.js";
export type { SaveOptions, SaveSummary, ExecOptions, Progress, ScalarResult } from "./exec/index.js";

// The executor (worker pool, writer, kernels) loads on the first run, not with the engine: `mergelab
// check`, dry runs and the language's start never run a plan. Each is async already; these forward.
const exec = () => import("./exec/index.js");
type Exec = typeof import("./exec/index.js");

/** Run a model's plan and write it as a checkpoint directory (engine/exec). */
export async function saveModel(...args: Parameters<Exec["saveModel"]>): ReturnType<Exec["saveModel"]> {
  return (await exec()).saveModel(...args);
}
/** Run a model's plan in memory: one tf.Tensor per output tensor (engine/exec). */
export async function materialize(...args: Parameters<Exec["materialize"]>): ReturnType<Exec["materialize"]> {
  return (await exec()).materialize(...args);
}
/** Run a model's plan in memory: typed arrays with shape and dtype (engine/exec). */
export async function materializeArrays(...args: Parameters<Exec["materializeArrays"]>): ReturnType<Exec["materializeArrays"]> {
  return (await exec()).materializeArrays(...args);
}
/** Stream per-tensor scalar statistics of plan nodes (engine/exec). */
export async function evaluateScalars(...args: Parameters<Exec["evaluateScalars"]>): ReturnType<Exec["evaluateScalars"]> {
  return (await exec()).evaluateScalars(...args);
}
