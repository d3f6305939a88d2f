/**
 * mergelab's public TypeScript API (what tslab notebooks import; see docs/api.md).
 * Names that would clash between modules stay inside their namespace
 * (`engine`, `io`, `evaluation`); the flat names below are the everyday ones.
 */
export { VERSION } from "./core/version.js";
export { MergelabError, type SourceLocation } from "./core/errors.js";
export { tf, initRuntime, backendName } from "./core/runtime.js";
export * from "./core/values.js";
export * from "./stdlib/spec.js";
export { plot, Figure, type PlotSpec, type PlotOptions, type PlotKind, type PlotData } from "./stdlib/plot.js";
export { displayValue as display } from "./core/display.js";
export { ProgressBar } from "./core/progress.js";
export { tableToMimeBundle } from "./core/present.js";
/** The scale study (stdlib/eval): datasets, tasks, the model zoo, evaluation, findings. */
export * as evaluation from "./stdlib/eval/index.js";
/** Causal language models (stdlib/lm): forward passes streamed from the engine, perplexity, loglik_choice, generate. */
export * as lm from "./stdlib/lm/index.js";

/** The merge language from TypeScript: parse/check/plan/run a script, a Session, mx`...` (tslab). */
export {
  parse,
  check,
  plan,
  run,
  Session,
  mx,
  createMx,
  toValue,
  ScriptError,
  renderDiagnostic,
  renderDiagnostics,
  formatValue,
  Closure,
  type Mx,
  type Diagnostic,
  type SessionOptions,
  type ExecuteOptions,
  type ExecuteResult,
  type ScriptOptions,
} from "./dsl/index.js";

/** The engine: lazy models over checkpoints, plans, saving and materializing. */
export {
  ModelValue,
  loadModel,
  saveModel,
  materialize,
  materializeArrays,
  modelFromTensors,
  modelFromArrays,
  mapTensors,
  combine,
  isModel,
  explainPlan,
  evaluateScalars,
  Plan,
  Schedule,
  LayerSchedule,
  MatchSchedule,
  layers,
  match,
  isSchedule,
  resolveParam,
  Graph,
  type Node,
  type TensorMeta,
  type TensorContext,
  type MapOptions,
  type SaveOptions,
  type SaveSummary,
  type ExecOptions,
  type Progress,
} from "./engine/index.js";
/** Everything the engine exports (IR helpers, plan internals, naive evaluator…). */
export * as engine from "./engine/index.js";

/** New merge methods from TypeScript, usable in the language like the built-ins. */
export { defineMethod, type MethodDefinition, type Inputs, type Params, type CallInfo } from "./stdlib/define.js";
export { allSpecs, lookup as lookupFunction } from "./stdlib/registry.js";

/** Checkpoints: safetensors headers, validated reads, the streaming writer. */
export {
  openCheckpoint,
  Checkpoint,
  CheckpointWriter,
  readSafetensorsHeader,
  compareCheckpoints,
  assertCompatible,
  ioCounters,
  parseSize,
  type DType,
  type TensorInfo,
  type SafetensorsHeader,
  type CompatibilityReport,
  type OutputTensor,
  type WriterOptions,
} from "./io/index.js";
/** Everything io exports (dtype codecs, layout, SIMD kernels…). */
export * as io from "./io/index.js";
