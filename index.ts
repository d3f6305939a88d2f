/** mergelab's public TypeScript API (what tslab notebooks import). */
export const VERSION = "0.1.0";
export { MergelabError } from "./kernel/errors.js";
export { tf, initRuntime, backendName } from "./kernel/runtime.js";
export * from "./stdlib/spec.js";
export { plot, Figure, type PlotSpec, type PlotOptions, type PlotKind, type PlotData } from "./stdlib/plot.js";
export { displayValue as display } from "./kernel/notebook/display.js";
export { ProgressBar } from "./kernel/notebook/progress.js";
export { tableToMimeBundle } from "./kernel/notebook/mime.js";
/** The scale study (stdlib/eval): datasets, tasks, the model zoo, evaluation, findings. */
export * as evaluation from "./stdlib/eval/index.js";
/** The merge language from TypeScript: mx`...` over a notebook-wide session (tslab). */
export { mx, createMx, Session } from "./dsl/index.js";
